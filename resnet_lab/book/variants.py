"""The variants chapter: shortcut options A/B/C trained on CIFAR-10, and pre-activation blocks.

The paper compared options A/B/C on ImageNet only (Table 3); He et al. 2016 ("Identity Mappings")
introduced the pre-activation block. Both are trained here at the book's profile beside the
sweep's option-A originals, and every comparison is judged against the measured seed spread.
"""
from __future__ import annotations

from statistics import median

import pandas as pd

from .. import experiments, stats
from ..models import paper_name
from ..runs import RunNotRecorded, RunRecord
from ..summary import count_params
from .render import _shown, pct, pct2
from .spread import judge, seed_spread
from .store import RunSet, _config, run

OPTION_LABELS = {"A": "A: zero-padding", "B": "B: projection where dims change", "C": "C: projection everywhere"}


def _collect(items) -> RunSet:
    out, missing = {}, []
    for label, kw in items:
        try:
            out[label] = run(**kw)
        except RunNotRecorded:
            missing.append(_config(**kw))
    return RunSet(out, missing=missing)


def option_runs() -> RunSet:
    """ResNet-32 (``experiments.OPTIONS_ARCH``) with shortcut options A, B and C, keyed 'A'/'B'/'C'."""
    return _collect((s, dict(arch=experiments.OPTIONS_ARCH, shortcut=s)) for s in ("A", "B", "C"))


def preact_runs() -> RunSet:
    """The original and the pre-activation net at each depth of ``experiments.PREACT_ARCHS``, keyed
    'resnet56' / 'preact-resnet56' ..."""
    items = []
    for a in experiments.PREACT_ARCHS:
        items += [(a, dict(arch=a)), (f"preact-{a}", dict(arch=a, variant="preact"))]
    return _collect(items)


def control_runs() -> RunSet:
    """The control trained at the profile (``experiments.HEAD_CONTROL_ARCHS`` with the pre-activation net's final
    BN-ReLU and the original blocks), keyed 'resnet56+final_bn' as in the lr-0.1 study."""
    return _collect((f"{a}+final_bn", dict(arch=a, variant="final_bn")) for a in experiments.HEAD_CONTROL_ARCHS)


def seconds_per_iteration(record: RunRecord) -> float | None:
    """Seconds of training per iteration as the run recorded them (over resumes), on its own machine."""
    wall = record.metrics.get("train_seconds")
    its = record.metrics.get("iterations")
    return wall / its if wall and its else None


