"""Chapter 6's tables and computed sentences (resnet_lab.book.trained_tables), on made-up lesion and loss-grid
results whose numbers are known."""
import numpy as np
import pytest

from resnet_lab.book import trained_tables as T


def lesion(base, same, down=(), k=(), residual=True):
    """A cached lesion result: intact error ``base``; ``same`` the errors with each same-shape block deleted;
    ``down`` those with each downsampling block deleted (None: cannot be deleted); ``k`` (k, error) draws."""
    single = [dict(name=f"stage1.{i}", same_shape=True, error=e) for i, e in enumerate(same)]
    single += [dict(name=f"stage{i + 2}.0", same_shape=False, error=e) for i, e in enumerate(down)]
    return dict(baseline=dict(error=base), single=single, random=[dict(k=a, error=e) for a, e in k],
                residual=residual, images=1000)


def grid(centre, rise_half, bumpy=False):
    """A 5x5 loss grid on [-1, 1]^2, a bowl with ``centre`` loss and a mean rise ``rise_half`` at distance 0.5 (a
    downward bump next to the centre when ``bumpy``)."""
    c = np.linspace(-1, 1, 5)
    a, b = np.meshgrid(c, c)
    loss = centre + rise_half * 4 * (a ** 2 + b ** 2)
    if bumpy:
        loss[2, 1] -= 0.9 * rise_half
    return dict(coords=c.tolist(), loss=loss.tolist(), error=np.full((5, 5), 0.2).tolist())


LESIONS = {
    "resnet20": lesion(0.10, [0.20, 0.30], down=[0.40, 0.50], k=[(2, 0.60)]),
    "plain20": lesion(0.12, [0.88, 0.90], down=[None, None], k=[(2, 0.90)], residual=False),
    "resnet56": lesion(0.11, [0.12, 0.14], down=[0.30, 0.20], k=[(2, 0.16)]),
}


@pytest.fixture(autouse=True)
def spread(monkeypatch):
    monkeypatch.setattr(T, "seed_spread", lambda metric="final_test_error": 0.0122)
    monkeypatch.setattr(T, "spread_seeds", lambda metric="final_test_error": 3)


def test_the_lesion_table_reads_each_net_off():
    t = T.lesion_table(LESIONS)
    assert list(t.index) == ["ResNet-20", "plain-20", "ResNet-56"]
    r = t.loc["ResNet-20"]
    assert (r["intact"], r["one block deleted (mean)"], r["cost of one block (points)"]) == ("10.0%", "25.0%", "+15.00")
    assert r["worst block"] == "block 2 of stage 1: 30.0%"
    assert r["a downsampling block deleted"] == "block 1 of stage 2: 40.0%, block 1 of stage 3: 50.0%"
    assert r["all same-shape blocks deleted"] == "60.0% (2 blocks)"
    assert t.loc["plain-20", "a downsampling block deleted"] == "cannot be deleted"


def test_the_lesion_summary_says_what_the_numbers_show_and_no_more():
    text = T.lesion_summary(LESIONS)
    assert text == ("On average, deleting one same-shape block changes the test error by +15.00 points in ResNet-20 "
                    "and +2.00 points in ResNet-56, against +77.00 points in plain-20. Every plain net is "
                    "within 1.0 points of chance (90.0%) after one deletion, on average. The deeper the ResNet, the "
                    "less one block costs it, from 15.00 points at depth 20 to 2.00 at 56, each step larger than the "
                    "seed range below. One seed per net: described, not judged; for scale, the depth-20 seed range "
                    "of the test error is 1.22 points (3 seeds).")
    three = dict(LESIONS, resnet110=lesion(0.10, [0.11, 0.11]))  # a step of 1 point < the 1.22-point range
    text = T.lesion_summary(three)
    assert "+15.00 points in ResNet-20, +2.00 points in ResNet-56 and +1.00 points in ResNet-110" in text
    assert "The deeper" not in text
    above = dict(LESIONS, plain56=lesion(0.5, [0.95, 0.95], residual=False))  # 5 points *above* chance: distance
    assert "Every plain net is within 5.0 points of chance (90.0%)" in T.lesion_summary(above)
    # a plain net far from chance, and a deeper ResNet that costs more: neither sentence is said
    other = dict(LESIONS, plain20=lesion(0.12, [0.50, 0.52], residual=False),
                 resnet56=lesion(0.11, [0.40, 0.40]))
    text = T.lesion_summary(other)
    assert "chance" not in text and "The deeper" not in text
    assert T.lesion_summary({}) == ""


