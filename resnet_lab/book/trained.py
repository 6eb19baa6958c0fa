"""The trained-nets chapter: lesions (Veit et al. 2016) and loss landscapes (Li et al. 2018) of recorded runs.

Both analyses are computed once per run and cached in its record (``runs/<id>/analysis/lesion.json``,
``runs/<id>/analysis/landscape-<steps>x<steps>-n<images>-s<seed>.json``); the settings below say on what.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch

from ..analysis import landscape as LS
from ..analysis import lesion as LE
from ..runs import RunRecord
from .render import block_label, num, pct
from .spread import judge, seed_spread
from .store import RunSet, analysed, analysis_device, data, profile_name, run_data, runs

NETS = ("resnet20", "plain20", "resnet56", "plain56", "resnet110")  # plain-110 is not trained (> 60% error)
SMOKE_NETS = ("resnet20", "plain20")  # the smoke profile (CI) analyses the depth-20 pair only
LESION_IMAGES = {"smoke": 250}  # test images for the lesions; every profile not listed uses all 10,000
LESION_DRAWS = {"smoke": 2}  # random draws per number of deleted blocks; default 5
LESION_SEED = 0
LANDSCAPE = {"smoke": (5, 64)}  # (grid steps per axis, training images); default (21, 500)
LANDSCAPE_DEFAULT = (21, 500)
LANDSCAPE_SPAN = 1.0  # the grid covers [-span, span]^2 in units of the filter-normalised directions
DIRECTION_SEED = 0  # the same directions seed for every net
TRAIN_SUBSET_SEED = 5


def _cache_names(record: RunRecord) -> list[str]:
    s = landscape_settings(record.config.profile)
    return ["lesion", f"landscape-{s['steps']}x{s['steps']}-n{s['images']}-s{s['seed']}"]


ANALYSES = ("lesion", "landscape")
INIT_LANDSCAPE = "init_landscape"  # the control: the same slice around the run's initial weights


def nets(which: str | tuple[str, ...] = ANALYSES) -> RunSet:
    """The chapter's runs (seed 0) at this profile; with training off, missing ones are named in ``.missing``.

    With training off (the book build) a recorded run whose analyses ``which`` (lesion, landscape or both) are
    not cached yet is left out too (they cost minutes to an hour of CPU each) and named in ``.uncached``; see
    :func:`uncached_note`. A net whose landscape is cached but not its lesions is in ``nets("landscape")``."""
    which = (which,) if isinstance(which, str) else tuple(which)
    bad = [w for w in which if w not in ANALYSES]
    if bad:
        raise ValueError(f"unknown analysis {bad[0]!r}; this chapter's: {', '.join(ANALYSES)}")
    out = analysed(runs(SMOKE_NETS if profile_name() == "smoke" else NETS),
                   lambda r: [n for n in _cache_names(r) if n.startswith(which)])
    out.analyses = which
    return out


def uncached_note(*sets: RunSet) -> str:
    """A Markdown line naming, per analysis, recorded runs whose results are not cached yet ('' when none)."""
    parts = []
    for records in sets:
        names = getattr(records, "uncached", [])
        if names:
            what = " and ".join(getattr(records, "analyses", ANALYSES))
            parts.append(f"{what}: {', '.join(names)}")
    if not parts:
        return ""
    return (f"**Recorded but not analysed yet** ({'; '.join(parts)}). The book build only reads cached analyses; "
            f"compute them with `python -m resnet_lab.book.caches --profile {profile_name()}` (resumable), or run "
            f"this notebook with training allowed.")


def lesion_settings(profile: str | None = None) -> dict:
    p = profile or profile_name()
    return dict(images=LESION_IMAGES.get(p), draws=LESION_DRAWS.get(p, 5), seed=LESION_SEED)


def landscape_settings(profile: str | None = None) -> dict:
    steps, images = LANDSCAPE.get(profile or profile_name(), LANDSCAPE_DEFAULT)
    return dict(steps=steps, images=images, span=LANDSCAPE_SPAN, seed=DIRECTION_SEED)


def lesion_images(n: int | None):
    """The first ``n`` test images of the book's fixed shuffle (all 10,000 when n is None)."""
    from ..analysis import eval_images
    return eval_images(data(), n)


