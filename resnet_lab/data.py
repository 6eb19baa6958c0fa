"""CIFAR-10 as the paper uses it (Sec. 4.2), held as tensors.

Sources (the one a run used is recorded with it):
  * ``official``: the official release through ``torchvision.datasets.CIFAR10``
    (downloaded where there is network) -- the reference;
  * ``jpeg``: an ImageFolder copy such as ``../shared/data/cifar10-jpeg``
    (JPEG q75 re-encode of the official images; close to, not identical with, it).

Choose by argument or ``RESNET_LAB_CIFAR10``: a path to an ImageFolder copy (or to
its one-file pack, :func:`pack_imagefolder`), a path to a folder holding
``cifar-10-batches-py``, or the word ``official``
(download into the cache). Images are decoded once into a uint8 tensor cache
(``RESNET_LAB_CACHE``, default ``~/.cache/resnet_lab``); later loads take well under 2 s. The cache
keeps what it was built from (every image's name, size, mtime, ctime and inode; a pack's size and
times): a copy changed since is decoded again, and stderr says so.

Protocol: 45k/5k train/val split with a fixed seed; the per-pixel mean of the
45k training images is subtracted; training augmentation is 4-pixel zero
padding + random 32x32 crop + random horizontal flip, done on whole batches on
the model's device; evaluation uses the single original view.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_torch_save
from .datapack import PACK_FORMAT, PACK_SUFFIX, pack_imagefolder, read_pack  # noqa: F401  (re-exported)

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SOURCES = ("official", "jpeg")
ENV_VAR = "RESNET_LAB_CIFAR10"
SPLIT_SEED = 0
VAL_SIZE = 5000


class DatasetNotFound(FileNotFoundError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("RESNET_LAB_CACHE", Path.home() / ".cache" / "resnet_lab"))


def _is_imagefolder(p: Path) -> bool:
    return (p / "train").is_dir() and (p / "test").is_dir()  # its class folders are checked when it is read


SOURCE_LABELS = {"official": "official CIFAR-10 release", "jpeg": "CIFAR-10 JPEG q75 copy"}  # by source kind


def resolve_source(source: str | os.PathLike | None = None) -> tuple[str, Path]:
    """Return (kind, path) for an argument, else ``$RESNET_LAB_CIFAR10``; clear error if neither is found."""
    spec = source if source is not None else os.environ.get(ENV_VAR)
    how = (f"Give the data by argument (load_cifar10(source=...), --data) or set {ENV_VAR} to either "
           f"(a) the path of an ImageFolder copy with train/<class>/ and test/<class>/ folders, e.g. "
           f"../shared/data/cifar10-jpeg, or (b) 'official' to download the official release through "
           f"torchvision.datasets.CIFAR10 (needs network), or the path of a folder holding cifar-10-batches-py.")
    if spec is None or str(spec) == "":
        raise DatasetNotFound(f"No CIFAR-10 source given. {how}")
    spec = str(spec)
    if spec == "official":
        return "official", cache_dir() / "cifar10-official"
    p = Path(spec).expanduser().resolve()
    if _is_imagefolder(p) or (p.suffix == PACK_SUFFIX and p.is_file()):
        return "jpeg", p
    if (p / "cifar-10-batches-py").is_dir() or p.name == "cifar-10-batches-py":
        return "official", p.parent if p.name == "cifar-10-batches-py" else p
    raise DatasetNotFound(f"CIFAR-10 not found at {p!s} (source {spec!r}). {how}")


EXPECTED = {"train": 50000, "test": 10000}  # images per split, spread equally over the 10 classes


class DatasetInvalid(ValueError):
    """A CIFAR-10 source that is not the whole of CIFAR-10 (missing class, wrong count, unreadable image)."""


def _list_imagefolder(root: Path, split: str) -> tuple[list[Path], list[int]]:
    """The JPEG files of one split, checked: every class folder present, 5,000/1,000 images per class."""
    per_class = EXPECTED[split] // len(CLASSES)
    files, labels = [], []
    for label, cls in enumerate(CLASSES):
        folder = root / split / cls
        if not folder.is_dir():
            raise DatasetInvalid(f"CIFAR-10 copy at {root}: class folder {split}/{cls}/ is missing")
        names = sorted(folder.glob("*.jpg"))
        if len(names) != per_class:
            raise DatasetInvalid(f"CIFAR-10 copy at {root}: {split}/{cls}/ holds {len(names)} JPEG images, "
                                 f"CIFAR-10 has {per_class} ({EXPECTED[split]:,} {split} images in 10 classes)")
        files += names
        labels += [label] * len(names)
    return files, labels


def _count_imagefolder(root: Path) -> str:
    """The quick form of :func:`_list_imagefolder` (no sorting, no reading): every class folder there with its
    count. Returns the copy's key: a hash of every image's name, size, mtime and ctime (what the cache was built
    from: a replaced image changes it, even at the same count and with its mtime kept)."""
    h = hashlib.sha256()
    for split, n in EXPECTED.items():
        for cls in CLASSES:
            folder = root / split / cls
            try:
                entries = [e for e in os.scandir(folder) if e.name.endswith(".jpg")]
                stats = sorted((e.name, e.stat()) for e in entries)
            except FileNotFoundError:
                raise DatasetInvalid(f"CIFAR-10 copy at {root}: class folder {split}/{cls}/ is missing") from None
            except OSError as e:
                raise DatasetInvalid(f"CIFAR-10 copy at {root}: {split}/{cls}/ cannot be read ({e.strerror})") from None
            if len(stats) != n // len(CLASSES):
                raise DatasetInvalid(f"CIFAR-10 copy at {root}: {split}/{cls}/ holds {len(stats)} JPEG images, "
                                     f"CIFAR-10 has {n // len(CLASSES)} ({n:,} {split} images in 10 classes)")
            for name, st in stats:
                h.update(f"{split}/{cls}/{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n"
                         .encode())
    return h.hexdigest()[:16]


def source_key(kind: str, path: Path) -> str:
    """What a decoded cache of the source at ``path`` was built from: the names, sizes and times of an ImageFolder
    copy's images (checking the copy's layout on the way), of a pack, or of the official batch files."""
    if kind == "jpeg" and not path.is_file():
        return "folder:" + _count_imagefolder(path)
    files = [path] if path.is_file() else sorted((path / "cifar-10-batches-py").glob("*"))
    h = hashlib.sha256()
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return ("pack:" if kind == "jpeg" else "official:") + h.hexdigest()[:16]


def _decode_jpegs(blobs: list[torch.Tensor], names: list[str], split: str) -> torch.Tensor:
    """uint8 [N,3,32,32] from encoded JPEGs; a bad image raises DatasetInvalid naming it."""
    from torchvision.io import decode_jpeg
    from tqdm.auto import tqdm

    images = torch.empty(len(blobs), 3, 32, 32, dtype=torch.uint8)
    chunk = 2000
    for start in tqdm(range(0, len(blobs), chunk), desc=f"decoding {split} JPEGs", leave=False):
        batch = blobs[start:start + chunk]
        try:
            decoded = decode_jpeg(batch)
        except RuntimeError:  # find the culprit, one image at a time
            decoded = []
            for name, blob in zip(names[start:start + chunk], batch):
                if len(blob) == 0:
                    raise DatasetInvalid(f"CIFAR-10 copy: {name} is empty (0 bytes), not a JPEG image")
                try:
                    decoded.append(decode_jpeg(blob))
                except RuntimeError as e:
                    why = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
                    raise DatasetInvalid(f"CIFAR-10 copy: {name} is not a readable JPEG ({why[:120]})")
        for i, img in enumerate(decoded):
            if img.shape[0] == 1:
                img = img.expand(3, -1, -1)
            if img.shape[0] != 3:
                raise DatasetInvalid(f"CIFAR-10 copy: {names[start + i]} has {img.shape[0]} colour channels "
                                     f"({'CMYK' if img.shape[0] == 4 else 'not RGB'}), not 3 (RGB); re-encode it "
                                     f"as an RGB JPEG")
            if tuple(img.shape) != (3, 32, 32):
                raise DatasetInvalid(f"CIFAR-10 copy: {names[start + i]} is {tuple(img.shape[1:])} pixels, not 32x32")
            images[start + i] = img
    return images


def _read_image_file(f: Path) -> torch.Tensor:
    """The bytes of one image file as uint8; DatasetInvalid naming it where it is a folder, empty or unreadable."""
    try:
        blob = f.read_bytes()
    except IsADirectoryError:
        raise DatasetInvalid(f"CIFAR-10 copy: {f} is a folder, not a JPEG image; move it out of the copy") from None
    except OSError as e:
        raise DatasetInvalid(f"CIFAR-10 copy: {f} cannot be read ({e.strerror or e})") from None
    if not blob:
        raise DatasetInvalid(f"CIFAR-10 copy: {f} is empty (0 bytes), not a JPEG image; restore it from the "
                             f"original copy")
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8)


def _decode_imagefolder(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    files, labels = _list_imagefolder(root, split)
    blobs = [_read_image_file(f) for f in files]
    return _decode_jpegs(blobs, [str(f) for f in files], split), torch.tensor(labels, dtype=torch.int64)


# -- one-file packs of an ImageFolder copy: what travels to a machine that cannot see ../shared --------------
# (written and read by resnet_lab/datapack.py; PACK_FORMAT, PACK_SUFFIX, pack_imagefolder are re-exported here)


def _decode_pack(path: Path) -> dict[str, torch.Tensor]:
    """The images and labels of a pack (any format :mod:`resnet_lab.datapack` reads); errors name the file."""
    raw = {}
    for split, (names, files, y) in read_pack(path).items():
        raw[f"{split}_x"] = _decode_jpegs(files, [f"{path}:{n}" for n in names], split)
        raw[f"{split}_y"] = y
    return raw


def validate(raw: dict, where: str) -> None:
    """50,000 training and 10,000 test images of 3x32x32, labels 0..9 with every class equally often."""
    for split, n in EXPECTED.items():
        x, y = raw[f"{split}_x"], raw[f"{split}_y"]
        if tuple(x.shape) != (n, 3, 32, 32) or x.dtype != torch.uint8 or len(y) != n:
            raise DatasetInvalid(f"CIFAR-10 at {where}: the {split} set has {len(y):,} images of shape "
                                 f"{tuple(x.shape[1:])}; CIFAR-10 has {n:,} of 3x32x32")
        counts = torch.bincount(y, minlength=len(CLASSES))
        if len(counts) != len(CLASSES) or (counts != n // len(CLASSES)).any():
            raise DatasetInvalid(f"CIFAR-10 at {where}: {split} labels per class are {counts.tolist()}, "
                                 f"expected {n // len(CLASSES)} each")


def fingerprint(raw: dict) -> str:
    """A short content hash of the images and labels (both splits): the data's identity in run ids."""
    h = hashlib.sha256()
    for k in ("train_x", "train_y", "test_x", "test_y"):
        h.update(k.encode())
        h.update(raw[k].contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def _decode_official(root: Path) -> dict[str, torch.Tensor]:
    from torchvision.datasets import CIFAR10

    download = not (root / "cifar-10-batches-py").is_dir()
    out = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = CIFAR10(str(root), train=train, download=download)
        except Exception as e:  # network failures, corrupt archives
            raise DatasetNotFound(f"could not load/download the official CIFAR-10 into {root}: {e}. "
                                  f"Without network, set {ENV_VAR} to an ImageFolder copy such as "
                                  f"../shared/data/cifar10-jpeg") from e
        out[f"{split}_x"] = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        out[f"{split}_y"] = torch.tensor(ds.targets, dtype=torch.int64)
    return out


def load_raw(source: str | os.PathLike | None = None) -> dict:
    """uint8 images [N,3,32,32] and int64 labels of the official train (50k) and test (10k) sets."""
    kind, path = resolve_source(source)
    is_pack = path.is_file()
    stamp = f":{path.stat().st_size}:{path.stat().st_mtime_ns}" if is_pack else ""  # a new pack, a new cache
    key = hashlib.sha1(f"{kind}:{path}{stamp}".encode()).hexdigest()[:10]
    cache = cache_dir() / f"cifar10-{kind}-{key}.pt"
    # the cache is keyed on what it was built from (every image's name, size and times; a folder's layout is
    # checked on the way): a changed copy is decoded again, never served from the cache
    built_from = source_key(kind, path)
    if cache.exists():
        why = None
        try:
            raw = torch.load(cache, weights_only=True)
            validate(raw, str(cache))
            if "fingerprint" not in raw:
                why = "it is of an older format"
            elif raw.get("built_from") != built_from:
                why = ("it was made before caches recorded what they were built from" if "built_from" not in raw
                       else f"{path} has changed since it was made (an image replaced, added, removed or touched)")
            else:
                raw["source"], raw["path"] = kind, str(path)
                return raw
        except Exception as e:  # a damaged cache is rebuilt below
            why = f"it cannot be read ({' '.join(str(e).split())[:120]})"
        print(f"CIFAR-10 cache {cache} is not used: {why}; decoding {path} again", file=sys.stderr, flush=True)
    if kind == "official":
        raw = _decode_official(path)
    elif is_pack:
        raw = _decode_pack(path)
    else:
        raw = {}
        for split in ("train", "test"):
            raw[f"{split}_x"], raw[f"{split}_y"] = _decode_imagefolder(path, split)
    validate(raw, str(path))
    raw["fingerprint"] = fingerprint(raw)
    raw["built_from"] = source_key(kind, path) if kind == "official" else built_from  # official: after a download
    try:  # the cache is only a speed-up: a read-only or full disk must not stop the load
        atomic_torch_save(raw, cache)
    except (OSError, RuntimeError) as e:
        import warnings
        warnings.warn(f"could not write the CIFAR-10 cache {cache} ({e}); decoding again next time")
    raw["source"], raw["path"] = kind, str(path)
    return raw


@dataclass
class Cifar10:
    """The paper's protocol as tensors: 45k train / 5k val / 10k test (uint8), the training mean, the source."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor  # per-pixel mean [3,32,32] of the training split, in [0,1] units
    source: str  # 'official' or 'jpeg'
    path: str
    fingerprint: str = ""  # content hash of the 60k images and labels (data.fingerprint); part of every run id

    def describe(self) -> str:
        return f"{SOURCE_LABELS[self.source]} ({len(self.train_y)} train / {len(self.val_y)} val / {len(self.test_y)} test)"


def load_cifar10(source: str | os.PathLike | None = None, val_size: int = VAL_SIZE, seed: int = SPLIT_SEED) -> Cifar10:
    """Load CIFAR-10, split 45k/5k with a fixed seed, compute the per-pixel training mean."""
    raw = load_raw(source)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(raw["train_y"]), generator=g)
    tr, va = perm[val_size:], perm[:val_size]
    train_x = raw["train_x"][tr]
    mean = train_x.float().mean(0) / 255.0
    return Cifar10(train_x, raw["train_y"][tr], raw["train_x"][va], raw["train_y"][va], raw["test_x"],
                   raw["test_y"], mean, raw["source"], raw["path"], raw["fingerprint"])


def normalize(x_uint8: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """uint8 [B,3,32,32] -> float in [0,1] minus the per-pixel mean (Sec. 4.2)."""
    return x_uint8.float().div_(255.0).sub_(mean)


def augment_draws(batch: int, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The random part of :func:`augment`, drawn on the CPU from ``generator``: int64 [3, batch] holding the
    vertical and horizontal crop offsets (0..2*pad) and the flip flags (0/1), in that order of drawing."""
    dy = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    flip = torch.rand(batch, generator=generator) < 0.5
    return torch.stack([dy, dx, flip.long()])


def augment(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4,
            draws: torch.Tensor | None = None) -> torch.Tensor:
    """Pad 4 with zeros, take a random 32x32 crop, flip horizontally with p=0.5; whole batch at once.

    Randomness is drawn on the CPU from ``generator`` (so runs are reproducible on
    every device and resumable) and applied on ``x``'s device by gathering. ``draws`` (from
    :func:`augment_draws`, possibly already on the device) replaces the generator: the training loop
    sends them with the batch indices in one copy, so the CPU need not wait for the GPU every step.
    """
    b, c, h, w = x.shape
    if draws is None:
        draws = augment_draws(b, generator, pad)
    draws = draws.to(x.device)
    dy, dx, flip = draws[0], draws[1], draws[2].bool()
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    ar_h = torch.arange(h, device=x.device)
    ar_w = torch.arange(w, device=x.device)
    rows = (dy[:, None] + ar_h)[:, None, :, None]  # [B,1,H,1]
    cols = dx[:, None] + ar_w  # [B,W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]  # [B,1,1,W]
    bidx = torch.arange(b, device=x.device)[:, None, None, None]
    cidx = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[bidx, cidx, rows, cols]
