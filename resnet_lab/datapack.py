"""One-file packs of an ImageFolder copy of CIFAR-10: what travels to a machine that cannot see ``../shared``.

A pack holds every image's JPEG file exactly (no re-encoding), its label and its name, so it decodes to the
same images as its folder and gives runs the same data fingerprint. It is written with ``torch.save`` and read
with ``torch.load(weights_only=True)``: a dict of strings and integer tensors, nothing that runs code.

Format 2 (written here; 18,267,199 bytes = 17.4 MiB for the CIFAR-10 JPEG copy, where format 1 took 55 MiB):
each file is cut into ``head + scan + tail`` (:func:`split_jpeg`): the head runs from the start-of-image marker
to the end of the first start-of-scan segment (quantisation and Huffman tables, frame header: the same for
every image one encoder wrote at one quality -- 623 of the copy's 921 bytes an image on average), the tail is
the end-of-image marker.
The distinct (head, tail) pairs, "frames", are stored once; each image stores the index of its frame and its
entropy-coded scan bytes. The names are stored zlib-compressed (152 KB instead of 1.2 MB; lzma would take 19 KB
but is missing from some Python builds); the scan bytes are stored as they are (zlib and lzma make them larger:
entropy-coded data does not compress).

  ``format``            "resnet_lab/cifar10-jpeg-pack/2"
  ``frames``            uint8: the frames' bytes, one after the other, each its head then its tail
  ``frame_lens``        int64 [F, 2]: each frame's head and tail length
  ``<split>_scan``      uint8: the split's scan bytes, image after image
  ``<split>_scan_len``  int32 [N]: each image's scan length
  ``<split>_frame``     uint8 (int32 past 256 frames) [N]: each image's frame
  ``<split>_y``         uint8 [N]: labels
  ``<split>_names``     uint8: zlib-compressed names (``<split>/<class>/<file>``), one a line

Format 1 (still read): ``<split>_bytes`` (uint8, the files one after the other), ``<split>_offsets`` (int64
[N+1]), ``<split>_y`` (int64), ``<split>_names`` (str, one a line).
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_torch_save

PACK_SUFFIX = ".jpegpack"
PACK_FORMAT = "resnet_lab/cifar10-jpeg-pack/2"
PACK_FORMAT_1 = "resnet_lab/cifar10-jpeg-pack/1"
_MAX_NAMES = 1 << 26  # bytes of names a pack may unpack to (CIFAR-10's: 1.2 MB)


def split_jpeg(blob: bytes) -> tuple[bytes, bytes, bytes]:
    """``(head, scan, tail)`` with ``head + scan + tail == blob``.

    head: from SOI through the end of the first SOS marker segment (where the entropy-coded data begins);
    tail: a final EOI marker. A file that does not parse as a JPEG that far is all scan (stored as it is;
    decoding names it later)."""
    n = len(blob)
    if blob[:2] != b"\xff\xd8":
        return b"", blob, b""
    i = 2
    while i + 4 <= n and blob[i] == 0xFF:
        marker = blob[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        end = i + 2 + ((blob[i + 2] << 8) | blob[i + 3])
        if end <= i + 3 or end > n:
            break
        if marker == 0xDA:  # start of scan
            tail = b"\xff\xd9" if n - end >= 2 and blob.endswith(b"\xff\xd9") else b""
            return blob[:end], blob[end:n - len(tail)], tail
        i = end
    return b"", blob, b""


def _u8(b: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(b), dtype=torch.uint8) if b else torch.zeros(0, dtype=torch.uint8)


def pack_imagefolder(src: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Write the JPEG files of a complete ImageFolder copy into one pack of format 2 (17.4 MiB for CIFAR-10).

    ``dest`` must end in ``.jpegpack``; give the pack wherever a source is asked for (``--data``,
    ``RESNET_LAB_CIFAR10``)."""
    from .data import EXPECTED, DatasetNotFound, _is_imagefolder, _list_imagefolder

    root, dest = Path(src).expanduser().resolve(), Path(dest)
    if dest.suffix != PACK_SUFFIX:
        raise ValueError(f"{dest}: a pack's name must end in {PACK_SUFFIX}")
    if not _is_imagefolder(root):
        raise DatasetNotFound(f"{root} is not an ImageFolder copy of CIFAR-10 (no train/ and test/ folders)")
    out: dict = {"format": PACK_FORMAT}
    frames: dict[tuple[bytes, bytes], int] = {}
    index = {}
    for split in EXPECTED:
        files, labels = _list_imagefolder(root, split)
        scans, index[split] = [], []
        for f in files:
            head, scan, tail = split_jpeg(f.read_bytes())
            index[split].append(frames.setdefault((head, tail), len(frames)))
            scans.append(scan)
        out[f"{split}_scan"] = _u8(b"".join(scans))
        out[f"{split}_scan_len"] = torch.tensor([len(s) for s in scans], dtype=torch.int32)
        out[f"{split}_y"] = torch.tensor(labels, dtype=torch.uint8)
        names = "\n".join(f.relative_to(root).as_posix() for f in files)
        out[f"{split}_names"] = _u8(zlib.compress(names.encode(), 9))
    for split in EXPECTED:
        out[f"{split}_frame"] = torch.tensor(index[split], dtype=torch.uint8 if len(frames) <= 256 else torch.int32)
    out["frames"] = _u8(b"".join(head + tail for head, tail in frames))
    out["frame_lens"] = torch.tensor([[len(h), len(t)] for h, t in frames], dtype=torch.int64).reshape(-1, 2)
    return atomic_torch_save(out, dest)