def train_images(n: int):
    """A fixed subset of ``n`` images of the 45k training split (no augmentation)."""
    d = data()
    idx = torch.randperm(len(d.train_y), generator=torch.Generator().manual_seed(TRAIN_SUBSET_SEED))[:n]
    return d.train_x[idx], d.train_y[idx]


def lesion(record: RunRecord, progress=None) -> dict:
    """Veit et al.'s lesion study of a recorded run (cached in ``analysis/lesion.json``; a stopped computation
    resumes from ``analysis/.partial/lesion.json``). ``progress(done, total)`` follows the evaluations."""
    s = lesion_settings(record.config.profile)

    def compute(partial):
        run_data(record)  # the run's own data, or a one-line error
        x, y = lesion_images(s["images"])
        dev = analysis_device()
        out = LE.lesion_study(record.load_model().to(dev), x, y, data().mean, draws=s["draws"], seed=s["seed"],
                              partial=partial, progress=progress)
        out["cpu_seconds"] = partial.cpu_seconds()
        out["device"] = "+".join(partial.devices) or dev.type
        return out
    return record.cached("lesion", compute, settings=s)


def landscape(record: RunRecord, progress=None) -> dict:
    """Li et al.'s 2-D loss slice of a recorded run (cached in ``analysis/landscape-...json``; a stopped
    computation resumes from ``analysis/.partial/``). ``progress(row, rows)`` follows the grid's rows."""
    s = landscape_settings(record.config.profile)
    name = f"landscape-{s['steps']}x{s['steps']}-n{s['images']}-s{s['seed']}"

    def compute(partial):
        run_data(record)
        x, y = train_images(s["images"])
        dev = analysis_device()
        out = LS.landscape(record.load_model().to(dev), x, y, data().mean, steps=s["steps"], span=s["span"],
                           seed=s["seed"], partial=partial, progress=progress)
        out["cpu_seconds"] = partial.cpu_seconds()
        out["device"] = "+".join(partial.devices) or dev.type
        out["data"] = f"{s['images']} training images (fixed subset, seed {TRAIN_SUBSET_SEED}), no augmentation"
        return out
    return record.cached(name, compute, settings=dict(s, train_subset_seed=TRAIN_SUBSET_SEED))


def init_landscape_name(profile: str | None = None) -> str:
    s = landscape_settings(profile)
    return f"{INIT_LANDSCAPE}-{s['steps']}x{s['steps']}-n{s['images']}-s{s['seed']}"


def initial_net(config, x: torch.Tensor, mean: torch.Tensor) -> torch.nn.Module:
    """The run's initial weights (``train()`` seeds and builds the same way) with BN running statistics
    estimated on the uint8 images ``x`` (an untrained net has none: eval mode needs them), in eval mode."""
    from ..analysis.shattered import calibrated
    torch.manual_seed(config.seed)
    return calibrated(config.build(), x, mean)


def init_landscape(record: RunRecord, progress=None) -> dict:
    """The control of :func:`landscape`: the same slice (same settings, directions seed and training subset)
    around the *initial* weights of the run (its arch and seed), BN statistics estimated on that subset. Cached
    in the run's ``analysis/init_landscape-...json``; resumable like the trained slice."""
    s = landscape_settings(record.config.profile)

    def compute(partial):
        run_data(record)
        x, y = train_images(s["images"])
        dev = analysis_device()
        net = initial_net(record.config, x, data().mean).to(dev)
        out = LS.landscape(net, x, y, data().mean, steps=s["steps"], span=s["span"], seed=s["seed"],
                           partial=partial, progress=progress)
        out["cpu_seconds"] = partial.cpu_seconds()
        out["device"] = "+".join(partial.devices) or dev.type
        out["data"] = f"{s['images']} training images (fixed subset, seed {TRAIN_SUBSET_SEED}), no augmentation"
        out["weights"] = (f"initialisation (seed {record.config.seed}); BN running statistics estimated on the "
                          f"same images")
        return out
    return record.cached(init_landscape_name(record.config.profile), compute,
                         settings=dict(s, train_subset_seed=TRAIN_SUBSET_SEED, weights="init"))


