"""Chapter 3 (the CIFAR-10 experiments): Table 6 beside the paper's, what the schedule reaches, the lr-0.1 study and
the ResNet-110 warm-up, the bf16/fp32 parity study."""
from __future__ import annotations

import re

import pandas as pd

from .. import experiments
from ..profiles import get_profile
from ..runs import RunRecord, RunStore
from ..stats import fisher_exact_p
from ..train import RunConfig
from .render import pct
from .store import _config, _schedule_share, profile_name


def seed_test_errors(arch: str, record: RunRecord) -> list[float]:
    """Final test errors of every recorded seed of ``arch`` at the book's profile (the paper's blocks, option A), as
    Table 6 side by side reads them; ``record``'s alone where the store has none under the book's data (a record
    handed in directly)."""
    from .claims import values
    return values(arch, profile_name()) or [record.metrics["final_test_error"]]


def schedule_table(records: dict[str, RunRecord]) -> pd.DataFrame:
    """How far this profile's schedule gets: each ResNet of Table 6 in ``records``, its final test error (the mean
    over every recorded seed, as the intro's figure and Table 6 side by side read it), the seeds, the paper's
    (Table 6, quoted) and the gap in points."""
    from ..reference import PAPER_TABLE6
    m = {k: [100 * e for e in seed_test_errors(k, r)] for k, r in records.items() if not r.failed and k in PAPER_TABLE6}
    return pd.DataFrame.from_dict(
        {k: {"this project (%)": f"{sum(e) / len(e):.2f}", "seeds": len(e),
             "paper (%, quoted)": f"{PAPER_TABLE6[k][0]:.2f}",
             "gap (points)": f"{sum(e) / len(e) - PAPER_TABLE6[k][0]:+.1f}"}
         for k, e in m.items()}, orient="index").rename_axis("net")


def table6_gap(means: dict[str, float]) -> tuple[float, float, float]:
    """(smallest, largest) gap of our ResNets' mean test errors (``{arch: percent}``, Table 6's nets) above the
    paper's, and the spread of the paper's own errors over those depths: a profile whose smallest gap exceeds that
    spread is too short to order ResNets by depth."""
    from ..reference import PAPER_TABLE6
    means = {k: e for k, e in means.items() if k != "resnet1202"}  # the depths whose order Table 6 shows; 1202
    gaps = [e - PAPER_TABLE6[k][0] for k, e in means.items()]    # layers overfit, a claim of its own
    paper = [PAPER_TABLE6[k][0] for k in means]
    return min(gaps), max(gaps), max(paper) - min(paper)


def schedule_summary(records: dict[str, RunRecord]) -> str:
    """Two sentences on :func:`schedule_table`: how far short of the paper our ResNets are at this profile's share
    of the paper's schedule, and what that gap lets this profile show (Markdown)."""
    from ..reference import PAPER_TABLE6
    m = {k: r for k, r in records.items() if not r.failed and k in PAPER_TABLE6 and k != "resnet1202"}
    if not m:
        return "No ResNet of Table 6 is recorded at this profile yet."
    lo, hi, spread_paper = table6_gap({k: 100 * sum(e) / len(e) for k, e in
                                       ((k, seed_test_errors(k, r)) for k, r in m.items())})
    short = (f"At {_schedule_share()} of the paper's schedule ({get_profile(profile_name()).iterations:,} of "
             f"{get_profile('paper').iterations:,} iterations) our ResNets end "
             + (f"{lo:.1f} points" if len(m) == 1 else f"{lo:.1f} to {hi:.1f} points")
             + " above the paper's test error")
    if len(m) < 2:
        return f"{short}."
    if lo > spread_paper:
        return (f"{short}, more than the paper's own differences between these depths ({spread_paper:.2f} points). "
                f"So this profile can show what happens in the first {_schedule_share()} of training -- whether a "
                f"net learns at all, the plain nets' degradation, plain against residual at each depth -- but not "
                f"the ordering of ResNets by depth, which the paper measures after its long low-lr phase; that "
                f"needs `--profile paper` (a GPU).")
    return (f"{short}, no more than the paper's own differences between these depths ({spread_paper:.2f} points): "
            f"at this profile the ordering of ResNets by depth can be compared with the paper's.")


def _ours(errs: list[float], arch: str) -> str:
    e = pd.Series(errs, dtype=float)
    if e.empty:
        return "not recorded" if arch in experiments.SWEEP_ARCHS else "not trained"
    return f"{e.mean():.2f}" + (f" ± {e.std():.2f} (n={len(e)})" if len(e) > 1 else " (n=1)")


