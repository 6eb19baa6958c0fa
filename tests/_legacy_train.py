"""A frozen copy of ``resnet_lab.train.train`` as it was before the engine was split into parts (commit 7fabb9a,
issue 36 item 6): torch.optim.SGD, one batch drawn per iteration, host-side lr. tests/test_engine_parity.py trains
with it and with today's engine and asks for the same bits. Do not edit it: it is the reference."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from resnet_lab.atomic import atomic_torch_save
from resnet_lab.data import Cifar10, augment, augment_draws, normalize
from resnet_lab.profiles import Profile, get_profile, lr_at
from resnet_lab.train import (CorruptCheckpoint, ForeignCheckpoint, RunConfig, TrainingDiverged, TrainResult,
                              _autocast, _memory_format, _subset, checkpoint_problem, compiled_step_model,
                              device_name, evaluate, numerics, pick_device, resolve_precision, set_cuda_numerics)


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



def train(config: RunConfig, data: Cifar10, device: str | torch.device | None = None,
          checkpoint_path: str | os.PathLike | None = None, progress: bool = True,
          on_log: Callable[[dict], None] | None = None, should_stop: Callable[[int], bool] | None = None,
          profile: Profile | None = None, tag: str | None = None,
          probe: Callable[[torch.nn.Module], dict] | None = None) -> TrainResult:
    """Train ``config`` on ``data`` with the paper's recipe scaled by its profile.

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
    # ---- every hyperparameter, from the profile -------------------------------------------
    p = profile or get_profile(config.profile)
    device = pick_device(device)
    fmt = _memory_format(device)
    precision = resolve_precision(config.precision or p.precision, device)
    warmup = config.residual and config.depth >= p.warmup_from_depth

    # ---- data on the device ---------------------------------------------------------------
    tr = _subset(len(data.train_y), p.train_subset, seed=1)  # the same subset for every run of a profile
    train_x, train_y = data.train_x[tr].to(device), data.train_y[tr].to(device)
    ev = (_subset(len(data.val_y), p.eval_subset, 2), _subset(len(data.test_y), p.eval_subset, 3))
    val_x, val_y = data.val_x[ev[0]].to(device), data.val_y[ev[0]].to(device)
    test_x, test_y = data.test_x[ev[1]].to(device), data.test_y[ev[1]].to(device)
    mean = data.mean.to(device)

    # ---- model, optimiser, randomness -------------------------------------------------------
    torch.manual_seed(config.seed)
    model = config.build().to(device, memory_format=fmt)
    step_model = compiled_step_model(model, device) if config.compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    perm, pos, start, elapsed = torch.randperm(len(train_y), generator=gen), 0, 0, 0.0
    window = None
    segments: list[dict] = []  # the earlier processes of a resumed run: device, torch, first and last iteration
    history = {"train": [], "eval": []}
    windows: list[tuple[int, float, int]] = []  # (iteration, wrong, seen) per logging window, for the warm-up
    set_cuda_numerics(device, precision)

    ckpt = Path(checkpoint_path) if checkpoint_path else None
    if ckpt is not None and ckpt.exists():
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
        problem = checkpoint_problem(state, len(train_y))
        if problem:
            raise CorruptCheckpoint(f"checkpoint {ckpt} does not fit this run ({problem}); delete it to start the "
                                    f"run over", ckpt)
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            perm, pos, start = state["perm"], state["pos"], state["iteration"]
            history, warmup, elapsed = state["history"], state["warmup"], state["elapsed"]
            windows[:] = [tuple(w) for w in state.get("windows", [])]
            window = state.get("window")  # a stop between logging points: that window's sums so far
            # a checkpoint written before segments were kept says nothing of where its iterations ran, nor by how
            # many processes
            segments = list(state.get("segments") or [dict(device="not recorded", torch="not recorded", start=0,
                                                              end=start, processes="not recorded")])
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            why = " ".join(str(e).split())[:200]
            raise CorruptCheckpoint(f"checkpoint {ckpt} does not fit this run ({type(e).__name__}: {why}); "
                                    f"delete it to start the run over", ckpt) from e
        if not 0 <= start <= p.iterations:
            raise ForeignCheckpoint(f"checkpoint {ckpt} is at iteration {start}, past this run's "
                                    f"{p.iterations}; delete it to start this run over", ckpt)
    earlier = dict(resumed_at=start, earlier_seconds=round(elapsed, 2)) if start else {}

    def segments_to(iteration: int) -> list[dict]:
        """Every process's share of the run up to ``iteration``, this one's last: a run resumed on another
        device (a GPU's checkpoint finished on a CPU) says so in its record. A process that trained no iteration
        (it only wrote the record of a finished checkpoint) adds none."""
        if iteration == start and segments:
            return list(segments)
        return segments + [dict(device=device_name(device), torch=str(torch.__version__), start=start, end=iteration)]

    def extra(iteration: int) -> dict:
        """The result's provenance beyond metrics: numerics, and for a resumed run where it resumed, the earlier
        processes' seconds and every process's segment."""
        return dict(numerics=numerics(device, precision, config.compiled), **earlier,
                    **(dict(segments=segments_to(iteration)) if start else {}))

    def save_checkpoint(iteration: int):
        if ckpt is not None:
            atomic_torch_save(dict(tag=tag, model=model.state_dict(), optimizer=opt.state_dict(), generator=gen.get_state(),
                                   perm=perm, pos=pos, iteration=iteration, history=history, warmup=warmup,
                                   windows=windows, window=dict(loss=loss_sum.detach().cpu(),
                                                                wrong=wrong_sum.detach().cpu(), seen=seen),
                                   elapsed=elapsed + time.perf_counter() - t0, segments=segments_to(iteration)), ckpt)

    def run_eval(iteration: int):
        val_err, val_loss = evaluate(model, val_x, val_y, mean, precision=precision)
        test_err, test_loss = evaluate(model, test_x, test_y, mean, precision=precision)
        point = dict(iter=iteration, val_error=val_err, val_loss=val_loss, test_error=test_err, test_loss=test_loss)
        history["eval"].append(point)
        return point

    # ---- the loop ---------------------------------------------------------------------------
    from tqdm.auto import tqdm

    bar = tqdm(total=p.iterations, initial=start, disable=not progress, desc=f"{config.arch} [{p.name}]",
               unit="it", leave=False)
    loss_sum = torch.zeros((), device=device)
    wrong_sum = torch.zeros((), device=device)
    seen, status, t0 = 0, "completed", time.perf_counter()
    first_step = None if config.compiled else (start, t0)
    if window is not None:
        loss_sum, wrong_sum, seen = window["loss"].to(device), window["wrong"].to(device), int(window["seen"])
    model.train()
    it = start
    while it < p.iterations:
        if should_stop is not None and should_stop(it):
            status = "stopped"
            break
        if pos + p.batch_size > len(perm):
            perm, pos = torch.randperm(len(train_y), generator=gen), 0
        # the batch's indices and augmentation draws go to the device in one copy (on CUDA from pinned memory,
        # without waiting for the GPU); the CPU generator keeps runs the same on every device
        draws = torch.cat([perm[pos:pos + p.batch_size][None], augment_draws(p.batch_size, gen)])
        if device.type == "cuda":
            draws = draws.pin_memory()
        draws = draws.to(device, non_blocking=True)
        idx = draws[0]
        pos += p.batch_size
        xb = augment(normalize(train_x[idx], mean), draws=draws[1:]).contiguous(memory_format=fmt)
        yb = train_y[idx]
        for group in opt.param_groups:
            group["lr"] = lr_at(it, p, warmup)
        loss, out = sgd_step(step_model, opt, xb, yb, device, precision)
        if first_step is None:  # with compile: the first step compiles (tens of seconds), kept out of the rate
            loss.item()
            first_step = (it, time.perf_counter())
        loss_sum += loss.detach()
        wrong_sum += (out.argmax(1) != yb).sum()
        seen += len(yb)
        it += 1
        bar.update(1)
        if it % p.log_every == 0 or it == p.iterations:
            n_batches = max(1, round(seen / p.batch_size))
            mean_loss, err = loss_sum.item() / n_batches, wrong_sum.item() / max(seen, 1)
            if not math.isfinite(mean_loss):
                bar.close()
                raise TrainingDiverged(f"{config.arch}: loss became {mean_loss} by iteration {it} "
                                       f"(lr {lr_at(it - 1, p, warmup)}); the run is marked failed")
            point = dict(iter=it, lr=lr_at(it - 1, p, warmup), loss=mean_loss, error=err)
            if probe is not None:
                point.update(probe(model))
            history["train"].append(point)
            if warmup:  # Sec. 4.2: back to lr 0.1 once the training error is below 80%,
                # measured over the last `warmup_window` iterations (one logging window is too noisy)
                windows.append((it, wrong_sum.item(), seen))
                recent = [w for w in windows if w[0] > it - p.warmup_window]
                if it >= p.warmup_window and sum(w[1] for w in recent) / sum(w[2] for w in recent) < p.warmup_until_error:
                    warmup = False
                    point["warmup_ended"] = True
            bar.set_postfix(loss=f"{mean_loss:.3f}", err=f"{err:.1%}")
            loss_sum.zero_(), wrong_sum.zero_()
            seen = 0
            if it % p.eval_every == 0 and it < p.iterations:
                point = {**point, **run_eval(it)}
            if on_log is not None:
                on_log(point)
        if it % p.checkpoint_every == 0 and it < p.iterations:
            save_checkpoint(it)
    bar.close()
    checkpoint_error = None
    if status == "completed" and start < p.iterations or status == "stopped" and it > start:
        try:  # the finished state is kept until the caller has written its record; a stopped
            save_checkpoint(it)
        except OSError as e:  # a full disk: the finished training stays in memory and its record is written first
            if status != "completed":
                raise
            checkpoint_error = str(e)
            import warnings
            warnings.warn(f"{e}; the finished training is kept in memory and recorded without its final "
                          f"checkpoint", stacklevel=2)
    t_end = time.perf_counter()
    elapsed += t_end - t0  # run resumes exactly where it stopped
    if status == "stopped" and ckpt is not None:  # no final evaluation of a run that will resume
        metrics = dict(status=status, iterations=it, train_seconds=round(elapsed, 2))
        return TrainResult(model=model.cpu().to(memory_format=torch.contiguous_format), history=history,
                           metrics=metrics, device=device_name(device), extra=extra(it))

    # ---- final evaluation: the full val and test sets (a subset in the smoke profile) ------------------------------------------------
    fv, ft = _subset(len(data.val_y), p.final_eval_subset, 2), _subset(len(data.test_y), p.final_eval_subset, 3)
    final_val, _ = evaluate(model, data.val_x[fv].to(device), data.val_y[fv].to(device), mean, precision=precision)
    final_test, final_test_loss = evaluate(model, data.test_x[ft].to(device), data.test_y[ft].to(device), mean,
                                           precision=precision)
    if status == "completed":
        history["eval"].append(dict(iter=it, val_error=final_val, test_error=final_test, final=True,
                                    images=len(ft)))
    last = history["train"][-1] if history["train"] else {}
    metrics = dict(status=status, iterations=it, final_train_error=last.get("error"),
                   final_train_loss=last.get("loss"), final_val_error=final_val, final_test_error=final_test,
                   final_test_loss=final_test_loss, train_seconds=round(elapsed, 2),
                   images_per_second=round(it * p.batch_size / max(elapsed, 1e-9), 1))
    if config.compiled and first_step is not None:  # the rate after the compiling first step, in this process
        metrics["compile_seconds"] = round(first_step[1] - t0, 2)
        metrics["images_per_second"] = round((it - first_step[0] - 1) * p.batch_size
                                             / max(t_end - first_step[1], 1e-9), 1)
    return TrainResult(model=model.cpu().to(memory_format=torch.contiguous_format), history=history,
                       metrics=metrics, device=device_name(device), extra=extra(it), checkpoint_error=checkpoint_error)
