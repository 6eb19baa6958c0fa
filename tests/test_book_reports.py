"""Report sentences and tables of the book that are computed from records: the book's four-column verdict tables
(depth steps), the lr-0.1 study's recovery table, the seed spread's seed count, Table 6's ResNet-110 row, the
gradient table and sentences, the schedule's gap."""
from types import SimpleNamespace

import pandas as pd
import pytest

import resnet_lab.book as B
from resnet_lab import stats
from conftest import patch_book


def study_record(net, seed, error, iterations=300):
    hist = [dict(iter=i, loss=2.3, error=error, dead_stage3=0.0) for i in range(10, iterations + 1, 10)]
    return dict(net=net, seed=seed, iterations=iterations, history=hist, provenance={})


class FakeStore:
    def __init__(self, recs):
        self.recs = recs  # arch -> record

    def get(self, cfg):
        return self.recs.get(cfg.arch)

    def find(self, **kw):
        return []

    def best_profile(self):
        return "cpu"


class ProfileStore(FakeStore):
    def get(self, cfg):
        return self.recs.get((cfg.arch, cfg.profile, cfg.seed))


def full_run(errors):
    return SimpleNamespace(failed=False, config=SimpleNamespace(profile="cpu"),
                           history={"train": [dict(iter=50 * (i + 1), error=e) for i, e in enumerate(errors)]},
                           metrics=dict(final_train_error=0.12, final_test_error=0.15))


@pytest.fixture(autouse=True)
def no_data_lookup(monkeypatch):
    patch_book(monkeypatch, "_data_source", lambda: "jpeg")


def test_recovery_table_names_when_a_collapsed_net_left_chance_in_its_full_run(monkeypatch):
    patch_book(monkeypatch, "RunStore", lambda: FakeStore({"resnet56": full_run([0.9, 0.89, 0.7, 0.5])}))
    study = [study_record("resnet56", 0, 0.88), study_record("resnet20", 0, 0.5)]
    t = B.cifar.recovery_table(study)
    assert list(t.index) == ["resnet56 seed 0"]  # resnet20 did not collapse
    assert B.cifar.recovery_report(study) == ("- The one seed that collapsed in the study has a full run recorded; in "
                                              "it the training error was below 80% for good from iteration 150 on, "
                                              "so the collapse did not last.")
    assert t.iloc[0].tolist() == ["yes", "not by 300", "150", "cpu", "12.0%", "15.0%"]
    assert list(t.columns[1:3]) == ["study: below 80% for good from (iteration)",
                                     "full run: below 80% for good from (iteration)"]
    # below the line at 100, back above it at 150 (after a warm-up, say): for good only from 200
    patch_book(monkeypatch, "RunStore", lambda: FakeStore({"resnet56": full_run([0.9, 0.7, 0.88, 0.6, 0.5])}))
    assert B.cifar.recovery_table(study).iloc[0, 2] == "200"


def test_recovery_table_says_when_a_run_never_left_chance_and_skips_unrecorded(monkeypatch):
    patch_book(monkeypatch, "RunStore", lambda: ProfileStore({("resnet110", "cpu", 1): full_run([0.9, 0.9])}))
    study = [study_record("resnet110+warmup", 1, 0.9), study_record("plain56", 0, 0.9),
             study_record("resnet110", 1, 0.9)]
    t = B.cifar.recovery_table(study)
    assert list(t.index) == ["resnet110 with warm-up seed 1"]  # plain56: no full run; resnet110: no cpu_nowarmup run
    assert t.iloc[0, 2] == "never" and t.iloc[0, 1] == "not by 300"
    assert B.cifar.recovery_report(study) == (
        "- 1 of the 3 seeds that collapsed in the study has a full run recorded; in 0 of them the training error got "
        "below 80% for good, in 1 it never did (or the run diverged).\n"
        "- Not followed (no full run recorded at the study's start): plain-56 seed 0; ResNet-110 seed 1.")
    assert B.cifar.recovery_table([]).empty


def test_recovery_table_pairs_resnet110_without_warmup_with_its_nowarmup_run_and_says_when_they_disagree(monkeypatch):
    nowarm = full_run([0.9] * 14 + [0.7, 0.5])  # below 80% for good from iteration 750
    for p in nowarm.history["train"]:
        p["loss"] = 2.3
    nowarm.config = SimpleNamespace(profile="cpu_nowarmup")
    nowarm.provenance = {"commit": "bbb", "resumed_at": 2882}
    patch_book(monkeypatch, "RunStore", lambda: ProfileStore({("resnet110", "cpu_nowarmup", 0): nowarm,
                                                              ("resnet110", "cpu", 1): full_run([0.9, 0.5])}))
    early = study_record("resnet110", 0, 0.5)  # did not collapse: below 80% from the second logged iteration
    early["history"][0]["error"] = 0.9
    early["provenance"] = {"commit": "aaa"}
    study = [early, study_record("resnet110", 1, 0.9), study_record("resnet110+warmup", 0, 0.5)]
    t = B.cifar.recovery_table(study)
    assert list(t.index) == ["resnet110 seed 0"]  # seed 1 has no cpu_nowarmup run; the warm-up seed did not collapse
    assert t.iloc[0].tolist() == ["no", "20", "750", "cpu_nowarmup", "12.0%", "15.0%"]
    # the study's windows of 10 iterations average to 2.3 over each of the full run's windows of 50: one path
    assert B.cifar._first_parting(early["history"], nowarm.history["train"], 300) is None
    assert B.cifar.recovery_report(study) == (
        "- The one seed that collapsed in the study has no full run recorded.\n"
        "- Not followed (no full run recorded at the study's start): ResNet-110 seed 1.\n"
        "- ResNet-110 seed 0 did not collapse in the study (its training error was below 80% for good from iteration "
        "20), but its full run (profile `cpu_nowarmup`) was not below it for good until iteration 750. The two runs "
        "follow one path through the study's 300 iterations (the study on commit aaa, the full run finished on "
        "commit bbb) and part only after it: the study's end did not foretell the full run's (one pair: described, "
        "not judged).")
    early["history"][6]["loss"] = 3.3  # iteration 70: the full run's window 51-100 averages 2.5 in the study
    assert B.cifar._first_parting(early["history"], nowarm.history["train"], 300) == (100, pytest.approx(2.5), 2.3)
    nowarm.history["train"][2]["error"] = 0.7  # dipped below at 150 and climbed back
    text = B.cifar.recovery_report(study)
    assert "was not below it for good until iteration 750 (it first dipped below at iteration 150). The two runs " \
           "share the net, the seed and lr 0.1 from the first step, but they were not one trajectory: their mean " \
           "training loss up to iteration 100 was already 2.50 in the study and 2.30 in the full run (the study on " \
           "commit aaa, the full run finished on commit bbb)." in text
    for p in nowarm.history["train"][-2:]:
        p["error"] = 0.85  # never below for good
    assert "its full run (profile `cpu_nowarmup`) never got below it for good (it first dipped below at iteration " \
           "150)." in B.cifar.recovery_report(study)
    nowarm.history["train"] = nowarm.history["train"][:2] + [dict(iter=150, error=0.5, loss=2.3)]  # within 150
    assert "did not collapse in the study" not in B.cifar.recovery_report(study)
    nowarm.failed = True  # a full run recorded as failed: a row that says so, no report line
    assert t.columns[2] == "full run: below 80% for good from (iteration)"
    row = B.cifar.recovery_table(study).iloc[0].tolist()
    assert row[2] == "diverged" and row[4:] == ["\u2013", "\u2013"]
    assert "did not collapse in the study" not in B.cifar.recovery_report(study)


