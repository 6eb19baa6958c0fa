"""Chapter 1 (the degradation problem), and chapter 3's depth comparisons: deeper against shallower nets of one
family under the book's rule (four-column tables, :func:`resnet_lab.book.verdicts.verdict_table`), and the
gradient argument (a table per net and three computed sentences)."""
from __future__ import annotations

import pandas as pd

from ..models import paper_name
from ..runs import RunRecord
from ..stats import MIN_SEEDS, NOT_SHOWN
from .store import _schedule_share
from .verdicts import judged_pairs, seed_range, seed_values, shown_diff, verdict_table

PLAIN = ("plain20", "plain32", "plain44", "plain56")
RESNETS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
WHAT = {"final_train_error": "training error", "final_test_error": "test error"}


def _depth_pairs(records: dict[str, RunRecord], family, metrics) -> tuple[dict, dict]:
    """The comparisons of a depth table: each net of ``family`` recorded in ``records`` against the next shallower
    one, then the deepest against the shallowest (with three nets or more), and, where that pair is not judged,
    the deepest against the shallowest net with 3+ seeds each (ResNet-56 − ResNet-20 while ResNet-110 has one),
    per metric; every recorded seed of each net. Returns (pairs, the depth-20 seed range per pair)."""
    nets = [k for k in family if k in records and not records[k].failed]
    steps = list(zip(nets, nets[1:])) + ([(nets[0], nets[-1])] if len(nets) >= 3 else [])
    # where the ends are not both judged, the deepest and shallowest nets that are (3+ seeds each) as well
    full = [k for k in nets if len(seed_values(k, metrics[0])) >= MIN_SEEDS] if metrics else []
    if len(full) >= 2 and (full[0], full[-1]) not in steps:
        steps.append((full[0], full[-1]))
    pairs, ranges = {}, {}
    for metric in metrics:
        rng = seed_range(metric)
        for shallow, deep in steps:
            label = f"{paper_name(deep)} \u2212 {paper_name(shallow)}, {WHAT[metric]}"
            pairs[label] = (seed_values(deep, metric), seed_values(shallow, metric))
            ranges[label] = rng
    return pairs, ranges


def depth_table(records: dict[str, RunRecord], family=PLAIN,
                metrics=("final_train_error", "final_test_error")) -> pd.DataFrame:
    """Deeper against shallower nets of one family (:data:`PLAIN` or :data:`RESNETS`): each step of depth and the
    two ends, per metric, every recorded seed, judged by the book's rule with Holm over the table (pair,
    difference deeper - shallower in points, uncertainty, verdict). Empty when fewer than two nets are recorded."""
    return verdict_table(*_depth_pairs(records, family, metrics))


def deeper_resnets_note(records: dict[str, RunRecord], metrics=("final_train_error", "final_test_error")) -> str:
    """One sentence: a deeper against a shallower ResNet in training error -- the widest pair the book's rule judges
    (3+ seeds each), else the deepest against the shallowest recorded, described -- set beside the paper's Fig. 6
    (middle), where the deeper ResNet ends with the lower training error. Read from the same family as
    :func:`depth_table` with ``metrics`` (so its verdict is that table's row); '' with fewer than two ResNets."""
    pairs, ranges = _depth_pairs(records, RESNETS, metrics)
    judged = judged_pairs(pairs, ranges)
    labels = [k for k in reversed(list(pairs)) if k.endswith(WHAT["final_train_error"])]
    if not labels:
        return ""
    # a judged pair (3+ seeds each; the widest comes last in the table) where there is one, else the two ends
    label = next((k for k in labels if judged[k]["c"] is not None and judged[k]["c"].judged), labels[0])
    c, rng = judged[label].values()
    if c is None:
        return ""
    row = label.rsplit(",", 1)[0]
    opposite = (f"our runs show the opposite at this profile: after {_schedule_share()} of the paper's schedule the "
                f"deeper ResNet fits its training data less well than the shallower one")
    if c.judged:
        verdict = ("our seeds show no difference either way at this profile" if c.verdict == NOT_SHOWN else
                   "our runs agree" if c.diff < 0 else opposite)
    elif rng is None:
        verdict = (f"the depth-20 seed range is not measured yet, and with {c.n_a} seed{'s' * (c.n_a != 1)} vs "
                   f"{c.n_b} it is described, not judged")
    elif abs(c.diff) <= rng[0]:
        verdict = (f"within the seed range measured at depth 20, and with {c.n_a} seed{'s' * (c.n_a != 1)} vs "
                   f"{c.n_b} it is described, not judged")
    else:
        verdict = ("our runs agree" if c.diff < 0 else opposite) + " (described, not judged)"
    return (f"In the paper (Fig. 6 middle, full schedule) the deeper ResNet ends with the lower training error. "
            f"Here {row} in training error is {shown_diff(c):+.2f} points: {verdict}.")


