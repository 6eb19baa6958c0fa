"""The paper's networks by name (``build('resnet56')``) or by explicit arguments.

CIFAR-10 (Sec. 4.2, 6n+2): resnet20/32/44/56/110/1202 and plain20/...; shortcut
option A by default. ImageNet (Table 1): resnet18/34/50/101/152 and plain18/...;
option B by default (torchvision's parameter counts).
"""
from __future__ import annotations

import re

from torch import nn

from .blocks import (BasicBlock, Bottleneck, OneLayerBlock, PreActBlock, Response, PadShortcut, Projection,
                     make_shortcut, he_init, SHORTCUTS)
from .cifar import CifarNet, cifar_net, cifar_n, CIFAR_VARIANTS
from .imagenet import ImageNetNet, imagenet_net, TABLE1

CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)
IMAGENET_DEPTHS = tuple(TABLE1)
NAMES = tuple(f"{k}{d}" for d in CIFAR_DEPTHS for k in ("resnet", "plain")) + \
    tuple(f"{k}{d}" for d in IMAGENET_DEPTHS for k in ("resnet", "plain"))
VARIANTS = ("basic", "one_layer", "preact", "final_bn", "standard")


def paper_name(name: str) -> str:
    """How the paper writes a net: 'resnet56' -> 'ResNet-56', 'plain20' -> 'plain-20'; other text unchanged, and
    so is a name inside a run id ('resnet56-A-cpu-s0-...')."""
    return re.sub(r"\b(resnet|plain)(\d+)\b(?!-)", lambda m: ("ResNet-" if m.group(1) == "resnet" else "plain-")
                  + m.group(2), str(name))


def parse_name(name: str) -> tuple[str, int, bool]:
    """'resnet56' -> ('cifar', 56, True). Unknown names raise ValueError listing the allowed ones."""
    m = re.fullmatch(r"(resnet|plain)(\d+)", str(name))
    if not m or name not in NAMES:
        raise ValueError(f"unknown network {name!r}; allowed: {', '.join(NAMES)} "
                         "(other 6n+2 CIFAR depths: cifar_net(depth, ...))")
    depth = int(m.group(2))
    family = "cifar" if depth in CIFAR_DEPTHS else "imagenet"
    return family, depth, m.group(1) == "resnet"


def build(name: str, shortcut: str | None = None, variant: str | None = None, num_classes: int | None = None,
          **kwargs) -> nn.Module:
    """Build a named net. ``variant``: CIFAR 'basic' (default), 'one_layer', 'preact', 'final_bn'; ImageNet
    'standard'."""
    family, depth, residual = parse_name(name)
    if shortcut is not None and shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut option {shortcut!r}; allowed: 'A', 'B', 'C'")
    if family == "cifar":
        return cifar_net(depth, residual, shortcut, variant or "basic", num_classes or 10)
    return imagenet_net(depth, residual, shortcut, variant or "standard", num_classes or 1000, **kwargs)


def response_modules(model: nn.Module) -> list[tuple[str, Response]]:
    """The model's response taps in forward order, e.g. ('stage1.0.response1', Response)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, Response)]


__all__ = ["build", "parse_name", "cifar_net", "imagenet_net", "cifar_n", "response_modules", "NAMES",
           "CIFAR_DEPTHS", "IMAGENET_DEPTHS", "CifarNet", "ImageNetNet", "BasicBlock", "Bottleneck",
           "OneLayerBlock", "PreActBlock", "Response", "PadShortcut", "Projection", "make_shortcut", "he_init",
           "SHORTCUTS", "CIFAR_VARIANTS", "VARIANTS"]