def test_lr_study_report_keeps_to_what_the_table_does_not_say(monkeypatch):
    from resnet_lab.analysis import lr_study as L
    study = [study_record(n, s, 0.88 if (n, s) in {("resnet110", 0), ("resnet110", 1)} else 0.5)
             for n in L.NETS for s in L.SEEDS if (n, s) != ("plain56", 4)]
    text = B.cifar.lr_study_report(study)
    lines = text.splitlines()
    assert len(lines) == 2 and all(ln.startswith("- ") for ln in lines), text
    assert lines[0].startswith("- Seeds not recorded yet: plain56 seed 4 (")
    assert lines[1] == ("- Warm-up or not, ResNet-110: 2 of 5 seeds collapsed without it, 0 of 5 with it (Fisher's "
                        "exact two-sided p = 0.44: 10 seeds cannot tell these rates apart).")
    assert "resnet20" not in text  # the per-net counts are the table's
    assert B.cifar.lr_study_report([]).startswith("- The lr-0.1 study is not recorded")


def test_lr_study_caption_names_the_code_its_arms_ran_on():
    def rec(net, commit, threads):
        r = study_record(net, 0, 0.5)
        r["provenance"] = dict(r.get("provenance", {}), commit=commit, threads=threads)
        return r
    same = [rec("resnet56", "abc", 1), rec("resnet56+preact", "abc", 1)]
    assert B.cifar.lr_study_code(same) == "all on commit abc (1 thread)"
    assert B.cifar.lr_study_caption(same).endswith("; all on commit abc (1 thread)")
    mixed = [rec("resnet56", "old", None), rec("resnet56+preact", "new", 2), rec("resnet56+final_bn", "new", 2)]
    assert B.cifar.lr_study_code(mixed) == (
        "on 2 commits or thread counts: commit old (threads not recorded): resnet56; commit new (2 threads): "
        "pre-activation resnet56, resnet56 with a final BN-ReLU")
    many = [rec("resnet20", f"c{i}", 1) for i in range(4)]
    assert B.cifar.lr_study_code(many) == "on 4 commits or thread counts (each record names its own); the seeds " \
        "of 1 net ran on several"
    apart = [rec(f"resnet{d}", f"c{d}", 1) for d in (20, 32, 44, 56)]
    assert B.cifar.lr_study_code(apart) == "on 4 commits or thread counts (each record names its own)"


@pytest.mark.parametrize("n, shown", [(3, "(1.20 points, 3 seeds)"), (None, "(1.20 points)")])
def test_judge_says_how_many_seeds_the_spread_rests_on(monkeypatch, n, shown):
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": n)
    assert B.spread.judge(0.02, 0.012) == f"larger than the depth-20 seed range {shown}; one seed per net: described, not judged"
    assert B.spread.judge(-0.01, 0.012) == f"within the depth-20 seed range {shown}; one seed per net: described, not judged"
    assert "described, not judged" in B.spread.judge(0.5, None) and "finding" not in B.spread.judge(0.5, None)


def test_table6_sets_the_papers_best_resnet110_beside_its_mean(monkeypatch):
    rec = SimpleNamespace(failed=False, metrics=dict(final_test_error=0.2),
                          config=SimpleNamespace(arch="resnet110", variant="basic"))
    patch_book(monkeypatch, "seeds", lambda arch, **kw: B.RunSet({f"{arch} s0": rec}))
    row = B.cifar.table6({"resnet110": rec}).loc["resnet110"]
    assert row["paper"] == "6.43 (best of 5); 6.61 ± 0.16"


def _sharp(centre, rise, error=0.2):
    return {"centre_loss": centre, "centre_error": error, "rise_0.5": rise, "rise_1.0": 2 * rise,
            "below_chance": 0.5, "nonconvex": 0.0}


def test_a_flatter_slice_at_a_higher_loss_is_called_a_plateau():
    from resnet_lab.book import trained

    res, plain = _sharp(0.43, 1.38, 0.15), _sharp(1.39, 0.21, 0.51)
    line = trained.plateau_caveat("resnet56", res, "plain56", plain)
    assert "plain56's, is centred at a higher loss (1.390, 51.0% training error, against 0.430 and 15.0%" in line
    assert "no sign of a better minimum" in line and "high-loss plateau" in line  # 1.39 > 2 x 0.43
    near = trained.plateau_caveat("resnet20", _sharp(0.40, 4.0), "plain20", _sharp(0.49, 2.5))
    assert "plain20's, is centred at a higher loss" in near and "plateau" not in near
    # the flatter net also the lower one: no caveat, whichever of the pair it is
    assert trained.plateau_caveat("resnet56", _sharp(0.40, 0.2), "plain56", _sharp(0.50, 1.0)) == ""
    assert trained.plateau_caveat("resnet56", _sharp(0.50, 1.0), "plain56", _sharp(0.40, 0.2)) == ""


