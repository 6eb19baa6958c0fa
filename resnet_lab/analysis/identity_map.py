"""Can a plain stack learn the identity? Stacks of 3x3 conv-BN-ReLU layers trained to reproduce their input.

The paper's argument for residual learning (Sec. 1 and 3.1): a deeper net could copy a shallower one and make its
extra layers identity mappings, so it should never be worse -- yet deep plain nets are worse, so "solvers might have
difficulties in approximating identity mappings by multiple nonlinear layers". This module tests that sentence
directly, away from CIFAR-10 and classification: each net is trained to output its own input (target = input, MSE).

* **The nets.** ``depth`` 3x3 conv layers of ``channels`` channels, built from the book's own
  :class:`~resnet_lab.models.blocks.BasicBlock`: ``depth // 2`` blocks. The *residual* stack is the paper's basic
  block, y = ReLU(x + BN(W2 ReLU(BN(W1 x)))); the *plain* stack is the same blocks with ``residual=False``, i.e.
  ``depth`` conv-BN-ReLU layers, with the same initial weights (one seed builds both). He init, BN gamma 1.
* **The inputs.** Random maps ReLU(N(0, 1)) of ``channels x size x size``, fresh ones at every step: non-negative
  like every block's input in the paper's nets (each block ends in a ReLU), so the final ReLU of both stacks is no
  obstacle and the identity is *exactly* representable by both -- plain: centre-tap kernels and each BN (at test
  time a fixed affine map) undoing its own normalisation (:func:`identity_weights`); residual: a zero branch
  (:func:`zero_branches`).
  Random inputs rather than image crops because images are smooth: a net that blurs would reproduce them well
  without being the identity; noise has no such shortcut, and needs no data set.
* **The measure.** The relative error ``mean((f(x) - x)^2) / mean(x^2)`` on ``eval_samples`` held-out maps, with BN
  in eval mode after its running statistics are re-estimated from ``recal_batches`` fresh batches (the net as it
  would be tested, with statistics of its final weights). 0 is the identity; ``1 - 1/pi`` (:data:`CONSTANT_ERROR`,
  0.68) is the best *constant* output (the mean pixel); 1 is an all-zero output.
* **The control.** The same nets untrained (the same re-estimation of BN statistics, no step taken).
* **The training.** ``steps`` Adam steps (lr 0.01, / 10 for the last quarter) on batches of ``batch`` fresh maps,
  BN in training mode -- the same for every depth and both arms. Small enough for the whole study (5 depths x 2
  arms x 3 seeds) to take well under a minute on one CPU thread. Adam rather than the paper's SGD: in trials on
  one seed, SGD with momentum at lr 0.01 barely moved in this budget and at lr 0.05-0.1 the deep residual stacks
  collapsed to an all-zero output (the dead ReLUs of chapter 3's lr-0.1 study); the plain stacks ended near the
  constant level under every optimiser tried.

Everything is deterministic given the settings, the seeds and the number of CPU threads (the record keeps it). :func:`run_study` returns a plain dict (JSON-ready); :func:`load` / :func:`save` cache it under
``runs/studies/identity_map/`` keyed by a hash of the settings.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..models.blocks import BasicBlock, he_init

STUDY = "identity_map"
VERSION = 1  # bump when the protocol changes: the cache key changes with it
ARMS = ("plain", "residual")
CONSTANT_ERROR = 1 - 1 / math.pi  # relative error of the best constant output for ReLU(N(0,1)) inputs


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the result (the cache key hashes all of it)."""
    depths: tuple = (2, 4, 8, 16, 32)  # 3x3 conv layers; even (two per block)
    seeds: tuple = (0, 1, 2)
    channels: int = 16
    size: int = 8  # maps are size x size
    steps: int = 100
    batch: int = 8
    lr: float = 0.01
    lr_drop_at: float = 0.75  # lr / 10 for the last quarter of the steps
    optimizer: str = "adam"
    eval_samples: int = 256
    recal_batches: int = 8
    example_channels: int = 4  # of the first held-out map of the first seed, kept (input and outputs) for figures
    version: int = VERSION

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict) -> "Settings":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


DEFAULT = Settings()
SMALL = Settings(depths=(2, 4), seeds=(0, 1, 2), steps=12, batch=4, eval_samples=32, recal_batches=2)  # tests


# ------------------------------------------------------------------------------------------------------ models

