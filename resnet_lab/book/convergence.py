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


def seed_range(seeds: pd.DataFrame, level: float) -> tuple[int, int] | None:
    """(largest range over the seeds of one net, seeds) of the time to ``level``; None without two seeds that
    reached it."""
    best = None
    f = seeds[(seeds.level == level) & seeds.iteration.notna()]
    for _, g in f.groupby(f.net.str.split(" ").str[0]):
        if len(g) >= 2:
            r = int(g.iteration.max() - g.iteration.min())
            if best is None or r > best[0]:
                best = (r, len(g))
    return best


def figure(frame: pd.DataFrame, seeds: pd.DataFrame | None = None):
    """Times against depth (:func:`resnet_lab.plots.convergence_times`), without the leaving-chance level."""
    from ..plots import convergence_times
    return convergence_times(frame, seeds, until=until(), skip=(CHANCE_LEVEL,))


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """Nets as rows (plain first, shallow to deep), levels as columns: '1,600' or '> 3,200' (not reached)."""
    if frame.empty:
        return frame
    f = frame.sort_values(["residual", "depth"])
    last = until()
    cells = f.assign(cell=[f"{int(i):,}" if pd.notna(i) else f"> {last:,}" for i in f.iteration],
                     col=[f"below {lv:.0%}" for lv in f.level])
    out = cells.pivot(index="net", columns="col", values="cell")
    out = out.loc[list(dict.fromkeys(f.net)), [f"below {lv:.0%}" for lv in dict.fromkeys(f.level)]]
    return out.rename_axis(None).rename_axis(None, axis=1)


def report(frame: pd.DataFrame, seeds: pd.DataFrame) -> str:
    """Per level and family: the growth per 12 layers (log-linear fit), judged against the depth-20 seed range;
    a slow start where a net leaves chance later than a shallower one (Markdown)."""
    if frame.empty:
        return "- No run of the sweep is recorded at this profile yet."
    lines = []
    for level in (lv for lv in dict.fromkeys(frame.level) if lv != CV.CHANCE_LEVEL):
        sr = seed_range(seeds, level)
        parts = []
        for residual, family in FAMILIES:
            f = frame[(frame.residual == residual) & (frame.level == level)].sort_values("depth")
            g = CV.growth(frame, residual, level)
            if g is None:
                if len(f):
                    parts.append(f"{family}: fewer than three depths reach it before iteration {until():,}")
                continue
            first, deep = f.iloc[0], f[f.iteration.notna()].iloc[-1]
            gap = int(deep.iteration - first.iteration)
            verdict = ("" if sr is None else
                       f"; {deep.net} needs {gap:,} iterations more than {first.net}, "
                       + (f"{gap / sr[0]:.1f} times" if sr[0] > 0 else "more than")
                       + f" the seed range at depth 20 ({sr[0]:,} iterations; {sr[1]} seeds)"
                       + (": a finding" if gap > sr[0] else ": no finding"))
            cens = (f"; {', '.join(g['censored'])} not before iteration {until():,}, so the fit understates the "
                    f"growth" if g["censored"] else "")
            parts.append(f"{family} x{g['factor']:.2f} per {g['per']} layers (fit over {len(g['nets'])} depths, "
                         f"r² {g['r2']:.2f}){verdict}{cens}")
        if parts:
            lines.append(f"- Time to a training error below {level:.0%}: " + "; ".join(parts) + ".")
    mid = sorted(set(frame.level) - {CV.CHANCE_LEVEL})
    if mid:
        lv = mid[len(mid) // 2]
        g = {res: CV.growth(frame, res, lv) for res, _ in FAMILIES}
        if all(g.values()):
            p, r = g[False], g[True]
            lines.append(f"- In short, at {lv:.0%}: the plain nets' time grows x{p['factor']:.2f} per 12 layers "
                         f"(r² {p['r2']:.2f}), the ResNets' x{r['factor']:.2f} (r² {r['r2']:.2f}) -- the plain "
                         f"nets' factor is the {'larger' if p['factor'] > r['factor'] else 'smaller'}.")
        f = frame[frame.level == lv].set_index(["depth", "residual"]).iteration
        pairs = [(d, f[(d, False)], f[(d, True)]) for d in sorted({d for d, _ in f.index})
                 if (d, False) in f.index and (d, True) in f.index]
        if pairs:
            lines.append(f"- Plain against ResNet, time to {lv:.0%}: " + "; ".join(
                f"depth {d}: " + (f"{p / r:.1f} times as long" if pd.notna(p) and pd.notna(r) else
                                  f"the plain net not before iteration {until():,}" if pd.notna(r) else "not reached")
                for d, p, r in pairs) + ".")
    chance = frame[frame.level == CV.CHANCE_LEVEL].sort_values("depth")
    for residual, family in FAMILIES:
        c = chance[chance.residual == residual]
        late = [r.net for (_, p), (_, r) in zip(c.iloc[:-1].iterrows(), c.iloc[1:].iterrows())
                if pd.notna(r.iteration) and pd.notna(p.iteration) and r.iteration >= 2 * p.iteration
                and r.iteration - p.iteration > (seed_range(seeds, CV.CHANCE_LEVEL) or (0,))[0]]
        if late:
            lines.append(f"- A slow start among the {family}: {', '.join(late)} got below {CV.CHANCE_LEVEL:.0%} "
                         f"error at least twice as late as the next shallower net, by more than the depth-20 seed "
                         f"range; its later times carry that delay.")
    return "\n".join(lines)
