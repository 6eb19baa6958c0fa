"""The book's figures (matplotlib/seaborn). Each takes run records or frames and returns a Figure."""
from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PALETTE = plt.get_cmap("viridis")


def _colors(n: int):
    """Distinct, high-contrast colours (tab10; the sequential map, without its pale yellow-green end, past 10)."""
    if n <= 10:
        return list(plt.get_cmap("tab10").colors[:max(n, 1)])
    return [PALETTE(x) for x in np.linspace(0.0, 0.7, n)]


def _readable_log(ax, axis: str = "y"):
    """Label a log axis in plain numbers (0.5, 1, 2, 5, 10, 20, 50, 1,000) instead of powers of ten, at 1-2-5
    steps (1-1.5-2-3-5-7 over a short range); left to matplotlib's powers of ten past about four decades. Call it
    after the data are drawn: it reads the axis limits."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    lo, hi = (ax.get_ylim() if axis == "y" else ax.get_xlim())
    if lo <= 0 or hi <= lo or np.log10(hi / lo) > 4:
        return
    subs = (1.0, 2.0, 5.0) if np.log10(hi / lo) > 1.2 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def provenance_line(records: Iterable, seeds: bool = True) -> str:
    """'profile cpu, CIFAR-10 JPEG q75 copy, seed 0' -- what every caption must say (the seeds of the runs
    shown: 'seed 0', or 'seeds 0, 1, 2')."""
    records = list(records)
    profiles = sorted({r.config.profile for r in records})
    data = sorted({r.provenance.get("data", r.config.data_source).split(" (")[0] for r in records})
    line = f"profile {'/'.join(profiles)}, {'; '.join(data)}"
    if seeds and records:
        s = sorted({r.config.seed for r in records})
        line += f", seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}"
    return line


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
    """Final training and test error against depth, plain vs residual: the mean over the records of each net (its
    seeds), and each record as a small dot where a net has several."""
    frame = final_errors([r for r in records if r.config.variant == "basic"])
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    for residual, color in ((False, "tab:red"), (True, "tab:blue")):
        g = frame[frame.residual == residual]
        f = g.groupby("depth").mean(numeric_only=True).reset_index()
        name = "ResNet" if residual else "plain"
        ax.plot(f.depth, f.train_error, "--o", color=color, label=f"{name}: train")
        ax.plot(f.depth, f.test_error, "-s", color=color, lw=2, label=f"{name}: test")
        many = g[g.groupby("depth").depth.transform("size") > 1]
        for col, mark in (("train_error", "o"), ("test_error", "s")):
            ax.scatter(many.depth, many[col], s=10, marker=mark, color=color, alpha=0.45, lw=0)
    ax.set_xlabel("depth (weighted layers)")
    ax.set_ylabel("final error (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def layer_stat_plot(frames: dict[str, pd.DataFrame], column: str = "std", sort: bool = False, ax=None,
                    ylabel: str = "std", logy: bool = False):
    """Paper Fig. 7: one line per net of ``column`` against layer index (or sorted, descending)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 3.5))
    style = _pair_style(list(frames))
    for label, frame in frames.items():
        v = frame[column].to_numpy()
        if sort:
            v = np.sort(v)[::-1]
        ax.plot(np.arange(1, len(v) + 1), v, label=label, **({"lw": 1.5} | style[label]))
    ax.set_xlabel("layer index (sorted by magnitude)" if sort else "layer index (original)")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def trained_vs_init(init: dict[str, pd.DataFrame], trained: dict[str, pd.DataFrame], column: str = "ratio",
                    ylabel: str = "std F(x) / std x", xlabel: str = "residual block"):
    """One colour per net: its untrained frame thin and dotted, its trained frame bold, so each trained line is
    read against its own initialisation. ``init`` and ``trained`` are keyed by net name; a net only in ``init``
    (not trained yet) shows its untrained line alone."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for net, color in zip(init, _colors(len(init))):
        v = init[net][column].to_numpy()
        ax.plot(np.arange(1, len(v) + 1), v, ":", color=color, lw=1.1, label=f"{net} (init)")
        if net in trained:
            v = trained[net][column].to_numpy()
            ax.plot(np.arange(1, len(v) + 1), v, "-", color=color, lw=2.2, label=f"{net} (trained)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def fig7(frames: dict[str, pd.DataFrame], column: str = "std", inset: tuple[str, pd.DataFrame, str] | None = None,
         ylabel: str = "std", ylim: tuple[float, float] | None = None):
    """Both panels of Fig. 7: original order (top) and sorted descending (bottom). ``inset``: (title, frame,
    column) of one net drawn small in the top panel's upper right, on its own scale (e.g. ResNet-110 measured
    the paper's way, when that measure parts from the main panels')."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5))
    layer_stat_plot(frames, column, sort=False, ax=top, ylabel=ylabel)
    layer_stat_plot(frames, column, sort=True, ax=bottom, ylabel=ylabel)
    if ylim is not None:  # e.g. (0, 2) for the untrained control, whose stds are 1 up to float noise
        top.set_ylim(*ylim)
        bottom.set_ylim(*ylim)
    if inset is not None:
        title, frame, col = inset
        # under the inset, above the flat late layers: clear of the first layers' tall start and of the inset
        top.legend(fontsize=8, loc="lower right", bbox_to_anchor=(0.99, 0.1), ncol=2)
        ax = top.inset_axes([0.6, 0.5, 0.38, 0.44])
        v = frame[col].to_numpy()
        ax.plot(np.arange(1, len(v) + 1), v, color="0.2", lw=1)
        ax.set_title(title, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def bn_mode_ratio(frames: dict[str, pd.DataFrame], recal: Sequence[str] = ()):
    """Per 3x3 layer, eval-mode response std over training-mode std (``ratio``), one line per net (log axis;
    1 where the two modes agree); for the nets in ``recal`` also the ratio after re-estimating the running
    statistics (``recal_ratio``), dotted in the same colour."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    style = _net_style(list(frames))
    for name, f in frames.items():
        idx = np.arange(1, len(f) + 1)
        ax.plot(idx, f["ratio"].to_numpy(), lw=1.6, label=name, **style[name])
        if name in recal:
            ax.plot(idx, f["recal_ratio"].to_numpy(), ":", color=style[name]["color"], lw=1.6,
                    label=f"{name}, statistics re-estimated")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_yscale("log")
    _readable_log(ax)
    ax.set_xlabel("3x3 layer (forward order)")
    ax.set_ylabel("response std: eval / training mode")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def bn_mode_seeds(frames: dict[str, dict[int, pd.DataFrame]], threshold: float = 1.5):
    """The eval/training-mode ratio per 3x3 layer (``ratio``) for every checked seed of each net: one panel per net
    (shared log axis), one line per seed, 1 and ``threshold`` (where the book says eval mode parts from training
    mode) as grey lines. A placeholder when no net has a checked seed."""
    nets = [n for n, v in frames.items() if v]
    if not nets:
        return placeholder("no eval/training-mode check is cached yet")
    fig, axes = plt.subplots(1, len(nets), figsize=(3.3 * len(nets), 3.3), sharey=True, squeeze=False)
    for ax, net in zip(axes[0], nets):
        for seed, f in sorted(frames[net].items()):  # one colour per seed number, the same in every panel
            ax.plot(np.arange(1, len(f) + 1), f["ratio"].to_numpy(), lw=1.4, color=f"C{seed % 10}", label=f"seed {seed}")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.axhline(threshold, color="grey", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{net} ({len(frames[net])} seed{'s' * (len(frames[net]) > 1)})", fontsize=10)
        ax.set_xlabel("3x3 layer (forward order)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    _readable_log(axes[0][0])
    axes[0][0].set_ylabel("response std: eval / training mode")
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
    from .analysis.lr_study import label as study_label
    nets = list(dict.fromkeys(r["net"] for r in records))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    dashes = ("-", "--", ":", "-.")  # colour and dash both tell the nets apart
    for k, (net, color) in enumerate(zip(nets, _colors(len(nets)))):
        for i, r in enumerate(x for x in records if x["net"] == net):
            h = pd.DataFrame(r["history"])
            kw = dict(color=color, ls=dashes[k % len(dashes)], lw=1.2, alpha=0.85,
                      label=study_label(net) if i == 0 else None)
            a.plot(h["iter"], h["loss"], **kw)
            if f"dead_{stage}" in h:
                b.plot(h["iter"], 100 * h[f"dead_{stage}"], **kw)
    a.axhline(np.log(10), color="grey", ls=":", lw=1)
    a.text(1.0, np.log(10), "chance (ln 10) ", va="bottom", ha="right", color="grey", fontsize=8,
           transform=a.get_yaxis_transform())  # at the right end, clear of the first iterations' spikes
    a.set_yscale("log")
    _readable_log(a)
    a.set_xlabel("iterations at lr 0.1"), a.set_ylabel("training loss (log scale)")
    b.set_xlabel("iterations at lr 0.1"), b.set_ylabel(f"dead ReLU units in {stage} (%)")
    dead = [100 * v for r in records for v in pd.DataFrame(r["history"]).get(f"dead_{stage}", [])]
    b.set_ylim(-0.5, max(5.0, 1.15 * max(dead, default=0)))  # the scale of the data (a few %), not 0-100
    for ax in (a, b):
        ax.grid(alpha=0.3)
    a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def precision_parity(records: dict, nets: Sequence[str] = ("resnet20", "plain20")):
    """bf16 against fp32, one panel per net: training error (dashed, each point the mean over its logging window) and
    test error at the intermediate evaluations (bold), fp32 blue and bf16 orange, one line per seed, later
    seeds lighter. ``records`` maps (arch, seed, precision) to a run record."""
    colors = {"fp32": "#1f77b4", "bf16": "#ff7f0e"}
    fig, axes = plt.subplots(1, len(nets), figsize=(5.5 * len(nets), 3.8), sharey=True, squeeze=False)
    for ax, net in zip(axes[0], nets):
        for (arch, seed, precision), rec in sorted(records.items()):
            if arch != net:
                continue
            h = rec.history
            alpha = max(0.35, 1.0 - 0.2 * seed)
            tr = pd.DataFrame(h["train"])
            ax.plot(tr["iter"], 100 * tr["error"], "--", color=colors[precision], lw=1, alpha=alpha)
            if h["eval"]:
                ev = pd.DataFrame(h["eval"])
                ax.plot(ev["iter"], 100 * ev["test_error"], "-", color=colors[precision], lw=2, alpha=alpha,
                        label=f"{precision}, seed {seed}")
        ax.set_title(net)
        ax.set_xlabel("iterations")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(title="dashed: train, bold: test", fontsize=8, title_fontsize=8)
    axes[0][0].set_ylabel("error (%)")
    fig.tight_layout()
    return fig


def placeholder(text: str, figsize=(6, 2.2)):
    """A figure that says what is missing (so a page whose runs are not recorded yet still builds and says so)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, color="#555")
    return fig


