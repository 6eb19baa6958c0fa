"""Chapter 2's "Can a plain stack learn the identity?": the study of :mod:`resnet_lab.analysis.identity_map`,
cached, and what the page shows of it -- the table, the figures, the depth explorer, the sentences (computed from
the records, never typed in).

The study depends on no recorded run and no data set, only on its settings and seeds, so it is computed once into
``runs/studies/identity_map/<key>.json`` (committed) and read from there by every build. :func:`results` looks in
the run store in force (``$RESNET_LAB_RUNS``) and then in the repository's own ``runs/`` (CI's notebooks run on a
temporary store); it computes the study (about half a minute on one thread) only when neither has it, or when
asked (``recompute=True``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import stats
from ..analysis import identity_map as IM
from .render import and_list

ARM_STYLE = {"plain": dict(color="#1f77b4", ls="--", marker="s"), "residual": dict(color="#d62728", ls="-", marker="o")}
ARM_LABEL = {"plain": "plain stack", "residual": "residual stack"}
STUCK = 0.05  # a plain stack "ends at the constant level" when its mean error is within 5% of it, or above


# ------------------------------------------------------------------------------------------------------ the data

def results(recompute: bool = False, settings: IM.Settings = IM.DEFAULT) -> dict:
    """The study at ``settings``: cached (the run store in force, then the repository's ``runs/``), else computed
    and written to the run store in force (a read-only store: computed again next time)."""
    from ..runs import REPO_ROOT, RunStore
    root = RunStore().root
    if not recompute:
        for where in dict.fromkeys([root, REPO_ROOT / "runs"]):
            r = IM.load(where, settings)
            if r is not None:
                return r
    r = IM.run_study(settings)
    try:
        IM.save(r, root)
    except OSError:
        pass
    return r


def frame(result: dict) -> pd.DataFrame:
    """One row per net: depth, arm, seed, untrained and trained relative error."""
    return pd.DataFrame(result["records"])[["depth", "arm", "seed", "untrained", "trained"]]


def _values(result: dict, arm: str, depth: int, what: str = "trained") -> list[float]:
    f = frame(result)
    return [float(v) for v in f[(f.arm == arm) & (f.depth == depth)].sort_values("seed")[what]]


def depths(result: dict) -> list[int]:
    return [int(d) for d in result["settings"]["depths"]]


def comparisons(result: dict) -> dict[int, stats.Comparison]:
    """Plain minus residual trained error at each depth, every seed: one family (Holm over the depths)."""
    fam = stats.compare_family({d: (_values(result, "plain", d), _values(result, "residual", d))
                                for d in depths(result)})
    return {d: fam[d] for d in depths(result)}


# ------------------------------------------------------------------------------------------------------ words

def _num(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"


def _interval(values, signed: bool = False) -> str:
    m, lo, hi = stats.mean_ci(values)
    f = (lambda v: f"{v:+.3f}") if signed else _num
    return f(m) if math.isnan(lo) else f"{f(m)} [{f(lo)}, {f(hi)}]"




def settings_line(result: dict) -> str:
    """What produced the numbers, for a caption."""
    s, p = result["settings"], result["provenance"]
    return (f"{s['channels']} channels on {s['size']}x{s['size']} maps ReLU(N(0, 1)), {s['steps']} {s['optimizer'].title()} "
            f"steps of batch {s['batch']} (lr {s['lr']:g}, / 10 for the last {1 - s['lr_drop_at']:.0%}), "
            f"error on {s['eval_samples']} held-out maps, seeds {', '.join(map(str, s['seeds']))}; computed on "
            f"{p['threads']} CPU thread{'s' * (p['threads'] != 1)} in {p['wall_seconds']:.0f} s, commit "
            f"{p['commit']}, torch {p['torch']}")


def stuck_depths(result: dict) -> list[int]:
    """Depths at which the trained plain stacks end, on average, at the best constant output's error or above
    (within :data:`STUCK`)."""
    c = result["constant_error"]
    return [d for d in depths(result) if np.mean(_values(result, "plain", d)) >= (1 - STUCK) * c]


def report(result: dict) -> str:
    """The page's sentences on the study, computed from the records (Markdown bullets)."""
    ds, c, steps = depths(result), result["constant_error"], result["settings"]["steps"]
    comp = comparisons(result)
    n = min(min(x.n_a, x.n_b) for x in comp.values())
    lines = []
    stuck = stuck_depths(result)
    plain = {d: float(np.mean(_values(result, "plain", d))) for d in ds}
    res = {d: float(np.mean(_values(result, "residual", d))) for d in ds}
    if stuck:
        lo, hi = min(plain[d] for d in stuck), max(plain[d] for d in stuck)
        lines.append(f"After {steps} steps the plain stacks of {and_list(stuck)} layers end at a mean error of "
                     f"{_num(lo)}" + (f" to {_num(hi)}" if hi > lo else "") + f", at the level of the best constant "
                     f"output ({c:.3f}): " + ("no" if lo >= c else "hardly any") + " closer to the identity than a "
                     "net that returns the same map whatever its input.")
    else:
        lines.append(f"After {steps} steps no plain stack ends at the level of the best constant output ({c:.3f}).")
    free = [d for d in ds if d not in stuck]
    if free:
        lines.append(f"The plain stacks of {and_list(free)} layers get below it: " + ", ".join(
            f"{_num(plain[d])} at {d}" for d in free) + ".")
    lines.append("The residual stacks end at " + ", ".join(f"{_num(res[d])} at {d} layers" for d in ds) + ".")
    lower = [d for d in ds if comp[d].verdict == stats.SHOWN and comp[d].diff > 0]
    higher = [d for d in ds if comp[d].verdict == stats.SHOWN and comp[d].diff < 0]
    none = [d for d in ds if comp[d].verdict == stats.NOT_SHOWN]
    unjudged = [d for d in ds if not comp[d].judged]
    parts = []
    if lower:
        parts.append(f"the residual stack's error is lower than the plain one's at {and_list(lower)} layers "
                     f"(difference)")
    if higher:
        parts.append(f"it is higher at {and_list(higher)} layers (difference)")
    if none:
        parts.append(f"at {and_list(none)} layers no difference is shown")
    if unjudged:
        parts.append(f"at {and_list(unjudged)} layers there are too few seeds to judge ({stats.NOT_JUDGED})")
    lines.append(f"Judged by the book's rule ({n} seeds per arm, Welch's test, Holm's correction over the "
                 f"{len(ds)} depths): " + "; ".join(parts) + ".")
    f = frame(result)
    pu = f[f.arm == "plain"].untrained
    ru = {d: float(np.mean(_values(result, "residual", d, "untrained"))) for d in ds}
    improved = int((f.trained < f.untrained).sum())
    grows = all(b > a for a, b in zip([ru[d] for d in ds], [ru[d] for d in ds[1:]]))
    lines.append(f"The untrained controls: the plain stacks start at {_num(pu.min())} to {_num(pu.max())}, the "
                 f"residual ones at {_num(ru[ds[0]])} ({ds[0]} layers) to {_num(ru[ds[-1]])} ({ds[-1]} layers)"
                 + (" -- the more blocks, the farther from the identity: every He-initialised branch adds a map of "
                    "its own to the input" if grows else "") + f". Training lowered the error of {improved} of the "
                 f"{len(f)} nets.")
    deep = ds[-1]
    if comp[deep].judged and not (comp[deep].verdict == stats.SHOWN and comp[deep].diff > 0):
        lines.append(f"At {deep} layers the untrained residual stacks start {ru[deep] / ru[ds[0]]:.0f} times as far "
                     f"from the identity as at {ds[0]} layers, and {steps} steps do not bring them below the plain "
                     f"ones.")
    return "\n".join(f"- {x}" for x in lines)


def table(result: dict) -> pd.DataFrame:
    """One row per depth: each arm's untrained error (mean) and trained error (mean [95% interval]), plain minus
    residual [Welch 95% interval], Holm's p and the verdict."""
    comp = comparisons(result)
    rows = {}
    for d in depths(result):
        cp = comp[d]
        rows[d] = {"plain, untrained": _num(float(np.mean(_values(result, "plain", d, "untrained")))),
                   "plain, trained": _interval(_values(result, "plain", d)),
                   "residual, untrained": _num(float(np.mean(_values(result, "residual", d, "untrained")))),
                   "residual, trained": _interval(_values(result, "residual", d)),
                   "plain \u2212 residual": (f"{cp.diff:+.3f}" if math.isnan(cp.low)
                                             else f"{cp.diff:+.3f} [{cp.low:+.3f}, {cp.high:+.3f}]"),
                   "p (Holm)": "\u2013" if math.isnan(cp.p_adj) else f"{cp.p_adj:.2g}",
                   "verdict": stats.verdict_text(cp)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "layers"
    return out


# ------------------------------------------------------------------------------------------------------ figures

def _reference_lines(ax, result: dict):
    c = result["constant_error"]
    ax.axhline(c, color="grey", ls="-.", lw=1, label=f"best constant output ({c:.2f})")
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="all-zero output (1)")


def errors_by_depth(result: dict, kind: str = "trained", ax=None, mark: int | None = None):
    """Relative error against depth for ``kind`` ('trained': linear axis, each arm's mean with its 95% interval,
    bold; 'untrained': log axis, the mean dotted with open markers), every seed as a small point; the best constant
    output and the all-zero output as grey lines; ``mark`` shades one depth (the explorer's)."""
    import matplotlib.pyplot as plt
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.8))
    ds = depths(result)
    trained = kind == "trained"
    for arm in IM.ARMS:
        st = ARM_STYLE[arm]
        x = np.array(ds) * (1.05 if arm == "residual" else 1 / 1.05)
        ci = [stats.mean_ci(_values(result, arm, d, kind)) for d in ds]
        means = np.array([c[0] for c in ci])
        err = None
        if trained and not any(math.isnan(c[1]) for c in ci):
            err = [means - np.array([c[1] for c in ci]), np.array([c[2] for c in ci]) - means]
        ax.errorbar(x, means, yerr=err, color=st["color"], ls=st["ls"] if trained else ":", marker=st["marker"],
                    mfc=st["color"] if trained else "white", lw=2.0 if trained else 1.2, ms=6 if trained else 5,
                    capsize=3, label=f"{ARM_LABEL[arm]}" + (", mean [95% interval]" if err is not None else ", mean"))
        for d, xx in zip(ds, x):
            v = _values(result, arm, d, kind)
            ax.plot([xx] * len(v), v, ".", color=st["color"], ms=3, alpha=0.6)
    _reference_lines(ax, result)
    if mark is not None:
        ax.axvspan(mark / 1.22, mark * 1.22, color="#fff3b0", zorder=0)
    ax.set_xscale("log", base=2)
    ax.set_xlim(ds[0] / 1.4, ds[-1] * 1.4)
    ax.set_xticks(ds, [str(d) for d in ds])
    ax.minorticks_off()
    ax.set_xlabel("depth (3x3 conv layers)")
    if trained:
        ax.set_ylim(0, 1.08)
        ax.set_ylabel("relative error after training")
    else:
        ax.set_yscale("log")
        ax.set_ylabel("relative error, untrained (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left" if trained else "upper left")
    return fig


