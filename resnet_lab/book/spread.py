"""The seed-to-seed spread at depth 20, and the words for one-seed differences: described against it, never judged
(the book's rule, :data:`resnet_lab.stats.RULE`, judges only arms of 3+ seeds: :mod:`resnet_lab.book.verdicts`)."""
from __future__ import annotations

from .. import experiments
from ..runs import RunRecord, RunStore
from .render import _shown, pct2
from .store import RunSet, _config, seeds


def _widest_range(metric: str, values_of) -> tuple[float, int] | None:
    """(range, seeds) of the spread net (ResNet-20, plain-20) whose ``metric`` varies most over its seeds;
    ``values_of(arch)`` gives the values of its recorded, not failed, seeds. None until one has two seeds."""
    best = None
    for arch in experiments.SPREAD_ARCHS:
        vals = values_of(arch)
        if len(vals) >= 2 and (best is None or max(vals) - min(vals) > best[0]):
            best = (max(vals) - min(vals), len(vals))
    return best


def seed_spread(metric: str = "final_test_error") -> float | None:
    """The seed-to-seed spread of ``metric``: the largest range (max - min) over the seeds of each net trained
    with several seeds (ResNet-20, plain-20) at this profile; None until some net has two seeds recorded."""
    best = _widest_range(metric, lambda a: [r.metrics[metric] for r in seeds(a).values() if not r.failed])
    return best[0] if best else None


def spread_runs() -> RunSet:
    """Every seed of the nets that measure the seed spread (ResNet-20, plain-20), with the missing ones named."""
    sets = [seeds(a) for a in experiments.SPREAD_ARCHS]
    return RunSet({k: v for s in sets for k, v in s.items()}, missing=[c for s in sets for c in s.missing])


def seed_spread_report() -> str:
    """The seed spread of the final training and test error, in Markdown, with the seeds it rests on."""
    lines = []
    for metric, what in (("final_train_error", "training"), ("final_test_error", "test")):
        s, n = seed_spread(metric), spread_seeds(metric)
        lines.append(f"- Seed spread of the final {what} error: " + (
            f"{100 * s:.1f} points (the largest range over {n} seeds of one net)." if s is not None
            else "not measured yet (needs two seeds of one net)."))
    note = spread_runs().note()
    return "\n".join(lines) + (f"\n\n{note}" if note else "")


def spread_seeds(metric: str = "final_test_error") -> int | None:
    """How many seeds the seed spread of ``metric`` rests on: those of the net whose range is the spread. Reads
    the store only (never trains, unlike :func:`seeds` with training allowed)."""
    store = RunStore()

    def values_of(arch):
        recs = [store.get(_config(arch, seed=s)) for s in experiments.seeds_of(arch)]
        return [r.metrics[metric] for r in recs if r is not None and not r.failed]
    best = _widest_range(metric, values_of)
    return best[1] if best else None


def judge(diff: float, spread: float | None, metric: str = "final_test_error", seeds: int | None = None,
          unit: str = "points", arms: tuple[int, int] | None = None) -> str:
    """The words for a difference between single runs (one seed per arm): described, never judged -- the book's
    rule (:data:`resnet_lab.stats.RULE`) judges only arms of 3+ seeds. For scale it says whether ``diff`` is
    larger than the measured seed range of ``metric`` at depth 20 (``seeds`` seeds, else read from the store).
    ``unit``: 'points' for an error (a fraction, shown in percentage points), or '' for a quantity shown as it is.
    ``arms``: the seeds behind each side when not one each ('1 seed vs 3: described, not judged')."""
    who = ("one seed per net" if arms is None or arms == (1, 1) else
           f"{arms[0]} seed{'s' * (arms[0] != 1)} vs {arms[1]}")
    if spread is None:
        return f"{who}: described, not judged (the seed range is not measured yet at this profile)"
    n = seeds if seeds is not None else spread_seeds(metric)
    what = (f"{100 * spread:.2f} points" if unit == "points" else f"{spread:.3f}") + (f", {n} seeds" if n else "")
    rel = "larger than" if abs(diff) > spread + 1e-9 else "within"  # as printed: equal is within
    return f"{rel} the depth-20 seed range ({what}); {who}: described, not judged"


def compare(name_a: str, a: RunRecord, name_b: str, b: RunRecord, metric: str = "final_test_error") -> str:
    """One sentence: ``a`` against ``b`` on ``metric``, judged against the seed spread."""
    what = {"final_test_error": "test error", "final_train_error": "training error"}[metric]
    ea, eb = _shown(a.metrics[metric]), _shown(b.metrics[metric])
    rel = "below" if ea < eb else "above" if ea > eb else "equal to"
    return (f"{name_a} {what} {pct2(ea)} is {rel} {name_b}'s {pct2(eb)} by {100 * abs(ea - eb):.2f} points -- "
            f"{judge(ea - eb, seed_spread(metric), metric)}.")


def pair_report(records: dict[str, RunRecord], a: str, b: str) -> str:
    """``records[a]`` against ``records[b]`` in training and in test error, judged against the seed spread
    (Markdown list); says which is not recorded when one is missing."""
    absent = [k for k in (a, b) if k not in records or records[k].failed]
    if absent:
        return f"- Not compared yet: {' and '.join(absent)} not recorded at this profile."
    return "\n".join(f"- {compare(a, records[a], b, records[b], m)}" for m in ("final_train_error", "final_test_error"))


def steps_report(records: dict[str, RunRecord], names: list[str], metric: str = "final_train_error") -> str:
    """Each step of depth along ``names`` (shallow to deep) on ``metric``, each judged against the seed spread:
    'resnet32 1.3 points below resnet20 (beyond the depth-20 seed range, one seed); ...' -- described, not judged
    ('' with fewer than three nets: the endpoints say it)."""
    if len(names) < 3:
        return ""
    spread, parts = seed_spread(metric), []
    for a, b in zip(names, names[1:]):
        d = _shown(records[b].metrics[metric]) - _shown(records[a].metrics[metric])
        rel = "below" if d < 0 else "above" if d > 0 else "equal to"
        verdict = ("one seed" if spread is None else "beyond the depth-20 seed range, one seed" if abs(d) > spread
                   else "within the depth-20 seed range")
        parts.append(f"{b} {100 * abs(d):.2f} points {rel} {a} ({verdict})")
    what = {"final_test_error": "test error", "final_train_error": "training error"}[metric]
    return f"step by step in {what} (one seed per net: described, not judged): " + "; ".join(parts)
