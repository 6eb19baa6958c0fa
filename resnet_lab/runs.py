"""The run store: every run a figure uses, recorded with its provenance.

A run is named by a hash of everything that shapes its result: its
:class:`~resnet_lab.train.RunConfig` (arch, shortcut, variant, profile, seed, data
kind), the profile's resolved settings for that net, the precision it trains in,
and the fingerprint of the data's content. These are resolved once into a
:class:`~resnet_lab.resolved.Run`, the one value that names the record and trains
it (the store writes records only for a ``Run``). Its record is a folder::

    runs/<run id>/config.json       the config and the profile's settings
                  history.json      training loss/error and val/test error vs iterations
                  metrics.json      final errors, status ('completed' or 'failed')
                  provenance.json   device, torch version, git commit, wall time, data source
                  weights.safetensors  (float32; records before 2026-11-28 kept float16) where the profile saves weights
                  analysis/*.json   cached analysis arrays (responses, gradients, ...)

A record is read, checked and loaded by :class:`resnet_lab.record.RunRecord` (with the analyses cached in it);
this module finds, trains and writes them. Records appear atomically (written to a temp folder, then renamed), and a lock
file keeps two processes asking for the same run from training it twice.
``RESNET_LAB_ALLOW_TRAINING=0`` turns training off: asking for an unrecorded run
then fails with its name (the book build in CI uses it).

When something goes wrong, the store stays usable and the error names the culprit:

* a damaged record (unreadable or malformed JSON, a missing file, a folder where a
  file should be) is left out of :meth:`RunStore.records`, ``find``, ``get`` and
  ``best_profile`` and listed with its reason by :meth:`RunStore.damaged`;
* a run recorded as failed says why (``metrics.json: error``) and is trained again
  only when asked (``retry_failed=True``, ``--retry``);
* an unreadable checkpoint, or one of another run, is set aside as
  ``checkpoint.pt.corrupt-<time>`` with a warning and the run starts over;
* a record that cannot be written (read-only or full store) raises
  :class:`RecordNotWritten` naming the folder, and the finished training stays in
  ``.partial/<run id>/checkpoint.pt``: the next call records it without training;
  where the final checkpoint itself cannot be written (a full disk), the record is written
  from memory, and a warning names the file and the free space;
* a record is whole only with its schema (history 'train' and 'eval' lists, final errors as
  finite numbers in [0, 1], float32/float16 weights that are not truncated) and only in the
  folder its id names; anything else is listed by :meth:`RunStore.damaged`;
* a checkpoint is resumed only if it carries this run's tag, the settings and precision the run
  trains under (checkpoints keep both since 2026-12-02) and fields of the right types;
  else it is set aside as above;
* temp files of a killed writer are listed by :meth:`RunStore.leftovers` (and ``runs``) and
  removed by the next run of their run id (which holds its lock, so their writer is dead).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import torch

from .atomic import WriteFailed, atomic_write_json, disk_full, full_disk_reason, reason_of
from .profiles import PROFILES, get_profile, resolved_settings
from .resolved import Run, id_prefix, identity, run_id
from .train import PRECISIONS, CorruptCheckpoint, RunConfig, TrainingDiverged, pick_device, train
from .record import (PartialAnalysis, RecordDamaged, RunNotRecorded, RunRecord, analysis_problem,  # noqa: F401
                     weights_file_problem)  # a record, read (re-exported: the store's readers import them from here)

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE_RANK = ("paper", "cpu", "quick", "smoke")  # the best first


STUDIES = "studies"  # runs/studies/: study results that are not run records


class RunFailed(RuntimeError):
    pass


class RecordNotWritten(OSError):
    """A record could not be written (read-only or full store); the finished training is kept."""

    def __str__(self) -> str:
        return self.args[0]


class CheckpointSetAside(UserWarning):
    """An unusable checkpoint was renamed out of the way and its run started over."""


class DamagedRecord(NamedTuple):
    path: Path
    reason: str


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def check_name(rid: str) -> str:
    """``rid`` if it is a plain folder name (no separators, no '..', not hidden); else ValueError."""
    if not isinstance(rid, str) or not _NAME.fullmatch(rid) or ".." in rid or len(rid) > 200:
        raise ValueError(f"run id {rid!r} is not a plain folder name; refusing to use it in the run store")
    return rid


def default_root() -> Path:
    """``$RESNET_LAB_RUNS``, else the repository's ``runs/`` folder, else ``~/.cache/resnet_lab/runs``."""
    if os.environ.get("RESNET_LAB_RUNS"):
        return Path(os.environ["RESNET_LAB_RUNS"])
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / "runs"
    return Path.home() / ".cache" / "resnet_lab" / "runs"


