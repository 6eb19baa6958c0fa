"""The intro's claims table: verdicts by the book's rule, numbers from the records, sentences computed."""
import math

import pytest

from resnet_lab import stats
from resnet_lab.book import claims as C

from conftest import patch_book


def cmp(a, b):
    return stats.compare_family({"x": (a, b)})["x"]


HIGH, LOW = [0.30, 0.31, 0.29], [0.20, 0.21, 0.19]


@pytest.mark.parametrize("a, b, expect, verdict", [
    (HIGH, LOW, +1, C.REPRODUCED), (HIGH, LOW, -1, C.CONTRADICTED),
    ([0.2, 0.3, 0.25], [0.21, 0.29, 0.26], +1, C.NOT_SHOWN),
    (HIGH, LOW, 0, C.CONTRADICTED), ([0.2, 0.3, 0.25], [0.21, 0.29, 0.26], 0, C.REPRODUCED),
    ([0.3], LOW, +1, "not judged: 1 seed vs 3")])
def test_a_verdict_follows_the_rule_and_the_papers_direction(a, b, expect, verdict):
    t = C.Test("t", C.Arm("a", a), C.Arm("b", b), expect)
    assert C._verdict(t, cmp(a, b)) == verdict


def test_a_net_not_recorded_is_not_tested():
    t = C.Test("t", C.Arm("resnet1202", []), C.Arm("resnet110", LOW), +1)
    assert C._verdict(t, None) == "not tested (resnet1202 not recorded)"


@pytest.fixture
def fake(monkeypatch):
    """A store of final errors (seed lists) and cached response stds, read through claims.values/cached_values."""
    errs = {("plain20", "final_train_error"): [0.175, 0.17, 0.18], ("resnet20", "final_train_error"): [0.14, 0.145, 0.138],
            ("plain56", "final_train_error"): [0.51, 0.45, 0.48], ("resnet56", "final_train_error"): [0.16],
            ("plain20", "final_test_error"): [0.19, 0.195, 0.19], ("plain56", "final_test_error"): [0.49],
            ("resnet20", "final_test_error"): [0.17, 0.168, 0.171], ("resnet110", "final_test_error"): [0.172]}

    def values(arch, profile, metric="final_test_error", variant="basic", shortcut=None):
        return [] if variant != "basic" or shortcut else list(errs.get((arch, metric), []))
    monkeypatch.setattr(C, "values", values)
    monkeypatch.setattr(C, "cached_values", lambda arch, profile, analysis, reduce: {
        "resnet20": [0.8, 0.79, 0.81], "plain20": [0.88, 0.89, 0.885]}.get(arch, []) if analysis == "bn_modes" else [])
    return errs


def test_the_table_judges_each_claim_over_one_family(fake):
    t = C.claims_table(["cpu"])
    assert list(t.index) == [c.claim for c in C.CLAIMS]
    v = t["verdict (`cpu`)"]
    assert v["Deeper plain nets are worse: the degradation problem"] == "not judged: 1 seed vs 3"
    assert v["It is not overfitting: the deeper plain net fits its training data worse"] == C.REPRODUCED
    fixes = v["Residual nets fix degradation at every depth"]
    assert fixes == ("plain-20: reproduced; plain-32: not tested (plain32 and resnet32 not recorded); plain-44: not "
                     "tested (plain44 and resnet44 not recorded); plain-56: not judged: 3 seeds vs 1"), fixes
    assert v["Residual functions respond less than plain layers"] == ("ResNet-20: reproduced; ResNet-56: not tested "
                                                                      "(resnet56 and plain56 not recorded)")
    assert v["1202 layers overfit"] == C.NOT_TESTED and v["A bottleneck block costs about what a basic block does"] == C.COUNTED
    ours = t["ours (`cpu`)"]["It is not overfitting: the deeper plain net fits its training data worse"]
    assert ours.startswith("plain-56 48.00% vs plain-20 17.50% (n = 3 / 3): +30.50 points [")
    assert t["where"].str.match(r"\{doc\}`ch\. [1-7] <0[1-7]_\w+>`$").all()  # short: 'ch. 3', a link


def test_holm_runs_over_the_whole_table(fake, monkeypatch):
    seen = []
    real = stats.compare_family
    monkeypatch.setattr(C.stats, "compare_family", lambda pairs, **kw: seen.append(set(pairs)) or real(pairs, **kw))
    C.judge_claims("cpu")
    assert len(seen) == 1 and len(seen[0]) >= 5  # one family: every test of the table at once


