"""Several processes, one run: the paper's CIFAR-10 nets were trained "on two GPUs" with a mini-batch of 128
(Sec. 4.2), so each GPU's BN saw 64 images. This module trains a run that way with PyTorch's own stack:
``torchrun --nproc-per-node N -m resnet_lab train ...`` starts N processes (ranks); each one trains its slice of
every batch in :class:`torch.nn.parallel.DistributedDataParallel` (NCCL on CUDA, Gloo on the CPU).

* **Data.** Every rank draws the run's whole per-iteration table of image indices and crop/flip draws from the same
  CPU generator (:class:`~resnet_lab.engine.data_stream.DataStream`) and trains on its slice of it
  (:func:`~resnet_lab.engine.data_stream.shard`): the global batch stays the profile's (128), in the order one
  process would use.
* **Gradients.** Each rank's loss is the mean over its slice; DDP averages the gradients over the ranks, which is
  the gradient of the mean over the whole batch (equal slices). Weight decay is added once, by the optimiser, to
  the averaged gradient (:class:`~resnet_lab.engine.step.PaperSGD`), never inside the loss.
* **BN.** By default each rank's BN normalises over its own slice (the paper's "per GPU"): numerically the run of
  one process whose BN normalises groups of ``batch / N`` images (:class:`GhostBatchNorm2d`, ``--ghost-bn``).
  ``--sync-bn`` normalises over the whole batch across the ranks (:class:`torch.nn.SyncBatchNorm` on CUDA; on the
  CPU, where torch has no SyncBatchNorm kernels, :class:`GlooSyncBatchNorm2d`, the same statistics through
  differentiable all-reduces): numerically the one-process run. The running statistics (used only in evaluation)
  drift apart per rank under per-device BN; they are averaged over the ranks before every evaluation and
  checkpoint, which is exactly (the update is linear) what a ghost-BN process does by averaging its groups'.
* **Who writes.** Rank 0 alone takes the run's lock, writes checkpoints and the record; it reads a checkpoint and
  sends it to the other ranks (:func:`get_or_train`: the others follow what rank 0 does, message by message).
  Logging sums are all-reduced at logging points, so every rank takes the same decisions (NaN guard, ResNet-110
  warm-up); a stop request (SIGTERM, Ctrl-C) on any rank stops all of them at the same iteration.
* **Identity.** ``RunConfig.world_size``, ``sync_bn`` and ``ghost_bn`` name the run (``...-ddp2-bn64-<hash>``,
  ``...-ddp2-syncbn-...``, ``...-bn64-...`` for one process with ghost BN); a run of one process with BN over its
  whole batch keeps the id it always had. The provenance says the world size, backend and BN mode.
"""
from __future__ import annotations

import contextlib
import datetime
import importlib
import os
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

CONTROL_TIMEOUT = datetime.timedelta(hours=24)  # host-side messages: rank 0 may wait long on a run's lock


# ---- the process group --------------------------------------------------------------------------------------------

@dataclass
class Context:
    """This process's place among the run's processes. ``control`` is a Gloo group for host-side messages (stop
    flags, rank 0's decisions, the checkpoint); the default group carries the training's tensors."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device
    control: Any

    def broadcast(self, obj=None):
        """Rank 0's ``obj``, on every rank (pickled; CPU tensors)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is True on any."""
        t = torch.tensor([1 if flag else 0], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.control)
        return bool(t.item())

    def barrier(self) -> None:
        dist.barrier(group=self.control)

    def on_rank0(self, fn: Callable[[], Any]):
        """``fn()`` computed on rank 0 and its value (or its error, re-raised) given to every rank: decisions that
        read the run store, which must be the same on every rank."""
        if self.rank == 0:
            try:
                value = fn()
            except Exception as e:
                self.broadcast(("error", _error_message(e)))
                raise
            self.broadcast(("value", value))
            return value
        kind, value = self.broadcast()
        if kind == "error":
            raise _rebuilt(value)
        return value


_ctx: Context | None = None