def table6(records: dict[str, RunRecord], profiles: list[str] | None = None) -> pd.DataFrame:
    """Table 6 side by side (test error, %): ours (mean ± std over seeds) at the book's profile and at every other
    recorded profile (``profiles``, default :func:`resnet_lab.book.claims.profiles`: `paper` rows beside `cpu` rows
    as they arrive), the paper's, the reproductions'. Every net of the paper's table has a row, so the quoted
    numbers show even where our run is not recorded yet."""
    from .claims import profiles as recorded_profiles, values
    from ..reference import PAPER_RESNET110_MEAN, PAPER_TABLE6, REPRODUCTIONS
    from ..summary import count_params

    def num(v):
        return f"{v[0]:.2f} ± {v[1]:.2f}" if isinstance(v, tuple) else f"{v:.2f}" if v != "" else ""

    book = profile_name()
    others = [p for p in (recorded_profiles() if profiles is None else profiles) if p != book]
    ours_col = f"this project ({book}): mean ± std over seeds"
    recorded = {r.config.arch for r in records.values() if r.config.variant == "basic"}
    archs = sorted(set(experiments.SWEEP_ARCHS) | set(PAPER_TABLE6) | recorded,
                   key=lambda a: (a.startswith("resnet"), int(re.sub(r"\D", "", a))))
    rows = []
    for arch in archs:
        errs = [100 * v for v in values(arch, book)] if arch in recorded else []  # every recorded seed
        row = {"net": arch, "params": f"{count_params(RunConfig(arch).build()) / 1e6:.2f}M",
               ours_col: _ours(errs, arch)}
        for p in others:
            row[f"this project ({p})"] = _ours([100 * v for v in values(arch, p)], arch)
        row["paper"] = num(PAPER_TABLE6.get(arch, ("",))[0])
        if arch == "resnet110":  # the paper's 6.43 is its best of 5 runs; set it beside their mean, not alone
            row["paper"] = f"{PAPER_TABLE6[arch][0]:.2f} (best of 5); {PAPER_RESNET110_MEAN[0]:.2f} ± {PAPER_RESNET110_MEAN[1]:.2f}"
        for repo, info in REPRODUCTIONS.items():
            row[repo.split("/")[0]] = num(info["errors"].get(arch, ""))
        rows.append(row)
    return pd.DataFrame(rows).set_index("net").rename_axis(None)


def lr_study(nets=None) -> list[dict]:
    """The recorded (net, seed) results of the lr-0.1 study (``runs/studies/lr0.1``) for ``nets`` (default:
    chapter 3's, ``lr_study.NETS``), in that order."""
    from ..analysis import lr_study as L
    nets = tuple(nets or L.NETS)
    order = {n: i for i, n in enumerate(nets)}
    recs = [r for r in L.load(RunStore().root) if r["net"] in order]
    return sorted(recs, key=lambda r: (order[r["net"]], r["seed"]))


def lr_study_report(records: list[dict]) -> str:
    """What :func:`lr_study_table` does not say (Markdown, at most four lines): the nets and seeds not recorded
    yet, where each warm-up seed's warm-up ended, and whether the warm-up changed ResNet-110's collapse rate by more
    than its seeds can show (Fisher's exact test)."""
    from ..analysis import lr_study as L
    if not records:
        return ("- The lr-0.1 study is not recorded in this run store yet: run "
                "`python -m resnet_lab.analysis.lr_study`.")
    t = L.by_net(records)
    lines = []
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
    return "\n".join(lines)


def warmup_study_lines(records: list[dict]) -> list[str]:
    """For the lr-0.1 study's warm-up nets: where each seed's warm-up ended (Sec. 4.2's rule: lr 0.01 until the
    training error over the last 100 iterations is below 80%) and whether the net collapsed after it."""
    from ..analysis import lr_study as L
    out = []
    summ = L.summary(records)
    for net in dict.fromkeys(r["net"] for r in records if r.get("warmup")):
        ends, at, after = [], set(), 0
        for r in (r for r in records if r["net"] == net):
            end = next((p["iter"] for p in r["history"] if p.get("warmup_ended")), None)
            at.add(end)
            ends.append(f"seed {r['seed']} at iteration {end}" if end is not None else
                        f"seed {r['seed']} never (still at lr 0.01 at iteration {r['iterations']})")
            row = summ[(summ.net == net) & (summ.seed == r["seed"])]
            after += int(end is not None and not row.empty and bool(row.collapsed.iloc[0]))
        when = (f"at iteration {next(iter(at))} in {'all ' * (len(ends) > 2)}{len(ends)} seeds" if len(at) == 1 and
                None not in at and len(ends) > 1 else f"for {'; '.join(ends)}")
        out.append(f"- {L.label(net)}: the warm-up ended {when} (the paper: after about 400 iterations); "
                   f"{after} of {len(ends)} seed{'s' if len(ends) > 1 else ''} collapsed after it had ended, at lr 0.1.")
    return out


