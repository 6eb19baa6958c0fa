"""One run record: the folder the run store writes, read and checked (:class:`RunRecord`), its weights loaded
safely, and the analyses cached inside it (``analysis/<name>.json``; :class:`PartialAnalysis` while one runs).

The store that finds, trains and writes records is :mod:`resnet_lab.runs`; everything here is re-exported there.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .atomic import atomic_write_json, reason_of
from .resolved import id_of
from .train import PRECISIONS, RunConfig


class RunNotRecorded(LookupError):
    pass


class RecordDamaged(ValueError):
    """A record folder that cannot be read as a run: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: os.PathLike, reason: str):
        super().__init__(f"run record {path} is damaged: {reason}")
        self.path, self.reason = Path(path), reason


RECORD_FILES = ("config.json", "history.json", "metrics.json", "provenance.json")
STATUSES = ("completed", "failed")


def _read_json(folder: Path, name: str, kind: type = dict):
    """``folder/name`` parsed; :class:`RecordDamaged` naming the file and the reason otherwise."""
    f = folder / name
    if not f.exists():
        raise RecordDamaged(folder, f"{name} is missing")
    if f.is_dir():
        raise RecordDamaged(folder, f"{name} is a folder, not a file")
    try:
        value = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise RecordDamaged(folder, f"{name} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
    except UnicodeDecodeError:
        raise RecordDamaged(folder, f"{name} is not text")
    except OSError as e:
        raise RecordDamaged(folder, f"{name} cannot be read ({reason_of(e)})")
    if not isinstance(value, kind):
        raise RecordDamaged(folder, f"{name} holds a JSON {type(value).__name__} where a {kind.__name__} belongs")
    return value


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_error_rate(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1


# dtypes a record's weights may have: float32 (float16 in records before 2026-11-28); int64 for BN's counters only
_WEIGHT_DTYPES = ("F32", "F16")


def weights_file_problem(f: Path) -> str | None:
    """What is wrong with a ``weights.safetensors`` (unreadable, not safetensors, truncated, weights that are not
    float32/float16), read from its header alone; None if it looks whole."""
    name = f.name
    try:
        size = f.stat().st_size
        with open(f, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else None
            if n is None or n > size - 8 or n > 100_000_000:
                return f"{name} is truncated or not a safetensors file ({size} bytes, no whole header)"
            header = json.loads(fh.read(n))
    except OSError as e:
        return f"{name} cannot be read ({reason_of(e)})"
    except (ValueError, UnicodeDecodeError):
        return f"{name} is not a safetensors file (its header is not JSON)"
    if not isinstance(header, dict):
        return f"{name} is not a safetensors file (its header is not a table of tensors)"
    end = 0
    for key, v in header.items():
        if key == "__metadata__":
            continue
        offs = v.get("data_offsets") if isinstance(v, dict) else None
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) for o in offs)):
            return f"{name} is not a safetensors file (tensor {key} has no data offsets)"
        dtype = v.get("dtype")
        if dtype not in (("I64",) if key.endswith("num_batches_tracked") else _WEIGHT_DTYPES):
            return f"{name} keeps {key} as {dtype}, not float32 (or the float16 of old records): not weights this " \
                   f"code wrote"
        end = max(end, offs[1])
    if 8 + n + end > size:
        return f"{name} is truncated ({size:,} bytes; its header describes {8 + n + end:,})"
    return None


