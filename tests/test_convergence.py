"""Time to a training-error level (chapter 1's slow-convergence question): read off a curve, fitted on depth."""
import math

import pandas as pd
import pytest

from resnet_lab.analysis import convergence as CV


def curve(errors, every=50):
    return [dict(iter=every * (i + 1), error=e) for i, e in enumerate(errors)]


def test_iterations_to_averages_the_last_points_and_stops_at_until():
    c = curve([0.9, 0.9, 0.5, 0.9, 0.55, 0.55, 0.55, 0.4])
    assert CV.iterations_to(c, 0.6, until=1000, window=1) == 150  # one lucky point is enough without smoothing
    assert CV.iterations_to(c, 0.6, until=1000, window=3) == 350  # (0.55 + 0.55 + 0.55) / 3 at iteration 350
    assert CV.iterations_to(c, 0.6, until=300, window=3) is None  # not before the lr drop: censored, not guessed
    assert CV.iterations_to([], 0.6, until=300) is None


def test_growth_recovers_an_exponential_slow_down_and_names_censored_nets():
    rows = [dict(net=f"plain{d}", depth=d, residual=False, level=0.6, iteration=100 * math.exp(0.05 * d))
            for d in (20, 32, 44)]
    rows.append(dict(net="plain56", depth=56, residual=False, level=0.6, iteration=None))
    g = CV.growth(pd.DataFrame(rows), residual=False, level=0.6)
    assert g["factor"] == pytest.approx(math.exp(0.6)) and g["r2"] == pytest.approx(1.0)
    assert g["censored"] == ["plain56"] and g["nets"] == ["plain20", "plain32", "plain44"]
    assert CV.growth(pd.DataFrame(rows[:2]), residual=False, level=0.6) is None  # two depths: no fit


def test_times_one_row_per_net_and_level():
    f = CV.times({"plain20": dict(depth=20, residual=False, train=curve([0.9, 0.75, 0.65, 0.55] * 1))},
                 until=1000, levels=(0.8, 0.6), window=1)
    assert list(f.iteration) == [100, 200] and set(f.columns) >= {"net", "depth", "residual", "level"}


def test_report_judges_the_depth_gap_against_the_depth20_seed_range(monkeypatch):
    from resnet_lab.book import convergence as BC
    monkeypatch.setattr(BC, "until", lambda profile=None: 3200)
    rows = []
    for d, p, r in ((20, 450, 250), (32, 750, 350), (44, 1500, 500), (56, None, 900)):
        rows += [dict(net=f"plain{d}", depth=d, residual=False, level=0.6, iteration=p),
                 dict(net=f"resnet{d}", depth=d, residual=True, level=0.6, iteration=r)]
    seeds = pd.DataFrame([dict(net=f"plain20 s{s}", depth=20, residual=False, level=0.6, iteration=i)
                          for s, i in enumerate((450, 350, 350))])
    rep = BC.report(pd.DataFrame(rows), seeds)
    assert "plain44 needs 1,050 iterations more than plain20, 10.5 times the seed range at depth 20 (100" in rep
    assert "plain56 not before iteration 3,200" in rep and "resnet56 needs 650 iterations more" in rep
    assert "depth 20: 1.8 times as long" in rep and "depth 56: the plain net not before iteration 3,200" in rep
    t = BC.table(pd.DataFrame(rows))
    assert t.loc["plain56", "below 60%"] == "> 3,200" and t.loc["plain44", "below 60%"] == "1,500"
