"""Chapter 4's confounds of ResNet-110's eval-mode mismatch: is it the seed, or the warm-up?

:mod:`resnet_lab.book.bn_modes` finds that BN's eval mode parts from its training mode in ResNet-110 (seed 0). This
module reads the same cached check on every recorded seed of ResNet-110 and of the two nets of depth 56 beside it
(counted, and judged over seeds by the book's rule), and on the ResNet-110 trained without the warm-up (profile
``cpu_nowarmup``, one seed: described), and states what is explained and what is not (:func:`in_short`).
"""
from __future__ import annotations

import pandas as pd

from .bn_modes import DEPART, KEYS, _parted, frame
from .render import and_list, indexed_frame, pct, pct2, seeds as _seeds

SEED_NETS = ("plain56", "resnet56", "resnet110")  # ResNet-110, and the two nets of depth 56 beside it as controls
NOWARMUP = "cpu_nowarmup"  # the profile of a ResNet-110 trained without the warm-up (the README)


def seed_checks(arch: str, profile: str | None = None) -> dict[int, dict]:
    """``{seed: check}`` of every completed record of ``arch`` (the paper's blocks, option A) at ``profile``
    (default: the book's) whose check is cached; never computes one (``python -m resnet_lab.book.caches``)."""
    from .claims import cached_by_seed
    from .store import profile_name
    return cached_by_seed(arch, profile or profile_name(), "bn_modes", keys=KEYS)


def seed_caption(checks: dict[str, dict[int, dict]]) -> str:
    """The caption line of the seed check: profile, data and the seeds each net's check was read from
    (``{net: {seed: check}}``), e.g. 'profile cpu, CIFAR-10 JPEG q75 copy; plain-56 seeds 0, 1 and 2, ...'."""
    from ..models import paper_name
    from .store import data_label, profile_name
    nets = [f"{paper_name(n)} {_seeds(by)}" for n, by in checks.items() if by]
    return f"profile {profile_name()}, {data_label()}; " + ("; ".join(nets) if nets else "no check cached yet")


def _largest(check: dict) -> float:
    return float(frame(check).ratio.max())


def seed_table(checks: dict[str, dict[int, dict]]) -> pd.DataFrame:
    """Does the mismatch come with the net or with the seed? One row per recorded seed of each net
    (``{net: {seed: check}}``, :func:`seed_checks`): the eval/training-mode ratio (median and largest over the 3x3
    layers), where it first reaches :data:`DEPART`, and the test error in each mode."""
    from ..models import paper_name
    rows = {}
    for net, by_seed in checks.items():
        for seed, r in sorted(by_seed.items()):
            f = frame(r)
            rows[(paper_name(net), seed)] = {
                "eval/train std, median": f"{f.ratio.median():.2f}", "largest": f"{f.ratio.max():.2f}",
                f"first layer at {DEPART} or more": _parted(f) or "none",
                "test error: eval / training mode": f"{pct(r['error'])} / {pct(r['train_mode_error'])}"}
    return indexed_frame(rows, ["net", "seed"])


def _ratios(by_seed: dict[int, dict]) -> str:
    return and_list([f"{_largest(r):.2f}" for _, r in sorted(by_seed.items())])


def _parts(check: dict) -> bool:
    return _largest(check) >= DEPART  # a NaN ratio is not a parting


def _tally(name: str, by_seed: dict[int, dict]) -> str:
    """'plain-56, 0 of 3 seeds (largest 1.05, 1.04 and 1.04)'."""
    n = len(by_seed)
    return (f"{name}, {sum(map(_parts, by_seed.values()))} of {n} seed{'s' * (n > 1)} "
            f"(largest {_ratios(by_seed)})")


def _count_ps(k: int, n: int, controls: dict[str, dict[int, dict]]) -> tuple[dict, dict | None, dict | None]:
    """``({control: (parting seeds, seeds)}, {control: Fisher p}, {control: Holm p})`` for 'k of n seeds part'
    against each control net's count; the p-values are None below :data:`~resnet_lab.stats.MIN_SEEDS` seeds."""
    from ..models import paper_name
    from ..stats import MIN_SEEDS, fisher_exact_p, holm
    counts = {paper_name(c): (sum(map(_parts, v.values())), len(v)) for c, v in controls.items()}
    if n < MIN_SEEDS or any(m < MIN_SEEDS for _, m in counts.values()):
        return counts, None, None
    raw = {c: fisher_exact_p(k, n - k, a, m - a) for c, (a, m) in counts.items()}
    return counts, raw, dict(zip(raw, holm(list(raw.values()))))