def init_nets() -> RunSet:
    """The chapter's runs whose initial-weights slice is cached (with training off; the others in ``.uncached``)."""
    out = analysed(runs(SMOKE_NETS if profile_name() == "smoke" else NETS),
                   lambda r: [init_landscape_name(r.config.profile)])
    out.analyses = ("landscape at initialisation",)
    return out


def init_landscape_report(init: dict[str, dict], lands: dict[str, dict]) -> str:
    """Per net: the slice around the initial weights against the trained one; per depth: ResNet against plain
    twin at initialisation (one seed each: described, not judged)."""
    lines = []
    for name, g in init.items():
        s = LS.sharpness(g)
        line = (f"- {name} at initialisation: loss {num(s['centre_loss'])} at the initial weights, rising by "
                f"{num(s['rise_0.5'])} half a unit away and {num(s['rise_1.0'])} one unit away")
        if name in lands:
            t = LS.sharpness(lands[name])
            line += (f"; trained: {num(t['centre_loss'])} at the centre, rising by {num(t['rise_0.5'])} and "
                     f"{num(t['rise_1.0'])}")
        lines.append(line + ".")
    for name in init:
        other = f"plain{name[6:]}"
        if name.startswith("resnet") and other in init:
            r, p = LS.sharpness(init[name]), LS.sharpness(init[other])
            lines.append(f"- Depth {name[6:]} at initialisation: half a unit away the loss rises {num(p['rise_0.5'])} "
                         f"for {other} and {num(r['rise_0.5'])} for {name}; one unit away {num(p['rise_1.0'])} and "
                         f"{num(r['rise_1.0'])}. One seed and one pair of directions: described, not judged.")
    return "\n".join(lines) if lines else "- No initial-weights slice is cached at this profile yet."


# ---------------------------------------------------------------------------------------------------------
# Frames and Markdown reports, computed from the cached results
# ---------------------------------------------------------------------------------------------------------

def single_frame(result: dict) -> pd.DataFrame:
    """One row per block: its position, whether it downsamples, and the test error with it alone deleted."""
    f = pd.DataFrame(result["single"])
    f["downsampling"] = ~f["same_shape"]
    f["error"] = f["error"].astype(float)
    return f


def _single_stats(result: dict) -> dict:
    f = single_frame(result)
    same = f[f.same_shape]
    down = f[f.downsampling & f.error.notna()]
    base = result["baseline"]["error"]
    return dict(base=base, same_mean=float(same.error.mean()), same_max=float(same.error.max()),
                same_worst=block_label(same.loc[same.error.idxmax(), "name"]),
                down=dict(zip(map(block_label, down.name), down.error)),
                n_same=len(same))


def lesion_report(lesions: dict[str, dict]) -> str:
    """Per net and per ResNet/plain pair: what deleting blocks did, computed from the cached lesion results."""
    spread = seed_spread()
    lines, stats = [], {}
    for name, r in lesions.items():
        s = stats[name] = _single_stats(r)
        kind = "ResNet" if r["residual"] else "plain net"
        line = (f"- **{name}** ({kind}, {r['images']:,} test images): intact {pct(s['base'])}; deleting one of its "
                f"{s['n_same']} same-shape blocks gives {pct(s['same_mean'])} on average (worst: {s['same_worst']}, "
                f"{pct(s['same_max'])})")
        if s["down"]:
            line += "; deleting a downsampling block: " + ", ".join(f"{k} {pct(v)}" for k, v in s["down"].items())
        elif not r["residual"]:
            line += "; its downsampling blocks cannot be deleted (no identity of their shape)"
        by_k = LE.error_by_k(r)
        last = by_k[-1]
        lines.append(line + f"; with all {last['k']} same-shape blocks deleted: {pct(last['mean'])}.")
    for name in lesions:
        if name.startswith("resnet") and f"plain{name[6:]}" in lesions:
            p, q = stats[name], stats[f"plain{name[6:]}"]
            rise_r, rise_p = p["same_mean"] - p["base"], q["same_mean"] - q["base"]
            lines.append(f"- Depth {name[6:]}: one deleted same-shape block costs {name} {100 * rise_r:.2f} points "
                         f"and plain{name[6:]} {100 * rise_p:.2f} points on average; the difference, "
                         f"{100 * (rise_p - rise_r):.2f} points, is {judge(rise_p - rise_r, spread)}.")
    return "\n".join(lines) if lines else "- No run of this chapter is recorded at this profile yet."


