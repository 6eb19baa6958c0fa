"""Layer statistics (Fig. 7), branch vs identity, the one-layer fold, and the book's report helpers."""
import pandas as pd
import pytest
import torch

from resnet_lab import analysis
from resnet_lab.models import build


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 255, (64, 3, 32, 32), generator=g, dtype=torch.uint8), torch.randint(0, 10, (64,), generator=g)


def test_layer_statistics_shape_and_gamma(images):
    x, y = images
    model = build("resnet20")
    with torch.no_grad():  # give the BNs distinct scales
        for i, m in enumerate(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            m.weight.fill_(0.1 * (i + 1))
    f = analysis.layer_statistics(model, x, y, torch.zeros(3, 32, 32), bn_mode="train", grads=True, batch_size=32)
    assert len(f) == 19 and list(f.layer) == list(range(1, 20))
    assert f.name.iloc[0] == "response0"
    # in training mode BN normalises each channel with batch statistics: channel std == |gamma|
    assert f.channel_std.to_numpy() == pytest.approx(f.gamma_abs.to_numpy(), rel=0.02)
    assert (f.grad_rms > 0).all()
    assert model.stage1[0].bn1.weight[0].item() == pytest.approx(0.2)  # the model itself is untouched


def test_layer_statistics_does_not_move_running_stats(images):
    x, _ = images
    model = build("plain20")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    analysis.layer_statistics(model, x, None, torch.zeros(3, 32, 32), bn_mode="train")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="bn_mode"):
        analysis.layer_statistics(model, x, None, torch.zeros(3, 32, 32), bn_mode="test")


def test_branch_vs_identity(images):
    x, _ = images
    model = build("resnet20").eval()
    f = analysis.branch_vs_identity(model, x, torch.zeros(3, 32, 32))
    assert len(f) == 9 and (f.identity_std > 0).all()
    for blk in (m for m in model.modules() if hasattr(m, "bn2") and hasattr(m, "shortcut")):
        torch.nn.init.zeros_(blk.bn2.weight), torch.nn.init.zeros_(blk.bn2.bias)
    zero = analysis.branch_vs_identity(model, x, torch.zeros(3, 32, 32))
    assert (zero.branch_std == 0).all()  # F(x) = 0 when the last BN's scale and shift are zero
    with pytest.raises(ValueError, match="plain"):
        analysis.branch_vs_identity(build("plain20"), x, torch.zeros(3, 32, 32))


def test_fold_identity_equals_conv_plus_x():
    conv = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(conv(x) + x, analysis.fold_identity(conv)(x), atol=1e-6)
    with pytest.raises(ValueError):
        analysis.fold_identity(torch.nn.Conv2d(8, 16, 3, padding=1))
