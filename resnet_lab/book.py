"""What the book's notebooks call: the profile in force, recorded runs, cached analyses, captions.

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

from . import analysis, experiments
from .profiles import ENV_VAR, get_profile
from .runs import RunNotRecorded, RunRecord, RunStore, describe, train_command, training_allowed
from .train import RunConfig

ANALYSIS_IMAGES = {"smoke": 500}  # test images for the analyses; every profile not listed uses all 10k
GRADIENT_IMAGES = {"smoke": 250}  # images (batches of 125, BN in training mode) for the gradient analysis; default 500


def profile_name() -> str:
    """``$RESNET_LAB_PROFILE``, else the best profile recorded, else 'smoke'."""
    name = os.environ.get(ENV_VAR) or RunStore().best_profile() or "smoke"
    return get_profile(name).name


@functools.lru_cache(maxsize=1)
def data():
    """CIFAR-10 as the paper splits it (loaded only when something must be trained or analysed)."""
    from .data import load_cifar10
    return load_cifar10()


def _data_source() -> str:
    """The data source of the recorded runs of this profile, else the one configured here."""
    recorded = {r.config.data_source for r in RunStore().find(profile=profile_name())}
    if "official" in recorded:
        return "official"
    if recorded:
        return recorded.pop()
    from .data import resolve_source
    return resolve_source()[0]


class RunSet(dict):
    """Recorded runs by name; ``missing`` names the asked-for runs that are not recorded (with training off)."""

    def __init__(self, *a, missing=(), **kw):
        super().__init__(*a, **kw)
        self.missing: list[RunConfig] = list(missing)

    def note(self) -> str:
        """A Markdown line for a figure whose runs are not all recorded yet ('' when none is missing)."""
        if not self.missing:
            return ""
        names = ", ".join(describe(c) for c in self.missing)
        return (f"**Not recorded yet:** {names}. The figure shows the runs that are. Train the rest with "
                f"`python -m resnet_lab sweep --profile {self.missing[0].profile}`.")


def _config(arch: str, variant: str = "basic", shortcut: str | None = None, seed: int = 0,
            profile: str | None = None) -> RunConfig:
    return RunConfig(arch, shortcut=shortcut, variant=variant, profile=profile or profile_name(), seed=seed,
                     data_source=_data_source())


def run(arch: str, variant: str = "basic", shortcut: str | None = None, seed: int = 0,
        profile: str | None = None) -> RunRecord:
    """The recorded run (trained here only if it is missing and training is allowed)."""
    cfg = _config(arch, variant, shortcut, seed, profile)
    store = RunStore()
    rec = store.get(cfg)
    if rec is not None:
        return rec
    return store.get_or_train(cfg, data=data() if training_allowed() else None, progress=True)


def runs(archs, variant: str = "basic", **kw) -> RunSet:
    """The recorded runs of ``archs``; with training off, missing ones are left out and named in ``.missing``."""
    out, missing = {}, []
    for a in archs:
        try:
            out[a] = run(a, variant=variant, **kw)
        except RunNotRecorded:
            missing.append(_config(a, variant, **kw))
    return RunSet(out, missing=missing)


def sweep(**kw) -> RunSet:
    """Every run of the Fig. 6 sweep for this profile (plain and residual, option A)."""
    archs = [f"plain{d}" for d in experiments.PLAIN_DEPTHS] + [f"resnet{d}" for d in experiments.RESNET_DEPTHS]
    return runs(archs, **kw)


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

    glue(name, fig, display=False)
    plt.close(fig)


def _images(record: RunRecord, n: int | None):
    return analysis.eval_images(data(), n)


def responses(record: RunRecord) -> pd.DataFrame:
    """Fig. 7 statistics of a trained run: per 3x3 layer, response std on the test set (eval mode), |gamma|."""
    def compute():
        x, _ = _images(record, ANALYSIS_IMAGES.get(record.config.profile))
        return analysis.layer_statistics(record.load_model(), x, None, data().mean).to_dict(orient="list")
    return pd.DataFrame(record.cached("responses", compute))


def layer_gradients(record: RunRecord, trained: bool = True) -> pd.DataFrame:
    """Forward response std and backward gradient RMS per layer, BN in training mode (Sec. 4.1's argument)."""
    def compute():
        if trained:
            model = record.load_model()
        else:
            torch.manual_seed(record.config.seed)  # the run's own initialisation
            model = record.config.build()
        x, y = _images(record, GRADIENT_IMAGES.get(record.config.profile, 500))
        return analysis.layer_statistics(model, x, y, data().mean, bn_mode="train", grads=True,
                                         batch_size=125).to_dict(orient="list")
    return pd.DataFrame(record.cached("gradients_trained" if trained else "gradients_init", compute))


def branch_identity(record: RunRecord) -> pd.DataFrame:
    """Per residual block: std of F(x) against std of the identity path, on the test set."""
    def compute():
        x, _ = _images(record, ANALYSIS_IMAGES.get(record.config.profile))
        return analysis.branch_vs_identity(record.load_model(), x, data().mean).to_dict(orient="list")
    return pd.DataFrame(record.cached("branch_identity", compute))


def caption(records, what: str = "") -> str:
    """A caption line naming profile and data source, e.g. for a figure's legend or title."""
    from .plots import provenance_line
    recs = list(records.values()) if isinstance(records, dict) else list(records)
    return (what + " -- " if what else "") + provenance_line(recs)


def profile_table() -> pd.DataFrame:
    """The run profiles side by side (what each budget is and can show)."""
    from .profiles import PROFILES
    rows = []
    for p in PROFILES.values():
        rows.append({"profile": p.name, "iterations": p.iterations, "lr drops at": p.milestones,
                     "batch": p.batch_size, "training images": p.train_subset or 45000,
                     "epochs": round(p.epochs(), 1), "what it can show": p.summary})
    return pd.DataFrame(rows).set_index("profile")


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def final_table(records) -> pd.DataFrame:
    """Final train/val/test error (%) of records, one row per run."""
    from .plots import final_errors
    recs = list(records.values()) if isinstance(records, dict) else list(records)
    return final_errors(recs).set_index("arch")[["train_error", "val_error", "test_error"]].round(2)


def degradation_report(records: dict[str, RunRecord]) -> str:
    """A sentence per claim of Sec. 4.2, computed from the records (Markdown)."""
    m = {k: r.metrics for k, r in records.items()}
    lines = []
    plains = [k for k in ("plain20", "plain32", "plain44", "plain56") if k in m]
    if len(plains) >= 2:
        tr = [m[k]["final_train_error"] for k in plains]
        mono = all(a <= b for a, b in zip(tr, tr[1:]))
        lines.append(f"- Final **training** error of the plain nets, shallow to deep: "
                     + ", ".join(f"{k} {pct(e)}" for k, e in zip(plains, tr))
                     + (" -- it rises with depth at every step, as in the paper's Fig. 6 (left)." if mono else
                        f" -- deepest vs shallowest: {plains[-1]} {'above' if tr[-1] > tr[0] else 'NOT above'} "
                        f"{plains[0]}; the steps in between are {'not ' if not mono else ''}monotone."))
    for d in (20, 32, 44, 56, 110):
        p, r = m.get(f"plain{d}"), m.get(f"resnet{d}")
        if p and r:
            better = r["final_train_error"] < p["final_train_error"]
            lines.append(f"- Depth {d}: ResNet training error {pct(r['final_train_error'])} vs plain "
                         f"{pct(p['final_train_error'])}; test error {pct(r['final_test_error'])} vs "
                         f"{pct(p['final_test_error'])} -- the shortcuts {'help' if better else 'do NOT help'} here.")
    res = [k for k in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110") if k in m]
    if len(res) >= 2:
        te = [m[k]["final_test_error"] for k in res]
        mono = all(a >= b for a, b in zip(te, te[1:]))
        lines.append("- ResNet test error, shallow to deep: " + ", ".join(f"{k} {pct(e)}" for k, e in zip(res, te))
                     + (" -- deeper is better at every step, as in the paper." if mono else
                        " -- deeper is *not* better at every step at this budget (see the text)."))
    return "\n".join(lines)


def table6(records: dict[str, RunRecord]) -> pd.DataFrame:
    """Table 6 side by side: our test error (mean +- std over seeds), the paper's, the reproductions'."""
    from .reference import PAPER_TABLE6, REPRODUCTIONS
    from .summary import count_params

    by_arch: dict[str, list[float]] = {}
    for r in (records.values() if isinstance(records, dict) else records):
        if r.config.variant == "basic":
            by_arch.setdefault(r.config.arch, []).append(100 * r.metrics["final_test_error"])
    rows = []
    for arch, errs in sorted(by_arch.items(), key=lambda kv: (kv[0].startswith("resnet"), int(re.sub(r"\D", "", kv[0])))):
        s = pd.Series(errs)
        ours = f"{s.mean():.2f}" + (f" ± {s.std():.2f} (n={len(s)})" if len(s) > 1 else "")
        row = {"net": arch, "params": f"{count_params(records[arch].config.build()) / 1e6:.2f}M" if isinstance(records, dict) and arch in records else "",
               f"this project ({profile_name()})": ours,
               "paper": PAPER_TABLE6.get(arch, ("",))[0]}
        for repo, info in REPRODUCTIONS.items():
            v = info["errors"].get(arch, "")
            row[repo.split("/")[0]] = f"{v[0]:.2f} ± {v[1]:.2f}" if isinstance(v, tuple) else v
        rows.append(row)
    return pd.DataFrame(rows).set_index("net")


def gradient_report(stats: dict[str, pd.DataFrame]) -> str:
    """Per net: the forward std range and how much the gradient RMS shrinks from the last layer to the first."""
    lines = []
    for label, f in stats.items():
        g = f["grad_rms"].to_numpy()
        lines.append(f"- {label}: forward std between {f['std'].min():.2f} and {f['std'].max():.2f}; gradient RMS "
                     f"{g[-1]:.2e} at the last 3x3 layer, {g[0]:.2e} at the first (ratio first/last "
                     f"{g[0] / g[-1]:.2g}; smallest {g.min():.2e}).")
    return "\n".join(lines)


def recorded(archs, profile: str, variant: str = "basic") -> dict[str, RunRecord]:
    """The runs of ``archs`` recorded under ``profile`` (never trains; missing ones are left out)."""
    out = {}
    for a in archs:
        hits = [r for r in RunStore().find(arch=a, profile=profile, variant=variant) if not r.failed]
        if hits:
            out[a] = hits[0]
    return out


def response_report(resp: dict[str, pd.DataFrame]) -> str:
    """Fig. 7's two claims checked on our frames: ResNets respond less than plain nets; deeper ResNets less still."""
    mean = {k: float(f["std"].mean()) for k, f in resp.items()}
    lines = ["- Mean response std over the 3x3 layers: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()) + "."]
    for d in (20, 56):
        p, r = mean.get(f"plain{d}"), mean.get(f"resnet{d}")
        if p is not None and r is not None:
            lines.append(f"- Depth {d}: ResNet {'below' if r < p else 'NOT below'} its plain twin "
                         f"({r:.3f} vs {p:.3f}).")
    res = [k for k in ("resnet20", "resnet56", "resnet110") if k in mean]
    if len(res) >= 2:
        mono = all(mean[a] > mean[b] for a, b in zip(res, res[1:]))
        lines.append("- Deeper ResNets " + ("respond less at every step" if mono else "do NOT respond less at every step")
                     + ": " + " > ".join(f"{k} {mean[k]:.3f}" for k in res) + ".")
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
