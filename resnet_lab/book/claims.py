"""The intro's answer on page one: every claim of the paper's CIFAR-10 section (and of the study notes) beside
what this project's records show, with a verdict by the book's rule (:mod:`resnet_lab.stats`).

A claim's verdict is one of :data:`VERDICTS`:

* **reproduced** / **contradicted**: judged (3+ seeds per arm, Welch's test, Holm over the whole table) and the
  difference is shown, in the paper's direction / against it;
* **not shown at this budget**: judged, and no difference is shown;
* **not judged (a vs b seeds)**: recorded, but an arm has fewer than 3 seeds -- described, never judged;
* **not tested**: nothing recorded measures it at this profile;
* **counted**: a cost the code counts exactly (no training, no seeds).

Every number comes from the records (or from counting the models); nothing here is hard-coded but the paper's
quoted evidence, which is labelled as the paper's.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .. import stats
from ..models import paper_name
from ..runs import RunStore

REPRODUCED, CONTRADICTED, NOT_SHOWN, NOT_TESTED, COUNTED = (
    "reproduced", "contradicted", "not shown at this budget", "not tested", "counted")
VERDICTS = (REPRODUCED, CONTRADICTED, NOT_SHOWN, stats.NOT_JUDGED, NOT_TESTED, COUNTED)
RESULT_PROFILES = ("paper", "cpu")  # the profiles that train the whole sweep, best first


@dataclass
class Arm:
    """One net of a comparison: its label and its per-seed values."""
    label: str
    values: list[float]


@dataclass
class Test:
    """``a`` against ``b`` on one quantity; ``expect`` is the sign of a - b the paper claims (+1 / -1)."""
    name: str
    a: Arm
    b: Arm
    expect: int
    unit: str = "points"  # 'points' (errors, fractions shown in percentage points) or '' (a plain quantity)


@dataclass
class Claim:
    key: str
    claim: str
    paper: str  # the paper's evidence, quoted
    section: str  # the chapter (document name) that shows it
    measure: Callable[[str], "Measured"]


@dataclass
class Measured:
    tests: list[Test] = field(default_factory=list)
    note: str = ""  # numbers that are not a comparison (a count, a ratio of one net), or why nothing is measured
    verdict: str | None = None  # set when there is no test (not tested, counted, one net described)
    caveat: str = ""  # why this profile may be too short to show the claim, whatever its tests say


# -- reading the records ------------------------------------------------------------------------------------------

def values(arch: str, profile: str, metric: str = "final_test_error", variant: str = "basic",
           shortcut: str | None = None) -> list[float]:
    """The metric of every completed, current seed of a net at ``profile`` (the paper's blocks and option A for a
    ResNet unless asked otherwise), in seed order: :func:`resnet_lab.book.verdicts.seed_values` as a list."""
    from .verdicts import seed_values
    return list(seed_values(arch, metric, profile, shortcut=shortcut or "A", variant=variant).values())


def cached_values(arch: str, profile: str, analysis: str, reduce: Callable[[dict], float]) -> list[float]:
    """``reduce`` of a cached analysis (``analysis/<name>.json``) of every seed of ``arch`` (the paper's blocks,
    option A) that has it, in seed order."""
    return list(cached_by_seed(arch, profile, analysis, reduce).values())


def cached_by_seed(arch: str, profile: str, analysis: str, reduce: Callable[[dict], float] | None = None,
                   keys: tuple[str, ...] = ()) -> dict:
    """:func:`cached_values` keyed by seed (with ``reduce=None`` the cached results themselves, each with the fields
    ``keys``). A cache that cannot be read, lacks one of ``keys`` or that ``reduce`` cannot read, is named in a
    warning and left out, as if it were not computed (the pages then name its seed as uncached)."""
    from ..runs import analysis_problem
    from .store import paper_records
    out = {}
    for r in paper_records(arch, profile):
        f = r.path / "analysis" / f"{analysis}.json"
        if not f.exists():
            continue
        try:
            value = json.loads(f.read_text())
            problem = analysis_problem(value, keys)
            if problem is None:
                out[r.config.seed] = value if reduce is None else float(reduce(value))
                continue
        except (OSError, ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as e:
            problem = f"cannot be read ({type(e).__name__}: {e})"
        warnings.warn(f"cached analysis {f} {problem}; left out (recompute it with "
                      f"`python -m resnet_lab.book.caches --arch {arch}`)")
    return out


def _value(d: dict):
    return d.get("value", d) if isinstance(d, dict) else d


# -- the claims ---------------------------------------------------------------------------------------------------

def _pair(name, a, b, profile, metric, expect, **kw) -> Test:
    return Test(name, Arm(a, values(a, profile, metric, **kw)), Arm(b, values(b, profile, metric)), expect)


def _degradation(p):
    return Measured([_pair("plain-56 vs plain-20, test error", "plain56", "plain20", p, "final_test_error", +1)])


def _not_overfitting(p):
    return Measured([_pair("plain-56 vs plain-20, training error", "plain56", "plain20", p, "final_train_error",
                           +1)])


def _gradients(p):
    def ratio(d):
        g = _value(d)["grad_rms"]
        return g[0] / g[-1]
    r = cached_values("plain56", p, "gradients_trained", ratio)
    if not r:
        return Measured(note="plain-56's gradients are not computed at this profile", verdict=NOT_TESTED)
    return Measured(note=f"trained plain-56: gradient RMS at the first 3x3 layer / at the last = {r[0]:.3g} "
                         f"({'neither vanishing nor exploding' if 0.1 < r[0] < 10 else 'beyond tenfold'})",
                    verdict=f"{stats.NOT_JUDGED}: {len(r)} seed{'s' * (len(r) != 1)}")


def _fixes_degradation(p):
    return Measured([_pair(f"plain-{d} vs ResNet-{d}, training error", f"plain{d}", f"resnet{d}", p,
                           "final_train_error", +1) for d in (20, 32, 44, 56)])


def _deeper_better(p):  # Table 6's ends, and ResNet-56 against ResNet-20 (Table 6: 6.97% vs 8.75%)
    from ..reference import PAPER_TABLE6
    from .cifar import table6_gap
    means = {a: 100 * float(np.mean(v)) for a in PAPER_TABLE6 if a != "resnet1202" for v in [values(a, p)] if v}
    caveat = ""
    if len(means) >= 2:
        lo, hi, spread = table6_gap(means)
        if lo > spread:
            caveat = (f"at this profile every ResNet ends {lo:.1f} to {hi:.1f} points above Table 6, more than the "
                      f"paper's own differences between depths ({spread:.2f} points), so it is too short to order "
                      f"ResNets by depth (chapter 3)")
    return Measured([_pair(f"ResNet-{d} vs ResNet-20, test error", f"resnet{d}", "resnet20", p, "final_test_error",
                           -1) for d in (110, 56)], caveat=caveat)


def _responses(p):
    # Fig. 7's measure in chapter 4: BN in training mode (eval mode parts from it in ResNet-110; chapter 4 shows why)
    from .layer_responses import train_mode_mean
    return Measured([Test(f"ResNet-{d} vs plain-{d}, mean response std", Arm(f"resnet{d}", cached_values(
        f"resnet{d}", p, "bn_modes", train_mode_mean)), Arm(f"plain{d}", cached_values(
            f"plain{d}", p, "bn_modes", train_mode_mean)), -1, unit="") for d in (20, 56)])


def _deeper_responds_less(p):
    # Fig. 7, Sec. 4.2: 'When there are more layers, an individual layer of ResNets tends to modify the signal less'
    from .layer_responses import train_mode_mean
    return Measured([Test(f"ResNet-{a} vs ResNet-{b}, mean response std", Arm(f"resnet{a}", cached_values(
        f"resnet{a}", p, "bn_modes", train_mode_mean)), Arm(f"resnet{b}", cached_values(
            f"resnet{b}", p, "bn_modes", train_mode_mean)), -1, unit="") for a, b in ((56, 20), (110, 56))])


def _resnet1202(p):
    a, b = values("resnet1202", p), values("resnet110", p)
    if not a:
        return Measured(note="ResNet-1202 (19.4M parameters) is not trained at this profile", verdict=NOT_TESTED)
    return Measured([Test("ResNet-1202 vs ResNet-110, test error", Arm("resnet1202", a), Arm("resnet110", b), +1)])


def _options(p):
    v = {o: values("resnet32", p, shortcut=o) for o in "ABC"}
    return Measured([Test("ResNet-32 B vs A, test error", Arm("resnet32 B", v["B"]), Arm("resnet32 A", v["A"]), -1),
                     Test("ResNet-32 C vs B, test error", Arm("resnet32 C", v["C"]), Arm("resnet32 B", v["B"]), -1)])


def _bottleneck(p):
    from ..costs import block_cost
    from ..models import BasicBlock, Bottleneck
    (pb, mb), (pn, mn) = block_cost(BasicBlock(64, 64), 56), block_cost(Bottleneck(256, 64), 56)
    return Measured(note=f"bottleneck on 256 channels / basic block on 64: parameters ×{pn / pb:.2f}, "
                         f"multiply-adds ×{mn / mb:.2f}", verdict=COUNTED)


def _one_layer(p):
    return Measured([Test("one-layer-shortcut ResNet-20 vs plain-20, test error",
                          Arm("resnet20 one-layer", values("resnet20", p, variant="one_layer")),
                          Arm("plain20", values("plain20", p)), 0)])


CLAIMS = [
    Claim("degradation", "Deeper plain nets are worse: the degradation problem",
          "Fig. 1, Fig. 6 left: plain-56 has higher test error than plain-20", "01_degradation", _degradation),
    Claim("not_overfitting", "It is not overfitting: the deeper plain net fits its training data worse",
          "Sec. 4.2, Fig. 6 left: plain-56's training error is higher throughout training", "01_degradation",
          _not_overfitting),
    Claim("gradients", "It is not vanishing gradients (BN keeps them healthy)",
          "Sec. 4.1: 'backward propagated gradients exhibit healthy norms with BN'", "01_degradation", _gradients),
    Claim("fixes", "Residual nets fix degradation at every depth",
          "Fig. 6 middle: every ResNet has lower training error than its plain twin", "03_cifar_experiments",
          _fixes_degradation),
    Claim("deeper_better", "Deeper ResNets are better",
          "Table 6: 8.75% (ResNet-20), 6.97% (ResNet-56), 6.43% (ResNet-110, best of 5 runs) test error", "03_cifar_experiments",
          _deeper_better),
    Claim("responses", "Residual functions respond less than plain layers",
          "Fig. 7: ResNets' layer response stds are smaller than their plain twins'", "04_layer_responses",
          _responses),
    Claim("deeper_responds_less", "Deeper ResNets' layers respond less",
          "Fig. 7, Sec. 4.2: 'an individual layer of ResNets tends to modify the signal less' with more layers",
          "04_layer_responses", _deeper_responds_less),
    Claim("resnet1202", "1202 layers overfit",
          "Table 6: ResNet-1202 7.93% test error, worse than ResNet-110's 6.43%", "03_cifar_experiments",
          _resnet1202),
    Claim("options", "Projection shortcuts (B, C) help only marginally",
          "Table 3 (ImageNet): ResNet-34 A / B / C top-1 error 25.03 / 24.52 / 24.19%", "07_variants", _options),
    Claim("bottleneck", "A bottleneck block costs about what a basic block does",
          "Sec. 4.1 / Fig. 5: 'similar time complexity'", "02_residual_learning", _bottleneck),
    Claim("one_layer", "A one-layer shortcut gives no advantage",
          "Sec. 3.2: like a linear layer y = W1x + x, 'we have not observed advantages'", "07_variants",
          _one_layer),
]


# -- judging and the table ----------------------------------------------------------------------------------------

def _verdict(t: Test, c: stats.Comparison | None) -> str:
    if c is None:
        return f"{NOT_TESTED} ({' and '.join(x.label for x in (t.a, t.b) if not x.values)} not recorded)"
    if not c.judged:
        return stats.verdict_text(c)
    if c.verdict == stats.NOT_SHOWN:
        return REPRODUCED if t.expect == 0 else NOT_SHOWN
    if t.expect == 0:
        return CONTRADICTED
    return REPRODUCED if np.sign(c.diff) == t.expect else CONTRADICTED


def _numbers(t: Test, c: stats.Comparison | None) -> str:
    if c is None:
        return "–"
    k = 100 if t.unit == "points" else 1
    fmt = (lambda v: f"{k * v:.2f}%") if t.unit == "points" else (lambda v: f"{v:.3f}")
    diff = f"{k * c.diff:+.2f}" + (" points" if t.unit == "points" else "")
    ci = "" if math.isnan(c.low) or not c.judged else f" [{k * c.low:+.2f}, {k * c.high:+.2f}]"
    return (f"{paper_name(t.a.label)} {fmt(c.mean_a)} vs {paper_name(t.b.label)} {fmt(c.mean_b)} "
            f"(n = {c.n_a} / {c.n_b}): {diff}{ci}")


def judge_claims(profile: str) -> tuple[dict[str, list[tuple[Test, stats.Comparison | None, str]]],
                                          dict[str, Measured]]:
    """Every claim's tests at ``profile`` with their verdicts, judged as one family (Holm over every judged test
    of the table), and what each claim measured."""
    measured = {c.key: c.measure(profile) for c in CLAIMS}
    family = stats.compare_family({f"{k}:{t.name}": (t.a.values, t.b.values) for k, m in measured.items()
                                   for t in m.tests if t.a.values and t.b.values})
    return {k: [(t, family.get(f"{k}:{t.name}"), _verdict(t, family.get(f"{k}:{t.name}"))) for t in m.tests]
            for k, m in measured.items()}, measured


def claim_verdict(tests: list[tuple[Test, stats.Comparison | None, str]]) -> str:
    """One verdict for a claim: its tests' verdict when they agree, else each verdict once, after the tests it is
    given to, named by their first net ('plain-32, plain-44: not judged: 1 seed vs 1')."""
    verdicts = [v for *_, v in tests]
    if len(set(verdicts)) <= 1:
        return verdicts[0] if verdicts else NOT_TESTED
    named: dict[str, list[str]] = {}
    for t, _, v in tests:
        named.setdefault(v, []).append(paper_name(t.a.label))
    return "; ".join(f"{', '.join(nets)}: {v}" for v, nets in named.items())


def profiles() -> list[str]:
    """The profiles the table reports: ``$RESNET_LAB_PROFILE`` when set, else each of :data:`RESULT_PROFILES`
    with runs recorded, best first (``smoke`` only when nothing else is: it says nothing about the paper). The
    `quick` and `cpu3x` profiles hold single studies (BN over 64, 3x training), not the sweep."""
    import os
    from ..profiles import ENV_VAR, PROFILES
    if os.environ.get(ENV_VAR):  # a profile asked for: that one alone
        from .store import profile_name
        return [profile_name()]
    have = {r.config.profile for r in RunStore().records()}
    order = [p for p in RESULT_PROFILES if p in have and p in PROFILES]
    return order or (["smoke"] if "smoke" in have else [])


def claims_table(profs: list[str] | None = None) -> pd.DataFrame:
    """The intro's table: claim | the paper's evidence (quoted) | ours at each recorded profile (numbers) | verdict
    at each | the chapter that shows it."""
    profs = profiles() if profs is None else profs
    rows = {c.key: {"claim": c.claim, "the paper (quoted)": c.paper} for c in CLAIMS}
    for p in profs:
        judged, measured = judge_claims(p)
        for c in CLAIMS:
            m, tests = measured[c.key], judged[c.key]
            nums = "; ".join(_numbers(t, cmp) for t, cmp, _ in tests if cmp is not None)
            verdict = m.verdict or claim_verdict(tests)
            shows_not = any(v.startswith((CONTRADICTED, NOT_SHOWN)) for *_, v in tests)  # the budget may be why
            caveat = m.caveat if shows_not else ""
            rows[c.key][f"ours (`{p}`)"] = "; ".join(x for x in (nums, m.note, caveat) if x) or "–"
            rows[c.key][f"verdict (`{p}`)"] = (verdict.replace(CONTRADICTED, f"{CONTRADICTED} at this budget")
                                               if caveat else verdict)
    for c in CLAIMS:
        rows[c.key]["where"] = f"{{doc}}`ch. {int(c.section[:2])} <{c.section}>`"  # 'ch. 3', not the chapter's title
    return pd.DataFrame.from_dict(rows, orient="index").set_index("claim").rename_axis(None)


def summary(profs: list[str] | None = None) -> str:
    """A short list per profile (Markdown): which claims the book's rule reproduces where it can judge them, which
    it contradicts or cannot show (and why the budget may be the reason), and how many wait for seeds."""
    profs = profiles() if profs is None else profs
    if not profs:
        return "No run is recorded yet, so no claim is tested."
    out = []
    for p in profs:
        judged, measured = judge_claims(p)
        def part(c, w):  # a claim that some of its tests only reproduce (or show nothing for) says which
            tests = judged[c.key]
            hit = [t for t, _, v in tests if v.startswith(w)]
            return (f", in {len(hit)} of its {len(tests)} tests (" + ", ".join(
                f"{paper_name(t.a.label)} vs {paper_name(t.b.label)}" for t in hit) + ")"
                if w in (REPRODUCED, CONTRADICTED, NOT_SHOWN) and 0 < len(hit) < len(tests) else "")
        def has(w, whole=None):  # the claims with a test (or measurement) ending in w: all of them, or only some
            out = []
            for c in CLAIMS:
                vs = [v for *_, v in judged[c.key]] or [measured[c.key].verdict or ""]
                hit = sum(v.startswith(w) for v in vs) or int((measured[c.key].verdict or "").startswith(w))
                if hit and (whole is None or whole == (hit == len(vs))):
                    out.append(c.claim[0].lower() + c.claim[1:] + part(c, w))
            return out

        def counted(w, noun=lambda n: ""):  # '2<noun(2)> wholly (a; b) and 1 in part (c, in 1 of its 2 tests (...))'
            whole, some = has(w, True), has(w, False)
            if whole and some:
                return (f"{len(whole)}{noun(len(whole))} wholly ({'; '.join(whole)}) and {len(some)} in part "
                        f"({'; '.join(some)})")
            if some:
                return f"{len(some)}{noun(len(some))} in part ({'; '.join(some)})"
            return f"{len(whole)}{noun(len(whole))} ({'; '.join(whole)})" if whole else f"none{noun(0)}"
        rep, con, nos, wait = has(REPRODUCED), has(CONTRADICTED), has(NOT_SHOWN), has(stats.NOT_JUDGED)
        untested, counted_ = has(NOT_TESTED), has(COUNTED)
        claims_ = lambda n: " claim" if n == 1 else " claims"  # noqa: E731
        of_paper = lambda n: f" of the paper's {len(CLAIMS)} claims"  # noqa: E731
        caveats = "".join(f" That {c.claim[0].lower() + c.claim[1:]} cannot be read at this budget: "
                          f"{measured[c.key].caveat}." for c in CLAIMS if measured[c.key].caveat and any(
                              v.startswith((CONTRADICTED, NOT_SHOWN)) for *_, v in judged[c.key]))
        lines = [f"At the `{p}` profile, where the book's rule can judge them (3 seeds per net):\n",
                 f"- **Reproduced**: {counted(REPRODUCED, of_paper)}.",
                 f"- **Contradicted**: {counted(CONTRADICTED)}."]
        if nos:
            lines.append(f"- **No difference shown** at this budget: {counted(NOT_SHOWN, claims_)}.")
        lines.append(f"- **Described only** (fewer than {stats.MIN_SEEDS} seeds per net): {len(wait)}"
                     f"{claims_(len(wait))}, wholly or in part. **Not tested**: {len(untested)}. **Counted** exactly "
                     f"(a cost): {len(counted_)}.")
        if caveats:
            lines.append("\n" + caveats.strip())
        if sum(map(len, (rep, con, nos, wait, untested, counted_))) > len(CLAIMS):
            lines.append(("" if caveats else "\n") + "A claim whose tests end differently is counted under each of "
                         "their verdicts.")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def headline_figure(profile: str | None = None):
    """Fig. 6 re-run, in one picture: final training (left) and test (right) error against depth, plain and
    residual, every seed a dot and the mean a line; on the right the paper's Table 6 (quoted, full schedule)."""
    import matplotlib.pyplot as plt
    from .. import experiments
    from ..plots import _colors
    from ..reference import PAPER_TABLE6
    profile = profile or (profiles() or ["smoke"])[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    colors = _colors(2)
    for ax, metric, what in ((axes[0], "final_train_error", "training error"), (axes[1], "final_test_error",
                                                                                  "test error")):
        for (kind, depths, label), color in zip((("plain", experiments.PLAIN_DEPTHS, "plain"),
                                                 ("resnet", experiments.RESNET_DEPTHS, "ResNet")), colors):
            pts = {d: values(f"{kind}{d}", profile, metric) for d in depths}
            pts = {d: v for d, v in pts.items() if v}
            for d, v in pts.items():
                ax.scatter([d] * len(v), [100 * x for x in v], s=14, color=color, alpha=0.6, zorder=3)
            if pts:
                ax.plot(list(pts), [100 * np.mean(v) for v in pts.values()], "-o", color=color, ms=4,
                        label=f"{label} (ours, {profile} profile)")
        ax.set_title(what)
        ax.set_xlabel("depth (layers)")
        ax.grid(alpha=0.3)
    paper = {int(k[6:]): v[0] for k, v in PAPER_TABLE6.items() if int(k[6:]) <= 110}
    axes[1].plot(list(paper), list(paper.values()), "--s", color=colors[1], mfc="white", ms=5,
                 label="ResNet (paper, Table 6, quoted)")
    axes[0].set_ylabel("final error (%)")
    # one legend, in the test panel's right half: clear of the plain nets' steep rise and of the paper's low line
    axes[1].legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


def _records(profile: str) -> list:
    from .store import _data_source
    return [r for r in RunStore().find(profile=profile, data_source=_data_source()) if not r.failed]


def data_line(profs: list[str] | None = None) -> str:
    """What produced the table: per profile, the data and the seeds of the runs it reads."""
    from ..plots import provenance_line
    profs = profiles() if profs is None else profs
    def devices(recs):
        return ", ".join(sorted({str(r.provenance.get("device", "?")).split(" (")[0] for r in recs}))
    lines = [f"Runs: {provenance_line(_records(p))} ({len(_records(p))} runs, trained on {devices(_records(p))})."
             for p in profs if _records(p)]
    return " ".join(lines) or "No run is recorded yet."


def headline_caption(profile: str | None = None) -> str:
    """The headline figure's provenance: profile, data and seeds of the sweep runs it draws."""
    from .. import experiments
    from ..plots import provenance_line
    profile = profile or (profiles() or ["smoke"])[0]
    recs = [r for r in _records(profile) if r.config.arch in experiments.SWEEP_ARCHS and r.config.variant == "basic"
            and r.config.shortcut in (None, "A")]
    return f"Ours: {provenance_line(recs)}." if recs else f"No sweep run is recorded at the `{profile}` profile yet."


def reading(profile: str | None = None) -> str:
    """The headline in plain words, computed from the records: how the plain nets' and the ResNets' training
    error move with depth, and how far our ResNets are from the paper's Table 6 against the paper's own
    differences between depths (whether this budget can order ResNets by depth)."""
    from .. import experiments
    from ..reference import PAPER_TABLE6
    profile = profile or (profiles() or ["smoke"])[0]
    mean = lambda a, m: float(np.mean(values(a, profile, m))) if values(a, profile, m) else None  # noqa: E731
    plain = {d: mean(f"plain{d}", "final_train_error") for d in experiments.PLAIN_DEPTHS}
    plain = {d: v for d, v in plain.items() if v is not None}
    res = {d: mean(f"resnet{d}", "final_train_error") for d in experiments.RESNET_DEPTHS}
    res = {d: v for d, v in res.items() if v is not None}
    if len(plain) < 2 or len(res) < 2:
        return f"Too few runs are recorded at the `{profile}` profile to read the figure yet."
    lo, hi = min(plain), max(plain)
    out = [f"At the `{profile}` profile the plain nets' training error (mean over seeds) goes from "
           f"{100 * plain[lo]:.1f}% at {lo} layers to {100 * plain[hi]:.1f}% at {hi}; the ResNets' stays between "
           f"{100 * min(res.values()):.1f}% and {100 * max(res.values()):.1f}% at every depth from {min(res)} to "
           f"{max(res)}."]
    test = {d: mean(f"resnet{d}", "final_test_error") for d in experiments.RESNET_DEPTHS}
    gaps = {d: 100 * v - PAPER_TABLE6[f"resnet{d}"][0] for d, v in test.items() if v is not None}
    paper = [PAPER_TABLE6[f"resnet{d}"][0] for d in gaps]
    if gaps and min(gaps.values()) > max(paper) - min(paper):
        out.append(f"Our ResNets' test errors are {min(gaps.values()):.1f} to {max(gaps.values()):.1f} points above "
                   f"the paper's, more than the paper's own differences between these depths "
                   f"({max(paper) - min(paper):.2f} points): this budget cannot show the paper's other half, deeper "
                   f"ResNets ending better.")
    elif gaps:
        out.append(f"Our ResNets' test errors are within {max(gaps.values()):.1f} points of the paper's, no more than "
                   f"the paper's own differences between depths: the ordering by depth can be compared.")
    return " ".join(out)
