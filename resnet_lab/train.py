"""Training runs of Sec. 4.2: what names a run (:class:`RunConfig`), where and in which arithmetic it trains,
evaluation, checkpoint checks, and :func:`train`, the front of the engine (:mod:`resnet_lab.engine`: data stream,
schedule, step, loop).

Data live on the model's device as uint8 tensors; each iteration draws a batch
from a seeded permutation, normalises and augments it on the device, and takes
one SGD step. All randomness after initialisation comes from one CPU generator
whose state is checkpointed, so a killed run resumes to the same result as an
uninterrupted one.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import models
from .atomic import atomic_torch_save  # noqa: F401  (the engine saves through train.atomic_torch_save)
from .data import Cifar10, normalize
from .profiles import PROFILES, Profile, get_profile


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


class CorruptCheckpoint(RuntimeError):
    """A checkpoint that cannot be read, or that belongs to another run (``path`` names it)."""

    def __init__(self, message: str, path: os.PathLike | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class ForeignCheckpoint(CorruptCheckpoint):
    """A readable checkpoint saved by another run (its tag is not this run's)."""


SEED_MAX = 2**64 - 1  # torch's generators take seeds in 0..2**64-1


def check_seed(seed) -> int:
    """``seed`` if it is a whole number the random generators take (0..2**64-1); else a one-line ValueError."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
        shown = repr(seed) if len(repr(seed)) <= 40 else repr(seed)[:37] + "..."
        raise ValueError(f"seed must be a whole number from 0 to 2**64-1 (what torch's generator takes); "
                         f"got {shown}")
    return seed


@dataclass(frozen=True)
class RunConfig:
    """Everything that identifies a run (its hash names it in the run store)."""

    arch: str  # a name from resnet_lab.models.NAMES (CIFAR family)
    shortcut: str | None = None  # 'A' (default for residual nets), 'B', 'C'; None for plain nets
    variant: str = "basic"  # 'basic', 'one_layer', 'preact', 'final_bn' (models.cifar says what each is)
    profile: str = "cpu"
    seed: int = 0
    data_source: str = "jpeg"  # 'official' or 'jpeg'
    precision: str | None = None  # 'fp32' or 'bf16' (autocast); None: the profile's (see resolve_precision)
    compiled: bool = False  # torch.compile the training step (inductor); named in the run id only when True
    # several processes, one run (issue 31; resnet_lab.distributed): each field is in the id only when it is not
    # its default, so a run of one process with BN over its whole batch keeps the id it always had
    world_size: int = 1  # processes (DDP ranks, torchrun --nproc-per-node) the batch is split over
    sync_bn: bool = False  # BN statistics over the whole batch across the processes (SyncBatchNorm)
    ghost_bn: int | None = None  # BN statistics over groups of this many images of each process's share

    def __post_init__(self):
        family, depth, residual = models.parse_name(self.arch)
        if family != "cifar":
            raise ValueError(f"training is implemented for the CIFAR-10 nets only; got {self.arch!r}")
        if residual and self.shortcut is None:
            object.__setattr__(self, "shortcut", "A")
        if not residual and self.shortcut is not None:
            raise ValueError(f"{self.arch} is a plain net: it has no shortcut (got shortcut={self.shortcut!r})")
        if self.shortcut is not None and self.shortcut not in models.SHORTCUTS:
            raise ValueError(f"unknown shortcut option {self.shortcut!r}; allowed: 'A', 'B', 'C'")
        if self.variant not in models.CIFAR_VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; allowed: {', '.join(models.CIFAR_VARIANTS)}")
        if self.data_source not in ("official", "jpeg"):
            raise ValueError(f"unknown data source {self.data_source!r}; allowed: 'official', 'jpeg'")
        check_seed(self.seed)
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; allowed: {', '.join(PRECISIONS)}")
        if not isinstance(self.compiled, bool):
            raise ValueError(f"compiled must be True or False; got {self.compiled!r}")
        if isinstance(self.profile, Profile) and PROFILES.get(self.profile.name) == self.profile:
            object.__setattr__(self, "profile", self.profile.name)  # a registered profile, passed as an object
        if not isinstance(self.profile, str):
            raise ValueError(f"profile must be the name of a profile (a str); got {type(self.profile).__name__}"
                             f" (to train under a custom Profile, pass it as train(..., profile=...))")
        get_profile(self.profile)
        self._check_bn_fields()

    def _check_bn_fields(self) -> None:
        """world_size, sync_bn and ghost_bn (issue 31): whole numbers and a combination that means one thing."""
        w, g = self.world_size, self.ghost_bn
        if not _is_int(w) or w < 1:
            raise ValueError(f"world_size must be a whole number of processes, at least 1; got {w!r}")
        if not isinstance(self.sync_bn, bool):
            raise ValueError(f"sync_bn must be True or False; got {self.sync_bn!r}")
        if self.sync_bn and w == 1:
            raise ValueError("sync_bn synchronises BN over several processes (torchrun --nproc-per-node N, N >= 2); "
                             "in one process BN is over the whole batch already: leave out --sync-bn")
        if g is not None and (not _is_int(g) or g < 2):
            raise ValueError(f"ghost_bn must be a whole number of images, at least 2; got {g!r}")
        if g is not None and self.sync_bn:
            raise ValueError("ghost_bn and sync_bn contradict each other (BN over groups of images, or over the whole "
                             "batch across processes): choose one")
        self.check_batch(get_profile(self.profile).batch_size)

    def check_batch(self, batch_size: int) -> None:
        """A one-line ValueError unless a batch of ``batch_size`` splits evenly over the processes and, with
        ``ghost_bn``, each process's share into smaller groups of ``ghost_bn`` images."""
        w, g = self.world_size, self.ghost_bn
        if batch_size % w:
            raise ValueError(f"a batch of {batch_size} images does not split evenly over {w} processes")
        share = batch_size // w
        if g is not None and (g >= share or share % g):
            each = f"each of {w} processes' {share}" if w > 1 else f"the batch of {share}"
            raise ValueError(f"ghost_bn={g} must divide {each} images into smaller groups"
                             + (" (BN over each process's share is the default with several processes: leave out "
                                "--ghost-bn)" if g == share and w > 1 else ""))

    def bn_images(self, batch_size: int | None = None) -> int:
        """The images each BN statistic of a training step is computed over: the batch (one process; or several
        with ``sync_bn``), each process's share (several, the paper's "on two GPUs"), or ``ghost_bn``. Runs with
        the same number train the same arithmetic (one process with ghost_bn=64 = two processes of 64)."""
        b = batch_size or get_profile(self.profile).batch_size
        return self.ghost_bn or (b if self.sync_bn else b // self.world_size)

    @property
    def depth(self) -> int:
        return models.parse_name(self.arch)[1]

    @property
    def residual(self) -> bool:
        return models.parse_name(self.arch)[2]

    def build(self) -> torch.nn.Module:
        return models.build(self.arch, shortcut=self.shortcut, variant=self.variant)

    def as_dict(self) -> dict:
        return asdict(self)

    def identity_fields(self) -> dict:
        """The fields a record's config and id hash carry: all but the precision (named in the id on its own);
        ``compiled`` only when True, so the ids of eager runs are what they were before it existed."""
        out = {k: v for k, v in self.as_dict().items() if k != "precision"}
        if not self.compiled:
            del out["compiled"]
        for k, default in (("world_size", 1), ("sync_bn", False), ("ghost_bn", None)):  # issue 31: as `compiled`
            if out[k] == default:
                del out[k]
        return out


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` or ``$RESNET_LAB_DEVICE``, else cuda, then mps, then cpu."""
    where = "argument" if device else "$RESNET_LAB_DEVICE"
    device = device or os.environ.get("RESNET_LAB_DEVICE")
    if device:
        return check_device(device, where)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(device: str | torch.device, where: str = "argument") -> torch.device:
    """``device`` as a torch.device if it is cpu, cuda or mps and present here; else a one-line ValueError."""
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        d = None
    if d is None or d.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {str(device)!r} (from {where}); allowed: cpu, cuda, cuda:N, mps")
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} (from {where}) is not available: this torch sees no CUDA GPU")
    if d.type == "cuda" and d.index is not None and d.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} (from {where}) is not available: "
                         f"{torch.cuda.device_count()} CUDA device(s) here")
    if d.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                and torch.backends.mps.is_available()):
        raise ValueError(f"device {str(device)!r} (from {where}) is not available here")
    return d


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        import platform
        n = torch.get_num_threads()
        return f"cpu ({platform.machine()}, {n} thread{'' if n == 1 else 's'})"
    return str(device)


PRECISIONS = ("fp32", "bf16")


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bf16 in hardware (AVX-512 BF16 or AMX), read from /proc/cpuinfo.

    Elsewhere oneDNN emulates bf16 and a training step is ~10x slower than fp32 (measured:
    ResNet-20 26.7 vs 258 img/s on a 2-core AVX2 EPYC), so 'auto' never picks it there.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(wanted: str | None, device: torch.device) -> str:
    """'fp32' or 'bf16' for a run: an explicit choice wins; 'auto' means bf16 on CUDA and on CPUs with
    native bf16, fp32 elsewhere. Master weights, loss and optimiser always stay in fp32."""
    if wanted in PRECISIONS:
        return wanted
    if wanted not in (None, "auto"):
        raise ValueError(f"unknown precision {wanted!r}; allowed: auto, {', '.join(PRECISIONS)}")
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
        return "bf16"
    return "fp32"


def _autocast(device: torch.device, precision: str = "fp32"):
    """bf16 autocast for the forward pass where ``precision`` is 'bf16'; full precision otherwise."""
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def _memory_format(device: torch.device):
    """channels_last on CUDA and CPU (measured: ResNet-20 +20% on a 2-core CPU); MPS keeps NCHW."""
    return torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format


def set_cuda_numerics(device: torch.device, precision: str) -> None:
    """On CUDA: fp32 means IEEE fp32 (cuDNN would otherwise run fp32 convolutions in TF32 on Ampere and later,
    and a GPU 'fp32' run would not be the CPU's); deterministic cuDNN algorithms. Nothing elsewhere."""
    if device.type != "cuda":
        return
    torch.backends.cudnn.allow_tf32 = precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def numerics(device: torch.device, precision: str, compiled: bool = False, graph: bool = False,
             group: int = 1) -> dict:
    """What a run records about its arithmetic (provenance); how the engine ran it (a CUDA graph per step; nets
    trained together) only where it did."""
    fmt = "channels_last" if _memory_format(device) == torch.channels_last else "contiguous"
    out = dict(precision=precision, memory_format=fmt, device_type=device.type,
               cpu_native_bf16=cpu_has_native_bf16() if device.type == "cpu" else None)
    if compiled:
        out["compiled"] = "torch.compile (inductor), training step only; evaluation eager"
    if device.type == "cuda":
        out["cudnn_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    if graph:
        out["cuda_graph"] = "one graph per training step, captured after 3 eager steps"
    if group > 1:
        out["trained_with"] = f"{group} nets in one process, one iteration of each in turn"
    return out


def compiled_step_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile(model)`` for the training step (it shares the model's parameters and buffers, so
    checkpoints, evaluation and the record use the eager module). On the CPU inductor needs a C++ compiler:
    without one, a one-line error now rather than a page of traceback at the first step."""
    if device.type == "cpu":
        import shutil
        cxx = os.environ.get("CXX") or "g++"
        if not (shutil.which(cxx) or shutil.which("clang++")):
            raise ValueError(f"compiled training on the CPU needs a C++ compiler for torch.compile; {cxx!r} "
                             f"(from $CXX or the default) and clang++ are not on PATH")
    return torch.compile(model)


def sgd_step(model, opt, xb, yb, device: torch.device, precision: str = "fp32"):
    """One training step: forward (bf16 autocast where ``precision`` says so), fp32 cross-entropy, backward,
    SGD update on the fp32 master weights."""
    with _autocast(device, precision):
        out = model(xb)
    loss = F.cross_entropy(out.float(), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, out


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor,
             batch_size: int = 500, precision: str = "fp32") -> tuple[float, float]:
    """(error, mean loss) on the single original view of each image, in eval mode."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    wrong, loss_sum = torch.zeros((), device=device), torch.zeros((), device=device)
    mean = mean.to(device)
    for i in range(0, len(y), batch_size):
        xb = normalize(x[i:i + batch_size].to(device, non_blocking=True), mean)
        xb = xb.contiguous(memory_format=_memory_format(device))
        yb = y[i:i + batch_size].to(device, non_blocking=True)
        with _autocast(device, precision):
            out = model(xb)
        loss_sum += F.cross_entropy(out.float(), yb, reduction="sum")
        wrong += (out.argmax(1) != yb).sum()
    model.train(was)
    return wrong.item() / len(y), loss_sum.item() / len(y)


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: dict  # {'train': [{iter, lr, loss, error}], 'eval': [{iter, val_error, test_error, ...}]}
    metrics: dict  # final errors, status, iterations, wall time
    device: str = ""
    extra: dict = field(default_factory=dict)
    checkpoint_error: str | None = None  # why the finished state could not be saved (then it is in memory only)


def _subset(n: int, k: int | None, seed: int) -> torch.Tensor:
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return idx[:k] if k else idx


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def checkpoint_problem(state: dict, n_train: int | None = None) -> str | None:
    """What is wrong with the fields of a loaded checkpoint (a wrong type, a position out of range), or None.
    Read before any of it is trusted: an old or foreign file must not end in a bare TypeError."""
    def kind(v) -> str:
        return type(v).__name__
    want = dict(model=dict, optimizer=dict, generator=torch.Tensor, perm=torch.Tensor, history=dict)
    for key, typ in want.items():
        if key not in state:
            return f"no {key!r} field"
        if not isinstance(state[key], typ):
            return f"field {key!r} is a {kind(state[key])}, not a {typ.__name__}"
    for key in ("pos", "iteration"):
        if not _is_int(state.get(key)):
            return f"field {key!r} is {state.get(key)!r}, not a whole number"
    if not isinstance(state.get("warmup"), bool):
        return f"field 'warmup' is {state.get('warmup')!r}, not True or False"
    el = state.get("elapsed")
    if not isinstance(el, (int, float)) or isinstance(el, bool) or not math.isfinite(el) or el < 0:
        return f"field 'elapsed' is {el!r}, not a number of seconds"
    h = state["history"]
    if not all(isinstance(h.get(k), list) and all(isinstance(p, dict) for p in h[k]) for k in ("train", "eval")):
        return "field 'history' lacks its 'train' and 'eval' lists of points"
    perm, gen = state["perm"], state["generator"]
    if perm.dim() != 1 or perm.dtype != torch.int64 or (n_train is not None and len(perm) != n_train):
        return f"field 'perm' is not a permutation of the {n_train} training images"
    if gen.dtype != torch.uint8 or gen.dim() != 1:
        return "field 'generator' is not a generator state"
    if not 0 <= state["pos"] <= len(perm):
        return f"field 'pos' is {state['pos']}, outside the permutation's 0..{len(perm)}"
    if state["iteration"] < 0:
        return f"field 'iteration' is {state['iteration']}, below 0"
    windows = state.get("windows", [])
    if not isinstance(windows, list) or not all(isinstance(w, (list, tuple)) and len(w) == 3 for w in windows):
        return "field 'windows' is not a list of (iteration, wrong, seen)"
    window = state.get("window")
    if window is not None and not (isinstance(window, dict) and {"loss", "wrong", "seen"} <= set(window)
                                   and isinstance(window["loss"], torch.Tensor)
                                   and isinstance(window["wrong"], torch.Tensor) and _is_int(window["seen"])):
        return "field 'window' is not a logging window (loss, wrong, seen)"
    segments = state.get("segments")
    if segments is not None and not (isinstance(segments, list) and all(isinstance(g, dict) for g in segments)):
        return "field 'segments' is not a list of segments"
    if state.get("tag") is not None and not isinstance(state["tag"], str):
        return f"field 'tag' is a {kind(state['tag'])}, not a run id"
    return None


def train(config, data: Cifar10, device: str | torch.device | None = None,
          checkpoint_path: str | os.PathLike | None = None, progress: bool = True,
          on_log: Callable[[dict], None] | None = None, should_stop: Callable[[int], bool] | None = None,
          profile: Profile | None = None, tag: str | None = None,
          probe: Callable[[torch.nn.Module], dict] | None = None) -> TrainResult:
    """Train ``config`` on ``data`` with the paper's recipe scaled by its profile.

    ``config``: a :class:`RunConfig`, or a resolved :class:`~resnet_lab.resolved.Run` (what the run store
    trains): a ``Run`` brings its own profile, precision and tag (its id), so ``profile`` and ``tag`` must be
    left out, and ``data`` must have the fingerprint it is named for.
    ``checkpoint_path``: saved every ``profile.checkpoint_every`` iterations and resumed
    from if present; ``tag`` (the run id) is saved with it and a checkpoint with another tag is refused.
    ``on_log(point)`` is called at every logged point (live plots);
    ``should_stop(iteration)`` returning True stops early (status 'stopped'): with a checkpoint path, the state at
    that iteration is saved (the partial logging window included, so the resumed run is the same to the last
    bit) and there is no final evaluation; without one, the final evaluation reports where it stopped.
    ``probe(model)`` (studies) is called at every logged point and its dict merged into the point; it must
    leave the model's parameters, buffers and the random state as it found them.
    Raises :class:`TrainingDiverged` on a NaN/Inf loss.
    """
    from .engine.group import current_group, engine_options
    from .engine.loop import Trainer

    group = current_group()  # nets trained together (sweep --group): this thread's run joins their loop
    trainer = Trainer(config, data, device=device, checkpoint_path=checkpoint_path, progress=progress, on_log=on_log,
                      should_stop=should_stop, profile=profile, tag=tag, probe=probe, graph=engine_options().graph,
                      lr_on_device=engine_options().lr_on_device, shared=group.shared if group is not None else None)
    if group is not None:
        return group.submit(trainer)
    return trainer.run()
