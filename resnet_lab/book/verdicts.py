"""Comparisons judged by the book's rule (:data:`resnet_lab.stats.RULE`): every recorded seed of each arm, means
with 95% intervals, Welch's test, Holm's correction over the rows of one table. A row whose arms have fewer than
3 seeds is described ("not judged"), and says how many seeds it has.

Chapter 3's table: plain against ResNet at each depth of Fig. 6, on final training and test error. The four-column
tables of chapters 1, 3 and 7 (:func:`verdict_table`): pair, difference, uncertainty, verdict.
"""
from __future__ import annotations

import math

import pandas as pd

from .. import experiments, stats
from ..models import paper_name


def seed_values(arch: str, metric: str = "final_test_error", profile: str | None = None, shortcut: str = "A",
                variant: str = "basic") -> dict[int, float]:
    """``{seed: metric}`` of every completed, current record of ``arch`` (default: the paper's blocks, option A for
    a ResNet; a plain net has no shortcut) at ``profile`` (default: the book's) on the book's data."""
    from .store import paper_records
    return {r.config.seed: float(r.metrics[metric])
            for r in paper_records(arch, profile, shortcut=shortcut, variant=variant) if metric in r.metrics}


def _interval(m: float, lo: float, hi: float, signed: bool = False, scale: float = 100, digits: int = 2) -> str:
    fmt = f"{'+' if signed else ''}.{digits}f"
    if math.isnan(lo):
        return format(scale * m, fmt)
    return f"{scale * m:{fmt}} [{scale * lo:{fmt}}, {scale * hi:{fmt}}]"


def _times(m: float, lo: float, hi: float, digits: int = 2, prefix: str = "") -> str:
    """A value from the log scale, back as a factor: 'x4.2 [x0.9, x19.6]' (``prefix`` 'x'), or '2.18 [1.1, 4.3]'."""
    f = lambda v: f"{prefix}{math.exp(v):.{digits}f}"  # noqa: E731
    return f(m) if math.isnan(lo) else f"{f(m)} [{f(lo)}, {f(hi)}]"


