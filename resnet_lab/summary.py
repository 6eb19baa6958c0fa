"""Counting and tracing: parameters, multiply-adds, Table-1/Table-6-style summaries, shape traces.

Multiply-adds come from ``torch.utils.flop_counter`` (FLOPs / 2): convs and the FC,
the quantity Table 1 and Sec. 4.2 report. BN, ReLU and additions are not counted.
Counting runs on a copy of the model on the ``meta`` device: shapes only, no arithmetic,
so even ResNet-152 at 224x224 is counted in a fraction of a second.
"""
from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .models import CifarNet, ImageNetNet, build


def count_params(model: nn.Module) -> int:
    """Number of learnable parameters (BN scales and shifts included)."""
    return sum(p.numel() for p in model.parameters())


def input_size(model: nn.Module) -> int:
    """The paper's input side: 32 for the CIFAR nets, 224 for ImageNet (Table 1)."""
    return 224 if isinstance(model, ImageNetNet) else 32


def _meta(model: nn.Module) -> nn.Module:
    """A shape-only copy of ``model`` in eval mode (the original is untouched)."""
    if any(p.is_meta for p in model.parameters()):
        return model.eval()
    return copy.deepcopy(model).to("meta").eval()


def count_macs(model: nn.Module, size: int | None = None, module_input: torch.Tensor | None = None) -> int:
    """Multiply-adds of one forward pass of a single image (or of ``module_input``)."""
    side = size or input_size(model)
    x = module_input if module_input is not None else torch.zeros(1, 3, side, side)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        _meta(model)(x.to("meta"))
    return counter.get_total_flops() // 2


def _stages(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    if isinstance(model, CifarNet):
        return [("conv1", [model.conv1, model.bn1]), ("stage1", [model.stage1]), ("stage2", [model.stage2]),
                ("stage3", [model.stage3]), ("pool+fc", [model.fc])]
    return [("conv1", [model.conv1, model.bn1, model.maxpool]), ("conv2_x", [model.conv2_x]),
            ("conv3_x", [model.conv3_x]), ("conv4_x", [model.conv4_x]), ("conv5_x", [model.conv5_x]),
            ("pool+fc", [model.fc])]


def summary(model: nn.Module | str, size: int | None = None, **build_kwargs) -> pd.DataFrame:
    """A Table-1 / Table-6-style frame: stage, output size, blocks, params, MACs (last row: total)."""
    if isinstance(model, str):
        model = build(model, **build_kwargs)
    size = size or input_size(model)
    params = count_params(model)
    model = _meta(model)
    captured: dict[int, torch.Tensor] = {}
    outputs: dict[int, tuple] = {}
    hooks = []
    for _, mods in _stages(model):
        first, last = mods[0], mods[-1]
        hooks.append(first.register_forward_pre_hook(lambda m, a: captured.__setitem__(id(m), a[0])))
        hooks.append(last.register_forward_hook(lambda m, a, o: outputs.__setitem__(id(m), tuple(o.shape[1:]))))
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size, device="meta"))
    for h in hooks:
        h.remove()
    rows = []
    for name, mods in _stages(model):
        seq = nn.Sequential(*mods)
        macs = count_macs(seq, module_input=captured[id(mods[0])])
        shape = outputs[id(mods[-1])]
        out = "1x1" if len(shape) == 1 else f"{shape[1]}x{shape[2]}"
        blocks = len(mods[0]) if isinstance(mods[0], nn.Sequential) else None
        rows.append(dict(stage=name, output_size=out, channels=shape[0], blocks=blocks,
                         params=count_params(seq), macs=macs))
    frame = pd.DataFrame(rows).astype({"blocks": "Int64"})
    total = dict(stage="total", output_size="", channels=None, blocks=int(frame.blocks.fillna(0).sum()),
                 params=params, macs=count_macs(model, size))
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def shape_trace(module: nn.Module, x: torch.Tensor | tuple = (1, 16, 32, 32)) -> pd.DataFrame:
    """Each leaf layer's input and output shape in call order, with kernel/stride/padding.

    Answers the notes' question: a 3x3 conv with padding 1 and stride 1 keeps H x W;
    only the stride-2 convs (and option A's subsampling) halve them.
    """
    if not isinstance(x, torch.Tensor):
        x = torch.zeros(*x)
    module = _meta(module)
    x = x.to("meta")
    rows, hooks = [], []
    for name, m in module.named_modules():
        if list(m.children()):
            continue
        def hook(m, args, out, name=name):
            rows.append(dict(layer=name or type(m).__name__, type=type(m).__name__,
                             kernel=getattr(m, "kernel_size", None), stride=getattr(m, "stride", None),
                             padding=getattr(m, "padding", None),
                             input=tuple(args[0].shape) if args else None, output=tuple(out.shape)))
        hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        module(x)
    for h in hooks:
        h.remove()
    return pd.DataFrame(rows)


def readable_trace(trace: pd.DataFrame) -> pd.DataFrame:
    """:func:`shape_trace` for reading: kernels as 3x3, one number for a square stride or padding, shapes as
    channels x H x W (the batch dimension dropped), a dash where a layer has no such setting."""
    def pair(v, sep):
        if v is None or (isinstance(v, float) and v != v):
            return "–"
        v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        return str(v[0]) if sep is None and len(set(v)) == 1 else (sep or ", ").join(map(str, v))

    def shape(v):
        return "–" if v is None else " × ".join(map(str, tuple(v)[1:]))
    out = trace.copy()
    out["kernel"] = out["kernel"].map(lambda v: pair(v, "x"))
    for col in ("stride", "padding"):
        out[col] = out[col].map(lambda v: pair(v, None))
    for col in ("input", "output"):
        out[col] = out[col].map(shape)
    return out


def arch_info(name: str, shortcut: str | None = None, variant: str | None = None) -> dict:
    """What ``python -m resnet_lab arch NAME --json`` prints."""
    model = build(name, shortcut=shortcut, variant=variant)
    size = input_size(model)
    table = summary(model, size)
    return dict(name=name, family="imagenet" if isinstance(model, ImageNetNet) else "cifar",
                residual=model.residual, shortcut=model.shortcut if model.residual else None,
                variant=model.variant, depth=model.depth, params=count_params(model),
                macs=count_macs(model, size), input_size=[3, size, size],
                stages=table.astype(object).where(table.notna(), None).to_dict(orient="records"))