def test_the_summary_names_the_claims_it_reproduces(fake):
    s = C.summary(["cpu"])
    assert s.startswith("At the `cpu` profile, where the book's rule can judge them (3 seeds per net):\n\n"
                        "- **Reproduced**: 1 of the paper's 11 claims wholly (it is not overfitting")
    assert "\n- **Contradicted**: none.\n" in s
    # a claim reproduced by some of its tests says which; one reproduced by all of them (overfitting) says nothing more
    assert ("fits its training data worse) and 2 in part (residual nets fix degradation at every depth, in 1 of its 4 "
            "tests (plain-20 vs ResNet-20); residual functions respond less than plain layers, in 1 of its 2 tests "
            "(ResNet-20 vs plain-20))") in s
    assert C.summary([]) == "No run is recorded yet, so no claim is tested."


def test_the_summary_names_the_tests_of_a_claim_that_show_no_difference(fake, monkeypatch):
    stds = {"resnet20": [0.8, 0.79, 0.81], "plain20": [0.88, 0.89, 0.885],
            "resnet56": [0.72, 0.73, 0.74], "plain56": [0.7, 1.5, 1.9]}  # 3 vs 3, too spread to tell apart
    monkeypatch.setattr(C, "cached_values", lambda arch, profile, analysis, reduce:
                        stds.get(arch, []) if analysis == "bn_modes" else [])
    s = C.summary(["cpu"])
    assert ("residual functions respond less than plain layers, in 1 of its 2 tests (ResNet-20 vs plain-20); deeper "
            "ResNets' layers respond less, in 1 of its 2 tests (ResNet-56 vs ResNet-20))") in s
    assert s.count("residual functions respond less") == 2
    assert s.endswith("A claim whose tests end differently is counted under each of their verdicts.")
    v = C.claims_table(["cpu"])["verdict (`cpu`)"]["Deeper ResNets' layers respond less"]
    assert v == "ResNet-56: reproduced; ResNet-110: not tested (resnet110 not recorded)", v  # Fig. 7's depth claim
    assert ("- **No difference shown** at this budget: 1 claim in part (residual functions respond less than plain "
            "layers, in 1 of its 2 tests (ResNet-56 vs plain-56)).") in s, s


def test_the_reading_is_computed_from_the_records(fake):
    fake[("resnet20", "final_train_error")] = [0.14, 0.145, 0.138]
    fake[("resnet56", "final_test_error")] = [0.18]
    text = C.reading("cpu")
    assert text.startswith("At the `cpu` profile the plain nets' training error (mean over seeds) goes from 17.5% at "
                           "20 layers to 48.0% at 56; the ResNets' stays between 14.1% and 16.0% at every depth from "
                           "20 to 56.")
    assert "more than the paper's own differences between these depths (2.32 points)" in text
    assert "this budget cannot show the paper's other half" in text


def test_the_headline_figure_draws_ours_and_the_papers_table6(fake):
    import matplotlib
    matplotlib.use("Agg")
    fig = C.headline_figure("cpu")
    assert fig.axes[0].get_legend() is None  # one legend, in the test panel
    labels = fig.axes[1].get_legend().get_texts()
    assert [t.get_text() for t in labels] == ["plain (ours, cpu profile)", "ResNet (ours, cpu profile)",
                                              "ResNet (paper, Table 6, quoted)"]
    paper = [ln for ln in fig.axes[1].lines if ln.get_label().startswith("ResNet (paper")][0]
    assert list(paper.get_ydata()) == [8.75, 7.51, 7.17, 6.97, 6.43]


def test_every_verdict_on_the_records_is_in_the_vocabulary():
    profs = C.profiles()
    if not profs:
        pytest.skip("no run recorded")
    t = C.claims_table(profs)
    for p in profs:
        for cell in t[f"verdict (`{p}`)"]:
            parts = [x.split(": ", 1)[-1] if not x.startswith(stats.NOT_JUDGED) else x for x in cell.split("; ")]
            assert all(any(x.startswith(v) or x.split(": ", 1)[-1].startswith(v) for v in C.VERDICTS)
                       for x in parts), cell
    assert not math.isnan(len(t))


def test_only_sweep_profiles_get_columns(monkeypatch):
    from types import SimpleNamespace
    monkeypatch.delenv("RESNET_LAB_PROFILE", raising=False)
    recs = [SimpleNamespace(config=SimpleNamespace(profile=p)) for p in ("quick", "cpu", "cpu3x", "smoke", "paper")]
    monkeypatch.setattr(C, "RunStore", lambda: SimpleNamespace(records=lambda: recs))
    assert C.profiles() == ["paper", "cpu"]
    monkeypatch.setattr(C, "RunStore", lambda: SimpleNamespace(records=lambda: recs[3:4]))
    assert C.profiles() == ["smoke"]