@dataclass
class RunRecord:
    path: Path

    def _json(self, name: str):
        return _read_json(self.path, name)

    def check(self) -> None:
        """Raise :class:`RecordDamaged` (naming the file and what is wrong) unless the record is whole."""
        for name in RECORD_FILES:
            _read_json(self.path, name)
        conf = self._json("config.json")
        for key in ("config", "identity", "profile"):
            if not isinstance(conf.get(key), dict):
                raise RecordDamaged(self.path, f"config.json has no {key!r} object")
        ident = conf["identity"]
        if ident.get("precision") not in PRECISIONS or not isinstance(ident.get("settings"), dict):
            raise RecordDamaged(self.path, "config.json: identity lacks a precision or settings")
        try:
            cfg = RunConfig(**conf["config"], precision=ident["precision"])
        except (TypeError, ValueError) as e:
            raise RecordDamaged(self.path, f"config.json does not describe a run this code knows ({e})")
        if ident.get("config") != conf["config"]:
            raise RecordDamaged(self.path, "config.json: its config and its identity's config disagree")
        rid = id_of(cfg, ident["precision"], ident)
        if self.path.name != rid:
            raise RecordDamaged(self.path, f"config.json names run {rid}, not the folder's name (a record is valid "
                                           f"only in the folder its id names: move it there or delete it)")
        h = self._json("history.json")
        for key in ("train", "eval"):
            if not isinstance(h.get(key), list) or not all(isinstance(pt, dict) and _is_number(pt.get("iter"))
                                                           for pt in h[key]):
                raise RecordDamaged(self.path, f"history.json has no {key!r} list of points (each with its 'iter')")
        m = self._json("metrics.json")
        if m.get("status") not in STATUSES:
            raise RecordDamaged(self.path, f"metrics.json: status {m.get('status')!r} is not one of "
                                           f"{', '.join(STATUSES)}")
        if m["status"] == "completed":
            bad = [k for k in ("final_train_error", "final_val_error", "final_test_error")
                   if not _is_error_rate(m.get(k))]
            if bad:
                raise RecordDamaged(self.path, f"metrics.json: {', '.join(bad)} missing or not an error rate (a "
                                               f"finite number from 0 to 1)")
        w = self.path / "weights.safetensors"
        if w.exists() or w.is_symlink():
            if not w.is_file():
                raise RecordDamaged(self.path, "weights.safetensors is not a file")
            problem = weights_file_problem(w)
            if problem:
                raise RecordDamaged(self.path, problem)

    @property
    def config(self) -> RunConfig:
        return RunConfig(**self._json("config.json")["config"], precision=self.precision)

    def check_data(self, data):
        """``data`` (a loaded CIFAR-10) if it is what this run was trained on -- same source, same content
        fingerprint -- else a one-line ValueError naming the run, its data and the configured copy."""
        want = self.identity.get("data_fingerprint")
        if data.source != self.config.data_source or (want and data.fingerprint and data.fingerprint != want):
            from .data import ENV_VAR as DATA_VAR
            raise ValueError(f"run {self.id} was trained on the {self.provenance.get('data', self.config.data_source)}"
                             f", but ${DATA_VAR} gives the {data.describe()} ({data.path}): an analysis of the run "
                             f"must read the data it was trained on; point ${DATA_VAR} at that copy")
        return data

    @property
    def identity(self) -> dict:
        return self._json("config.json")["identity"]

    @property
    def precision(self) -> str:
        return self._json("config.json")["identity"]["precision"]

    @property
    def profile_settings(self) -> dict:
        return self._json("config.json")["profile"]

    @property
    def history(self) -> dict:
        return self._json("history.json")

    @property
    def metrics(self) -> dict:
        return self._json("metrics.json")

    @property
    def provenance(self) -> dict:
        return self._json("provenance.json")

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def failed(self) -> bool:
        return self.metrics.get("status") == "failed"

    @property
    def failure(self) -> str | None:
        """Why the run failed (recorded with it), None for a completed run."""
        if not self.failed:
            return None
        return " ".join(str(self.metrics.get("error") or "no reason recorded").split())

    def label(self) -> str:
        """For captions: 'resnet56 (option A), profile cpu, CIFAR-10 JPEG q75 copy, seed 0'."""
        c, p = self.config, self.provenance
        short = f" (option {c.shortcut})" if c.shortcut else ""
        var = "" if c.variant == "basic" else f", {c.variant} blocks"
        return (f"{c.arch}{short}{var}, profile {c.profile}, {p.get('data', c.data_source)}, seed {c.seed}, "
                f"{self.precision}")

    def has_weights(self) -> bool:
        return (self.path / "weights.safetensors").exists()

    def weights_dtype(self) -> str | None:
        """How the record keeps its floating-point weights: 'float32', or 'float16' for records written before
        2026-11-28 (rounded; their BN statistics can overflow); None without weights."""
        from safetensors import safe_open

        if not self.has_weights():
            return None
        problem = weights_file_problem(self.path / "weights.safetensors")
        if problem:
            raise RecordDamaged(self.path, problem)
        try:
            with safe_open(str(self.path / "weights.safetensors"), framework="pt") as f:
                kinds = {f.get_slice(k).get_dtype() for k in f.keys()}
        except Exception as e:
            raise RecordDamaged(self.path, f"weights.safetensors cannot be read ({reason_of(e)})") from e
        return "float16" if "F16" in kinds else "float32"

    def weights_problem(self) -> str | None:
        """Why this record's weights cannot be analysed (missing, unreadable, non-finite), or None. Reads the
        weights once per record object."""
        if not hasattr(self, "_weights_problem"):
            try:
                self.load_model()
                self._weights_problem = None
            except (RunNotRecorded, RecordDamaged) as e:
                self._weights_problem = getattr(e, "reason", None) or str(e)
        return self._weights_problem

    def load_model(self) -> torch.nn.Module:
        """The trained model (float32, eval mode), weights loaded safely from safetensors."""
        from safetensors.torch import load_file

        if not self.has_weights():
            raise RunNotRecorded(f"run {self.id} has no saved weights")
        model = self.config.build()
        f = self.path / "weights.safetensors"
        problem = weights_file_problem(f)
        if problem:
            raise RecordDamaged(self.path, problem)
        try:
            loaded = load_file(f)
            want = model.state_dict()
            for k, v in loaded.items():  # load_state_dict would copy int8 into float32 without a word
                if k in want and v.is_floating_point() != want[k].is_floating_point():
                    raise RecordDamaged(self.path, f"weights.safetensors keeps {k} as {v.dtype}, not as "
                                                   f"{want[k].dtype}")
            state = {k: (v.float() if v.is_floating_point() else v) for k, v in loaded.items()}
            model.load_state_dict(state)
        except RecordDamaged:
            raise
        except Exception as e:
            raise RecordDamaged(self.path, f"weights.safetensors cannot be loaded ({reason_of(e)})") from e
        bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise RecordDamaged(self.path, f"weights.safetensors holds non-finite values in {bad[0]}"
                                           + (f" and {len(bad) - 1} more tensors" if len(bad) > 1 else ""))
        return model.eval()

    def cached(self, name: str, compute: Callable[..., dict], settings: dict | None = None,
               keys: tuple[str, ...] = ()) -> dict:
        """``analysis/<name>.json`` if recorded, else ``compute()`` (JSON-able), stored atomically.

        A cached file is used only if it holds a JSON object with every field in ``keys`` (each list field of
        equal, non-zero length); an unreadable or wrong-shaped one is named in a warning and computed again.
        With ``settings`` (what shapes the result), ``compute`` is called with a :class:`PartialAnalysis` that
        keeps each finished evaluation in ``analysis/.partial/<name>.json``, so that an analysis stopped
        part-way resumes where it stopped; that file is removed once the whole result is stored."""
        f = self.path / "analysis" / f"{name}.json"
        if f.exists():
            try:
                value = json.loads(f.read_text())
                problem = analysis_problem(value, keys)
                if problem is None:
                    return value
                warnings.warn(f"cached analysis {f} {problem}; computing it again")
            except (OSError, ValueError) as e:  # a damaged cache entry is recomputed, not fatal
                warnings.warn(f"cached analysis {f} cannot be read ({reason_of(e)}); computing it again")
        if settings is None:
            value = compute()
        else:
            partial = PartialAnalysis(self.path / "analysis" / ".partial" / f"{name}.json", settings)
            value = compute(partial)
        try:
            atomic_write_json(f, value)
        except OSError:
            return value  # a read-only store: the result is used, not kept (and the partial file stays)
        if settings is not None:
            partial.discard()
        return value


