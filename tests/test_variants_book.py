"""The variants chapter's plumbing: counted costs and the sentences computed from run records."""
from types import SimpleNamespace

import pytest

from resnet_lab import experiments
from resnet_lab.book import RunSet, variants
from resnet_lab.train import RunConfig
from conftest import patch_book


def fake(test_error, train_error=0.1, seconds=640.0):
    return SimpleNamespace(metrics=dict(final_test_error=test_error, final_train_error=train_error,
                                        iterations=6400, train_seconds=seconds), failed=False,
                           config=RunConfig("resnet32"))


def test_parameter_cost_counts_the_projections():
    t = variants.parameter_cost()
    n = [int(v.replace(",", "")) for v in t["parameters"]]
    assert n[0] == 464_154  # option A: the paper's ResNet-32 (0.46M), no shortcut parameters
    assert n[0] < n[1] < n[2]
    # option B: two projections (16->32, 32->64), each a 1x1 conv + BN
    assert n[1] - n[0] == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_variant_runs_are_in_the_sweep():
    cfgs = experiments.book_runs("cpu")
    assert {(c.arch, c.shortcut) for c in cfgs} >= {("resnet32", "B"), ("resnet32", "C")}
    assert {c.arch for c in cfgs if c.variant == "preact"} == set(experiments.PREACT_ARCHS)
    assert {c.arch for c in cfgs if c.variant == "final_bn"} == set(experiments.HEAD_CONTROL_ARCHS) == {"resnet56"}


@pytest.mark.parametrize("spread, verdict", [(0.004, "larger than the depth-20 seed range"),
                                             (0.03, "within the depth-20 seed range"),
                                             (None, "the seed range is not measured yet")])
def test_options_report_judges_against_the_spread(monkeypatch, spread, verdict):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": spread)
    import resnet_lab.book
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": None)  # no store reads
    recs = RunSet({"A": fake(0.20, 0.12), "B": fake(0.19, 0.11), "C": fake(0.185, 0.10)})
    text = variants.options_report(recs)
    assert "B's test error 19.00% is below A's 20.00% by 1.00 points" in text
    assert "C's training error 10.00% is below B's 11.00% by 1.00 points" in text
    assert text.count(verdict) == 6  # B and C against A, C against B; training and test error


def test_options_report_names_what_is_missing():
    recs = RunSet({"A": fake(0.2)}, missing=[RunConfig("resnet32", shortcut="C")])
    text = variants.options_report(recs)
    assert "cannot be compared yet" in text and "option C" in text


def test_seconds_per_iteration_from_the_record():
    assert variants.seconds_per_iteration(fake(0.2, seconds=640.0)) == pytest.approx(0.1)
    t = variants.variants_table({"A": fake(0.2, seconds=640.0)})
    assert t.loc["A", "s / iteration"] == "0.10" and t.loc["A", "test error"] == "20.00%" and t.loc["A", "seeds"] == 1


def test_the_variants_table_gives_each_net_the_mean_of_its_seeds(monkeypatch):
    """As the lines under it do: an arm is all its recorded seeds, not seed 0."""
    monkeypatch.setattr(variants, "arm_values", lambda rec, metric: [0.16, 0.15, 0.14] if metric == "final_train_error"
                        else [0.18, 0.17, 0.19])
    t = variants.variants_table({"resnet110": fake(0.18, 0.16)})
    assert t.loc["resnet110", "train error"] == "15.00%" and t.loc["resnet110", "test error"] == "18.00%"
    assert t.loc["resnet110", "seeds"] == 3


