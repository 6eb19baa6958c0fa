"""What the book's notebooks call: the profile in force, recorded runs, cached analyses, captions.

A package: this file holds what every chapter shares and the chapters 1-4 studies; a study added later
gets its own submodule (``book.<study>``), re-exported here.

Notebooks hold prose, parameters and calls; this module holds the plumbing.
The profile is ``$RESNET_LAB_PROFILE`` if set, else the best one recorded in the
run store (paper > cpu > smoke). Recorded runs are never retrained; analyses of
a run are computed once and cached in its record.
"""
from __future__ import annotations

import functools
import os
import re

import pandas as pd
import torch

from .. import analysis, experiments
from ..profiles import ENV_VAR, get_profile
from ..runs import VARIANT_WORDS, RunNotRecorded, RunRecord, RunStore, describe, train_command, training_allowed
from ..train import RunConfig

ANALYSIS_IMAGES = {"smoke": 500}  # test images for the analyses of untrained nets; default 500
GRADIENT_IMAGES = {"smoke": 250}  # images (batches of 125, BN in training mode) for the gradient analysis; default 500


def show(text: str) -> None:
    """Display ``text`` as Markdown, or nothing when it is empty (an empty ``Markdown`` would show its repr)."""
    if text and text.strip():
        from IPython.display import Markdown, display
        display(Markdown(text))