def score_maps(images: Sequence, maps: Sequence, class_names: Sequence[str], label: int, classes: int = 3,
               row_titles: Sequence[str] | None = None, title: str = ""):
    """One image at several input sizes (rows) and the class-score maps [K,h,w] of a fully-convolutional net on
    each: the input (float [3,H,W] in [0,1]), then the maps of the ``classes`` highest-scoring classes of the
    first row (by spatial average), plus the true class if it is not among them -- the same classes in every
    row, one colour scale for all maps. Each panel's title gives the map's average, i.e. the net's logit."""
    first = maps[0].mean((1, 2))
    shown = [int(k) for k in first.argsort(descending=True)[:classes]]
    if label not in shown:
        shown.append(label)
    lim = max(float(m[shown].abs().max()) for m in maps)
    fig, axes = plt.subplots(len(maps), len(shown) + 1, figsize=(2.3 * (len(shown) + 1) + 0.8, 2.5 * len(maps)),
                             squeeze=False)
    for r, (image, m) in enumerate(zip(images, maps)):
        avg = m.mean((1, 2))
        ax = axes[r][0]
        ax.imshow(image.permute(1, 2, 0).numpy())
        ax.set_title(row_titles[r] if row_titles else f"input ({class_names[label]})", fontsize=9)
        for ax, k in zip(axes[r][1:], shown):
            im = ax.imshow(m[k].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
            top = " *" if k == int(avg.argmax()) else ""
            ax.set_title(f"{class_names[k]}{' (true)' if k == label else ''}: {float(avg[k]):.2f}{top}", fontsize=9)
        for ax in axes[r]:
            ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=[a for row in axes for a in row[1:]], shrink=0.8, label="class score")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# --- Lesions (Veit et al. 2016) and loss landscapes (Li et al. 2018): chapter "Inside trained ResNets" ---