def test_conclusion_tables_the_differences_against_the_spread_and_names_missing_runs(monkeypatch):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": 0.012)
    patch_book(monkeypatch, "seed_values", lambda *a, **kw: {})  # each fake record alone
    opts = RunSet({"A": fake(0.20), "B": fake(0.19), "C": fake(0.17)})
    pre = RunSet({"resnet56": fake(0.18, 0.16), "preact-resnet56": fake(0.179, 0.13)},
                 missing=[RunConfig("resnet110", variant="preact")])
    t = variants.conclusion_table(opts, pre)
    assert list(t.columns) == ["seeds", "training error (points)", "test error (points)"]
    assert t.loc["option C against A (ResNet-32)", "test error (points)"] == "-3.00 (larger)"
    assert t.loc["option C against B (ResNet-32)", "test error (points)"] == "-2.00 (larger)"
    assert t.loc["option B against A (ResNet-32)", "test error (points)"] == "-1.00 (within)"
    assert t.loc["pre-activation ResNet-56 against the original", "training error (points)"] == "-3.00 (larger)"
    assert t.loc["pre-activation ResNet-56 against the original", "test error (points)"] == "-0.10 (within)"
    assert set(t["seeds"]) == {"1 vs 1"}
    text = variants.conclusion(opts, pre)
    summary, missing = text.splitlines()
    assert summary == ("- The 8 differences between this chapter's trained nets are in {numref}`tab-ch7-conclusion`: "
                       "3 of them larger than the seed range (depth 20's, or a net's own where wider). All 4 "
                       "comparisons rest on fewer than 3 seeds "
                       "in a net: described, not judged."), summary
    assert "finding" not in text
    assert missing.startswith("- Not recorded yet") and "resnet110" in missing
    assert "No comparison" in variants.conclusion(RunSet(), RunSet())
    assert variants.conclusion_table(RunSet(), RunSet()).empty


def test_a_comparison_reads_every_recorded_seed_of_each_net(monkeypatch):
    """The original ResNet-56 with three seeds against a one-seed variant: its mean, named as such, and '1 seed vs
    3: described, not judged'; with 3 seeds each, Welch's test under the book's rule."""
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": 0.012)
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": 3)
    orig = SimpleNamespace(metrics=dict(final_test_error=0.18, final_train_error=0.16), failed=False,
                           config=RunConfig("resnet56"))
    pre = SimpleNamespace(metrics=dict(final_test_error=0.15, final_train_error=0.12), failed=False,
                          config=RunConfig("resnet56", variant="preact"))
    store = {("resnet56", "basic"): {0: 0.18, 1: 0.17, 2: 0.19}, ("resnet56", "preact"): {0: 0.15}}
    patch_book(monkeypatch, "seed_values", lambda arch, metric="final_test_error", profile=None, shortcut="A",
               variant="basic": dict(store.get((arch, variant), {})) if metric == "final_test_error" else {})
    text = variants.preact_report(RunSet({"resnet56": orig, "preact-resnet56": pre}))
    assert ("pre-activation resnet56's test error 15.00% is below the original's 18.00% (mean of 3 seeds) by 3.00 "
            "points -- larger than the original's own seed range (2.00 points, 3 seeds), wider than the depth-20 one; 1 "
            "seed vs 3: described, not judged.") in text, text
    # the training error is not in the (fake) store: each record alone, one seed per net
    assert "training error 12.00% is below the original's 16.00% by 4.00 points" in text
    assert variants.arm_values(orig, "final_test_error") == [0.18, 0.17, 0.19]
    store[("resnet56", "preact")] = {0: 0.15, 1: 0.151, 2: 0.149}
    assert "difference (p = " in variants.preact_report(RunSet({"resnet56": orig, "preact-resnet56": pre}))
    store[("resnet56", "preact")] = {0: 0.15}
    store[("resnet56", "basic")] = {0: 0.18, 1: 0.15, 2: 0.21}  # the original's own seeds span 6 points: within
    text = variants.preact_report(RunSet({"resnet56": orig, "preact-resnet56": pre}))
    assert ("by 3.00 points -- within the original's own seed range (6.00 points, 3 seeds), wider than the depth-20 one; 1 "
            "seed vs 3: described, not judged.") in text, text
    t = variants.conclusion_table(RunSet(), RunSet({"resnet56": orig, "preact-resnet56": pre}))
    assert t.loc["pre-activation ResNet-56 against the original", "test error (points)"] == "-3.00 (within)"
    assert t.attrs["larger"] == 1  # the training error: each record alone, 4 points against depth 20's 1.2
    store[("resnet56", "basic")] = {0: 0.175}  # the store's seed 0 is another run than this record: the record alone
    assert variants.arm_values(orig, "final_test_error") == [0.18]