def variants_table(records: dict[str, RunRecord]) -> pd.DataFrame:
    """One row per net: parameters (counted on the built net), final errors (the mean over its recorded seeds, as
    the chapter's comparisons read them: :func:`arm_values`), the seeds, and this run's recorded seconds/iteration."""
    rows = {}
    for label, r in records.items():
        c = r.config
        tr, te = arm_values(r, "final_train_error"), arm_values(r, "final_test_error")
        rows[label] = {
            "parameters": f"{count_params(c.build()):,}",
            "train error": pct2(_shown_mean(tr)),
            "test error": pct2(_shown_mean(te)),
            "seeds": len(te),
            "s / iteration": (f"{seconds_per_iteration(r):.2f}" if seconds_per_iteration(r) else "n/a"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


BASELINES = {"resnet32 B": "resnet32 A", "resnet32 C": "resnet32 A", "preact-resnet56": "resnet56",
             "preact-resnet110": "resnet110"}  # each net of ``bench.variant_configs`` against the net it varies


def step_times() -> dict[str, dict]:
    """The step-time measurements kept in the run store (``python -m resnet_lab bench --variants``), by device."""
    import json
    from ..runs import RunStore
    folder = RunStore().root / "studies" / "step_times"
    found = {}
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        r = json.loads(f.read_text())
        found[r["device"]] = r
    return found


def round_ratios(r: dict, net: str, base: str) -> list[float]:
    """The ratio of ``net``'s time to ``base``'s in each round: the two were timed one after the other, under the
    same load, so these pair up what one round's load did to both."""
    return [x / y for x, y in zip(r["rounds"][net], r["rounds"][base])]


def step_table(results: dict[str, dict]) -> pd.DataFrame:
    """Seconds per training step of each net (median over the rounds) and its time relative to the net it varies
    (median of the round-by-round ratios), one pair of columns per device."""
    from ..bench import variant_configs
    order = list(variant_configs())
    cols = {}
    for device, r in results.items():
        sec = {k: r["seconds"][k] for k in sorted(r["seconds"], key=lambda k: order.index(k) if k in order else 99)}
        cols[f"s / step, {device}"] = {k: f"{v:.3f}" for k, v in sec.items()}
        cols[f"ratio, {device}"] = {k: (f"{median(round_ratios(r, k, BASELINES[k])):.2f}"
                                        if k in BASELINES and BASELINES[k] in sec else "1 (baseline)") for k in sec}
    return pd.DataFrame(cols)


def step_report(results: dict[str, dict]) -> str:
    """Per device: each variant's time per step against its baseline's. A difference counts when the variant was
    slower (or faster) in every round; with 5 rounds, a chance of 2 in 32 when nothing differs."""
    if not results:
        return "- No step time is measured yet: `python -m resnet_lab bench --variants` measures them."
    lines = []
    for device, r in results.items():
        sec, parts = r["seconds"], []
        rounds = max(len(v) for v in r["rounds"].values())
        for k, base in BASELINES.items():
            if k in sec and base in sec:
                per = round_ratios(r, k, base)
                consistent = all(x > 1 for x in per) or all(x < 1 for x in per)
                way = "slower" if per[0] > 1 else "faster"
                parts.append(f"{k} {median(per):.2f} times {base}'s time per step (round by round "
                             f"{min(per):.2f} to {max(per):.2f}: " + (f"{way} in every round" if consistent else
                                                                       "not the same way in every round, no difference measured") + ")")
        lines.append(f"- On {device}, medians of {rounds} rounds of {r['iterations']} steps, the nets timed in turn "
                     f"in each round: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def parameter_cost() -> pd.DataFrame:
    """Parameters of ResNet-32 under each option, counted on the built nets (no training needed)."""
    from ..models import build
    base = count_params(build(experiments.OPTIONS_ARCH, shortcut="A"))
    rows = {}
    for s in ("A", "B", "C"):
        n = count_params(build(experiments.OPTIONS_ARCH, shortcut=s))
        rows[OPTION_LABELS[s]] = {"parameters": f"{n:,}", "vs option A": f"+{100 * (n - base) / base:.1f}%"}
    return pd.DataFrame.from_dict(rows, orient="index")


def arm_values(rec: RunRecord, metric: str) -> list[float]:
    """``metric`` of every recorded seed of ``rec``'s net (same architecture, block variant, shortcut option,
    profile and data) when ``rec`` is one of them, else ``rec``'s alone: an arm of a comparison is all its seeds,
    not seed 0."""
    from .verdicts import seed_values
    c = rec.config
    vals = seed_values(c.arch, metric, c.profile, shortcut=c.shortcut or "A", variant=c.variant)
    own = float(rec.metrics[metric])
    return list(vals.values()) if vals.get(c.seed) == own else [own]  # a record not from the store: itself alone


def arm_records(records) -> list[RunRecord]:
    """Every recorded seed of each of ``records``' nets, as :func:`arm_values` reads them (a record not from the
    store: itself alone): the runs a comparison's means rest on, for its caption."""
    from ..runs import RunStore
    from .store import _data_source
    out: dict[tuple, RunRecord] = {}
    for rec in records:
        c = rec.config
        net = (c.arch, c.variant, c.shortcut or "A")
        same = {r.config.seed: r for r in RunStore().find(arch=c.arch, profile=c.profile, variant=c.variant,
                                                          data_source=_data_source())
                if not r.failed and (r.config.shortcut or "A") == net[2]}  # one record per seed, as arm_values
        out.update({(*net, s): r for s, r in same.items()} if rec.id in {r.id for r in same.values()}
                   else {(*net, c.seed): rec})
    return list(out.values())


def _shown_mean(vals: list[float]) -> float:
    """An arm's mean over its seeds, as the book prints it (:func:`resnet_lab.book.render._shown`)."""
    return _shown(sum(vals) / len(vals))


def _arm_error(label: str, vals: list[float], what: str = "") -> str:
    """"the original's training error 15.36% (mean of 3 seeds)" (``what``: the error's name, or '')."""
    return (f"{label}'s {what + ' error ' if what else ''}{pct2(_shown_mean(vals))}"
            + (f" (mean of {len(vals)} seeds)" if len(vals) > 1 else ""))


def _own_range(va: list[float], vb: list[float]) -> tuple[float, int, int] | None:
    """The widest seed range (as printed: max - min of the shown errors) of the two arms, with its seed count and
    which arm (0 or 1), over the arms with 2+ seeds; None if neither has two."""
    ranges = [(_shown(max(v)) - _shown(min(v)), len(v), i) for i, v in enumerate((va, vb)) if len(v) >= 2]
    return max(ranges) if ranges else None


def _yardstick(va: list[float], vb: list[float], spread: float | None,
               names: tuple[str, str] = ("the first net", "the second net")) -> tuple[float | None, str]:
    """What a described difference is set beside: the depth-20 seed range, or an arm's own seed range where that
    is wider (a deeper net can vary more from seed to seed), and which of the two it is (``names``: the arms)."""
    own = _own_range(va, vb)
    if own is not None and spread is not None and own[0] > spread:  # no depth-20 range: nothing to widen
        return own[0], f"{names[own[2]]}'s own seed range ({100 * own[0]:.2f} points, {own[1]} seeds)"
    return spread, "the depth-20 seed range"


def _versus(label_a: str, a: RunRecord, label_b: str, b: RunRecord, metric: str, spread) -> str:
    """One sentence: ``a``'s net against ``b``'s on ``metric``, the mean over each net's recorded seeds; judged by
    the book's rule where both have 3+ seeds, else described against the depth-20 seed range."""
    va, vb = arm_values(a, metric), arm_values(b, metric)
    ea, eb = _shown_mean(va), _shown_mean(vb)
    what = "test" if metric == "final_test_error" else "training"
    rel = "below" if ea < eb else "above" if ea > eb else "equal to"
    if min(len(va), len(vb)) >= stats.MIN_SEEDS:
        c = stats.compare_family({"x": (va, vb)})["x"]  # this pair alone: no other comparison in its family
        verdict = f"{c.verdict} (p = {c.p:.2g}, Welch's test on this pair alone)"
    else:
        verdict = judge(ea - eb, spread, metric, arms=(len(va), len(vb)))
        yard, name = _yardstick(va, vb, spread, (label_a, label_b))
        if yard is not None and yard != spread:  # the net's own seeds vary more than depth 20's
            verdict = (f"{'larger than' if abs(ea - eb) > yard + 1e-9 else 'within'} {name}, wider than the "
                       f"depth-20 one; " + verdict.split("; ", 1)[-1])
    return (f"{_arm_error(label_a, va, what)} is {rel} {_arm_error(label_b, vb)} by {100 * abs(ea - eb):.2f} "
            f"points -- {verdict}.")


def options_report(records: RunSet) -> str:
    """What the recorded A/B/C runs show, one sentence per option against A (and C against B), on training and
    test error, each judged by the seed spread of that error."""
    if "A" not in records or len(records) < 2:
        from ..runs import describe
        return ("- The options cannot be compared yet; not recorded at this profile: "
                + ", ".join(describe(c) for c in records.missing) + ".")
    lines = []
    for metric in ("final_train_error", "final_test_error"):
        spread = seed_spread(metric)
        lines += [f"- Option {s}: " + _versus(s, records[s], "A", records["A"], metric, spread)
                  for s in ("B", "C") if s in records]
        if "B" in records and "C" in records:
            lines.append("- Option C against B: " + _versus("C", records["C"], "B", records["B"], metric, spread))
    return "\n".join(lines)


def preact_report(records: RunSet) -> str:
    """Pre-activation against the original at each recorded depth, on training and test error."""
    lines = []
    for a in experiments.PREACT_ARCHS:
        orig, pre = records.get(a), records.get(f"preact-{a}")
        if orig is None or pre is None:
            continue
        for metric, spread in (("final_train_error", seed_spread("final_train_error")),
                               ("final_test_error", seed_spread("final_test_error"))):
            lines.append(f"- {a}: " + _versus(f"pre-activation {a}", pre, "the original", orig, metric, spread))
    return "\n".join(lines) if lines else "- No depth has both its original and its pre-activation net recorded yet."


def error_gap(a: RunRecord, b: RunRecord) -> list[tuple[int, float]]:
    """(iteration, a's test error - b's) at every evaluation both runs made: on the profile's evaluation subset
    during training, on the full test set at the end."""
    ea = {e["iter"]: e["test_error"] for e in a.history["eval"]}
    eb = {e["iter"]: e["test_error"] for e in b.history["eval"]}
    return [(i, ea[i] - eb[i]) for i in sorted(ea.keys() & eb.keys())]


def preact_gap_report(records: RunSet, start: list[dict] | None = None) -> str:
    """When during training the pre-activation net's test error moved away from the original's, at each depth
    with both recorded: the difference at the first evaluation, the widest one (when another), at the last
    evaluation before the first learning-rate drop and at the end (Markdown). One seed's start is not judged here;
    with ``start`` (the lr-0.1 study's records) it says whether the original's seed collapsed in that study."""
    from ..analysis import lr_study as L
    lines = []
    for a in experiments.PREACT_ARCHS:
        orig, pre = records.get(a), records.get(f"preact-{a}")
        if orig is None or pre is None:
            continue
        gap = error_gap(pre, orig)
        if len(gap) < 2:
            continue
        p = pre.profile_settings
        drop = p["milestones"][0]
        (i0, g0), (i_end, g_end) = gap[0], gap[-1]
        i_max, g_max = max(gap[:-1], key=lambda t: abs(t[1]))
        at_drop = dict(gap).get(drop)
        pts = lambda g: f"{100 * g:+.1f}"  # noqa: E731
        evals = {e["iter"]: e for e in orig.history["eval"]}
        first = evals[i0]["test_error"]
        text = (f"- {a}, pre-activation minus original test error: {pts(g0)} points at the first evaluation "
                f"(iteration {i0:,}: original {pct(first)}, pre-activation {pct(first + g0)})")
        if i_max != i0:
            text += f", widest {pts(g_max)} (iteration {i_max:,})"
        if at_drop is not None:
            text += (f", {pts(at_drop)} at iteration {drop:,} (the last evaluation before the learning rate is "
                     f"first divided by 10)")
        text += f", {pts(g_end)} at the end (iteration {i_end:,}"
        text += ", full test set)." if evals[i_end].get("final") else ")."
        if abs(g_max) > 2 * abs(g_end):
            reopened = at_drop is not None and abs(g_end) > 1.5 * abs(at_drop) and abs(g_end) - abs(at_drop) > 0.005
            text += (f" The gap was widest early, nearly closed by iteration {drop:,} ({pts(at_drop)}), then opened "
                     f"again to {pts(g_end)} after the learning rate dropped (these two runs)." if reopened else
                     " The gap was widest early and narrowed as training went on (these two runs).")
        else:
            text += " The gap did not narrow as training went on."
        n = p.get("eval_subset")
        if n:
            text += f" (Evaluations during training use {n:,} test images each.)"
        seed = orig.config.seed
        row = next((r for r in (L.summary(start).itertuples() if start else ())
                    if r.net == a and r.seed == seed), None)
        text += " How one seed starts is not judged here (the seed spread above is one of final errors)"
        if row is not None:
            text += (f", and seed {seed} of the original {a} "
                     + ("is one of the seeds that collapsed" if row.collapsed else "did not collapse")
                     + " in the lr-0.1 study below")
        text += "; the study's seeds are what judge the start."
        lines.append(text)
    return "\n".join(lines)


ORIGINAL, PREACT, CONTROL = "resnet56", "resnet56+preact", "resnet56+final_bn"
START_NETS = (ORIGINAL, PREACT, CONTROL)  # the lr-0.1 study's nets that chapter 7 compares; CONTROL: the
# original blocks with only the pre-activation net's final BN-ReLU before pooling
SIDE = {ORIGINAL: "original", PREACT: "pre-activation", CONTROL: "control"}  # "every <side> seed"
NOUN = {ORIGINAL: "original", PREACT: "pre-activation net", CONTROL: "control"}  # "the <noun>'s range"


def start_runs() -> list[dict]:
    """The lr-0.1 study's records (chapter 3: the first 300 iterations at a constant lr 0.1, five seeds) of
    ResNet-56, its pre-activation twin and the control (the original with a final BN-ReLU)."""
    from .cifar import lr_study
    return lr_study(START_NETS)


def start_split_p(n: int, m: int) -> float:
    """The probability that n and m seeds of two nets that do not differ split cleanly (every seed of one below
    every seed of the other), either way: 2 / C(n + m, n)."""
    from math import comb
    return 2 / comb(n + m, n)


def pair_split(records: list[dict], first: str, second: str) -> tuple[str | None, int, int, str] | None:
    """(the study net that ended the lr-0.1 study's iterations lower on every seed -- ``first``, ``second``, or
    None when their ranges over the seeds overlap; seeds of ``first``; seeds of ``second``; '2 in C(n+m, n)');
    None while either net is missing."""
    from math import comb

    from ..analysis import lr_study as L
    s = L.summary(records) if records else None
    if s is None or not {first, second} <= set(s.net):
        return None
    a, b = (s[s.net == n].train_error_last_50 for n in (first, second))
    lower = first if a.max() < b.min() else second if b.max() < a.min() else None
    return lower, len(a), len(b), f"2 in {comb(len(a) + len(b), len(a))}"


def start_split(records: list[dict]) -> tuple[str | None, int, int, str] | None:
    """:func:`pair_split` of the original ResNet-56 and the pre-activation net, the lower one named
    'original' / 'pre-activation' (None when they overlap)."""
    split = pair_split(records, ORIGINAL, PREACT)
    return None if split is None else (SIDE.get(split[0]), *split[1:])


def logit_scale(images: int | None = None, seed: int = 0) -> dict:
    """The standard deviation of the logits at initialisation, on the lr-0.1 study's probe batch (its first
    ``images``, default all; BN in training mode, as in the first step), for each of :data:`START_NETS` built from
    ``seed``: how large the classifier's input is before any training. ``{"images", "seed", "std": {net: std}}``.
    Needs the data (a fraction of a second a net)."""
    import torch

    from ..analysis import lr_study as L
    from ..data import normalize
    from ..models import build
    from .store import data
    d = data()
    x = normalize(L.probe_images(d)[:images], d.mean)
    std = {}
    for net in START_NETS:
        arch, _, variant = L.parse(net)
        torch.manual_seed(seed)
        with torch.no_grad():
            std[net] = float(build(arch, variant=variant).train()(x).std())
    return dict(images=len(x), seed=seed, std=std)


def logit_line(scale: dict) -> str:
    """One sentence on :func:`logit_scale`."""
    std = scale["std"]
    who = {ORIGINAL: f"the original {ORIGINAL}", PREACT: "the pre-activation net", CONTROL: "the control"}
    parts = [f"{std[n]:.2f} for {who[n]}" for n in START_NETS if n in std]
    ratio = std[ORIGINAL] / std[PREACT] if ORIGINAL in std and PREACT in std else None
    return (f"At initialisation (seed {scale['seed']}, BN in training mode, {scale['images']} training images) the "
            f"logits' standard deviation is {', '.join(parts)}"
            + (f": the original's are {ratio:.1f} times the pre-activation net's." if ratio else "."))


def _placement(records: list[dict], first: str, second: str) -> tuple[str | None, str, str]:
    """(the net that ended the lr-0.1 study's iterations lower on every seed when that clean a split has
    probability below 0.05, else None; that probability, '2 in C(n+m, n)'; a clause giving both ranges). The
    callers compare nets on the same seeds, and any clean split of 4 or more seeds each is below 0.05."""
    from ..analysis import lr_study as L
    lower, n, m, prob = pair_split(records, first, second)
    s = L.summary(records)
    ranges = {k: f"{pct(s[s.net == k].train_error_last_50.min())} to {pct(s[s.net == k].train_error_last_50.max())}"
              for k in (first, second)}
    clause = f"the {NOUN[first]}'s range ({ranges[first]}) overlaps the {NOUN[second]}'s ({ranges[second]})"
    return (lower if lower and start_split_p(n, m) < 0.05 else None), prob, clause


def control_verdict(records: list[dict]) -> str | None:
    """Where the control's start falls between the original and the pre-activation net in the lr-0.1 study (one
    sentence), read on the seeds all three nets share, or None while any of the three is missing. A clean split
    counts only below 0.05; an overlap is no evidence of equality, and is not called one."""
    seeds = [{r["seed"] for r in records if r["net"] == n} for n in START_NETS]
    shared = set.intersection(*seeds)
    if len(shared) < 2:
        return None
    records = [r for r in records if r["net"] in START_NETS and r["seed"] in shared]
    on = f"on the {len(shared)} seeds all three nets share"
    if _placement(records, PREACT, ORIGINAL)[0] != PREACT:
        return (f"{on}, the pre-activation net's start is not shown to differ from the original's, so there is no "
                f"faster start for the control to explain.")
    (v_o, p_o, overlap_o), (v_p, p_p, overlap_p) = (_placement(records, CONTROL, ORIGINAL),
                                                    _placement(records, CONTROL, PREACT))
    if v_o == CONTROL:
        if v_p is None:
            return (f"{on}, the final BN-ReLU alone moves the original net's start to the pre-activation net's side: "
                    f"every control seed ended below every original seed (probability {p_o} under no difference), "
                    f"and {overlap_p}. These seeds show no further effect of the rest of the pre-activation net (its "
                    f"blocks, its first layer without ReLU) on the start; they cannot rule one out.")
        if v_p == PREACT:
            return (f"{on}, the final BN-ReLU moves the start part of the way: every control seed ended below every "
                    f"original seed (probability {p_o}) and above every pre-activation seed (probability {p_p}); "
                    f"the rest of the pre-activation net (its blocks, its first layer without ReLU) accounts for the "
                    f"rest.")
        return (f"{on}, the control starts better than both: every control seed ended below every original seed "
                f"(probability {p_o}) and below every pre-activation seed (probability {p_p}).")
    if v_o == ORIGINAL:
        return (f"{on}, the final BN-ReLU makes the original net start worse: every original seed ended below every "
                f"control seed (probability {p_o}).")
    if v_p == PREACT:
        return (f"{on}, the final BN-ReLU alone does not give the pre-activation net's start: every pre-activation "
                f"seed ended below every control seed (probability {p_p}), and {overlap_o}. These seeds show no "
                f"effect of the head on the start; they cannot rule one out.")
    against_p = (f"every control seed ended below every pre-activation seed (probability {p_p})" if v_p == CONTROL
                 else overlap_p)
    return f"{on}, these seeds cannot place the control: {overlap_o}; against the pre-activation net, {against_p}."


def control_report(records: list[dict], trained: RunSet | None = None, preact: RunSet | None = None) -> str:
    """The control's start against both ResNet-56s (Markdown), or what is missing; with ``trained`` (from
    :func:`control_runs`) and ``preact`` (from :func:`preact_runs`), its final errors at the profile against
    both, each judged by the seed spread -- or the command that trains it."""
    from ..analysis import lr_study as L
    missing = [n for n in START_NETS if n not in {r["net"] for r in records}]
    lines = [f"- Not recorded yet: {', '.join(L.label(n) for n in missing)} (`python -m "
             f"resnet_lab.analysis.lr_study --nets {' '.join(missing)}`)." if missing else
             f"- The control ({L.label(CONTROL)}): {control_verdict(records)}"]
    if trained is None:
        return "\n".join(lines)
    ctrl = trained.get(CONTROL)
    arch, _, variant = L.parse(CONTROL)
    if ctrl is None:
        lines.append("- The start is not the end: whether the final gap comes with the head too needs the control "
                     "trained for the whole profile, and it is not recorded at this profile yet.")
        return "\n".join(lines) + ("\n\n" + trained.note() if trained.missing else "")
    for metric in ("final_train_error", "final_test_error"):
        spread = seed_spread(metric)
        for label, other in ((f"the original {arch}", (preact or {}).get(arch)),
                             ("the pre-activation net", (preact or {}).get(f"preact-{arch}"))):
            if other is not None:
                lines.append("- Trained for the whole profile: " + _versus("the control", ctrl, label, other,
                                                                               metric, spread))
    return "\n".join(lines)


def start_report(records: list[dict]) -> str:
    """Does the pre-activation net start differently from the original ResNet-56 at lr 0.1? Collapses per net,
    the Fisher test on them, and whether the two nets' error ranges over the seeds overlap (Markdown)."""
    from ..analysis import lr_study as L
    from ..stats import fisher_exact_p
    missing = [n for n in (ORIGINAL, PREACT) if n not in {r["net"] for r in records}]
    lines = []
    if records:
        s = L.summary(records)
        for net in dict.fromkeys(s.net):
            e = s[s.net == net]
            lines.append(f"- {L.label(net)}: {int(e.collapsed.sum())} of {len(e)} seeds collapsed (training error "
                         f"over the last 50 of {records[0]['iterations']} iterations above {L.COLLAPSE_ERROR:.0%}); "
                         f"the seeds' errors there ranged from {pct(e.train_error_last_50.min())} to "
                         f"{pct(e.train_error_last_50.max())}.")
        if not missing:
            o, p = (s[s.net == n] for n in (ORIGINAL, PREACT))
            a, n, b, m = int(o.collapsed.sum()), len(o), int(p.collapsed.sum()), len(p)
            fisher = fisher_exact_p(a, n - a, b, m - b)
            line = (f"- Collapses, original against pre-activation: {a} of {n} against {b} of {m} (Fisher's exact "
                    f"two-sided p = {fisher:.2f}: " + ("a difference these seeds can show)." if fisher < 0.05 else
                                                      f"{n + m} seeds cannot tell these rates apart)."))
            better, _, _, prob = start_split(records)
            if better:
                line += (f" But every {better} seed ended its {records[0]['iterations']} iterations below every "
                         f"{'original' if better == 'pre-activation' else 'pre-activation'} seed: with no difference "
                         f"between the nets, {n} and {m} seeds fall apart this cleanly, one way or the other, "
                         f"with probability {prob}"
                         + (" -- below 0.05: a difference these seeds show." if start_split_p(n, m) < 0.05 else
                            f" -- not below 0.05: {n + m} seeds cannot show it."))
            else:
                line += " The two nets' ranges over the seeds overlap: no difference shown."
            lines.append(line)
    if missing:
        lines.append(f"- Not recorded yet: {', '.join(L.label(n) for n in missing)} (`python -m "
                     f"resnet_lab.analysis.lr_study --nets {' '.join(missing)}`).")
    return "\n".join(lines)


def _pairs(options: RunSet, preact: RunSet, control: RunSet | None = None):
    """Every comparison the closing table makes: (label, error, a, b, metric)."""
    for metric, what in (("final_train_error", "training"), ("final_test_error", "test")):
        for s in ("B", "C"):
            if s in options and "A" in options:
                yield f"option {s} against A (ResNet-32)", what, options[s], options["A"], metric
        if "B" in options and "C" in options:
            yield "option C against B (ResNet-32)", what, options["C"], options["B"], metric
        for a in experiments.PREACT_ARCHS:
            if a in preact and f"preact-{a}" in preact:
                yield (f"pre-activation {paper_name(a)} against the original", what, preact[f"preact-{a}"], preact[a],
                       metric)
        for key, ctrl in (control or {}).items():
            a = key.split("+")[0]
            if a in preact:
                yield f"the control ({paper_name(a)} + final BN-ReLU) against the original", what, ctrl, preact[a], metric
            if f"preact-{a}" in preact:
                yield f"pre-activation {paper_name(a)} against the control", what, preact[f"preact-{a}"], ctrl, metric


def conclusion_table(options: RunSet, preact: RunSet, control: RunSet | None = None) -> pd.DataFrame:
    """Every comparison of the chapter's trained nets in one table: first net minus second in training and test
    error (points; the means over each net's recorded seeds), the seeds, and where each difference lies against
    the depth-20 seed range, or a net's own where wider (:func:`_yardstick`) -- described, not judged, while a net
    has fewer than 3 seeds. Empty with none."""
    rows: dict[str, dict] = {}
    seeds: dict[str, tuple[int, int]] = {}
    larger = measured = 0
    for label, what, a, b, metric in _pairs(options, preact, control):
        va, vb = arm_values(a, metric), arm_values(b, metric)
        d = _shown_mean(va) - _shown_mean(vb)
        spread, _ = _yardstick(va, vb, seed_spread(metric))
        measured += spread is not None
        larger += spread is not None and abs(d) > spread + 1e-9
        where = "" if spread is None else " (larger)" if abs(d) > spread + 1e-9 else " (within)"
        seeds.setdefault(label, (len(va), len(vb)))  # as the printed 'seeds' cell: the first metric's
        row = rows.setdefault(label, {"seeds": f"{len(va)} vs {len(vb)}"})
        row[f"{what} error (points)"] = f"{100 * d:+.2f}{where}"
    t = pd.DataFrame.from_dict(rows, orient="index")
    # what conclusion() counts, kept beside the printed cells rather than read back from them
    t.attrs.update(seeds=seeds, larger=larger, measured=measured)
    return t


def _described_count(t: pd.DataFrame) -> str:
    """' All 7 comparisons rest on fewer than 3 seeds in a net: described, not judged.' / ' 1 of the 6 comparisons
    rests ...' ('' when none does): the rows whose seeds ('1 vs 3') are fewer than the rule's in a net."""
    n = sum(min(pair) < stats.MIN_SEEDS for pair in t.attrs["seeds"].values())
    if n == 0:
        return ""
    who = (f"All {len(t)} comparisons" if n == len(t) and n > 1 else "The comparison" if len(t) == 1 else
           f"{n} of the {len(t)} comparisons")
    return (f" {who} {'rests' if n == 1 else 'rest'} on fewer than {stats.MIN_SEEDS} seeds in a net: described, "
            f"not judged.")


def conclusion(options: RunSet, preact: RunSet, start: list[dict] | None = None,
               control: RunSet | None = None) -> str:
    """The chapter's closing list, computed from the records: how many differences of :func:`conclusion_table`
    exceed the seed spread, and which runs are still missing; with ``start`` (the lr-0.1 study's ResNet-56
    records), how the two blocks start (Markdown)."""
    t = conclusion_table(options, preact, control)
    cells = [v for col in t.columns if col != "seeds" for v in t[col].dropna()]
    lines = []
    if cells:
        larger, measured = t.attrs["larger"], t.attrs["measured"]
        lines.append(f"- The {len(cells)} differences between this chapter's trained nets are in "
                     f"{{numref}}`tab-ch7-conclusion`"
                     + (f": {larger} of them larger than the seed range (depth 20's, or a net's own where wider)"
                                                           if measured else "")
                     + "." + _described_count(t))
    else:
        lines.append("- No comparison of this chapter has both of its runs recorded at this profile yet.")
    split = start_split(start or [])
    if split is not None:
        better, n, m, prob = split
        lines.append(f"- The start at lr 0.1 (chapter 3's study, {n} and {m} seeds of the two ResNet-56s): "
                     + (f"every {better} seed ended its first {start[0]['iterations']} iterations with a lower "
                        f"training error than every {'original' if better == 'pre-activation' else 'pre-activation'}"
                        f" seed; so clean a split, either way, has probability {prob} under no difference"
                        if better else "the two nets' training errors over the seeds overlap")
                     + (": below 0.05, a difference these seeds show." if better and start_split_p(n, m) < 0.05 else
                        ": no difference shown."))
    verdict = control_verdict(start or [])
    if verdict is not None:
        from ..analysis import lr_study as L
        lines.append(f"- The control at lr 0.1 ({L.label(CONTROL)}): {verdict}")
    missing = list(options.missing) + list(preact.missing) + list(getattr(control, "missing", []))
    if missing:
        from ..runs import describe
        lines.append("- Not recorded yet, so not compared: " + ", ".join(describe(c) for c in missing) + ".")
    return "\n".join(lines)


def curves(records: RunSet, title: str, what: str):
    """Training curves of the recorded runs (log error axis), or a figure naming what is not recorded yet."""
    from .. import plots
    if not records:
        return plots.placeholder(f"{what}: not recorded at this profile yet")
    return plots.training_curves(list(records.values()), labels=list(records), title=title, log=True)


def preact_explorer(records: RunSet):
    """A static widget: depth slider x {original, pre-activation} over the recorded training curves."""
    from .. import plots
    from ..widgets import static_explorer
    views = {}
    for a in experiments.PREACT_ARCHS:
        depth = int(a.removeprefix("resnet"))
        for kind, key in (("original", a), ("pre-activation", f"preact-{a}")):
            if key in records:
                views[(depth, kind)] = plots.training_curves([records[key]], labels=[key], title=key, log=True)
    depths = [int(a.removeprefix("resnet")) for a in experiments.PREACT_ARCHS]
    return static_explorer(views, depths, ["original", "pre-activation"],
                           title="original vs pre-activation, by depth", missing="not recorded at this profile yet")


def quoted_table3() -> pd.DataFrame:
    """The paper's Table 3 rows for plain-34 and ResNet-34 A/B/C (ImageNet, 10-crop): QUOTED, not re-run."""
    from ..reference import PAPER_TABLE3
    rows = {k: {"top-1 error (quoted)": f"{v[0]:.2f}%", "top-5 error (quoted)": f"{v[1]:.2f}%"}
            for k, v in PAPER_TABLE3.items() if k.startswith(("plain-34", "ResNet-34"))}
    return pd.DataFrame.from_dict(rows, orient="index")
