"""The CIFAR-10 nets of Sec. 4.2: 6n+2 weighted layers.

    output map size   32x32   16x16   8x8
    # layers          1+2n    2n      2n
    # filters         16      32      64

3x3 conv (16) -> three stages of n two-layer blocks -> global average pool ->
10-way FC. Downsampling by the stride-2 first conv of stages 2 and 3.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .blocks import BLOCKS, Response, conv3x3, he_init, SHORTCUTS

CIFAR_VARIANTS = ("basic", "one_layer", "preact", "final_bn")
WIDTHS = (16, 32, 64)


def cifar_n(depth: int) -> int:
    """n of a 6n+2 net, or ValueError."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, 1202, ...); got {depth!r}")
    return (depth - 2) // 6


class CifarNet(nn.Module):
    """A plain or residual 6n+2 net (Sec. 4.2).

    ``variant``: 'basic' (the paper's two-layer blocks), 'one_layer' (2n one-layer
    shortcut blocks per stage: same depth, y = W1 x + x), 'preact' (He et al. 2016), 'final_bn' (the paper's
    blocks with the pre-activation net's final BN-ReLU before pooling: a control that separates the
    pre-activation net's blocks from its normalised classifier input, chapter 7; not a net of either paper).
    """

    def __init__(self, depth: int, residual: bool = True, shortcut: str = "A", variant: str = "basic",
                 num_classes: int = 10):
        super().__init__()
        n = cifar_n(depth)
        if variant not in CIFAR_VARIANTS:
            raise ValueError(f"unknown CIFAR variant {variant!r}; allowed: {', '.join(CIFAR_VARIANTS)}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut option {shortcut!r}; allowed: 'A', 'B', 'C'")
        block = BLOCKS["basic" if variant == "final_bn" else variant]
        blocks_per_stage = 2 * n if variant == "one_layer" else n
        self.depth, self.residual, self.shortcut, self.variant = depth, residual, shortcut, variant
        self.conv1, self.bn1, self.response0 = conv3x3(3, WIDTHS[0]), nn.BatchNorm2d(WIDTHS[0]), Response(3)
        cin = WIDTHS[0]
        stages = []
        for i, width in enumerate(WIDTHS):
            layers = []
            for j in range(blocks_per_stage):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(block(cin, width, stride, residual=residual, shortcut=shortcut))
                cin = width
            stages.append(nn.Sequential(*layers))
        self.stage1, self.stage2, self.stage3 = stages
        # pre-activation nets end with BN-ReLU before pooling (He et al. 2016); 'final_bn' borrows only that
        self.final_bn = nn.BatchNorm2d(cin) if variant in ("preact", "final_bn") else None
        self.fc = nn.Linear(cin, num_classes)
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.response0(self.bn1(self.conv1(x)))
        x = x if self.variant == "preact" else F.relu(x)
        x = self.stage3(self.stage2(self.stage1(x)))
        if self.final_bn is not None:
            x = F.relu(self.final_bn(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def cifar_net(depth: int, residual: bool = True, shortcut: str | None = None, variant: str = "basic",
              num_classes: int = 10) -> CifarNet:
    """Builder with explicit arguments. ``shortcut`` defaults to 'A' (the paper's CIFAR choice)."""
    return CifarNet(depth, residual=residual, shortcut=shortcut or "A", variant=variant, num_classes=num_classes)