def _res(train, test):
    return SimpleNamespace(failed=False, metrics=dict(final_train_error=train, final_test_error=test))


def test_cost_line_keeps_a_gpus_seconds_apart_from_the_cpus():
    from resnet_lab.book import trained
    lesions = {"resnet20": dict(cpu_seconds=617.1), "resnet56": dict(cpu_seconds=3023.7, device="cpu"),
               "resnet110": dict(cpu_seconds=31.0, device="cuda")}
    lands = {"resnet20": dict(cpu_seconds=691.0), "resnet56": dict(cpu_seconds=1223.8, device="cpu"),
             "resnet110": dict(cpu_seconds=20.4, device="cuda")}
    line = trained.cost_line(lesions, lands)
    cpu, gpu = line.split("; and ")
    assert cpu.startswith("CPU time recorded") and "on the CPU" in cpu  # no device recorded: before any GPU ran
    assert "resnet20: lesions 10.3 min, landscape 11.5 min" in cpu and "resnet56: lesions 50.4 min" in cpu
    assert gpu.startswith("on cuda (a GPU") and "resnet110: lesions 31 s, landscape 20 s" in gpu
    assert "resnet110" not in cpu
    assert trained.cost_line({"plain20": dict(cpu_seconds=None)}, {}) == ""
    mixed = trained.cost_line({"plain56": dict(cpu_seconds=90, device="cpu+cuda")},
                              {"plain56": dict(cpu_seconds=30, device="cuda")})
    assert "partly on the CPU, partly on another device (cpu+cuda; " in mixed and "plain56: lesions 1.5 min" in mixed


def _fake_seeds(monkeypatch, values, spread=0.008, n=3):
    """Every recorded seed of each net (``values``: {arch: {seed: (train, test)}}) and the depth-20 seed range."""
    metric_i = {"final_train_error": 0, "final_test_error": 1}
    patch_book(monkeypatch, "seed_values", lambda arch, metric="final_test_error", profile=None, **kw:
               {s: v[metric_i[metric]] for s, v in values.get(arch, {}).items()})
    patch_book(monkeypatch, "seed_spread", lambda metric="final_test_error": spread)
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": n)
    patch_book(monkeypatch, "profile_name", lambda: "cpu")


def test_verdict_table_judges_three_seeds_and_describes_one(monkeypatch):
    patch_book(monkeypatch, "seed_values", lambda *a, **kw: {})  # no deeper net's spread from the real store
    patch_book(monkeypatch, "seed_spread", lambda metric="final_test_error": 0.01)
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": 3)
    a3, b3 = {0: 0.20, 1: 0.205, 2: 0.198}, {0: 0.17, 1: 0.172, 2: 0.168}
    rng = B.verdicts.seed_range()
    t = B.verdicts.verdict_table({"a − b": (a3, b3), "one": ({0: 0.30}, {0: 0.18}), "near": ({0: 0.175}, b3),
                                  "gone": ({}, b3)}, {"a − b": rng, "one": rng, "near": rng})
    assert list(t.columns) == ["difference (points)", "uncertainty", "verdict"] and t.index.name == "pair"
    judged = t.loc["a − b"]
    assert judged["difference (points)"] == "+3.10" and judged["verdict"] == "difference"
    assert judged["uncertainty"].startswith("95% interval +") and "(Welch, 3 seeds vs 3); p = " in judged["uncertainty"]
    one = t.loc["one"]
    assert one["verdict"] == "not judged: 1 seed vs 1; larger than the depth-20 seed range"
    assert one["uncertainty"] == "no interval (1 seed vs 1)"  # the range is said once, under the table
    assert t.attrs["seed_ranges"] == {"error": rng}
    line = B.verdicts.ranges_line(t)
    assert line == ("The rows not judged are set beside the depth-20 seed range (the largest spread of one net's final "
                    "error over its seeds): 1.00 points in error (3 seeds).")
    assert line in B.verdicts.judged_summary(t)
    two = B.verdicts.verdict_table({"x, training error": ({0: 0.3}, {0: 0.2}), "x, test error": ({0: 0.3}, {0: 0.2})},
                                   {"x, training error": (0.0081, 3), "x, test error": (0.0097, 3)})
    assert B.verdicts.ranges_line(two).endswith(": 0.81 points in training error, 0.97 in test error (3 seeds).")
    assert B.verdicts.ranges_line(B.verdicts.verdict_table({"a − b": (a3, b3)}, {"a − b": rng})) == ""  # all judged
    assert t.loc["near", "verdict"] == "not judged: 1 seed vs 3; within the depth-20 seed range"  # 0.5 < 1 point
    assert t.loc["gone", "verdict"] == "not recorded"
    # without a measured range a one-seed row is only 'not judged'
    assert B.verdicts.verdict_table({"one": ({0: 0.30}, {0: 0.18})}).loc["one", "verdict"] == "not judged: 1 seed vs 1"


def test_the_ranges_line_names_the_spread_of_deeper_nets_once_they_have_seeds(monkeypatch):
    """plain-56 with three seeds spreads far more than the depth-20 nets: the line under a verdict table says so
    (how many times the depth-20 range), with units once; no deeper net with two seeds, no such sentence."""
    _fake_seeds(monkeypatch, {"plain56": {0: (0.513, 0.495), 1: (0.571, 0.547), 2: (0.514, 0.502)},
                              "resnet56": {0: (0.160, 0.184), 1: (0.150, 0.179), 2: (0.151, 0.178)},
                              "plain44": {0: (0.34, 0.34)}})
    used = {"training error": (0.0081, 3), "test error": (0.0097, 3)}
    line = B.verdicts._ranges_line(used)
    assert line.endswith(" The seed ranges of deeper nets (3 seeds each): plain-56 5.80 points in training error "
                         "and 5.20 in test error, ResNet-56 1.00 and 0.60; the widest is 7.2 times the depth-20 range, "
                         "so a one-seed difference between deeper nets can be that large by chance."), line
    assert "vary more" not in line  # ResNet-56's test-error range (0.60) is below the depth-20 one (0.97)
    assert "plain-44" not in line  # one seed: no spread
    _fake_seeds(monkeypatch, {"plain56": {0: (0.513, 0.495)}})
    assert B.verdicts._ranges_line(used).endswith("0.97 in test error (3 seeds).")