def analysis_problem(value, keys: tuple[str, ...] = ()) -> str | None:
    """What makes a cached analysis unusable (not a JSON object, a field missing, list fields of unequal or zero
    length), or None."""
    if not isinstance(value, dict) or not value:
        return f"holds a JSON {type(value).__name__ if value is not None else 'null'}{' (empty)' if value == {} else ''}" \
               f" where an analysis (an object with its fields) belongs"
    missing = [k for k in keys if k not in value]
    if missing:
        return f"lacks the field{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}"
    lengths = {len(value[k]) for k in keys if isinstance(value[k], list)}
    if len(lengths) > 1 or lengths == {0}:
        return "has list fields of unequal or zero length"
    return None


class PartialAnalysis:
    """The finished evaluations of an analysis in progress, each written (atomically) as soon as it is done.

    Call it as ``partial(key, compute)``: the value stored under ``key`` if an earlier process computed it with
    the same settings, else ``compute()`` (a JSON-able dict), stored at once. A file made with other settings,
    or one that cannot be read, is not used (a warning says so) and is replaced. ``cpu_seconds()`` is the CPU
    time of every process that worked on the analysis; ``devices`` the devices they computed on."""

    def __init__(self, path: Path, settings: dict):
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))  # as it reads back from the file
        self.values: dict[str, dict] = {}
        self.devices: list[str] = []
        self._before, self._t0, self._writable = 0.0, time.process_time(), True
        if not self.path.exists():
            return
        try:
            old = json.loads(self.path.read_text())
            same = old.get("settings") == self.settings
        except (OSError, ValueError, AttributeError) as e:
            warnings.warn(f"partial analysis {self.path} cannot be read ({reason_of(e)}); starting it again")
            return
        if not same:
            warnings.warn(f"partial analysis {self.path} was made with other settings; starting it again")
            return
        self.values = dict(old.get("values", {}))
        self.devices = list(old.get("devices", []))
        self._before = float(old.get("cpu_seconds", 0.0))

    def __len__(self) -> int:
        return len(self.values)

    def __call__(self, key: str, compute: Callable[[], dict], device: str | None = None) -> dict:
        if key in self.values:
            return self.values[key]
        value = compute()
        self.values[key] = json.loads(json.dumps(value))
        if device and device not in self.devices:
            self.devices.append(device)
        self._save()
        return self.values[key]

    def cpu_seconds(self) -> float:
        return round(self._before + time.process_time() - self._t0, 1)

    def _save(self) -> None:
        if not self._writable:
            return
        try:
            atomic_write_json(self.path, {"settings": self.settings, "values": self.values, "devices": self.devices,
                                          "cpu_seconds": self.cpu_seconds()})
        except OSError as e:  # a read-only store: the analysis goes on, without resuming
            self._writable = False
            warnings.warn(f"partial analysis cannot be kept ({reason_of(e)}); a stopped run will start again")

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()  # only when empty
