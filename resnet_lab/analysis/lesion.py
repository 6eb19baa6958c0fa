"""Lesion study of trained nets (Veit, Wilber, Belongie 2016, "Residual Networks Behave Like Ensembles of
Relatively Shallow Networks"): delete blocks at test time and measure the test error.

**What "deleting a block" means here.** This codebase's block (Fig. 2 of the paper) computes
``y = ReLU(F(x) + s(x))``, the ReLU *after* the addition; ``s`` is the identity, or, in the two downsampling
blocks of an option-A net, "take every second pixel and zero-pad the new channels" (no parameters). Deleting a
block removes ``F`` and keeps the rest: ``y = ReLU(s(x))``. Every block's input is the output of a ReLU
(the stem's or the previous block's), so ``x >= 0`` and ``s(x) >= 0``, and the ReLU does nothing: the deleted
block passes its input through unchanged (subsampled and zero-padded in a downsampling block). That is exactly
Veit et al.'s ``y_i = y_{i-1}``. A pre-activation block (no ReLU after the addition) becomes ``y = s(x)``.

**The plain control.** A plain block ``y = ReLU(F(x))`` has no shortcut; deleting it means putting the
identity in its place, ``y = x`` (again ``= ReLU(x)``, since ``x >= 0``). That is only possible where input and
output have the same shape, so the plain net's two downsampling blocks are never deleted; and the random
multi-block deletions of both nets draw from the same-shape blocks only, so a ResNet and its plain twin are
lesioned at the same positions.

BN is in eval mode throughout (running statistics of the trained net, untouched); nothing is retrained.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..data import normalize
from ..models import BasicBlock, Bottleneck, OneLayerBlock, PreActBlock

BLOCK_TYPES = (BasicBlock, OneLayerBlock, PreActBlock, Bottleneck)


class Deleted(nn.Module):
    """A deleted block: ``ReLU(s(x))`` of a residual block (``s(x)`` for pre-activation), ``x`` of a plain one."""

    def __init__(self, block: nn.Module, same_shape: bool = True):
        super().__init__()
        if not block.residual and not same_shape:
            raise ValueError("a plain block that changes the shape has no identity to replace it")
        self.shortcut = block.shortcut if block.residual else nn.Identity()
        self.relu = not isinstance(block, PreActBlock)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shortcut(x)
        return F.relu(y) if self.relu else y


def blocks(model: nn.Module) -> list[dict]:
    """The model's blocks in forward order: name, stage, whether residual, whether it keeps the shape.

    Shapes are read off a forward pass of one blank image (so every block type and option is covered)."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, BLOCK_TYPES)]
    if not found:
        raise ValueError("the model has no blocks to delete")
    shapes, hooks = {}, []
    for n, m in found:
        hooks.append(m.register_forward_hook(
            lambda mod, a, o, n=n: shapes.__setitem__(n, tuple(a[0].shape) == tuple(o.shape))))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            p = next(model.parameters())
            model(torch.zeros(1, 3, 32, 32, dtype=p.dtype, device=p.device))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return [dict(index=i, name=n, stage=n.split(".")[0], residual=bool(m.residual), same_shape=shapes[n])
            for i, (n, m) in enumerate(found, start=1)]


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, child = name.rpartition(".")
    return (model.get_submodule(path) if path else model), child


@contextlib.contextmanager
def deleted(model: nn.Module, names) -> Iterator[nn.Module]:
    """Within the context, the blocks ``names`` of ``model`` are replaced by :class:`Deleted`; restored after."""
    info = {b["name"]: b for b in blocks(model)}
    saved = []
    try:
        for n in names:
            if n not in info:
                raise KeyError(f"no block named {n!r}; blocks: {', '.join(info)}")
            parent, child = _parent(model, n)
            block = parent._modules[child]
            parent._modules[child] = Deleted(block, info[n]["same_shape"])
            saved.append((parent, child, block))
        yield model
    finally:
        for parent, child, block in reversed(saved):
            parent._modules[child] = block


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor,
             batch_size: int = 500) -> dict:
    """Test error and mean cross-entropy of ``model`` in eval mode on uint8 images ``x``."""
    was = model.training
    model.eval()
    wrong, loss = 0, 0.0
    device = next(model.parameters()).device  # batches go where the model is (CPU or GPU)
    mean = mean.to(device)
    try:
        for i in range(0, len(x), batch_size):
            out = model(normalize(x[i:i + batch_size].to(device), mean)).float()
            yb = y[i:i + batch_size].to(device)
            wrong += int((out.argmax(1) != yb).sum())
            loss += float(F.cross_entropy(out, yb, reduction="sum"))
    finally:
        model.train(was)
    return {"error": wrong / len(x), "loss": loss / len(x)}


