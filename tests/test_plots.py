"""The figures' readability rules, on made-up data: plain-number log axes, one panel per depth for the loss
slices, and line styles that tell every pair of nets in one figure apart."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from resnet_lab import plots  # noqa: E402


def _labels(ax):
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_text() and t.get_visible()
            and ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]


def test_a_short_log_axis_reads_in_plain_numbers():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1.3, 40])
    ax.set_yscale("log")
    plots._readable_log(ax)
    labels = _labels(ax)
    assert labels == ["2", "5", "10", "20"]  # 1-2-5 steps inside 1.3-40, no powers of ten
    fig2, ax2 = plt.subplots()
    ax2.plot([0, 1], [0.8, 1.9])  # under a decade and a half: finer steps
    ax2.set_yscale("log")
    plots._readable_log(ax2)
    assert _labels(ax2) == ["1", "1.5"]
    fig3, ax3 = plt.subplots()
    ax3.plot([0, 1], [80, 3500])
    ax3.set_yscale("log")
    plots._readable_log(ax3)
    assert _labels(ax3) == ["100", "200", "500", "1,000", "2,000"]
    plt.close("all")


def test_a_log_axis_over_many_decades_keeps_powers_of_ten():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 1e12])
    ax.set_yscale("log")
    before = type(ax.yaxis.get_major_formatter())
    plots._readable_log(ax)
    assert type(ax.yaxis.get_major_formatter()) is before
    plt.close(fig)


def _slice(centre: float, scale: float, n: int = 5) -> dict:
    c = np.linspace(-1, 1, n)
    a, b = np.meshgrid(c, c)
    loss = centre + scale * (a ** 2 + 2 * b ** 2)
    return {"coords": c.tolist(), "loss": loss.tolist(), "error": np.clip(loss / 10, 0, 0.9).tolist()}


def test_loss_slices_put_each_depth_in_its_own_column_with_the_plain_twin_beside_the_resnet():
    lands = {"ResNet-20": _slice(0.5, 1), "plain-20": _slice(0.6, 3), "ResNet-56": _slice(0.4, 2),
             "plain-56": _slice(1.4, 9), "ResNet-110": _slice(0.35, 4)}
    fig = plots.landscape_slices(lands)
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["depth 20", "depth 56", "depth 110"]
    assert all(ax.get_yscale() == "log" for ax in axes[0]) and all(ax.get_yscale() == "linear" for ax in axes[1])
    # each panel: the d1 row and d2 column of each of its nets (ResNet-110 has no twin), plus the chance line
    assert [len([ln for ln in ax.lines if ln.get_label().endswith((", d1", ", d2"))]) for ax in axes[0]] == [4, 4, 2]
    plain56 = [ln for ln in axes[0][1].lines if ln.get_label() == "plain, d1"][0]
    assert list(plain56.get_ydata()) == pytest.approx([1.4 + 9 * x ** 2 for x in np.linspace(-1, 1, 5)])
    d2 = [ln for ln in axes[1][1].lines if ln.get_label() == "plain, d2"][0]  # error: the centre column, in %
    assert list(d2.get_ydata()) == pytest.approx([100 * min((1.4 + 18 * x ** 2) / 10, 0.9)
                                                  for x in np.linspace(-1, 1, 5)])
    # one colour per family, the same in every panel; one legend for the figure
    colours = {ln.get_label(): ln.get_color() for ax in fig.axes for ln in ax.lines if "," in ln.get_label()}
    assert colours["plain, d1"] == colours["plain, d2"] != colours["ResNet, d1"] == colours["ResNet, d2"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["plain, d1", "plain, d2", "ResNet, d1",
                                                                   "ResNet, d2"]
    lo = {ax.get_ylim() for ax in axes[0]}
    assert len(lo) == 1  # the loss row shares its axis: depths compare directly
    plt.close(fig)


def test_every_net_of_a_comparison_has_its_own_line_style():
    """Chapter 5 draws each ResNet beside its pre-activation twin in one colour: the line style must differ
    (it did not: 'preact-resnet20' contains 'resnet', and both were drawn solid)."""
    style = plots._net_style(["resnet20", "preact-resnet20", "plain20", "resnet56", "preact-ResNet-56"])
    assert style["resnet20"]["color"] == style["preact-resnet20"]["color"] == style["plain20"]["color"]
    assert len({style[n]["ls"] for n in ("resnet20", "preact-resnet20", "plain20")}) == 3
    assert style["preact-ResNet-56"]["ls"] == style["preact-resnet20"]["ls"]
    assert style["resnet56"]["color"] != style["resnet20"]["color"]


def test_the_bn_mode_seed_figure_has_a_panel_per_net_and_a_line_per_seed():
    import pandas as pd
    f = lambda *r: pd.DataFrame({"ratio": list(r)})  # noqa: E731
    fig = plots.bn_mode_seeds({"resnet56": {0: f(1.0, 1.1), 1: f(1.0, 1.05)}, "plain56": {},
                               "resnet110": {0: f(1.0, 9.0, 13.0), 1: f(1.0, 1.1, 1.2), 2: f(1.1, 2.0, 8.0)}})
    a, b = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["resnet56 (2 seeds)", "resnet110 (3 seeds)"]  # no empty panel
    assert [ln.get_label() for ln in b.get_lines()][:3] == ["seed 0", "seed 1", "seed 2"]
    assert b.get_lines()[1].get_color() == a.get_lines()[1].get_color()  # seed 1 in the same colour in each panel
    assert list(b.get_lines()[2].get_ydata()) == [1.1, 2.0, 8.0]
    assert b.get_yscale() == "log" and a.get_shared_y_axes().joined(a, b)
    plt.close("all")
    empty = plots.bn_mode_seeds({"resnet110": {}})
    assert len(empty.axes) <= 1
    plt.close("all")


def test_errors_by_depth_draws_the_mean_over_seeds_and_each_seed():
    from types import SimpleNamespace as NS
    import matplotlib
    matplotlib.use("Agg")
    from resnet_lab import plots as P

    def rec(arch, depth, residual, seed, train, test):
        return NS(config=NS(arch=arch, variant="basic", depth=depth, residual=residual, seed=seed, profile="cpu"),
                  metrics=dict(final_train_error=train, final_val_error=test, final_test_error=test))
    recs = [rec("plain20", 20, False, s, e, e + 0.02) for s, e in enumerate((0.17, 0.18, 0.19))]
    recs += [rec("plain56", 56, False, 0, 0.5, 0.5), rec("resnet20", 20, True, 0, 0.14, 0.17)]
    fig = P.errors_by_depth(recs)
    ax = fig.axes[0]
    train = next(ln for ln in ax.get_lines() if ln.get_label() == "plain: train")
    assert list(train.get_ydata()) == pytest.approx([18.0, 50.0])  # the mean of plain-20's three seeds
    dots = [c.get_offsets() for c in ax.collections]
    assert sum(len(d) for d in dots) == 6  # plain-20's three seeds, train and test; one-seed nets get no dot
