"""Chapter 1's last question: is the plain nets' trouble slow convergence, as the paper conjectures?

Reads only the recorded training curves of the sweep (:mod:`resnet_lab.analysis.convergence`): the time each net
needs at lr 0.1 to bring its training error below a few levels, against depth; the seeds of ResNet-20 and
plain-20 give the seed range of that time at depth 20, the yardstick for reading the differences.
"""
from __future__ import annotations

import pandas as pd

from ..analysis import convergence as CV
from ..profiles import get_profile
from . import RunSet, profile_name, spread_runs, sweep

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


def seed_times() -> pd.DataFrame:
    """The same for every seed of ResNet-20 and plain-20 (keyed 'resnet20 s1', ...)."""
    return CV.times(_curves(spread_runs()), until())


def seed_ratio(seeds: pd.DataFrame, level: float) -> tuple[float, int, str] | None:
    """(largest max/min ratio over the seeds of one net, its seed count, the net) of the time to ``level``: how
    much training the same net again stretches that time. None without two seeds that reached it."""
    best = None
    f = seeds[(seeds.level == level) & seeds.iteration.notna()]
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


def _gap(f: pd.DataFrame, sr: tuple[float, int, str] | None) -> str:
    """The deepest net that reached the level against the shallowest that did, as a ratio of times, judged
    against the depth-20 seeds' ratio (times are noisy in proportion to their size, so ratios, not
    differences)."""
    done = f[f.iteration.notna()]
    if len(done) < 2 or sr is None:
        return ""
    first, deep = done.iloc[0], done.iloc[-1]
    ratio = deep.iteration / first.iteration
    return (f"; {deep.net} needs {ratio:.1f} times as long as {first.net}, against at most {sr[0]:.2f} times "
            f"between two seeds of {sr[2]} ({sr[1]} seeds): one seed per depth, so described, not judged")


def report(frame: pd.DataFrame, seeds: pd.DataFrame) -> str:
    """Per level and family: the growth per 12 layers (log-linear fit, with the power law's r^2 beside it) and
    the deepest-to-shallowest ratio judged against the depth-20 seeds; plain against ResNet over the depths both
    have; slow starts (Markdown)."""
    if frame.empty or frame.iteration.isna().all():
        return "- No run of the sweep is recorded at this profile yet."
    lines = []
    for level in (lv for lv in dict.fromkeys(frame.level) if lv != CV.CHANCE_LEVEL):
        sr = seed_ratio(seeds, level)
        parts = []
        for residual, family in FAMILIES:
            f = frame[(frame.residual == residual) & (frame.level == level)].sort_values("depth")
            g = CV.growth(frame, residual, level)
            if g is None:
                if len(f):
                    parts.append(f"{family}: fewer than three depths reach it before iteration {until():,}")
                continue
            cens = (f"; {', '.join(g['censored'])} not before iteration {until():,}, so the fit understates the "
                    f"growth" if g["censored"] else "")
            parts.append(f"{family} x{g['factor']:.2f} per {g['per']} layers (exponential fit over "
                         f"{len(g['nets'])} depths, r² {g['r2']:.2f}; a power law: r² {g['r2_power']:.2f})"
                         f"{_gap(f, sr)}{cens}")
        if parts:
            lines.append(f"- Time to a training error below {level:.0%}: " + "; ".join(parts) + ".")
    mid = sorted(set(frame.level) - {CV.CHANCE_LEVEL})
    if mid:
        lv = mid[len(mid) // 2]
        f = frame[frame.level == lv].set_index(["depth", "residual"]).iteration
        both = sorted({d for d, _ in f.index if (d, False) in f.index and (d, True) in f.index})
        g = {res: CV.growth(frame, res, lv, depths=both) for res, _ in FAMILIES}
        if all(g.values()):
            p, r = g[False], g[True]
            lines.append(f"- Over the depths both families have ({', '.join(map(str, both))}), time to {lv:.0%}: "
                         f"the plain nets' grows x{p['factor']:.2f} per 12 layers, the ResNets' x{r['factor']:.2f}"
                         f" -- the plain nets' factor is the {'larger' if p['factor'] > r['factor'] else 'smaller'}"
                         + (f" (plain fit without {', '.join(p['censored'])})" if p["censored"] else "") + ".")
        pairs = [(d, f[(d, False)], f[(d, True)]) for d in both]
        if pairs:
            lines.append(f"- Plain against ResNet, time to {lv:.0%}: " + "; ".join(
                f"depth {d}: " + (f"{p / r:.1f} times as long" if pd.notna(p) and pd.notna(r) else
                                  f"the plain net not before iteration {until():,}" if pd.notna(r) else "not reached")
                for d, p, r in pairs) + ".")
    chance = frame[frame.level == CV.CHANCE_LEVEL].sort_values("depth")
    sr = seed_ratio(seeds, CV.CHANCE_LEVEL)
    for residual, family in FAMILIES:
        c = chance[chance.residual == residual]
        late = [(r.net, bool(r.warmup)) for (_, p), (_, r) in zip(c.iloc[:-1].iterrows(), c.iloc[1:].iterrows())
                if pd.notna(r.iteration) and pd.notna(p.iteration) and r.iteration >= 2 * p.iteration
                and (sr is None or r.iteration / p.iteration > sr[0])]
        if late:
            lines.append(f"- A slow start among the {family}: " + ", ".join(
                n + (" (its warm-up at lr 0.01)" if w else "") for n, w in late)
                + f" got below {CV.CHANCE_LEVEL:.0%} error at least twice as late as the next shallower net; "
                  f"{'its' if len(late) == 1 else 'their'} later times carry that delay.")
    return "\n".join(lines)