def _count_test(k: int, n: int, controls: dict[str, dict[int, dict]]) -> str:
    """Is 'k of n seeds part' more than each control net's count? Fisher's exact test per control net, Holm over
    them, judged only with :data:`~resnet_lab.stats.MIN_SEEDS` seeds on each side (a sentence, '' without
    controls)."""
    from ..stats import ALPHA, MIN_SEEDS
    if not controls:
        return ""
    counts, raw, adj = _count_ps(k, n, controls)
    if adj is None:
        return f" The counts rest on fewer than {MIN_SEEDS} seeds of a net: described, not judged."
    shown = [c for c, p in adj.items() if p < ALPHA]
    clean = k == n and all(a == 0 for a, _ in counts.values())
    text = (f" Against {and_list(f'{a} of {m} seeds of {c}' for c, (a, m) in counts.items())}, Fisher's exact "
            f"test gives p {and_list(f'{p:.2g}' for p in raw.values())}"
            + (f" (Holm over the {len(raw)} nets: {and_list(f'{p:.2g}' for p in adj.values())})" if len(raw) > 1
               else ""))
    if not shown:
        sizes = sorted({m for _, m in counts.values()})
        return text + (": no difference shown" + (f" -- with {n} seeds against {and_list(sizes)}, even a clean split "
                                                  f"is within chance" if clean else "") + ".")
    rest = [c for c in adj if c not in shown]
    return text + f": a difference from {and_list(shown)}" + (
        f"; none shown from {and_list(rest)}." if rest else ".")


def seed_report(checks: dict[str, dict[int, dict]], net: str = "resnet110", missing: list[int] | None = None,
                uncached: list[int] | None = None) -> str:
    """The seed confound in words computed from :func:`seed_table`: in how many of ``net``'s seeds eval mode parts
    from training mode (a largest ratio of :data:`DEPART` or more), beside the control nets' seeds -- a count,
    described; :func:`seed_test` judges the difference. With fewer than the rule's seeds it says the confound is
    not tested and names the seeds not recorded (``missing``) and those recorded whose check is not cached
    (``uncached``, with the command that caches it) (Markdown; '' without ``net``)."""
    from ..models import paper_name
    from ..stats import MIN_SEEDS
    own = checks.get(net) or {}
    if not own:
        return ""
    name = paper_name(net)
    parts = [s for s, r in own.items() if _parts(r)]
    n, k = len(own), len(parts)
    if n > 1:
        head = (f"Eval mode parts from training mode (a ratio of {DEPART} or more) in {k or 'none'} of the {n} seeds "
                f"of {name} with the check cached (largest ratio {_ratios(own)}).")
    else:
        head = (f"Eval mode {'parts' if k else 'does not part'} from training mode (a ratio of {DEPART} or more) in "
                f"the one seed of {name} with the check cached (seed {next(iter(own))}, largest ratio "
                f"{_ratios(own)}).")
    controls = {c: v for c, v in checks.items() if c != net and v}
    if controls:
        head += " Beside it, the seeds that part: " + "; ".join(_tally(paper_name(c), v) for c, v in controls.items()) \
            + "."
    if n < MIN_SEEDS:
        why = []
        if missing:
            why.append(f"{_seeds(missing)} {'is' if len(missing) == 1 else 'are'} not recorded yet")
        if uncached:
            why.append(f"{_seeds(uncached)} {'is' if len(uncached) == 1 else 'are'} recorded but not checked "
                       f"(`python -m resnet_lab.book.caches --only bn_modes bn_channels --arch {net}`)")
        return head + (f" With {n} seed{'s' * (n > 1)}, whether the mismatch comes with {name} or with its seed "
                       f"is not tested" + (f": {'; '.join(why)}." if why else "."))
    if k == n:
        return head + (f" So the mismatch is not peculiar to one seed: every seed of {name} trained this way has it."
                       + _count_test(k, n, controls)
                       + " {numref}`tab-ch4-bn-seed-test` tests how much larger it is.")
    if k == 0:
        return head + f" No seed of {name} has it."
    fig = ("which draws seed 0, shows one that has it" if 0 in parts else
           "which draws seed 0, shows one without it" if 0 in own else "draws seed 0, which is not checked")
    return head + (f" So it comes with some seeds ({_seeds(parts)}) and not with others "
                   f"({_seeds(set(own) - set(parts))}): the seed matters, and the eval-mode inset of Fig. 7, {fig}.")


