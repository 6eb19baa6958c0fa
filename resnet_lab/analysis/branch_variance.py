"""Residual branch against skip path at initialisation (De & Smith 2020).

De & Smith, "Batch Normalization Biases Residual Blocks Towards the Identity Function in Deep Networks"
(NeurIPS 2020): in a residual net whose branches end in BN, every branch F(x) has variance ~1 at
initialisation (BN on batch statistics makes it so), while the skip path carries the sum of everything before
it, so its variance grows ~linearly with the number of blocks before it; the branch/skip variance ratio then
falls like ~1/l and each block starts close to the identity. Without BN (same He init) both grow ~2x per
block and the ratio does not fall.

* :func:`block_variances` -- per residual block: variance of the block input, of the branch F(x), of the
  skip path (the shortcut's output), of the block output; their ratio; the +1-per-block prediction.
* :func:`without_bn` -- the same net with every BN replaced by the identity (the control).

Variances are per channel, over images and positions, then averaged over the channels (the quantity BN
normalises). Option A's shortcut at a stage boundary subsamples (per-channel variance roughly kept) and
zero-pads the new channels (variance 0): the skip variance averaged over the channels halves there.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data import normalize
from ..models import PadShortcut, Response


def without_bn(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``BatchNorm2d`` replaced by ``nn.Identity`` (all other weights kept)."""
    model = copy.deepcopy(model)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    for n in names:
        parent, _, child = n.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    return model


def residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's residual blocks (a ``residual`` flag and a ``shortcut`` module) in forward order."""
    return [(n, m) for n, m in model.named_modules()
            if getattr(m, "residual", False) and isinstance(getattr(m, "shortcut", None), nn.Module)]


class _ChannelVar:
    """Running per-channel sums (double) of a [N, C, H, W] tensor; ``value()`` is the channel-mean variance."""

    def __init__(self):
        self.s = self.ss = None
        self.n = 0

    def add(self, t: torch.Tensor) -> None:
        t = t.detach().double()
        s, ss = t.sum((0, 2, 3)), (t * t).sum((0, 2, 3))
        self.s = s if self.s is None else self.s + s
        self.ss = ss if self.ss is None else self.ss + ss
        self.n += t.numel() // t.shape[1]

    def value(self) -> float:
        mu = self.s / self.n
        return float((self.ss / self.n - mu * mu).clamp_min(0).mean())