def test_a_judged_row_with_no_difference_says_why():
    """ResNet-56 below plain-56 in every seed, but plain-56's seeds spread widely: the sentence says the seeds fall
    apart, how often 3 and 3 do so by chance (2 in 20), which net spreads, and Welch's interval; overlapping seeds
    are said to overlap; a row that shows a difference, or is not judged, gets no sentence."""
    pairs = {"ResNet-56 − plain-56": ({0: 0.735, 1: 0.723, 2: 0.724}, {0: 1.393, 1: 1.575, 2: 0.965}),
             "ResNet-20 − plain-20": ({0: 0.794, 1: 0.798, 2: 0.803}, {0: 0.882, 1: 0.879, 2: 0.880}),
             "ResNet-110 − ResNet-56": ({0: 0.767}, {0: 0.735, 1: 0.723, 2: 0.724})}
    text = B.verdicts.not_shown_reasons(pairs, scale=1, digits=3)
    assert text.startswith("ResNet-56 − plain-56: no difference shown. Every ResNet-56 seed lies below every "
                           "plain-56 seed, but seeds this few fall apart this cleanly, one way or the other, with "
                           "probability 2 in 20 when the nets do not differ; plain-56's seeds spread from 0.965 to "
                           "1.575, so Welch's 95% interval for the difference runs from -1."), text
    assert text.count("no difference shown") == 1 and "ResNet-20" not in text and "ResNet-110" not in text
    lap = B.verdicts.not_shown_reasons({"a − b, test error": ({0: 0.20, 1: 0.30, 2: 0.25},
                                                                    {0: 0.21, 1: 0.29, 2: 0.26})})
    assert lap.startswith("a − b, test error: no difference shown. The two nets' seeds overlap; a's seeds "
                          "spread from 20.00 to 30.00"), lap
    assert B.verdicts.not_shown_reasons({}) == ""
    # Welch's interval of one row leaves out zero, but Holm over the table's rows takes its p above 0.05
    close = {f"r{i} \u2212 s{i}": ({0: 0.20, 1: 0.21, 2: 0.22}, {0: 0.17, 1: 0.18, 2: 0.19}) for i in range(6)}
    text = B.verdicts.not_shown_reasons(close)
    assert "leaves out zero, but its p does not survive Holm's correction over the table's 6 judged comparisons" \
        in text, text


def test_depth_table_compares_each_step_and_the_ends(monkeypatch):
    _fake_seeds(monkeypatch, {"resnet20": {0: (0.140, 0.172), 1: (0.141, 0.170), 2: (0.139, 0.171)},
                              "resnet32": {0: (0.127, 0.165)}, "resnet56": {0: (0.160, 0.184)},
                              "plain20": {0: (0.176, 0.198)}, "plain56": {0: (0.513, 0.495)}})
    recs = {k: _res(0.1, 0.1) for k in ("resnet20", "resnet32", "resnet56", "plain20", "plain56")}
    t = B.degradation.depth_table(recs, B.degradation.RESNETS)
    assert list(t.index) == [f"{a} − {b}, {m} error" for m in ("training", "test") for a, b in
                             (("ResNet-32", "ResNet-20"), ("ResNet-56", "ResNet-32"), ("ResNet-56", "ResNet-20"))]
    row = t.loc["ResNet-32 − ResNet-20, training error"]
    assert row["difference (points)"] == "-1.30"  # 12.70 against the mean of three seeds, 14.00
    assert row["verdict"] == "not judged: 1 seed vs 3; larger than the depth-20 seed range"
    assert t.loc["ResNet-32 − ResNet-20, test error", "verdict"].endswith("within the depth-20 seed range")
    plain = B.degradation.depth_table(recs, B.degradation.PLAIN, metrics=("final_train_error",))
    assert list(plain.index) == ["plain-56 − plain-20, training error"]  # two depths: one step, no ends row
    alone = B.degradation.depth_table({"plain20": recs["plain20"]}, B.degradation.PLAIN)
    assert alone.empty and B.verdicts.judged_summary(alone) == ""  # one net: nothing to compare, nothing to say


def test_depth_table_adds_the_widest_judged_pair_when_the_ends_are_not_judged(monkeypatch):
    """ResNet-110 with one seed: the ends row (110 - 20) is described, so ResNet-56 - ResNet-20 (3 seeds each) is
    added and judged -- and the deeper-ResNets sentence reads that row, not the described one."""
    three = lambda tr, te: {s: (tr + 0.001 * s, te + 0.001 * s) for s in range(3)}  # noqa: E731
    _fake_seeds(monkeypatch, {"resnet20": three(0.140, 0.170), "resnet44": {0: (0.168, 0.191)},
                              "resnet56": three(0.153, 0.180), "resnet110": {0: (0.127, 0.172)}})
    recs = {k: _res(0.1, 0.1) for k in ("resnet20", "resnet44", "resnet56", "resnet110")}
    t = B.degradation.depth_table(recs, B.degradation.RESNETS, metrics=("final_train_error",))
    assert list(t.index) == [f"{a} − {b}, training error" for a, b in (
        ("ResNet-44", "ResNet-20"), ("ResNet-56", "ResNet-44"), ("ResNet-110", "ResNet-56"), ("ResNet-110", "ResNet-20"),
        ("ResNet-56", "ResNet-20"))]
    assert t.loc["ResNet-110 − ResNet-20, training error", "verdict"].startswith("not judged: 1 seed vs 3")
    assert t.loc["ResNet-56 − ResNet-20, training error", "verdict"] == "difference"
    text = B.degradation.deeper_resnets_note(recs, metrics=("final_train_error",))
    assert "Here ResNet-56 − ResNet-20 in training error is +1.30 points: our runs show the opposite" in text
    # all ends judged already: no extra row
    recs2 = {k: recs[k] for k in ("resnet20", "resnet56")}
    assert list(B.degradation.depth_table(recs2, B.degradation.RESNETS, metrics=("final_train_error",)).index) == [
        "ResNet-56 − ResNet-20, training error"]


