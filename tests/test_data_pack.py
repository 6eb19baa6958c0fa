"""One-file packs of an ImageFolder copy (resnet_lab.datapack): format 2 stores each distinct JPEG head once and
every image's scan bytes; it must give back every file byte for byte, hence the folder's pixels and fingerprint."""
import io
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_lab import data as D
from resnet_lab import datapack as P

SHARED_JPEG = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"


@pytest.fixture
def small_cifar(monkeypatch, tmp_path):
    """CIFAR-10 'expected sizes' shrunk to 3 train / 2 test images per class, so small folders are complete."""
    monkeypatch.setitem(D.EXPECTED, "train", 30)
    monkeypatch.setitem(D.EXPECTED, "test", 20)
    monkeypatch.setenv("RESNET_LAB_CACHE", str(tmp_path / "cache"))


def _pil_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _mixed_imagefolder(root: Path) -> Path:
    """A complete small copy: real files of the shared JPEG copy where it is there (else PIL q75 encodes of
    noise), one image re-encoded by PIL at quality 90 and one by torchvision at 95 (other heads), one by PIL
    with a comment segment and bytes after its EOI."""
    from torchvision.io import encode_jpeg
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 3), ("test", 2)):
        for k, cls in enumerate(D.CLASSES):
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                src = SHARED_JPEG / split / cls / f"{i:04d}.jpg"
                blob = src.read_bytes() if src.is_file() else _pil_jpeg(
                    rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), 75)
                (root / split / cls / f"{i:04d}.jpg").write_bytes(blob)
    noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    (root / "train" / "cat" / "0001.jpg").write_bytes(_pil_jpeg(noise, 90))
    (root / "test" / "ship" / "0000.jpg").write_bytes(
        encode_jpeg(torch.from_numpy(noise).permute(2, 0, 1).contiguous(), quality=95).numpy().tobytes())
    odd = _pil_jpeg(noise[::-1].copy(), 60)
    odd = odd[:2] + b"\xff\xfe\x00\x07hello" + odd[2:] + b"\0\0"  # a COM segment, and bytes after the EOI
    (root / "train" / "bird" / "0002.jpg").write_bytes(odd)
    return root


def _folder_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}


def test_split_jpeg_is_lossless_and_finds_the_scan():
    blob = _pil_jpeg(np.zeros((32, 32, 3), dtype=np.uint8), 75)
    head, scan, tail = P.split_jpeg(blob)
    assert head + scan + tail == blob and tail == b"\xff\xd9"
    assert head.startswith(b"\xff\xd8") and head[head.rindex(b"\xff\xda"):][:2] == b"\xff\xda"
    assert len(head) == head.rindex(b"\xff\xda") + 2 + int.from_bytes(head[head.rindex(b"\xff\xda") + 2:][:2], "big")
    for junk in (b"", b"\xff\xd8", b"\xff\xd8 not a jpeg", blob[:300], blob[:len(head) - 1], b"\xff\xd8\xff\xe0\x00",
                 b"\xff\xd8\xff\xda\x00\x00rest", b"x" + blob):
        h, s, t = P.split_jpeg(junk)
        assert h + s + t == junk, junk