def _cell(v) -> str:
    """One cell of a pipe table: NaN/None -> an en dash, '|' escaped, no line breaks."""
    if v is None or (not isinstance(v, (str, bytes)) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return "\u2013"
    return " ".join(str(v).split()).replace("|", "\\|")


def table_markdown(frame: pd.DataFrame, caption: str, name: str | None = None) -> str:
    """``frame`` as a MyST ``{table}`` (a numbered, captioned pipe table: 'Table 3.2: caption'). The index becomes
    the first column (every level of a MultiIndex, repeated labels left blank), headed by its name; net names in
    the index read as in the paper ('resnet56' -> 'ResNet-56')."""
    from ..models import paper_name
    if not caption or not caption.strip():
        raise ValueError("a table needs a caption")
    flat = frame.reset_index()
    levels = frame.index.nlevels
    heads = [_cell(n if n is not None and not (i < levels and str(n).startswith("level_")) else "")
             for i, n in enumerate(flat.columns)]
    heads = [h if h != "index" else "" for h in heads]
    rows, last = [], [None] * levels
    for rec in flat.itertuples(index=False):
        cells = list(rec)
        keys = [paper_name(_cell(c)) for c in cells[:levels]]
        shown = [k if k != last[i] or any(keys[j] != last[j] for j in range(i)) else "" for i, k in enumerate(keys)]
        last = keys
        rows.append(shown + [_cell(c) for c in cells[levels:]])
    def numeric(j):  # right-align a column of numbers ('12.3%', '+0.8', '×1.94', '21,623,848')
        vals = [r[j] for r in rows if r[j] not in ("", "\u2013")]
        return j >= levels and bool(vals) and all(re.match(r"^[-+×~<>]?\s*\d", v) for v in vals)
    lines = ["| " + " | ".join(heads) + " |", "|" + "".join("---:|" if numeric(j) else "---|"
                                                           for j in range(len(heads)))]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    opts = f":name: {name}\n" if name else ""
    return f":::{{table}} {' '.join(caption.split())}\n{opts}:align: left\n\n" + "\n".join(lines) + "\n:::"


def table(frame: pd.DataFrame, caption: str, name: str | None = None) -> None:
    """Display ``frame`` as a numbered table with ``caption`` (see ``table_markdown``); an empty frame shows
    nothing."""
    if frame is not None and not frame.empty:
        show(table_markdown(frame, caption, name))


def profile_note(records=None, scope: str | None = None) -> str:
    """The chapter's one statement of what produced its results (a MyST admonition, Markdown); ``scope``
    replaces its closing sentence where a chapter's numbers do not all come from the recorded runs."""
    from ..profiles import get_profile
    p = get_profile(profile_name())
    recs = list(records.values()) if isinstance(records, dict) else list(records or [])
    data_line = ""
    if recs:
        from ..plots import provenance_line
        data_line = f" Data: {provenance_line(recs, seeds=False).split(', ', 1)[1]}."
    return (f":::{{admonition}} Results on this page: profile `{p.name}`\n:class: note\n{p.summary}{data_line}"
            + (f" {scope}" if scope else " Seeds are named where several were run; every number below is computed "
                                          "from the recorded runs when the book is built.") + "\n:::")


def profile_name() -> str:
    """``$RESNET_LAB_PROFILE``, else the best profile recorded, else 'smoke'."""
    if os.environ.get(ENV_VAR):
        return get_profile(os.environ[ENV_VAR], where=f"${ENV_VAR}").name
    return get_profile(RunStore().best_profile() or "smoke", where="the run store's best profile").name


def analysis_device():
    """Where the costly analyses of trained nets (lesions, landscapes, multi-crop testing) run:
    ``$RESNET_LAB_ANALYSIS_DEVICE`` (cpu, cuda, mps), else the CPU. On CUDA in IEEE fp32 (no TF32)."""
    from ..train import check_device, set_cuda_numerics
    spec = os.environ.get("RESNET_LAB_ANALYSIS_DEVICE")
    device = check_device(spec, "$RESNET_LAB_ANALYSIS_DEVICE") if spec else torch.device("cpu")
    set_cuda_numerics(device, "fp32")
    return device


@functools.lru_cache(maxsize=1)
def data():
    """CIFAR-10 as the paper splits it (loaded only when something must be trained or analysed)."""
    from ..data import load_cifar10
    return load_cifar10()


def run_data(record: RunRecord):
    """:func:`data`, checked to be the CIFAR-10 ``record`` was trained on (source and content fingerprint): an
    analysis of a run reads the run's own data, never another copy under the run's label."""
    return record.check_data(data())


def _data_source() -> str:
    """The data source of the recorded runs of this profile, else the one configured here."""
    recorded = {r.config.data_source for r in RunStore().find(profile=profile_name())}
    if "official" in recorded:
        return "official"
    if recorded:
        return recorded.pop()
    from ..data import resolve_source
    return resolve_source()[0]


def analysis_source() -> str:
    """The data the analyses of untrained nets read ('jpeg' or 'official'): the source configured here
    (``$RESNET_LAB_CIFAR10``), else that of the recorded runs (their cached analyses are then read)."""
    from ..data import DatasetNotFound, resolve_source
    try:
        return resolve_source()[0]
    except DatasetNotFound:
        return _data_source()


def data_label() -> str:
    """Which CIFAR-10 the analyses of untrained nets read, for a caption: 'CIFAR-10 JPEG q75 copy' or
    'official CIFAR-10 release'."""
    from ..data import SOURCE_LABELS
    return SOURCE_LABELS[analysis_source()]


def missing_note(missing) -> str:
    """The Markdown a page shows for runs it asks for that are not recorded: each with the command that trains
    it, and how to train it from a live kernel. The book itself never trains."""
    cmds = "```bash\n" + "\n".join(train_command(c) for c in missing) + "\n```"
    first = missing[0]
    call = (f"book.train_run({first.arch!r}" + (f", variant={first.variant!r}" if first.variant != "basic" else "")
            + (f", shortcut={first.shortcut!r}" if first.shortcut not in (None, "A") else "")
            + (f", seed={first.seed}" if first.seed else "") + ")")
    return (f"**Not recorded yet:** {', '.join(describe(c) for c in missing)}. The figure and tables show the "
            f"runs that are; the book never trains. Train the missing runs in a terminal "
            f"(`python -m resnet_lab sweep --profile {first.profile}` trains them all):\n\n{cmds}\n\n"
            f"or, in a live kernel, `{call}` trains one here; then re-run this page.")


class RunSet(dict):
    """Recorded runs by name; ``missing`` names the asked-for runs that are not recorded (with training off)."""

    def __init__(self, *a, missing=(), **kw):
        super().__init__(*a, **kw)
        self.missing: list[RunConfig] = list(missing)
        self.uncached: list[str] = []  # recorded, but an analysis the page needs is not cached (see analysed())
        self.unusable: dict[str, str] = {}  # recorded, but its weights cannot be analysed (see with_weights())

    def note(self) -> str:
        """A Markdown line for a figure whose runs are not all recorded yet, or whose weights cannot be read
        ('' when none is missing)."""
        parts = []
        if self.missing:
            parts.append(missing_note(self.missing))
        if self.unusable:
            parts.append("**Left out, weights unusable:** " + "; ".join(f"{k} ({why})" for k, why in
                                                                         self.unusable.items())
                         + ". Move its record aside and train the run again to analyse it.")
        return "\n\n".join(parts)


def with_weights(records: RunSet) -> RunSet:
    """The runs whose saved weights load (finite, readable); the others are named in ``.unusable`` -- so a
    damaged weights file leaves its run out of the weight analyses of a page instead of stopping the page."""
    ok = {k: r for k, r in records.items() if r.weights_problem() is None}
    out = RunSet(ok, missing=getattr(records, "missing", ()))
    out.uncached = list(getattr(records, "uncached", []))
    out.unusable = {k: r.weights_problem() for k, r in records.items() if k not in ok}
    return out


def _config(arch: str, variant: str = "basic", shortcut: str | None = None, seed: int = 0,
            profile: str | None = None) -> RunConfig:
    return RunConfig(arch, shortcut=shortcut, variant=variant, profile=profile or profile_name(), seed=seed,
                     data_source=_data_source())


def run(arch: str, variant: str = "basic", shortcut: str | None = None, seed: int = 0,
        profile: str | None = None) -> RunRecord:
    """The recorded run. The book only reads records: a missing run raises :class:`RunNotRecorded` naming the
    command that trains it (pages show it as missing); training happens only when asked for, with
    :func:`train_run`, ``python -m resnet_lab train`` or ``sweep``, or the train-it-yourself panel."""
    cfg = _config(arch, variant, shortcut, seed, profile)
    rec = RunStore().get(cfg)
    if rec is None:
        raise RunNotRecorded(f"run {describe(cfg)} is not recorded in {RunStore().root}; the book never trains. "
                             f"Train it with: {train_command(cfg)}")
    return rec


def train_run(arch: str, variant: str = "basic", shortcut: str | None = None, seed: int = 0,
              profile: str | None = None) -> RunRecord:
    """Train the run a page names as missing, here and now (a progress bar shows the time left), and record it;
    re-run the page's cells afterwards to see it. Nothing else in the book trains. A recorded run is returned
    as it is."""
    cfg = _config(arch, variant, shortcut, seed, profile)
    return RunStore().get_or_train(cfg, data=data(), progress=True)


def runs(archs, variant: str = "basic", **kw) -> RunSet:
    """The recorded runs of ``archs``; with training off, missing ones are left out and named in ``.missing``."""
    out, missing = {}, []
    for a in archs:
        try:
            out[a] = run(a, variant=variant, **kw)
        except RunNotRecorded:
            missing.append(_config(a, variant, **kw))
    return RunSet(out, missing=missing)


def analysed(records: RunSet, cache_names) -> RunSet:
    """With training off (the book build), keep only the runs whose analyses ``cache_names(record)`` are all
    cached (``analysis/<name>.json``); the others are named in ``.uncached``. Analyses of trained nets cost
    minutes to hours of CPU, so a page reads them and never computes them (``python -m resnet_lab.book.caches``
    does) -- except at the ``smoke`` profile with training allowed (CI's notebooks), where they take seconds."""
    if training_allowed() and profile_name() == "smoke":
        return records
    ready = {k: r for k, r in records.items()
             if all((r.path / "analysis" / f"{n}.json").exists() for n in cache_names(r))}
    out = RunSet(ready, missing=records.missing)
    out.uncached = [k for k in records if k not in ready]
    return out


def sweep(**kw) -> RunSet:
    """Every run of the Fig. 6 sweep for this profile (plain and residual, option A)."""
    return runs(experiments.SWEEP_ARCHS, **kw)


def seeds(arch: str, **kw) -> RunSet:
    """Every seed of ``arch`` the sweep asks for (the seed-to-seed spread), keyed 'arch s<seed>'."""
    out, missing = {}, []
    for s in experiments.seeds_of(arch):
        try:
            out[f"{arch} s{s}"] = run(arch, seed=s, **kw)
        except RunNotRecorded:
            missing.append(_config(arch, seed=s, **kw))
    return RunSet(out, missing=missing)


def glue_figure(name: str, fig) -> None:
    """Glue a figure for the page's {glue:figure} directive and close it, so it is shown once (not also as the
    cell's output)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    paper_names(fig)
    glue(name, fig, display=False)
    plt.close(fig)


def paper_names(fig):
    """Rename the nets in a figure's titles, legends and tick labels as the paper writes them ('resnet56' ->
    'ResNet-56'); returns the figure."""
    from ..models import paper_name

    def fix(text):
        new = paper_name(text.get_text())
        if new != text.get_text():
            text.set_text(new)

    if getattr(fig, "_suptitle", None) is not None:
        fix(fig._suptitle)
    for leg in fig.legends:
        for t in leg.get_texts():
            fix(t)
    for ax in fig.axes:
        fix(ax.title)
        for t in (ax._left_title, ax._right_title):
            fix(t)
        if ax.get_legend() is not None:
            for t in ax.get_legend().get_texts():
                fix(t)
        for axis in (ax.xaxis, ax.yaxis):  # categorical ticks (a formatter would redraw the old text)
            labels = [t.get_text() for t in axis.get_ticklabels()]
            if any(paper_name(x) != x for x in labels):
                axis.set_ticks(axis.get_ticklocs(), [paper_name(x) for x in labels])
    return fig


def _images(record: RunRecord, n: int | None):
    return analysis.eval_images(run_data(record), n)


def responses(record: RunRecord) -> pd.DataFrame:
    """Fig. 7 statistics of a trained run: per 3x3 layer, response std on the test set (eval mode), |gamma|."""
    def compute():
        x, _ = _images(record, ANALYSIS_IMAGES.get(record.config.profile))
        return analysis.layer_statistics(record.load_model(), x, None, data().mean).to_dict(orient="list")
    return pd.DataFrame(record.cached("responses", compute, keys=("layer", "name", "std", "channel_std", "gamma_abs")))


def layer_gradients(record: RunRecord, trained: bool = True) -> pd.DataFrame:
    """Forward response std and backward gradient RMS per layer, BN in training mode (Sec. 4.1's argument)."""
    if not trained:
        return init_gradients(record.config.arch, record.config.seed)

    def compute():
        x, y = _images(record, GRADIENT_IMAGES.get(record.config.profile, 500))
        return analysis.layer_statistics(record.load_model(), x, y, data().mean, bn_mode="train", grads=True,
                                         batch_size=125).to_dict(orient="list")
    return pd.DataFrame(record.cached("gradients_trained", compute, keys=("layer", "std", "grad_rms")))


def _init_cached(arch: str, seed: int, name: str, compute) -> pd.DataFrame:
    """An analysis of the *untrained* net (its run's initialisation: same arch, same seed), cached under
    ``runs/studies/init/<source>/`` (:func:`analysis_source`: the JPEG copy's results are never read as the
    official release's) -- the control every trained-net analysis is read against."""
    import json
    from ..atomic import atomic_write_json
    n = ANALYSIS_IMAGES.get(profile_name(), 500)
    f = RunStore().root / "studies" / "init" / analysis_source() / f"{arch}-s{seed}" / f"{name}-{n}.json"
    if f.exists():
        return pd.DataFrame(json.loads(f.read_text()))
    torch.manual_seed(seed)  # the same initial weights as the run of this seed (train() seeds the same way)
    value = compute(RunConfig(arch).build(), n).to_dict(orient="list")
    try:
        atomic_write_json(f, value)
    except OSError:
        pass
    return pd.DataFrame(value)


def init_gradients(arch: str, seed: int = 0) -> pd.DataFrame:
    """:func:`layer_gradients` of the untrained net."""
    def compute(model, n):
        x, y = analysis.eval_images(data(), min(n, GRADIENT_IMAGES.get(profile_name(), 500)))
        return analysis.layer_statistics(model, x, y, data().mean, bn_mode="train", grads=True, batch_size=125)
    return _init_cached(arch, seed, "gradients", compute)


def init_responses(arch: str, seed: int = 0) -> pd.DataFrame:
    """Fig. 7 statistics of the untrained net, BN on batch statistics (its running statistics are not yet
    estimated): every response std is then |gamma| = 1 by construction, plain or residual."""
    def compute(model, n):
        x, _ = analysis.eval_images(data(), n)
        return analysis.layer_statistics(model, x, None, data().mean, bn_mode="train")
    return _init_cached(arch, seed, "responses", compute)


def init_branch_identity(arch: str, seed: int = 0) -> pd.DataFrame:
    """Branch vs identity of the untrained net (BN on batch statistics)."""
    def compute(model, n):
        x, _ = analysis.eval_images(data(), n)
        return analysis.branch_vs_identity(model, x, data().mean, bn_mode="train")
    return _init_cached(arch, seed, "branch_identity", compute)


def branch_identity(record: RunRecord) -> pd.DataFrame:
    """Per residual block: std of F(x) against std of the identity path, on the test set."""
    def compute():
        x, _ = _images(record, ANALYSIS_IMAGES.get(record.config.profile))
        return analysis.branch_vs_identity(record.load_model(), x, data().mean).to_dict(orient="list")
    return pd.DataFrame(record.cached("branch_identity", compute, keys=("block", "branch_std", "identity_std", "ratio")))


def caption(records, what: str = "") -> str:
    """A caption line naming profile and data source, e.g. for a figure's legend or title; for a RunSet whose
    runs are not all recorded, also the nets the figure therefore lacks."""
    from ..plots import provenance_line
    recs = list(records.values()) if isinstance(records, dict) else list(records)
    line = provenance_line(recs) if recs else f"profile {profile_name()}, no run recorded yet"
    missing = getattr(records, "missing", ())
    if missing:
        names = [c.arch + (f" option {c.shortcut}" if c.shortcut not in (None, "A") else "")
                 + ("" if c.variant == "basic" else f" ({VARIANT_WORDS.get(c.variant, c.variant)})")
                 + (f" seed {c.seed}" if c.seed else "") for c in missing]
        line += "; not recorded yet, so not shown: " + ", ".join(names)
    return (what + " -- " if what else "") + line


def profile_table() -> pd.DataFrame:
    """The run profiles side by side (what each budget is and can show)."""
    from ..profiles import PROFILES
    rows = []
    for p in PROFILES.values():
        rows.append({"profile": p.name, "iterations": p.iterations, "lr drops at": p.milestones,
                     "batch": p.batch_size, "training images": p.train_subset or 45000,
                     "epochs": round(p.epochs(), 1), "what it can show": p.summary})
    return pd.DataFrame(rows).set_index("profile").rename_axis(None)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pct2(x: float) -> str:
    """Two decimals: for errors set beside a difference and a seed spread, so that rounding never makes a
    difference look equal to the spread it is judged against."""
    return f"{100 * x:.2f}%"


def final_table(records) -> pd.DataFrame:
    """Final train/val/test error of records, one row per run, formatted for reading ('12.3%')."""
    from ..plots import final_errors
    recs = list(records.values()) if isinstance(records, dict) else list(records)
    if not recs:
        return pd.DataFrame()
    frame = final_errors(recs).set_index("arch").rename_axis(None)[["train_error", "val_error", "test_error"]]
    frame.columns = ["training error", "validation error", "test error"]
    return frame.map(lambda v: f"{v:.1f}%")


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
          unit: str = "points") -> str:
    """The words for a difference between single runs (one seed per arm): described, never judged -- the book's
    rule (:data:`resnet_lab.stats.RULE`) judges only arms of 3+ seeds. For scale it says whether ``diff`` is
    larger than the measured seed range of ``metric`` at depth 20 (``seeds`` seeds, else read from the store).
    ``unit``: 'points' for an error (a fraction, shown in percentage points), or '' for a quantity shown as it is."""
    if spread is None:
        return "one seed per net: described, not judged (the seed range is not measured yet at this profile)"
    n = seeds if seeds is not None else spread_seeds(metric)
    what = (f"{100 * spread:.2f} points" if unit == "points" else f"{spread:.3f}") + (f", {n} seeds" if n else "")
    rel = "larger than" if abs(diff) > spread else "within"
    return f"{rel} the depth-20 seed range ({what}); one seed per net: described, not judged"


