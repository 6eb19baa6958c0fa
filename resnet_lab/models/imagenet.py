"""The ImageNet nets of Table 1: 18/34 (basic blocks), 50/101/152 (bottlenecks).

conv1 7x7/2 (64) -> 3x3/2 max pool -> conv2_x..conv5_x on 56, 28, 14, 7 maps
(stride 2 in conv3_1, conv4_1, conv5_1) -> average pool -> FC.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .blocks import BasicBlock, Bottleneck, Response, SHORTCUTS, he_init

TABLE1 = {  # depth: (block, blocks per stage)
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
WIDTHS = (64, 128, 256, 512)


class ImageNetNet(nn.Module):
    """A plain or residual Table-1 net. ``stride_in_1x1`` only matters for bottlenecks (see Bottleneck)."""

    def __init__(self, depth: int, residual: bool = True, shortcut: str = "B", num_classes: int = 1000,
                 stride_in_1x1: bool = True):
        super().__init__()
        if depth not in TABLE1:
            raise ValueError(f"ImageNet depth must be one of {sorted(TABLE1)} (Table 1); got {depth!r}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut option {shortcut!r}; allowed: 'A', 'B', 'C'")
        kind, counts = TABLE1[depth]
        self.depth, self.residual, self.shortcut, self.variant = depth, residual, shortcut, kind
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1, self.response0 = nn.BatchNorm2d(64), Response(7)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, (width, count) in enumerate(zip(WIDTHS, counts)):
            layers = []
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                if kind == "basic":
                    blk = BasicBlock(cin, width, stride, residual=residual, shortcut=shortcut)
                else:
                    blk = Bottleneck(cin, width, stride, residual=residual, shortcut=shortcut,
                                     stride_in_1x1=stride_in_1x1)
                layers.append(blk)
                cin = width * blk.expansion
            setattr(self, f"conv{i + 2}_x", nn.Sequential(*layers))
        self.fc = nn.Linear(cin, num_classes)
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.response0(self.bn1(self.conv1(x)))))
        x = self.conv5_x(self.conv4_x(self.conv3_x(self.conv2_x(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def imagenet_net(depth: int, residual: bool = True, shortcut: str | None = None, variant: str = "standard",
                 num_classes: int = 1000, stride_in_1x1: bool = True) -> ImageNetNet:
    """Builder with explicit arguments. ``shortcut`` defaults to 'B' (torchvision's choice)."""
    if variant != "standard":
        raise ValueError(f"variant {variant!r} is only built for the CIFAR family; "
                         "the ImageNet family supports variant='standard' (Table 1)")
    return ImageNetNet(depth, residual=residual, shortcut=shortcut or "B", num_classes=num_classes,
                       stride_in_1x1=stride_in_1x1)