def _pair_style(labels: Sequence[str]) -> dict:
    """Line styles for per-layer plots. Labels 'net (init)' / 'net (trained)': one colour per net, the untrained
    line thin and dotted, the trained one bold. Otherwise :func:`_net_style` (one colour per depth, plain dashed)."""
    import re
    if not any(re.search(r"\((init|trained)\)$", x) for x in labels):
        return _net_style(labels)
    base = list(dict.fromkeys(re.sub(r" \((init|trained)\)$", "", x) for x in labels))
    cols = dict(zip(base, plt.get_cmap("tab10").colors))
    out = {}
    for x in labels:
        b = re.sub(r" \((init|trained)\)$", "", x)
        init = x.endswith("(init)")
        out[x] = dict(color=cols[b], ls=":" if init else "-", lw=1.2 if init else 2.0)
    return out


def _net_style(names: Sequence[str]) -> dict:
    """One colour per depth (a ResNet and its plain twin share it), solid for ResNets, dashed for plain nets,
    dash-dotted for pre-activation ResNets (their twins in chapter 5's comparison)."""
    def depth(n):
        return int("".join(c for c in n if c.isdigit()) or 0)
    cols = dict(zip(sorted({depth(n) for n in names}), plt.get_cmap("tab10").colors))
    return {n: dict(color=cols[depth(n)], ls="-." if "preact" in n.lower() else "-" if "resnet" in n.lower() else "--")
            for n in names}