def _records(net: str, profile: str) -> list:
    """The records of ``net`` (the paper's blocks, option A) at ``profile`` on the book's data, failed ones too."""
    from .store import paper_records
    return paper_records(net, profile, failed=True)


def _failed_runs(net: str, profile: str) -> dict[int, str]:
    """``{seed: why}`` of the records of ``net`` at ``profile`` that are recorded as failed (the loss stopped being
    finite)."""
    return {r.config.seed: r.failure for r in _records(net, profile) if r.failed}


def _lowest_errors(net: str, profile: str) -> dict[int, float]:
    """``{seed: lowest logged training error}`` of the completed records of ``net`` at ``profile``: did a run
    ever leave chance?"""
    return {r.config.seed: min((p["error"] for p in r.history["train"]), default=float("nan"))
            for r in _records(net, profile) if not r.failed}


def warmup_outcome(net: str = "resnet110", profile: str = NOWARMUP) -> tuple[str, int | None]:
    """Where the warm-up confound stands, and the seed it rests on: 'near chance' (a run of ``net`` at ``profile``
    ended with a test error above :data:`~resnet_lab.analysis.convergence.CHANCE_LEVEL`), 'checked' (its check is
    cached), 'diverged' (recorded as failed), 'unchecked' (recorded, its check not cached) or 'untrained'."""
    from .claims import cached_by_seed
    from .verdicts import seed_values
    from ..analysis.convergence import CHANCE_LEVEL
    without = seed_values(net, "final_test_error", profile)
    stuck = sorted(s for s, e in without.items() if e > CHANCE_LEVEL)
    if stuck:  # a net that ended near chance: its BN check would describe a net that did not learn
        return "near chance", stuck[0]
    got = cached_by_seed(net, profile, "bn_modes", keys=KEYS)
    if got:
        return "checked", min(got)
    failed = _failed_runs(net, profile)
    if failed:
        return "diverged", min(failed)
    return ("unchecked", min(without)) if without else ("untrained", None)


def warmup_report(net: str = "resnet110", profile: str = NOWARMUP) -> str:
    """The warm-up confound: ``net`` trained without the warm-up (``profile``), if recorded and checked -- does its
    eval mode part from training mode, and how well did it train? One seed, so described, never judged; a run that
    diverged, or ended near chance (test error above :data:`~resnet_lab.analysis.convergence.CHANCE_LEVEL`: whether
    it ever left it, read from its training curve), says so; otherwise the command that trains it (Markdown)."""
    from ..models import paper_name
    from .claims import cached_by_seed
    from .store import profile_name
    from .verdicts import seed_values
    from ..analysis.convergence import CHANCE_LEVEL
    name = paper_name(net)
    without, with_ = seed_values(net, "final_test_error", profile), seed_values(net, "final_test_error", profile_name())
    head = f"Trained without the warm-up (profile `{profile}`, seed {{seed}}), {name}"
    tail = " (one seed without the warm-up: described, not judged)."
    kind, seed = warmup_outcome(net, profile)
    if kind == "near chance":
        e, low = without[seed], _lowest_errors(net, profile).get(seed)
        beside = f", against {pct2(with_[seed])} for the same seed with the warm-up" if seed in with_ else ""
        if low is not None and low > CHANCE_LEVEL:
            return (head.format(seed=seed) + f" did not learn: its training error never "
                    f"fell below {CHANCE_LEVEL:.0%}, and its test error is {pct2(e)} (guessing gives 90%){beside}. In "
                    f"this run lr 0.1 from the first iteration is too large to start training, as the paper says of "
                    f"it (Sec. 4.2), so the mismatch cannot be checked without the warm-up" + tail)
        return (head.format(seed=seed) + f" ended near chance: its test error is "
                f"{pct2(e)} (guessing gives 90%){beside}"
                + (f", though its training error reached {pct2(low)} on the way" if low is not None else "")
                + ". The mismatch is not read on a net that ended near chance" + tail)
    if kind == "diverged":
        why = _failed_runs(net, profile)[seed]
        n_with, failed_with = len(with_), len(_failed_runs(net, profile_name()))
        others = (f", while none of the {n_with} seed{'s' * (n_with != 1)} trained with the warm-up did"
                  if n_with and not failed_with else
                  f", as did {failed_with} of the seeds trained with the warm-up" if failed_with else "")
        return (head.format(seed=seed) + f" diverged ({why}){others}"
                + (f" (seed {seed} with the warm-up: test error {pct2(with_[seed])})" if seed in with_ else "")
                + ": in this run lr 0.1 without the warm-up did not train to the end, so the mismatch cannot be "
                  "checked without the warm-up" + tail)
    if kind in ("unchecked", "untrained"):
        todo = (f"is recorded, but its check is not cached (`python -m resnet_lab.book.caches --profile {profile} "
                f"--only bn_modes --arch {net}`)" if kind == "unchecked" else
                f"is not recorded yet (`PROFILE={profile} OMP_NUM_THREADS=1 bash tools/queue.sh worker.log "
                f"{net}:basic:0`, about 5 hours of one core)")
        return (f"The warm-up is not tested: every {name} here was trained with it (Sec. 4.2), and the one trained "
                f"without it (profile `{profile}`) {todo}.")
    r = cached_by_seed(net, profile, "bn_modes", keys=KEYS)[seed]
    big, with_it = _largest(r), seed_checks(net).get(seed)
    text = (f"Trained without the warm-up (profile `{profile}`, seed {seed}), {name}'s largest eval/training-mode "
            f"ratio is {big:.2f}" + (f", against {_largest(with_it):.2f} for the same seed with it" if with_it else
                                     f" (seed {seed} with the warm-up is not checked)"))
    if with_it is not None:
        text += (": the mismatch arises without the warm-up too, so the warm-up is not needed for it" if _parts(r) else
                 ": in this pair the mismatch comes with the warm-up and not without it" if _parts(with_it) else
                 ": neither run of this seed has the mismatch, so the pair says nothing of the warm-up")
    errors = without.get(seed), with_.get(seed)
    if errors[0] is not None:
        text += (f". Its test error is {pct2(errors[0])}"
                 + (f" ({pct2(errors[1])} with the warm-up)" if errors[1] is not None else ""))
    return text + tail