def current() -> Context | None:
    """The context of this process when it is one of several (set by :func:`init`), else None."""
    return _ctx


def launched() -> bool:
    """Whether a launcher (torchrun) started this process as one of several: ``$WORLD_SIZE`` above 1."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(raw) > 1
    except ValueError:
        raise ValueError(f"$WORLD_SIZE={raw!r} is not a whole number (set by torchrun)") from None


def world_size() -> int:
    return _ctx.world_size if _ctx is not None else 1


def is_main() -> bool:
    """True in rank 0 (or a process alone): the one that prints, writes and records."""
    return _ctx is None or _ctx.rank == 0


def init(device: str | torch.device | None = None, timeout: float | None = None) -> Context:
    """Join the process group torchrun set up (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
    ``MASTER_PORT``): NCCL with one GPU per process (``cuda:LOCAL_RANK``) on CUDA, Gloo on the CPU. ``device``:
    cpu or cuda (as ``--device``; default the best available). ``timeout``: seconds a collective of the training
    may wait (default torch's)."""
    global _ctx
    from .train import pick_device

    if _ctx is not None:
        return _ctx
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError) as e:
        raise ValueError(f"not started as one of several processes: $RANK and $WORLD_SIZE must be whole numbers "
                         f"(start with torchrun --nproc-per-node N -m resnet_lab ...); {e}") from None
    d = pick_device(device)
    if d.type == "cuda":
        if d.index is not None and world > 1:
            raise ValueError(f"--device {d} names one GPU, but each of the {world} processes takes its own "
                             f"(cuda:LOCAL_RANK): give --device cuda")
        if local >= torch.cuda.device_count():
            raise ValueError(f"process {rank} (LOCAL_RANK {local}) has no GPU: {torch.cuda.device_count()} here; "
                             f"start at most that many processes per node")
        d = torch.device("cuda", local)
        torch.cuda.set_device(d)
        backend = "nccl"
    elif d.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"several processes train on cuda (NCCL) or cpu (Gloo); not on {d}")
    kw = dict(backend=backend, rank=rank, world_size=world)
    if timeout is not None:
        kw["timeout"] = datetime.timedelta(seconds=timeout)
    dist.init_process_group(**kw)
    control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    _ctx = Context(rank, world, local, backend, d, control)
    return _ctx


def shutdown() -> None:
    """Leave the process group (no-op when there is none)."""
    global _ctx
    if _ctx is not None:
        _ctx = None
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def context_for(config, device: torch.device) -> Context | None:
    """The context a run of ``config`` trains in: None for one process; a one-line ValueError where the processes
    running do not fit the config (a run of 2 started without torchrun, or under torchrun of another size)."""
    w = config.world_size
    if w == 1:
        if _ctx is not None:
            raise ValueError(f"this process is rank {_ctx.rank} of {_ctx.world_size}, but the run's config says "
                             f"world_size=1 (give RunConfig(world_size={_ctx.world_size}))")
        return None
    if _ctx is None:
        raise ValueError(f"a run of world_size {w} is trained by {w} processes: start it with torchrun "
                         f"--nproc-per-node {w} -m resnet_lab train ... (one process: --ghost-bn "
                         f"{config.bn_images()} trains the same arithmetic)")
    if _ctx.world_size != w:
        raise ValueError(f"the run's config says world_size={w}, but {_ctx.world_size} processes are running")
    if device.type != _ctx.device.type:
        raise ValueError(f"this process group trains on {_ctx.device} ({_ctx.backend}); the run asks for {device}")
    return _ctx


# ---- BN modes -----------------------------------------------------------------------------------------------------

class GhostBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics are those of groups of ``ghost`` images (the first ``ghost``
    images of the batch, the next ``ghost``, ...), as if each group were on a device of its own; the running
    statistics move by the average of the groups' (what averaging the devices' running statistics gives). Eval
    mode is BatchNorm2d's. Same parameters and buffers as BatchNorm2d (a state_dict loads into either)."""

    ghost: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if not self.training or n <= self.ghost:
            return super().forward(x)
        if n % self.ghost:
            raise ValueError(f"a batch of {n} does not split into groups of {self.ghost} images for ghost BN")
        track = self.track_running_stats and self.running_mean is not None
        m = self.momentum if self.momentum is not None else 0.0
        if track:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # BatchNorm2d's cumulative average
                m = 1.0 / float(self.num_batches_tracked)
        outs, means, variances = [], [], []
        for chunk in x.split(self.ghost):  # each group moves its own copy of the running statistics
            rm, rv = (self.running_mean.clone(), self.running_var.clone()) if track else (None, None)
            outs.append(F.batch_norm(chunk, rm, rv, self.weight, self.bias, True, m, self.eps))
            means.append(rm)
            variances.append(rv)
        if track:
            with torch.no_grad():
                self.running_mean.copy_(torch.stack(means).mean(0))
                self.running_var.copy_(torch.stack(variances).mean(0))
        return torch.cat(outs)


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks, differentiable: the gradient of each rank's input is the sum of every rank's gradient
    of the output (each rank's loss depends on every rank's input through the sum)."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        y = x.clone()
        dist.all_reduce(y, group=group)
        return y

    @staticmethod
    def backward(ctx, grad):
        g = grad.clone()
        dist.all_reduce(g, group=ctx.group)
        return g, None


class GlooSyncBatchNorm2d(nn.BatchNorm2d):
    """BN over the whole batch across the ranks on the CPU, where torch.nn.SyncBatchNorm has no kernels (and DDP
    refuses it): the batch's mean, then its (biased) variance, as sums all-reduced over the ranks; the running
    statistics move by the batch's mean and unbiased variance, as BatchNorm2d's over the whole batch would. Eval
    mode (and a process alone) is BatchNorm2d's."""

    process_group: Any = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size(self.process_group) > 1):
            return super().forward(x)
        group = self.process_group
        track = self.track_running_stats and self.running_mean is not None
        m = self.momentum if self.momentum is not None else 0.0
        if track:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                m = 1.0 / float(self.num_batches_tracked)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # statistics in fp32 at least
        count = torch.tensor([x.numel() // x.shape[1]], dtype=torch.float64)
        dist.all_reduce(count, group=group)
        n = float(count.item())
        dims, shape = (0, 2, 3), (1, -1, 1, 1)
        mean = _AllReduceSum.apply(xf.sum(dims), group) / n
        centred = xf - mean.view(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dims), group) / n
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.weight is not None:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if track:
            with torch.no_grad():
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / max(n - 1, 1)), alpha=m)
        return y.to(x.dtype)


_BN_KINDS = (GhostBatchNorm2d, GlooSyncBatchNorm2d, nn.SyncBatchNorm)


def with_bn_mode(model: nn.Module, config, device: torch.device) -> nn.Module:
    """``model`` with the config's BN: ghost groups (``ghost_bn``), synchronised over the ranks (``sync_bn``:
    torch.nn.SyncBatchNorm on CUDA, :class:`GlooSyncBatchNorm2d` on the CPU), else unchanged. The parameters and
    buffers stay the same tensors (an optimiser built before or after sees the same ones)."""
    if config.sync_bn and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    kind = GlooSyncBatchNorm2d if config.sync_bn else GhostBatchNorm2d if config.ghost_bn else None
    if kind is None:
        return model
    for m in model.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = kind
            if kind is GhostBatchNorm2d:
                m.ghost = config.ghost_bn
    return model


def plain_bn(model: nn.Module) -> nn.Module:
    """``model`` with every BN of :func:`with_bn_mode` back to nn.BatchNorm2d (same tensors): the config's own
    architecture, as a record's weights load into it."""
    if isinstance(model, _BN_KINDS):
        raise ValueError("plain_bn() takes a model, not a BN layer")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (GhostBatchNorm2d, GlooSyncBatchNorm2d)):
                child.__class__ = nn.BatchNorm2d
                child.__dict__.pop("ghost", None)
                child.__dict__.pop("process_group", None)
            elif isinstance(child, nn.SyncBatchNorm):
                bn = nn.BatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats, device="meta")
                if child.affine:
                    bn.weight, bn.bias = child.weight, child.bias
                bn.running_mean, bn.running_var = child.running_mean, child.running_var
                bn.num_batches_tracked = child.num_batches_tracked
                bn.training = child.training
                setattr(parent, name, bn)
    return model


