"""Time to a training-error level (chapter 1's slow-convergence question): read off a curve, fitted on depth."""
import math

import pandas as pd
import pytest

from resnet_lab.analysis import convergence as CV


def curve(errors, every=50, lr=0.1):
    return [dict(iter=every * (i + 1), error=e, lr=lr) for i, e in enumerate(errors)]


def test_crossing_is_interpolated_on_a_centred_mean_and_censored_at_until():
    c = curve([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])  # straight line: error 0.9 - 0.002 (t - 50)
    assert CV.iterations_to(c, 0.65, until=1000, window=1) == pytest.approx(175)
    assert CV.iterations_to(c, 0.65, until=1000, window=3) == pytest.approx(175)  # a centred mean adds no lag
    assert CV.iterations_to(curve([0.9, 0.9, 0.3, 0.9, 0.9]), 0.6, until=1000, window=1) == pytest.approx(125)
    assert CV.iterations_to(curve([0.9, 0.9, 0.3, 0.9, 0.9]), 0.6, until=1000, window=3) is None  # one lucky point
    assert CV.iterations_to(c, 0.45, until=200) is None  # not before the lr drop: censored, not guessed
    assert CV.iterations_to(c, 0.95, until=1000) == 50  # below from the start: the earliest resolvable time
    assert CV.iterations_to([], 0.6, until=300) is None


def test_growth_recovers_an_exponential_slow_down_and_names_censored_nets():
    rows = [dict(net=f"plain{d}", depth=d, residual=False, level=0.6, iteration=100 * math.exp(0.05 * d))
            for d in (20, 32, 44)]
    rows.append(dict(net="plain56", depth=56, residual=False, level=0.6, iteration=None))
    g = CV.growth(pd.DataFrame(rows), residual=False, level=0.6)
    assert g["factor"] == pytest.approx(math.exp(0.6)) and g["r2"] == pytest.approx(1.0)
    assert g["r2_power"] < g["r2"]  # an exact exponential fits a power law less well
    assert g["censored"] == ["plain56"] and g["nets"] == ["plain20", "plain32", "plain44"]
    assert CV.growth(pd.DataFrame(rows[:2]), residual=False, level=0.6) is None  # two depths: no fit
    assert CV.growth(pd.DataFrame(rows), residual=False, level=0.6, depths=(20, 32)) is None


def test_times_flags_a_warm_up_and_keeps_its_columns_when_empty():
    f = CV.times({"resnet110": dict(depth=110, residual=True, train=curve([0.9, 0.75, 0.55], lr=0.01))},
                 until=1000, levels=(0.8, 0.6), window=1)
    assert f.warmup.all() and f.iteration.notna().all()
    empty = CV.times({}, until=1000)
    assert empty.empty and list(empty.columns) == CV.COLUMNS


def frame(plain, res, level=0.6):
    rows = []
    for d, p, r in zip((20, 32, 44, 56), plain, res):
        rows += [dict(net=f"plain{d}", depth=d, residual=False, warmup=False, level=level, iteration=p),
                 dict(net=f"resnet{d}", depth=d, residual=True, warmup=False, level=level, iteration=r)]
    return pd.DataFrame(rows)


def seeds(times, level=0.6):
    return pd.DataFrame([dict(net=f"plain20 s{s}", depth=20, residual=False, warmup=False, level=level,
                              iteration=i) for s, i in enumerate(times)])


def test_the_ratio_table_reads_times_against_the_depth20_seeds(monkeypatch):
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    t = BC.ratio_table(frame((450, 750, 1500, None), (250, 350, 500, 900)), seeds((450, 300, 350)))
    row = t.loc["below 60%"]
    assert row["plain nets: deepest / shallowest"] == "plain-44 / plain-20: \u00d73.3 (plain-56 not before 3,200)"
    assert row["ResNets: deepest / shallowest"] == "ResNet-56 / ResNet-20: \u00d73.6"
    assert row["two seeds of one depth-20 net, at most"] == "\u00d71.50 (plain-20, 3 seeds)"
    assert row["plain / ResNet, by depth"] == "20: \u00d71.8, 32: \u00d72.1, 44: \u00d73.0, 56: plain > 3,200"
    rep = BC.report(frame((450, 750, 1500, None), (250, 350, 500, 900)), seeds((450, 300, 350)))
    assert "described, not judged" in rep and "finding" not in rep
    t = BC.table(frame((450, 750, 1500, None), (250, 350, 500, 900)))
    assert t.loc["plain56", "below 60%"] == "> 3,200" and t.loc["plain44", "below 60%"] == "1,500"


