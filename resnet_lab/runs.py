"""The run store: every run a figure uses, recorded with its provenance.

A run is named by a hash of its full :class:`~resnet_lab.train.RunConfig`
(arch, shortcut, variant, profile, seed, data source). Its record is a folder::

    runs/<run id>/config.json       the config and the profile's settings
                  history.json      training loss/error and val/test error vs iterations
                  metrics.json      final errors, status ('completed' or 'failed')
                  provenance.json   device, torch version, git commit, wall time, data source
                  weights.safetensors  (float16) where the profile saves weights
                  analysis/*.json   cached analysis arrays (responses, gradients, ...)

Records appear atomically (written to a temp folder, then renamed), and a lock
file keeps two processes asking for the same run from training it twice.
``RESNET_LAB_ALLOW_TRAINING=0`` turns training off: asking for an unrecorded run
then fails with its name (the book build in CI uses it).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .atomic import atomic_write_json
from .profiles import PROFILES, get_profile
from .train import RunConfig, TrainingDiverged, train

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE_RANK = ("paper", "cpu", "smoke")  # "cpu-lr0.1" is never a default  # the best first


class RunNotRecorded(LookupError):
    pass


class RunFailed(RuntimeError):
    pass


def default_root() -> Path:
    """``$RESNET_LAB_RUNS``, else the repository's ``runs/`` folder, else ``~/.cache/resnet_lab/runs``."""
    if os.environ.get("RESNET_LAB_RUNS"):
        return Path(os.environ["RESNET_LAB_RUNS"])
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / "runs"
    return Path.home() / ".cache" / "resnet_lab" / "runs"


def training_allowed() -> bool:
    return os.environ.get("RESNET_LAB_ALLOW_TRAINING", "1").strip().lower() not in ("0", "false", "no", "off")


def config_hash(config: RunConfig) -> str:
    blob = json.dumps(config.as_dict(), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def run_id(config: RunConfig) -> str:
    variant = "" if config.variant == "basic" else f"-{config.variant}"
    return (f"{config.arch}{variant}-{config.shortcut or 'plain'}-{config.profile}-s{config.seed}-"
            f"{config.data_source}-{config_hash(config)}")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class RunRecord:
    path: Path

    def _json(self, name: str):
        return json.loads((self.path / name).read_text())

    @property
    def config(self) -> RunConfig:
        return RunConfig(**self._json("config.json")["config"])

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

    def label(self) -> str:
        """For captions: 'resnet56 (option A), profile cpu, CIFAR-10 JPEG q75 copy, seed 0'."""
        c, p = self.config, self.provenance
        short = f" (option {c.shortcut})" if c.shortcut else ""
        var = "" if c.variant == "basic" else f", {c.variant} blocks"
        return f"{c.arch}{short}{var}, profile {c.profile}, {p.get('data', c.data_source)}, seed {c.seed}"

    def has_weights(self) -> bool:
        return (self.path / "weights.safetensors").exists()

    def load_model(self) -> torch.nn.Module:
        """The trained model (float32, eval mode), weights loaded safely from safetensors."""
        from safetensors.torch import load_file

        if not self.has_weights():
            raise RunNotRecorded(f"run {self.id} has no saved weights")
        model = self.config.build()
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(self.path / "weights.safetensors").items()}
        model.load_state_dict(state)
        return model.eval()

    def cached(self, name: str, compute: Callable[[], dict]) -> dict:
        """``analysis/<name>.json`` if recorded, else ``compute()`` (JSON-able), stored atomically."""
        f = self.path / "analysis" / f"{name}.json"
        if f.exists():
            return json.loads(f.read_text())
        value = compute()
        with contextlib.suppress(OSError):
            atomic_write_json(f, value)
        return value


class RunStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else default_root()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def path(self, config: RunConfig) -> Path:
        return self.root / run_id(config)

    def get(self, config: RunConfig) -> RunRecord | None:
        p = self.path(config)
        return RunRecord(p) if (p / "metrics.json").exists() else None

    def records(self) -> list[RunRecord]:
        if not self.root.is_dir():
            return []
        return [RunRecord(p) for p in sorted(self.root.iterdir())
                if p.is_dir() and not p.name.startswith(".") and (p / "metrics.json").exists()]

    def find(self, **where) -> list[RunRecord]:
        """Records whose config matches every given field, e.g. ``find(profile='cpu', arch='plain56')``."""
        return [r for r in self.records() if all(getattr(r.config, k) == v for k, v in where.items())]

    def best_profile(self) -> str | None:
        have = {r.config.profile for r in self.records()}
        return next((p for p in PROFILE_RANK if p in have), None)

    @contextlib.contextmanager
    def _lock(self, config: RunConfig):
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{run_id(config)}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(self, config: RunConfig, history: dict, metrics: dict, provenance: dict,
              model: torch.nn.Module | None = None) -> RunRecord:
        """Write a record atomically: a temp folder beside it, renamed into place."""
        final = self.path(config)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=self.root))
        tmp.chmod(0o755)
        try:
            profile = get_profile(config.profile)
            atomic_write_json(tmp / "config.json", dict(config=config.as_dict(), profile=profile.as_dict()))
            atomic_write_json(tmp / "history.json", history)
            atomic_write_json(tmp / "provenance.json", provenance)
            if model is not None and profile.save_weights:
                from safetensors.torch import save_file
                state = {k: (v.half() if v.is_floating_point() else v).contiguous()
                         for k, v in model.state_dict().items()}
                save_file(state, str(tmp / "weights.safetensors"))
            atomic_write_json(tmp / "metrics.json", metrics)  # last: its presence marks a complete record
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return RunRecord(final)

    def get_or_train(self, config: RunConfig, data=None, device=None, progress: bool = True,
                     retry_failed: bool = False, **train_kwargs) -> RunRecord:
        """The recorded run for ``config``, else train it (resuming a checkpoint), record it and return it."""
        rec = self.get(config)
        if rec is not None and not (rec.failed and retry_failed):
            if rec.failed:
                raise RunFailed(f"run {rec.id} is recorded as failed: {rec.metrics.get('error')}")
            return rec
        if not training_allowed():
            raise RunNotRecorded(
                f"run {run_id(config)} ({config.as_dict()}) is not recorded in {self.root} and training is "
                f"disabled (RESNET_LAB_ALLOW_TRAINING=0). Train it with: python -m resnet_lab train "
                f"--arch {config.arch}" + (f" --shortcut {config.shortcut}" if config.shortcut else "") +
                (f" --variant {config.variant}" if config.variant != "basic" else "") +
                f" --profile {config.profile} --seed {config.seed}")
        with self._lock(config):
            rec = self.get(config)  # another process may have finished it while we waited
            if rec is not None and not (rec.failed and retry_failed):
                return rec
            return self._train_and_record(config, data, device, progress, **train_kwargs)

    def _train_and_record(self, config, data, device, progress, **train_kwargs) -> RunRecord:
        from .data import load_cifar10

        data = data if data is not None else load_cifar10()
        if data.source != config.data_source:
            raise ValueError(f"config asks for data source {config.data_source!r} but the loaded data are "
                             f"{data.source!r} ({data.path}); set RESNET_LAB_CIFAR10 accordingly")
        ckpt = self.root / ".partial" / run_id(config) / "checkpoint.pt"
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        provenance = dict(started=started, torch=torch.__version__, python=platform.python_version(),
                          commit=git_commit(), data=data.describe(), data_source=data.source,
                          data_path=data.path, host_cpu=platform.processor() or platform.machine())
        try:
            result = train(config, data, device=device, checkpoint_path=ckpt, progress=progress, **train_kwargs)
        except TrainingDiverged as e:
            provenance.update(wall_seconds=round(time.perf_counter() - t0, 2))
            self.write(config, {"train": [], "eval": []}, dict(status="failed", error=str(e)), provenance)
            raise
        provenance.update(device=result.device, wall_seconds=round(time.perf_counter() - t0, 2))
        if result.metrics["status"] != "completed":
            raise RunNotRecorded(f"run {run_id(config)} stopped at iteration {result.metrics['iterations']}; "
                                 f"its checkpoint is kept at {ckpt} and a later call resumes it")
        rec = self.write(config, result.history, result.metrics, provenance, result.model)
        shutil.rmtree(ckpt.parent, ignore_errors=True)
        return rec


def get_or_train(config: RunConfig | None = None, store: RunStore | None = None, **kwargs) -> RunRecord:
    """Module-level shortcut: ``get_or_train(RunConfig('resnet56', profile='cpu'))``.

    Keyword arguments that are RunConfig fields build the config, e.g. ``get_or_train(arch='resnet20')``.
    """
    fields = set(RunConfig.__dataclass_fields__)
    cfg_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
    config = config or RunConfig(**cfg_kwargs)
    return (store or RunStore()).get_or_train(config, **kwargs)
