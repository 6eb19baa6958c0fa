"""Diagrams drawn from the real module tree (matplotlib only, so they render in the static HTML).

Nothing here is drawn by hand: a block's diagram is read off ``torch.fx``'s trace of the block's ``forward``
(so the order conv -> BN -> ReLU -> ... -> add -> ReLU is the order the code computes, and a shortcut is drawn
exactly when ``forward`` adds one), and a net's diagram lists every weighted layer the trace meets, with the
output size each one produces on a meta-device forward pass. Change the models and the figures change.

* :func:`block_spec` / :func:`net_spec` -- what is drawn, as data.
* :func:`draw_block` -- one block in the style of the paper's Fig. 2 / Fig. 5 (main path top to bottom,
  shortcut on the right).
* :func:`draw_blocks` -- several blocks side by side (plain vs residual, options A/B/C, basic vs bottleneck).
* :func:`draw_net` / :func:`draw_nets` -- whole nets in the style of Fig. 3 (weighted layers top to bottom,
  shortcuts as arcs on the right; dashed where a shortcut changes dimensions, as in the paper).

Every drawn element carries a ``gid`` (``op:<name>``, ``layer:<module path>``, ``shortcut:<kind>`` or
``shortcut:<block path>:<kind>``) so tests can check that the picture matches the module.
"""
from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
import torch.fx as fx
import torch.nn.functional as F
from matplotlib import patches
from torch import nn

from .models.blocks import BasicBlock, Bottleneck, OneLayerBlock, PadShortcut, PreActBlock, Projection

BLOCK_TYPES = (BasicBlock, Bottleneck, OneLayerBlock, PreActBlock)
_RELU = {F.relu, torch.relu, torch.nn.functional.relu}
_ADD = {operator.add, torch.add}
_AVGPOOL = {F.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d}

# colours: weighted layers by output map size (as the stages of Fig. 3), the rest grey
_STAGE_COLOURS = ["#c6dbef", "#9ecae1", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1"]
_GREY = "#eeeeee"


# ----------------------------------------------------------------------------------------------- tracing

class _Tracer(fx.Tracer):
    def __init__(self, leaves):
        super().__init__()
        self._leaves = leaves

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, self._leaves) or super().is_leaf_module(m, qualname)


def _trace(module: nn.Module, leaves: tuple) -> fx.Graph:
    return _Tracer(leaves).trace(module)


@dataclass
class Op:
    """One operation on a drawn path: ``kind`` is conv, bn, relu, add, maxpool, avgpool or fc."""
    kind: str
    name: str
    label: str
    module: nn.Module | None = None


@dataclass
class BlockSpec:
    """A block as its ``forward`` computes it: the main path (with the addition), and the shortcut added."""
    ops: list[Op]
    shortcut: str | None          # None (plain block), 'identity', 'pad' (option A), 'projection' (B/C)
    shortcut_label: str = ""
    shortcut_module: nn.Module | None = None

    @property
    def convs(self) -> list[Op]:
        return [o for o in self.ops if o.kind == "conv"]

    @property
    def changes_dims(self) -> bool:
        return self.shortcut in ("pad", "projection") and _changes(self.shortcut_module)


def conv_label(conv: nn.Conv2d) -> str:
    """'3x3 conv, 64' (', /2' where the stride is 2), as the paper labels its layers."""
    k = conv.kernel_size[0]
    s = conv.stride[0]
    return f"{k}x{k} conv, {conv.out_channels}" + (f", /{s}" if s > 1 else "")


def shortcut_label(m: nn.Module) -> str:
    if isinstance(m, PadShortcut):
        sub = f"subsample /{m.stride},\n" if m.stride > 1 else ""
        return f"option A:\n{sub}zero-pad\n{m.cin} -> {m.cout} ch"
    if isinstance(m, Projection):
        conv = m[0]
        s = conv.stride[0]
        return f"projection W_s:\n1x1 conv, {conv.out_channels}" + (f",\n/{s}" if s > 1 else "") + " + BN"
    return "identity x"


def _changes(m: nn.Module | None) -> bool:
    if isinstance(m, PadShortcut):
        return m.stride != 1 or m.cin != m.cout
    if isinstance(m, Projection):
        return m[0].stride[0] != 1 or m[0].in_channels != m[0].out_channels
    return False