def _stale(check: dict, seed: int) -> str:
    """Are stale running statistics the cause? What re-estimating them ("precise BN") does to ``check``'s largest
    ratio, on test images and on the training images it was re-estimated from (a sentence)."""
    f = frame(check)
    before, after, on_train = f.ratio.max(), f.recal_ratio.max(), f.recal_train_ratio.max()
    if after < DEPART:
        return (f"Re-estimating the statistics with the final weights (\"precise BN\") closes the gap in seed {seed} "
                f"(largest ratio {before:.2f} before, {after:.2f} after): stale statistics explain it.")
    return (f"It is not just stale statistics: with the statistics re-estimated from the final weights (\"precise "
            f"BN\"), seed {seed}'s eval-mode response std is still up to {after:.2f} times its training-mode one "
            f"({before:.2f} before)"
            + (", and it is there on the training images they were re-estimated from too." if on_train >= DEPART
               else "."))


def in_short(checks: dict[str, dict[int, dict]], net: str = "resnet110", profile: str = NOWARMUP) -> str:
    """Chapter 4's answer on ``net``'s eval-mode responses, computed from the seed checks (``{net: {seed: check}}``,
    :func:`seed_checks`) and the run without the warm-up (:func:`warmup_outcome`): what the checks explain of seed
    0 (the seed Fig. 7 draws), whether the mismatch comes with the net or the seed (the counts, with Fisher's test
    where each net has the rule's seeds), where the warm-up stands, and what is left open (Markdown; '' without a
    check of ``net``)."""
    from ..models import paper_name
    from ..stats import ALPHA, MIN_SEEDS
    from .claims import cached_by_seed
    own = checks.get(net) or {}
    if not own:
        return ""
    name = paper_name(net)
    parts = sorted(s for s, r in own.items() if _parts(r))
    k, n = len(parts), len(own)
    if not k:
        return (f"**In short.** In no checked seed of {name} ({_seeds(own)}) does eval mode part from training mode, "
                f"so its eval-mode responses and its training-mode ones tell the same story.")
    text = ["**In short.**"]
    if 0 in parts:
        text.append(f"{name}'s eval-mode responses (the inset of Fig. 7, seed 0) are not the responses it computed "
                    f"while it learned: its BN running statistics no longer describe what its layers receive in eval "
                    f"mode. That is why Fig. 7's main panel uses training mode.")
    else:
        text.append(f"Seed 0 of {name}, which Fig. 7 draws, " + ("has no such mismatch" if 0 in own else
                                                                  "is not checked")
                    + "; where another seed has it, its BN running statistics no longer describe what its layers "
                      "receive in eval mode, and Fig. 7's main panel uses training mode so as not to depend on it.")
    text.append(_stale(own[parts[0]], parts[0]))
    costs = [s for s in parts if own[s]["error"] > own[s]["train_mode_error"]]
    text.append("It does not cost accuracy: " + (f"in each of the {k} parting seeds" if k > 1 else
                                                 f"in the parting seed ({parts[0]})")
                + " the test error is no higher in eval mode." if not costs else
                f"In {len(costs)} of the {k} parting seeds ({_seeds(costs)}) the test error is higher in eval mode.")
    controls = {c: v for c, v in checks.items() if c != net and v}
    counts, _, adj = _count_ps(k, n, controls) if controls else ({}, None, None)
    beside = f", against {and_list(f'{a} of {m} seeds of {c}' for c, (a, m) in counts.items())}" if counts else ""
    if n == 1:
        text.append(f"That is one checked seed of {name} (seed {parts[0]}){beside}: described, not judged.")
    else:
        text.append((f"Every one of the {n} checked seeds of {name} has the mismatch" if k == n else
                     f"{k} of the {n} checked seeds of {name} have the mismatch ({_seeds(parts)}): the seed matters")
                    + beside + ".")
        if not controls:
            text.append("No control net is checked, so nothing here says whether it comes with this net alone.")
        elif adj is None:
            text.append(f"With fewer than {MIN_SEEDS} seeds of a net these counts are described, not judged.")
        elif all(p >= ALPHA for p in adj.values()):
            text.append(f"So few seeds cannot show these counts apart (Fisher's test, Holm p "
                        f"{and_list(f'{p:.2g}' for p in adj.values())}).")
        else:
            text.append(f"Fisher's test shows the counts apart (Holm p {and_list(f'{p:.2g}' for p in adj.values())}).")
    kind, seed = warmup_outcome(net, profile)
    if kind == "checked":
        r, with_it = cached_by_seed(net, profile, "bn_modes", keys=KEYS)[seed], own.get(seed)
        one = f"the one run without it (seed {seed}, largest ratio {_largest(r):.2f})"
        text.append(f"The warm-up is not needed for it: {one} has it too." if _parts(r) else
                    f"The warm-up may be part of its cause: {one} does not have it, while the same seed with the "
                    f"warm-up does. One run cannot say more." if with_it is not None and _parts(with_it) else
                    f"The warm-up is not settled: {one} does not have it, and the same seed with the warm-up "
                    f"{'does not either' if with_it is not None else 'is not checked'}.")
    elif kind in ("near chance", "diverged"):
        text.append(f"Whether the warm-up is needed for it cannot be tested this way: without it {name} "
                    + ("ended near chance" if kind == "near chance" else "diverged") + f" (seed {seed}, one run).")
    else:
        text.append("Whether the warm-up is needed for it is not tested yet.")
    calm = [c for c, (a, _) in counts.items() if a == 0]
    stale = frame(own[parts[0]]).recal_ratio.max() < DEPART
    text.append(f"What is not explained is why {name}'s "
                + ("statistics went stale" if stale else "running statistics part from its eval-mode forward pass")
                + (f", while no checked seed of {' or '.join(calm)} has it" if calm else
                   "" if stale else " at all") + ".")
    return " ".join(text)


SEED_PAIRS = (("resnet110", "resnet56"), ("resnet110", "plain56"))  # is ResNet-110's mismatch larger than theirs?


def seed_test(checks: dict[str, dict[int, dict]]) -> pd.DataFrame:
    """The seed confound by the book's rule: ResNet-110's largest eval/training-mode ratio against each control
    net's, over their seeds, on the log scale a ratio lives on (Welch's test on the logarithms, Holm over this
    table; geometric means and their ratio; rows with fewer than 3 seeds per net are described); pairs whose nets
    are not both in ``checks`` are left out."""
    from ..models import paper_name
    from .verdicts import comparison_table
    pairs = {f"{paper_name(a)} / {paper_name(b)}": ({s: _largest(r) for s, r in checks[a].items()},
                                                        {s: _largest(r) for s, r in checks[b].items()})
             for a, b in SEED_PAIRS if checks.get(a) and checks.get(b)}
    return comparison_table(pairs, names=("first net (geometric mean)", "second net (geometric mean)"), digits=2,
                            ratio=True) if pairs else pd.DataFrame()
