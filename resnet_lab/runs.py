"""The run store: every run a figure uses, recorded with its provenance.

A run is named by a hash of everything that shapes its result (:func:`identity`):
its :class:`~resnet_lab.train.RunConfig` (arch, shortcut, variant, profile, seed,
data kind), the profile's resolved settings for that net, the precision it trains
in, and the fingerprint of the data's content. Its record is a folder::

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from .atomic import atomic_write_json
from .profiles import PROFILES, get_profile, resolved_settings
from .train import RunConfig, TrainingDiverged, pick_device, resolve_precision, train

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE_RANK = ("paper", "cpu", "quick", "smoke")  # the best first


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


def identity(config: RunConfig, precision: str, data_fingerprint: str) -> dict:
    """Everything that shapes a run's result; its hash names the run."""
    p = get_profile(config.profile)
    cfg = {k: v for k, v in config.as_dict().items() if k != "precision"}
    return dict(config=cfg, settings=resolved_settings(p, config.residual, config.depth), precision=precision,
                data_fingerprint=data_fingerprint)


def run_id(config: RunConfig, precision: str, data_fingerprint: str) -> str:
    ident = identity(config, precision, data_fingerprint)
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
    variant = "" if config.variant == "basic" else f"-{config.variant}"
    return (f"{config.arch}{variant}-{config.shortcut or 'plain'}-{config.profile}-s{config.seed}-"
            f"{config.data_source}-{precision}-{digest}")


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
        return RunConfig(**self._json("config.json")["config"], precision=self.precision)

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

    def label(self) -> str:
        """For captions: 'resnet56 (option A), profile cpu, CIFAR-10 JPEG q75 copy, seed 0'."""
        c, p = self.config, self.provenance
        short = f" (option {c.shortcut})" if c.shortcut else ""
        var = "" if c.variant == "basic" else f", {c.variant} blocks"
        return (f"{c.arch}{short}{var}, profile {c.profile}, {p.get('data', c.data_source)}, seed {c.seed}, "
                f"{self.precision}")

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

    def get(self, config: RunConfig, data_fingerprint: str | None = None) -> RunRecord | None:
        """The record of ``config`` under the profile's current settings, else None.

        Without ``data_fingerprint`` any recorded content of ``config.data_source`` matches; without
        ``config.precision`` a profile whose precision is 'auto' matches either precision (fp32 first).
        Records made under other settings of the same profile name never match: they are stale.
        """
        want = identity(config, "", data_fingerprint or "")
        p = get_profile(config.profile)
        precisions = [config.precision] if config.precision else (
            ["fp32", "bf16"] if p.precision == "auto" else [p.precision])
        found = []
        for rec in self.records():
            try:
                have = rec.identity
            except (KeyError, OSError, ValueError):
                continue
            if have.get("config") != want["config"] or have.get("settings") != want["settings"]:
                continue
            if have.get("precision") not in precisions:
                continue
            if data_fingerprint and have.get("data_fingerprint") != data_fingerprint:
                continue
            found.append(rec)
        found.sort(key=lambda r: precisions.index(r.identity["precision"]))
        return found[0] if found else None

    def records(self) -> list[RunRecord]:
        if not self.root.is_dir():
            return []
        return [RunRecord(p) for p in sorted(self.root.iterdir())
                if p.is_dir() and not p.name.startswith(".") and (p / "metrics.json").exists()]

    def find(self, **where) -> list[RunRecord]:
        """Records whose config matches every given field, e.g. ``find(profile='cpu', arch='plain56')``."""
        return [r for r in self.records() if all(getattr(r.config, k) == v for k, v in where.items())
                and self._current(r)]

    @staticmethod
    def _current(rec: RunRecord) -> bool:
        """Whether a record was made under its profile's current settings (else it is stale)."""
        try:
            c = rec.config
            return rec.identity.get("settings") == resolved_settings(get_profile(c.profile), c.residual, c.depth)
        except (KeyError, OSError, ValueError):
            return False

    def best_profile(self) -> str | None:
        have = {r.config.profile for r in self.records() if self._current(r)}
        return next((p for p in PROFILE_RANK if p in have), None)

    @contextlib.contextmanager
    def _lock(self, rid: str):
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{rid}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(self, config: RunConfig, precision: str, data_fingerprint: str, history: dict, metrics: dict,
              provenance: dict, model: torch.nn.Module | None = None) -> RunRecord:
        """Write a record atomically: a temp folder beside it, renamed into place."""
        final = self.root / run_id(config, precision, data_fingerprint)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=self.root))
        tmp.chmod(0o755)
        try:
            profile = get_profile(config.profile)
            cfg = {k: v for k, v in config.as_dict().items() if k != "precision"}
            atomic_write_json(tmp / "config.json", dict(config=cfg, profile=profile.as_dict(),
                                                        identity=identity(config, precision, data_fingerprint)))
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
        """The recorded run for ``config``, else train it (resuming a checkpoint), record it and return it.

        A run recorded as failed raises :class:`RunFailed` unless ``retry_failed`` (then it is trained again
        and its record replaced).
        """
        rec = self.get(config, getattr(data, "fingerprint", None) or None)
        if rec is not None and not (rec.failed and retry_failed):
            if rec.failed:
                raise RunFailed(f"run {rec.id} is recorded as failed: {rec.metrics.get('error', 'no reason recorded')}; "
                                f"train it again with --retry (python -m resnet_lab train ... --retry)")
            return rec
        if not training_allowed():
            raise RunNotRecorded(
                f"run {describe(config)} is not recorded in {self.root} and training is disabled "
                f"(RESNET_LAB_ALLOW_TRAINING=0). Train it with: {train_command(config)}")
        from .data import load_cifar10

        data = data if data is not None else load_cifar10()
        if data.source != config.data_source:
            raise ValueError(f"config asks for data source {config.data_source!r} but the loaded data are "
                             f"{data.source!r} ({data.path}); set RESNET_LAB_CIFAR10 accordingly")
        device = pick_device(device)
        precision = resolve_precision(config.precision or get_profile(config.profile).precision, device)
        rid = run_id(config, precision, data.fingerprint)
        with self._lock(rid):
            rec = self.get(replace(config, precision=precision), data.fingerprint)  # another process may have
            if rec is not None and not (rec.failed and retry_failed):  # finished it while we waited
                return rec
            return self._train_and_record(config, precision, data, device, progress, **train_kwargs)

    def _train_and_record(self, config, precision, data, device, progress, **train_kwargs) -> RunRecord:
        rid = run_id(config, precision, data.fingerprint)
        ckpt = self.root / ".partial" / rid / "checkpoint.pt"
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        provenance = dict(started=started, torch=torch.__version__, python=platform.python_version(),
                          commit=git_commit(), data=data.describe(), data_source=data.source,
                          data_path=data.path, data_fingerprint=data.fingerprint,
                          host_cpu=platform.processor() or platform.machine())
        cfg = replace(config, precision=precision)
        try:
            result = train(cfg, data, device=device, checkpoint_path=ckpt, progress=progress, tag=rid,
                           **train_kwargs)
        except TrainingDiverged as e:
            provenance.update(wall_seconds=round(time.perf_counter() - t0, 2))
            self.write(config, precision, data.fingerprint, {"train": [], "eval": []},
                       dict(status="failed", error=str(e)), provenance)
            shutil.rmtree(ckpt.parent, ignore_errors=True)
            raise
        provenance.update(device=result.device, wall_seconds=round(time.perf_counter() - t0, 2),
                          **result.extra)
        if result.metrics["status"] != "completed":
            raise RunNotRecorded(f"run {rid} stopped at iteration {result.metrics['iterations']}; "
                                 f"its checkpoint is kept at {ckpt} and a later call resumes it")
        rec = self.write(config, precision, data.fingerprint, result.history, result.metrics, provenance,
                         result.model)
        shutil.rmtree(ckpt.parent, ignore_errors=True)
        return rec