ALLOW_VAR = "RESNET_LAB_ALLOW_TRAINING"
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


BOOK_BUILD_VAR = "RESNET_LAB_BOOK_BUILD"  # "1" while the book is being built: get_or_train then never trains


def training_allowed() -> bool:
    """``$RESNET_LAB_ALLOW_TRAINING`` read strictly: unset (or empty) or 1/true/yes/on allow training, 0/false/no/off
    turn it off; anything else is a one-line ValueError naming the variable (a typo must not train)."""
    raw = os.environ.get(ALLOW_VAR, "")
    value = raw.strip().lower()
    if value in _YES or value == "":
        return True
    if value in _NO:
        return False
    raise ValueError(f"${ALLOW_VAR}={raw!r} is not one of {'/'.join(_YES)} (train) or {'/'.join(_NO)} (do not "
                     f"train); set it to one of those, or unset it")


# ---- several processes, BN modes (issue 31) ----------------------------------------------------------------------
def _parallel_args(config: RunConfig) -> tuple[str, str]:
    """(launcher, options) of the command that trains ``config``: torchrun for several processes."""
    launcher = (f"torchrun --nproc-per-node {config.world_size} -m resnet_lab" if config.world_size > 1
                else "python -m resnet_lab")
    return launcher, (" --sync-bn" if config.sync_bn else "") + \
        (f" --ghost-bn {config.ghost_bn}" if config.ghost_bn else "")
# -------------------------------------------------------------------------------------------------------------------


def git_commit() -> str:
    """The code's commit (``-dirty`` with uncommitted changes); where there is no git repository (a copy of the
    working tree on a GPU machine), ``$RESNET_LAB_COMMIT`` as the copier set it, else 'unknown'."""
    fallback = os.environ.get("RESNET_LAB_COMMIT") or "unknown"
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else fallback
    except (OSError, subprocess.SubprocessError):
        return fallback


class Leftover(NamedTuple):
    """A temp file or folder of an unfinished write (see :meth:`RunStore.leftovers`)."""
    path: Path
    run: str  # the id of the run it belongs to
    running: bool  # a process holds that run's lock now: it is being written, not left behind


_TMP_RECORD = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp(?:\.old)?")  # RunStore.write's temp folder (.old: replaced one)
_TMP_CHECKPOINT = re.compile(r"\.checkpoint\.pt\.[a-z0-9_]{8}\.tmp")  # atomic_torch_save's temp file


class InProgress(NamedTuple):
    """A run begun but not recorded (see :meth:`RunStore.in_progress`)."""
    id: str
    iteration: int | None
    iterations: int | None  # its profile's, where the id names a known profile
    running: bool  # a process holds its lock now
    problem: str | None