def _below_for_good(hist: list[dict], line: float) -> int | None:
    """The logged iteration from which the training error stayed below ``line`` (after its last point above it: a
    warm-up can dip below and climb back); None if it ended above it."""
    if not hist:
        return None
    above = [i for i, pt in enumerate(hist) if pt["error"] >= line]
    return hist[0]["iter"] if not above else hist[above[-1] + 1]["iter"] if above[-1] + 1 < len(hist) else None


def _full_run(net: str, seed: int) -> RunRecord | None:
    """The full run of a study (net, seed) with the study's start, completed or recorded as failed: the `cpu`
    profile (which warms up ResNet-110 only), or for ResNet-110 without the warm-up the `cpu_nowarmup` profile;
    never trains."""
    from ..analysis import lr_study as L
    from .bn_seeds import NOWARMUP
    arch, warmup, variant = L.parse(net)
    profile = NOWARMUP if arch == "resnet110" and not warmup else "cpu"
    return RunStore().get(_config(arch, seed=seed, profile=profile, variant=variant))


def recovery_rows(records: list[dict]) -> list[tuple]:
    """(study record, its full run, collapsed in the study) for every study seed that collapsed, and every seed of
    ResNet-110 without the warm-up, whose full run (:func:`_full_run`) is recorded: does a collapse last, and does
    the study's start foretell the full run's?"""
    from ..analysis import lr_study as L
    if not records:
        return []
    by = {(r["net"], r["seed"]): r for r in records}
    out = []
    for row in L.summary(records).itertuples():
        if not row.collapsed and row.net != "resnet110":
            continue
        rec = _full_run(row.net, int(row.seed))
        if rec is not None:
            out.append((by[(row.net, row.seed)], rec, bool(row.collapsed)))
    return out


def recovery_table(records: list[dict]) -> pd.DataFrame:
    """Does a collapse last? One row per :func:`recovery_rows` pair: whether the study's seed collapsed, the logged
    iteration from which its training error stayed below the collapse line in the study and in its full run (same
    net, seed and start, lr drops and all; 'diverged' for a full run recorded as failed), and the full run's final
    errors (empty when no pair is recorded)."""
    from ..analysis import lr_study as L
    rows = {}
    line = f"{L.COLLAPSE_ERROR:.0%}"
    _or = lambda it, none: f"{it:,}" if it is not None else none  # noqa: E731
    for study, rec, collapsed in recovery_rows(records):
        rows[f"{L.label(study['net'])} seed {study['seed']}"] = {
            "collapsed in the study": "yes" if collapsed else "no",
            f"study: below {line} for good from (iteration)":  # the study stops early: 'not by 300', not 'never'
                _or(_below_for_good(study["history"], L.COLLAPSE_ERROR), f"not by {study['iterations']}"),
            f"full run: below {line} for good from (iteration)":
                "diverged" if rec.failed else _or(_below_for_good(rec.history["train"], L.COLLAPSE_ERROR), "never"),
            "full run's profile": rec.config.profile,
            "final training error": "\u2013" if rec.failed else pct(rec.metrics["final_train_error"]),
            "final test error": "\u2013" if rec.failed else pct(rec.metrics["final_test_error"])}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("the lr-0.1 study's seed")


def _first_parting(study: list[dict], full: list[dict], upto: int, rel: float = 1e-3) -> tuple | None:
    """Do a study run and a full run of one (net, seed) follow one path through the study's ``upto`` iterations?
    The first full-run logging window whose mean training loss differs (by more than ``rel``) from the mean of the
    study's finer windows that make it up, as ``(iteration, study's mean, full run's)``; None if every such window
    agrees."""
    prev, step = 0, study[1]["iter"] - study[0]["iter"] if len(study) > 1 else study[0]["iter"]
    for p in full:
        if p["iter"] > upto:
            break
        win = [q["loss"] for q in study if prev < q["iter"] <= p["iter"]]
        whole, prev = len(win) * step == p["iter"] - prev, p["iter"]
        if win and whole and "loss" in p:
            m = sum(win) / len(win)
            if abs(m - p["loss"]) > rel * abs(p["loss"]):
                return p["iter"], m, p["loss"]
    return None