def block_spec(block: nn.Module) -> BlockSpec:
    """Read a block's main path and shortcut off the fx trace of its ``forward``."""
    graph = _trace(block, (PadShortcut, Projection))
    ops, kind, label, sc = [], None, "", None
    for node in graph.nodes:
        if node.op == "call_module":
            m = block.get_submodule(node.target)
            if node.target.split(".")[0] == "shortcut":
                sc = m
                kind = "pad" if isinstance(m, PadShortcut) else "projection" if isinstance(m, Projection) \
                    else "identity"
                label = shortcut_label(m)
            elif isinstance(m, nn.Conv2d):
                ops.append(Op("conv", node.target, conv_label(m), m))
            elif isinstance(m, nn.BatchNorm2d):
                ops.append(Op("bn", node.target, "BN", m))
        elif node.op == "call_function":
            if node.target in _RELU:
                ops.append(Op("relu", node.name, "ReLU"))
            elif node.target in _ADD:
                ops.append(Op("add", node.name, "+"))
    return BlockSpec(ops, kind, label, sc)


def _meta_shapes(model: nn.Module, size: int) -> dict[str, tuple]:
    """Output shape of every module (by path) on a shape-only forward pass."""
    meta = copy.deepcopy(model).to("meta").eval()
    shapes, hooks = {}, []
    for name, m in meta.named_modules():
        if name:
            hooks.append(m.register_forward_hook(
                lambda m, a, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))))
    with torch.no_grad():
        meta(torch.zeros(1, 3, size, size, device="meta"))
    for h in hooks:
        h.remove()
    return shapes


@dataclass
class NetSpec:
    """A net as a sequence of items: an :class:`Op` (stem, pooling, fc) or a ``(block path, BlockSpec)``."""
    items: list
    shapes: dict = field(default_factory=dict)

    def weighted_layers(self) -> list[str]:
        """Module paths of every conv on a main path, and the fc, in forward order (shortcuts not counted)."""
        out = []
        for it in self.items:
            if isinstance(it, Op):
                if it.kind in ("conv", "fc"):
                    out.append(it.name)
            else:
                path, spec = it
                out += [f"{path}.{o.name}" for o in spec.convs]
        return out

    def blocks(self) -> list[tuple[str, BlockSpec]]:
        return [it for it in self.items if not isinstance(it, Op)]


def net_spec(model: nn.Module, size: int | None = None) -> NetSpec:
    """Read a whole net off the fx trace of its ``forward``, blocks expanded with :func:`block_spec`."""
    if size is None:
        from .summary import input_size
        size = input_size(model)
    graph = _trace(model, BLOCK_TYPES + (PadShortcut, Projection))
    items = []
    for node in graph.nodes:
        if node.op == "call_module":
            m = model.get_submodule(node.target)
            if isinstance(m, BLOCK_TYPES):
                items.append((node.target, block_spec(m)))
            elif isinstance(m, nn.Conv2d):
                items.append(Op("conv", node.target, conv_label(m), m))
            elif isinstance(m, nn.MaxPool2d):
                items.append(Op("maxpool", node.target, f"{m.kernel_size}x{m.kernel_size} max pool, /{m.stride}", m))
            elif isinstance(m, nn.Linear):
                items.append(Op("fc", node.target, f"fc {m.out_features}", m))
        elif node.op == "call_function" and node.target in _AVGPOOL:
            items.append(Op("avgpool", node.name, "avg pool"))
    return NetSpec(items, _meta_shapes(model, size))


# ----------------------------------------------------------------------------------------------- drawing

def _box(ax, x, y, w, h, text, gid, face, fontsize=8, rotation=0, bold=False):
    ax.add_patch(patches.FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                        fc=face, ec="#333333", lw=0.9, gid=gid))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, rotation=rotation,
            fontweight="bold" if bold else "normal", gid=gid + ":text")


def _arrow(ax, p0, p1, gid=None, style="-|>", ls="-", color="#333333", lw=1.0):
    ax.add_patch(patches.FancyArrowPatch(p0, p1, arrowstyle=style, mutation_scale=9, lw=lw, ls=ls, color=color,
                                         shrinkA=0, shrinkB=0, gid=gid))


_FACE = {"conv": "#c6dbef", "bn": "#f2f2f2", "relu": "#fde0c5"}
_H = {"conv": 0.55, "bn": 0.38, "relu": 0.38}


