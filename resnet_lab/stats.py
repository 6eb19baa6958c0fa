"""The book's rule for reading a difference between two nets, stated once (the glossary quotes ``RULE``).

- A comparison is **judged** only when each arm has at least ``MIN_SEEDS`` (3) seeds: means with 95% intervals
  (Student's t), and Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) on the difference.
- The comparisons of one figure or table form a family: their p-values are corrected with Holm's method, so the
  chance of calling any true non-difference in the family a difference is at most ``ALPHA`` (5%).
- With fewer seeds a difference is **described**, never called a finding.

Nothing here knows of runs or the book: plain lists of numbers in, numbers and words out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

MIN_SEEDS = 3
ALPHA = 0.05
RULE = (f"A difference between two nets is judged only when each has at least {MIN_SEEDS} seeds: we report the "
        f"means with 95% intervals and Welch's t-test on the difference, with Holm's correction over the "
        f"comparisons of one figure or table, so the chance of calling any real non-difference in that figure or "
        f"table a difference is at most {ALPHA:.0%}. A difference resting on fewer seeds is described, never "
        f"judged.")

SHOWN, NOT_SHOWN, NOT_JUDGED = "difference", "no difference shown", "not judged"


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t interval of the mean; (mean, nan, nan) for fewer than 2 values."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    half = float(_st.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, m - half, m + half


@dataclass(frozen=True)
class Comparison:
    """Arm a against arm b: ``diff`` = mean(a) - mean(b), its Welch 95% interval, Welch's p (raw, and after Holm's
    correction over its family: ``p_adj``), the seed counts, and the verdict word."""
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    p: float
    p_adj: float
    verdict: str

    @property
    def judged(self) -> bool:
        return self.verdict != NOT_JUDGED


def welch(a, b, level: float = 0.95) -> tuple[float, float, float, float]:
    """(diff, low, high, p) of Welch's test of mean(a) - mean(b): the interval uses Welch-Satterthwaite degrees
    of freedom; NaN where either arm has fewer than 2 values or both have no spread."""
    a, b = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return diff, math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff, (1.0 if diff == 0 else 0.0)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(_st.t.ppf(0.5 + level / 2, df) * se)
    p = float(_st.ttest_ind(a, b, equal_var=False).pvalue)
    return diff, diff - half, diff + half, p


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted in the family)."""
    p = [float(x) for x in pvalues]
    idx = [i for i, x in enumerate(p) if not math.isnan(x)]
    m = len(idx)
    out = [math.nan] * len(p)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def compare_family(pairs: dict, alpha: float = ALPHA) -> dict[str, Comparison]:
    """``{name: (values_a, values_b)}`` -> ``{name: Comparison}``: every pair with at least ``MIN_SEEDS`` values
    per arm is judged by Welch's test, Holm-corrected over the judged pairs of this family; the others are
    described (``NOT_JUDGED``)."""
    raw = {}
    for name, (a, b) in pairs.items():
        a, b = list(a), list(b)
        if not a or not b:
            raise ValueError(f"comparison {name!r} has an arm with no values")
        diff, lo, hi, p = welch(a, b)
        judged = len(a) >= MIN_SEEDS and len(b) >= MIN_SEEDS
        raw[name] = (a, b, diff, lo, hi, p if judged else math.nan)
    adj = dict(zip(raw, holm([r[5] for r in raw.values()])))
    out = {}
    for name, (a, b, diff, lo, hi, p) in raw.items():
        pa = adj[name]
        verdict = NOT_JUDGED if math.isnan(pa) else SHOWN if pa < alpha else NOT_SHOWN
        out[name] = Comparison(len(a), len(b), float(np.mean(a)), float(np.mean(b)), diff, lo, hi, p, pa, verdict)
    return out


def verdict_text(c: Comparison, with_p: bool = False) -> str:
    """One short phrase for a table cell or sentence: 'difference', 'no difference shown' (with ``with_p``:
    'difference (p = 0.003, Holm)'), or 'not judged: 1 seed vs 1' -- never 'a finding' from one seed."""
    if not c.judged:
        return f"{NOT_JUDGED}: {c.n_a} seed{'s' * (c.n_a != 1)} vs {c.n_b}"
    return f"{c.verdict} (p = {c.p_adj:.2g}, Holm)" if with_p else c.verdict


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]] (``scipy.stats.fisher_exact``): with the
    margins fixed, the probability of a table at most as likely as the one observed."""
    return float(_st.fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue)
