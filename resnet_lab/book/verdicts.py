"""Comparisons judged by the book's rule (:data:`resnet_lab.stats.RULE`): every recorded seed of each arm, means
with 95% intervals, Welch's test, Holm's correction over the rows of one table. A row whose arms have fewer than
3 seeds is described ("not judged"), and says how many seeds it has.

Chapter 3's table: plain against ResNet at each depth of Fig. 6, on final training and test error.
"""
from __future__ import annotations

import math

import pandas as pd

from .. import experiments, stats
from ..models import paper_name
from ..runs import RunStore


def seed_values(arch: str, metric: str = "final_test_error", profile: str | None = None) -> dict[int, float]:
    """``{seed: metric}`` of every completed, current record of ``arch`` (the paper's blocks, option A for a
    ResNet) at ``profile`` (default: the book's) on the book's data."""
    from .store import _data_source, profile_name
    recs = RunStore().find(arch=arch, profile=profile or profile_name(), variant="basic",
                           data_source=_data_source())
    return {r.config.seed: float(r.metrics[metric]) for r in sorted(recs, key=lambda r: r.config.seed)
            if not r.failed and r.config.shortcut in ("A", None) and metric in r.metrics}


def _interval(m: float, lo: float, hi: float, signed: bool = False) -> str:
    fmt = "+.2f" if signed else ".2f"
    if math.isnan(lo):
        return format(100 * m, fmt)
    return f"{100 * m:{fmt}} [{100 * lo:{fmt}}, {100 * hi:{fmt}}]"


def comparison_table(pairs: dict[str, tuple[dict[int, float], dict[int, float]]], names=("a", "b")) -> pd.DataFrame:
    """One row per comparison ``{label: (seeds of a, seeds of b)}`` (one family: Holm over its judged rows):
    seeds, each arm's mean error [95% interval], the difference a - b [95% Welch interval], Holm's p and the
    verdict. Errors in percent."""
    fam = stats.compare_family({k: (list(a.values()), list(b.values())) for k, (a, b) in pairs.items() if a and b})
    rows = {}
    for label, (a, b) in pairs.items():
        c = fam.get(label)
        if c is None:
            rows[label] = {"seeds": f"{len(a)} / {len(b)}", names[0]: "\u2013", names[1]: "\u2013",
                           "difference": "\u2013", "p (Holm)": "\u2013", "verdict": "not recorded"}
            continue
        rows[label] = {"seeds": f"{c.n_a} / {c.n_b}",
                       names[0]: _interval(*stats.mean_ci(a.values())),
                       names[1]: _interval(*stats.mean_ci(b.values())),
                       "difference": _interval(c.diff, c.low, c.high, signed=True),
                       "p (Holm)": "\u2013" if math.isnan(c.p_adj) else f"{c.p_adj:.2g}",
                       "verdict": stats.verdict_text(c)}
    return pd.DataFrame.from_dict(rows, orient="index")


def plain_vs_resnet(profile: str | None = None) -> pd.DataFrame:
    """Fig. 6's central comparison at each depth both families have: plain minus ResNet, final training and test
    error (points), every recorded seed, judged by the book's rule with Holm over the whole table."""
    pairs = {}
    for metric, what in (("final_train_error", "training"), ("final_test_error", "test")):
        for d in experiments.PLAIN_DEPTHS:
            pairs[f"{paper_name(f'plain{d}')} \u2212 {paper_name(f'resnet{d}')}, {what} error"] = (
                seed_values(f"plain{d}", metric, profile), seed_values(f"resnet{d}", metric, profile))
    return comparison_table(pairs, names=("plain (mean, %)", "ResNet (mean, %)"))


def judged_summary(frame: pd.DataFrame) -> str:
    """One or two plain sentences on a comparison table: how many rows were judged, how many show a difference,
    which rows wait for seeds (Markdown)."""
    judged = frame[frame.verdict.isin((stats.SHOWN, stats.NOT_SHOWN))]
    shown = judged[judged.verdict == stats.SHOWN]
    waiting = frame[frame.verdict.str.startswith(stats.NOT_JUDGED)]
    parts = [f"{len(judged)} of the {len(frame)} comparisons have at least {stats.MIN_SEEDS} seeds per net and are "
             f"judged; {len(shown)} of them show a difference after Holm's correction."]
    if len(waiting):
        parts.append(f"The other {len(waiting)} rest on fewer seeds and are described only (the table says how "
                     f"many); seeds 1 and 2 of the deeper nets are queued (`bash tools/queue.sh`, see the README).")
    return " ".join(parts)