def k_report(lesions: dict[str, dict]) -> str:
    """The error against the number k of deleted blocks, per net (mean over the draws)."""
    lines = []
    for name, r in lesions.items():
        rows = LE.error_by_k(r)
        steps = np.diff([row["mean"] for row in rows])
        lines.append(f"- {name}: " + ", ".join(f"k={row['k']} {pct(row['mean'])}" for row in rows)
                     + f" (largest step from one k to the next: {100 * steps.max():.1f} points).")
    return "\n".join(lines)


def sharpness_table(lands: dict[str, dict]) -> pd.DataFrame:
    """The numbers :func:`resnet_lab.analysis.landscape.sharpness` reads off each net's grid, formatted."""
    rows = {}
    for name, g in lands.items():
        s = LS.sharpness(g)
        rows[name] = {"loss at centre": f"{num(s['centre_loss'])}", "error at centre": pct(s["centre_error"]),
                      "loss rise at 0.5": f"{num(s['rise_0.5'])}", "loss rise at 1.0": f"{num(s['rise_1.0'])}",
                      "grid below chance loss": pct(s["below_chance"]),
                      "non-convex points (below chance)": _pct(s["nonconvex"])}
    return pd.DataFrame.from_dict(rows, orient="index")


def landscape_report(lands: dict[str, dict]) -> str:
    """Per ResNet/plain pair: how the two slices compare (one seed each: described, not judged)."""
    lines = []
    for name, g in lands.items():
        s = LS.sharpness(g)
        lines.append(f"- {name}: training-subset loss {num(s['centre_loss'])} at the trained weights, "
                     f"rising on average along the two axes by {num(s['rise_0.5'])} half a unit away and by "
                     f"{num(s['rise_1.0'])} one unit away; {pct(s['below_chance'])} of the grid "
                     f"is below the chance loss ln 10 = 2.30.")
    for name in lands:
        other = f"plain{name[6:]}"
        if name.startswith("resnet") and other in lands:
            r, p = LS.sharpness(lands[name]), LS.sharpness(lands[other])
            ratio = p["rise_0.5"] / r["rise_0.5"] if r["rise_0.5"] > 0 else float("nan")
            lines.append(f"- Depth {name[6:]}: half a unit from the trained weights the loss rises "
                         f"{num(p['rise_0.5'])} for {other} and {num(r['rise_0.5'])} for {name} (ratio {ratio:.2g}); "
                         f"locally non-convex: {_pct(p['nonconvex'])} of {other}'s low-loss grid points, "
                         f"{_pct(r['nonconvex'])} of {name}'s. One seed and one pair of directions each: no seed "
                         f"spread of these numbers is measured, so this is described, not judged."
                         + plateau_caveat(name, r, other, p))
    return "\n".join(lines) if lines else "- No run of this chapter is recorded at this profile yet."


def plateau_caveat(name: str, r: dict, other: str, p: dict) -> str:
    """A flatter slice is read as a better minimum only if it is also at least as low: when the net with the
    smaller rise sits at a higher centre loss, say that its flatness is that of a plateau (empty otherwise).
    ``r``/``p`` are :func:`resnet_lab.analysis.landscape.sharpness` of ``name``/``other``."""
    (fn, f), (sn, s) = ((name, r), (other, p)) if r["rise_0.5"] < p["rise_0.5"] else ((other, p), (name, r))
    if f["centre_loss"] <= s["centre_loss"]:
        return ""
    line = (f" But the flatter slice, {fn}'s, is centred at a higher loss ({f['centre_loss']:.3f}, "
            f"{pct(f['centre_error'])} training error, against {s['centre_loss']:.3f} and {pct(s['centre_error'])} "
            f"for {sn}): flatter at a higher loss is no sign of a better minimum, so it says nothing in favour "
            f"of {fn}")
    if f["centre_loss"] >= 2 * s["centre_loss"]:  # not a nearby minimum: a region the net never left
        line += " -- at more than twice the loss, it is the flatness of a high-loss plateau the net did not leave"
    return line + "."


