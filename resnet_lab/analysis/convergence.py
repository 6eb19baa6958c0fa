"""How fast do plain and residual nets converge at lr 0.1? The paper's conjecture, measured on the training curves.

Sec. 4.1 of the paper: "We conjecture that the deep plain nets may have exponentially low convergence rates,
which impact the reducing of the training error" (and, in its footnote, more iterations did not remove the
degradation). If the rate falls exponentially with depth, the time a net needs to reach a given training error
grows exponentially with depth: a straight line against depth on a log axis.

The measurement reads only a run's recorded training curve: for each error level, the first iteration at which
the training error, averaged over the last ``window`` logged points, is below the level -- in the first phase at
lr 0.1 only (before the first lr drop, which speeds every net up at once). A net that does not reach a level
before the drop is *censored* there (``None``), not given a made-up time.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

LEVELS = (0.8, 0.7, 0.6, 0.5)  # the cpu sweep's nets cross these, or nearly, before the first lr drop
CHANCE_LEVEL = 0.8  # below it a net has left chance (0.9) behind: the time to it shows a slow start, not a rate
WINDOW = 3  # logged points averaged (3 x 50 iterations at the cpu profile)


def iterations_to(train: Sequence[Mapping], level: float, until: int, window: int = WINDOW) -> float | None:
    """When the training curve first crosses below ``level``, at or before ``until``: the curve is smoothed by a
    centred mean over ``window`` logged points (no lag, unlike a trailing mean), and the crossing is interpolated
    linearly between the two logged points around it. None when it does not get there by ``until``; the first
    logged iteration when it starts below the level (the earliest time this curve can resolve)."""
    f = pd.DataFrame(list(train))
    if f.empty:
        return None
    f = f[f["iter"] <= until].reset_index(drop=True)
    smooth = f["error"].rolling(window, center=True, min_periods=1).mean()
    below = np.flatnonzero(smooth.to_numpy() < level)
    if not len(below):
        return None
    i = int(below[0])
    if i == 0:
        return float(f["iter"].iloc[0])
    x0, x1, y0, y1 = f["iter"].iloc[i - 1], f["iter"].iloc[i], smooth.iloc[i - 1], smooth.iloc[i]
    return float(x0 + (y0 - level) / (y0 - y1) * (x1 - x0))


COLUMNS = ["net", "depth", "residual", "warmup", "level", "iteration"]


def times(curves: Mapping[str, dict], until: int, levels: Sequence[float] = LEVELS,
          window: int = WINDOW) -> pd.DataFrame:
    """One row per (net, level): ``curves[name]`` = dict(depth=, residual=, train=[{iter, error, lr}, ...]).
    ``warmup``: the run started below lr 0.1 (ResNet-110's warm-up), so its times include that phase."""
    rows = []
    for name, c in curves.items():
        warm = any(p.get("lr", 0.1) < 0.1 for p in list(c["train"])[:3])
        for level in levels:
            rows.append(dict(net=name, depth=int(c["depth"]), residual=bool(c["residual"]), warmup=warm,
                             level=float(level), iteration=iterations_to(c["train"], level, until, window)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _r2(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, r^2) of the least-squares line of y on x."""
    slope, intercept = np.polyfit(x, y, 1)
    ss = float(((y - y.mean()) ** 2).sum())
    return float(slope), (1 - float(((y - slope * x - intercept) ** 2).sum()) / ss if ss > 0 else float("nan"))


def growth(frame: pd.DataFrame, residual: bool, level: float, per: int = 12,
           depths: Sequence[int] | None = None) -> dict | None:
    """Least squares of log(iterations) on depth for one family at one level (optionally only at ``depths``):
    the factor by which the time to ``level`` grows every ``per`` layers, over the nets that reached it; None
    with fewer than three such nets. ``r2``: of that exponential fit; ``r2_power``: of a power law (log time on
    log depth) over the same nets -- over a few depths both can fit well, and only their contrast says which
    shape the data prefer. ``censored``: the nets that did not reach the level (their time is longer than the
    window, so a fit without them understates the growth)."""
    f = frame[(frame.residual == residual) & (frame.level == level)]
    if depths is not None:
        f = f[f.depth.isin(depths)]
    done = f[f.iteration.notna()]
    if len(done) < 3:
        return None
    x, y = done.depth.to_numpy(float), np.log(done.iteration.to_numpy(float))
    slope, r2 = _r2(x, y)
    return dict(factor=math.exp(slope * per), per=per, r2=r2, r2_power=_r2(np.log(x), y)[1], nets=list(done.net),
                depths=[int(d) for d in done.depth], censored=list(f[f.iteration.isna()].net))