def test_the_k_summary_names_each_nets_largest_step():
    assert T.k_summary(LESIONS) == ("The largest rise in test error from one number of deleted blocks to the next: "
                                    "ResNet-20 35.0 points (k = 1 \u2192 2); plain-20 77.0 points (k = 0 \u2192 1); "
                                    "ResNet-56 3.0 points (k = 1 \u2192 2).")


def test_the_landscape_summary_names_the_flatter_slice_and_its_caveat():
    lands = {"resnet20": grid(0.40, 4.0), "plain20": grid(0.49, 2.5, bumpy=True)}
    text = T.landscape_summary(lands)
    assert text.startswith("At depth 20, half a unit from the trained weights, the loss rises less for plain-20 (")
    assert "The slice curves downwards at " in text and "and 0.0% of ResNet-20's low-loss points." in text
    assert "But the flatter slice, plain-20's, is centred at a higher loss" in text  # plateau caveat, paper names
    assert text.endswith("One seed and one pair of directions per net: described, not judged.")
    lower = {"resnet20": grid(0.40, 2.0), "plain20": grid(0.49, 4.0)}  # the flatter one is also the lower one
    assert "But the flatter" not in T.landscape_summary(lower)
    assert T.landscape_summary({"resnet20": grid(0.4, 1.0)}) == ""  # no twin: nothing to compare
    tie = T.landscape_summary({"resnet20": grid(0.40, 2.0), "plain20": grid(0.49, 2.0)})
    assert tie.startswith("At depth 20, half a unit from the trained weights, neither slice rises less (ResNet-20 "
                          "2.000, plain-20 2.000).")


def test_the_init_table_sets_initial_beside_trained():
    t = T.init_table({"resnet20": grid(2.6, 1.0), "plain20": grid(2.3, 0.5)}, {"resnet20": grid(0.4, 4.0)})
    assert t.loc["ResNet-20", "loss at centre, initial"] == "2.600" and t.loc["ResNet-20", "loss at centre, trained"] \
        == "0.400"
    assert t.loc["ResNet-20", "rise at 0.5, trained"] == "4.000"
    assert t.loc["plain-20", "rise at 0.5, trained"] == "\u2013"  # no trained slice cached


def test_the_conclusion_table_asks_only_what_the_results_can_answer():
    lands = {"resnet20": grid(0.40, 4.0), "plain20": grid(0.49, 2.5, bumpy=True)}
    t = T.conclusion_table(LESIONS, lands)
    assert list(t.index) == ["Does a trained ResNet survive losing one block?", "Do the downsampling blocks matter more?",
                             "And a plain net?", "Is the ResNet's loss slice the smoother one?"]
    assert t.iloc[0, 1] == "one block costs ResNet-20 +15.00, ResNet-56 +2.00 points on average"
    assert t.iloc[1, 1] == ("a downsampling block costs ResNet-20 +20.00, ResNet-56 +12.00 points more than an "
                            "average same-shape block")
    assert t.iloc[2, 1] == "one block deleted: plain-20 89.0% (chance 90.0%)"
    assert "(Veit et al.)" in t.iloc[0, 0] and "(Li et al.)" in t.iloc[3, 0]
    only_res = T.conclusion_table({"resnet20": LESIONS["resnet20"]}, {})
    assert list(only_res.index) == ["Does a trained ResNet survive losing one block?",
                                    "Do the downsampling blocks matter more?"]


def test_left_out_names_what_the_tables_do_not_speak_for():
    from resnet_lab.train import RunConfig
    text = T.left_out([RunConfig("plain56", profile="cpu")], ["resnet110"])
    assert text.startswith("Not analysed, because not recorded at this profile yet: plain56 (profile cpu, seed 0")
    assert "Recorded but not analysed yet (no cached lesion or landscape results): resnet110." in text
    assert text.endswith("Nothing above speaks for them.")
    assert T.left_out() == ""
