"""The lr-0.1 question, measured: do nets collapse in their first iterations at the paper's lr 0.1?

Sec. 4.2 trains ResNet-20...56 at lr 0.1 from the first step and warms only ResNet-110 up (lr 0.01 until the
training error is below 80%), because "0.1 is slightly too large to start converging". This study trains
each net for a few hundred iterations at a constant lr 0.1 (the engine and recipe of the ``cpu`` profile,
no lr drop) from several seeds, and records at every logged point the training loss and error and the
fraction of *dead* ReLU units per stage: channels whose ReLU output is zero for every position of every
image of a fixed probe batch (BN in training mode, as during training). A net has *collapsed* when its
training error over the last 50 iterations is still above 80% (chance is 90%).

Each (net, seed) is one JSON record under ``runs/studies/lr0.1/``, written atomically with its provenance,
so the study resumes where it stopped and the book only reads it.
"""
from __future__ import annotations

import datetime as _dt
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write_json
from ..data import normalize
from ..models import PreActBlock
from ..profiles import get_profile
from ..train import RunConfig, device_name, numerics, pick_device, resolve_precision, train

STUDY = "lr0.1"
NETS = ("resnet20", "resnet56", "plain56", "resnet110", "resnet110+warmup")  # chapter 3
VARIANT_NETS = ("resnet56+preact", "resnet56+final_bn")  # chapter 7: the pre-activation twin of ResNet-56 (He
# et al. 2016), and the original ResNet-56 with only the pre-activation net's final BN-ReLU (the control)
TAGS = ("warmup", "preact", "final_bn")
SEEDS = (0, 1, 2, 3, 4)
ITERATIONS = 300
COLLAPSE_ERROR = 0.80  # training error over the last 50 iterations above this: collapsed
PROBE_IMAGES = 256


def study_profile(iterations: int = ITERATIONS, warmup: bool = False):
    """The cpu profile's recipe at a constant lr 0.1 for ``iterations`` (warm-up only where asked)."""
    return replace(get_profile("cpu"), name=f"{STUDY}-study", iterations=iterations,
                   milestones=(10 ** 9, 10 ** 9), eval_every=10 ** 9, eval_subset=500, log_every=10,
                   checkpoint_every=10 ** 9, final_eval_subset=1000, save_weights=False,
                   warmup_from_depth=0 if warmup else 10 ** 9)


def dead_units(model: nn.Module, x: torch.Tensor) -> dict:
    """Fraction of dead ReLU channels per stage on the batch ``x`` (normalised), BN in training mode.

    Counts every ReLU of each block: in an original block the one inside (after its first conv's BN) and the one
    at its output; in a pre-activation block the two in front of its convs (after BN1 and after BN2), its output
    having no ReLU. The model's buffers (BN running statistics) are restored, so training is not disturbed.
    """
    saved = {k: v.clone() for k, v in model.named_buffers()}
    was = model.training
    model.train()
    maxima: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for stage in ("stage1", "stage2", "stage3"):
        for block in getattr(model, stage):
            def keep(_m, _a, out, stage=stage):
                maxima.setdefault(stage, []).append(out.detach().amax(dim=(0, 2, 3)))
            if isinstance(block, PreActBlock):
                hooks.append(block.bn1.register_forward_hook(keep))  # before the ReLU in front of conv1
            else:
                hooks.append(block.register_forward_hook(keep))  # block output: after its ReLU
            inner = getattr(block, "response1", None)
            if inner is not None:
                hooks.append(inner.register_forward_hook(keep))  # before the inner ReLU: dead if <= 0
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
        with torch.no_grad():
            for k, v in model.named_buffers():
                v.copy_(saved[k])
    return {f"dead_{stage}": float(torch.cat(m).le(0).float().mean()) for stage, m in maxima.items()}


def probe_images(data) -> torch.Tensor:
    """The study's fixed probe batch: ``PROBE_IMAGES`` training images (uint8), the same for every net and seed."""
    idx = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(99))[:PROBE_IMAGES]
    return data.train_x[idx]


def parse(net: str) -> tuple[str, bool, str]:
    """A study net's (arch, warm-up, block variant): 'resnet110+warmup' -> ('resnet110', True, 'basic'),
    'resnet56+preact' -> ('resnet56', False, 'preact'), 'resnet56+final_bn' -> ('resnet56', False, 'final_bn')."""
    arch, *tags = net.split("+")
    unknown = set(tags) - set(TAGS)
    if unknown:
        raise ValueError(f"unknown study net {net!r}: tag(s) {', '.join(sorted(unknown))} (allowed: "
                         f"{', '.join(TAGS)})")
    variants = [t for t in tags if t != "warmup"]
    if len(variants) > 1:
        raise ValueError(f"unknown study net {net!r}: one block variant at most (got {', '.join(variants)})")
    return arch, "warmup" in tags, variants[0] if variants else "basic"


def study_root(store_root: Path) -> Path:
    return Path(store_root) / "studies" / STUDY


def record_path(store_root: Path, net: str, seed: int) -> Path:
    return study_root(store_root) / f"{net.replace('+', '-')}-s{seed}.json"