def test_step_times_are_read_against_their_baseline_and_the_timing_noise():
    r = dict(device="cpu (x86_64, 2 threads)", iterations=5,
             seconds={"resnet32 A": 0.50, "resnet32 C": 0.60, "resnet32 B": 0.51, "resnet56": 1.0,
                      "preact-resnet56": 1.02},
             rounds={"resnet32 A": [0.48, 0.50, 0.52], "resnet32 B": [0.5, 0.51, 0.52], "resnet32 C": [0.6] * 3,
                     "resnet56": [0.98, 1.0, 1.03], "preact-resnet56": [1.0, 1.02, 1.03]})
    t = variants.step_table({r["device"]: r})
    assert list(t.index) == ["resnet32 A", "resnet32 B", "resnet32 C", "resnet56", "preact-resnet56"]
    col = "ratio, cpu (x86_64, 2 threads)"
    assert t.loc["resnet32 C", col] == "1.20" and t.loc["resnet32 A", col] == "1 (baseline)"
    text = variants.step_report({r["device"]: r})
    # round by round C / A: 1.25, 1.20, 1.15 -- slower every time; B / A: 1.04, 1.02, 1.00 -- not every time
    assert "resnet32 C 1.20 times resnet32 A's time per step (round by round 1.15 to 1.25: slower in every round)" \
        in text
    assert "resnet32 B 1.02 times resnet32 A's time per step (round by round 1.00 to 1.04: not the same way in " \
           "every round, no difference measured)" in text
    assert "medians of 3 rounds of 5 steps" in text
    assert "preact-resnet110" not in text  # not measured: not compared
    assert "bench --variants" in variants.step_report({})


def curve(*points, eval_subset=1000):
    """A fake record whose history has test errors ``(iteration, error)`` at its evaluations (the last on the full
    test set)."""
    return SimpleNamespace(history={"eval": [{"iter": i, "test_error": e} for i, e in points]}, failed=False,
                           profile_settings={"milestones": [3200, 4800], "eval_subset": eval_subset},
                           metrics=dict(final_test_error=points[-1][1]))


def test_preact_gap_reads_the_curves_at_the_same_iterations():
    orig = curve((400, 0.80), (800, 0.50), (3200, 0.25), (6400, 0.18))
    orig.history["eval"][-1]["final"] = True
    orig.config = RunConfig("resnet56")
    pre = curve((400, 0.40), (800, 0.45), (3200, 0.24), (4000, 0.2), (6400, 0.16))  # 4000: not in both, not read
    text = variants.preact_gap_report(RunSet({"resnet56": orig, "preact-resnet56": pre}))
    assert text.startswith("- resnet56, pre-activation minus original test error: -40.0 points at the first "
                           "evaluation (iteration 400: original 80.0%, pre-activation 40.0%), -1.0 at iteration "
                           "3,200 (the last evaluation before")  # the widest is the first: not said twice
    assert "-2.0 at the end (iteration 6,400, full test set)" in text
    assert "nearly closed by iteration 3,200 (-1.0), then opened again to -2.0" in text  # -1.0 then -2.0
    assert "1,000 test images" in text
    closing = curve((400, 0.40), (800, 0.45), (3200, 0.235), (6400, 0.168))  # -1.5 at 3,200, -1.2 at the end
    assert "The gap was widest early and narrowed as training went on (these two runs)." in \
        variants.preact_gap_report(RunSet({"resnet56": orig, "preact-resnet56": closing}))
    assert "How one seed starts is not judged here" in text and "collapsed" not in text  # no study given
    # the study's record of the original's seed is read when given
    start = [study("resnet56", 0, 0.87), study("resnet56+preact", 0, 0.5)]
    text = variants.preact_gap_report(RunSet({"resnet56": orig, "preact-resnet56": pre}), start)
    assert "seed 0 of the original resnet56 is one of the seeds that collapsed in the lr-0.1 study" in text
    start[0] = study("resnet56", 0, 0.6)
    assert "seed 0 of the original resnet56 did not collapse" in variants.preact_gap_report(
        RunSet({"resnet56": orig, "preact-resnet56": pre}), start)
    # a gap that stays as wide as it started is not said to narrow; a widest gap after the first is named
    steady = curve((400, 0.38), (800, 0.44), (3200, 0.23), (6400, 0.16))
    orig2 = curve((400, 0.40), (800, 0.47), (3200, 0.25), (6400, 0.18))
    orig2.config = RunConfig("resnet56")
    text = variants.preact_gap_report(RunSet({"resnet56": orig2, "preact-resnet56": steady}))
    assert "did not narrow" in text and "narrowed" not in text.replace("did not narrow", "")
    assert "widest -3.0 (iteration 800)" in text and "full test set" not in text  # last evaluation not marked final
    # widest early, nearly closed before the first lr drop, open again at the end: not 'narrowed'
    back = curve((400, 0.40), (800, 0.45), (3200, 0.241), (6400, 0.155))
    text = variants.preact_gap_report(RunSet({"resnet56": orig, "preact-resnet56": back}))
    assert ("The gap was widest early, nearly closed by iteration 3,200 (-0.9), then opened again to -2.5 after the "
            "learning rate dropped (these two runs).") in text, text
    # a depth with one of the two nets only: nothing to say
    assert variants.preact_gap_report(RunSet({"resnet56": orig})) == ""