def _recovery_summary(records: list[dict], rows: list[tuple]) -> list[str]:
    """Did the study's collapses last? Of its collapsed seeds, how many have a full run (``rows``:
    :func:`recovery_rows`), whether each full run's training error got below the collapse line for good and by
    when, and which collapsed seeds are not followed."""
    from ..analysis import lr_study as L
    from .render import seeds as _seeds
    if not records:
        return []
    summ = L.summary(records)
    collapsed = [(r.net, int(r.seed)) for r in summ.itertuples() if r.collapsed]
    followed = [(st, rec) for st, rec, c in rows if c]
    if not collapsed:
        return []
    out = {(st["net"], st["seed"]): None if rec.failed else _below_for_good(rec.history["train"], L.COLLAPSE_ERROR)
           for st, rec in followed}
    left = sorted(i for i in out.values() if i is not None)
    n, f = len(collapsed), len(followed)
    if n == 1:
        head = "- The one seed that collapsed in the study has " + ("a full run recorded" if f else "no full run recorded")
    else:
        head = (f"- {f} of the {n} seeds that collapsed in the study {'has' if f == 1 else 'have'} a full run "
                f"recorded" if f else f"- None of the {n} seeds that collapsed in the study has a full run recorded")
    if f and len(left) == f:
        span = f"{left[0]:,}" if left[0] == left[-1] else f"{left[0]:,}\u2013{left[-1]:,}"
        head += (f"; in {'every one' if f > 1 else 'it'} the training error was below {L.COLLAPSE_ERROR:.0%} for "
                 f"good from iteration {span} on, so " + ("none of these collapses lasted." if f > 1 else
                                                          "the collapse did not last."))
    elif f:
        head += (f"; in {len(left)} of them the training error got below {L.COLLAPSE_ERROR:.0%} for good, in "
                 f"{f - len(left)} it never did (or the run diverged).")
    else:
        head += "."
    lines = [head]
    rest: dict[str, list[int]] = {}
    for net, seed in collapsed:
        if (net, seed) not in out:
            rest.setdefault(net, []).append(seed)
    if rest:
        lines.append("- Not followed (no full run recorded at the study's start): "
                     + "; ".join(f"{L.label(n)} {_seeds(ss)}" for n, ss in rest.items()) + ".")
    return lines


def recovery_report(records: list[dict]) -> str:
    """Under the recovery table: whether the study's collapses lasted (:func:`_recovery_summary`), then, for each
    completed pair of :func:`recovery_rows` whose study seed did not collapse but whose full run left the collapse
    line for good more than half the study's length later: when each left it, whether the two runs were one
    trajectory through the study's iterations (:func:`_first_parting`), and on which commits (one pair: described)
    (Markdown; '' when none)."""
    from ..analysis import lr_study as L
    rows = recovery_rows(records)  # reads each full run once
    lines = _recovery_summary(records, rows)
    for study, rec, collapsed in rows:
        if collapsed or rec.failed:
            continue
        a = _below_for_good(study["history"], L.COLLAPSE_ERROR)
        b = _below_for_good(rec.history["train"], L.COLLAPSE_ERROR)
        if a is None or (b is not None and b - a <= study["iterations"] / 2):
            continue
        first = next((p["iter"] for p in rec.history["train"] if p["error"] < L.COLLAPSE_ERROR), None)
        commits = (study["provenance"].get("commit", "?"), rec.provenance.get("commit", "?"))
        resumed = "resumed_at" in rec.provenance  # a resumed record names the commit it finished on
        code = (f"the study on commit {commits[0]}, the full run " + ("finished on" if resumed else "on")
                + f" commit {commits[1]}" if commits[0] != commits[1] or resumed else f"both on commit {commits[0]}")
        parted = _first_parting(study["history"], rec.history["train"], study["iterations"])
        lines.append(
            f"- {L.label(study['net'])} seed {study['seed']} did not collapse in the study (its training error was "
            f"below {L.COLLAPSE_ERROR:.0%} for good from iteration {a:,}), but its full run (profile "
            f"`{rec.config.profile}`) "
            + (f"was not below it for good until iteration {b:,}" if b is not None else "never got below it for good")
            + (f" (it first dipped below at iteration {first:,})" if first is not None and (b is None or first < b)
               else "")
            + ". "
            + (f"The two runs share the net, the seed and lr 0.1 from the first step, but they were not one "
               f"trajectory: their mean training loss up to iteration {parted[0]:,} was already {parted[1]:.2f} in "
               f"the study and {parted[2]:.2f} in the full run ({code}). So this pair is two runs of one start, and "
               f"how long such a run sits near chance at lr 0.1 varies from run to run"
               if parted else
               f"The two runs follow one path through the study's {study['iterations']} iterations ({code}) and "
               f"part only after it: the study's end did not foretell the full run's")
            + " (one pair: described, not judged).")
    from ..models import paper_name
    return paper_name("\n".join(lines))