def run_one(net: str, seed: int, data, store_root: Path, iterations: int = ITERATIONS, device=None,
            progress: bool = True) -> dict:
    """Train ``net`` ('resnet110+warmup' = with the paper's warm-up) from ``seed`` at lr 0.1; record and return."""
    f = record_path(store_root, net, seed)
    if f.exists():  # recorded: read back -- if it is this study's run (the file is named by net and seed only)
        rec = json.loads(f.read_text())
        have = (rec.get("iterations"), rec.get("provenance", {}).get("data_fingerprint"))
        if have != (iterations, data.fingerprint):
            raise ValueError(f"{f} holds {net} seed {seed} trained for {have[0]} iterations on data {have[1]}, not "
                             f"{iterations} on {data.fingerprint}: move it aside (it is kept) or use another --runs")
        return rec
    arch, warm, variant = parse(net)
    device = pick_device(device)
    profile = study_profile(iterations, warm)
    cfg = RunConfig(arch, profile="cpu", seed=seed, data_source=data.source, variant=variant)
    fmt = torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format
    probe_x = normalize(probe_images(data).to(device), data.mean.to(device)).contiguous(memory_format=fmt)
    t0 = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    result = train(cfg, data, device=device, progress=progress, profile=profile,
                   probe=lambda m: dead_units(m, probe_x))
    from ..runs import git_commit
    precision = resolve_precision(profile.precision, device)
    out = dict(study=STUDY, net=net, arch=arch, warmup=warm, variant=variant, seed=seed, iterations=iterations,
               lr=profile.lr,
               history=result.history["train"], final_test_error=result.metrics["final_test_error"],
               provenance=dict(started=started, commit=git_commit(), torch=torch.__version__,
                               python=platform.python_version(), device=device_name(device),
                               numerics=numerics(device, precision), threads=torch.get_num_threads(),
                               data=data.describe(),
                               data_fingerprint=data.fingerprint, wall_seconds=round(time.perf_counter() - t0, 1)))
    atomic_write_json(f, out)
    return out


def plan(nets=NETS, seeds=SEEDS) -> list[tuple[str, int]]:
    """Seed-major order: every net gets its first seeds before any net gets its last."""
    return [(n, s) for s in seeds for n in nets]


def load(store_root: Path) -> list[dict]:
    root = study_root(store_root)
    return [json.loads(p.read_text()) for p in sorted(root.glob("*.json"))] if root.is_dir() else []


def summary(records: list[dict]) -> pd.DataFrame:
    """One row per (net, seed): peak loss in the first 100 iterations, error over the last 50, collapsed or not,
    peak and final dead fraction of stage 3."""
    rows = []
    for r in records:
        h = pd.DataFrame(r["history"])
        last = h[h["iter"] > r["iterations"] - 50]
        early = h[h["iter"] <= 100]
        dead = h["dead_stage3"] if "dead_stage3" in h else pd.Series([float("nan")])
        rows.append(dict(net=r["net"], seed=r["seed"], peak_loss_first_100=float(early["loss"].max()),
                         train_error_last_50=float(last["error"].mean()),
                         collapsed=bool(last["error"].mean() > COLLAPSE_ERROR),
                         dead_stage3_peak=float(dead.max()), dead_stage3_final=float(dead.iloc[-1])))
    return pd.DataFrame(rows)


def label(net: str) -> str:
    """A study net for the reader: 'resnet110+warmup' -> 'resnet110 with warm-up', 'resnet56+preact' ->
    'pre-activation resnet56', 'resnet56+final_bn' -> 'resnet56 with a final BN-ReLU'."""
    arch, warm, variant = parse(net)
    return (("pre-activation " if variant == "preact" else "") + arch + (" with warm-up" if warm else "")
            + (" with a final BN-ReLU" if variant == "final_bn" else ""))


def by_net(records: list[dict]) -> pd.DataFrame:
    """Per net: seeds run, how many collapsed, mean error over the last 50 iterations, peak dead fraction."""
    s = summary(records)
    if s.empty:
        return s
    g = s.groupby("net", sort=False)
    return pd.DataFrame({"seeds": g.size(), "collapsed": g["collapsed"].sum().astype(int),
                         "train error, last 50 it (mean)": g["train_error_last_50"].mean(),
                         "peak loss, first 100 it (max)": g["peak_loss_first_100"].max(),
                         "dead stage-3 units, peak (max)": g["dead_stage3_peak"].max()})


def main(argv=None) -> int:
    """``python -m resnet_lab.analysis.lr_study [--nets ...] [--seeds ...]``: run what is not recorded yet."""
    import argparse

    from ..data import load_cifar10
    from ..runs import default_root

    ap = argparse.ArgumentParser(prog="python -m resnet_lab.analysis.lr_study", description=__doc__.split("\n")[0])
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS + VARIANT_NETS),
                    help=f"default: chapter 3's nets; {', '.join(VARIANT_NETS)} is chapter 7's")
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--iterations", type=int, default=ITERATIONS)
    ap.add_argument("--runs", default=None, help="run store (default: $RESNET_LAB_RUNS or ./runs)")
    a = ap.parse_args(argv)
    if a.iterations < 50:
        ap.error("--iterations must be at least 50 (the collapse test reads the last 50)")
    data = load_cifar10()
    root = Path(a.runs) if a.runs else default_root()
    for net, seed in plan(a.nets, a.seeds):
        r = run_one(net, seed, data, root, a.iterations)
        print(f"{net} s{seed}: train error last 50 it {summary([r]).train_error_last_50.iloc[0]:.1%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