@pytest.mark.parametrize("deep_train, verdict", [(0.16, "our runs show the opposite"), (0.12, "our runs agree"),
                                                 (0.142, "within the seed range measured at depth 20")])
def test_deeper_resnets_training_verdict_follows_the_records_and_the_spread(monkeypatch, deep_train, verdict):
    _fake_seeds(monkeypatch, {"resnet20": {0: (0.14, 0.17)}, "resnet56": {0: (deep_train, 0.18)}}, spread=0.005)
    text = B.degradation.deeper_resnets_note({"resnet20": _res(0.14, 0.17), "resnet56": _res(deep_train, 0.18)})
    assert text.startswith("In the paper (Fig. 6 middle, full schedule) the deeper ResNet ends with the lower "
                           "training error. Here ResNet-56 − ResNet-20 in training error is ")
    assert verdict in text and "described, not judged" in text and "no difference" not in text
    assert B.degradation.deeper_resnets_note({"resnet20": _res(0.14, 0.17)}) == ""
    patch_book(monkeypatch, "seed_spread", lambda metric="final_test_error": None)  # no depth-20 range measured
    text = B.degradation.deeper_resnets_note({"resnet20": _res(0.14, 0.17), "resnet56": _res(deep_train, 0.18)})
    assert "the depth-20 seed range is not measured yet" in text and "within" not in text


def test_deeper_resnets_verdict_is_the_tables_when_judged(monkeypatch):
    seeds = {s: (0.14 + 0.001 * s, 0.17 + 0.002 * s) for s in range(3)}
    _fake_seeds(monkeypatch, {"resnet20": seeds, "resnet56": {s: (v[0] + 0.03 + 0.0007 * (s % 2), v[1] + 0.01) for s, v in seeds.items()}})
    recs = {"resnet20": _res(0.14, 0.17), "resnet56": _res(0.17, 0.18)}
    text = B.degradation.deeper_resnets_note(recs)
    assert "+3.02 points: our runs show the opposite at this profile" in text and "not judged" not in text
    assert B.degradation.depth_table(recs, B.degradation.RESNETS).loc[
        "ResNet-56 − ResNet-20, training error", "verdict"] == "difference"


@pytest.mark.parametrize("errors, says", [((0.173, 0.184), "but not the ordering of ResNets by depth"),
                                          ((0.09, 0.075), "can be compared with the paper's")])
def test_schedule_summary_compares_the_gap_with_the_papers_differences(monkeypatch, errors, says):
    patch_book(monkeypatch, "profile_name", lambda: "cpu")
    monkeypatch.setattr(B.claims, "values", lambda arch, p, metric="final_test_error", **kw: [])  # the records alone
    recs = {"resnet20": _res(0.14, errors[0]), "resnet56": _res(0.15, errors[1]), "plain20": _res(0.2, 0.2)}
    text = B.cifar.schedule_summary(recs)
    assert text.startswith("At 1/10 of the paper's schedule (6,400 of 64,000 iterations) our ResNets end ")
    assert says in text and "(1.78 points)" in text  # 8.75 - 6.97, the paper's own difference
    t = B.cifar.schedule_table(recs)
    assert list(t.index) == ["resnet20", "resnet56"]  # plain20 is not in Table 6
    assert t.loc["resnet20"].tolist() == [f"{100 * errors[0]:.2f}", 1, "8.75", f"{100 * errors[0] - 8.75:+.1f}"]
    assert B.cifar.schedule_summary({}) == "No ResNet of Table 6 is recorded at this profile yet."


def test_schedule_table_reads_every_recorded_seed(monkeypatch):
    """Table 3.4's gap is the mean over every recorded seed, as the intro's figure reads it -- not seed 0's."""
    patch_book(monkeypatch, "profile_name", lambda: "cpu")
    monkeypatch.setattr(B.claims, "values", lambda arch, p, metric="final_test_error", **kw:
                        {"resnet56": [0.18, 0.20]}.get(arch, []) if p == "cpu" else [])
    recs = {"resnet56": _res(0.15, 0.18)}
    row = B.cifar.schedule_table(recs).loc["resnet56"]
    assert row.tolist() == ["19.00", 2, "6.97", "+12.0"]
    assert "our ResNets end 12.0 points above" in B.cifar.schedule_summary(recs)


def grad_frame(rms):
    import pandas as pd
    return pd.DataFrame(dict(std=[1.0] * len(rms), grad_rms=rms))


def test_gradient_report_compares_init_with_trained_and_the_twin():
    stats = {"plain56 (init)": grad_frame([5.9e3, 10.0, 1.0]), "resnet56 (init)": grad_frame([4.0, 2.0, 1.0]),
             "plain56 (trained)": grad_frame([0.594, 0.8, 1.0]), "resnet56 (trained)": grad_frame([2.0, 1.5, 1.0])}
    text = B.degradation.gradient_report(stats)
    assert "changes 5.9e+03-fold through plain-56 and 4-fold through ResNet-56" in text
    assert "ResNet-56's gradient still grows on its way back, less" in text
    assert "factor of 1.48e+03" in text
    assert "plain-56 is 0.594 (at initialisation 5.9e+03): training removes the growth; the first layer's " \
           "gradient is within a factor of ten of the last layer's: neither an explosion" in text
    assert "through ResNet-56 the ratio goes from 4 at initialisation to 2 after training" in text
    stats["plain56 (trained)"] = grad_frame([30.0, 2.0, 1.0])
    assert "training reduces the growth" in B.degradation.gradient_report(stats)
    assert "still grows more than tenfold" in B.degradation.gradient_report(stats)
    stats["plain56 (trained)"] = grad_frame([9e3, 2.0, 1.0])
    assert "training does not reduce it" in B.degradation.gradient_report(stats)
    stats["plain56 (trained)"] = grad_frame([0.01, 2.0, 1.0])
    assert "falls more than tenfold on its way back: it vanishes" in B.degradation.gradient_report(stats)
    stats["resnet56 (init)"] = grad_frame([1.2e4, 2.0, 1.0])  # a twin that grew more: no "cut" is claimed
    text = B.degradation.gradient_report(stats)
    assert "the shortcuts do not cut the growth (it is 2.03 times plain-56's)" in text and "cut the growth by" not in text
    assert "ResNet-56's gradient grows MORE than plain-56's" in text