def draw_block(block: nn.Module, ax=None, title: str | None = None, in_label: str | None = None):
    """One block as its ``forward`` computes it (paper Fig. 2 / Fig. 5): main path top to bottom, the
    shortcut (if the block adds one) on the right into the addition. Returns the figure."""
    spec = block_spec(block)
    n = len(spec.ops)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(2.6, 0.62 * n + 1.2))
    step = 0.72
    y = 0.0
    x = 0.0
    top = y + 0.55
    cin = next((o.module.in_channels for o in spec.ops if o.kind == "conv"), None)
    ax.text(x, top + 0.25, in_label or (f"x  ({cin}-d)" if cin else "x"), ha="center", va="bottom", fontsize=8)
    _arrow(ax, (x, top + 0.2), (x, y + _H.get(spec.ops[0].kind, 0.4) / 2))
    add_y = None
    for i, op in enumerate(spec.ops):
        if op.kind == "add":
            ax.add_patch(patches.Circle((x, y), 0.17, fc="white", ec="#333333", lw=1.0, gid="op:add"))
            ax.text(x, y, "+", ha="center", va="center", fontsize=11, gid="op:add:text")
            add_y, h = y, 0.34
        else:
            h = _H[op.kind]
            _box(ax, x, y, 1.9, h, op.label, f"op:{op.kind}:{op.name}", _FACE[op.kind],
                 fontsize=7.5 if op.kind == "conv" else 7)
        if i + 1 < n:
            nh = 0.34 if spec.ops[i + 1].kind == "add" else _H[spec.ops[i + 1].kind]
            _arrow(ax, (x, y - h / 2), (x, y - step + nh / 2))
            y -= step
    bottom = y - _H.get(spec.ops[-1].kind, 0.34) / 2
    _arrow(ax, (x, bottom), (x, bottom - 0.35))
    ax.text(x, bottom - 0.4, "out", ha="center", va="top", fontsize=8)
    if spec.shortcut is not None and add_y is not None:
        sx = 1.25
        ls = "-" if spec.shortcut == "identity" else "--"
        gid = f"shortcut:{spec.shortcut}"
        ax.plot([x, sx, sx], [top + 0.05, top + 0.05, add_y], color="#b2182b", lw=1.4, ls=ls, gid=gid)
        _arrow(ax, (sx, add_y), (x + 0.17, add_y), color="#b2182b", lw=1.4)
        mid = (top + add_y) / 2
        ax.text(sx + 0.08, mid, spec.shortcut_label, ha="left", va="center", fontsize=7, color="#b2182b",
                bbox=dict(fc="white", ec="#b2182b" if spec.shortcut != "identity" else "none", lw=0.8,
                          boxstyle="round,pad=0.2"), gid=gid + ":text")
    ax.set_xlim(-1.05, 2.65)
    ax.set_ylim(bottom - 0.8, top + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def draw_blocks(blocks: dict, ncols: int | None = None, in_labels: dict | None = None):
    """Several blocks side by side: ``{title: block}``. Returns the figure."""
    n = len(blocks)
    ncols = ncols or n
    nrows = -(-n // ncols)
    rows = max(len(block_spec(b).ops) for b in blocks.values())
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, (0.62 * rows + 1.3) * nrows), squeeze=False)
    for ax, (title, block) in zip(axes.flat, blocks.items()):
        draw_block(block, ax=ax, title=title, in_label=(in_labels or {}).get(title))
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    # same vertical extent everywhere, so equal layers line up across panels
    lo = min(ax.get_ylim()[0] for ax in list(axes.flat)[:n])
    hi = max(ax.get_ylim()[1] for ax in list(axes.flat)[:n])
    for ax in list(axes.flat)[:n]:
        ax.set_ylim(lo, hi)
    # equal aspect: size the figure to the drawing, so no band of empty space sits between rows
    xspan = axes.flat[0].get_xlim()[1] - axes.flat[0].get_xlim()[0]
    fig.set_size_inches(2.6 * ncols, nrows * (2.6 * (hi - lo) / xspan + 0.35))
    fig.tight_layout()
    return fig


def _size(shape: tuple) -> str:
    return f"{shape[1]}x{shape[2]}" if len(shape) == 3 else "1x1"


