import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_JPEG = REPO.parent / "shared" / "data" / "cifar10-jpeg"
if "RESNET_LAB_CIFAR10" not in os.environ and SHARED_JPEG.is_dir():
    os.environ["RESNET_LAB_CIFAR10"] = str(SHARED_JPEG)


@pytest.fixture
def tiny_data():
    """A synthetic Cifar10 (random uint8 images, learnable labels) for fast engine tests."""
    from resnet_lab.data import Cifar10

    g = torch.Generator().manual_seed(0)
    def make(n):
        y = torch.randint(0, 10, (n,), generator=g)
        x = torch.randint(0, 60, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
        x[:, 0] += (y * 19).to(torch.uint8)[:, None, None]  # the class shows in the red channel
        return x, y
    (tx, ty), (vx, vy), (sx, sy) = make(512), make(64), make(64)
    return Cifar10(tx, ty, vx, vy, sx, sy, tx.float().mean(0) / 255, "jpeg", "synthetic", "synthetic000")


@pytest.fixture
def real_data():
    from resnet_lab.data import load_cifar10

    if not os.environ.get("RESNET_LAB_CIFAR10"):
        pytest.skip("no CIFAR-10 source (set RESNET_LAB_CIFAR10)")
    return load_cifar10()


def patch_book(monkeypatch, name, value):
    """Patch ``name`` in every module of ``resnet_lab.book`` that holds it: the book's modules import their
    plumbing by name, so a test that fakes e.g. ``profile_name`` must fake it wherever it is looked up."""
    import sys
    import resnet_lab.book  # noqa: F401
    hit = [m for k, m in list(sys.modules.items()) if (k == "resnet_lab.book" or k.startswith("resnet_lab.book."))
           and m is not None and hasattr(m, name)]
    assert hit, f"no module of resnet_lab.book has {name!r}"
    for m in hit:
        monkeypatch.setattr(m, name, value)
