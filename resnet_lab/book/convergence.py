"""Chapter 1's last question: is the plain nets' trouble slow convergence, as the paper conjectures?

Reads only the recorded training curves of the sweep (:mod:`resnet_lab.analysis.convergence`): the time each net
needs at lr 0.1 to bring its training error below a few levels, against depth; the seeds of ResNet-20 and
plain-20 give the seed range of that time at depth 20, the yardstick for reading the differences.
"""
from __future__ import annotations

import pandas as pd

from ..analysis import convergence as CV
from ..profiles import get_profile
from .render import and_list
from .spread import spread_runs
from .store import RunSet, profile_name, sweep

FAMILIES = ((False, "plain nets"), (True, "ResNets"))
CHANCE_LEVEL = CV.CHANCE_LEVEL


def until(profile: str | None = None) -> int:
    """The last iteration of the first lr-0.1 phase: the profile's first lr drop."""
    return get_profile(profile or profile_name()).milestones[0]


def _curves(records) -> dict:
    return {name: dict(depth=r.config.depth, residual=r.config.residual, train=r.history["train"])
            for name, r in records.items() if not r.failed}


def times(records: RunSet | None = None) -> pd.DataFrame:
    """Iterations to each level (None: not before the first lr drop) for the sweep's runs (seed 0)."""
    return CV.times(_curves(records if records is not None else sweep()), until())


DEEP_SEEDS = ("plain56", "resnet56")  # the deeper nets trained with extra seeds (issue 29): their spread too


def seed_runs() -> dict:
    """Every seed of the nets with several: ResNet-20 and plain-20 (the sweep's spread), and plain-56 and ResNet-56
    where their seeds 1 and 2 are recorded (keyed 'resnet20 s1', 'plain56 s0', ...)."""
    from .store import other_seeds
    out = dict(spread_runs())
    extra = other_seeds(DEEP_SEEDS)
    if extra:
        first = sweep()
        out.update({f"{a} s0": first[a] for a in DEEP_SEEDS if a in first and any(k.startswith(f"{a} ") for k in extra)})
        out.update(extra)
    return out


def seed_times() -> pd.DataFrame:
    """The same for every seed of the nets with several (:func:`seed_runs`)."""
    return CV.times(_curves(seed_runs()), until())


def seed_ratio(seeds: pd.DataFrame, level: float, depth: int | None = None) -> tuple[float, int, str] | None:
    """(largest max/min ratio over the seeds of one net, its seed count, the net) of the time to ``level``: how
    much training the same net again stretches that time; only nets of ``depth`` if given. None without two seeds
    that reached it."""
    best = None
    f = seeds[(seeds.level == level) & seeds.iteration.notna()]
    if depth is not None:
        f = f[f.depth == depth]
    for net, g in f.groupby(f.net.str.split(" ").str[0]):
        if len(g) >= 2:
            r = float(g.iteration.max() / g.iteration.min())
            if best is None or r > best[0]:
                best = (r, len(g), net)
    return best


def figure(frame: pd.DataFrame, seeds: pd.DataFrame | None = None):
    """Times against depth (:func:`resnet_lab.plots.convergence_times`), without the leaving-chance level; a
    placeholder while no run is recorded."""
    from ..plots import convergence_times, placeholder
    if frame.empty or frame.iteration.isna().all():
        return placeholder("no run of the sweep is recorded at this profile yet")
    return convergence_times(frame, seeds, until=until(), skip=(CHANCE_LEVEL,))


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """Nets as rows (plain first, shallow to deep), levels as columns: '1,600' or '> 3,200' (not reached)."""
    if frame.empty:
        return frame
    f = frame.sort_values(["residual", "depth"])
    last = until()
    cells = f.assign(cell=[f"{i:,.0f}" if pd.notna(i) else f"> {last:,}" for i in f.iteration],
                     col=[f"below {lv:.0%}" for lv in f.level])
    out = cells.pivot(index="net", columns="col", values="cell")
    out = out.loc[list(dict.fromkeys(f.net)), [f"below {lv:.0%}" for lv in dict.fromkeys(f.level)]]
    return out.rename_axis(None).rename_axis(None, axis=1)


SHAPE_MARGIN = 0.1  # a fit's r^2 must beat the other shape's by this much before the table names a shape


