"""The trained-nets chapter: lesions (Veit et al. 2016) and loss landscapes (Li et al. 2018) of recorded runs.

Both analyses are computed once per run and cached in its record (``runs/<id>/analysis/lesion.json``,
``runs/<id>/analysis/landscape-<steps>x<steps>-n<images>-s<seed>.json``); the settings below say on what.
"""
from __future__ import annotations

import re

import pandas as pd
import torch

from ..analysis import landscape as LS
from ..analysis import lesion as LE
from ..runs import RunRecord
from .render import num, pct
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


# ---------------------------------------------------------------------------------------------------------
# Frames and Markdown reports, computed from the cached results
# ---------------------------------------------------------------------------------------------------------

def sharpness_table(lands: dict[str, dict]) -> pd.DataFrame:
    """The numbers :func:`resnet_lab.analysis.landscape.sharpness` reads off each net's grid, formatted."""
    from .trained_tables import share
    rows = {}
    for name, g in lands.items():
        s = LS.sharpness(g)
        rows[name] = {"loss at centre": f"{num(s['centre_loss'])}", "error at centre": pct(s["centre_error"]),
                      "loss rise at 0.5": f"{num(s['rise_0.5'])}", "loss rise at 1.0": f"{num(s['rise_1.0'])}",
                      "grid below chance loss": pct(s["below_chance"]),
                      "non-convex points (below chance)": share(s["nonconvex"])}
    return pd.DataFrame.from_dict(rows, orient="index")


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