def test_the_ratio_table_with_a_faster_deep_net_and_a_net_that_never_reaches_the_level(monkeypatch):
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    t = BC.ratio_table(frame((None, 800, 600, 400), (300, 300, 300, 300)), seeds((300, 310, 320)))
    assert t.loc["below 60%", "plain nets: deepest / shallowest"] == "plain-56 / plain-32: \u00d70.5"
    assert t.loc["below 60%", "ResNets: deepest / shallowest"] == "ResNet-56 / ResNet-20: \u00d71.0"
    assert t.loc["below 60%", "plain / ResNet, by depth"].startswith("20: plain > 3,200, 32: \u00d72.7")
    assert BC.report(frame((None,) * 4, (None,) * 4), seeds(())).startswith("- No run")


def test_growth_table_fits_every_level_from_the_start_and_after_leaving_chance(monkeypatch):
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    start = (100, 100, 100, 1500)  # resnet56 leaves chance late (a collapse); the rest at iteration 100
    f = pd.concat([frame((300, 500, 900, 1700), (200, 300, 450, 1900), level=0.6),
                   frame((100, 100, 100, 100), start, level=0.8),
                   frame((400, 700, 1300, 2500), (250, 380, 560, 2100), level=0.5)], ignore_index=True)
    rate = BC.after_start(f)
    assert set(rate.level) == {0.6, 0.5}
    assert rate.set_index(["net", "level"]).loc[("resnet56", 0.6), "iteration"] == 400  # 1900 - 1500
    t = BC.growth_table(f)
    assert list(t.index.get_level_values(0).unique()) == ["below 60%", "below 50%"]  # every level, chance left out
    assert [i[1] for i in t.index[:2]] == ["plain nets, depths 20-56", "ResNets, depths 20-56"]
    assert "widest" not in t.attrs  # both families span the same depths here
    row = t.loc[("below 60%", "ResNets, depths 20-56")]
    assert row["rate: \u00d7 per 12 layers"] != row["start: \u00d7 per 12 layers"]
    assert set(t["start: shape"]) <= {"exponential", "power law", "cannot tell", "neither fits"}
    text = BC.growth_summary(t)
    assert text.startswith("Of the 8 fits, ") and "not which law they follow" in text
    assert BC.growth_table(f.iloc[0:0]).empty and BC.growth_summary(pd.DataFrame()) == ""


def test_a_shape_is_named_only_when_one_fit_is_good_and_clearly_better():
    from resnet_lab.book import convergence as BC
    assert BC._shape(dict(r2=0.99, r2_power=0.95)) == "cannot tell"
    assert BC._shape(dict(r2=0.80, r2_power=0.95)) == "power law"
    assert BC._shape(dict(r2=0.99, r2_power=0.85)) == "exponential"
    assert BC._shape(dict(r2=0.50, r2_power=0.71)) == "neither fits"


def test_the_resnets_out_of_order_are_set_beside_their_starts():
    from resnet_lab.book import convergence as BC
    t = pd.DataFrame({"test error": ["17.27%", "16.46%", "19.13%", "18.43%", "17.19%"],
                      "left 80% training error at iteration": ["50", "50", "95", "462", "50"],
                      "warm-up": ["no", "no", "no", "no", "yes"],
                      "lr-0.1 study: seeds collapsed": ["0 of 5", "\u2013", "\u2013", "2 of 5", "4 of 5"]},
                     index=["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"])
    text = BC.resnet_order_report(t)
    assert ("ResNet-56, above ResNet-20 and ResNet-32: left 80% training error at least twice as late as ResNet-44 "
            "(iteration 462, against 95)") in text
    assert "ResNet-44, above ResNet-20 and ResNet-32: no slow start in its curve" in text  # 95 against 50: not twice
    assert "ResNet-110, above ResNet-32: started with the warm-up at lr 0.01 (at lr 0.1 from the start, 4 of 5" in text
    assert "2 of these 3 began slowly or needed the warm-up." in text and "; ResNet-32," not in text
    assert text.endswith("Each start is one seed's: described, not judged. Where both nets have 3 seeds, "
                         "{numref}`tab-ch3-resnet-depth` judges the difference.")
    t["seeds"] = [3, 1, 1, 3, 3]
    text = BC.resnet_order_report(t)
    assert "ResNet-110, above ResNet-32 (1 seed): started" in text
    assert "The order rests on fewer than 3 seeds of ResNet-32 and ResNet-44, and each start is one seed's: " \
           "described, not judged." in text
    t3 = t.copy()
    t3["test error"] = ["17.00%", "16.50%", "16.40%", "18.00%", "15.00%"]  # only ResNet-56 out of order
    t3["seeds"] = [3, 3, 1, 3, 3]  # above ResNet-44 (1 seed) too
    assert "fewer than 3 seeds of ResNet-44," in BC.resnet_order_report(t3)
    t3["test error"] = ["17.00%", "16.50%", "19.40%", "16.00%", "15.00%"]  # only ResNet-44 (1 seed) out of order
    t3["seeds"] = [3, 3, 3, 3, 1]  # ResNet-110's one seed is in no out-of-order pair
    assert "fewer than 3 seeds of ResNet-44," not in BC.resnet_order_report(t3)
    assert "ResNet-110," not in BC.resnet_order_report(t3).split("rests on")[-1]
    t2 = t.copy()
    t2.loc["resnet44", "left 80% training error at iteration"] = "> 3,200"
    assert "(1 seed): did not leave 80% training error by iteration 3,200" in BC.resnet_order_report(t2)
    t.loc["resnet44", "left 80% training error at iteration"] = "100"
    assert "(1 seed): left 80% training error at least twice as late as ResNet-32" in BC.resnet_order_report(t)
    assert "3 of these 3 began slowly or needed the warm-up, all of them." in BC.resnet_order_report(t)
    t["test error"] = ["19%", "18%", "17%", "16%", "15%"]
    assert "Every ResNet ends below all shallower ones" in BC.resnet_order_report(t)