def test_gradient_report_says_whether_the_growth_grows_with_depth():
    stats = {"plain20 (init)": grad_frame([12.8, 1.0]), "plain56 (init)": grad_frame([5.9e3, 1.0])}
    assert "12.8 for plain-20 and 5.9e+03 for plain-56 -- the growth itself grows with depth" in B.degradation.gradient_report(stats)
    stats["plain20 (init)"] = grad_frame([9e3, 1.0])
    assert "the growth does NOT grow with depth" in B.degradation.gradient_report(stats)


def test_gradient_report_leaves_out_comparisons_it_cannot_make():
    assert B.degradation.gradient_report({"plain56 (init)": grad_frame([8.0, 1.0])}) == ""


def test_gradient_table_reads_each_nets_ends():
    f = grad_frame([8.0, 2.0, 0.5])
    f["std"] = [0.84, 1.0, 1.2]
    t = B.degradation.gradient_table({"plain56 (init)": f, "resnet56 (init)": grad_frame([1.0, 1.0])})
    assert t.loc["plain56 (init)"].tolist() == ["0.84 to 1.20", "5.00e-01", "8.00e+00", "16"]
    assert t.loc["resnet56 (init)", "forward std"] == "1.00" and t.loc["resnet56 (init)", "ratio first / last"] == "1"


def test_caption_names_the_runs_a_figure_lacks():
    from resnet_lab.train import RunConfig
    missing = [RunConfig("plain32", profile="cpu"), RunConfig("resnet32", shortcut="B", profile="cpu"),
               RunConfig("resnet20", variant="one_layer", profile="cpu"), RunConfig("resnet20", seed=2, profile="cpu")]
    line = B.caption(B.RunSet({}, missing=missing))
    assert line.endswith("; not recorded yet, so not shown: plain32, resnet32 option B, resnet20 (one-layer), "
                         "resnet20 seed 2"), line
    assert "not recorded" not in B.caption(B.RunSet({}))


def _resp(mean_std):
    import pandas as pd
    return pd.DataFrame({"std": [mean_std] * 3, "channel_std": [1.0] * 3, "gamma_abs": [1.0] * 3})


def test_response_report_describes_the_figures_nets_and_leaves_the_claims_to_the_table():
    resp = {"plain20": _resp(0.9), "resnet20": _resp(0.80)}
    text = B.layer_responses.response_report(resp)
    assert text.splitlines()[0] == "- Mean response std over the 3x3 layers: plain20 0.900, resnet20 0.800."
    assert "median gap under 0.5% in every net" in text  # channel std 1.0 = |gamma| 1.0
    assert "judged" not in text and "finding" not in text
    off = {"plain20": _resp(0.9).assign(channel_std=1.2)}
    assert "plain20 20%" in B.layer_responses.response_report(off)


def test_response_table_judges_figure_7s_claims_over_seeds(monkeypatch):
    """Fig. 7's claims by the rule on the training-mode measure: ResNet-20 against plain-20 over three seeds each
    is judged (Welch, Holm over the judged rows); a row with fewer seeds is described; values printed as stds."""
    from resnet_lab import stats as S
    means = {"resnet20": {0: 0.80, 1: 0.79, 2: 0.81}, "plain20": {0: 0.88, 1: 0.89, 2: 0.885},
             "resnet56": {0: 0.745}, "plain56": {0: 1.42, 1: 1.39}, "resnet110": {}}
    monkeypatch.setattr(B.layer_responses, "seed_means", lambda arch, profile=None: means[arch])
    t = B.layer_responses.response_table()
    assert list(t.index) == ["ResNet-20 \u2212 plain-20", "ResNet-56 \u2212 plain-56", "ResNet-56 \u2212 ResNet-20",
                             "ResNet-110 \u2212 ResNet-56"]
    row = t.loc["ResNet-20 \u2212 plain-20"]
    assert row["seeds"] == "3 / 3" and row["verdict"] == "difference" and row["difference"].startswith("-0.085 [")
    assert row["first net (mean)"].startswith("0.800 [")
    p = S.compare_family({"a": (list(means["resnet20"].values()), list(means["plain20"].values()))})["a"].p
    assert float(row["p (Holm)"]) == pytest.approx(p, rel=0.05)  # Holm over the judged rows: this one alone
    assert t.loc["ResNet-56 \u2212 plain-56", "verdict"] == "not judged: 1 seed vs 2"
    assert t.loc["ResNet-56 \u2212 plain-56", "difference"] == "-0.660"
    assert t.loc["ResNet-110 \u2212 ResNet-56", "verdict"] == "not recorded"
    # which way, as the test is two-sided; only a judged difference is more than a direction
    assert t["first net responds"].tolist() == ["less", "less (described)", "less (described)", "\u2013"]
    means["resnet56"] = {0: 0.9}
    assert B.layer_responses.response_table().loc["ResNet-56 \u2212 ResNet-20", "first net responds"] == \
        "more (described)"
    means["resnet20"] = {0: 0.80, 1: 0.95, 2: 0.70}  # too spread for 3 vs 3 to show a difference
    assert B.layer_responses.response_table().loc["ResNet-20 \u2212 plain-20", "first net responds"] == \
        "less (not shown)"