def _cells(spec: NetSpec):
    cells = []   # (kind, name, label, shape)
    spans = []   # (first cell, last cell, block path, BlockSpec)
    for it in spec.items:
        if isinstance(it, Op):
            cells.append((it.kind, it.name, it.label, spec.shapes.get(it.name)))
        else:
            path, b = it
            first = len(cells)
            for o in b.convs:
                cells.append(("conv", f"{path}.{o.name}", o.label, spec.shapes.get(f"{path}.{o.name}")))
            spans.append((first, len(cells) - 1, path, b))
    return cells, spans


def draw_net(model: nn.Module, ax=None, title: str | None = None, size: int | None = None):
    """A whole net in the style of Fig. 3, top to bottom: every weighted layer (and the pooling), coloured by
    output map size, which is written on the left; each block's shortcut as an arc on the right, dashed where
    it changes dimensions (option A's zero-padding or a projection), solid for the identity. Returns the
    figure."""
    cells, spans = _cells(net_spec(model, size))
    n = len(cells)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(3.4, 0.27 * n + 0.8))
    sizes = []
    for kind, _, _, shape in cells:
        s = _size(shape) if shape else ""
        if kind in ("conv", "maxpool") and s not in sizes:
            sizes.append(s)
    w, h = 2.6, 0.72
    for i, (kind, name, label, shape) in enumerate(cells):
        weighted = kind in ("conv", "fc")
        face = _STAGE_COLOURS[sizes.index(_size(shape)) % len(_STAGE_COLOURS)] \
            if kind == "conv" and shape else ("#fee391" if kind == "fc" else _GREY)
        _box(ax, 0, -i, w, h, label, f"layer:{name}" if weighted else f"pool:{name}", face, fontsize=7)
        if i + 1 < n:
            _arrow(ax, (0, -i - h / 2), (0, -i - 1 + h / 2), style="-")
    for first, last, path, b in spans:
        if b.shortcut is None:
            continue
        y0, y1 = -first + 0.5, -last - 0.5
        dashed = b.changes_dims
        ax.add_patch(patches.FancyArrowPatch((w / 2 + 0.05, y0), (w / 2 + 0.05, y1), connectionstyle="arc3,rad=-0.45",
                                             arrowstyle="-|>", mutation_scale=7, lw=1.4 if dashed else 1.0,
                                             ls="--" if dashed else "-", color="#b2182b",
                                             gid=f"shortcut:{path}:{b.shortcut}"))
    # brackets on the left: output map size of each run of layers
    runs, start = [], 0
    for i in range(1, n + 1):
        if i == n or _size(cells[i][3] or ()) != _size(cells[start][3] or ()):
            runs.append((start, i - 1, cells[start][3]))
            start = i
    x = -w / 2 - 0.25
    for a, b_, shape in runs:
        if not shape:
            continue
        ax.plot([x, x], [-a + h / 2, -b_ - h / 2], color="#555555", lw=0.8)
        ax.text(x - 0.12, -(a + b_) / 2, _size(shape) + (f"\n{shape[0]} ch" if len(shape) == 3 else ""),
                ha="right", va="center", fontsize=7, color="#333333")
    ax.set_xlim(-w / 2 - 1.9, w / 2 + 1.3)
    ax.set_ylim(-n + 0.2, 1.0)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def draw_nets(models: dict, size: int | None = None):
    """Nets side by side, one column each (e.g. plain-34 and ResNet-34, as the columns of Fig. 3)."""
    n = max(len(_cells(net_spec(m, size))[0]) for m in models.values())
    fig, axes = plt.subplots(1, len(models), figsize=(3.4 * len(models), 0.27 * n + 0.8), squeeze=False)
    for ax, (title, m) in zip(axes.flat, models.items()):
        draw_net(m, ax=ax, title=title, size=size)
        ax.set_ylim(-n + 0.2, 1.0)
    fig.tight_layout()
    return fig


def drawn(fig, prefix: str) -> list[str]:
    """gids of the artists in ``fig`` starting with ``prefix`` (text labels excluded): what a test counts."""
    out = []
    for ax in fig.axes:
        for a in ax.get_children():
            g = a.get_gid()
            if g and g.startswith(prefix) and not g.endswith(":text"):
                out.append(g)
    return out