def k_values(pool: int, most: int = 8) -> list[int]:
    """How many blocks to delete at once: 2 .. pool, every value for small pools, else ``most`` spread out."""
    if pool < 2:
        return []
    return sorted({int(round(k)) for k in np.linspace(2, pool, min(most, pool - 1))})


def lesion_study(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, draws: int = 5,
                 seed: int = 0, most_k: int = 8, batch_size: int = 500, partial=None, progress=None) -> dict:
    """Veit et al.'s two measurements, as a JSON-able dict.

    * ``single``: one row per block -- the test error (and loss) with that block alone deleted; a plain block
      that changes the shape cannot be deleted (error None).
    * ``random``: ``draws`` random sets of k same-shape blocks deleted together, for each k of
      :func:`k_values` (one draw when k is the whole pool); the draw for (k, d) comes from
      ``numpy.random.default_rng([seed, k, d])``, so every net of the same block layout loses the same blocks.
    * ``baseline``: the intact net on the same images.

    ``partial(key, compute)`` (optional, e.g. a :class:`resnet_lab.record.PartialAnalysis`) returns an
    evaluation an earlier, stopped process already made, or makes it; ``progress(done, total)`` is called after
    each evaluation.
    """
    model = model.float()
    info = blocks(model)
    pool = [b["name"] for b in info if b["same_shape"]]
    plan = [("baseline", [])]
    plan += [(f"single/{b['name']}", [b["name"]]) for b in info if b["residual"] or b["same_shape"]]
    for k in k_values(len(pool), most_k):
        for d in range(1 if k == len(pool) else draws):
            pick = sorted(np.random.default_rng([seed, k, d]).choice(len(pool), size=k, replace=False).tolist())
            plan.append((f"random/{k}/{d}", [pool[i] for i in pick]))
    device = next(model.parameters()).device.type
    results = {}
    for n, (key, names) in enumerate(plan, 1):
        def run(names=names):
            with deleted(model, names):
                return evaluate(model, x, y, mean, batch_size)
        results[key] = partial(key, run, device) if partial is not None else run()
        if progress:
            progress(n, len(plan))
    base = results["baseline"]
    single = [dict(b, **results.get(f"single/{b['name']}", {"error": None, "loss": None})) for b in info]
    rand = [dict(k=int(key.split("/")[1]), draw=int(key.split("/")[2]), deleted=names, **results[key])
            for key, names in plan if key.startswith("random/")]
    return dict(baseline=base, single=single, random=rand, pool=pool, images=len(x), draws=draws, seed=seed,
                residual=any(b["residual"] for b in info))


def error_by_k(result: dict) -> list[dict]:
    """Mean, min and max test error for each number k of deleted same-shape blocks: k = 0 is the intact net,
    k = 1 the mean over every single same-shape deletion (the exact expectation of one random deletion)."""
    rows = [dict(k=0, mean=result["baseline"]["error"], min=result["baseline"]["error"],
                 max=result["baseline"]["error"], n=1)]
    ones = [r["error"] for r in result["single"] if r["same_shape"] and r["error"] is not None]
    if ones:
        rows.append(dict(k=1, mean=float(np.mean(ones)), min=min(ones), max=max(ones), n=len(ones)))
    for k in sorted({r["k"] for r in result["random"]}):
        e = [r["error"] for r in result["random"] if r["k"] == k]
        rows.append(dict(k=k, mean=float(np.mean(e)), min=min(e), max=max(e), n=len(e)))
    return rows