def describe(config: RunConfig) -> str:
    """A run named by what it is, for messages where its id (which needs the data's fingerprint) is unknown."""
    short = f" option {config.shortcut}" if config.shortcut else ""
    var = "" if config.variant == "basic" else f" {config.variant} blocks"
    prec = f" {config.precision}" if config.precision else ""
    return f"{config.arch}{short}{var} (profile {config.profile}, seed {config.seed}, {config.data_source} data{prec})"


def train_command(config: RunConfig) -> str:
    return ("python -m resnet_lab train --arch " + config.arch +
            (f" --shortcut {config.shortcut}" if config.shortcut else "") +
            (f" --variant {config.variant}" if config.variant != "basic" else "") +
            f" --profile {config.profile} --seed {config.seed}" +
            (f" --precision {config.precision}" if config.precision else ""))


def get_or_train(config: RunConfig | None = None, store: RunStore | None = None, **kwargs) -> RunRecord:
    """Module-level shortcut: ``get_or_train(RunConfig('resnet56', profile='cpu'))``.

    Keyword arguments that are RunConfig fields build the config, e.g. ``get_or_train(arch='resnet20')``.
    """
    fields = set(RunConfig.__dataclass_fields__)
    cfg_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
    config = config or RunConfig(**cfg_kwargs)
    return (store or RunStore()).get_or_train(config, **kwargs)