def cost_line(lesions: dict[str, dict], lands: dict[str, dict]) -> str:
    """What the cached analyses cost (CPU seconds of the process that computed them, as recorded), grouped by the
    device they were computed on: a GPU's minutes are not a CPU's."""
    def took(seconds) -> str:
        return "not recorded" if seconds is None else (f"{seconds / 60:.1f} min" if seconds >= 60 else
                                                       f"{seconds:.0f} s")

    def where(cache: dict) -> str:
        # caches written before the device was kept predate the project's first GPU run: they ran on the CPU
        return cache.get("device") or "cpu"

    groups: dict[str, list[str]] = {}
    for name in lesions:
        les, land = lesions[name], lands.get(name, {})
        if les.get("cpu_seconds") is None and land.get("cpu_seconds") is None:
            continue
        devices = set(where(les).split("+")) | (set(where(land).split("+")) if land else set())
        groups.setdefault("+".join(sorted(devices)), []).append(
            f"{name}: lesions {took(les.get('cpu_seconds'))}, landscape {took(land.get('cpu_seconds'))}")

    def said(dev: str) -> str:
        if dev == "cpu":
            return "on the CPU (one thread, on a machine that was also training other runs, which slows each thread)"
        if "cpu" in dev.split("+"):
            return (f"partly on the CPU, partly on another device ({dev}; the times add the two and compare with "
                    f"neither)")
        return f"on {dev} (a GPU: the time is its host process on the CPU, waiting for the GPU)"
    parts = [f"{said(dev)}: " + "; ".join(lines) for dev, lines in sorted(groups.items())]
    return ("CPU time recorded when the caches were computed, " + "; and ".join(parts) + ".") if parts else ""


def explorer(records: dict[str, RunRecord], title: str = ""):
    """A static widget (works without a kernel): pick a depth and plain/ResNet, see that net's single-block
    lesions and its loss slice (contour levels shared by all views, so switching compares like with like)."""
    import matplotlib.pyplot as plt
    import ipywidgets as widgets

    from .. import plots
    from ..widgets import NOT_TRAINED, static_explorer
    if not records:
        return widgets.HTML(f"<p><b>{title}</b>: no run of this chapter is recorded at this profile yet.</p>")
    lands = {n: landscape(r) for n, r in records.items()}
    levels = plots._loss_levels(list(lands.values()))
    views = {}
    for name, rec in records.items():
        fig, (a, b) = plt.subplots(1, 2, figsize=(10.5, 3.8), gridspec_kw=dict(width_ratios=[1.5, 1]))
        plots.lesion_blocks({name: lesion(rec)}, ax=a)
        plots.landscape_contour(lands[name], b, levels, title=f"{name}: loss on the 2-D slice")
        fig.tight_layout()
        views[(_depth(name), "residual" if name.startswith("resnet") else "plain")] = fig
    depths = sorted({_depth(n) for n in (NETS if profile_name() != "smoke" else SMOKE_NETS)})
    return static_explorer(views, depths, ["plain", "residual"], title=title,
                           missing="not recorded, or its lesions and landscape not both computed, at this "
                                   "profile yet", notes=NOT_TRAINED)


def _depth(name: str) -> int:
    return int(re.sub(r"\D", "", name))


def caption_line(records: dict[str, RunRecord]) -> str:
    """For captions: profile, data, seeds and nets shown."""
    from .store import caption
    if not records:
        return caption(records)
    return f"{caption(records)}; nets: {', '.join(records)}"


def lesion_method(profile: str | None = None) -> str:
    """What the lesion figures are computed on (Markdown), from the settings in force."""
    s = lesion_settings(profile)
    n = f"{s['images']:,} test images (a fixed subset)" if s["images"] else "all 10,000 test images"
    return (f"Every error below is measured on {n}, BN in eval mode with the trained running statistics. Random "
            f"multi-block deletions: {s['draws']} draws for each number k of deleted blocks (one when k is all of "
            f"them), draw d of k taken from `numpy.random.default_rng([{s['seed']}, k, d])`, so a ResNet and its "
            f"plain twin lose the same blocks.")


