"""Shattered gradients at initialisation (Balduzzi et al. 2017).

Balduzzi et al., "The Shattered Gradients Problem: If resnets are the answer, then what is the question?"
(ICML 2017): the gradient of a deep plain rectifier net with respect to its input, followed along a line of
inputs, decorrelates with depth until it resembles white noise; with skip connections it stays correlated.

Here the line runs through image space, x(t) = (1 - t) a + t b for two real images a, b and ``points``
equally spaced t in [0, 1]; the scalar is one logit (the true class of ``a``).

* :func:`calibrated` -- a copy of the net whose BN running statistics are estimated on real images, in eval
  mode: BN is then a fixed affine map per channel and the points of the line do not interact through batch
  statistics (in training mode each point's output would depend on which other points share its batch).
* :func:`input_gradients` -- d(logit)/d(input) at every point of the line, [points, 3*32*32].
* :func:`autocorrelation` -- for every lag k, the cosine similarity of g(t) and g(t + k) averaged over t
  (``centred=True``: after subtracting the mean gradient over the line).
* :func:`shattering` -- all of it for one net, as a frame with one row per point / lag.

A net with BN in eval mode and ReLUs is piecewise linear in its input, so g(t) is piecewise constant along
the line: it only changes where some ReLU flips. How fast it decorrelates measures how many units flip, and
how much each flip changes the gradient.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data import normalize


def calibrated(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, batch_size: int = 250) -> nn.Module:
    """A copy of ``model`` in eval mode whose BN running statistics are the (cumulative) batch statistics of
    the uint8 images ``x`` (batches of ``batch_size``); the weights are untouched."""
    model = copy.deepcopy(model).float()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the batches
    device = next(model.parameters()).device
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            model(normalize(x[i:i + batch_size].to(device), mean.to(device)))
    return model.eval()


def line(a: torch.Tensor, b: torch.Tensor, points: int = 256) -> torch.Tensor:
    """``points`` inputs (1 - t) a + t b, t equally spaced in [0, 1] (float tensors of one shape)."""
    if points < 2:
        raise ValueError(f"a line needs at least 2 points; got {points}")
    t = torch.linspace(0, 1, points, dtype=a.dtype).view(-1, *([1] * a.dim()))
    return (1 - t) * a.unsqueeze(0) + t * b.unsqueeze(0)


def input_gradients(model: nn.Module, xs: torch.Tensor, target: int, batch_size: int = 32) -> torch.Tensor:
    """d model(x)[target] / dx at every row of ``xs`` (float, already normalised), flattened: [len(xs), D].

    The model must not mix the rows of a batch (eval-mode BN, or no BN): then the gradient of the sum over
    the batch is each row's own gradient. Raises ValueError for a model with a BN in training mode."""
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in model.modules()):
        raise ValueError("a BN layer is in training mode: the points of the line would interact through the "
                         "batch statistics (calibrate the net and use eval mode)")
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(xs), batch_size):
        xb = xs[i:i + batch_size].to(device).clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(xb)[:, target].sum(), xb)
        out.append(g.detach().flatten(1).double().cpu())
    return torch.cat(out)


def autocorrelation(g: torch.Tensor, centred: bool = False) -> np.ndarray:
    """``r[k]`` = mean over t of cos(g[t], g[t + k]) for k = 0 .. len(g) - 1 (r[0] = 1 for non-zero rows).

    ``centred=True`` subtracts the mean of g over the line first (the fluctuating part only)."""
    g = torch.as_tensor(g, dtype=torch.float64)
    if g.dim() != 2 or len(g) < 2:
        raise ValueError(f"g must be [points >= 2, D]; got shape {tuple(g.shape)}")
    if centred:
        g = g - g.mean(0, keepdim=True)
    u = g / g.norm(dim=1, keepdim=True).clamp_min(1e-300)
    c = u @ u.T  # all pairwise cosines
    n = len(g)
    return np.array([float(torch.diagonal(c, k).mean()) for k in range(n)])


def correlation_length(r: np.ndarray, level: float = 0.5) -> int | None:
    """The first lag at which the autocorrelation ``r`` falls below ``level`` (None if it never does)."""
    below = np.nonzero(np.asarray(r) < level)[0]
    return int(below[0]) if len(below) else None


def shattering(model: nn.Module, a: torch.Tensor, b: torch.Tensor, mean: torch.Tensor, target: int,
               calibration: torch.Tensor | None = None, points: int = 256, coordinate: int = 0,
               batch_size: int = 32) -> pd.DataFrame:
    """The gradient along the line from uint8 image ``a`` to ``b`` of the logit ``target``, one row per point.

    ``calibration``: uint8 images whose batch statistics become the BN running statistics (then eval mode);
    None: ``model`` is used as it is (it must not be in training mode if it has BN).
    Columns: t, coordinate (g(t) at flattened input index ``coordinate``), grad_norm (|g(t)|), lag (0 ..
    points - 1), autocorr (mean cosine at that lag), autocorr_centred (the same after removing the mean
    gradient), logit (the scalar itself along the line).
    """
    net = calibrated(model, calibration, mean) if calibration is not None else copy.deepcopy(model).float()
    device = next(net.parameters()).device
    xa, xb = (normalize(v.unsqueeze(0), mean)[0] for v in (a, b))
    xs = line(xa, xb, points)
    g = input_gradients(net, xs, target, batch_size)
    with torch.no_grad():
        logits = torch.cat([net(xs[i:i + batch_size].to(device))[:, target].cpu()
                            for i in range(0, points, batch_size)])
    return pd.DataFrame(dict(t=np.linspace(0, 1, points), coordinate=g[:, coordinate].numpy(),
                             grad_norm=g.norm(dim=1).numpy(), lag=np.arange(points),
                             autocorr=autocorrelation(g), autocorr_centred=autocorrelation(g, centred=True),
                             logit=logits.double().numpy()))