def test_pack_gives_back_every_file_byte_for_byte_and_the_folder_pixels(tmp_path, small_cifar):
    root = _mixed_imagefolder(tmp_path / "copy")
    pack = D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    stored = torch.load(pack, weights_only=True)
    assert stored["format"] == P.PACK_FORMAT == D.PACK_FORMAT
    assert len(stored["frame_lens"]) >= 4  # the copy's head, PIL q90, torchvision q95, the one with a comment
    files = _folder_files(root)
    got = {}
    for split, (names, blobs, y) in P.read_pack(pack).items():
        assert y.dtype == torch.int64 and y.tolist() == [k for k in range(10) for _ in range(len(y) // 10)]
        got.update({n: bytes(b.numpy()) for n, b in zip(names, blobs)})
    assert got.keys() == files.keys() and all(got[n] == files[n] for n in files)
    a, b = D.load_raw(root), D.load_raw(pack)
    for k in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(a[k], b[k]), k
    assert a["fingerprint"] == b["fingerprint"]
    heads = sum(int(h) for h, _ in stored["frame_lens"].tolist())
    assert pack.stat().st_size < sum(map(len, files.values())) - heads  # each head stored once, not per image


def _format_1_pack(root: Path, dest: Path) -> Path:
    """A pack as format 1 wrote it (files one after the other, int64 offsets and labels, names as a string)."""
    out = {"format": P.PACK_FORMAT_1}
    for split in D.EXPECTED:
        files, labels = D._list_imagefolder(root, split)
        blobs = [f.read_bytes() for f in files]
        out[f"{split}_bytes"] = torch.frombuffer(bytearray(b"".join(blobs)), dtype=torch.uint8)
        out[f"{split}_offsets"] = torch.tensor([0] + np.cumsum([len(b) for b in blobs]).tolist(), dtype=torch.int64)
        out[f"{split}_y"] = torch.tensor(labels, dtype=torch.int64)
        out[f"{split}_names"] = "\n".join(str(f.relative_to(root)) for f in files)
    torch.save(out, dest)
    return dest


def test_a_format_1_pack_still_reads_the_same(tmp_path, small_cifar):
    root = _mixed_imagefolder(tmp_path / "copy")
    old, new = _format_1_pack(root, tmp_path / "old.jpegpack"), D.pack_imagefolder(root, tmp_path / "new.jpegpack")
    assert new.stat().st_size < old.stat().st_size
    files = _folder_files(root)
    for split, (names, blobs, _) in P.read_pack(old).items():
        assert all(bytes(b.numpy()) == files[n] for n, b in zip(names, blobs))
    a, b = D.load_raw(old), D.load_raw(new)
    assert a["fingerprint"] == b["fingerprint"] and torch.equal(a["train_x"], b["train_x"])


def _damaged(pack: Path, dest: Path, change) -> Path:
    stored = torch.load(pack, weights_only=True)
    change(stored)
    torch.save(stored, dest)
    return dest


def _names(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(zlib.compress(text.encode())), dtype=torch.uint8)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.update(format="resnet_lab/cifar10-jpeg-pack/9"), "of format resnet_lab/cifar10-jpeg-pack/9, which "
                                                                  "this version cannot read; rebuild it"),
    (lambda p: p.update(format="something else"), "is not a CIFAR-10 JPEG pack"),
    (lambda p: p.pop("test_scan"), "has no 'test_scan'"),
    (lambda p: p.update(train_scan="text"), "its 'train_scan' is damaged"),
    (lambda p: p.update(frames=p["frames"].long()), "its 'frames' is damaged (a 1-d torch.int64 tensor)"),
    (lambda p: p.update(test_frame=p["test_frame"][None]), "its 'test_frame' is damaged (a 2-d torch.uint8 tensor)"),
    (lambda p: p.update(train_scan=p["train_scan"][:-1]), "its train index does not match its bytes"),
    (lambda p: p["test_scan_len"].__setitem__(0, p["test_scan_len"][0] + 1), "its test index does not match"),
    (lambda p: p.update(train_y=p["train_y"][:-1]), "its train index does not match its bytes"),
    (lambda p: p["test_frame"].__setitem__(3, 200), "test images name frames the pack does not hold"),
    (lambda p: p.update(frame_lens=p["frame_lens"][:-1]), "its frame table does not match its bytes"),
    (lambda p: p.update(test_names=_names("a\nb")), "its test index does not match its bytes"),
    (lambda p: p.update(test_names=p["test_names"][:-5]), "its test names cannot be read"),
])
def test_a_damaged_pack_is_named_in_one_line(tmp_path, small_cifar, change, message):
    root = _mixed_imagefolder(tmp_path / "copy")
    pack = D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    bad = _damaged(pack, tmp_path / "bad.jpegpack", change)
    with pytest.raises(D.DatasetInvalid) as e:
        D.load_raw(bad)
    assert message in str(e.value) and str(bad) in str(e.value) and "\n" not in str(e.value)


def test_a_truncated_pack_is_named_in_one_line(tmp_path, small_cifar):
    root = _mixed_imagefolder(tmp_path / "copy")
    pack = D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    blob = pack.read_bytes()
    for cut in (len(blob) // 2, len(blob) - 30, 100):
        bad = tmp_path / f"cut{cut}.jpegpack"
        bad.write_bytes(blob[:cut])
        with pytest.raises(D.DatasetInvalid, match="cannot be read") as e:
            D.load_raw(bad)
        assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_a_damaged_scan_is_named_by_its_image(tmp_path, small_cifar):
    root = _mixed_imagefolder(tmp_path / "copy")
    (root / "test" / "frog" / "0001.jpg").write_bytes(b"\xff\xd8 not a jpeg")  # stored whole, named on decoding
    pack = D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    with pytest.raises(D.DatasetInvalid, match=r"c\.jpegpack:test/frog/0001\.jpg is not a readable JPEG"):
        D.load_raw(pack)