def read_pack(path: str | os.PathLike) -> dict[str, tuple[list[str], list[torch.Tensor], torch.Tensor]]:
    """``{split: (names, files, labels)}``: every image's name, its JPEG file's bytes (uint8, exactly the
    file that was packed) and the int64 labels. A damaged or foreign file raises DatasetInvalid naming it."""
    from .data import EXPECTED, DatasetInvalid

    path = Path(path)
    try:
        pack = torch.load(path, weights_only=True)
    except Exception as e:
        raise DatasetInvalid(f"CIFAR-10 pack {path} cannot be read ({' '.join(str(e).split())[:200]})") from e
    fmt = pack.get("format") if isinstance(pack, dict) else None
    if isinstance(fmt, str) and fmt.startswith(PACK_FORMAT[:-1]) and fmt not in (PACK_FORMAT, PACK_FORMAT_1):
        raise DatasetInvalid(f"CIFAR-10 pack {path} is of format {fmt}, which this version cannot read; rebuild it "
                             f"with python -m resnet_lab pack-data")
    if fmt not in (PACK_FORMAT, PACK_FORMAT_1):
        raise DatasetInvalid(f"{path} is not a CIFAR-10 JPEG pack of format {PACK_FORMAT} (or 1)")

    def get(key, kind=torch.Tensor, dim=1, byte=False):  # an integer tensor (of bytes: uint8) of dim dimensions
        if key not in pack:
            raise DatasetInvalid(f"CIFAR-10 pack {path} has no {key!r}")
        v = pack[key]
        if not isinstance(v, kind) or (kind is torch.Tensor and (
                v.dim() != dim or v.is_floating_point() or v.is_complex() or v.dtype == torch.bool
                or (byte and v.dtype != torch.uint8))):
            what = f"a {v.dim()}-d {v.dtype} tensor" if isinstance(v, torch.Tensor) else f"a {type(v).__name__}"
            raise DatasetInvalid(f"CIFAR-10 pack {path}: its {key!r} is damaged ({what})")
        return v

    def damaged(split, what="index does not match its bytes"):
        return DatasetInvalid(f"CIFAR-10 pack {path}: its {split} {what}")

    out = {}
    if fmt == PACK_FORMAT_1:
        for split in EXPECTED:
            data, offsets, y = get(f"{split}_bytes", byte=True), get(f"{split}_offsets"), get(f"{split}_y")
            names = get(f"{split}_names", str).split("\n")
            if len(offsets) != len(y) + 1 or len(names) != len(y) or int(offsets[-1]) != len(data) \
                    or int(offsets[0]) != 0 or bool((offsets[1:] < offsets[:-1]).any()):
                raise damaged(split)
            out[split] = (names, [data[int(a):int(b)] for a, b in zip(offsets[:-1], offsets[1:])], y.long())
        return out

    frames, frame_lens = get("frames", byte=True).numpy().tobytes(), get("frame_lens", dim=2)
    if frame_lens.shape[1] != 2 or bool((frame_lens < 0).any()) or int(frame_lens.sum()) != len(frames):
        raise damaged("frame", "table does not match its bytes")
    table, at = [], 0
    for h, t in frame_lens.tolist():
        table.append((frames[at:at + h], frames[at + h:at + h + t]))
        at += h + t
    for split in EXPECTED:
        scan = get(f"{split}_scan", byte=True)
        lens, frame, y = (get(f"{split}_{k}") for k in ("scan_len", "frame", "y"))
        try:
            unpacker = zlib.decompressobj()
            names = unpacker.decompress(get(f"{split}_names", byte=True).numpy().tobytes(), _MAX_NAMES)
            if not unpacker.eof:
                raise zlib.error("cut short or too long")
            names = names.decode().split("\n")
        except (zlib.error, UnicodeDecodeError) as e:
            raise damaged(split, f"names cannot be read ({e})") from None
        n = len(y)
        if len(lens) != n or len(frame) != n or len(names) != n or bool((lens < 0).any()) \
                or int(lens.long().sum()) != len(scan):
            raise damaged(split)
        if n and not 0 <= int(frame.min()) <= int(frame.max()) < len(table):
            raise damaged(split, f"images name frames the pack does not hold (it holds {len(table)})")
        scan_bytes = scan.numpy().tobytes()
        ends = np.cumsum(lens.numpy(), dtype=np.int64).tolist()
        files = []
        for k, a, b in zip(frame.tolist(), [0] + ends[:-1], ends):
            head, tail = table[k]
            files.append(_u8(head + scan_bytes[a:b] + tail))
        out[split] = (names, files, y.long())
    return out