def compare(name_a: str, a: RunRecord, name_b: str, b: RunRecord, metric: str = "final_test_error") -> str:
    """One sentence: ``a`` against ``b`` on ``metric``, judged against the seed spread."""
    what = {"final_test_error": "test error", "final_train_error": "training error"}[metric]
    ea, eb = _shown(a.metrics[metric]), _shown(b.metrics[metric])
    rel = "below" if ea < eb else "above" if ea > eb else "equal to"
    return (f"{name_a} {what} {pct2(ea)} is {rel} {name_b}'s {pct2(eb)} by {100 * abs(ea - eb):.2f} points -- "
            f"{judge(ea - eb, seed_spread(metric), metric)}.")


def num(x: float) -> str:
    """A loss or a ratio for reading: three decimals below 10, one below 100, whole numbers above
    ('0.404', '25.4', '11,285')."""
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 100 else f"{x:,.0f}"


def block_label(name: str) -> str:
    """A module path for readers: 'stage2.0' -> 'block 1 of stage 2'; other names unchanged."""
    m = re.fullmatch(r"stage(\d+)\.(\d+)", str(name))
    return f"block {int(m.group(2)) + 1} of stage {m.group(1)}" if m else str(name)


def span(lo: float, hi: float, fmt: str = ".2f", every: str = "layer") -> str:
    """'between 0.84 and 1.20', or '1.00 in every layer' when the two ends print the same."""
    a, b = format(lo, fmt), format(hi, fmt)
    return f"{a} in every {every}" if a == b else f"between {a} and {b}"