def bn_mode(config, batch_size: int) -> str:
    """'batch' (one process, BN over its batch), 'ghost', 'per-device' or 'sync'."""
    if config.sync_bn:
        return "sync"
    if config.ghost_bn:
        return "ghost"
    return "per-device" if config.world_size > 1 else "batch"


def provenance(config, batch_size: int, ctx: Context | None) -> dict:
    """What a record says of its processes and BN beyond its id; nothing for one process with BN over its batch
    (whose provenance stays what it was before issue 31)."""
    if config.world_size == 1 and config.ghost_bn is None:
        return {}
    images = config.bn_images(batch_size)
    out = dict(world_size=config.world_size,
               batch_norm=dict(mode=bn_mode(config, batch_size), images=images, groups_per_batch=batch_size // images))
    if ctx is not None:
        out["distributed"] = dict(backend=ctx.backend, images_per_process=batch_size // ctx.world_size,
                                  ddp="torch.nn.parallel.DistributedDataParallel (gradients averaged)",
                                  sync_bn=("torch.nn.SyncBatchNorm" if ctx.device.type == "cuda"
                                           else "resnet_lab.distributed.GlooSyncBatchNorm2d") if config.sync_bn
                                  else None)
    return out


# ---- the training's collectives (every rank calls each at the same point) -------------------------------------

def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """``model`` in DistributedDataParallel (gradients averaged over the ranks; buffers left alone: see
    :func:`average_bn_buffers`)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # no buffer broadcast before each forward (rank 0's would overwrite the others' BN statistics); at
    # construction DDP copies rank 0's parameters and buffers to all, which are the same on every rank already
    if "forward_sync_buffers" in inspect.signature(DDP).parameters:  # torch >= 2.14; broadcast_buffers before
        return DDP(model, device_ids=ids, forward_sync_buffers=False)
    return DDP(model, device_ids=ids, broadcast_buffers=False)


def average_bn_buffers(model: nn.Module, ctx: Context) -> None:
    """Every BN's running mean and variance averaged over the ranks (the same on all of them afterwards)."""
    bufs = [b for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for b in (m.running_mean, m.running_var) if b is not None]
    if not bufs:
        return
    flat = torch.cat([b.reshape(-1) for b in bufs])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    with torch.no_grad():
        for b, v in zip(bufs, flat.split([b.numel() for b in bufs])):
            b.copy_(v.view_as(b))


def reduce_window(loss_sum: torch.Tensor, wrong_sum: torch.Tensor, ctx: Context) -> tuple[float, float]:
    """A logging window's sums over the whole batch: (sum of the iterations' mean losses, images misclassified)."""
    t = torch.stack([loss_sum.detach(), wrong_sum.detach().to(loss_sum.dtype)])
    dist.all_reduce(t)
    return t[0].item() / ctx.world_size, t[1].item()


def gather_window(loss_sum: torch.Tensor, wrong_sum: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's logging sums so far, as ``[world_size]`` CPU tensors (kept in a checkpoint: each rank resumes
    with its own, so a resumed run's logged loss is the uninterrupted run's to the bit)."""
    t = torch.stack([loss_sum.detach(), wrong_sum.detach().to(loss_sum.dtype)])
    out = [torch.empty_like(t) for _ in range(ctx.world_size)]
    dist.all_gather(out, t)
    both = torch.stack(out).cpu()
    return both[:, 0].clone(), both[:, 1].clone()


# ---- one run over the processes ------------------------------------------------------------------------------

def announce(trainer, state: dict | None) -> None:
    """Rank 0, once its Trainer is set up (resumed or not): the other ranks set theirs up the same way."""
    ctx = trainer.dist
    ctx.broadcast(("train", dict(config=trainer.config, run=trainer.resolved, profile=trainer.profile, tag=trainer.tag,
                                 state=state,
                                 checkpoints=trainer.ckpt is not None,
                                 fingerprint=getattr(trainer.data, "fingerprint", None))))


def follow(config, data, device=None, should_stop=None):
    """A rank other than 0: train each net rank 0 announces (a second one after a checkpoint it had to set aside),
    until rank 0 says it is done; then return what it returned or raise what it raised (the same class and
    message). A net that diverges here is reported by rank 0, which sees the same loss."""
    from .engine.loop import Trainer
    from .train import TrainingDiverged

    ctx = _ctx
    while True:
        kind, value = ctx.broadcast()
        if kind == "done":
            return value
        if kind == "error":
            raise _rebuilt(value)
        if kind != "train":
            raise RuntimeError(f"rank {ctx.rank}: unexpected message {kind!r} from rank 0")
        got = value["config"]
        if replace(got, precision=None) != replace(config, precision=None):
            raise ValueError(f"rank 0 trains {got}, this rank was asked for {config}: start every rank with the "
                             f"same command")
        if value["fingerprint"] != getattr(data, "fingerprint", None):
            raise ValueError(f"rank {ctx.rank} loaded other data (fingerprint {getattr(data, 'fingerprint', None)}) "
                             f"than rank 0 ({value['fingerprint']}); give every rank the same --data")
        run = value.get("run")  # rank 0's resolved run: every rank trains the one value that names the record
        t = Trainer(run or got, data, device=device, progress=False, should_stop=should_stop,
                    profile=None if run else value["profile"], tag=None if run else value["tag"],
                    resume_state=value["state"], saves_checkpoints=value["checkpoints"])
        with contextlib.suppress(TrainingDiverged):
            t.run()


def lead(fn: Callable[[], Any], result_for_others: Callable[[Any], Any] = lambda r: None):
    """Rank 0: ``fn()`` (which trains through the engine, announcing each net to the others), then tell the others
    it is done: ``result_for_others(value)``, or its error."""
    ctx = _ctx
    try:
        value = fn()
    except BaseException as e:
        with contextlib.suppress(Exception):  # a rank that died cannot hear it
            ctx.broadcast(("error", _error_message(e)))
        raise
    ctx.broadcast(("done", result_for_others(value)))
    return value


def get_or_train(store, config, data=None, device=None, progress: bool = True, retry_failed: bool = False,
                 **train_kwargs):
    """``store.get_or_train`` over the processes: rank 0 runs it (lock, checkpoint, record), the others train
    with it and return None (or raise its error); one process: exactly ``store.get_or_train``."""
    if _ctx is None:
        return store.get_or_train(config, data=data, device=device, progress=progress, retry_failed=retry_failed,
                                  **train_kwargs)
    if _ctx.rank == 0:
        return lead(lambda: store.get_or_train(config, data=data, device=device, progress=progress,
                                               retry_failed=retry_failed, **train_kwargs))
    return follow(config, data, device=device, should_stop=train_kwargs.get("should_stop"))


def load_in_turn(load: Callable[[], Any]):
    """``load()`` on rank 0 first, then on the others (a cache rank 0 writes is read, not written twice)."""
    if _ctx is None:
        return load()
    if _ctx.rank != 0:
        _ctx.barrier()
        return load()
    try:
        return load()
    finally:
        _ctx.barrier()


# ---- errors across processes -----------------------------------------------------------------------------------------

def _error_message(e: BaseException) -> tuple[str, str, str]:
    return type(e).__module__, type(e).__name__, str(e)


def _rebuilt(msg: tuple[str, str, str]) -> BaseException:
    """Rank 0's error on another rank: the same class (resnet_lab's or a builtin) and message, else RuntimeError."""
    module, name, text = msg
    if module == "builtins" or module.startswith("resnet_lab"):
        with contextlib.suppress(Exception):
            cls = getattr(importlib.import_module(module), name)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                return cls(text)
    return RuntimeError(f"rank 0: {name}: {text}")