def lesion_blocks(lesions: dict, ax=None):
    """Test error with one block deleted, per block, one line per net; each net's intact error dotted; the
    downsampling blocks shaded. A plain downsampling block has no identity of its shape: no point there."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.5, 3.8))
    style = _net_style(list(lesions))
    shaded = set()
    for name, r in lesions.items():
        rows = r["single"]
        idx = [b["index"] for b in rows]
        err = [np.nan if b["error"] is None else 100 * b["error"] for b in rows]
        ax.plot(idx, err, marker="o" if r["residual"] else "s", ms=4, lw=1.5, label=name, **style[name])
        ax.axhline(100 * r["baseline"]["error"], color=style[name]["color"], ls=":", lw=1)
        for b in rows:
            if not b["same_shape"] and b["index"] not in shaded:
                shaded.add(b["index"])
                ax.axvspan(b["index"] - 0.4, b["index"] + 0.4, color="0.85", zorder=0)
    ax.axhline(90, color="grey", lw=0.8)
    ax.text(1.0, 90.5, "chance (90%)", va="bottom", ha="right", fontsize=8, color="grey",
            transform=ax.get_yaxis_transform())
    ax.set_xlabel("deleted block (grey: downsampling block, option A)")
    ax.set_ylabel("test error (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="dotted: intact net", title_fontsize=8)
    return fig


def lesion_k(lesions: dict, ax=None):
    """Test error against the number k of deleted same-shape blocks: a dot per random draw, the mean as a line
    (k = 1: the mean over every single same-shape deletion; k = 0: the intact net)."""
    from .analysis.lesion import error_by_k
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.8))
    style = _net_style(list(lesions))
    for name, r in lesions.items():
        rows = error_by_k(r)
        ax.plot([q["k"] for q in rows], [100 * q["mean"] for q in rows], marker="s", ms=4, lw=1.8, label=name,
                **style[name])
        ax.scatter([d["k"] for d in r["random"]], [100 * d["error"] for d in r["random"]], s=10, alpha=0.6,
                   color=style[name]["color"])
    ax.axhline(90, color="grey", lw=0.8)
    ax.set_xlabel("number of same-shape blocks deleted (k)")
    ax.set_ylabel("test error (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="line: mean; dots: draws", title_fontsize=8)
    return fig


def _loss_levels(grids: Sequence[dict], n: int = 14) -> np.ndarray:
    lo = min(float(np.min(g["loss"])) for g in grids)
    hi = max(float(np.max(g["loss"])) for g in grids)
    return np.geomspace(max(lo, 1e-3) * 1.05, max(hi, lo * 2), n)


def landscape_contour(g: dict, ax, levels=None, key: str = "loss", title: str = ""):
    """One net's 2-D slice as contour lines on log-spaced ``levels``; the cross marks the trained weights."""
    from matplotlib.colors import LogNorm
    levels = _loss_levels([g]) if levels is None else levels
    c = np.asarray(g["coords"])
    cs = ax.contour(c, c, np.asarray(g[key]), levels=levels, cmap="viridis", norm=LogNorm(levels[0], levels[-1]),
                    linewidths=1.1)
    ax.clabel(cs, cs.levels[::3], fmt="%.3g", fontsize=7)
    ax.plot([0], [0], "k+", ms=10)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("a (direction d1)")
    ax.set_aspect("equal")
    return cs