def _shown(error: float) -> float:
    """An error as the book prints it (percent, two decimals), so that a difference of two printed errors is
    the difference the reader computes from them (17.91% - 17.59% = 0.32, not 0.31)."""
    return round(100 * error, 2) / 100


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


def degradation_report(records: dict[str, RunRecord]) -> str:
    """A sentence per claim of Sec. 4.2, computed from the records and judged against the seed spread."""
    m = {k: r for k, r in records.items() if not r.failed}
    lines = []
    plains = [k for k in ("plain20", "plain32", "plain44", "plain56") if k in m]
    if plains:
        lines.append("- Final **training** error of the plain nets, shallow to deep: "
                     + ", ".join(f"{k} {pct(m[k].metrics['final_train_error'])}" for k in plains) + ".")
    if len(plains) >= 2:
        lines.append(f"- Degradation: {compare(plains[-1], m[plains[-1]], plains[0], m[plains[0]], 'final_train_error')}")
    if steps := steps_report(m, plains):
        lines.append(f"- Plain nets, {steps}.")
    for d in (20, 32, 44, 56, 110):
        p, r = m.get(f"plain{d}"), m.get(f"resnet{d}")
        if p and r:
            lines.append(f"- Depth {d}, training: {compare(f'resnet{d}', r, f'plain{d}', p, 'final_train_error')}"
                         f" Test: {compare(f'resnet{d}', r, f'plain{d}', p)}")
    res = [k for k in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110") if k in m]
    if res:
        lines.append("- ResNet test error, shallow to deep: "
                     + ", ".join(f"{k} {pct(m[k].metrics['final_test_error'])}" for k in res) + ".")
    if len(res) >= 2:
        lines.append(f"- Deeper ResNets: {compare(res[-1], m[res[-1]], res[0], m[res[0]])}")
        deep, shallow = m[res[-1]].metrics["final_train_error"], m[res[0]].metrics["final_train_error"]
        spread = seed_spread("final_train_error")
        if spread is None or abs(deep - shallow) <= spread:
            verdict = "no difference either way is measured at this profile"
        elif deep < shallow:
            verdict = "our runs agree"
        else:
            verdict = (f"our runs show the opposite at this profile: after {_schedule_share()} of the paper's "
                       f"schedule the deeper ResNet fits its training data less well than the shallower one")
        lines.append(f"- Deeper ResNets, training: {compare(res[-1], m[res[-1]], res[0], m[res[0]], 'final_train_error')}"
                     f" In the paper (Fig. 6 middle, full schedule) the deeper ResNet has the lower training "
                     f"error; {verdict}.")
    for metric in ("final_train_error", "final_test_error"):
        if steps := steps_report(m, res, metric):
            lines.append(f"- ResNets, {steps}.")
    return "\n".join(lines) if lines else "- No run of this comparison is recorded at this profile yet."


def _schedule_share(profile: str | None = None) -> str:
    """This profile's iterations as a share of the paper's 64k, e.g. '1/10'."""
    from fractions import Fraction
    its = get_profile(profile or profile_name()).iterations
    share = Fraction(its, get_profile("paper").iterations).limit_denominator(100)
    return "all" if share >= 1 else f"{share.numerator}/{share.denominator}"


def schedule_report(records: dict[str, RunRecord]) -> str:
    """How far this profile's schedule gets: each recorded ResNet's test error against the paper's Table 6
    (quoted), and the gap; then what the gap means for the comparisons (Markdown)."""
    from ..reference import PAPER_TABLE6
    m = {k: r for k, r in records.items() if not r.failed and k in PAPER_TABLE6}
    if not m:
        return "- No ResNet of Table 6 is recorded at this profile yet."
    gaps = {k: 100 * r.metrics["final_test_error"] - PAPER_TABLE6[k][0] for k, r in m.items()}
    lines = [f"- At {_schedule_share()} of the paper's schedule ({get_profile(profile_name()).iterations:,} of "
             f"{get_profile('paper').iterations:,} iterations), seed 0's test error against the paper's (Table 6, quoted): "
             + ", ".join(f"{k} {pct(m[k].metrics['final_test_error'])} vs {PAPER_TABLE6[k][0]:.2f}% "
                         f"(+{g:.1f} points)" for k, g in gaps.items()) + "."]
    spread_paper = max(v[0] for k, v in PAPER_TABLE6.items() if k in m) - min(v[0] for k, v in PAPER_TABLE6.items()
                                                                              if k in m)
    short = f"Our nets are {min(gaps.values()):.1f} to {max(gaps.values()):.1f} points short of the paper's"
    if len(m) < 2:
        lines.append(f"- {short}.")
    elif min(gaps.values()) > spread_paper:
        lines.append(f"- {short}, more than the paper's own differences between these depths ({spread_paper:.2f} "
                     f"points). So this profile can show what happens in the first {_schedule_share()} of training "
                     f"-- whether a net learns at all, the plain nets' degradation, plain against residual at one "
                     f"depth -- but not the ordering of ResNets by depth, which the paper measures after its long "
                     f"low-lr phase; that needs `--profile paper` (a GPU).")
    else:
        lines.append(f"- {short}, no more than the paper's own differences between these depths ({spread_paper:.2f} "
                     f"points): at this profile the ordering of ResNets by depth can be compared with the paper's.")
    return "\n".join(lines)


def table6(records: dict[str, RunRecord]) -> pd.DataFrame:
    """Table 6 side by side (test error, %): ours (mean ± std over seeds), the paper's, the reproductions'. Every
    net of the paper's table has a row, so the quoted numbers show even where our run is not recorded yet."""
    from ..reference import PAPER_RESNET110_MEAN, PAPER_TABLE6, REPRODUCTIONS
    from ..summary import count_params

    def num(v):
        return f"{v[0]:.2f} ± {v[1]:.2f}" if isinstance(v, tuple) else f"{v:.2f}" if v != "" else ""

    ours_col = f"this project ({profile_name()}): mean ± std over seeds"
    recorded = {r.config.arch for r in records.values() if r.config.variant == "basic"}
    archs = sorted(set(experiments.SWEEP_ARCHS) | set(PAPER_TABLE6) | recorded,
                   key=lambda a: (a.startswith("resnet"), int(re.sub(r"\D", "", a))))
    rows = []
    for arch in archs:
        errs = pd.Series([100 * r.metrics["final_test_error"] for r in seeds(arch).values() if not r.failed]
                         if arch in recorded else [], dtype=float)
        ours = ("not recorded" if arch in experiments.SWEEP_ARCHS else "not trained") if errs.empty else (
            f"{errs.mean():.2f}" + (f" ± {errs.std():.2f} (n={len(errs)})" if len(errs) > 1 else " (n=1)"))
        row = {"net": arch, "params": f"{count_params(RunConfig(arch).build()) / 1e6:.2f}M", ours_col: ours,
               "paper": num(PAPER_TABLE6.get(arch, ("",))[0])}
        if arch == "resnet110":  # the paper's 6.43 is its best of 5 runs; set it beside their mean, not alone
            row["paper"] = f"{PAPER_TABLE6[arch][0]:.2f} (best of 5); {PAPER_RESNET110_MEAN[0]:.2f} ± {PAPER_RESNET110_MEAN[1]:.2f}"
        for repo, info in REPRODUCTIONS.items():
            row[repo.split("/")[0]] = num(info["errors"].get(arch, ""))
        rows.append(row)
    return pd.DataFrame(rows).set_index("net").rename_axis(None)


def gradient_report(stats: dict[str, pd.DataFrame]) -> str:
    """Per net: the forward std range and how the gradient RMS changes from the last 3x3 layer to the first;
    then, where the frames are there, three labelled verdicts: depth (plain-20 vs plain-56 at initialisation), the
    control (plain-56 against its residual twin at initialisation) and after training."""
    lines, ratio = [], {}
    for label, f in stats.items():
        g = f["grad_rms"].to_numpy()
        ratio[label] = g[0] / g[-1]
        lines.append(f"- {label}: forward std {span(f['std'].min(), f['std'].max())}; gradient RMS "
                     f"{g[-1]:.2e} at the last 3x3 layer, {g[0]:.2e} at the first (ratio first/last "
                     f"{ratio[label]:.3g}: it {'grows' if ratio[label] > 1 else 'shrinks'} on the way back).")
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
        twin = f"; through ResNet-56 {r:.3g} at init, {rt:.3g} trained" if r is not None and rt is not None else ""
        state = ("the first layer's gradient is within a factor of ten of the last layer's: neither an explosion nor "
                 "a vanishing gradient is left" if 0.1 < pt < 10 else
                 "the gradient still grows more than tenfold on its way back" if pt >= 10 else
                 "the gradient falls more than tenfold on its way back: it vanishes")
        lines.append(f"- **After training**: the first/last gradient ratio of plain-56 is {pt:.3g} (at initialisation "
                     f"{p:.3g}): training "
                     f"{'removes the growth' if pt <= 1 else 'reduces the growth' if pt < p else 'does not reduce it'}"
                     f"; {state}{twin}.")
    return "\n".join(lines)


def recorded(archs, profile: str, variant: str = "basic", seed: int = 0) -> dict[str, RunRecord]:
    """The runs of ``archs`` recorded under ``profile`` with ``seed`` (the seed whose initialisation the
    untrained controls use; never trains; missing ones are left out)."""
    out = {}
    for a in archs:
        hits = [r for r in RunStore().find(arch=a, profile=profile, variant=variant, seed=seed) if not r.failed]
        if hits:
            out[a] = hits[0]
    return out


def response_spread() -> tuple[float, int] | None:
    """(range, seeds): the seed-to-seed spread of the mean response std over the 3x3 layers -- the largest range
    over the seeds of ResNet-20 and of plain-20 (computed and cached once per run, like Fig. 7's own
    statistics); None until one of them has two seeds recorded."""
    return _widest_range("responses", lambda a: [float(responses(r)["std"].mean())
                                                 for r in seeds(a).values() if not r.failed])


def response_report(resp: dict[str, pd.DataFrame], spread: tuple[float, int] | None = None) -> str:
    """Fig. 7's two claims checked on our frames: ResNets respond less than plain nets; deeper ResNets less still.
    Each difference of the mean response std is judged against ``spread`` (:func:`response_spread`)."""
    mean = {k: float(f["std"].mean()) for k, f in resp.items()}

    def verdict(d):
        return judge(d, spread[0], seeds=spread[1], unit="") if spread else judge(d, None)
    lines = ["- Mean response std over the 3x3 layers: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()) + "."]
    for d in (20, 56):
        p, r = mean.get(f"plain{d}"), mean.get(f"resnet{d}")
        if p is not None and r is not None:
            lines.append(f"- Depth {d}: ResNet {'below' if r < p else 'NOT below'} its plain twin "
                         f"({r:.3f} vs {p:.3f}, {abs(r - p):.3f} apart) -- {verdict(r - p)}.")
    res = [k for k in ("resnet20", "resnet56", "resnet110") if k in mean]
    if len(res) >= 2:
        steps = [(a, b, mean[b] - mean[a]) for a, b in zip(res, res[1:])]
        found = spread is not None and all(d < 0 and -d > spread[0] for _, _, d in steps)
        lines.append("- Deeper ResNets, step by step: " + "; ".join(
            f"{b} {abs(d):.3f} {'below' if d < 0 else 'above'} {a}, {verdict(d)}" for a, b, d in steps)
            + ((". Deeper ResNets respond less at every step, beyond the seed range (one seed per net: "
                "described, not judged)." if len(steps) > 1 else
                f". From {res[0]} to {res[1]} the ResNet responds less, beyond the seed range (one seed per net; "
                f"one step of depth: "
                f"{', '.join(k for k in ('resnet20', 'resnet56', 'resnet110') if k not in mean)} not shown).")
               if found else ". So these runs do not show deeper ResNets responding less at every step."))
    gap = {k: float(((f.channel_std - f.gamma_abs).abs() / f.gamma_abs).median()) for k, f in resp.items()}
    lines.append("- Median relative gap between a layer's mean channel std and its mean |gamma|: "
                 + ", ".join(f"{k} {v:.0%}" for k, v in gap.items()) + ".")
    return "\n".join(lines)


def branch_report(branch: dict[str, pd.DataFrame]) -> str:
    """Per ResNet: how the residual branch's std compares with the identity path's."""
    return "\n".join(
        f"- {k}: std F(x) / std x has median {f.ratio.median():.2f} (range {f.ratio.min():.2f} to "
        f"{f.ratio.max():.2f}); the branch is smaller than the identity in {int((f.ratio < 1).sum())} of "
        f"{len(f)} blocks." for k, f in branch.items())


def lr_study(nets=None) -> list[dict]:
    """The recorded (net, seed) results of the lr-0.1 study (``runs/studies/lr0.1``) for ``nets`` (default:
    chapter 3's, ``lr_study.NETS``), in that order."""
    from ..analysis import lr_study as L
    nets = tuple(nets or L.NETS)
    order = {n: i for i, n in enumerate(nets)}
    recs = [r for r in L.load(RunStore().root) if r["net"] in order]
    return sorted(recs, key=lambda r: (order[r["net"]], r["seed"]))


def lr_study_report(records: list[dict]) -> str:
    """Per net: how many seeds collapsed at lr 0.1, how high the loss went, how many units died (Markdown)."""
    from ..analysis import lr_study as L
    if not records:
        return ("- The lr-0.1 study is not recorded in this run store yet: run "
                "`python -m resnet_lab.analysis.lr_study`.")
    t = L.by_net(records)
    lines = []
    for net, row in t.iterrows():
        lines.append(f"- {L.label(net)}: {int(row['collapsed'])} of {int(row['seeds'])} seeds collapsed (training error over "
                     f"the last 50 of {records[0]['iterations']} iterations above {L.COLLAPSE_ERROR:.0%}); mean "
                     f"error there {pct(row['train error, last 50 it (mean)'])}; highest loss in the first 100 "
                     f"iterations {row['peak loss, first 100 it (max)']:.2f} (chance: 2.30); at most "
                     f"{pct(row['dead stage-3 units, peak (max)'])} of stage-3 ReLU units dead at once.")
    missing = [n for n in L.NETS if n not in t.index]
    if missing:
        lines.append(f"- Not recorded yet: {', '.join(missing)} (`python -m resnet_lab.analysis.lr_study --nets "
                     f"{' '.join(missing)}`).")
    have = {(r["net"], r["seed"]) for r in records}
    short = {n: [s for s in L.SEEDS if (n, s) not in have] for n in t.index}
    short = {n: s for n, s in short.items() if s}
    if short:
        lines.append("- Seeds not recorded yet: " + "; ".join(f"{L.label(n)} seed{'s' if len(s) > 1 else ''} "
                                                              f"{', '.join(map(str, s))}" for n, s in short.items())
                     + " (`python -m resnet_lab.analysis.lr_study` resumes); a collapse rate over fewer seeds is "
                       "a count, not yet a rate.")
    lines += warmup_study_lines(records)
    if {"resnet110", "resnet110+warmup"} <= set(t.index):
        a, n = int(t.loc["resnet110", "collapsed"]), int(t.loc["resnet110", "seeds"])
        b, m = int(t.loc["resnet110+warmup", "collapsed"]), int(t.loc["resnet110+warmup", "seeds"])
        p = fisher_exact_p(a, n - a, b, m - b)
        lines.append(f"- Warm-up or not, ResNet-110: {a} of {n} seeds collapsed without it, {b} of {m} with it "
                     f"(Fisher's exact two-sided p = {p:.2f}: "
                     + ("a difference these seeds can show)." if p < 0.05 else
                        f"{n + m} seeds cannot tell these rates apart)."))
    recovery = recovery_report(records)
    return "\n".join(lines) + (f"\n{recovery}" if recovery else "")


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]]: the probability, with the margins fixed, of
    a table at most as likely as the one observed."""
    from math import comb
    r1, c1, n = a + b, a + c, a + b + c + d

    def prob(x):
        return comb(c1, x) * comb(n - c1, r1 - x) / comb(n, r1)
    seen = prob(a)
    return min(1.0, sum(prob(x) for x in range(max(0, r1 + c1 - n), min(r1, c1) + 1)
                        if prob(x) <= seen * (1 + 1e-9)))


def warmup_study_lines(records: list[dict]) -> list[str]:
    """For the lr-0.1 study's warm-up nets: where each seed's warm-up ended (Sec. 4.2's rule: lr 0.01 until the
    training error over the last 100 iterations is below 80%) and whether the net collapsed after it."""
    from ..analysis import lr_study as L
    out = []
    summ = L.summary(records)
    for net in dict.fromkeys(r["net"] for r in records if r.get("warmup")):
        ends, after = [], 0
        for r in (r for r in records if r["net"] == net):
            end = next((p["iter"] for p in r["history"] if p.get("warmup_ended")), None)
            ends.append(f"seed {r['seed']} at iteration {end}" if end is not None else
                        f"seed {r['seed']} never (still at lr 0.01 at iteration {r['iterations']})")
            row = summ[(summ.net == net) & (summ.seed == r["seed"])]
            after += int(end is not None and not row.empty and bool(row.collapsed.iloc[0]))
        out.append(f"- {net}: the warm-up ended for {'; '.join(ends)} (the paper: after about 400 iterations); "
                   f"{after} of {len(ends)} seed{'s' if len(ends) > 1 else ''} collapsed after it had ended, at lr 0.1.")
    return out


def recovery_report(records: list[dict]) -> str:
    """Does a collapse last? For each (net, seed) of the study that collapsed and whose full `cpu`-profile run is
    recorded (the study's recipe; same net, same seed, lr drops and all): the first logged iteration at which that run's training error
    was below the collapse line, and its final errors (Markdown; '' when no such pair is recorded)."""
    from ..analysis import lr_study as L
    if not records:
        return ""
    lines = []
    for row in L.summary(records).itertuples():
        if not row.collapsed or row.net == "resnet110":  # the profile's ResNet-110 warms up; this study row did not
            continue
        arch, _, variant = L.parse(row.net)
        rec = RunStore().get(_config(arch, seed=int(row.seed), profile="cpu", variant=variant))  # never trains
        if rec is None or rec.failed:
            continue
        out = next((pt["iter"] for pt in rec.history["train"] if pt["error"] < L.COLLAPSE_ERROR), None)
        left = (f"its training error first fell below {L.COLLAPSE_ERROR:.0%} at iteration {out:,}" if out
                else f"its training error never fell below {L.COLLAPSE_ERROR:.0%}")
        lines.append(f"- {row.net} seed {row.seed} collapsed in the study; in its full `{rec.config.profile}` run "
                     f"{left}, and it ended at {pct(rec.metrics['final_train_error'])} training and "
                     f"{pct(rec.metrics['final_test_error'])} test error.")
    return "\n".join(lines)


def lr_study_caption(records: list[dict]) -> str:
    """Data, numerics and size of the lr-0.1 study, read from its records (for the figure's caption)."""
    if not records:
        return "not recorded yet"
    data = sorted({r["provenance"].get("data", "?") for r in records})
    prec = sorted({r["provenance"].get("numerics", {}).get("precision", "?") for r in records})
    return (f"{len(records)} (net, seed) pairs of {records[0]['iterations']} iterations; {'; '.join(data)}; "
            f"{', '.join(prec)}")


def lr_study_table(records: list[dict]) -> pd.DataFrame:
    from ..analysis import lr_study as L
    t = L.by_net(records)
    if t.empty:
        return t
    for c in ("train error, last 50 it (mean)", "dead stage-3 units, peak (max)"):
        t[c] = t[c].map(pct)
    t["peak loss, first 100 it (max)"] = t["peak loss, first 100 it (max)"].map("{:.2f}".format)
    return t.rename(index=L.label)


def warmup_report(record: RunRecord) -> str:
    """Where the ResNet-110 warm-up of a recorded run ended (Sec. 4.2: lr 0.01 until training error < 80%)."""
    ended = [p["iter"] for p in record.history["train"] if p.get("warmup_ended")]
    if not ended:
        return f"In {record.label()} the warm-up never ended."
    line = (f"In {record.label()} the training error over the last 100 iterations fell below 80% at iteration "
            f"{ended[0]}, and the lr returned to 0.1 there (the paper: 'about 400 iterations').")
    after = [p for p in record.history["train"] if p["iter"] > ended[0]]
    worst = max(after[:max(1, len(after) // 10)], key=lambda p: p["error"], default=None)  # the next tenth of the run
    if worst is not None and worst["error"] >= 0.8:
        back = next((p["iter"] for p in after if p["iter"] > worst["iter"] and p["error"] < 0.8), None)
        line += (f" At lr 0.1 the training error went back up to {pct(worst['error'])} (iteration {worst['iter']}"
                 + (f") and fell below 80% again by iteration {back}." if back else ") and never fell below 80% again."))
    return line


def parity() -> dict:
    """The recorded runs of the bf16/fp32 parity study (``runs/studies/parity``), keyed (arch, seed, precision)."""
    from .. import parity as P
    return P.load(RunStore().root)


def paper_precision_note(records: dict) -> str:
    """What the ``paper`` profile trains in, and why, against the parity study's verdict (Markdown)."""
    from .. import parity as P
    prec = get_profile("paper").precision
    passed = P.keeps_accuracy(records)
    uses = "bf16" if prec == "auto" else prec
    if uses == "bf16":
        why = ("bf16 passed this test for both nets" if passed else
               "**although this test has not shown that bf16 keeps accuracy** (a contradiction: "
               "`tests/test_recorded_runs.py` should have caught it)")
        return (f"The `paper` profile trains in bf16 on a GPU and on CPUs with native bf16, fp32 elsewhere: {why}. "
                f"`--precision fp32` asks for fp32.")
    why = ("bf16 has passed this test, but the profile has not been switched" if passed else
           "bf16 has not passed this test for both nets (above), so by this book's own rule no recorded run "
           "may use it by default")
    return (f"The `paper` profile trains in {uses} on every device: {why}. `--precision bf16` asks for bf16 "
            f"anyway, and the run's name says so. Whether it is faster depends on the machine: `python -m "
            f"resnet_lab bench` measures it, and `benchmarks/NOTES.md` records what it measured on this project's "
            f"CPUs and on one GPU.")


def parity_table(records: dict) -> pd.DataFrame:
    """The parity study's table formatted for reading: errors with '%', differences in signed points."""
    from .. import parity as P
    t = P.table(records)
    if t.empty:
        return t
    t = t.set_index(["net", "seed"])
    for c in t.columns:
        if c.startswith("img/s"):
            t[c] = t[c].map(lambda v: "–" if v is None or v != v else f"{v:.0f}")  # resumed or not recorded
        elif c.endswith("- fp32"):
            t[c] = t[c].map(lambda v: "–" if v != v else f"{v:+.2f}")
        else:
            t[c] = t[c].map(lambda v: "not recorded" if v != v else f"{v:.2f}%")
    return t


# Studies added after chapters 1-4, one submodule each (imported last: they use the plumbing above).
from . import variants  # noqa: E402
from . import testing  # noqa: E402
from . import trained  # noqa: E402
from . import initialisation  # noqa: E402
from . import convergence  # noqa: E402
from . import bn_modes  # noqa: E402
from . import status  # noqa: E402
from . import verdicts  # noqa: E402
from . import early  # noqa: E402
