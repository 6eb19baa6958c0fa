"""Building blocks of He et al. 2015 (Sec. 3.2, Fig. 2, Fig. 5) and follow-ups.

Every block exposes the responses the paper plots in Fig. 7 -- each conv's
output after its BN, before the addition and the ReLU -- as :class:`Response`
modules named ``response1``, ``response2`` (and ``response3`` in a bottleneck).
They compute the identity; analysis code hooks them (see
:func:`resnet_lab.models.response_modules`) without knowing a block's internals.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

SHORTCUTS = ("A", "B", "C")


class Response(nn.Identity):
    """A tap on a layer response (after BN, before addition/ReLU); computes the identity.

    ``kernel`` is the size of the conv that produced it (3 for the 3x3 layers of Fig. 7).
    """

    def __init__(self, kernel: int = 3):
        super().__init__()
        self.kernel = kernel

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}"


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    """3x3 conv with padding 1: H x W are kept unless stride is 2 (the question in the notes)."""
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class PadShortcut(nn.Module):
    """Option A (Sec. 3.3): identity, subsampled by ``stride``, new channels zero-padded. No parameters."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        if cout < cin:
            raise ValueError(f"option A can only add channels ({cin} -> {cout})")
        self.cin, self.cout, self.stride = cin, cout, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.cout - self.cin
        if extra:
            x = F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))
        return x

    def extra_repr(self) -> str:
        return f"{self.cin}->{self.cout}, stride={self.stride}"


class Projection(nn.Sequential):
    """Options B/C: the projection W_s x of Eq. (2), a 1x1 conv (with stride) and BN."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


def make_shortcut(option: str, cin: int, cout: int, stride: int) -> nn.Module:
    """The shortcut of a residual block (Sec. 3.3, 4.1 'Identity vs. Projection Shortcuts').

    A: identity, zero-padding where dimensions increase (parameter-free).
    B: projections where dimensions increase, identity elsewhere.
    C: projections everywhere.
    """
    if option not in SHORTCUTS:
        raise ValueError(f"unknown shortcut option {option!r}; allowed: 'A', 'B', 'C'")
    changes = stride != 1 or cin != cout
    if option == "C" or (option == "B" and changes):
        return Projection(cin, cout, stride)
    if changes:
        return PadShortcut(cin, cout, stride)
    return nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convs (Fig. 2 / Fig. 5 left): y = ReLU(F(x) + shortcut(x)), F = BN(W2 ReLU(BN(W1 x))).

    With ``residual=False`` it is the plain twin: y = ReLU(F(x)), same parameters (option A).
    """

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, residual: bool = True, shortcut: str = "A"):
        super().__init__()
        cout = planes * self.expansion
        self.conv1, self.bn1, self.response1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes), Response(3)
        self.conv2, self.bn2, self.response2 = conv3x3(planes, cout), nn.BatchNorm2d(cout), Response(3)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, cin, cout, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.response1(self.bn1(self.conv1(x))))
        out = self.response2(self.bn2(self.conv2(out)))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class OneLayerBlock(nn.Module):
    """A one-layer shortcut block, y = ReLU(BN(W1 x) + x) (Sec. 3.2: 'we have not observed advantages').

    Without the ReLU this is y = (W1 + I) x: just another linear layer.
    """

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, residual: bool = True, shortcut: str = "A"):
        super().__init__()
        self.conv1, self.bn1, self.response1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes), Response(3)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, cin, planes, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.response1(self.bn1(self.conv1(x)))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class PreActBlock(nn.Module):
    """Pre-activation block (He et al. 2016, 'Identity Mappings'): y = x + W2 ReLU(BN(W1 ReLU(BN(x)))).

    Nothing follows the addition. Its responses are the conv outputs (there is no BN
    between a conv and the addition); ``response1`` is after BN2 of the first conv.
    """

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, residual: bool = True, shortcut: str = "A"):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), conv3x3(cin, planes, stride)
        self.bn2, self.response1 = nn.BatchNorm2d(planes), Response(3)
        self.conv2, self.response2 = conv3x3(planes, planes), Response(3)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, cin, planes, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        out = F.relu(self.response1(self.bn2(self.conv1(out))))
        out = self.response2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return out


class Bottleneck(nn.Module):
    """Bottleneck block (Fig. 5 right): 1x1 reduce, 3x3, 1x1 restore (4x), y = ReLU(F(x) + shortcut(x)).

    ``stride_in_1x1=True`` puts the stride on the first 1x1 conv as in the paper's
    released models (this matches Table 1's FLOPs); ``False`` puts it on the 3x3
    (torchvision's "v1.5"), which costs more multiply-adds. Parameters are equal.
    ``response2`` is the 3x3 layer's response.
    """

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, residual: bool = True, shortcut: str = "B",
                 stride_in_1x1: bool = True):
        super().__init__()
        cout = planes * self.expansion
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1, self.bn1, self.response1 = conv1x1(cin, planes, s1), nn.BatchNorm2d(planes), Response(1)
        self.conv2, self.bn2, self.response2 = conv3x3(planes, planes, s3), nn.BatchNorm2d(planes), Response(3)
        self.conv3, self.bn3, self.response3 = conv1x1(planes, cout), nn.BatchNorm2d(cout), Response(1)
        self.residual = residual
        self.shortcut = make_shortcut(shortcut, cin, cout, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.response1(self.bn1(self.conv1(x))))
        out = F.relu(self.response2(self.bn2(self.conv2(out))))
        out = self.response3(self.bn3(self.conv3(out)))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


BLOCKS = {"basic": BasicBlock, "one_layer": OneLayerBlock, "preact": PreActBlock, "bottleneck": Bottleneck}


def he_init(model: nn.Module) -> nn.Module:
    """He (MSRA) init [13]: conv weights ~ N(0, 2/n), n = k*k*c_in (the paper's forward case); BN gamma 1, beta 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model