def after_start(frame: pd.DataFrame) -> pd.DataFrame:
    """The same times with each net's start-up taken out: iterations from leaving chance (its training error below
    :data:`CHANCE_LEVEL`) to each level -- the rate, without a slow start such as a collapse at lr 0.1 or
    ResNet-110's warm-up. A net that never left chance in the window has no time (NaN)."""
    start = frame[frame.level == CHANCE_LEVEL].set_index("net").iteration
    f = frame[frame.level != CHANCE_LEVEL].copy()
    f["iteration"] = f.iteration - f.net.map(start)
    f.loc[~(f.iteration > 0), "iteration"] = float("nan")
    return f


GOOD_FIT = 0.9  # ... and reach this r^2 itself


def _shape(g: dict) -> str:
    d, best = g["r2"] - g["r2_power"], max(g["r2"], g["r2_power"])
    if best < GOOD_FIT:
        return "neither fits"
    return "exponential" if d >= SHAPE_MARGIN else "power law" if -d >= SHAPE_MARGIN else "cannot tell"


def growth_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every level, every fit: per level, the plain nets and the ResNets over the depths both families have, and
    the ResNets over all their depths; the growth of the time per 12 layers from the start of training and after
    leaving chance (:func:`after_start`), with both fits' r^2 and the shape they can tell apart (a margin of
    :data:`SHAPE_MARGIN` in r^2, else 'cannot tell')."""
    if frame.empty or frame.iteration.isna().all():
        return pd.DataFrame()
    rate = after_start(frame)
    plain_depths = sorted(set(frame[~frame.residual].depth))
    res_depths = sorted(set(frame[frame.residual].depth))
    common = [d for d in plain_depths if d in res_depths]
    fits = [("plain nets", False, common), ("ResNets", True, common)]
    if res_depths != common:
        fits.append(("ResNets", True, res_depths))
    rows = {}
    for level in (lv for lv in dict.fromkeys(frame.level) if lv != CHANCE_LEVEL):
        for family, residual, depths in fits:
            row = {}
            for what, f in (("start", frame), ("rate", rate)):
                g = CV.growth(f, residual, level, depths=depths)
                row[f"{what}: × per 12 layers"] = f"×{g['factor']:.2f}" if g else "–"
                row[f"{what}: r² exp / power"] = f"{g['r2']:.2f} / {g['r2_power']:.2f}" if g else "–"
                row[f"{what}: shape"] = _shape(g) if g else "fewer than 3 depths"
            rows[(f"below {level:.0%}", f"{family}, depths {depths[0]}-{depths[-1]}")] = row
    out = pd.DataFrame.from_dict(rows, orient="index").rename_axis(["level", "fit"])
    if len(fits) == 3:
        out.attrs["widest"] = f"ResNets, depths {res_depths[0]}-{res_depths[-1]}"
    return out


def growth_summary(table: pd.DataFrame) -> str:
    """Two plain sentences read off :func:`growth_table`: how many fits can tell an exponential from a power law,
    and whether taking the start-up out changes the ResNets' fit over all their depths (Markdown)."""
    if table.empty:
        return ""
    shapes = [c for c in table.columns if c.endswith(": shape")]
    vals = table[shapes].to_numpy().ravel().tolist()
    told = [v for v in vals if v in ("exponential", "power law")]
    fitted = [v for v in vals if v != "fewer than 3 depths"]
    out = [f"Of the {len(fitted)} fits, {len(told)} tell an exponential from a power law by an r² margin of "
           f"{SHAPE_MARGIN}" + (f" ({', '.join(sorted(set(told)))})" if told else "") + "; the others cannot, so "
           "the growth factors describe how fast the times grow over these depths, not which law they follow."]
    fit = table.attrs.get("widest")
    if fit is not None:
        lv = table.index[0][0]
        cells = [table.loc[(lv, fit), f"{w}: r² exp / power"] for w in ("start", "rate")]
        if "–" not in cells:
            start, rate = (float(c.split(" / ")[0]) for c in cells)
            out.append(f"Taking each net's start-up out (counting from the iteration it left {CHANCE_LEVEL:.0%} "
                       f"error) moves the exponential fit of the {fit} at {lv[6:]} from r² {start:.2f} to "
                       f"{rate:.2f}" + (": over all depths, the fit from the start measures the slow starts named "
                                         "under {numref}`tab-ch1-ratios` more than a rate." if rate - start >= SHAPE_MARGIN
                                         else ": the start-up is not what shapes that fit."))
    return " ".join(out)