class RunStore:
    def __init__(self, root: str | os.PathLike | None = None, keep_weights: bool = True):
        """``keep_weights=False``: records carry no weights whatever the profile says (a study that reads only
        curves and errors, e.g. the bf16/fp32 parity runs)."""
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise ValueError(f"run store must be a folder path; got {type(root).__name__}")
        if root is not None and not str(root).strip():
            raise ValueError("run store path is empty (give a folder, or leave it out for the default)")
        self.root = Path(root) if root is not None else default_root()
        self.keep_weights = keep_weights
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"run store {self.root} is not a folder (give --runs / RESNET_LAB_RUNS a folder)")

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def get(self, config: RunConfig, data_fingerprint: str | None = None) -> RunRecord | None:
        """The record of ``config`` under the profile's current settings, else None.

        Without ``data_fingerprint`` any recorded content of ``config.data_source`` matches; without
        ``config.precision`` a profile whose precision is 'auto' matches either precision (fp32 first).
        Records made under other settings of the same profile name never match: they are stale.
        """
        _check_config(config)
        p = get_profile(config.profile)
        want = identity(config, p, "", "")  # its config and settings; precision and data are matched below
        precisions = [config.precision] if config.precision else (
            ["fp32", "bf16"] if p.precision == "auto" else [p.precision])
        found = []
        for rec in self.records():
            have = rec.identity
            if have.get("config") != want["config"] or have.get("settings") != want["settings"]:
                continue
            if have.get("precision") not in precisions:
                continue
            if data_fingerprint and have.get("data_fingerprint") != data_fingerprint:
                continue
            found.append(rec)
        found.sort(key=lambda r: precisions.index(r.identity["precision"]))
        return found[0] if found else None

    def scan(self) -> tuple[list[RunRecord], list[DamagedRecord]]:
        """(whole records, damaged ones with the reason), each sorted by folder name.

        Every visible folder in the store is meant to be a record, except ``studies/`` (the results of studies
        that are not runs, e.g. the lr-0.1 study and analyses of untrained nets); hidden entries (``.partial``,
        ``.locks``, temp folders) and plain files (a README) are not looked at.
        """
        if not self.root.is_dir():
            return [], []
        good, bad = [], []
        try:
            entries = sorted(self.root.iterdir())
        except OSError as e:
            raise RecordNotWritten(f"cannot read run store {self.root}: {reason_of(e)}") from e
        for p in entries:
            if p.name.startswith(".") or not p.is_dir() or p.name == STUDIES:
                continue
            rec = RunRecord(p)
            try:
                rec.check()
            except RecordDamaged as e:
                bad.append(DamagedRecord(p, e.reason))
            else:
                good.append(rec)
        return good, bad

    def records(self) -> list[RunRecord]:
        """The whole records (damaged ones are left out: see :meth:`damaged`)."""
        return self.scan()[0]

    def damaged(self) -> list[DamagedRecord]:
        """``(path, reason)`` for every record folder that cannot be read as a run."""
        return self.scan()[1]

    def find(self, **where) -> list[RunRecord]:
        """Records whose config matches every given field, e.g. ``find(profile='cpu', arch='plain56')``."""
        unknown = set(where) - set(RunConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"find(): unknown field(s) {', '.join(sorted(unknown))}; "
                             f"allowed: {', '.join(RunConfig.__dataclass_fields__)}")
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

    def begun(self, config: RunConfig, data_fingerprint: str, device=None) -> bool:
        """Whether ``config`` has a checkpoint here (begun, not recorded): ``train``/``sweep`` would resume it."""
        rid = Run.of(config, data_fingerprint, device).id
        return (self.root / ".partial" / rid / "checkpoint.pt").is_file()

    def in_progress(self) -> list[InProgress]:
        """Runs begun but not recorded: a checkpoint in ``.partial/<id>/``, its iteration, and whether a process
        holds the run's lock now (training it). ``train``/``sweep`` resume them from there."""
        out = []
        for ckpt in sorted((self.root / ".partial").glob("*/checkpoint.pt")):
            rid = ckpt.parent.name
            try:
                state = torch.load(ckpt, map_location="cpu", weights_only=True)
            except Exception as e:
                out.append(InProgress(rid, None, None, self._held(rid), f"unreadable checkpoint ({reason_of(e)})"))
                continue
            it = state.get("iteration") if isinstance(state, dict) else None
            problem = (f"holds a {type(state).__name__}" if not isinstance(state, dict) else
                       f"iteration {it!r} is not a whole number" if not isinstance(it, int) or isinstance(it, bool)
                       else None)  # the rest of it is checked when it is resumed
            if problem is None and state.get("tag") != rid:
                problem = f"of run {state.get('tag')!r}" if state.get("tag") else "without a run tag"
            if problem:
                out.append(InProgress(rid, None, None, self._held(rid), f"unusable checkpoint ({problem}; the next "
                                                                        f"run sets it aside)"))
                continue
            iteration = state["iteration"]
            m = re.search(r"-([a-z0-9_.]+)-s\d+-", rid)
            total = PROFILES[m.group(1)].iterations if m and m.group(1) in PROFILES else None
            out.append(InProgress(rid, iteration, total, self._held(rid), None))
        return out

    def _held(self, rid: str) -> bool:
        """Whether another process holds the lock of run ``rid`` now (a lock is never taken here)."""
        path = self.root / ".locks" / f"{rid}.lock"
        try:
            fh = open(path, "rb")
        except OSError:
            return False
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False

    def best_profile(self) -> str | None:
        have = {r.config.profile for r in self.records() if self._current(r)}
        return next((p for p in PROFILE_RANK if p in have), None)

    @contextlib.contextmanager
    def _lock(self, rid: str):
        """An exclusive lock on ``.locks/<rid>.lock``; the file is removed on release (none is left behind)."""
        path = self.root / ".locks" / f"{check_name(rid)}.lock"
        while True:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fh = open(path, "a")
            except OSError as e:
                raise RecordNotWritten(f"cannot use run store {self.root}: cannot create lock file {path} "
                                       f"({reason_of(e)})") from e
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the holder removed the file as we waited: lock the new one
                break
            fh.close()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            fh.close()

    def write(self, run: Run, history: dict, metrics: dict, provenance: dict,
              model: torch.nn.Module | None = None) -> RunRecord:
        """Write the record of ``run`` atomically under ``run.id``: a temp folder beside it, renamed into place
        (replacing an older one). Its config.json keeps ``run``'s config, profile and identity: the ones it trained
        under, since the trainer takes the same ``Run``.

        Raises :class:`RecordNotWritten` (one line, naming the folder) where the store cannot take it.
        """
        if not isinstance(run, Run):
            raise ValueError(f"RunStore.write() records a resolved run (resnet_lab.resolved.Run.of(config, "
                             f"data_fingerprint, device)), so its id names what trained it; got a "
                             f"{type(run).__name__}")
        final = self.root / check_name(run.id)
        if final.parent != self.root:
            raise ValueError(f"run id {final.name!r} would leave the run store {self.root}")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=self.root))
            tmp.chmod(0o755)
        except OSError as e:
            raise RecordNotWritten(f"cannot write run record {final}: {reason_of(e)}") from e
        old = None
        try:
            profile = run.profile
            atomic_write_json(tmp / "config.json", dict(config=run.config.identity_fields(), profile=profile.as_dict(),
                                                        identity=run.identity))
            atomic_write_json(tmp / "history.json", history)
            atomic_write_json(tmp / "provenance.json", provenance)
            if model is not None and profile.save_weights and self.keep_weights:
                from safetensors.torch import save_file
                # float32, as trained: float16 overflows (a deep plain net's BN running variances pass 65,504)
                state = {k: (v.float() if v.is_floating_point() else v).contiguous()
                         for k, v in model.state_dict().items()}
                save_file(state, str(tmp / "weights.safetensors"))
            atomic_write_json(tmp / "metrics.json", metrics)  # last: its presence marks a complete record
            if final.exists() or final.is_symlink():  # a failed (or damaged) record being replaced
                old = tmp.with_name(tmp.name + ".old")
                os.replace(final, old)
            os.replace(tmp, final)
            if old is not None:
                _remove(old)
        except Exception as e:
            self._undo(tmp, old, final)
            name = f"{e.path.name}: " if isinstance(e, WriteFailed) else ""
            why = reason_of(e) if isinstance(e, WriteFailed) or not disk_full(e) else full_disk_reason(self.root)
            raise RecordNotWritten(f"cannot write run record {final}: {name}{why}") from e
        except BaseException:
            self._undo(tmp, old, final)
            raise
        return RunRecord(final)

    @staticmethod
    def _undo(tmp: Path, old: Path | None, final: Path):
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not final.exists():
            with contextlib.suppress(OSError):
                os.replace(old, final)  # the record being replaced stays as it was

    def get_or_train(self, config: RunConfig, data=None, device=None, progress: bool = True,
                     retry_failed: bool = False, **train_kwargs) -> RunRecord:
        """The recorded run for ``config``, else train it (resuming a checkpoint), record it and return it.

        A run recorded as failed raises :class:`RunFailed` unless ``retry_failed`` (then it is trained again
        and its record replaced).
        """
        _check_config(config)  # every argument is checked before anything is read or loaded
        train_kwargs = _check_train_kwargs(config, train_kwargs)
        _check_data(data)
        allowed = training_allowed()
        device = pick_device(device)
        rec = self.get(config, getattr(data, "fingerprint", None) or None)
        if rec is not None and not (rec.failed and retry_failed):
            if rec.failed:
                raise run_failed(rec, config)
            return rec
        if os.environ.get(BOOK_BUILD_VAR) == "1":  # set by the book build (book/_ext/run_status.py), whatever else
            raise RunNotRecorded(f"run {describe(config)} is not recorded in {self.root}, and a book build never "
                                 f"trains (${BOOK_BUILD_VAR}=1). Train it with: {train_command(config)}")
        if not allowed:
            off = f"training is disabled (${ALLOW_VAR}={os.environ.get(ALLOW_VAR)})"
            if rec is not None:  # recorded as failed, retry asked for
                raise RunFailed(f"run {rec.id} is recorded as failed ({rec.failure}) and {off}; to train it again, "
                                f"allow training and run: {train_command(config)} --retry")
            damaged = self._damaged_of(config, getattr(data, "fingerprint", None) or None)
            if damaged is not None:
                raise RunNotRecorded(f"the record of run {describe(config)} in {damaged.path} is damaged "
                                     f"({damaged.reason}) and {off}; move or delete that folder, allow training and "
                                     f"run: {train_command(config)}")
            raise RunNotRecorded(
                f"run {describe(config)} is not recorded in {self.root} and {off}. Train it with: "
                f"{train_command(config)}")
        from .data import load_cifar10

        data = data if data is not None else load_cifar10()
        if data.source != config.data_source:
            raise ValueError(f"config asks for data source {config.data_source!r} but the loaded data are "
                             f"{data.source!r} ({data.path}); set RESNET_LAB_CIFAR10 accordingly")
        run = Run.of(config, data.fingerprint, device)  # resolved once: this value names the run and trains it
        with self._lock(run.id):
            self._clean_leftovers(run.id)  # we hold the run's lock: any temp file of this run is a dead writer's
            rec = self.get(run.config, run.data_fingerprint)  # another process may have finished it while we
            if rec is not None and not (rec.failed and retry_failed):  # waited
                if rec.failed:
                    raise run_failed(rec, config)
                return rec
            return self._train_and_record(run, data, device, progress, **train_kwargs)

    def _damaged_of(self, config: RunConfig, data_fingerprint: str | None) -> DamagedRecord | None:
        """A damaged record folder named as ``config``'s run would be (any precision it may take), else None."""
        names = {run_id(replace(config, precision=pr), pr, data_fingerprint) for pr in PRECISIONS} \
            if data_fingerprint else None
        prefixes = tuple(id_prefix(config, pr) for pr in PRECISIONS)
        for d in self.damaged():
            n = d.path.name
            if (n in names) if names is not None else \
                    (n.startswith(prefixes) and re.fullmatch(r"[0-9a-f]{10}", n.rsplit("-", 1)[-1])):
                return d
        return None

    def leftovers(self) -> list[Leftover]:
        """Temp files and folders a writer left (a process killed while writing a record or a checkpoint), with the
        run each belongs to and whether a process holds that run's lock now (then it is being written)."""
        out = []
        if not self.root.is_dir():
            return out
        with contextlib.suppress(OSError):
            for p in sorted(self.root.iterdir()):
                m = _TMP_RECORD.fullmatch(p.name)
                if m:
                    out.append(Leftover(p, m.group(1), self._held(m.group(1))))
        with contextlib.suppress(OSError):
            for p in sorted((self.root / ".partial").glob("*/.checkpoint.pt.*.tmp")):
                if _TMP_CHECKPOINT.fullmatch(p.name):
                    out.append(Leftover(p, p.parent.name, self._held(p.parent.name)))
        return out

    def _clean_leftovers(self, rid: str) -> None:
        """Remove the temp files of run ``rid`` that a dead writer left (call with the run's lock held). A record
        set aside as ``.tmp.old`` while being replaced is put back first if its replacement never arrived."""
        final = self.root / rid
        for p, owner, _ in self.leftovers():
            if owner != rid:
                continue
            if p.name.endswith(".tmp.old") and p.is_dir() and not p.is_symlink() \
                    and not (final.exists() or final.is_symlink()):
                with contextlib.suppress(OSError):
                    os.replace(p, final)
                continue  # never removed while it may be the only copy of a record
            _remove(p)

    def _train_and_record(self, run: Run, data, device, progress, **train_kwargs) -> RunRecord:
        """Train ``run`` (resuming its checkpoint) and record it: the trainer and the record read the same ``run``."""
        rid = run.id
        ckpt = self.root / ".partial" / rid / "checkpoint.pt"
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        provenance = dict(started=started, torch=torch.__version__, python=platform.python_version(),
                          commit=git_commit(), data=data.describe(), data_source=data.source,
                          data_path=data.path, data_fingerprint=data.fingerprint,
                          host_cpu=platform.processor() or platform.machine())
        try:
            try:
                result = train(run, data, device=device, checkpoint_path=ckpt, progress=progress, **train_kwargs)
            except CorruptCheckpoint as e:
                if e.path is None or not (e.path == ckpt and (ckpt.exists() or ckpt.is_symlink())):
                    raise
                aside = set_aside(ckpt)
                warnings.warn(f"checkpoint {ckpt} cannot be resumed ({_why(e)}); set aside as {aside.name}, "
                              f"training run {rid} from the start", CheckpointSetAside, stacklevel=2)
                result = train(run, data, device=device, checkpoint_path=ckpt, progress=progress, **train_kwargs)
        except TrainingDiverged as e:
            provenance.update(wall_seconds=round(time.perf_counter() - t0, 2))
            self.write(run, {"train": [], "eval": []},
                       dict(status="failed", error=str(e), error_type=type(e).__name__), provenance)
            _drop_checkpoint(ckpt)
            raise
        earlier = result.extra.get("earlier_seconds", 0.0)  # earlier processes of a resumed run
        provenance.update(device=result.device, wall_seconds=round(time.perf_counter() - t0 + earlier, 2),
                          processes=_processes(result.extra.get("segments")), **result.extra)
        if result.metrics["status"] != "completed":
            raise RunNotRecorded(f"run {rid} stopped at iteration {result.metrics['iterations']}; "
                                 f"its checkpoint is kept at {ckpt} and a later call resumes it")
        try:
            rec = self.write(run, result.history, result.metrics, provenance, result.model)
        except RecordNotWritten as e:
            if result.checkpoint_error:  # the finished state was in memory only
                kept = (f"the finished training could not be kept either ({result.checkpoint_error}); free space "
                        f"and train again")
            elif ckpt.is_file():
                kept = (f"the finished training is kept in {ckpt}: the same command records it without training "
                        f"again once the store is writable")
            else:
                kept = "the finished training is lost"
            raise RecordNotWritten(f"{e}; {kept}") from e.__cause__
        _drop_checkpoint(ckpt)
        return rec