def gradient_table(stats: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per net (and state): the range of the forward response std over the 3x3 layers, the gradient RMS at the
    last and at the first 3x3 layer, and their ratio first/last (above 1: the gradient grows on its way back)."""
    rows = {}
    for label, f in stats.items():
        g = f["grad_rms"].to_numpy()
        lo, hi = f"{f['std'].min():.2f}", f"{f['std'].max():.2f}"
        rows[label] = {"forward std": lo if lo == hi else f"{lo} to {hi}",
                       "gradient RMS, last 3x3 layer": f"{g[-1]:.2e}", "gradient RMS, first 3x3 layer": f"{g[0]:.2e}",
                       "ratio first / last": f"{g[0] / g[-1]:.3g}"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("net")


def gradient_report(stats: dict[str, pd.DataFrame]) -> str:
    """Three labelled sentences, where the frames are there: depth (plain-20 vs plain-56 at initialisation), the
    control (plain-56 against its residual twin at initialisation) and after training -- each reading the ratio
    first/last of :func:`gradient_table`."""
    lines = []
    ratio = {label: float(f["grad_rms"].iloc[0] / f["grad_rms"].iloc[-1]) for label, f in stats.items()}
    p20, p = ratio.get("plain20 (init)"), ratio.get("plain56 (init)")
    r = ratio.get("resnet56 (init)")
    if p20 is not None and p is not None:
        lines.append(f"- **Depth**, at initialisation: the first/last ratio is {p20:.3g} for plain-20 and {p:.3g} for "
                     f"plain-56 -- the growth {'itself grows' if p > p20 > 1 else 'does NOT grow'} with depth.")
    if p is not None and r is not None:
        still = ("ResNet-56's gradient still grows on its way back, less" if 1 < r < p else
                 "ResNet-56's gradient does not grow on its way back" if r <= 1 else
                 "ResNet-56's gradient grows MORE than plain-56's")
        effect = (f"the shortcuts cut the growth by a factor of {p / r:.3g}" if r < p else
                  f"the shortcuts do not cut the growth (it is {r / p:.3g} times plain-56's)")
        lines.append(f"- **Control** at initialisation: the gradient changes {p:.3g}-fold through plain-56 and "
                     f"{r:.3g}-fold through ResNet-56 -- {effect}; {still}.")
    pt, rt = ratio.get("plain56 (trained)"), ratio.get("resnet56 (trained)")
    if p is not None and pt is not None:
        twin = (f"; through ResNet-56 the ratio goes from {r:.3g} at initialisation to {rt:.3g} after training"
                if r is not None and rt is not None else "")
        state = ("the first layer's gradient is within a factor of ten of the last layer's: neither an explosion nor "
                 "a vanishing gradient is left" if 0.1 < pt < 10 else
                 "the gradient still grows more than tenfold on its way back" if pt >= 10 else
                 "the gradient falls more than tenfold on its way back: it vanishes")
        lines.append(f"- **After training**: the first/last gradient ratio of plain-56 is {pt:.3g} (at initialisation "
                     f"{p:.3g}): training "
                     f"{'removes the growth' if pt <= 1 else 'reduces the growth' if pt < p else 'does not reduce it'}"
                     f"; {state}{twin}.")
    return "\n".join(lines)