def stack(depth: int, residual: bool, channels: int = 16, seed: int | None = None) -> nn.Sequential:
    """``depth`` 3x3 conv layers as ``depth // 2`` :class:`BasicBlock` s (He init): with ``residual`` the paper's
    basic blocks (identity shortcuts), else their plain twins (conv-BN-ReLU x ``depth``). ``seed`` fixes the
    initial weights; the same seed gives the plain and the residual stack the same weights."""
    if depth < 2 or depth % 2:
        raise ValueError(f"depth must be an even number of layers >= 2 (two per block), not {depth}")
    if seed is not None:
        torch.manual_seed(seed)
    return he_init(nn.Sequential(*[BasicBlock(channels, channels, residual=residual) for _ in range(depth // 2)]))


def zero_branches(net: nn.Sequential) -> nn.Sequential:
    """Set the last BN of every block to gamma = beta = 0 (its branch outputs zero): a residual stack then computes
    the identity on non-negative inputs, exactly; a plain one outputs zeros. In place; returns ``net``."""
    with torch.no_grad():
        for block in net:
            block.bn2.weight.zero_()
            block.bn2.bias.zero_()
    return net


def identity_weights(net: nn.Sequential) -> nn.Sequential:
    """Weights with which a *plain* stack in eval mode computes the identity on non-negative inputs (up to float
    rounding): every conv the centre-tap identity kernel, every BN a fixed affine map that undoes its own
    normalisation (running statistics 0 and 1, gamma = sqrt(1 + eps), beta = 0), every ReLU passes its
    non-negative input. The constructive proof that the plain stack *can* be the identity. In place; returns
    ``net`` in eval mode."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.zero_()
                c = m.weight.shape[-1] // 2
                for i in range(min(m.in_channels, m.out_channels)):
                    m.weight[i, i, c, c] = 1.0
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                m.weight.fill_(math.sqrt(1.0 + m.eps))
                m.bias.zero_()
    return net.eval()


# ------------------------------------------------------------------------------------------------------ data

def inputs(n: int, channels: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random maps ReLU(N(0, 1)) of ``channels x size x size``: non-negative, like a block's input."""
    return torch.randn(n, channels, size, size, generator=generator).relu()


def _generator(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(hashlib.sha256(repr(parts).encode()).hexdigest()[:12], 16))


# ------------------------------------------------------------------------------------------------------ measure

def relative_error(out: torch.Tensor, x: torch.Tensor) -> float:
    """mean((out - x)^2) / mean(x^2): 0 for the identity, 1 for an all-zero output."""
    return float(((out - x) ** 2).mean() / (x ** 2).mean())


def recalibrate(net: nn.Module, s: Settings, generator: torch.Generator) -> nn.Module:
    """Re-estimate every BN's running statistics as the plain average over ``s.recal_batches`` fresh batches (with
    the current weights), then switch to eval mode. In place; returns ``net``."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [b.momentum for b in bns]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative average
    net.train()
    with torch.no_grad():
        for _ in range(s.recal_batches):
            net(inputs(s.batch, s.channels, s.size, generator))
    for b, m in zip(bns, momenta):
        b.momentum = m
    return net.eval()


def held_out(s: Settings, seed: int) -> torch.Tensor:
    """The held-out maps :func:`evaluate` uses for ``seed`` (the same for every depth and arm)."""
    return inputs(s.eval_samples, s.channels, s.size, _generator(seed, 3))


def example(t: torch.Tensor, s: Settings) -> list:
    """The first map's first ``s.example_channels`` channels, rounded, as nested lists (for the JSON record)."""
    return [[[round(float(v), 4) for v in row] for row in ch] for ch in t[0, :s.example_channels]]


def evaluate(net: nn.Module, s: Settings, seed: int, depth: int) -> tuple[float, torch.Tensor]:
    """(relative error on the held-out maps, the outputs), BN in eval mode with statistics re-estimated on fresh
    batches."""
    recalibrate(net, s, _generator(seed, depth, 2))
    x = held_out(s, seed)
    with torch.no_grad():
        out = net(x)
    return relative_error(out, x), out


# ------------------------------------------------------------------------------------------------------ train

def train(net: nn.Module, s: Settings, generator: torch.Generator) -> list[float]:
    """``s.steps`` steps on fresh batches, loss = MSE(net(x), x), BN in training mode; lr / 10 after
    ``s.lr_drop_at`` of the steps. Returns the relative training error of every step."""
    params = list(net.parameters())
    if s.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=s.lr)
    elif s.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=s.lr, momentum=0.9)
    else:
        raise ValueError(f"unknown optimizer {s.optimizer!r} (adam or sgd)")
    drop = int(round(s.lr_drop_at * s.steps))
    net.train()
    curve = []
    for step in range(s.steps):
        if step == drop:
            for g in opt.param_groups:
                g["lr"] = s.lr / 10
        x = inputs(s.batch, s.channels, s.size, generator)
        out = net(x)
        loss = ((out - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        curve.append(float(loss.detach() / (x ** 2).mean()))
    return curve


def run_one(depth: int, residual: bool, seed: int, s: Settings) -> dict:
    """One net: its untrained and trained relative error, its training curve, and the outputs for the examples."""
    net = stack(depth, residual, s.channels, seed=seed)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    untrained, untrained_out = evaluate(net, s, seed, depth)
    net.load_state_dict(state)
    curve = train(net, s, _generator(seed, depth, 1))
    trained, trained_out = evaluate(net, s, seed, depth)
    rec = dict(depth=depth, arm="residual" if residual else "plain", seed=seed, untrained=untrained, trained=trained,
               curve=[round(c, 6) for c in curve])
    if seed == s.seeds[0]:
        rec.update(untrained_example=example(untrained_out, s), trained_example=example(trained_out, s))
    return rec


def run_study(s: Settings = DEFAULT, progress=None) -> dict:
    """Every depth, both arms, every seed (:data:`DEFAULT` on one CPU thread of a busy 2-core machine: 25 to 45 s,
    of which about 6 s are torch.optim's first import of torch._dynamo). Returns the JSON-ready result: settings, ``records`` (one per net), the held-out examples,
    provenance (commit, torch, Python, threads, wall time)."""
    t0 = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    records = []
    for seed in s.seeds:
        for depth in s.depths:
            for residual in (False, True):
                records.append(run_one(depth, residual, seed, s))
                if progress:
                    progress(records[-1])
    from ..runs import git_commit
    return dict(study=STUDY, key=s.key(), settings=s.to_json(), constant_error=CONSTANT_ERROR, records=records,
                example=example(held_out(s, s.seeds[0]), s),
                provenance=dict(started=started, commit=git_commit(), torch=torch.__version__,
                                python=platform.python_version(), threads=torch.get_num_threads(),
                                device="cpu", wall_seconds=round(time.perf_counter() - t0, 1)))


# ------------------------------------------------------------------------------------------------------ cache

def study_root(store_root: Path) -> Path:
    return Path(store_root) / "studies" / STUDY


def record_path(store_root: Path, s: Settings = DEFAULT) -> Path:
    return study_root(store_root) / f"{s.key()}.json"


REQUIRED = ("study", "key", "settings", "records", "example", "provenance")


def load(store_root: Path, s: Settings = DEFAULT) -> dict | None:
    """The cached result of ``s`` under ``store_root``, else None (also for a file of the wrong shape or key)."""
    f = record_path(store_root, s)
    if not f.is_file():
        return None
    try:
        d = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(d, dict) or any(k not in d for k in REQUIRED) or d["key"] != s.key():
        return None
    if Settings.from_json(d["settings"]) != s:
        return None
    return d


def save(result: dict, store_root: Path) -> Path:
    """Write ``result`` atomically to its place under ``store_root``; returns the path."""
    from ..atomic import atomic_write_json
    s = Settings.from_json(result["settings"])
    f = record_path(store_root, s)
    atomic_write_json(f, result)
    return f


def main(argv=None) -> int:
    """``python -m resnet_lab.analysis.identity_map [--runs DIR] [--force]``: compute and cache the default study."""
    import argparse
    from ..runs import RunStore
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=None, help="run store (default: $RESNET_LAB_RUNS or runs/)")
    ap.add_argument("--force", action="store_true", help="compute again even if cached")
    a = ap.parse_args(argv)
    root = RunStore(a.runs).root
    if not a.force and load(root, DEFAULT) is not None:
        print(f"cached: {record_path(root, DEFAULT)}")
        return 0
    r = run_study(DEFAULT, progress=lambda rec: print(f"{rec['arm']:>8} depth {rec['depth']:2d} seed {rec['seed']}: "
                                                      f"{rec['untrained']:.3f} -> {rec['trained']:.4f}", flush=True))
    print(f"wrote {save(r, root)} ({r['provenance']['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