def test_the_ratio_table_sets_each_depth_with_seeds_beside_its_own_spread(monkeypatch):
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    deep = pd.DataFrame([dict(net=f"plain56 s{s}", depth=56, residual=False, warmup=False, level=0.6, iteration=i)
                         for s, i in enumerate((1000, 2500, 1200))]
                        + [dict(net=f"resnet56 s{s}", depth=56, residual=True, warmup=False, level=0.6, iteration=i)
                           for s, i in enumerate((900, 1000, None))])
    both = pd.concat([seeds((450, 300, 350)), deep], ignore_index=True)
    t = BC.ratio_table(frame((450, 750, 1500, 1000), (250, 350, 500, 900)), both)
    row = t.loc["below 60%"]
    assert row["two seeds of one depth-20 net, at most"] == "\u00d71.50 (plain-20, 3 seeds)"
    # plain-56: 2,500 / 1,000; ResNet-56's two seeds that reached the level differ by x1.11 only
    assert row["two seeds of one depth-56 net, at most"] == "\u00d72.50 (plain-56, 3 seeds)"
    assert BC.seed_ratio(both, 0.6) == (2.5, 3, "plain56")
    assert BC.seed_ratio(both, 0.6, 56)[2] == "plain56" and BC.seed_ratio(both, 0.6, 32) is None
    rep = BC.report(frame((450, 750, 1500, 1000), (250, 350, 500, 900)), both)
    assert "largest ratio between two seeds of one net (at depth 20 and at depth 56)" in rep
    only20 = BC.report(frame((450, 750, 1500, 1000), (250, 350, 500, 900)), seeds((450, 300, 350)))
    assert "(at depth 20)" in only20


def test_seed_runs_adds_the_deeper_nets_seeds_with_their_seed_0(monkeypatch):
    from resnet_lab.book import convergence as BC, store
    monkeypatch.setattr(BC, "spread_runs", lambda: {"resnet20 s0": "r20"})
    monkeypatch.setattr(BC, "sweep", lambda: {"plain56": "p0", "resnet56": "r0", "plain20": "x"})
    monkeypatch.setattr(store, "other_seeds", lambda archs: {"plain56 s1": "p1", "plain56 s2": "p2"})
    assert BC.seed_runs() == {"resnet20 s0": "r20", "plain56 s0": "p0", "plain56 s1": "p1", "plain56 s2": "p2"}
    monkeypatch.setattr(store, "other_seeds", lambda archs: {})
    assert BC.seed_runs() == {"resnet20 s0": "r20"}


def test_a_depth_is_named_beside_the_spread_only_where_two_of_its_seeds_reached_a_level(monkeypatch):
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    stuck = pd.DataFrame([dict(net=f"plain56 s{s}", depth=56, residual=False, warmup=False, level=0.6, iteration=i)
                          for s, i in enumerate((1000, None, None))])
    rep = BC.report(frame((450, 750, 1500, 1000), (250, 350, 500, 900)),
                    pd.concat([seeds((450, 300, 350)), stuck], ignore_index=True))
    assert "(at depth 20)" in rep and "depth 56" not in rep


def test_a_slow_start_is_named_with_both_of_its_conditions(monkeypatch):
    """Leaving chance (80%) at least twice as late as the next shallower net, and by a larger ratio than two seeds of
    one net show: the line names the nets and states both conditions."""
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    f = frame((50, 60, 200, 420), (50, 50, 60, 100), level=0.8)  # plain-44: x3.3 late; plain-56 x2.1, ResNets none
    text = BC.report(f, seeds((50, 100, 70), level=0.8))  # two seeds of plain-20 differ x2.0
    assert ("- A slow start among the plain nets: plain44 and plain56 got below 80% error at least twice as late as "
            "the next shallower net, a larger ratio than any two seeds of one net show (\u00d72.00, plain-20); their "
            "later times carry that delay.") in text
    assert "among the ResNets" not in text
    wide = BC.report(f, seeds((50, 150, 70), level=0.8))  # seeds x3.0: plain-56's x2.1 is within it
    assert "A slow start among the plain nets: plain44 got below" in wide and "(\u00d73.00, plain-20); its later" in wide