def figure(result: dict):
    """The page's figure: the error after training (left) and of the same nets untrained (right), against depth."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
    errors_by_depth(result, "trained", axes[0])
    errors_by_depth(result, "untrained", axes[1])
    axes[0].set_title(f"after {result['settings']['steps']} steps", fontsize=10)
    axes[1].set_title("untrained (the control)", fontsize=10)
    fig.tight_layout()
    return fig


def view(result: dict, depth: int, kind: str = "trained"):
    """One explorer view: the first held-out map of seed 0 (its first channels), the plain and the residual stack's
    outputs for it (``kind``: trained or untrained), beside the error against depth with ``depth`` shaded."""
    import matplotlib.pyplot as plt
    recs = {r["arm"]: r for r in result["records"] if r["depth"] == depth and f"{kind}_example" in r}
    rows = [("input", np.array(result["example"]), None)] + [
        (a, np.array(recs[a][f"{kind}_example"]), recs[a][kind]) for a in IM.ARMS]
    ch = rows[0][1].shape[0]
    fig = plt.figure(figsize=(10, 4.2))
    gs = fig.add_gridspec(3, ch + 3, width_ratios=[1] * ch + [0.12, 1.4, 4.2], wspace=0.1, hspace=0.25)
    vmax = max(2.5, float(rows[0][1].max()))
    for i, (name, maps, err) in enumerate(rows):
        for j in range(ch):
            ax = fig.add_subplot(gs[i, j])
            im = ax.imshow(maps[j], cmap="magma", vmin=0, vmax=vmax)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name if err is None else f"{name}\nerror {err:.3f}", fontsize=8)
            if i == 0:
                ax.set_title(f"channel {j}", fontsize=7)
    cb = fig.colorbar(im, cax=fig.add_subplot(gs[:, ch]))
    cb.ax.tick_params(labelsize=7)
    ax = fig.add_subplot(gs[:, ch + 2])
    errors_by_depth(result, kind, ax=ax, mark=depth)
    ax.set_title("all seeds, all held-out maps", fontsize=8)
    fig.suptitle(f"{depth} layers, {kind}: one held-out map (first {ch} of {result['settings']['channels']} "
                 f"channels; colours clipped at {vmax:.1f}) and each stack's output for it (seed 0)", fontsize=9)
    return fig


def explorer(result: dict):
    """The depth slider (works on the static site): :func:`view` for every depth, trained or untrained."""
    from ..widgets import static_explorer
    ds = depths(result)
    views = {(d, k): view(result, d, k) for d in ds for k in ("trained", "untrained")}
    return static_explorer(views, ds, ["trained", "untrained"],
                           title="Reproducing the input: one held-out map and what each stack makes of it")


# ------------------------------------------------------------------------------------------------------ nested classes

#: (centre x, centre y, half-width, half-height, angle in degrees) of F1, F2, F3 in each panel, and f*
NON_NESTED = ((0.3, 0.9, 0.75, 0.5, 10.0), (0.9, -0.45, 1.05, 0.65, -15.0), (-0.2, -1.35, 1.5, 0.85, 5.0))
NESTED = ((0.0, 0.0, 0.75, 0.5, 10.0), (0.55, 0.3, 1.45, 1.0, 15.0), (1.05, 0.65, 2.25, 1.55, 20.0))
F_STAR = (3.0, 2.4)


def _boundary(e, n: int = 720) -> np.ndarray:
    cx, cy, a, b, ang = e
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.deg2rad(ang)
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([cx + x * np.cos(r) - y * np.sin(r), cy + x * np.sin(r) + y * np.cos(r)], 1)


def inside(e, points: np.ndarray) -> np.ndarray:
    """Which ``points`` (n x 2) lie in the ellipse ``e`` (boundary included, to float tolerance)."""
    cx, cy, a, b, ang = e
    r = np.deg2rad(ang)
    dx, dy = points[:, 0] - cx, points[:, 1] - cy
    u, v = dx * np.cos(r) + dy * np.sin(r), -dx * np.sin(r) + dy * np.cos(r)
    return (u / a) ** 2 + (v / b) ** 2 <= 1 + 1e-9


def closest(e, point=F_STAR) -> tuple[np.ndarray, float]:
    """The point of ellipse ``e`` closest to ``point`` (on a fine sampling of its boundary; ``point`` itself if
    inside) and its distance: the best function of that class."""
    p = np.asarray(point, float)
    if inside(e, p[None])[0]:
        return p, 0.0
    b = _boundary(e, 3600)
    i = int(np.argmin(((b - p) ** 2).sum(1)))
    return b[i], float(np.sqrt(((b[i] - p) ** 2).sum()))


def _label_point(classes, k: int) -> np.ndarray:
    """Where to write class ``k``'s name (0-based): the point of its own region (inside it, outside every other
    class that does not contain it) farthest from every boundary."""
    xs, ys = np.meshgrid(np.linspace(-2.4, 3.9, 90), np.linspace(-2.4, 2.9, 80))
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    ok = inside(classes[k], pts)
    for j, e in enumerate(classes):
        if j != k and not inside(e, _boundary(classes[k])).all():
            ok &= ~inside(e, pts)
    edges = np.concatenate([_boundary(e, 120) for e in classes])
    d = np.sqrt(((pts[ok][:, None, :] - edges[None]) ** 2).sum(-1)).min(1)
    return pts[ok][int(np.argmax(d))]


def nested(classes) -> bool:
    """Each class contains the one before it."""
    return all(inside(outer, _boundary(inner)).all() for inner, outer in zip(classes, classes[1:]))


def nested_classes_figure():
    """d2l.ai's Fig. 8.6.1 idea, drawn from geometry the tests check: left, function classes of growing size that do
    not contain each other -- the best function of the largest is *farther* from f* than that of the smallest;
    right, nested classes (a deeper net that can zero its extra residual blocks contains the shallower one) -- the
    best function can only get closer. Each class's best function is marked with its distance to f*."""
    import matplotlib.pyplot as plt
    from matplotlib import patches
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.2))
    cols = ["#c6dbef", "#6baed6", "#2171b5"]
    panels = ((axes[0], NON_NESTED, "non-nested function classes"),
              (axes[1], NESTED, "nested: $\\mathcal{F}_1 \\subseteq \\mathcal{F}_2 \\subseteq \\mathcal{F}_3$"))
    for ax, classes, title in panels:
        for k, (e, c) in enumerate(zip(classes, cols), 1):
            cx, cy, a, b, ang = e
            ax.add_patch(patches.Ellipse((cx, cy), 2 * a, 2 * b, angle=ang, fc=c, ec="#08306b", alpha=0.45, lw=1.2,
                                         gid=f"class:{k}"))
            ax.text(*_label_point(classes, k - 1), f"$\\mathcal{{F}}_{k}$", fontsize=11, ha="center", va="center",
                    color="#08306b")
            q, dist = closest(e)
            ax.plot([q[0], F_STAR[0]], [q[1], F_STAR[1]], ":", color="#08306b", lw=1)
            ax.plot(*q, "o", color=c, mec="#08306b", ms=6, gid=f"best:{k}")
            ax.annotate(f"{dist:.2f}", q, xytext=(7, -3), textcoords="offset points", fontsize=8, ha="left",
                        va="top", color="#08306b", bbox=dict(fc="white", ec="none", alpha=0.8, pad=1))
        ax.plot(*F_STAR, "*", color="#b2182b", ms=15, gid="fstar")
        ax.text(F_STAR[0] + 0.18, F_STAR[1], "$f^*$", fontsize=12, va="center", color="#b2182b")
        ax.set_xlim(-2.4, 3.9), ax.set_ylim(-2.4, 2.9)
        ax.set_aspect("equal"), ax.axis("off")
        ax.set_title(title, fontsize=10)
    fig.text(0.5, 0.03, "dots: the best function in each class; numbers: its distance to the truth $f^*$",
             ha="center", fontsize=8, color="#555")
    return fig
