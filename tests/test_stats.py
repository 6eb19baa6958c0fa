"""The book's rule (resnet_lab.stats) against known values."""
import math

import pytest

from resnet_lab import stats as S

# Welch's t-test, the worked example of its Wikipedia article (two samples of 15): t = -2.46, df ~ 25.0, p = 0.021
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def test_welch_matches_the_worked_example():
    diff, lo, hi, p = S.welch(A1, A2)
    assert diff == pytest.approx(sum(A1) / 15 - sum(A2) / 15)
    assert p == pytest.approx(0.021, abs=0.0015)
    assert lo < diff < hi < 0  # the 95% interval excludes 0 exactly when p < 0.05


def test_mean_ci_of_one_two_three():
    m, lo, hi = S.mean_ci([1, 2, 3])  # sd 1, se 1/sqrt(3), t(0.975, 2) = 4.3027
    assert (m, lo, hi) == pytest.approx((2.0, 2 - 4.3027 / 3 ** 0.5, 2 + 4.3027 / 3 ** 0.5), abs=1e-4)
    assert math.isnan(S.mean_ci([5.0])[1])


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.02, 0.03, 0.06, 0.06
    assert S.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([0.5, float("nan")])[0] == 0.5 and math.isnan(S.holm([0.5, float("nan")])[1])
    assert S.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_a_family_judges_only_pairs_with_three_seeds_each_and_corrects_over_them():
    fam = S.compare_family({"clear": ([10.0, 10.1, 9.9, 10.05], [12.0, 12.1, 11.9, 12.05]),
                            "noise": ([10.0, 11.0, 9.0], [10.5, 9.5, 11.5]),
                            "one seed": ([10.0], [14.0])})
    assert fam["clear"].verdict == S.SHOWN and fam["clear"].p_adj == pytest.approx(2 * fam["clear"].p)
    assert fam["noise"].verdict == S.NOT_SHOWN
    assert fam["one seed"].verdict == S.NOT_JUDGED and math.isnan(fam["one seed"].p_adj)
    assert S.verdict_text(fam["one seed"]) == "not judged: 1 seed vs 1"
    assert "finding" not in " ".join(S.verdict_text(c) for c in fam.values())
    assert S.verdict_text(fam["clear"]) == "difference" and S.verdict_text(fam["noise"]) == "no difference shown"
    assert S.verdict_text(fam["clear"], with_p=True).startswith("difference (p = ")


def test_a_family_of_one_judged_pair_is_not_corrected_and_an_empty_arm_is_named():
    fam = S.compare_family({"only": ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])})
    assert fam["only"].p_adj == fam["only"].p
    with pytest.raises(ValueError, match="'bad'"):
        S.compare_family({"bad": ([], [1.0])})


def test_the_rule_states_its_error_rate():
    assert "Holm" in S.RULE and "5%" in S.RULE and "at least 3 seeds" in S.RULE


