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


def iterations_to(train: Sequence[Mapping], level: float, until: int, window: int = WINDOW) -> int | None:
    """The first logged iteration (<= ``until``) at which the mean training error of the last ``window`` logged
    points is below ``level``; None when the curve does not get there by ``until``."""
    f = pd.DataFrame(list(train))
    if f.empty:
        return None
    f = f[f["iter"] <= until]
    smooth = f["error"].rolling(window, min_periods=window).mean()
    hit = f["iter"][smooth < level]
    return int(hit.iloc[0]) if len(hit) else None


def times(curves: Mapping[str, dict], until: int, levels: Sequence[float] = LEVELS,
          window: int = WINDOW) -> pd.DataFrame:
    """One row per (net, level): ``curves[name]`` = dict(depth=, residual=, train=[{iter, error}, ...])."""
    rows = []
    for name, c in curves.items():
        for level in levels:
            rows.append(dict(net=name, depth=int(c["depth"]), residual=bool(c["residual"]), level=float(level),
                             iteration=iterations_to(c["train"], level, until, window)))
    return pd.DataFrame(rows)


def growth(frame: pd.DataFrame, residual: bool, level: float, per: int = 12) -> dict | None:
    """Least squares of log(iterations) on depth for one family at one level: the factor by which the time to
    ``level`` grows every ``per`` layers, over the nets that reached it; None with fewer than three such nets.
    ``censored``: the nets that did not reach the level (their time is longer than the window, so a fit without
    them understates the growth)."""
    f = frame[(frame.residual == residual) & (frame.level == level)]
    done = f[f.iteration.notna()]
    if len(done) < 3:
        return None
    x, y = done.depth.to_numpy(float), np.log(done.iteration.to_numpy(float))
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else float("nan")
    return dict(factor=math.exp(slope * per), per=per, r2=r2, nets=list(done.net),
                censored=list(f[f.iteration.isna()].net))