def study(net, seed, error, iterations=300):
    """A fake lr-0.1 study record whose training error is ``error`` at every logged point."""
    return dict(net=net, seed=seed, iterations=iterations,
                history=[dict(iter=i, loss=2.0, error=error) for i in range(10, iterations + 1, 10)])


def test_start_report_counts_collapses_and_says_when_the_seeds_fall_apart(monkeypatch):
    import resnet_lab.book as book
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": None)
    orig = [study("resnet56", s, e) for s, e in enumerate((0.85, 0.60, 0.90, 0.55, 0.65))]
    pre = [study("resnet56+preact", s, e) for s, e in enumerate((0.40, 0.42, 0.38, 0.45, 0.41))]
    text = variants.start_report(orig + pre)
    assert "- resnet56: 2 of 5 seeds collapsed" in text and "the seeds' errors there ranged from 55.0% to 90.0%." in text
    assert "- pre-activation resnet56: 0 of 5 seeds collapsed" in text
    assert "2 of 5 against 0 of 5 (Fisher's exact two-sided p = 0.44: 10 seeds cannot tell these rates apart)" in text
    assert "every pre-activation seed ended its 300 iterations below every original seed" in text
    assert "probability 2 in 252 -- below 0.05: a difference these seeds show." in text
    # overlapping ranges are said to overlap, and nothing is claimed
    pre[0] = study("resnet56+preact", 0, 0.58)
    text = variants.start_report(orig + pre)
    assert "ranges over the seeds overlap: no difference shown" in text and "every" not in text
    # a net not in the study yet is named with the command that runs it
    text = variants.start_report(orig)
    assert "Not recorded yet: pre-activation resnet56" in text and "--nets resnet56+preact" in text
    assert "Fisher" not in text


def test_conclusion_says_how_the_two_nets_start_and_judges_the_split(monkeypatch):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": 0.012)
    orig = [study("resnet56", s, e) for s, e in enumerate((0.85, 0.60, 0.90, 0.70, 0.80))]
    pre = [study("resnet56+preact", s, e) for s, e in enumerate((0.40, 0.42, 0.38, 0.45))]
    text = variants.conclusion(RunSet(), RunSet(), orig + pre)
    assert ("- The start at lr 0.1 (chapter 3's study, 5 and 4 seeds of the two ResNet-56s): every pre-activation "
            "seed ended its first 300 iterations with a lower training error than every original seed; so clean a "
            "split, either way, has probability 2 in 126 under no difference: below 0.05, a difference these seeds show.") in text
    # three seeds each split cleanly by chance with probability 2 in 20 = 0.1: not a finding
    text = variants.conclusion(RunSet(), RunSet(), orig[:3] + pre[:3])
    assert "probability 2 in 20 under no difference: no difference shown." in text
    pre[0] = study("resnet56+preact", 0, 0.65)
    assert "training errors over the seeds overlap: no difference shown." in variants.conclusion(RunSet(), RunSet(), orig + pre)
    assert "start at lr 0.1" not in variants.conclusion(RunSet(), RunSet(), orig)  # one net only: nothing said
    assert variants.start_split_p(5, 5) == pytest.approx(2 / 252)


CONTROL_CASES = [  # control's errors over five seeds -> what the verdict must say
    ((0.41, 0.44, 0.39, 0.43, 0.40), "alone moves the original net's start to the pre-activation net's side"),
    ((0.50, 0.52, 0.48, 0.53, 0.51), "moves the start part of the way"),
    ((0.86, 0.62, 0.88, 0.58, 0.70), "alone does not give the pre-activation net's start"),
    ((0.95, 0.96, 0.97, 0.94, 0.93), "makes the original net start worse"),
    ((0.30, 0.50, 0.56, 0.31, 0.32), "cannot place the control: the control's range (30.0% to 56.0%) overlaps the "
                                      "original's (55.0% to 90.0%); against the pre-activation net, the control's "
                                      "range (30.0% to 56.0%) overlaps the pre-activation net's (38.0% to 45.0%)."),
    ((0.20, 0.22, 0.21, 0.23, 0.25), "the control starts better than both"),
]