def test_the_glossary_states_the_rule_verbatim():
    from resnet_lab.runs import REPO_ROOT
    import json
    nb = json.loads((REPO_ROOT / "book" / "intro.ipynb").read_text())
    text = " ".join("".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    assert " ".join(S.RULE.split()) in text


def test_chapter3_table_judges_only_depths_with_three_seeds_per_net(monkeypatch):
    from resnet_lab.book import verdicts as V
    seeds = {"plain20": {0: 0.20, 1: 0.205, 2: 0.198}, "resnet20": {0: 0.17, 1: 0.172, 2: 0.168},
             "plain56": {0: 0.30}, "resnet56": {0: 0.18}}
    monkeypatch.setattr(V, "seed_values", lambda arch, metric="final_test_error", profile=None, **kw: seeds.get(arch, {}))
    t = V.plain_vs_resnet()
    row = t.loc["plain-20 \u2212 ResNet-20, test error"]
    assert row["seeds"] == "3 / 3" and row["verdict"] == "difference" and row["difference"].startswith("+3.10 [")
    one = t.loc["plain-56 \u2212 ResNet-56, test error"]
    assert one["verdict"] == "not judged: 1 seed vs 1" and one["difference"] == "+12.00" and one["p (Holm)"] == "\u2013"
    assert t.loc["plain-32 \u2212 ResNet-32, test error", "verdict"] == "not recorded"
    # Holm over the table: two judged rows (training and test error at depth 20), each p doubled at most
    fam = S.compare_family({"a": (seeds["plain20"].values(), seeds["resnet20"].values())})
    assert float(row["p (Holm)"]) == pytest.approx(min(1, 2 * fam["a"].p), rel=0.05)
    text = V.judged_summary(t)
    assert text.startswith("2 of the 8 comparisons have at least 3 seeds per net and are judged; all of them show")
    assert "judged; all of them show a difference after Holm's correction. 2 rest on fewer seeds" in text
    assert "(see the README). 4 are not recorded yet." in text  # 8 rows: 2 judged, 2 waiting, 4 not recorded
    missing = V.missing_seeds(["plain20", "resnet20", "plain56", "resnet56", "plain32"])
    assert missing == {"plain56": [1, 2], "resnet56": [1, 2], "plain32": [0, 1, 2]}
    seeds["resnet56"] = {0: 0.18, 2: 0.19}  # a seed recorded out of order: the missing one is named
    assert V.missing_seeds(["resnet56"]) == {"resnet56": [1]}
    text = V.judged_summary(t, V.missing_seeds(["plain56", "resnet56"]), profile="cpu")
    quick = V.judged_summary(t, {"plain56": [1]}, profile="quick")  # queue.sh trains at cpu unless told
    assert "(`PROFILE=quick OMP_NUM_THREADS=1 bash tools/queue.sh worker.log plain56:basic:1`" in quick
    assert text.endswith("Seeds still to train: plain-56 seeds 1 and 2, ResNet-56 seed 1 (`OMP_NUM_THREADS=1 "
                         "bash tools/queue.sh worker.log plain56:basic:1 plain56:basic:2 resnet56:basic:1`; the "
                         "README's extra-seeds section).")


@pytest.mark.parametrize("verdicts, start, other", [
    (["difference", "no difference shown", "not judged: 1 seed vs 1"],
     "2 of the 3 comparisons have at least 3 seeds per net and are judged; 1 of them shows a difference",
     "The other one rests on fewer seeds and is described only"),
    (["difference", "not judged: 1 seed vs 1", "not judged: 1 seed vs 3"],
     "1 of the 3 comparisons has at least 3 seeds per net and is judged; it shows a difference",
     "The other 2 rest on fewer seeds and are described only"),
    (["no difference shown", "not judged: 1 seed vs 3"],
     "1 of the 2 comparisons has at least 3 seeds per net and is judged; it shows no difference after Holm's",
     "The other one rests on fewer seeds and is described only"),
    (["difference", "not judged: 1 seed vs 3", "not recorded"],
     "1 of the 3 comparisons has at least 3 seeds per net and is judged; it shows a difference after Holm's",
     "1 rests on fewer seeds and is described only"),
    (["no difference shown", "no difference shown"],
     "2 of the 2 comparisons have at least 3 seeds per net and are judged; none of them shows a difference", None),
    (["not judged: 1 seed vs 1"] * 6, "None of the 6 comparisons has 3 seeds per net yet, so none is judged.",
     "They rest on fewer seeds and are described only")])
def test_the_judged_summary_counts_in_words_that_agree(verdicts, start, other):
    """'1 of them shows', 'The other one rests', 'None of the 6 ... is judged' -- not '1 of them show', 'The other
    1 rest', '0 of the 6 comparisons have ... 0 of them show'."""
    import pandas as pd
    from resnet_lab.book import verdicts as V
    text = V.judged_summary(pd.DataFrame({"verdict": verdicts}, index=[f"r{i}" for i in range(len(verdicts))]))
    assert text.startswith(start), text
    assert (other in text) if other else "rest" not in text, text
    assert ("1 is not recorded yet." in text) == ("not recorded" in verdicts), text


def test_missing_seeds_of_shortcut_options_name_the_option_and_queue_it(monkeypatch):
    """Chapter 7's options: an arm 'resnet32/B' reads option B's seeds, is named 'ResNet-32 (option B)', and its
    queue.sh job carries the option (option A, the paper's, needs none)."""
    from resnet_lab.book import verdicts as V
    seeds = {("resnet32", "A"): {0: 0.2, 1: 0.21, 2: 0.2}, ("resnet32", "B"): {0: 0.19}, ("resnet32", "C"): {}}
    monkeypatch.setattr(V, "seed_values", lambda arch, metric="final_test_error", profile=None, shortcut="A",
                        variant="basic": seeds.get((arch, shortcut), {}))
    assert V.OPTION_ARMS == ("resnet32/A", "resnet32/B", "resnet32/C")
    missing = V.missing_seeds(V.OPTION_ARMS)
    assert missing == {"resnet32/B": [1, 2], "resnet32/C": [0, 1, 2]}
    seeds[("resnet32", "A")] = {0: 0.2}
    line = V._missing_line(V.missing_seeds(V.OPTION_ARMS), profile="cpu")
    assert line.startswith("Seeds still to train: ResNet-32 (option A) seeds 1 and 2, ResNet-32 (option B) seeds 1 "
                           "and 2, ResNet-32 (option C) seeds 0, 1 and 2 (`OMP_NUM_THREADS=1 bash tools/queue.sh "
                           "worker.log resnet32:basic:1 resnet32:basic:2 resnet32:basic:1:B resnet32:basic:2:B "
                           "resnet32:basic:0:C resnet32:basic:1:C resnet32:basic:2:C`")


def test_queue_script_passes_the_shortcut_and_refuses_a_malformed_job_before_training(tmp_path):
    """tools/queue.sh: ARCH:VARIANT:SEED[:SHORTCUT] becomes the train command (DRY_RUN prints it); a malformed job
    anywhere in the list stops it before the first job trains, naming the job."""
    import os
    import subprocess
    from resnet_lab.runs import REPO_ROOT
    env = {**os.environ, "DRY_RUN": "1", "PROFILE": "quick"}
    log = tmp_path / "w.log"
    out = subprocess.run(["bash", "tools/queue.sh", str(log), "resnet56:basic:1", "resnet32:basic:2:B"], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        ".venv/bin/python -m resnet_lab train --arch resnet56 --variant basic --seed 1 --profile quick",
        ".venv/bin/python -m resnet_lab train --arch resnet32 --variant basic --seed 2 --shortcut B --profile quick"]
    for bad in ("resnet32:basic:x", "resnet32:basic:1:D", "resnet32:basic:1:B:extra", "resnet32:1"):
        out = subprocess.run(["bash", "tools/queue.sh", str(log), "resnet56:basic:1", bad], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True)
        assert out.returncode == 2 and out.stdout == "" and f"job '{bad}' is not ARCH:VARIANT:SEED" in out.stderr
    out = subprocess.run(["bash", "tools/queue.sh", str(log), "plain56:basic:1:B"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "a shortcut option needs a ResNet (plain56 has no shortcuts)" in out.stderr
    assert not log.exists()


def test_a_comparison_of_ratios_runs_on_their_logarithms():
    """Positive quantities that vary by factors: geometric means, their ratio, Welch's test on the logs."""
    import math
    from resnet_lab.book.verdicts import comparison_table
    a, b = {0: 2.0, 1: 4.0, 2: 8.0}, {0: 1.0, 1: 1.1, 2: 0.9}
    t = comparison_table({"a / b": (a, b)}, names=("a", "b"), ratio=True)
    row = t.loc["a / b"]
    assert row["a"].startswith("4.00 [") and row["b"].startswith("1.00 [")
    gb = math.exp(sum(map(math.log, b.values())) / 3)
    assert row["ratio first / second"].startswith(f"\u00d7{4 / gb:.2f} [\u00d7")
    p = S.compare_family({"x": ([math.log(v) for v in a.values()], [math.log(v) for v in b.values()])})["x"].p
    assert float(row["p (Holm)"]) == pytest.approx(p, rel=0.05)
    assert "difference" not in t.columns