def test_a_recorded_seed_without_its_cached_check_is_named(monkeypatch):
    monkeypatch.setattr(B.layer_responses, "seed_means", lambda arch, profile=None: {0: 0.8})
    monkeypatch.setattr(B.verdicts, "seed_values", lambda arch, metric="final_test_error", profile=None, **kw:
                        {"resnet56": {0: 0.2, 1: 0.21}}.get(arch, {0: 0.2}))
    assert B.layer_responses.uncached_seeds(["resnet20", "resnet56"]) == {"resnet56": [1]}
    assert B.layer_responses.uncached_line(["resnet20", "resnet56"]) == (
        "Recorded, but not in the table until their BN-mode check is cached: ResNet-56 seed 1 "
        "(`python -m resnet_lab.book.caches --only bn_modes --arch resnet56`).")
    assert B.layer_responses.uncached_line(["resnet20"]) == ""


def test_train_mode_mean_reads_a_bn_mode_check():
    check = {"layers": [{"train_std": 0.5, "std": 9.0}, {"train_std": 1.0, "std": 1.0}]}
    assert B.layer_responses.train_mode_mean(check) == 0.75


def test_branch_table_reads_each_nets_ratios():
    import pandas as pd
    t = B.layer_responses.branch_table({"resnet20 (init)": pd.DataFrame({"ratio": [0.5, 0.9, 1.2]}),
                                        "resnet20 (trained)": pd.DataFrame({"ratio": [1.1, 1.3]})})
    assert t.loc["resnet20 (init)"].tolist() == ["0.90", "0.50 to 1.20", "2 of 3"]
    assert t.loc["resnet20 (trained)", "blocks with the branch smaller"] == "0 of 2"


def test_trained_vs_init_gives_each_net_one_colour_and_shows_untrained_only_nets():
    import pandas as pd
    from resnet_lab import plots
    f = pd.DataFrame({"ratio": [1.0, 0.8, 0.6]})
    fig = plots.trained_vs_init({"resnet20": f, "resnet110": f}, {"resnet20": f * 0.9})
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert set(lines) == {"resnet20 (init)", "resnet20 (trained)", "resnet110 (init)"}
    assert lines["resnet20 (init)"].get_color() == lines["resnet20 (trained)"].get_color()
    assert lines["resnet20 (init)"].get_color() != lines["resnet110 (init)"].get_color()
    assert lines["resnet20 (trained)"].get_linewidth() > lines["resnet20 (init)"].get_linewidth()


def test_warmup_lines_say_where_the_warmup_ended_and_what_followed():
    ended = study_record("resnet110+warmup", 0, 0.88)
    ended["warmup"] = True
    ended["history"][9]["warmup_ended"] = True  # at iteration 100, then at chance until 300
    still = study_record("resnet110+warmup", 1, 0.85)
    still["warmup"] = True
    lines = B.cifar.warmup_study_lines([ended, still, study_record("resnet56", 0, 0.88)])
    assert lines == ["- resnet110 with warm-up: the warm-up ended for seed 0 at iteration 100; seed 1 never (still at lr "
                     "0.01 at iteration 300) (the paper: after about 400 iterations); 1 of 2 seeds collapsed after "
                     "it had ended, at lr 0.1."]
    same = [dict(ended, seed=s, history=[dict(p) for p in ended["history"]]) for s in range(3)]
    assert B.cifar.warmup_study_lines(same) == [
        "- resnet110 with warm-up: the warm-up ended at iteration 100 in all 3 seeds (the paper: after about 400 "
        "iterations); 3 of 3 seeds collapsed after it had ended, at lr 0.1."]


def test_warmup_report_says_when_the_error_rose_again_after_the_warmup():
    hist = [dict(iter=100, error=0.72, warmup_ended=True), dict(iter=200, error=0.86), dict(iter=300, error=0.77)]
    hist += [dict(iter=i, error=0.5) for i in range(400, 6500, 100)]
    rec = SimpleNamespace(history={"train": hist}, config=SimpleNamespace(arch="resnet110", seed=0))
    text = B.cifar.warmup_report(rec)
    assert text.startswith("In seed 0 of ResNet-110, the training error over the last 100 iterations fell below 80% "
                           "at iteration 100")
    assert "went back up to 86.0% (iteration 200) and fell below 80% again by iteration 300." in text
    calm = SimpleNamespace(history={"train": hist[:1] + [dict(iter=i, error=0.6) for i in range(200, 6500, 100)]},
                           config=rec.config)
    assert "went back up" not in B.cifar.warmup_report(calm)


def test_fisher_exact_p():
    assert stats.fisher_exact_p(4, 1, 2, 3) == pytest.approx(0.5238, abs=1e-4)  # scipy.stats.fisher_exact
    assert stats.fisher_exact_p(5, 0, 0, 5) == pytest.approx(0.00794, abs=1e-5)
    assert stats.fisher_exact_p(2, 3, 2, 3) == pytest.approx(1.0)


def test_table_markdown_is_a_numbered_myst_table_with_paper_names():
    frame = pd.DataFrame({"test error": ["12.3%", "9.0%"], "note": [float("nan"), "a|b"]},
                         index=pd.Index(["resnet56", "plain20"], name="net"))
    md = B.table_markdown(frame, "Final  errors\nof two nets.", name="tab-x")
    lines = md.splitlines()
    assert lines[0] == ":::{table} Final errors of two nets." and lines[1] == ":name: tab-x" and lines[-1] == ":::"
    assert "| net | test error | note |" in lines
    assert "|---|---:|---|" in lines  # numbers right-aligned, text left
    assert "| ResNet-56 | 12.3% | \u2013 |" in lines  # paper's name; NaN as a dash
    assert "| plain-20 | 9.0% | a\\|b |" in lines  # a '|' in a cell cannot break the row


def test_table_markdown_blanks_repeated_outer_index_labels_and_refuses_no_caption():
    m = pd.DataFrame({"v": [1, 2, 3]}, index=pd.MultiIndex.from_tuples(
        [("resnet20", 1), ("resnet20", 2), ("plain20", 1)], names=["net", "seed"]))
    rows = [l for l in B.table_markdown(m, "seeds").splitlines() if l.startswith("| ")][1:]
    assert rows == ["| ResNet-20 | 1 | 1 |", "|  | 2 | 2 |", "| plain-20 | 1 | 3 |"]
    with pytest.raises(ValueError, match="caption"):
        B.table_markdown(m, " ")


