"""The variants chapter's plumbing: counted costs and the sentences computed from run records."""
from types import SimpleNamespace

import pytest

from resnet_lab import experiments
from resnet_lab.book import RunSet, variants
from resnet_lab.train import RunConfig


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


@pytest.mark.parametrize("spread, verdict", [(0.005, "a finding"), (0.03, "no finding"), (None, "not judged")])
def test_options_report_judges_against_the_spread(monkeypatch, spread, verdict):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": spread)
    import resnet_lab.book
    monkeypatch.setattr(resnet_lab.book, "spread_seeds", lambda metric="final_test_error": None)  # no store reads
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
    assert t.loc["A", "s / iteration"] == "0.10" and t.loc["A", "test error"] == "20.0%"


def test_conclusion_sorts_comparisons_by_the_spread_and_names_missing_runs(monkeypatch):
    monkeypatch.setattr(variants, "seed_spread", lambda metric="final_test_error": 0.012)
    opts = RunSet({"A": fake(0.20), "B": fake(0.19), "C": fake(0.17)})
    pre = RunSet({"resnet56": fake(0.18, 0.16), "preact-resnet56": fake(0.179, 0.13)},
                 missing=[RunConfig("resnet110", variant="preact")])
    text = variants.conclusion(opts, pre)
    found, inside, missing = text.splitlines()
    assert found.startswith("- Larger than the seed spread") and "option C against A (ResNet-32, test) -3.0" in found
    assert "option C against B (ResNet-32, test) -2.0" in found and "(training) -3.0" in found
    assert "option B against A (ResNet-32, test) -1.0" in inside and "(test) -0.1" in inside
    assert missing.startswith("- Not recorded yet") and "resnet110" in missing
    assert "No comparison" in variants.conclusion(RunSet(), RunSet())


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
