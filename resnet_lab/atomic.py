"""Atomic file writes: write a temp file beside the target, fsync, rename. Readers never see half a file.

A write that fails (read-only folder, full disk, a folder where the file should be, an error inside the
serialiser) raises :class:`WriteFailed`, an ``OSError`` whose one-line message names the file; the target is
left as it was and no temp file stays behind.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch


class WriteFailed(OSError):
    """A file could not be written; the message names it and says why, in one line."""

    def __init__(self, path: os.PathLike, reason: str, err: int | None = None):
        super().__init__(err or errno.EIO, f"cannot write {path}: {reason}")
        self.path, self.reason = Path(path), reason

    def __str__(self) -> str:
        return self.args[1]


def reason_of(e: BaseException) -> str:
    """A short, one-line reason for an exception (the OS's words where there are some)."""
    if isinstance(e, WriteFailed):
        return e.reason
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower() if e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES) else e.strerror
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def disk_full(e: BaseException) -> bool:
    """ENOSPC, or the words torch and safetensors use for it (torch: ``[enforce fail at inline_container.cc] .
    unexpected pos``, a short write inside its zip writer)."""
    text = str(e)
    return getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or any(
        w in text for w in ("unexpected pos", "No space left", "file write failed", "StorageFull"))


def full_disk_reason(folder: os.PathLike) -> str:
    """'no space left on device (N MiB free on its filesystem)' for a write into ``folder``."""
    try:
        free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    return f"no space left on device ({free} on its filesystem)"


def _failure(path: Path, e: BaseException) -> WriteFailed:
    """The one-line WriteFailed for ``e``; a full disk says so, with the space left where ``path`` goes."""
    if not disk_full(e):
        return WriteFailed(path, reason_of(e), getattr(e, "errno", None))
    return WriteFailed(path, full_disk_reason(path.parent), errno.ENOSPC)


def _atomic(path: os.PathLike, write) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _failure(path, e) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as e:
        _discard(tmp)
        raise _failure(path, e) from e
    except BaseException:
        _discard(tmp)
        raise
    return path


def _discard(tmp: str):
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write_bytes(path: os.PathLike, data: bytes) -> Path:
    return _atomic(path, lambda f: f.write(data))


def atomic_write_json(path: os.PathLike, obj: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


def atomic_torch_save(obj: Any, path: os.PathLike) -> Path:
    return _atomic(path, lambda f: torch.save(obj, f))
