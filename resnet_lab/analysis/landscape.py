"""Loss landscapes of trained nets (Li, Xu, Taylor, Studer, Goldstein 2018, "Visualizing the Loss Landscape of
Neural Nets"): the loss on a 2-D slice ``L(theta + a d1 + b d2)`` through the trained weights ``theta``.

Choices, matched to the paper's default and its reference code (tomgoldstein/loss-landscape:
``create_random_direction(net, dir_type='weights', ignore='biasbn', norm='filter')``, evaluated with
``net.eval()``):

* **Directions** are Gaussian and *filter-normalised*: every filter of a direction (one output channel of a
  conv weight, one output row of the FC weight) is rescaled to the norm of the corresponding filter of
  ``theta``, so a step of 1 changes every filter by as much as it is long -- this removes the scale invariance
  that BN gives conv filters, and makes nets of different weight scales comparable.
* **BN parameters and biases** (every parameter with one dimension: BN gamma/beta, the FC bias) get a zero
  direction: they are not perturbed.
* **BN running statistics** are not parameters: they are neither perturbed nor re-estimated; BN is in eval mode
  at every grid point, using the trained net's running mean and variance (the reference code's
  ``dir_type='weights'`` with ``net.eval()``).
* **Data**: a fixed subset of the training split, without augmentation.
* **Seed**: both directions come from one ``torch.Generator`` seeded with ``seed``, drawn parameter by
  parameter in ``named_parameters()`` order; two nets with the same parameter shapes (a ResNet and its
  option-A plain twin) get the same Gaussian draws before normalisation.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .lesion import evaluate


def random_direction(model: nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One filter-normalised Gaussian direction, keyed by parameter name; zero for 1-D parameters."""
    out = {}
    for name, p in model.named_parameters():
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32)
        if p.dim() <= 1:
            d.zero_()  # BN gamma/beta and biases: not perturbed ('biasbn')
        else:
            w = p.detach().float().cpu()
            wn = w.flatten(1).norm(dim=1)
            dn = d.flatten(1).norm(dim=1)
            d.mul_((wn / (dn + 1e-10)).view(-1, *([1] * (p.dim() - 1))))
        out[name] = d.to(p.device)
    return out


def directions(model: nn.Module, seed: int = 0) -> tuple[dict, dict]:
    """The two directions of a 2-D slice (d1 first, then d2, from one generator seeded with ``seed``)."""
    g = torch.Generator().manual_seed(seed)
    return random_direction(model, g), random_direction(model, g)


def _flat(d: dict) -> torch.Tensor:
    return torch.cat([v.flatten().cpu() for v in d.values()])


@torch.no_grad()
def loss_grid(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, d1: dict, d2: dict,
              coords, batch_size: int = 500, progress=None, partial=None) -> dict:
    """Loss and error at ``theta + a d1 + b d2`` for a, b in ``coords``, BN in eval mode.

    Returns lists of rows: ``loss[i][j]`` is at ``(a, b) = (coords[j], coords[i])`` (rows are b, columns a,
    as ``matplotlib.contour`` reads them). The model's weights are restored afterwards. ``progress(row, rows)``
    is called after each row; ``partial(key, compute)`` (optional, e.g. a
    :class:`resnet_lab.record.PartialAnalysis`) returns a point an earlier, stopped process already evaluated,
    or evaluates it."""
    params = dict(model.named_parameters())
    theta = {n: p.detach().clone() for n, p in params.items()}
    coords = [float(c) for c in coords]
    device = next(model.parameters()).device.type
    loss = [[0.0] * len(coords) for _ in coords]
    err = [[0.0] * len(coords) for _ in coords]
    try:
        for i, b in enumerate(coords):
            for j, a in enumerate(coords):
                def point(a=a, b=b):
                    for n, p in params.items():
                        p.copy_(theta[n] + a * d1[n] + b * d2[n])
                    return evaluate(model, x, y, mean, batch_size)
                r = partial(f"{i}/{j}", point, device) if partial is not None else point()
                loss[i][j], err[i][j] = r["loss"], r["error"]
            if progress:
                progress(i + 1, len(coords))
    finally:
        for n, p in params.items():
            p.copy_(theta[n])
    return {"coords": coords, "loss": loss, "error": err}


def landscape(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, steps: int = 21,
              span: float = 1.0, seed: int = 0, batch_size: int = 500, progress=None, partial=None) -> dict:
    """The 2-D slice on a ``steps`` x ``steps`` grid over [-span, span]^2 (JSON-able), with what produced it."""
    model = model.float().eval()
    d1, d2 = directions(model, seed)
    f1, f2 = _flat(d1), _flat(d2)
    out = loss_grid(model, x, y, mean, d1, d2, np.linspace(-span, span, steps), batch_size, progress, partial)
    out.update(steps=steps, span=span, seed=seed, images=len(x),
               direction_norm=[float(f1.norm()), float(f2.norm())],
               weight_norm=float(torch.cat([p.detach().flatten().cpu() for p in model.parameters()
                                            if p.dim() > 1]).norm()),
               cosine=float(f1 @ f2 / (f1.norm() * f2.norm())))
    return out


def _at(coords: np.ndarray, v: float) -> int:
    return int(np.abs(coords - v).argmin())


def sharpness(result: dict) -> dict:
    """Numbers read off a grid (all on the same training subset, BN in eval mode):

    * ``centre_loss`` / ``centre_error``: the trained net;
    * ``rise_0.5`` / ``rise_1.0``: mean loss at the four axis points at distance 0.5 (1.0) from the centre,
      minus the centre loss;
    * ``below_chance``: fraction of the grid's points whose loss is below ln 10 = 2.30 (a uniform guess);
    * ``nonconvex``: fraction of the interior points where the slice curves down in some direction (the
      2x2 finite-difference Hessian has a negative eigenvalue) -- of the points whose loss is below chance,
      so that the flat, saturated outskirts do not count.
    """
    c = np.asarray(result["coords"])
    L = np.asarray(result["loss"])
    i0 = _at(c, 0.0)
    out = {"centre_loss": float(L[i0, i0]), "centre_error": float(np.asarray(result["error"])[i0, i0])}
    for r in (0.5, 1.0):
        lo, hi = _at(c, -r), _at(c, r)
        ring = [L[i0, lo], L[i0, hi], L[lo, i0], L[hi, i0]]
        out[f"rise_{r}"] = float(np.mean(ring) - L[i0, i0])
    out["below_chance"] = float((L < np.log(10)).mean())
    h = float(c[1] - c[0]) if len(c) > 1 else 1.0
    if len(c) >= 3:
        inner = L[1:-1, 1:-1]
        daa = (L[1:-1, 2:] - 2 * inner + L[1:-1, :-2]) / h ** 2
        dbb = (L[2:, 1:-1] - 2 * inner + L[:-2, 1:-1]) / h ** 2
        dab = (L[2:, 2:] - L[2:, :-2] - L[:-2, 2:] + L[:-2, :-2]) / (4 * h ** 2)
        lam_min = (daa + dbb) / 2 - np.sqrt(((daa - dbb) / 2) ** 2 + dab ** 2)
        mask = inner < np.log(10)
        out["nonconvex"] = float((lam_min[mask] < 0).mean()) if mask.any() else float("nan")
    else:
        out["nonconvex"] = float("nan")
    return out