@pytest.mark.parametrize("errors,says", CONTROL_CASES)
def test_the_control_is_placed_between_the_two_resnet56s_only_by_clean_splits(errors, says):
    orig = [study("resnet56", s, e) for s, e in enumerate((0.85, 0.60, 0.90, 0.55, 0.65))]
    pre = [study("resnet56+preact", s, e) for s, e in enumerate((0.40, 0.42, 0.38, 0.45, 0.41))]
    ctrl = [study("resnet56+final_bn", s, e) for s, e in enumerate(errors)]
    verdict = variants.control_verdict(orig + pre + ctrl)
    assert says in verdict
    assert sum(says in v for _, v in [(e, variants.control_verdict(orig + pre + [study("resnet56+final_bn", s, x)
               for s, x in enumerate(e)])) for e, _ in CONTROL_CASES]) == 1  # each verdict fits one case only
    report = variants.control_report(orig + pre + ctrl)
    assert report.startswith("- The control (resnet56 with a final BN-ReLU): ") and says in report
    assert says in variants.conclusion(RunSet(), RunSet(), orig + pre + ctrl)


def test_the_control_needs_all_three_nets_and_three_seeds_cannot_place_it():
    orig = [study("resnet56", s, e) for s, e in enumerate((0.85, 0.60, 0.90))]
    pre = [study("resnet56+preact", s, e) for s, e in enumerate((0.40, 0.42, 0.38))]
    ctrl = [study("resnet56+final_bn", s, e) for s, e in enumerate((0.41, 0.44, 0.39))]
    assert variants.control_verdict(orig + pre) is None
    assert "--nets resnet56+final_bn" in variants.control_report(orig + pre)
    assert "The control" not in variants.conclusion(RunSet(), RunSet(), orig + pre)
    # 3 and 3 seeds split cleanly by chance with probability 2 in 20: nothing is placed, and the gap between the
    # two ResNet-56s itself is no finding on 3 seeds, so the control has nothing to explain
    assert "is not shown to differ from the original's, so there is no faster start for the control to explain" \
        in variants.control_verdict(orig + pre + ctrl)
    pre5 = [study("resnet56+preact", s, e) for s, e in enumerate((0.40, 0.42, 0.38, 0.45, 0.41))]
    orig5 = orig + [study("resnet56", s, e) for s, e in ((3, 0.55), (4, 0.65))]
    mixed = variants.control_verdict(orig5 + pre5 + [study("resnet56+final_bn", s, e) for s, e in
                                                   enumerate((0.39, 0.41, 0.40, 0.56, 0.70))])
    assert "cannot place the control: the control's range (39.0% to 70.0%) overlaps the original's" in mixed
    # seeds only one net has are left out: the verdict reads the seeds all three share
    extra = [study("resnet56+final_bn", s, 0.95) for s in (5, 6)]
    assert variants.control_verdict(orig5 + pre5 + ctrl + [study("resnet56+final_bn", s, e) for s, e in
                                    ((3, 0.43), (4, 0.40))] + extra).startswith("on the 5 seeds all three nets share")
    # the original-vs-pre-activation report is unchanged by the control's records
    assert variants.start_split(orig + pre + ctrl) == variants.start_split(orig + pre)


def test_logit_line_says_how_much_larger_the_originals_logits_are():
    line = variants.logit_line(dict(images=64, seed=3, std={"resnet56": 1.36, "resnet56+preact": 0.24,
                                                            "resnet56+final_bn": 0.25}))
    assert line.startswith("At initialisation (seed 3, BN in training mode, 64 training images)")
    assert "is 1.36 for the original resnet56, 0.24 for the pre-activation net, 0.25 for the control:" in line
    assert line.endswith("the original's are 5.7 times the pre-activation net's.")


def test_a_final_bn_relu_shrinks_the_logits_at_initialisation(monkeypatch, tiny_data):
    import resnet_lab.book as book
    patch_book(monkeypatch, "data", lambda: tiny_data)
    scale = variants.logit_scale(images=64)["std"]
    assert set(scale) == set(variants.START_NETS)
    assert scale == variants.logit_scale(images=64)["std"]  # the same seed and images: the same numbers
    # the original's classifier reads the sum of 27 blocks' outputs; the other two read it through BN-ReLU
    assert scale["resnet56"] > 3 * max(scale["resnet56+preact"], scale["resnet56+final_bn"])