def lr_study_caption(records: list[dict]) -> str:
    """Data, numerics and size of the lr-0.1 study, read from its records (for the figure's caption)."""
    if not records:
        return "not recorded yet"
    data = sorted({r["provenance"].get("data", "?") for r in records})
    prec = sorted({r["provenance"].get("numerics", {}).get("precision", "?") for r in records})
    return (f"{len(records)} (net, seed) pairs of {records[0]['iterations']} iterations; {'; '.join(data)}; "
            f"{', '.join(prec)}; {lr_study_code(records)}")


def lr_study_code(records: list[dict]) -> str:
    """Which code and how many CPU threads ran the lr-0.1 records: 'all on commit abc (1 thread)' when they are one
    experiment, else each (commit, threads) with the nets it ran, so a reader sees the arms were not run alike."""
    def key(r):
        p = r["provenance"]
        return str(p.get("commit", "?")), p.get("threads")

    def threads(n):
        return "threads not recorded" if n is None else f"{n} thread{'s' * (n != 1)}"

    groups: dict[tuple, list[str]] = {}
    for r in records:
        groups.setdefault(key(r), [])
        if r["net"] not in groups[key(r)]:
            groups[key(r)].append(r["net"])
    if len(groups) == 1:
        (commit, n), = groups
        return f"all on commit {commit} ({threads(n)})"
    if len(groups) > 3:  # many sessions' work: counted, not listed (each record's provenance names its own)
        split = sorted({n for nets in groups.values() for n in nets
                        if sum(n in other for other in groups.values()) > 1})
        return (f"on {len(groups)} commits or thread counts (each record names its own)"
                + (f"; the seeds of {len(split)} net{'s' * (len(split) != 1)} ran on several" if split else ""))
    from ..analysis import lr_study as L
    parts = [f"commit {c} ({threads(n)}): {', '.join(L.label(x) for x in nets)}" for (c, n), nets in groups.items()]
    return f"on {len(groups)} commits or thread counts: " + "; ".join(parts)


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
    from ..models import paper_name
    who = f"seed {record.config.seed} of {paper_name(record.config.arch)}"
    ended = [p["iter"] for p in record.history["train"] if p.get("warmup_ended")]
    if not ended:
        return f"In {who} the warm-up never ended."
    line = (f"In {who}, the training error over the last 100 iterations fell below 80% at iteration "
            f"{ended[0]}, and the lr returned to 0.1 there (the paper: 'about 400 iterations').")
    after = [p for p in record.history["train"] if p["iter"] > ended[0]]
    worst = max(after[:max(1, len(after) // 10)], key=lambda p: p["error"], default=None)  # the next tenth of the run
    if worst is not None and worst["error"] >= 0.8:
        back = next((p["iter"] for p in after if p["iter"] > worst["iter"] and p["error"] < 0.8), None)
        line += (f" At lr 0.1 the training error went back up to {pct(worst['error'])} (iteration {worst['iter']}"
                 + (f") and fell below 80% again by iteration {back}." if back else ") and never fell below 80% again."))
    return line


def warmup_seeds_report(record: RunRecord) -> str:
    """:func:`warmup_report` for ``record`` (ResNet-110, seed 0) and every other recorded seed of its net at the
    book's profile, one line each (Markdown)."""
    from .store import other_seeds
    recs = [record] + [r for r in other_seeds([record.config.arch]).values() if r.config.seed != record.config.seed]
    return "\n".join(f"- {warmup_report(r)}" for r in sorted(recs, key=lambda r: r.config.seed))


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