def landscape_contours(lands: dict, key: str = "loss", title: str = ""):
    """Li et al. Fig. 5 style: contour lines of the loss on the 2-D slice, one panel per net, the same
    (log-spaced) levels in every panel; the cross marks the trained weights."""
    names = list(lands)
    fig, axes = plt.subplots(1, len(names), figsize=(3.9 * len(names), 3.7), squeeze=False)
    levels = _loss_levels(list(lands.values()))
    cs = None
    for ax, name in zip(axes[0], names):
        cs = landscape_contour(lands[name], ax, levels, key, title=name)
    axes[0][0].set_ylabel("b (direction d2)")
    if cs is not None:
        bar = fig.colorbar(cs, ax=list(axes[0]), shrink=0.85, label=f"training-subset {key} (log scale)")
        bar.set_ticks(levels[::2], labels=[f"{v:.3g}" for v in levels[::2]])
        bar.minorticks_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _depth(name: str) -> int:
    """'ResNet-56' / 'plain56' / 'preact-ResNet-110' -> 56 / 56 / 110 (0 without digits)."""
    return int("".join(c for c in str(name) if c.isdigit()) or 0)


def landscape_slices(lands: dict):
    """1-D slices through the weights (the grid's centre row and column), one column per depth with the plain
    twin beside the ResNet: loss (top, log scale; grey: chance, ln 10) and error (bottom) against the step along
    d1 (solid, filled markers) and d2 (dashed, open markers). Plain and ResNet keep one colour each, as in the
    headline figure; the rows share their y axes, so depths compare at a glance."""
    depths = sorted({_depth(n) for n in lands})
    fig, axes = plt.subplots(2, len(depths), figsize=(0.8 + 3.3 * len(depths), 5.8), sharey="row", squeeze=False)
    family = dict(zip(("plain", "ResNet"), _colors(2)))
    for name, g in lands.items():
        col = depths.index(_depth(name))
        fam = "ResNet" if "resnet" in str(name).lower() else "plain"
        c = np.asarray(g["coords"])
        i0 = int(np.abs(c).argmin())
        for row, vals in enumerate((np.asarray(g["loss"]), 100 * np.asarray(g["error"]))):
            ax = axes[row][col]
            ax.plot(c, vals[i0, :], "-", marker="o", ms=3, lw=1.6, color=family[fam], label=f"{fam}, d1")
            ax.plot(c, vals[:, i0], "--", marker="o", ms=3, mfc="white", lw=1.2, color=family[fam],
                    label=f"{fam}, d2")
    for col, d in enumerate(depths):
        axes[0][col].set_title(f"depth {d}", fontsize=10)
        axes[0][col].set_yscale("log")
        axes[0][col].axhline(np.log(10), color="grey", lw=0.8)
        axes[1][col].set_xlabel("step along the direction")
        for row in (0, 1):
            axes[row][col].grid(alpha=0.3)
    _readable_log(axes[0][0])
    axes[0][0].set_ylabel("training-subset loss (log)")
    axes[1][0].set_ylabel("training-subset error (%)")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    order = [k for k in ("plain, d1", "plain, d2", "ResNet, d1", "ResNet, d2") if k in handles]
    fig.legend([handles[k] for k in order], order, loc="upper center", ncol=len(order), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


# --- Initialisation (De & Smith 2020; Balduzzi et al. 2017): chapter "What the shortcut does at initialisation" ---

def branch_skip_variance(frames: dict, logy: bool = False, predicted: bool = True, title: str = "",
                         log_ratio: bool = True):
    """Per residual block. Left: variance of the skip path (bold), of the branch F(x) (thin) and, dotted, the
    +Var(F)-per-block prediction. Right: branch/skip variance ratio (log scale unless
    ``log_ratio=False``), prediction dotted. Open circles:
    option-A stage boundaries (subsampling, zero-padded channels). One colour per depth; dash-dotted: ``preact``."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    style = _net_style(list(frames))
    for name, f in frames.items():
        st = style[name]
        a.plot(f.block, f.skip_var, lw=1.8, label=f"{name}: skip", **st)
        a.plot(f.block, f.branch_var, lw=0.8, alpha=0.7, color=st["color"], ls=st["ls"])
        b.plot(f.block, f.var_ratio, lw=1.8, label=name, **st)
        if predicted:
            a.plot(f.block, f.pred_skip_var, ":", lw=1.3, color=st["color"])
            b.plot(f.block, f.pred_ratio, ":", lw=1.3, color=st["color"])
        bd = f[f.boundary.astype(bool)]
        a.plot(bd.block, bd.skip_var, "o", mfc="white", ms=5, color=st["color"])
        b.plot(bd.block, bd.var_ratio, "o", mfc="white", ms=5, color=st["color"])
    a.set_ylabel("variance (channel mean)" + (", log scale" if logy else ""))
    b.set_ylabel("branch / skip variance" + (", log scale" if log_ratio else ""))
    if log_ratio:
        b.set_yscale("log")
        _readable_log(b)
    else:
        b.set_ylim(bottom=0)
    if logy:
        a.set_yscale("log")
    for ax in (a, b):
        ax.set_xlabel("residual block l")
        ax.grid(alpha=0.3)
    note = "bold: skip, thin: branch" + (", dotted: +Var(F) per block" if predicted else "")
    a.legend(fontsize=7, title=note, title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def gradient_autocorrelation(frames: dict, max_lag: int | None = None):
    """Left: autocorrelation of the input gradient along the line (mean cosine of g(t) and g(t + k)) against
    the lag k, one line per net (plain dashed, ResNet solid, one colour per depth). Right: its lag-1 value
    against depth, plain against residual."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw=dict(width_ratios=[1.6, 1]))
    style = _net_style(list(frames))
    for name, f in frames.items():
        n = max_lag or len(f) // 4
        a.plot(f.lag[: n + 1], f.autocorr[: n + 1], lw=1.6, label=name, **style[name])
    a.axhline(0, color="grey", lw=0.8)
    a.set_xlabel(f"lag k (steps of 1/{len(next(iter(frames.values()))) - 1} along the line)")
    a.set_ylabel("mean cos(g(t), g(t + k))")
    a.legend(fontsize=7, ncol=2)
    for kind, marker in (("plain", "s--"), ("resnet", "o-")):
        pts = sorted((int(k[len(kind):]), float(f.autocorr.iloc[1])) for k, f in frames.items() if k.startswith(kind))
        if pts:
            b.plot(*zip(*pts), marker, label="ResNet" if kind == "resnet" else "plain")
    b.set_xlabel("depth (weighted layers)")
    b.set_ylabel("autocorrelation at lag 1")
    b.set_ylim(-0.05, 1.05)
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def gradient_traces(frames: dict, names: Sequence[str], coordinate: str = "red channel, centre pixel"):
    """One coordinate of the input gradient g(t) along the line, one panel per net (each on its own scale)."""
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 2.8), squeeze=False)
    style = _net_style(list(names))
    for ax, name in zip(axes[0], names):
        f = frames[name]
        ax.plot(f.t, f.coordinate, lw=1, color=style[name]["color"])
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("t (position on the line)")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    axes[0][0].set_ylabel(f"g(t), {coordinate}")
    fig.tight_layout()
    return fig


