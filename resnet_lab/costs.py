"""Chapter 2's cost tables, computed from the modules (parameters and multiply-adds), formatted for reading.

Every number is counted by :mod:`resnet_lab.summary` on the nets of :mod:`resnet_lab.models`; the paper's
numbers sit beside them only where a column says "paper" (quoted from :mod:`resnet_lab.reference`).
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .models import BasicBlock, Bottleneck, Projection, build
from .models.imagenet import TABLE1
from .reference import PAPER_TABLE1_FLOPS, PAPER_TABLE3, PAPER_VGG19_FLOPS
from .summary import count_macs, count_params


def params(n: int) -> str:
    return f"{n:,}"


def mega(n: float) -> str:
    return f"{n / 1e6:.1f}M" if n < 1e9 else f"{n / 1e9:.2f}G"


def giga(n: float) -> str:
    return f"{n / 1e9:.2f}G"


def times(x: float) -> str:
    return f"×{x:.2f}"


def block_cost(block: nn.Module, side: int) -> tuple[int, int]:
    """(parameters, multiply-adds) of one block on a ``side`` x ``side`` input."""
    cin = next(m for m in block.modules() if isinstance(m, nn.Conv2d)).in_channels
    return count_params(block), count_macs(block, module_input=torch.zeros(1, cin, side, side))


def _projections(model: nn.Module) -> int:
    return sum(isinstance(m, Projection) for m in model.modules())


def basic_vs_bottleneck() -> pd.DataFrame:
    """Fig. 5: a basic block on 64 channels against a bottleneck on 256, both on 56x56 maps (conv2_x)."""
    rows = []
    for label, block in [("basic block, 64-d (ResNet-34, conv2_x)", BasicBlock(64, 64)),
                         ("bottleneck, 256-d (ResNet-50, conv2_x)", Bottleneck(256, 64))]:
        p, m = block_cost(block, 56)
        rows.append({"block (56x56 maps, identity shortcut)": label, "parameters": p, "multiply-adds": m})
    f = pd.DataFrame(rows).set_index("block (56x56 maps, identity shortcut)")
    f["parameters"] = f["parameters"].map(params)
    f["multiply-adds"] = f["multiply-adds"].map(mega)
    return f


def projection_everywhere(depth: int = 50) -> pd.DataFrame:
    """The cost of option C in a bottleneck net: per stage, an identity block with its shortcut replaced by a
    projection (the paper's 'doubled' claim), and the whole net under A, B, C (ratios against B)."""
    rows = []
    b_net, c_net = build(f"resnet{depth}", shortcut="B"), build(f"resnet{depth}", shortcut="C")
    side = 56
    for stage in ("conv2_x", "conv3_x", "conv4_x", "conv5_x"):
        b_blk, c_blk = getattr(b_net, stage)[1], getattr(c_net, stage)[1]
        (pb, mb), (pc, mc) = block_cost(b_blk, side), block_cost(c_blk, side)
        cin = b_blk.conv1.in_channels
        rows.append({"": f"a block of {stage} ({cin}-d)",
                     "parameters: identity -> projection": f"{params(pb)} -> {params(pc)}",
                     "×": times(pc / pb),
                     "multiply-adds: identity -> projection": f"{mega(mb)} -> {mega(mc)}",
                     "× ": times(mc / mb)})
        side //= 2
    nets = {o: build(f"resnet{depth}", shortcut=o) for o in "ABC"}
    pB, mB = count_params(nets["B"]), count_macs(nets["B"])
    for o, net in nets.items():
        p, m = count_params(net), count_macs(net)
        rows.append({"": f"ResNet-{depth}, option {o} ({_projections(net)} projections)",
                     "parameters: identity -> projection": params(p), "×": times(p / pB) + " of B",
                     "multiply-adds: identity -> projection": giga(m), "× ": times(m / mB) + " of B"})
    return pd.DataFrame(rows).set_index("")


def shortcut_options(name: str = "resnet34") -> pd.DataFrame:
    """Options A/B/C of ``name``: projections, parameters and multiply-adds (counted here) beside the top-1/top-5
    errors of Table 3 (QUOTED from the paper; ResNet-34 only)."""
    rows = []
    base = count_params(build(name, shortcut="A"))
    label = f"ResNet-{name[6:]}"
    for o in "ABC":
        net = build(name, shortcut=o)
        p = count_params(net)
        quoted = PAPER_TABLE3.get(f"{label} {o}", (None, None))
        rows.append({"option": o, "projection shortcuts": _projections(net), "parameters": params(p),
                     "vs A": f"+{100 * (p / base - 1):.1f}%", "multiply-adds": giga(count_macs(net)),
                     "top-1 error (paper, quoted)": f"{quoted[0]:.2f}%" if quoted[0] else "",
                     "top-5 error (paper, quoted)": f"{quoted[1]:.2f}%" if quoted[1] else ""})
    return pd.DataFrame(rows).set_index("option").rename_axis(None)


def table1() -> pd.DataFrame:
    """Table 1, all five depths: blocks, parameters (option B), multiply-adds with the bottleneck's stride on
    the first 1x1 conv (the paper's released models, 'v1') and on the 3x3 conv (torchvision's 'v1.5'), and the
    FLOPs the paper prints (quoted)."""
    rows = []
    for depth, (kind, counts) in TABLE1.items():
        v1 = count_macs(build(f"resnet{depth}"))
        v15 = count_macs(build(f"resnet{depth}", stride_in_1x1=False))
        paper = PAPER_TABLE1_FLOPS[depth]
        rows.append({"net": f"ResNet-{depth}", "blocks": f"{kind} {'-'.join(map(str, counts))}",
                     "params": f"{count_params(build(f'resnet{depth}')) / 1e6:.1f}M",
                     "v1: stride on 1x1": giga(v1),
                     "v1.5: stride on 3x3": giga(v15),
                     "paper (quoted)": f"{paper / 1e9:.1f}G",
                     "v1 vs paper": f"{100 * (v1 / paper - 1):+.1f}%",
                     "v1.5 vs paper": f"{100 * (v15 / paper - 1):+.1f}%"})
    return pd.DataFrame(rows).set_index("net").rename_axis(None)


def vgg19_comparison() -> dict:
    """plain-34 against VGG-19 (torchvision's, 224x224): multiply-adds and parameters, and the two ratios."""
    import torchvision
    vgg = torchvision.models.vgg19()
    p34 = build("plain34")
    out = dict(vgg_macs=count_macs(vgg, 224), vgg_params=count_params(vgg), plain34_macs=count_macs(p34),
               plain34_params=count_params(p34), paper_vgg=PAPER_VGG19_FLOPS)
    out["macs_ratio"] = out["plain34_macs"] / out["vgg_macs"]
    out["params_ratio"] = out["plain34_params"] / out["vgg_params"]
    return out


def cifar_blocks() -> pd.DataFrame:
    """Why the CIFAR nets use basic blocks: per stage, the paper's basic block against a bottleneck with the
    same ends (3x3 on a quarter of the channels), and the bottleneck of a 4x wider net (as in He et al. 2016's
    ResNet-164)."""
    rows = []
    for side, c in [(32, 16), (16, 32), (8, 64)]:
        for label, blk in [(f"basic, {c}-d (the paper's)", BasicBlock(c, c)),
                           (f"bottleneck {c} -> {c // 4} -> {c}", Bottleneck(c, c // 4)),
                           (f"bottleneck {4 * c} -> {c} -> {4 * c}", Bottleneck(4 * c, c))]:
            p, m = block_cost(blk, side)
            rows.append({"stage": f"{side}x{side}", "block": label, "parameters": params(p),
                         "multiply-adds": mega(m),
                         "3x3 conv width": min(x.out_channels for x in blk.modules()
                                               if isinstance(x, nn.Conv2d) and x.kernel_size == (3, 3))})
    return pd.DataFrame(rows).set_index(["stage", "block"])


def readable_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`resnet_lab.summary.summary` for reading: parameters with thousands separators, multiply-adds in M."""
    f = frame.copy()
    f["blocks"] = f["blocks"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    f["channels"] = f["channels"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    f["params"] = f["params"].map(params)
    f["macs"] = f["macs"].map(lambda v: f"{v / 1e6:,.1f}M")
    return f.rename(columns={"output_size": "output size", "params": "parameters", "macs": "multiply-adds"}) \
        .set_index("stage")