def _rec(test, train, arch="resnet56", variant="basic"):
    return SimpleNamespace(metrics=dict(final_test_error=test, final_train_error=train, iterations=6400,
                                        train_seconds=640.0), failed=False, config=RunConfig(arch, variant=variant))


def test_the_trained_control_is_judged_against_both_nets_or_its_command_is_given(monkeypatch):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": 0.0122)
    patch_book(monkeypatch, "seed_values", lambda *a, **kw: {})  # each fake record alone, not the store's seeds
    orig = [study("resnet56", s, e) for s, e in enumerate((0.85, 0.60, 0.90, 0.55, 0.65))]
    pre = [study("resnet56+preact", s, e) for s, e in enumerate((0.40, 0.42, 0.38, 0.45, 0.41))]
    ctrl = [study("resnet56+final_bn", s, e) for s, e in enumerate((0.41, 0.44, 0.39, 0.43, 0.40))]
    preact = RunSet({"resnet56": _rec(0.1843, 0.1600), "preact-resnet56": _rec(0.1597, 0.1216, variant="preact")})
    missing = RunSet({}, missing=[RunConfig("resnet56", variant="final_bn", profile="cpu")])
    text = variants.control_report(orig + pre + ctrl, missing, preact)
    assert "--arch resnet56 --shortcut A --variant final_bn --profile" in text and "not recorded at this profile yet" in text
    assert "Not recorded yet, so not compared: resnet56 option A, original blocks + final BN-ReLU (the control)" \
        in variants.conclusion(RunSet(), preact, orig + pre + ctrl, missing)
    trained = RunSet({"resnet56+final_bn": _rec(0.1650, 0.1250, variant="final_bn")})
    text = variants.control_report(orig + pre + ctrl, trained, preact)
    assert "the control's test error 16.50% is below the original resnet56's 18.43% by 1.93 points" in text
    assert "the control's test error 16.50% is above the pre-activation net's 15.97% by 0.53 points" in text
    assert text.count("- Trained for the whole profile: ") == 4
    concl = variants.conclusion(RunSet(), preact, orig + pre + ctrl, trained)
    closing = variants.conclusion_table(RunSet(), preact, trained)
    assert closing.loc["the control (ResNet-56 + final BN-ReLU) against the original", "test error (points)"] == \
        "-1.93 (larger)"
    assert closing.loc["pre-activation ResNet-56 against the control", "test error (points)"] == "-0.53 (within)"
    assert "tab-ch7-conclusion" in concl
    # without the trained control's RunSet the report is the start only
    assert "Trained" not in variants.control_report(orig + pre + ctrl)


def test_a_difference_equal_to_the_seed_range_is_within_it_in_words_and_in_the_table(monkeypatch):
    """0.19 - 0.185 is 0.005 as printed: equal to a 0.005 range, so 'within' in the sentence and the table alike."""
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": 0.005)
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": None)
    patch_book(monkeypatch, "seed_values", lambda *a, **kw: {})
    recs = RunSet({"A": fake(0.20, 0.12), "B": fake(0.19, 0.11), "C": fake(0.185, 0.10)})
    assert "C's test error 18.50% is below B's 19.00% by 0.50 points -- within the depth-20 seed range" in \
        variants.options_report(recs)
    t = variants.conclusion_table(recs, RunSet())
    assert t.loc["option C against B (ResNet-32)", "test error (points)"] == "-0.50 (within)"


def test_without_a_depth20_range_a_nets_own_range_is_not_called_wider(monkeypatch):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": None)
    monkeypatch.setattr(variants, "arm_values", lambda rec, metric: [rec.metrics[metric]] * (
        1 if rec.config.variant == "preact" else 2) if rec.config.variant == "preact" else [0.18, 0.16])
    orig = SimpleNamespace(metrics=dict(final_test_error=0.18, final_train_error=0.16), failed=False,
                           config=RunConfig("resnet56"))
    pre = SimpleNamespace(metrics=dict(final_test_error=0.15, final_train_error=0.12), failed=False,
                          config=RunConfig("resnet56", variant="preact"))
    text = variants.preact_report(RunSet({"resnet56": orig, "preact-resnet56": pre}))
    assert "wider than the depth-20 one" not in text and "the seed range is not measured yet" in text