def _times_ratio(f: pd.DataFrame) -> str:
    """'plain-56 / plain-20: ×6.8', the deepest net that reached the level against the shallowest that did (with
    the deeper ones that did not named), '\u2013' with fewer than two."""
    from ..models import paper_name
    done = f[f.iteration.notna()]
    if len(done) < 2:
        return "\u2013"
    first, deep = done.iloc[0], done.iloc[-1]
    late = [paper_name(n) for n in f[f.iteration.isna() & (f.depth > first.depth)].net]
    return (f"{paper_name(deep.net)} / {paper_name(first.net)}: \u00d7{deep.iteration / first.iteration:.1f}"
            + (f" ({', '.join(late)} not before {until():,})" if late else ""))


def ratio_table(frame: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """Per level: how many times as long the deepest net of each family takes as the shallowest (one seed per
    depth), the largest ratio between two seeds of one net at each depth with several seeds (20, and 56 once its
    seeds are recorded: how much training the same net again moves a time), and plain against ResNet at each depth
    both have. Ratios, not differences: times are noisy in
    proportion to their size."""
    from ..models import paper_name
    rows = {}
    for level in (lv for lv in dict.fromkeys(frame.level) if lv != CV.CHANCE_LEVEL):
        row = {}
        for residual, family in FAMILIES:
            row[f"{family}: deepest / shallowest"] = _times_ratio(
                frame[(frame.residual == residual) & (frame.level == level)].sort_values("depth"))
        for d in sorted(set(seeds.depth)) or [20]:
            sr = seed_ratio(seeds, level, d)
            row[f"two seeds of one depth-{d} net, at most"] = (
                f"\u00d7{sr[0]:.2f} ({paper_name(sr[2])}, {sr[1]} seeds)" if sr else "\u2013")
        f = frame[frame.level == level].set_index(["depth", "residual"]).iteration
        both = sorted({d for d, _ in f.index if (d, False) in f.index and (d, True) in f.index})
        def vs(d):
            p, r = f[(d, False)], f[(d, True)]
            return (f"\u00d7{p / r:.1f}" if pd.notna(p) and pd.notna(r) else
                    f"plain > {until():,}" if pd.notna(r) else "neither")
        row["plain / ResNet, by depth"] = ", ".join(f"{d}: {vs(d)}" for d in both) or "\u2013"
        rows[f"below {level:.0%}"] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def report(frame: pd.DataFrame, seeds: pd.DataFrame) -> str:
    """What :func:`ratio_table` cannot say alone: that its depth ratios rest on one seed per depth (described
    against the seeds of the nets with several, never judged), and which nets started slowly: at least twice as late
    as the next shallower net, and by more than two seeds of one net ever differ (Markdown)."""
    from ..models import paper_name
    if frame.empty or frame.iteration.isna().all():
        return "- No run of the sweep is recorded at this profile yet."
    deep = sorted(d for d in set(seeds.depth) if d != 20 and any(seed_ratio(seeds, lv, d) for lv in set(seeds.level)))
    lines = ["- These times are seed 0's, one run per depth, so each ratio of two depths describes two "
             "runs: set beside the largest ratio between two seeds of one net (at depth 20"
             + (f" and at depth {and_list([str(d) for d in deep])}" if deep else "")
             + "), it is described, not judged."]
    chance = frame[frame.level == CV.CHANCE_LEVEL].sort_values("depth")
    sr = seed_ratio(seeds, CV.CHANCE_LEVEL)
    for residual, family in FAMILIES:
        c = chance[chance.residual == residual]
        late = [(r.net, bool(r.warmup)) for (_, p), (_, r) in zip(c.iloc[:-1].iterrows(), c.iloc[1:].iterrows())
                if pd.notna(r.iteration) and pd.notna(p.iteration) and r.iteration >= 2 * p.iteration
                and (sr is None or r.iteration / p.iteration > sr[0])]
        if late:
            lines.append(f"- A slow start among the {family}: " + and_list(
                n + (" (its warm-up at lr 0.01)" if w else "") for n, w in late)
                + f" got below {CV.CHANCE_LEVEL:.0%} error at least twice as late as the next shallower net"
                + (f", a larger ratio than any two seeds of one net show (\u00d7{sr[0]:.2f}, {paper_name(sr[2])})"
                   if sr is not None else "")
                + f"; {'its' if len(late) == 1 else 'their'} later times carry that delay.")
    return "\n".join(lines)


def resnet_order(records: RunSet | None = None, study: list[dict] | None = None) -> pd.DataFrame:
    """Table 6's ResNets beside their starts (chapter 3): final test error, the iteration each run's training error
    left 80% (:data:`CHANCE_LEVEL`; from :func:`times`), whether it started with the warm-up, and the lr-0.1 study's
    collapses for the nets it covers ('2 of 5'). One row per recorded ResNet of the sweep, shallow to deep."""
    from ..analysis import lr_study as L
    from .cifar import lr_study as study_records, seed_test_errors
    records = records if records is not None else sweep()
    res = {k: r for k, r in records.items() if r.config.residual and not r.failed}
    if not res:
        return pd.DataFrame()
    t = times(RunSet(res))
    left = t[t.level == CHANCE_LEVEL].set_index("net")
    by = L.by_net(study if study is not None else study_records())
    rows = {}
    for k, r in sorted(res.items(), key=lambda kv: kv[1].config.depth):
        it = left.iteration.get(k)
        n = by.loc[k] if k in by.index else None
        errs = seed_test_errors(k, r)
        rows[k] = {"test error": f"{100 * sum(errs) / len(errs):.2f}%", "seeds": len(errs),
                   "left 80% training error at iteration": f"{it:,.0f}" if pd.notna(it) else f"> {until():,}",
                   "warm-up": "yes" if bool(left.warmup.get(k, False)) else "no",
                   "lr-0.1 study: seeds collapsed": f"{int(n['collapsed'])} of {int(n['seeds'])}" if n is not None
                   else "\u2013"}
    return pd.DataFrame.from_dict(rows, orient="index")


def resnet_order_report(table: pd.DataFrame) -> str:
    """The ResNets out of Table 6's expected order (test error above a shallower ResNet's), each beside what its
    start shows: training error left 80% at least twice as late as the next shallower ResNet's (chapter 1's slow
    start; chapter 1 also sets the ratio beside the depth-20 seeds' own), never left it, the warm-up, or neither. Test
    errors are means over the recorded seeds; the starts are seed 0's: described, not judged (Markdown)."""
    if len(table) < 2:
        return ""
    err = [float(v.rstrip("%")) for v in table["test error"]]
    names = list(table.index)
    out = [names[i] for i in range(1, len(names)) if err[i] > min(err[:i])]
    if not out:
        return "- Every ResNet ends below all shallower ones in test error here (described, not judged)."
    col = table["left 80% training error at iteration"]
    start = col.str.replace(",", "").str.lstrip("> ").astype(float)
    never = col.str.startswith(">")

    def why(n):
        row = table.loc[n]
        if row["warm-up"] == "yes":
            c = row["lr-0.1 study: seeds collapsed"]
            return "started with the warm-up at lr 0.01" + (
                f" (at lr 0.1 from the start, {c} seeds collapse in the lr-0.1 study)" if c != "\u2013" else "")
        if never[n]:
            return f"did not leave 80% training error by iteration {start[n]:,.0f}"
        prev = names[names.index(n) - 1]  # chapter 1's slow start: at least twice as late as the next shallower net
        if not never[prev] and start[n] >= 2 * start[prev]:
            return (f"left 80% training error at least twice as late as {prev} (iteration {start[n]:,.0f}, "
                    f"against {start[prev]:,.0f})")
        return "no slow start in its curve"
    from ..models import paper_name
    from .. import stats
    slow = [n for n in out if why(n) != "no slow start in its curve"]
    below = {n: [names[j] for j in range(names.index(n)) if err[names.index(n)] > err[j]] for n in out}
    seeds = {n: int(table.loc[n, "seeds"]) for n in names} if "seeds" in table else {}
    thin = lambda n: seeds.get(n, stats.MIN_SEEDS) < stats.MIN_SEEDS  # noqa: E731
    few = [paper_name(n) for n in names if thin(n) and (n in out or any(n in b for b in below.values()))]

    def above(n):  # the shallower ResNets it ends above, with their seeds where fewer than the rule's
        return and_list(paper_name(m) + (f" ({seeds[m]} seed{'s' * (seeds[m] > 1)})" if thin(m) else "")
                        for m in below[n])
    return ("- Out of Table 6's expected order (test error above a shallower ResNet's): "
            + "; ".join(paper_name(f"{n}, above {above(n)}: {why(n)}") for n in out) + ". "
            + (f"{len(slow)} of these {len(out)} began slowly or needed the warm-up"
               + (", all of them." if len(slow) == len(out) else ".") if slow else "None of them began slowly.")
            + (f" The order rests on fewer than {stats.MIN_SEEDS} seeds of {and_list(few)}, and each start is "
               f"one seed's: described, not judged." if few else " Each start is one seed's: described, not judged.")
            + " Where both nets have 3 seeds, {numref}`tab-ch3-resnet-depth` judges the difference.")