def landscape_method(profile: str | None = None) -> str:
    """What the landscape figures are computed on (Markdown), from the settings in force."""
    s = landscape_settings(profile)
    return (f"Grid: {s['steps']} x {s['steps']} points over $[-{s['span']:g}, {s['span']:g}]^2$ (step "
            f"{2 * s['span'] / (s['steps'] - 1):.2g}); loss and error on {s['images']:,} training images (a fixed "
            f"subset of the 45k split, seed {TRAIN_SUBSET_SEED}, no augmentation); directions seed "
            f"{s['seed']} for every net.")


def landscape_data_line(profile: str | None = None) -> str:
    s = landscape_settings(profile)
    return (f"{s['steps']} x {s['steps']} grid over [-{s['span']:g}, {s['span']:g}]^2, {s['images']:,} training "
            f"images, directions seed {s['seed']}")


def lesion_data_line(profile: str | None = None, draws: bool = True) -> str:
    """For captions: what the lesions are evaluated on; with ``draws``, how the random sets of k blocks are drawn."""
    s = lesion_settings(profile)
    n = f"{s['images']:,} test images" if s["images"] else "all 10,000 test images"
    return (f"Evaluated on {n}, BN in eval mode"
            + (f", {s['draws']} random sets of blocks per k (drawn with seed {s['seed']})" if draws else ""))


def conclusion(lesions: dict[str, dict], lands: dict[str, dict], missing=(), uncached=()) -> str:
    """What the recorded runs show, computed from the cached analyses and judged against the seed spread."""
    spread = seed_spread()
    lines = []
    for name, r in lesions.items():
        s = _single_stats(r)
        rise = s["same_mean"] - s["base"]
        if r["residual"]:
            down = list(s["down"].values())
            line = (f"- {name}: deleting one same-shape block raises the test error by {100 * rise:.2f} points on "
                    f"average -- {judge(rise, spread)}")
            if down:
                d = float(np.mean(down)) - s["same_mean"]
                line += (f"; the downsampling blocks cost {100 * abs(d):.2f} points {'more' if d > 0 else 'less'} "
                         f"than the average same-shape block ({judge(d, spread)})")
            lines.append(line + ".")
        else:
            lines.append(f"- {name}: deleting one same-shape block takes the test error from {pct(s['base'])} to "
                         f"{pct(s['same_mean'])} on average (chance: 90.0%).")
        if name.startswith("resnet") and f"plain{name[6:]}" in lesions:
            q = _single_stats(lesions[f"plain{name[6:]}"])
            diff = (q["same_mean"] - q["base"]) - rise
            lines.append(f"- The shortcut's share at depth {name[6:]}: one deleted block costs plain{name[6:]} "
                         f"{100 * abs(diff):.2f} points {'more' if diff > 0 else 'less'} than {name} -- "
                         f"{judge(diff, spread)}.")
    for name in lands:
        other = f"plain{name[6:]}"
        if name.startswith("resnet") and other in lands:
            r, p = LS.sharpness(lands[name]), LS.sharpness(lands[other])
            flatter = name if r["rise_0.5"] < p["rise_0.5"] else other
            lines.append(f"- Loss slices at depth {name[6:]}: half a unit from the trained weights the loss rises less "
                         f"for {flatter} ({num(r['rise_0.5'])} for {name}, {num(p['rise_0.5'])} for {other}); the slice "
                         f"curves downwards at {_pct(r['nonconvex'])} of {name}'s and {_pct(p['nonconvex'])} of "
                         f"{other}'s low-loss points. One seed and one pair of directions: described, not "
                         f"judged." + (" The flatter slice is not the lower one (see above)."
                                        if plateau_caveat(name, r, other, p) else ""))
    if missing:
        from ..runs import describe
        lines.append("- Not analysed, because not recorded at this profile yet: "
                     + ", ".join(describe(c) for c in missing) + ". Nothing above speaks for them.")
    if uncached:
        lines.append("- Recorded but not analysed yet (no cached lesion/landscape results): " + ", ".join(uncached)
                     + ". Nothing above speaks for them either.")
    return "\n".join(lines) if lines else "- No run of this chapter is recorded at this profile yet."


def _pct(x: float) -> str:
    """A percentage, or 'n/a' for NaN (no grid point below the chance loss)."""
    return "n/a" if x != x else pct(x)
