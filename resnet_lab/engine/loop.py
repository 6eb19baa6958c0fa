"""The loop around the step: one net's run from its first (or resumed) iteration to its record.

Each iteration: the stop request, the next window of draws when the last one is used up, the lr of the
iteration (:class:`~resnet_lab.engine.schedule.Schedule`) into the optimiser's lr tensor, the step. At each
logging point (on the host, outside the step): the window's mean loss and error read from the device, the NaN
guard, the warm-up decision, the evaluations on val and test; checkpoints at their iterations; at the end the
evaluation on the full val and test sets. :class:`Trainer` is that loop for one net; :func:`train_together`
interleaves the iterations of several (each on its own CUDA stream), and each net's run is the run it would be
alone, to the last bit.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from pathlib import Path

import torch

from .. import distributed as D  # several processes, one run (issue 31): None of it acts on a one-process run
from .. import train as T  # T.atomic_torch_save: looked up at each save (tests make it fail)
from ..profiles import get_profile, resolved_settings
from ..resolved import Run
from ..train import (CorruptCheckpoint, ForeignCheckpoint, TrainingDiverged, TrainResult, _memory_format,
                     checkpoint_problem, compiled_step_model, device_name, evaluate, numerics, pick_device,
                     resolve_precision, set_cuda_numerics)
from .data_stream import DataStream, DeviceData, shard, shared_device_data
from .schedule import Schedule
from .step import GraphedStep, PaperSGD, Step

WINDOW_MAX = 512  # iterations of draws made at once at most (the table: WINDOW_MAX x 4 x batch int64)
GRAPH_WARMUP = 3  # eager steps before a graph is captured
SEED_LOCK = threading.Lock()  # torch.manual_seed + build: one net at a time (nets of a group set up in threads)


def check_graph(graph: bool | None, device: torch.device, compiled: bool, precision: str) -> bool:
    """Whether a run's steps are CUDA graphs: ``graph`` None means no (the eager step is the default until a GPU
    run has shown the graphed one trains the same); True is an error off CUDA, with --compile, or in bf16."""
    if not graph:
        return False
    if device.type != "cuda":
        raise ValueError(f"CUDA graphs need a CUDA device; this run trains on {device} (leave out --graph)")
    if compiled:
        raise ValueError("a compiled run cannot also be graphed here (torch.compile makes its own graphs); "
                         "choose --compile or --graph")
    if precision != "fp32":
        raise ValueError(f"graphed steps are fp32 only (autocast's cache does not go into a graph); got {precision}")
    return True


def _next(it: int, every: int) -> int:
    return (it // every + 1) * every


class Trainer:
    """One net trained with the paper's recipe scaled by its profile; :func:`resnet_lab.train.train` documents
    the arguments. ``graph``: capture the step as a CUDA graph; ``shared``: a dict in which nets trained
    together share their data on the device. Set-up (and the resume from ``checkpoint_path``) happens here;
    :meth:`run` trains it alone; :func:`train_together` trains several.

    A run of several processes (``config.world_size`` > 1, :mod:`resnet_lab.distributed`): every rank builds a
    Trainer; rank 0's reads the checkpoint and writes checkpoints; the others get the state it read as
    ``resume_state`` and whether it keeps checkpoints as ``saves_checkpoints`` (:func:`~resnet_lab.distributed.
    follow`)."""

    def __init__(self, config, data, device=None, checkpoint_path=None, progress: bool = True, on_log=None,
                 should_stop=None, profile=None, tag: str | None = None, probe=None, graph: bool | None = None,
                 shared: dict | None = None, lr_on_device: bool = True, resume_state: dict | None = None,
                 saves_checkpoints: bool | None = None):
        self.resolved = run = config if isinstance(config, Run) else None
        if run is not None:  # a resolved run (the run store's): its profile, precision and id train it, nothing else
            if profile is not None or tag is not None:
                raise ValueError(f"run {run.id} is resolved: it brings its own profile and tag; leave out "
                                 f"{' and '.join(n for n, v in (('profile', profile), ('tag', tag)) if v is not None)}")
            run.check_data(data)
            config, profile, tag = run.config, run.profile, run.id
        p = self.profile = profile or get_profile(config.profile)
        self.config, self.data, self.progress, self.tag = config, data, progress, tag
        self.on_log, self.should_stop, self.probe = on_log, should_stop, probe
        device = self.device = pick_device(device)
        self.fmt = _memory_format(device)
        self.precision = resolve_precision(config.precision or p.precision, device)
        self.graph = check_graph(graph, device, config.compiled, self.precision)
        self.group_size = 1
        self.dist = D.context_for(config, device)  # None: one process
        config.check_batch(p.batch_size)
        if self.dist is not None and (self.graph or config.compiled or shared is not None):
            raise ValueError("a run of several processes trains eager steps, one net per process: leave out --graph, "
                             "--compile and --group")
        self.schedule = Schedule.for_net(p, config.residual, config.depth)
        self.dd = shared_device_data(shared, data, p, device) if shared is not None else DeviceData.of(data, p, device)

        with SEED_LOCK:  # the initialisation: He et al. 2015 under the run's seed
            torch.manual_seed(config.seed)
            self.model = config.build().to(device, memory_format=self.fmt)
        self.model = D.with_bn_mode(self.model, config, device)  # ghost or synchronised BN; else the model as built
        self.forward = compiled_step_model(self.model, device) if config.compiled else self.model
        self.opt = PaperSGD(self.model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
                            lr_on_device=lr_on_device)
        self.stream = DataStream(len(self.dd.train_y), p.batch_size, config.seed)
        self.start, self.elapsed, self.window = 0, 0.0, None
        self.segments: list[dict] = []  # earlier processes of a resumed run: device, torch, first and last iteration
        self.history = {"train": [], "eval": []}
        set_cuda_numerics(device, self.precision)
        self.ckpt = Path(checkpoint_path) if checkpoint_path else None
        self.saves_checkpoints = self.ckpt is not None if saves_checkpoints is None else bool(saves_checkpoints)
        state = None
        if resume_state is not None:  # a rank other than 0: the checkpoint rank 0 read
            self._apply_state(resume_state)
        elif self.ckpt is not None and self.ckpt.exists():
            state = self._resume()
        self._bn_synced = self.start  # the iteration at which the ranks' BN running statistics were last averaged
        if self.dist is not None and self.dist.rank == 0:
            D.announce(self, state)
        self.earlier = dict(resumed_at=self.start, earlier_seconds=round(self.elapsed, 2)) if self.start else {}
        self.cuda_stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    # ---- resume ----------------------------------------------------------------------------------------------
    def _resume(self) -> dict:
        """Read the checkpoint, check it, restore it; the state read."""
        state = self._read_checkpoint()
        self._apply_state(state)
        return state

    def _read_checkpoint(self) -> dict:
        ckpt, tag = self.ckpt, self.tag
        try:
            # on the CPU: the generator state and the permutation must stay CPU tensors; the model and the
            # optimiser copy their state onto the device themselves in load_state_dict
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
        except Exception as e:
            why = " ".join(str(e).split())[:200]
            raise CorruptCheckpoint(f"checkpoint {ckpt} cannot be read ({type(e).__name__}: {why}); delete it to "
                                    f"start the run over", ckpt) from e
        if not isinstance(state, dict):
            raise CorruptCheckpoint(f"checkpoint {ckpt} is not a training checkpoint (it holds a "
                                    f"{type(state).__name__}); delete it to start the run over", ckpt)
        if tag is not None and state.get("tag") is None:
            raise ForeignCheckpoint(f"checkpoint {ckpt} carries no run tag, so it cannot show that it belongs to "
                                    f"run {tag!r}; delete it to start this run over", ckpt)
        if tag is not None and state.get("tag") != tag:
            raise ForeignCheckpoint(f"checkpoint {ckpt} belongs to run {state.get('tag')!r}, not {tag!r}; "
                                    f"delete it to start this run over", ckpt)
        if "settings" in state:  # what trained it (checkpoints before 2026-12-02 do not say; their tag must do)
            want = resolved_settings(self.profile, self.config.residual, self.config.depth)
            have = state["settings"] if isinstance(state["settings"], dict) else {}
            differ = sorted(k for k in set(want) | set(have) if have.get(k) != want.get(k))
            if state.get("precision") != self.precision:
                differ.append("precision")
            if differ:
                raise ForeignCheckpoint(f"checkpoint {ckpt} does not belong to this run (trained under other "
                                        f"settings: {', '.join(differ)} differ); delete it to start this run over",
                                        ckpt)
        problem = checkpoint_problem(state, len(self.dd.train_y))
        if problem:
            raise CorruptCheckpoint(f"checkpoint {ckpt} does not fit this run ({problem}); delete it to start the "
                                    f"run over", ckpt)
        return state

    def _apply_state(self, state: dict) -> None:
        ckpt, p = self.ckpt or "(rank 0's)", self.profile
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.stream.restore(state)
            self.start, self.history, self.elapsed = state["iteration"], state["history"], state["elapsed"]
            self.schedule = Schedule(p, state["warmup"], state.get("windows", []))
            self.window = state.get("window")  # a stop between logging points: that window's sums so far
            # a checkpoint written before segments were kept says nothing of where its iterations ran, nor by how
            # many processes
            self.segments = list(state.get("segments") or [dict(device="not recorded", torch="not recorded",
                                                                start=0, end=self.start,
                                                                processes="not recorded")])
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            why = " ".join(str(e).split())[:200]
            raise CorruptCheckpoint(f"checkpoint {ckpt} does not fit this run ({type(e).__name__}: {why}); "
                                    f"delete it to start the run over", ckpt) from e
        if not 0 <= self.start <= p.iterations:
            raise ForeignCheckpoint(f"checkpoint {ckpt} is at iteration {self.start}, past this run's "
                                    f"{p.iterations}; delete it to start this run over", ckpt)

    # ---- provenance and checkpoints ----------------------------------------------------------------------------
    def segments_to(self, iteration: int) -> list[dict]:
        """Every process's share of the run up to ``iteration``, this one's last: a run resumed on another
        device (a GPU's checkpoint finished on a CPU) says so in its record. A process that trained no iteration
        (it only wrote the record of a finished checkpoint) adds none."""
        if iteration == self.start and self.segments:
            return list(self.segments)
        return self.segments + [dict(device=device_name(self.device), torch=str(torch.__version__),
                                     start=self.start, end=iteration)]

    def extra(self, iteration: int) -> dict:
        """The result's provenance beyond metrics: numerics, and for a resumed run where it resumed, the earlier
        processes' seconds and every process's segment."""
        return dict(numerics=numerics(self.device, self.precision, self.config.compiled, graph=self.graph,
                                      group=self.group_size),
                    **self.earlier, **(dict(segments=self.segments_to(iteration)) if self.start else {}),
                    **D.provenance(self.config, self.profile.batch_size, self.dist))

    def _rewind_stream(self) -> None:
        """The data stream back at the current iteration (a stop inside a window of draws)."""
        if self.used < self.drawn:
            self.stream.restore(self.window_state)
            self.stream.window(self.used)
            self.drawn = self.used

    def save_checkpoint(self, iteration: int) -> None:
        if not self.saves_checkpoints:
            return
        self._rewind_stream()
        s = self.step
        if self.dist is None:
            window = dict(loss=s.loss_sum.detach().cpu(), wrong=s.wrong_sum.detach().cpu(), seen=self.seen)
        else:  # every rank: the BN statistics averaged, each rank's logging sums (as [world_size] tensors)
            self._sync_bn(iteration)
            loss, wrong = D.gather_window(s.loss_sum, s.wrong_sum, self.dist)
            window = dict(loss=loss, wrong=wrong, seen=self.seen)
            if self.ckpt is None:  # rank 0 alone writes
                return
        T.atomic_torch_save(dict(tag=self.tag, precision=self.precision,
                                 settings=resolved_settings(self.profile, self.config.residual, self.config.depth),
                                 model=self.model.state_dict(), optimizer=self.opt.state_dict(),
                                 **self.stream.state(), iteration=iteration, history=self.history,
                                 warmup=self.schedule.warming_up, windows=self.schedule.windows,
                                 window=window,
                                 elapsed=self.elapsed + time.perf_counter() - self.t0,
                                 segments=self.segments_to(iteration)), self.ckpt)

    def _sync_bn(self, iteration: int) -> None:
        """Several processes with BN per device: the ranks' BN running statistics (which each rank moves by its
        own slice's) averaged over the ranks, once per iteration at most -- before an evaluation or a checkpoint
        reads them. Nothing for one process, nor with synchronised BN (the same statistics on every rank)."""
        if self.dist is None or self.config.sync_bn or self._bn_synced == iteration:
            return
        D.average_bn_buffers(self.model, self.dist)
        self._bn_synced = iteration

    def run_eval(self, iteration: int) -> dict:
        self._sync_bn(iteration)
        d = self.dd
        val_err, val_loss = evaluate(self.model, d.val_x, d.val_y, d.mean, precision=self.precision)
        test_err, test_loss = evaluate(self.model, d.test_x, d.test_y, d.mean, precision=self.precision)
        point = dict(iter=iteration, val_error=val_err, val_loss=val_loss, test_error=test_err, test_loss=test_loss)
        self.history["eval"].append(point)
        return point

    # ---- the loop ------------------------------------------------------------------------------------------------
    def on_stream(self):
        """The net's own CUDA stream (every kernel of this net goes there); nothing elsewhere."""
        return torch.cuda.stream(self.cuda_stream) if self.cuda_stream is not None else contextlib.nullcontext()

    def begin(self) -> None:
        """Before the first iteration (inside :meth:`on_stream`): progress bar, static step state, clock."""
        from tqdm.auto import tqdm

        p = self.profile
        if self.cuda_stream is not None:  # the model and data were put there on the default stream
            self.cuda_stream.wait_stream(torch.cuda.default_stream(self.device))
        self.bar = tqdm(total=p.iterations, initial=self.start, disable=not self.progress,
                        desc=f"{self.config.arch} [{p.name}]", unit="it", leave=False)
        if self.dist is not None:  # gradients averaged over the ranks, each training its slice of every batch
            self.forward = D.wrap(self.model, self.dist)
        self.step = Step(self.forward, self.opt, self.dd.train_x, self.dd.train_y, self.dd.mean,
                         p.batch_size // self.config.world_size, min(p.log_every, WINDOW_MAX), self.device,
                         self.precision, self.fmt)
        self.run_step = GraphedStep(self.step, self.cuda_stream, GRAPH_WARMUP) if self.graph else self.step
        self.seen, self.status, self.t0 = 0, "completed", time.perf_counter()
        self.first_step = None if self.config.compiled else (self.start, self.t0)
        if self.window is not None:
            loss, wrong = self.window["loss"], self.window["wrong"]
            if loss.dim() == 1:  # several processes: each rank's own sums
                loss, wrong = loss[self.dist.rank], wrong[self.dist.rank]
            self.step.loss_sum.copy_(loss)
            self.step.wrong_sum.copy_(wrong)
            self.seen = int(self.window["seen"])
        self.model.train()
        self.it, self.drawn, self.used = self.start, 0, 0

    def _draw_window(self) -> None:
        """The draws up to the next logging point or checkpoint (at most ``WINDOW_MAX`` iterations) into the
        step's table; the stream's state before them is kept for a stop inside the window."""
        p, it = self.profile, self.it
        end = min(_next(it, p.log_every), _next(it, p.checkpoint_every), p.iterations, it + len(self.step.table))
        self.window_state = self.stream.state()
        draws = self.stream.window(end - it)
        if self.dist is not None:  # this rank's slice of every batch
            draws = shard(draws, self.dist.rank, self.dist.world_size)
        self.step.load_window(draws)
        self.drawn, self.used = end - it, 0

    def advance(self) -> bool:
        """One iteration and what falls due after it; False (and nothing done) once the run is over: completed,
        or stopped by ``should_stop``. Raises :class:`TrainingDiverged` at a logging point with a NaN/Inf loss."""
        p, it = self.profile, self.it
        if it >= p.iterations:
            return False
        stop = self.should_stop is not None and self.should_stop(it)
        if self.dist is not None:  # a stop asked on any rank stops them all, here
            stop = self.dist.any(stop)
        if stop:
            self.status = "stopped"
            return False
        if self.used == self.drawn:
            self._draw_window()
        self.opt.set_lr(self.schedule.lr(it))
        loss = self.run_step()
        self.used += 1
        if self.first_step is None:  # with compile: the first step compiles (tens of seconds), kept out of the rate
            loss.item()
            self.first_step = (it, time.perf_counter())
        self.seen += p.batch_size
        self.it = it = it + 1
        self.bar.update(1)
        if it % p.log_every == 0 or it == p.iterations:
            self._log_point(it)
        if it % p.checkpoint_every == 0 and it < p.iterations:
            self.save_checkpoint(it)
        return True

    def _log_point(self, it: int) -> None:
        p, s = self.profile, self.step
        n_batches = max(1, round(self.seen / p.batch_size))
        if self.dist is None:
            loss_sum, wrong_sum = s.loss_sum.item(), s.wrong_sum.item()
        else:  # the whole batch's: every rank takes the same decisions from them
            loss_sum, wrong_sum = D.reduce_window(s.loss_sum, s.wrong_sum, self.dist)
        mean_loss, err = loss_sum / n_batches, wrong_sum / max(self.seen, 1)
        if not math.isfinite(mean_loss):
            self.bar.close()
            raise TrainingDiverged(f"{self.config.arch}: loss became {mean_loss} by iteration {it} "
                                   f"(lr {self.schedule.lr(it - 1)}); the run is marked failed")
        point = dict(iter=it, lr=self.schedule.lr(it - 1), loss=mean_loss, error=err)
        if self.probe is not None:
            point.update(self.probe(self.model))
        self.history["train"].append(point)
        # Sec. 4.2: back to lr 0.1 once the training error is below 80%, measured over the last `warmup_window`
        # iterations (one logging window is too noisy)
        if self.schedule.warming_up and self.schedule.observe(it, wrong_sum, self.seen):
            point["warmup_ended"] = True
        self.bar.set_postfix(loss=f"{mean_loss:.3f}", err=f"{err:.1%}")
        s.loss_sum.zero_(), s.wrong_sum.zero_()
        self.seen = 0
        if it % p.eval_every == 0 and it < p.iterations:
            point = {**point, **self.run_eval(it)}
        if self.on_log is not None:
            self.on_log(point)

    def finish(self) -> TrainResult:
        """After the last iteration (inside :meth:`on_stream`): the final checkpoint, the final evaluation on the
        full val and test sets (none for a stopped run that will resume), the result."""
        p, it, status, data, device, precision = self.profile, self.it, self.status, self.data, self.device, \
            self.precision
        self.bar.close()
        checkpoint_error = None
        if status == "completed" and self.start < p.iterations or status == "stopped" and it > self.start:
            try:  # the finished state is kept until the caller has written its record; a stopped
                self.save_checkpoint(it)
            except OSError as e:  # a full disk: the finished training stays in memory and its record is written first
                if status != "completed":
                    raise
                checkpoint_error = str(e)
                import warnings
                warnings.warn(f"{e}; the finished training is kept in memory and recorded without its final "
                              f"checkpoint", stacklevel=2)
        t_end = time.perf_counter()
        elapsed = self.elapsed + t_end - self.t0  # run resumes exactly where it stopped
        model = self.model
        if status == "stopped" and self.saves_checkpoints:  # no final evaluation of a run that will resume
            self.run_step = None
            metrics = dict(status=status, iterations=it, train_seconds=round(elapsed, 2))
            model = D.plain_bn(model)
            return TrainResult(model=model.cpu().to(memory_format=torch.contiguous_format), history=self.history,
                               metrics=metrics, device=device_name(device), extra=self.extra(it))

        # ---- final evaluation: the full val and test sets (a subset in the smoke profile) ------------------------
        from ..train import _subset
        fv, ft = _subset(len(data.val_y), p.final_eval_subset, 2), _subset(len(data.test_y), p.final_eval_subset, 3)
        mean = self.dd.mean
        self._sync_bn(it)
        final_val, _ = evaluate(model, data.val_x[fv].to(device), data.val_y[fv].to(device), mean,
                                precision=precision)
        final_test, final_test_loss = evaluate(model, data.test_x[ft].to(device), data.test_y[ft].to(device), mean,
                                               precision=precision)
        if status == "completed":
            self.history["eval"].append(dict(iter=it, val_error=final_val, test_error=final_test, final=True,
                                             images=len(ft)))
        last = self.history["train"][-1] if self.history["train"] else {}
        metrics = dict(status=status, iterations=it, final_train_error=last.get("error"),
                       final_train_loss=last.get("loss"), final_val_error=final_val, final_test_error=final_test,
                       final_test_loss=final_test_loss, train_seconds=round(elapsed, 2),
                       images_per_second=round(it * p.batch_size / max(elapsed, 1e-9), 1))
        if self.config.compiled and self.first_step is not None:  # the rate after the compiling first step
            metrics["compile_seconds"] = round(self.first_step[1] - self.t0, 2)
            metrics["images_per_second"] = round((it - self.first_step[0] - 1) * p.batch_size
                                                 / max(t_end - self.first_step[1], 1e-9), 1)
        self.run_step = None  # a graph's memory goes with it
        model = D.plain_bn(model)  # the config's own architecture (ghost or synchronised BN back to BatchNorm2d)
        return TrainResult(model=model.cpu().to(memory_format=torch.contiguous_format), history=self.history,
                           metrics=metrics, device=device_name(device), extra=self.extra(it),
                           checkpoint_error=checkpoint_error)

    def run(self) -> TrainResult:
        """Train this net alone, to the end (or the stop)."""
        with self.on_stream():
            self.begin()
            while self.advance():
                pass
            return self.finish()


def train_together(trainers: list[Trainer], on_done=None) -> list:
    """Train several nets in one process: one iteration of each in turn (each on its own CUDA stream, so their
    kernels overlap on a GPU), every net's events (logs, evaluations, checkpoints, stop) its own. Each net's run
    is bit-for-bit the run it would be alone. Returns each net's TrainResult, or the exception that ended it (a
    diverged net is marked failed; the others go on). ``on_done(i, result_or_exception)`` is called as each net
    ends. A KeyboardInterrupt ends all of them."""
    out: list = [None] * len(trainers)

    def done(i, value):
        out[i] = value
        if on_done is not None:
            on_done(i, value)
    live = []
    for i, t in enumerate(trainers):
        t.group_size = len(trainers)
        try:
            with t.on_stream():
                t.begin()
            live.append(i)
        except Exception as e:
            done(i, e)
    while live:
        for i in list(live):
            t = trainers[i]
            try:
                with t.on_stream():
                    if t.advance():
                        continue
                    value = t.finish()
            except Exception as e:
                with contextlib.suppress(Exception):
                    t.bar.close()
                value = e
            live.remove(i)
            done(i, value)
    return out