def comparison_table(pairs: dict[str, tuple[dict[int, float], dict[int, float]]], names=("a", "b"),
                     scale: float = 100, digits: int = 2, ratio: bool = False) -> pd.DataFrame:
    """One row per comparison ``{label: (seeds of a, seeds of b)}`` (one family: Holm over its judged rows):
    seeds, each arm's mean [95% interval], the difference a - b [95% Welch interval], Holm's p and the verdict.
    Values are printed times ``scale`` (errors: 100, in percent) to ``digits`` decimals. ``ratio``: for positive
    quantities that vary by factors (a ratio of stds): the test runs on their logarithms, each arm is its geometric
    mean and the comparison the ratio a / b of those, each with its 95% interval."""
    if ratio:
        pairs = {k: ({s: math.log(v) for s, v in a.items()}, {s: math.log(v) for s, v in b.items()})
                 for k, (a, b) in pairs.items()}
    fam = _family(pairs)
    iv = dict(scale=scale, digits=digits)
    arm = (lambda v: _times(*stats.mean_ci(v), digits=digits)) if ratio else \
        (lambda v: _interval(*stats.mean_ci(v), **iv))
    diff_col = "ratio first / second" if ratio else "difference"
    rows = {}
    for label, (a, b) in pairs.items():
        c = fam.get(label)
        if c is None:
            rows[label] = {"seeds": f"{len(a)} / {len(b)}", names[0]: "\u2013", names[1]: "\u2013",
                           diff_col: "\u2013", "p (Holm)": "\u2013", "verdict": "not recorded"}
            continue
        rows[label] = {"seeds": f"{c.n_a} / {c.n_b}",
                       names[0]: arm(list(a.values())),
                       names[1]: arm(list(b.values())),
                       diff_col: (_times(c.diff, c.low, c.high, digits=digits, prefix="\u00d7") if ratio else
                                  _interval(c.diff, c.low, c.high, signed=True, **iv)),
                       "p (Holm)": "\u2013" if math.isnan(c.p_adj) else f"{c.p_adj:.2g}",
                       "verdict": stats.verdict_text(c)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _family(pairs: dict) -> dict[str, stats.Comparison]:
    """The book's rule over one family of comparisons (the pairs whose arms both have seeds)."""
    return stats.compare_family({k: (list(a.values()), list(b.values())) for k, (a, b) in pairs.items() if a and b})


def seed_range(metric: str = "final_test_error") -> tuple[float, int] | None:
    """(range, seeds) of ``metric`` at depth 20 (:func:`resnet_lab.book.spread.seed_spread`): the scale a one-seed
    difference is described against; None until one net has two seeds."""
    from .spread import seed_spread, spread_seeds
    s = seed_spread(metric)
    return None if s is None else (s, spread_seeds(metric))


def judged_pairs(pairs: dict[str, tuple[dict[int, float], dict[int, float]]],
                 ranges: dict[str, tuple[float, int] | None] | None = None) -> dict[str, dict]:
    """Each comparison ``{pair: (seeds of a, seeds of b)}`` of one family under the book's rule: ``{pair:
    {"c": Comparison or None (an arm not recorded), "range": (range, seeds) or None}}``; ``ranges`` gives, per
    pair, the depth-20 seed range it is described against where it is not judged."""
    fam = _family(pairs)
    return {label: {"c": fam.get(label), "range": (ranges or {}).get(label)} for label in pairs}


def shown_diff(c: stats.Comparison) -> float:
    """The difference of the arms' means in points as the book prints it: of the means rounded to two decimals, so
    that it is the difference a reader computes from the errors printed beside it (17.91 - 17.59 = 0.32)."""
    return round(100 * c.mean_a, 2) - round(100 * c.mean_b, 2)


def described(c: stats.Comparison, rng: tuple[float, int] | None) -> str:
    """Where a one-seed difference lies against the depth-20 seed range: 'larger than' / 'within' it ('' when the
    range is not measured). Description for scale, not a verdict."""
    if rng is None:
        return ""
    return f"{'larger than' if abs(c.diff) > rng[0] else 'within'} the depth-20 seed range"


def not_shown_reasons(pairs: dict[str, tuple[dict[int, float], dict[int, float]]], scale: float = 100,
                      digits: int = 2) -> str:
    """Why a judged comparison of one family (``{"a − b[, what]": (seeds of a, seeds of b)}``, Holm over it as in
    :func:`comparison_table`) shows no difference: each net's range over its seeds, whether they fall apart, and
    how often seeds that few fall apart this cleanly by chance (Markdown sentences; '' when none)."""
    fam, out = _family(pairs), []
    f = lambda v: f"{scale * v:.{digits}f}"  # noqa: E731
    for label, (a, b) in pairs.items():
        c = fam.get(label)
        if c is None or c.verdict != stats.NOT_SHOWN:
            continue
        name_a, name_b = (x.split(",")[0].strip() for x in label.split("\u2212", 1))
        va, vb = sorted(a.values()), sorted(b.values())
        side = "below" if va[-1] < vb[0] else "above" if va[0] > vb[-1] else None
        apart = (f"every {name_a} seed lies {side} every {name_b} seed, but seeds this few fall apart this cleanly, "
                 f"one way or the other, with probability 2 in {math.comb(len(va) + len(vb), len(va))} when the "
                 f"nets do not differ; " if side else "the two nets' seeds overlap; ")
        wide = max((name_a, va), (name_b, vb), key=lambda t: t[1][-1] - t[1][0])
        iv = f"{scale * c.low:+.{digits}f} to {scale * c.high:+.{digits}f}"
        tail = (f"so Welch's 95% interval for the difference runs from {iv} and more seeds are what would narrow it."
                if c.low <= 0 <= c.high else
                f"and Welch's 95% interval for this difference alone ({iv}) leaves out zero, but its p does not "
                f"survive Holm's correction over the table's {sum(x.judged for x in fam.values())} judged comparisons.")
        out.append(f"{label}: no difference shown. {apart[0].upper() + apart[1:]}{wide[0]}'s seeds spread from "
                   f"{f(wide[1][0])} to {f(wide[1][-1])}, {tail}")
    return " ".join(out)


def verdict_table(pairs: dict[str, tuple[dict[int, float], dict[int, float]]],
                  ranges: dict[str, tuple[float, int] | None] | None = None) -> pd.DataFrame:
    """One row per comparison ``{pair: (seeds of a, seeds of b)}`` (one family: Holm over its judged rows) in four
    columns: the pair; the difference a - b of the arms' means over their seeds (percentage points); its
    uncertainty -- the 95% Welch interval (and Holm's p where judged), or, with one seed in an arm, no interval; and
    the verdict by the book's rule: 'difference', 'no difference shown', or 'not judged: 1 seed vs 1' with where
    the difference lies against the depth-20 seed range (``ranges``, per pair). The ranges used are kept in
    ``attrs["seed_ranges"]`` ({'training error': (range, seeds), ...}): :func:`judged_summary` states them once."""
    rows, used = {}, {}
    for label, j in judged_pairs(pairs, ranges).items():
        c, rng = j["c"], j["range"]
        if c is None:
            rows[label] = {"difference (points)": "\u2013", "uncertainty": "\u2013", "verdict": "not recorded"}
            continue
        seeds = f"{c.n_a} seed{'s' * (c.n_a != 1)} vs {c.n_b}"
        if math.isnan(c.low):
            unc = f"no interval ({seeds})"
        else:
            unc = f"95% interval {100 * c.low:+.2f} to {100 * c.high:+.2f} (Welch, {seeds})"
        if c.judged:
            unc += f"; p = {c.p_adj:.2g} (Holm)"
            verdict = c.verdict
        else:  # the seed range itself is said once, under the table (judged_summary), not in every row
            if rng is not None:
                used[_metric_of(label)] = rng
            where = described(c, rng)
            verdict = stats.verdict_text(c) + (f"; {where}" if where else "")
        rows[label] = {"difference (points)": f"{shown_diff(c):+.2f}", "uncertainty": unc, "verdict": verdict}
    out = pd.DataFrame.from_dict(rows, orient="index").rename_axis("pair")
    out.attrs["seed_ranges"] = used
    return out


def _metric_of(label: str) -> str:
    return "training error" if "training" in label else "test error" if "test" in label else "error"


def ranges_line(*frames: pd.DataFrame) -> str:
    """The depth-20 seed ranges the not-judged rows of these :func:`verdict_table` frames are set beside, said once
    (Markdown; '' when no row used one)."""
    used = {}
    for f in frames:
        used.update(f.attrs.get("seed_ranges") or {})
    return _ranges_line(used)


def _ranges_line(used: dict[str, tuple[float, int]]) -> str:
    """'The rows not judged are set beside the depth-20 seed range: 0.81 points in training error, 0.97 in test
    error (3 seeds).'"""
    if not used:
        return ""
    parts = [f"{100 * r:.2f}{' points' if i == 0 else ''} in {m}" for i, (m, (r, _)) in enumerate(used.items())]
    n = {k for _, k in used.values() if k}
    return ("The rows not judged are set beside the depth-20 seed range (the largest spread of one net's final error "
            f"over its seeds): {', '.join(parts)}" + (f" ({n.pop()} seeds)." if len(n) == 1 else ".")
            + _deeper_ranges_line(used))


_METRIC_KEY = {"training error": "final_train_error", "test error": "final_test_error"}


def deeper_ranges(metric: str = "final_train_error", profile: str | None = None) -> dict[str, tuple[float, int]]:
    """``{arch: (range, seeds)}``: the spread of ``metric`` over the seeds of each net of Fig. 6 deeper than 20
    layers that has two or more recorded (plain-56 and ResNet-56 since their seeds 1 and 2): whether the depth-20
    range is the right scale for a one-seed difference between deeper nets."""
    out = {}
    for arch in experiments.SWEEP_ARCHS:
        if arch in experiments.SPREAD_ARCHS:
            continue
        vals = list(seed_values(arch, metric, profile).values())
        if len(vals) >= 2:
            out[arch] = (max(vals) - min(vals), len(vals))
    return out


def _deeper_ranges_line(used: dict[str, tuple[float, int]]) -> str:
    """' The seed ranges of deeper nets (3 seeds each): plain-56 5.80 points in training error and 5.18 in test
    error, ResNet-56 1.02 and 0.63; the widest is 7.1 times the depth-20 range, ...' ('' until a deeper net has two
    seeds)."""
    per_arch: dict[str, list[str]] = {}
    seeds, times = set(), []
    for m, (rng, _) in used.items():
        if m not in _METRIC_KEY:  # a row not named by its metric: no deeper spread to set beside it
            continue
        for arch, (r, n) in deeper_ranges(_METRIC_KEY[m]).items():
            first_metric, first_arch = not per_arch.get(arch), not per_arch or next(iter(per_arch)) == arch
            per_arch.setdefault(arch, []).append(f"{100 * r:.2f}" + (  # units said once, on the first net
                (f" points in {m}" if first_metric else f" in {m}") if first_arch else ""))
            seeds.add(n)
            if rng > 0:
                times.append(r / rng)
    if not per_arch:
        return ""
    names = [f"{paper_name(a)} {' and '.join(v)}" for a, v in per_arch.items()]
    most = max(times, default=0)
    return (" The seed ranges of deeper nets" + (f" ({seeds.pop()} seeds each)" if len(seeds) == 1 else "")
            + f": {', '.join(names)}"
            + (f"; the widest is {most:.1f} times the depth-20 range, so a one-seed difference between deeper nets "
               f"can be that large by chance." if most > 1 else "."))


PAIRED_ARCHS = tuple(f"{f}{d}" for d in experiments.PLAIN_DEPTHS for f in ("plain", "resnet"))  # plain_vs_resnet's
OPTION_ARMS = tuple(f"{experiments.OPTIONS_ARCH}/{o}" for o in "ABC")  # options_table's


def plain_vs_resnet(profile: str | None = None) -> pd.DataFrame:
    """Fig. 6's central comparison at each depth both families have: plain minus ResNet, final training and test
    error (points), every recorded seed, judged by the book's rule with Holm over the whole table."""
    pairs = {}
    for metric, what in (("final_train_error", "training"), ("final_test_error", "test")):
        for d in experiments.PLAIN_DEPTHS:
            pairs[f"{paper_name(f'plain{d}')} \u2212 {paper_name(f'resnet{d}')}, {what} error"] = (
                seed_values(f"plain{d}", metric, profile), seed_values(f"resnet{d}", metric, profile))
    return comparison_table(pairs, names=("plain (mean, %)", "ResNet (mean, %)"))


def options_table(profile: str | None = None) -> pd.DataFrame:
    """Chapter 7's shortcut options (on :data:`resnet_lab.experiments.OPTIONS_ARCH`) pair by pair -- B against A, C
    against A, C against B -- in final training and test error, every recorded seed, as a :func:`verdict_table`
    (Holm over the whole table)."""
    arch = experiments.OPTIONS_ARCH
    pairs, ranges = {}, {}
    for metric, what in (("final_train_error", "training"), ("final_test_error", "test")):
        rng = seed_range(metric)
        for a, b in (("B", "A"), ("C", "A"), ("C", "B")):
            label = f"option {a} \u2212 option {b}, {what} error"
            pairs[label] = (seed_values(arch, metric, profile, shortcut=a), seed_values(arch, metric, profile, shortcut=b))
            ranges[label] = rng
    return verdict_table(pairs, ranges)


def _arm(spec: str) -> tuple[str, str]:
    """'resnet32/B' -> ('resnet32', 'B'); 'resnet56' -> ('resnet56', 'A') (the paper's option; a plain net has none)."""
    arch, _, shortcut = str(spec).partition("/")
    return arch, shortcut or "A"


def _arm_name(spec: str) -> str:
    """'resnet32/B' -> 'ResNet-32 (option B)'; 'resnet56' -> 'ResNet-56'."""
    arch, shortcut = _arm(spec)
    return paper_name(arch) + (f" (option {shortcut})" if "/" in str(spec) else "")


def missing_seeds(arms, profile: str | None = None) -> dict[str, list[int]]:
    """``{arm: seeds not recorded}`` for each of ``arms`` with fewer than the rule's :data:`~resnet_lab.stats.MIN_SEEDS`
    seeds: the seeds from 0 up that would give it that many. An arm is a net of the paper's blocks, ``'resnet56'``
    (option A), or one with its shortcut option named, ``'resnet32/B'``."""
    out = {}
    for spec in arms:
        arch, shortcut = _arm(spec)
        have = seed_values(arch, "final_test_error", profile, shortcut=shortcut)
        if len(have) < stats.MIN_SEEDS:
            need = stats.MIN_SEEDS - len(have)
            out[spec] = [s for s in range(stats.MIN_SEEDS + len(have)) if s not in have][:need]
    return out


def _job(spec: str, seed: int) -> str:
    """One `tools/queue.sh` job, ``ARCH:VARIANT:SEED[:SHORTCUT]`` ('resnet32/B', 1 -> 'resnet32:basic:1:B')."""
    arch, shortcut = _arm(spec)
    return f"{arch}:basic:{seed}" + (f":{shortcut}" if "/" in str(spec) and shortcut != "A" else "")


def _missing_line(missing: dict[str, list[int]], profile: str | None = None) -> str:
    """'Seeds still to train: plain-56 seed 2, ResNet-110 seeds 1 and 2 (`OMP_NUM_THREADS=1 bash tools/queue.sh LOG
    plain56:basic:2 ...`)', with ``PROFILE=<p>`` in front where the book's profile is not queue.sh's default."""
    from .render import seeds
    from .store import profile_name
    p = profile or profile_name()
    jobs = " ".join(_job(a, s) for a, ss in missing.items() for s in ss)
    env = "" if p == "cpu" else f"PROFILE={p} "
    return (f"Seeds still to train: {', '.join(f'{_arm_name(a)} {seeds(ss)}' for a, ss in missing.items())} "
            f"(`{env}OMP_NUM_THREADS=1 bash tools/queue.sh worker.log {jobs}`; the README's extra-seeds section).")


def judged_summary(frame: pd.DataFrame, missing: dict[str, list[int]] | None = None,
                   profile: str | None = None) -> str:
    """One or two plain sentences on a comparison table: how many rows were judged, how many show a difference,
    which rows wait for seeds, and (``missing``: :func:`missing_seeds`) which seeds those are and the command
    that trains them (Markdown; '' for an empty table)."""
    if frame.empty:
        return ""
    judged = frame[frame.verdict.isin((stats.SHOWN, stats.NOT_SHOWN))]
    shown = judged[judged.verdict == stats.SHOWN]
    waiting = frame[frame.verdict.str.startswith(stats.NOT_JUDGED)]
    n, k = len(judged), len(shown)
    if n == 0:
        parts = [f"None of the {len(frame)} comparisons has {stats.MIN_SEEDS} seeds per net yet, so none is judged."]
    else:
        parts = [f"{n} of the {len(frame)} comparisons {'has' if n == 1 else 'have'} at least {stats.MIN_SEEDS} seeds "
                 f"per net and {'is' if n == 1 else 'are'} judged; " + (
                     ("it shows a difference" if k else "it shows no difference") if n == 1 else
                     ("none of them shows a difference" if k == 0 else "all of them show a difference" if k == n
                      else f"{k} of them {'shows' if k == 1 else 'show'} a difference")) + " after Holm's correction."]
    unrecorded = len(frame) - n - len(waiting)  # rows 'not recorded': neither judged nor waiting for seeds
    if len(waiting):
        w = len(waiting)
        other = n and not unrecorded  # the waiting rows are all the others
        alone = not n and not unrecorded  # every row waits
        who = (("The other one rests" if w == 1 else f"The other {w} rest") if other else
               ("It rests" if w == 1 else "They rest") if alone else f"{w} {'rests' if w == 1 else 'rest'}")
        parts.append(f"{who} on fewer seeds and {'is' if w == 1 else 'are'} described only (the table says how many)"
                     + ("." if missing else "; `bash tools/queue.sh` trains more seeds (see the README)."))
        if unrecorded:
            parts.append(f"{unrecorded} {'is' if unrecorded == 1 else 'are'} not recorded yet.")
        ranges = _ranges_line(frame.attrs.get("seed_ranges") or {})
        if ranges:
            parts.append(ranges)
        if missing:
            parts.append(_missing_line(missing, profile))
    elif unrecorded:
        parts.append(f"{unrecorded} {'is' if unrecorded == 1 else 'are'} not recorded yet.")
    return " ".join(parts)