def block_variances(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, bn_mode: str = "train",
                    batch_size: int | None = None) -> pd.DataFrame:
    """One row per residual block, in forward order.

    ``x``: uint8 images. ``bn_mode='train'``: BN normalises with the statistics of the batch (all of ``x`` at
    once unless ``batch_size`` is given), as at the first step of training; running statistics are left as
    they are. ``'eval'`` uses the running statistics (a trained net).

    Columns: block (1-based), name, stage, boundary (the shortcut subsamples / zero-pads: option A at a stage
    start), in_var (block input), branch_var (F(x), after the branch's last BN), skip_var (the shortcut's
    output), out_var (after the addition and the ReLU), var_ratio = branch_var / skip_var, std_ratio (its
    square root), pred_skip_var (the +1-per-block model: the skip variance of block l is the previous block's
    skip variance plus its branch variance, halved where option A zero-pads half of the channels; it starts
    from the measured input variance of block 1 and ignores the ReLU after the addition) and pred_ratio =
    branch_var / pred_skip_var.
    """
    if bn_mode not in ("eval", "train"):
        raise ValueError(f"bn_mode must be 'eval' or 'train'; got {bn_mode!r}")
    model = copy.deepcopy(model).float().train(bn_mode == "train")
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.0  # running statistics stay as they are
    blocks = residual_blocks(model)
    if not blocks:
        raise ValueError("the model has no residual blocks (a plain net?)")
    acc = {n: {k: _ChannelVar() for k in ("in", "branch", "skip", "out")} for n, _ in blocks}
    hooks = []
    for n, blk in blocks:
        taps = [m for m in blk.children() if isinstance(m, Response)]
        if not taps:
            raise ValueError(f"block {n} has no Response tap on its branch")
        a = acc[n]
        hooks.append(blk.register_forward_pre_hook(lambda m, args, a=a: a["in"].add(args[0])))
        hooks.append(taps[-1].register_forward_hook(lambda m, args, o, a=a: a["branch"].add(o)))
        hooks.append(blk.shortcut.register_forward_hook(lambda m, args, o, a=a: a["skip"].add(o)))
        hooks.append(blk.register_forward_hook(lambda m, args, o, a=a: a["out"].add(o)))
    device = next(model.parameters()).device
    mean = mean.to(device)
    bs = batch_size or len(x)
    try:
        with torch.no_grad():
            for i in range(0, len(x), bs):
                model(normalize(x[i:i + bs].to(device), mean))
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for k, (n, blk) in enumerate(blocks, start=1):
        a = acc[n]
        rows.append(dict(block=k, name=n, stage=n.split(".")[0],
                         boundary=not isinstance(blk.shortcut, nn.Identity),
                         in_var=a["in"].value(), branch_var=a["branch"].value(), skip_var=a["skip"].value(),
                         out_var=a["out"].value()))
    frame = pd.DataFrame(rows)
    frame["var_ratio"] = frame.branch_var / frame.skip_var
    frame["std_ratio"] = np.sqrt(frame.var_ratio)
    frame["pred_skip_var"] = predicted_skip_var(frame.in_var.iloc[0], frame.branch_var.to_numpy(),
                                                frame.boundary.to_numpy(), zero_pad=_pad_fractions(blocks))
    frame["pred_ratio"] = frame.branch_var / frame.pred_skip_var
    return frame


def _pad_fractions(blocks) -> list[float]:
    """Per block, the fraction of the shortcut's output channels that are real (not zero padding)."""
    out = []
    for _, blk in blocks:
        s = blk.shortcut
        out.append(s.cin / s.cout if isinstance(s, PadShortcut) else 1.0)
    return out


def predicted_skip_var(first_in_var: float, branch_var, boundary, zero_pad=None) -> np.ndarray:
    """De & Smith's recursion for a normalised residual net, Var(x_{l+1}) = Var(x_l) + Var(F_l), with option
    A's zero padding: where a block's shortcut keeps a fraction p of real channels, the channel-mean skip
    variance is p times what arrives. Block 1's skip variance is ``first_in_var`` (times its p)."""
    branch_var = np.asarray(branch_var, dtype=float)
    p = np.ones(len(branch_var)) if zero_pad is None else np.asarray(zero_pad, dtype=float)
    pred, arriving = [], float(first_in_var)
    for b, frac in zip(branch_var, p):
        skip = arriving * frac
        pred.append(skip)
        arriving = skip + b
    return np.asarray(pred)


def growth_per_block(frame: pd.DataFrame, column: str = "skip_var") -> float:
    """Median factor by which ``column`` grows from one block to the next, over pairs inside a stage (the
    stage boundaries, where option A halves the channel-mean variance, are left out)."""
    v, b = frame[column].to_numpy(), frame.boundary.to_numpy()
    f = [v[i + 1] / v[i] for i in range(len(v) - 1) if not b[i + 1] and v[i] > 0]
    return float(np.median(f)) if f else float("nan")


def slope_per_block(frame: pd.DataFrame, column: str = "skip_var") -> float:
    """Median increase of ``column`` from one block to the next inside a stage (the +1-per-block model
    predicts the branch variance, 1 with BN)."""
    v, b = frame[column].to_numpy(), frame.boundary.to_numpy()
    d = [v[i + 1] - v[i] for i in range(len(v) - 1) if not b[i + 1]]
    return float(np.median(d)) if d else float("nan")