def test_a_damaged_cache_is_named_and_left_out_not_raised(tmp_path, monkeypatch):
    """A seed whose cached analysis is truncated, empty or lacks the field being read counts as uncached."""
    from types import SimpleNamespace

    from resnet_lab.train import RunConfig
    recs = []
    for seed, text in enumerate(['{"mean": 0.8}', '{"mean": 0.', '{}', '{"other": 1}']):
        path = tmp_path / f"s{seed}"
        (path / "analysis").mkdir(parents=True)
        (path / "analysis" / "bn_modes.json").write_text(text)
        recs.append(SimpleNamespace(path=path, failed=False, config=RunConfig("resnet56", profile="cpu", seed=seed)))
    patch_book(monkeypatch, "RunStore", lambda: SimpleNamespace(find=lambda **kw: recs))
    patch_book(monkeypatch, "_data_source", lambda: "jpeg")
    with pytest.warns(UserWarning) as caught:
        got = C.cached_by_seed("resnet56", "cpu", "bn_modes", lambda d: d["mean"])
    assert got == {0: 0.8}
    named = " ".join(str(w.message) for w in caught)
    assert all(f"s{k}/analysis/bn_modes.json" in named for k in (1, 2, 3)) and "s0/" not in named


def test_a_claims_verdict_names_each_verdict_once():
    t = lambda a: C.Test(a, C.Arm(a, [0.1]), C.Arm("b", [0.2]), +1)  # noqa: E731
    tests = [(t("plain20"), None, C.REPRODUCED), (t("plain32"), None, "not judged: 1 seed vs 1"),
             (t("plain44"), None, "not judged: 1 seed vs 1"), (t("plain56"), None, "not judged: 2 seeds vs 2")]
    assert C.claim_verdict(tests) == ("plain-20: reproduced; plain-32, plain-44: not judged: 1 seed vs 1; plain-56: "
                                      "not judged: 2 seeds vs 2")
    assert C.claim_verdict(tests[1:3]) == "not judged: 1 seed vs 1" and C.claim_verdict([]) == C.NOT_TESTED


def test_a_contradiction_the_budget_cannot_show_says_so(fake):
    """Deeper ResNets are better: where every ResNet ends further above Table 6 than Table 6's own depths differ,
    the profile cannot order them, and a contradiction is read as one at this budget (table and summary)."""
    fake[("resnet20", "final_test_error")] = [0.170, 0.168, 0.171]
    fake[("resnet56", "final_test_error")] = [0.180, 0.181, 0.179]  # worse than ResNet-20: contradicted
    fake[("resnet110", "final_test_error")] = [0.175, 0.176, 0.174]
    t = C.claims_table(["cpu"])
    row = t.loc["Deeper ResNets are better"]
    assert row["verdict (`cpu`)"] == "contradicted at this budget"  # both tests: ResNet-56 and ResNet-110 worse
    assert row["ours (`cpu`)"].endswith("at this profile every ResNet ends 8.2 to 11.1 points above Table 6, more "
                                        "than the paper's own differences between depths (2.32 points), so it is too "
                                        "short to order ResNets by depth (chapter 3)")
    s = C.summary(["cpu"])
    assert "- **Contradicted**: 1 (deeper ResNets are better)." in s
    assert "\n\nThat deeper ResNets are better cannot be read at this budget: at this profile every ResNet" in s
    fake[("resnet56", "final_test_error")] = [0.160, 0.161, 0.159]  # better than ResNet-20, as are ResNet-110's
    fake[("resnet110", "final_test_error")] = [0.150, 0.151, 0.149]
    row = C.claims_table(["cpu"]).loc["Deeper ResNets are better"]
    assert row["verdict (`cpu`)"] == "reproduced" and "too short" not in row["ours (`cpu`)"]  # no caveat to explain
    assert "cannot be read at this budget" not in C.summary(["cpu"])
    for a, e in (("resnet20", 0.0875), ("resnet56", 0.0797), ("resnet110", 0.0743)):  # within Table 6's spread
        fake[(a, "final_test_error")] = [e, e + 0.001, e - 0.001]
    row = C.claims_table(["cpu"]).loc["Deeper ResNets are better"]
    assert "at this budget" not in row["verdict (`cpu`)"] and "too short" not in row["ours (`cpu`)"]
    assert "cannot be read at this budget" not in C.summary(["cpu"])


def test_the_readme_and_the_first_page_count_the_claims_the_table_has():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    word = {9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen"}[len(C.CLAIMS)]
    assert f"the paper's {word} CIFAR-10 claims" in (root / "README.md").read_text()
    assert f"The paper makes {word} claims about CIFAR-10" in (root / "book" / "intro.ipynb").read_text()