def _check_config(config) -> None:
    if not isinstance(config, RunConfig):
        raise ValueError(f"expected a RunConfig, got {type(config).__name__}")


TRAIN_KWARGS = ("on_log", "should_stop", "probe")  # what get_or_train passes on to train(): none shapes the result


def _check_train_kwargs(config: RunConfig, kwargs: dict) -> dict:
    """``kwargs`` for :func:`~resnet_lab.train.train` if each is known and none changes what the run's id names; a
    one-line ValueError naming the culprit otherwise. ``profile=`` is taken only when it is the config's own."""
    unknown = sorted(k for k in kwargs if k not in TRAIN_KWARGS and k != "profile")
    if unknown:
        raise ValueError(f"get_or_train(): unknown or reserved keyword argument(s) {', '.join(unknown)}; allowed: "
                         f"data, device, progress, retry_failed, {', '.join(TRAIN_KWARGS)}")
    kwargs = dict(kwargs)
    if "profile" in kwargs:
        given = kwargs.pop("profile")
        if given is not None and get_profile(given) != get_profile(config.profile):
            name = getattr(given, "name", given)
            raise ValueError(f"get_or_train(): profile={name!r} trains under other settings than profile "
                             f"{config.profile!r}, which names the run, so its record would carry the wrong id; "
                             f"register the settings under a name of their own in resnet_lab.profiles.PROFILES and "
                             f"give that name as RunConfig(profile=...)")
    for k, v in kwargs.items():
        if v is not None and not callable(v):
            raise ValueError(f"get_or_train(): {k} must be a function; got a {type(v).__name__}")
    return kwargs


