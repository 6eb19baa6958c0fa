"""The book's figures (matplotlib/seaborn). Each takes run records or frames and returns a Figure."""
from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PALETTE = plt.get_cmap("viridis")


def _colors(n: int):
    return [PALETTE(x) for x in np.linspace(0.0, 0.85, max(n, 1))]


def provenance_line(records: Iterable) -> str:
    """'profile cpu, CIFAR-10 JPEG q75 copy' -- what every caption must say."""
    records = list(records)
    profiles = sorted({r.config.profile for r in records})
    data = sorted({r.provenance.get("data", r.config.data_source).split(" (")[0] for r in records})
    return f"profile {'/'.join(profiles)}, {'; '.join(data)}"


def training_curves(records: Sequence, ax=None, title: str | None = None, labels: Sequence[str] | None = None,
                    test: bool = True, log: bool = False):
    """Paper Fig. 6 style: training error (dashed) and test error (bold) against iterations.

    ``log=True`` puts the error on a log axis, so the differences between nets near the end (a few points
    apart at 10-20% error) are as visible as those at the start."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    for rec, color, label in zip(records, _colors(len(records)), labels or [r.config.arch for r in records]):
        h = rec.history
        tr = pd.DataFrame(h["train"])
        ax.plot(tr["iter"], 100 * tr["error"], "--", color=color, lw=1)
        if test and h["eval"]:
            ev = pd.DataFrame(h["eval"])
            ax.plot(ev["iter"], 100 * ev["test_error"], "-", color=color, lw=2.2, label=label)
        else:
            ax.plot([], [], "-", color=color, lw=2.2, label=label)
    ax.set_xlabel("iterations")
    if log:
        ax.set_yscale("log")
        ax.set_ylabel("error (%, log scale)")
        from matplotlib.ticker import FixedLocator, NullLocator
        ax.yaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 50, 100]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.set_ylabel("error (%)")
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if records:
        ax.legend(title="dashed: train, bold: test", fontsize=8, title_fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def final_errors(records: Sequence) -> pd.DataFrame:
    """One row per record: arch, variant, depth, residual, final train/val/test error (%)."""
    rows = []
    for r in records:
        c, m = r.config, r.metrics
        rows.append(dict(arch=c.arch, variant=c.variant, depth=c.depth, residual=c.residual, seed=c.seed,
                         profile=c.profile, train_error=100 * m["final_train_error"],
                         val_error=100 * m["final_val_error"], test_error=100 * m["final_test_error"]))
    return pd.DataFrame(rows)


def errors_by_depth(records: Sequence, ax=None):
    """Final training and test error against depth, plain vs residual."""
    frame = final_errors([r for r in records if r.config.variant == "basic"])
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    for residual, color in ((False, "tab:red"), (True, "tab:blue")):
        f = frame[frame.residual == residual].groupby("depth").mean(numeric_only=True).reset_index()
        name = "ResNet" if residual else "plain"
        ax.plot(f.depth, f.train_error, "--o", color=color, label=f"{name}: train")
        ax.plot(f.depth, f.test_error, "-s", color=color, lw=2, label=f"{name}: test")
    ax.set_xlabel("depth (weighted layers)")
    ax.set_ylabel("final error (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def layer_stat_plot(frames: dict[str, pd.DataFrame], column: str = "std", sort: bool = False, ax=None,
                    ylabel: str = "std", logy: bool = False):
    """Paper Fig. 7: one line per net of ``column`` against layer index (or sorted, descending)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 3.5))
    styles = {True: "-", False: "--"}
    for (label, frame), color in zip(frames.items(), _colors(len(frames))):
        v = frame[column].to_numpy()
        if sort:
            v = np.sort(v)[::-1]
        ax.plot(np.arange(1, len(v) + 1), v, styles["resnet" in label.lower()], color=color, label=label, lw=1.5)
    ax.set_xlabel("layer index (sorted by magnitude)" if sort else "layer index (original)")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def fig7(frames: dict[str, pd.DataFrame], column: str = "std"):
    """Both panels of Fig. 7: original order (top) and sorted descending (bottom)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5))
    layer_stat_plot(frames, column, sort=False, ax=top)
    layer_stat_plot(frames, column, sort=True, ax=bottom)
    fig.tight_layout()
    return fig


def std_vs_gamma(frame: pd.DataFrame, ax=None, title: str = ""):
    """Per layer: response std in eval mode against the mean |gamma| of its BN."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4, 4))
    ax.scatter(frame.gamma_abs, frame.channel_std, s=14, label="mean channel std")
    ax.scatter(frame.gamma_abs, frame["std"], s=14, marker="x", label="layer std")
    lim = [0, max(frame.gamma_abs.max(), frame["std"].max()) * 1.1]
    ax.plot(lim, lim, "k:", lw=1, label="y = x")
    ax.set_xlabel("mean |gamma| of the layer's BN")
    ax.set_ylabel("response std (eval mode)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def lr_study(records: Sequence[dict], stage: str = "stage3"):
    """The lr-0.1 study: training loss (left) and the fraction of dead ReLU units in ``stage`` (right) against
    iterations, one thin line per seed, one colour per net."""
    nets = list(dict.fromkeys(r["net"] for r in records))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    for net, color in zip(nets, _colors(len(nets))):
        for i, r in enumerate(x for x in records if x["net"] == net):
            h = pd.DataFrame(r["history"])
            kw = dict(color=color, lw=1, alpha=0.8, label=net if i == 0 else None)
            a.plot(h["iter"], h["loss"], **kw)
            if f"dead_{stage}" in h:
                b.plot(h["iter"], 100 * h[f"dead_{stage}"], **kw)
    a.axhline(np.log(10), color="grey", ls=":", lw=1)
    a.text(0, np.log(10), " chance (ln 10)", va="bottom", color="grey", fontsize=8)
    a.set_yscale("log")
    a.set_xlabel("iterations at lr 0.1"), a.set_ylabel("training loss (log scale)")
    b.set_xlabel("iterations at lr 0.1"), b.set_ylabel(f"dead ReLU units in {stage} (%)")
    b.set_ylim(-2, 102)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def placeholder(text: str, figsize=(6, 2.2)):
    """A figure that says what is missing (so a page whose runs are not recorded yet still builds and says so)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, color="#555")
    return fig


def score_maps(image, maps, class_names: Sequence[str], label: int, classes: int = 3, title: str = ""):
    """One image (float [3,H,W] in [0,1]) and the class-score maps [K,h,w] of a fully-convolutional net on it:
    the ``classes`` highest-scoring classes (by spatial average), plus the true class if it is not among them.
    One colour scale for all maps; each panel's title gives the map's average, i.e. the net's logit."""
    avg = maps.mean((1, 2))
    shown = [int(k) for k in avg.argsort(descending=True)[:classes]]
    if label not in shown:
        shown.append(label)
    lo, hi = float(maps[shown].min()), float(maps[shown].max())
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(2.4 * (len(shown) + 1) + 0.6, 2.9))
    axes[0].imshow(image.permute(1, 2, 0).numpy())
    axes[0].set_title(f"input ({class_names[label]})", fontsize=9)
    for ax, k in zip(axes[1:], shown):
        im = ax.imshow(maps[k].numpy(), cmap="RdBu_r", vmin=-max(abs(lo), abs(hi)), vmax=max(abs(lo), abs(hi)))
        mark = " (true)" if k == label else ""
        ax.set_title(f"{class_names[k]}{mark}: mean {float(avg[k]):.2f}", fontsize=9)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="class score")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
