"""Which runs a page reads: the profile in force, the data, the recorded runs (never trained by the book), captions.

The profile is ``$RESNET_LAB_PROFILE`` if set, else the best one recorded in the run store (paper > cpu > smoke).
"""
from __future__ import annotations

import functools
import os

import pandas as pd
import torch

from .. import experiments
from ..profiles import ENV_VAR, get_profile
from ..runs import VARIANT_WORDS, RunNotRecorded, RunRecord, RunStore, describe, train_command, training_allowed
from ..train import RunConfig


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


def paper_records(arch: str, profile: str | None = None, failed: bool = False, shortcut: str = "A",
                  variant: str = "basic") -> list[RunRecord]:
    """The current records of ``arch`` (default: the paper's blocks, option A for a ResNet; a plain net has no
    shortcut) at ``profile`` (default: the book's) on the book's data, by seed; failed ones only if ``failed``."""
    recs = RunStore().find(arch=arch, profile=profile or profile_name(), variant=variant, data_source=_data_source())
    return sorted((r for r in recs if r.config.shortcut in (shortcut, None) and (failed or not r.failed)),
                  key=lambda r: r.config.seed)


def other_seeds(archs) -> dict[str, RunRecord]:
    """Every completed record of ``archs`` (the paper's blocks, option A) at the book's profile and data whose seed
    is not 0, keyed 'arch s<seed>': the extra seeds whose cached analyses the chapters judge over seeds."""
    return dict(sorted(((f"{a} s{r.config.seed}", r) for a in archs for r in paper_records(a) if r.config.seed != 0),
                       key=lambda kv: kv[0]))


def recorded(archs, profile: str, variant: str = "basic", seed: int = 0) -> dict[str, RunRecord]:
    """The runs of ``archs`` recorded under ``profile`` with ``seed`` (the seed whose initialisation the
    untrained controls use; never trains; missing ones are left out)."""
    out = {}
    for a in archs:
        hits = [r for r in RunStore().find(arch=a, profile=profile, variant=variant, seed=seed) if not r.failed]
        if hits:
            out[a] = hits[0]
    return out


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


def profile_note(records=None, scope: str | None = None) -> str:
    """The chapter's one line on what produced its results (a MyST note, Markdown): the profile, linked to the
    intro's table of profiles, and the data; ``scope`` replaces its closing sentence where a chapter's numbers do
    not all come from the recorded runs."""
    p = get_profile(profile_name())
    recs = list(records.values()) if isinstance(records, dict) else list(records or [])
    data_line = ""
    if recs:
        from ..plots import provenance_line
        data_line = f"; data: {provenance_line(recs, seeds=False).split(', ', 1)[1]}"
    return (f":::{{note}}\nResults on this page: profile `{p.name}` ({{ref}}`what each profile is <run-profiles>`)"
            f"{data_line}. " + (scope or "Seeds are named where several were run; every number is computed from "
                                         "the recorded runs when the book is built.") + "\n:::")


def profile_table() -> pd.DataFrame:
    """The run profiles side by side (what each budget is and can show)."""
    from ..profiles import PROFILES
    rows = []
    for p in PROFILES.values():
        rows.append({"profile": p.name, "iterations": p.iterations, "lr drops at": p.milestones,
                     "batch": p.batch_size, "training images": p.train_subset or 45000,
                     "epochs": round(p.epochs(), 1), "what it can show": p.summary})
    return pd.DataFrame(rows).set_index("profile").rename_axis(None)


def final_table(records) -> pd.DataFrame:
    """Final train/val/test error of records, one row per run, formatted for reading ('12.3%')."""
    from ..plots import final_errors
    recs = list(records.values()) if isinstance(records, dict) else list(records)
    if not recs:
        return pd.DataFrame()
    frame = final_errors(recs).set_index("arch").rename_axis(None)[["train_error", "val_error", "test_error"]]
    frame.columns = ["training error", "validation error", "test error"]
    return frame.map(lambda v: f"{v:.1f}%")


def _schedule_share(profile: str | None = None) -> str:
    """This profile's iterations as a share of the paper's 64k, e.g. '1/10'."""
    from fractions import Fraction
    its = get_profile(profile or profile_name()).iterations
    share = Fraction(its, get_profile("paper").iterations).limit_denominator(100)
    return "all" if share >= 1 else f"{share.numerator}/{share.denominator}"