def test_paper_name():
    from resnet_lab.models import paper_name
    assert paper_name("resnet110+warmup") == "ResNet-110+warmup"
    assert paper_name("plain56 (init)") == "plain-56 (init)"
    assert paper_name("resnet20 s1") == "ResNet-20 s1" and paper_name("A: zero-padding") == "A: zero-padding"
    assert paper_name("resnet56-A-cpu-s0-jpeg-fp32-79a77f890a") == "resnet56-A-cpu-s0-jpeg-fp32-79a77f890a"
    assert paper_name("pytorch_resnet_cifar10, resnet56.") == "pytorch_resnet_cifar10, ResNet-56."


def test_figures_name_nets_as_the_paper_does():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1], label="resnet56 (trained)"), a.plot([1, 0], label="plain20")
    a.legend(), a.set_title("resnet110+warmup")
    b.set_xticks([0, 1], ["plain56", "ResNet-20"]), fig.suptitle("plain vs resnet nets")
    B.paper_names(fig)
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["ResNet-56 (trained)", "plain-20"]
    assert a.get_title() == "ResNet-110+warmup" and fig._suptitle.get_text() == "plain vs resnet nets"
    assert [t.get_text() for t in b.get_xticklabels()] == ["plain-56", "ResNet-20"]
    plt.close(fig)


def test_span_and_differences_read_as_printed(monkeypatch):
    assert B.span(0.99996, 1.00004) == "1.00 in every layer"
    assert B.span(0.5, 0.6, ".3f", "block") == "between 0.500 and 0.600"
    patch_book(monkeypatch, "seed_spread", lambda metric: 0.01)
    patch_book(monkeypatch, "spread_seeds", lambda metric: 3)
    a = SimpleNamespace(metrics={"final_test_error": 0.179145})
    b = SimpleNamespace(metrics={"final_test_error": 0.175855})
    line = B.spread.compare("plain32", a, "plain20", b)
    assert "17.91%" in line and "17.59%" in line and "by 0.32 points" in line  # not 0.33 from the raw values


def test_numbers_and_block_names_for_readers():
    assert [B.num(x) for x in (0.40412, 25.3951, 11285.178, -3.2)] == ["0.404", "25.4", "11,285", "-3.200"]
    assert B.block_label("stage2.0") == "block 1 of stage 2" and B.block_label("stage3.8") == "block 9 of stage 3"
    assert B.block_label("conv1") == "conv1"


def test_table6_sets_every_recorded_profile_side_by_side(monkeypatch):
    rec = SimpleNamespace(failed=False, metrics=dict(final_test_error=0.2),
                          config=SimpleNamespace(arch="resnet20", variant="basic"))
    patch_book(monkeypatch, "seeds", lambda arch, **kw: B.RunSet({f"{arch} s0": rec}))
    patch_book(monkeypatch, "profile_name", lambda: "cpu")
    monkeypatch.setattr(B.claims, "values", lambda arch, p, metric="final_test_error", **kw:
                        ({"resnet20": [0.09, 0.085], "resnet56": [0.07]} if p == "paper" else {"resnet20": [0.2]})
                        .get(arch, []))
    t = B.cifar.table6({"resnet20": rec}, profiles=["paper", "cpu"])
    assert list(t.columns[:3]) == ["params", "this project (cpu): mean ± std over seeds", "this project (paper)"]
    assert t.loc["resnet20", "this project (paper)"] == "8.75 ± 0.35 (n=2)"
    assert t.loc["resnet56", "this project (paper)"] == "7.00 (n=1)"
    assert t.loc["resnet20", "this project (cpu): mean ± std over seeds"] == "20.00 (n=1)"
    assert "this project (paper)" not in B.cifar.table6({"resnet20": rec}, profiles=["cpu"]).columns


def test_bn64_against_bn128_is_judged_by_the_rule(monkeypatch):
    from resnet_lab.book import bn_batch
    rec = lambda tr, te: SimpleNamespace(metrics=dict(final_train_error=tr, final_test_error=te))  # noqa: E731
    recs = {"BN over 64": B.RunSet({0: rec(0.30, 0.31), 1: rec(0.31, 0.32), 2: rec(0.305, 0.315)}),
            "BN over 128": B.RunSet({0: rec(0.30, 0.30), 1: rec(0.30, 0.30), 2: rec(0.30, 0.302)})}
    t = bn_batch.table(recs)
    assert list(t.index) == ["BN over 64 \u2212 BN over 128, training error", "BN over 64 \u2212 BN over 128, test error"]
    row = t.iloc[1]
    assert row["seeds"] == "3 / 3" and row["difference"].startswith("+1.43 [")
    s = bn_batch.summary(t)
    assert s.startswith("BN over 64 images instead of 128 changes ResNet-20's final test error by +1.43 [")
    assert f"{row['verdict']} by the book's rule" in s
    one = {"BN over 64": B.RunSet({0: rec(0.3, 0.3)}), "BN over 128": B.RunSet({0: rec(0.3, 0.29)})}
    assert "not judged: 1 seed vs 1" in bn_batch.summary(bn_batch.table(one))
    assert "--ghost-bn 64" in bn_batch.commands()


def test_the_warmup_is_reported_for_every_recorded_seed(monkeypatch):
    hist = [dict(iter=100, error=0.72, warmup_ended=True)] + [dict(iter=i, error=0.5) for i in range(200, 6500, 100)]
    rec = lambda s: SimpleNamespace(history={"train": hist}, config=SimpleNamespace(arch="resnet110", seed=s))  # noqa
    patch_book(monkeypatch, "other_seeds", lambda archs: {"resnet110 s2": rec(2), "resnet110 s1": rec(1)})
    lines = B.cifar.warmup_seeds_report(rec(0)).splitlines()
    assert [ln[:26] for ln in lines] == ["- In seed 0 of ResNet-110,", "- In seed 1 of ResNet-110,",
                                         "- In seed 2 of ResNet-110,"]