def shattering_view(frame, title: str = "", max_lag: int | None = None):
    """One net (for the depth explorer): one coordinate of g(t) along the line, and the autocorrelation."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.0))
    a.plot(frame.t, frame.coordinate, lw=1, color="tab:blue")
    a.set_xlabel("t (position on the line)")
    a.set_ylabel("g(t), one coordinate")
    a.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    n = max_lag or len(frame) // 4
    b.plot(frame.lag[: n + 1], frame.autocorr[: n + 1], lw=1.6, color="tab:blue")
    b.axhline(0, color="grey", lw=0.8)
    b.set_ylim(-0.1, 1.05)
    b.set_xlabel("lag k")
    b.set_ylabel("mean cos(g(t), g(t + k))")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def convergence_times(frame: pd.DataFrame, seeds: pd.DataFrame | None = None, until: int | None = None,
                      skip: Sequence[float] = ()):
    """Iterations each net needs at lr 0.1 to bring its training error below each level, against depth (log
    axis: an exponential slow-down is a straight line). Plain nets dashed with squares, ResNets solid with
    circles, one colour per level; a net that does not get there before ``until`` is an open triangle at
    ``until``; ``seeds`` (every seed of the nets with several) as small grey points beside their depth."""
    levels = [lv for lv in dict.fromkeys(frame.level) if lv not in skip]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for level, color in zip(levels, _colors(len(levels))):
        for residual, style, marker in ((False, "--", "s"), (True, "-", "o")):
            f = frame[(frame.level == level) & (frame.residual == residual)].sort_values("depth")
            done = f[f.iteration.notna()]
            ax.plot(done.depth, done.iteration, style, marker=marker, color=color, lw=1.6, ms=5,
                    label=f"{'ResNet' if residual else 'plain'}, below {level:.0%}")
            cens = f[f.iteration.isna()]
            if until is not None and len(cens):
                ax.plot(cens.depth, [until] * len(cens), "^", color=color, mfc="none", ms=8)
            if seeds is not None and len(seeds):
                s = seeds[(seeds.level == level) & (seeds.residual == residual) & seeds.iteration.notna()]
                ax.plot(s.depth + (1.5 if residual else -1.5), s.iteration, ".", color="grey", ms=5)
    ax.set_yscale("log")
    if until is not None:
        ax.axhline(until, color="grey", ls=":", lw=1)
        ax.set_ylim(top=max(ax.get_ylim()[1], until * 1.35))  # room for the label above the line
        ax.text(ax.get_xlim()[0], until * 1.04, " first lr drop (open triangles: not reached by then)",
                fontsize=8, color="grey", va="bottom")
    _readable_log(ax)
    ax.set_xlabel("depth (weighted layers)")
    ax.set_ylabel("iterations at lr 0.1 (log scale)")
    depths = sorted(set(frame.depth))
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return fig