def _check_data(data) -> None:
    """``data`` must be None (load the configured copy) or a loaded CIFAR-10; one line naming its type otherwise."""
    from .data import Cifar10
    if data is None or isinstance(data, Cifar10):
        return
    missing = [f for f in Cifar10.__dataclass_fields__ if not hasattr(data, f)]
    if missing:
        raise ValueError(f"get_or_train(): data must be a loaded CIFAR-10 (resnet_lab.data.load_cifar10()) or None "
                         f"(load $RESNET_LAB_CIFAR10); got a {type(data).__name__} without {missing[0]!r}")


def _remove(path: Path) -> None:
    """Remove a folder, a file or a link (a link itself, never what it points to); quietly."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def _why(e: BaseException) -> str:
    """The reason inside a CorruptCheckpoint's message (without the path and the advice)."""
    text = str(e)
    if "(" in text and ")" in text:
        return text[text.index("(") + 1:text.rindex(")")]
    return text.split(";")[0]


def _drop_checkpoint(ckpt: Path):
    """Remove a recorded run's checkpoint, and its folder unless something was set aside in it."""
    with contextlib.suppress(OSError):
        ckpt.unlink()
    with contextlib.suppress(OSError):
        ckpt.parent.rmdir()


def set_aside(ckpt: Path) -> Path:
    """Rename an unusable checkpoint to ``checkpoint.pt.corrupt-<UTC time>`` (never overwriting one)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest, n = ckpt.with_name(f"{ckpt.name}.corrupt-{stamp}"), 1
    while dest.exists():
        dest, n = ckpt.with_name(f"{ckpt.name}.corrupt-{stamp}-{n}"), n + 1
    try:
        os.replace(ckpt, dest)
    except OSError as e:
        raise RecordNotWritten(f"checkpoint {ckpt} cannot be resumed and cannot be set aside ({reason_of(e)}); "
                               f"delete it to start the run over") from e
    return dest


def run_failed(rec: RunRecord, config: RunConfig) -> RunFailed:
    """The one-line error for a run recorded as failed: which, why, and the command that trains it again."""
    return RunFailed(f"run {rec.id} is recorded as failed ({rec.failure}); to train it again: "
                     f"{train_command(config)} --retry")


def _processes(segments: list[dict] | None) -> int | str:
    """How many processes trained a run: one without segments; 'at least N' when a checkpoint from before segments
    were kept hides how many processes its first segment took."""
    if not segments:
        return 1
    n = len(segments)
    return f"at least {n}" if any(g.get("processes") == "not recorded" for g in segments) else n


def describe(config: RunConfig) -> str:
    """A run named by what it is, for messages where its id (which needs the data's fingerprint) is unknown."""
    short = f" option {config.shortcut}" if config.shortcut else ""
    v = config.variant
    var = "" if v == "basic" else \
        ", " + VARIANT_PHRASES.get(v, f"{VARIANT_WORDS.get(v, v.replace('_', '-'))} blocks")
    prec = f", {config.precision}" if config.precision else ""
    data = {"jpeg": "CIFAR-10 JPEG copy", "official": "official CIFAR-10"}.get(config.data_source,
                                                                               f"{config.data_source} data")
    bn = "" if config.world_size == 1 and config.ghost_bn is None else \
        f", {config.world_size} process{'es' if config.world_size > 1 else ''}, BN over {config.bn_images()} images"
    return f"{config.arch}{short}{var} (profile {config.profile}, seed {config.seed}, {data}{prec}{bn})"


VARIANT_WORDS = {"preact": "pre-activation", "one_layer": "one-layer", "final_bn": "final-BN-ReLU control"}
VARIANT_PHRASES = {"final_bn": "original blocks + final BN-ReLU (the control)"}  # where "<word> blocks" is wrong


def train_command(config: RunConfig) -> str:
    launcher, parallel = _parallel_args(config)
    return (launcher + " train --arch " + config.arch +
            (f" --shortcut {config.shortcut}" if config.shortcut else "") +
            (f" --variant {config.variant}" if config.variant != "basic" else "") +
            f" --profile {config.profile} --seed {config.seed}" +
            (f" --precision {config.precision}" if config.precision else "") +
            (" --data official" if config.data_source == "official" else "") + parallel)


def get_or_train(config: RunConfig | None = None, store: RunStore | None = None, **kwargs) -> RunRecord:
    """Module-level shortcut: ``get_or_train(RunConfig('resnet56', profile='cpu'))``.

    Keyword arguments that are RunConfig fields build the config, e.g. ``get_or_train(arch='resnet20')``.
    """
    fields = set(RunConfig.__dataclass_fields__)
    cfg_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
    config = config or RunConfig(**cfg_kwargs)
    return (store or RunStore()).get_or_train(config, **kwargs)
