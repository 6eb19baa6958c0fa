"""The initialisation chapter: what the shortcut does before any training.

Two studies of the *untrained* nets (seed 0: the weights the recorded runs start from), cached like every
analysis of an untrained net under ``runs/studies/init/<source>/<arch>-s<seed>/<name>-<n>.json`` (:func:`book.cached._init_cached`;
``n`` is the number of images, ``book.ANALYSIS_IMAGES``):

* branch against skip variance per residual block (De & Smith 2020), BN on the batch statistics of ``n``
  test images; controls: the same nets without BN, and pre-activation nets (no ReLU after the addition);
* shattered gradients (Balduzzi et al. 2017): the input gradient of one logit along a line between two test
  images, plain and residual nets, BN running statistics set from ``n`` training images, then eval mode.

Every sentence that states a result is computed here from the frames (the ``*_report`` functions).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..analysis import branch_variance as BV
from ..analysis import shattered as SH
from ..analysis import eval_images
from ..train import RunConfig
from .cached import ANALYSIS_IMAGES, _init_cached
from .store import data, profile_name
from .render import indexed_frame

SEED = 0
DEPTHS = (20, 32, 44, 56, 110)
SMOKE_DEPTHS = (20, 32)  # the smoke profile (CI) analyses two depths only
PREACT_DEPTHS = {"smoke": (20,)}  # pre-activation control; default (20, 56, 110)
LINE_POINTS = {"smoke": 64}  # points on the line between the two images; default 256
COORDINATE = (0, 16, 16)  # the input coordinate whose gradient is drawn: red channel, centre pixel
CALIBRATION_SEED = 7  # which training images set the BN running statistics of the shattering study
LINE_IMAGES = (0, 1)  # the line runs between these two images of the book's fixed test-set shuffle


def depths(profile: str | None = None) -> tuple[int, ...]:
    return SMOKE_DEPTHS if (profile or profile_name()) == "smoke" else DEPTHS


def preact_depths(profile: str | None = None) -> tuple[int, ...]:
    return PREACT_DEPTHS.get(profile or profile_name(), (20, 56, 110))


def points(profile: str | None = None) -> int:
    return LINE_POINTS.get(profile or profile_name(), 256)


def images(profile: str | None = None) -> int:
    """Images per analysis (the ``n`` of the cache files): ``book.ANALYSIS_IMAGES``, default 500."""
    return ANALYSIS_IMAGES.get(profile or profile_name(), 500)


def _coordinate_index() -> int:
    c, i, j = COORDINATE
    return c * 32 * 32 + i * 32 + j


# --- branch against skip (De & Smith 2020) ---

def variances(arch: str, bn: bool = True, seed: int = SEED) -> pd.DataFrame:
    """:func:`~resnet_lab.analysis.branch_variance.block_variances` of the untrained ``arch`` on ``n`` test
    images, BN on batch statistics (one batch); ``bn=False``: the same net with every BN removed."""
    def compute(model, n):
        x, _ = eval_images(data(), n)
        return BV.block_variances(model if bn else BV.without_bn(model), x, data().mean, bn_mode="train")
    return _init_cached(arch, seed, "block_variance" if bn else "block_variance-nobn", compute)


def preact_variances(arch: str, seed: int = SEED) -> pd.DataFrame:
    """The same for the pre-activation net of that depth (He et al. 2016): nothing after the addition."""
    def compute(_model, n):
        torch.manual_seed(seed)  # the preact net's own seed-``seed`` initialisation
        x, _ = eval_images(data(), n)
        return BV.block_variances(RunConfig(arch, variant="preact").build(), x, data().mean, bn_mode="train")
    return _init_cached(arch, seed, "block_variance-preact", compute)


def _stage_steps(f: pd.DataFrame, column: str = "skip_var") -> np.ndarray:
    v, b = f[column].to_numpy(), f.boundary.to_numpy()
    return np.array([v[i + 1] - v[i] for i in range(len(v) - 1) if not b[i + 1]])


def _boundary_factors(f: pd.DataFrame) -> np.ndarray:
    """Skip variance at a stage-boundary block divided by the variance arriving there."""
    b = f[f.boundary]
    return (b.skip_var / b.in_var).to_numpy()


def _range(lo: float, hi: float) -> str:
    """'0.50' when both ends print the same, else '0.48 to 0.52'."""
    a, b = f"{lo:.2f}", f"{hi:.2f}"
    return a if a == b else f"{a} to {b}"


def variance_table(bn: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per net with BN, De & Smith's three predictions checked: the branch variance (1), the skip variance's growth
    per block inside a stage (median and range; the +1 model predicts the branch variance), the branch/skip ratio
    at the first and the last block beside the model's, and what the skip carries across the option-A boundaries."""
    rows = {}
    for k, f in bn.items():
        steps, bf = _stage_steps(f), _boundary_factors(f)
        rows[k] = {"branch variance": _range(f.branch_var.min(), f.branch_var.max()),
                   "skip variance, first \u2192 last block":
                       f"{f.skip_var.iloc[0]:.2f} \u2192 {f.skip_var.iloc[-1]:.2f}",
                   "growth per block in a stage (range)": f"{np.median(steps):.2f} ({_range(steps.min(), steps.max())})"
                   if len(steps) else "\u2013",
                   "the +1 model's growth": f"{f.branch_var.median():.2f}",
                   "branch/skip ratio, block 1": f"{f.var_ratio.iloc[0]:.2f}",
                   "last block (the model's)": f"{f.var_ratio.iloc[-1]:.3f} ({f.pred_ratio.iloc[-1]:.3f})",
                   "skip keeps at a stage boundary": _range(bf.min(), bf.max()) if len(bf) else "\u2013"}
    return pd.DataFrame.from_dict(rows, orient="index")


def variance_summary(bn: dict[str, pd.DataFrame]) -> str:
    """One or two sentences over all nets of :func:`variance_table`: how close every branch variance is to 1, the
    growth per block against the model's 1, and where the measurement lies against the model."""
    if not bn:
        return ""
    dev = max(float((f.branch_var - 1).abs().max()) for f in bn.values())
    slopes = {k: float(np.median(_stage_steps(f))) for k, f in bn.items() if len(_stage_steps(f))}
    below = [k for k, f in bn.items() if (f.skip_var.iloc[1:] < f.pred_skip_var.iloc[1:]).all()]
    last = {k: float(f.skip_var.iloc[-1] / f.pred_skip_var.iloc[-1]) for k, f in bn.items()}
    growth = (f" Inside the stages the skip variance grows by {_range(min(slopes.values()), max(slopes.values()))} per "
              f"block (medians), {'below' if max(slopes.values()) < 0.9 else 'not below'} the model's 1."
              if slopes else "")
    every = f"Over all {len(bn)} nets" if len(bn) > 1 else "In this net"
    return (f"{every} every branch variance is within {dev:.1e} of 1.{growth} The measurement lies "
            f"below the model in every block after the first in {len(below)} of {len(bn)} nets, and at the last block "
            f"it is {_range(min(last.values()), max(last.values()))} of the model's value.")


def fits_inverse_l(f: pd.DataFrame) -> tuple[float, float]:
    """Least squares of 1 / var_ratio against the block index over the blocks of the last stage:
    (slope, r^2). A ratio ~ 1/l is a straight line here."""
    last = f[f.stage == f.stage.iloc[-1]]
    if len(last) < 3:
        return float("nan"), float("nan")
    x, y = last.block.to_numpy(float), 1 / last.var_ratio.to_numpy()
    a, b = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (a * x + b)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return float(a), float(r2)


def _trend(factor: float) -> str:
    return "falls" if factor < 0.9 else "rises" if factor > 1.1 else "stays level (within 10%)"


def control_table(bn: dict[str, pd.DataFrame], nobn: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """With BN against without, one row per net and case: growth factor of the skip variance per block (median
    inside stages), the skip variance at the last block, and the branch/skip variance ratio's median over the first
    and the last third of the blocks, their factor and its trend."""
    rows = {}
    for k in nobn:
        for case, f in (("with BN", bn.get(k)), ("without BN", nobn[k])):
            if f is None:
                continue
            third = max(1, len(f) // 3)
            early, late = f.var_ratio.iloc[:third].median(), f.var_ratio.iloc[-third:].median()
            rows[(k, case)] = {"skip variance growth per block": f"×{BV.growth_per_block(f):.2f}",
                               "skip variance at the last block": f"{f.skip_var.iloc[-1]:.3g}",
                               "branch/skip ratio, first third": f"{early:.2f}",
                               "last third": f"{late:.2f}",
                               "factor": f"×{late / early:.2f}", "the ratio": _trend(late / early)}
    return indexed_frame(rows, ["net", "BN"])


def control_summary(bn: dict[str, pd.DataFrame], nobn: dict[str, pd.DataFrame]) -> str:
    """One sentence on :func:`control_table`: the ratio's change with and without BN, the level of the branch
    variance without BN, and the skip variance's growth against the doubling model."""
    both = [k for k in nobn if k in bn]
    if not both:
        return ""
    fb = [_third_factor(bn[k]) for k in both]
    fn = [_third_factor(nobn[k]) for k in both]
    level = [float(nobn[k].var_ratio.median()) for k in both]
    g = [BV.growth_per_block(nobn[k]) for k in both]
    return (f"From the first third of the blocks to the last the ratio changes by a factor {min(fb):.2f} to "
            f"{max(fb):.2f} with BN and {min(fn):.2f} to {max(fn):.2f} without; without BN the branch variance "
            f"stays {min(level):.2f} to {max(level):.2f} times the skip's (median per net), and the skip variance "
            f"grows by a factor {min(g):.2f} to {max(g):.2f} per block (the doubling model: 2).")


def _third_factor(f: pd.DataFrame) -> float:
    third = max(1, len(f) // 3)
    return float(f.var_ratio.iloc[-third:].median() / f.var_ratio.iloc[:third].median())


def preact_report(post: dict[str, pd.DataFrame], pre: dict[str, pd.DataFrame]) -> str:
    """Skip-variance increase per block: the paper's block (ReLU after the addition) against pre-activation."""
    lines = []
    for k, f in pre.items():
        p = _stage_steps(f)
        line = (f"- {k}, pre-activation: the skip variance grows by {np.median(p):.2f} per block inside a stage "
                f"(median) with a branch variance of {f.branch_var.median():.2f} (median); at block {len(f)} it is "
                f"{f.skip_var.iloc[-1]:.2f} against {f.pred_skip_var.iloc[-1]:.2f} from the +Var(F) model")
        if k in post:
            q = post[k]
            line += (f". The paper's block (ReLU after the addition): {np.median(_stage_steps(q)):.2f} per block "
                     f"with a branch variance of {q.branch_var.median():.2f}; at block {len(q)} "
                     f"{q.skip_var.iloc[-1]:.2f} against {q.pred_skip_var.iloc[-1]:.2f} from the model")
        lines.append(line + ".")
    return "\n".join(lines)


def trained_comparison(init: pd.DataFrame | None, trained: pd.DataFrame | None, name: str = "resnet20",
                       measure: str = "chapter 4's measure") -> str:
    """Chapter 4's branch/identity std ratio of a trained net against the same measure at initialisation."""
    if trained is None or init is None:
        return (f"- The trained {name} is not recorded at this profile (`{profile_name()}`), so the trained ratio "
                f"cannot be compared here yet.")
    higher = int((trained.ratio.to_numpy() > init.ratio.to_numpy()).sum())
    return (f"- {name}, {measure} (std of F(x) / std of the shortcut's output): median "
            f"{init.ratio.median():.2f} at initialisation, {trained.ratio.median():.2f} after training; the "
            f"trained ratio is above the initial one in {higher} of {len(trained)} blocks (last block: "
            f"{init.ratio.iloc[-1]:.2f} at init, {trained.ratio.iloc[-1]:.2f} trained).")


# --- shattered gradients (Balduzzi et al. 2017) ---

def calibration_images(n: int) -> torch.Tensor:
    """A fixed subset of ``n`` training images (no augmentation): they set the BN running statistics."""
    d = data()
    idx = torch.randperm(len(d.train_y), generator=torch.Generator().manual_seed(CALIBRATION_SEED))[:n]
    return d.train_x[idx]


def line_endpoints() -> tuple[torch.Tensor, torch.Tensor, int]:
    """The two test images the line joins and the class whose logit is differentiated (image a's label)."""
    x, y = eval_images(data(), max(LINE_IMAGES) + 1)
    return x[LINE_IMAGES[0]], x[LINE_IMAGES[1]], int(y[LINE_IMAGES[0]])


def line_description() -> str:
    from ..data import CLASSES
    x, y = eval_images(data(), max(LINE_IMAGES) + 1)
    a, b = (CLASSES[int(y[i])] for i in LINE_IMAGES)
    return f"from a test image of class '{a}' to one of class '{b}'; the scalar is the '{a}' logit"


def shattering(arch: str, seed: int = SEED) -> pd.DataFrame:
    """:func:`~resnet_lab.analysis.shattered.shattering` of the untrained ``arch`` (BN running statistics
    from ``n`` training images, then eval mode), ``points(profile)`` points on the line."""
    p = points()

    def compute(model, n):
        a, b, target = line_endpoints()
        return SH.shattering(model, a, b, data().mean, target, calibration=calibration_images(n), points=p,
                             coordinate=_coordinate_index())
    return _init_cached(arch, seed, f"shattered-{p}pts", compute)


def shattering_summary(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per net: autocorrelation at lags 1, 4, 16; lag where it first falls below 0.5; median |g|."""
    rows = []
    for k, f in frames.items():
        r = f.autocorr.to_numpy()
        n = SH.correlation_length(r)
        g = f.grad_norm.median()
        rows.append({"net": k, "lag 1": f"{r[1]:.3f}", "lag 4": f"{r[4]:.3f}", "lag 16": f"{r[16]:.3f}",
                     "lag 1 (centred)": f"{f.autocorr_centred.iloc[1]:.3f}",
                     "first lag below 0.5": n if n is not None else f"> {len(r) - 1}",
                     "median |g|": f"{g:.3g}" if abs(g) < 1000 else f"{g:,.0f}"})
    return pd.DataFrame(rows).set_index("net").rename_axis(None)


WHITE = 0.02  # |lag-1 autocorrelation| below this: indistinguishable from white noise at our line length


def shattering_report(frames: dict[str, pd.DataFrame]) -> str:
    """Balduzzi et al.'s two claims checked on our frames: plain nets decorrelate as depth grows; residual
    nets stay more correlated than their plain twins."""
    r1 = {k: float(f.autocorr.iloc[1]) for k, f in frames.items()}
    ds = sorted({int(k[6:] if k.startswith("resnet") else k[5:]) for k in frames})
    plain = [(d, r1[f"plain{d}"]) for d in ds if f"plain{d}" in r1]
    res = [(d, r1[f"resnet{d}"]) for d in ds if f"resnet{d}" in r1]
    lines = []
    if plain:
        lines.append("- Lag-1 autocorrelation, plain nets: " + ", ".join(f"plain-{d} {v:.3f}" for d, v in plain) + ".")
    if res:
        lines.append("- Lag-1 autocorrelation, ResNets: " + ", ".join(f"ResNet-{d} {v:.3f}" for d, v in res) + ".")
    for label, seq in (("plain nets", plain), ("ResNets", res)):
        if len(seq) >= 2:
            mono = all(b[1] < a[1] or max(abs(a[1]), abs(b[1])) < WHITE for a, b in zip(seq, seq[1:]))
            noise = [d for d, v in seq if abs(v) < WHITE]
            lines.append(f"- The {label} {'decorrelate' if mono else 'do NOT decorrelate'} at every step in depth, "
                         f"or stay at white-noise level (|lag 1| < {WHITE}) once there (lag 1: {seq[0][1]:.3f} at "
                         f"depth {seq[0][0]}, {seq[-1][1]:.3f} at depth {seq[-1][0]})"
                         + (f"; white-noise level at depth{'s' if len(noise) > 1 else ''} "
                            f"{', '.join(map(str, noise))}." if noise else "; never at white-noise level."))
    pairs = [(d, r1[f"resnet{d}"], r1[f"plain{d}"]) for d in ds if f"resnet{d}" in r1 and f"plain{d}" in r1]
    if pairs:
        above = [d for d, r, p in pairs if r > p]
        lines.append(f"- The ResNet's gradient is more correlated than its plain twin's at {len(above)} of "
                     f"{len(pairs)} depths" + (f" (not at {', '.join(str(d) for d, _, _ in pairs if d not in above)})"
                                               if len(above) < len(pairs) else "") + ".")
    return "\n".join(lines)


def line_distance() -> float:
    """Euclidean distance between the line's two endpoints (normalised input units)."""
    a, b, _ = line_endpoints()
    return float((a.float() - b.float()).div(255).norm())


def explorer(frames: dict[str, pd.DataFrame]):
    """A depth slider over the shattering frames (plain / residual): one coordinate of g(t) and the
    autocorrelation per net, pre-rendered (works on the static page)."""
    from .. import plots
    from ..widgets import static_explorer
    ds = sorted({int(k.lstrip("plainresnet")) for k in frames})
    views = {}
    for d in ds:
        for kind, prefix in (("plain", "plain"), ("residual", "resnet")):
            f = frames.get(f"{prefix}{d}")
            if f is not None:
                views[(d, kind)] = plots.shattering_view(
                    f, title=f"{prefix}{d}: lag-1 autocorrelation {f.autocorr.iloc[1]:.3f}")
    return static_explorer(views, ds, ["plain", "residual"],
                           title="input gradient along the line, untrained nets (seed 0, BN eval mode)",
                           missing="not computed at this profile")


def conclusion(bn: dict[str, pd.DataFrame], nobn: dict[str, pd.DataFrame], sh: dict[str, pd.DataFrame]) -> str:
    """The chapter's closing numbers, computed: every net's branch variance, the deepest net of each study."""
    k = list(bn)[-1]
    f, g = bn[k], nobn.get(k)
    dev = max(float((q.branch_var - 1).abs().max()) for q in bn.values())
    lines = [f"- Forward signals: with BN on batch statistics every residual branch of every net has variance 1 "
             f"(to within {dev:.1e}), as the paper's Sec. 4.1 says BN ensures.",
             f"- Near-identity blocks: with BN, {k}'s last residual branch has {f.std_ratio.iloc[-1]:.2f} times the "
             f"std of the skip path it is added to (variance ratio {f.var_ratio.iloc[-1]:.3f}); its first has "
             f"{f.std_ratio.iloc[0]:.2f} times. The skip variance grows by {np.median(_stage_steps(f)):.2f} per "
             f"block inside a stage (De & Smith's model for blocks with nothing after the addition: 1)."]
    if g is not None:
        lines.append(f"- Without BN the same net's std ratio at its last block is {g.std_ratio.iloc[-1]:.2f}, and the "
                     f"skip variance has grown {g.skip_var.iloc[-1] / g.skip_var.iloc[0]:.3g}-fold from block 1.")
    ds = sorted({int(n.lstrip("plainresnet")) for n in sh})
    d = ds[-1]
    if f"plain{d}" in sh and f"resnet{d}" in sh:
        p, r = sh[f"plain{d}"], sh[f"resnet{d}"]
        lines.append(f"- Gradients along a line of inputs at depth {d}: lag-1 autocorrelation {p.autocorr.iloc[1]:.3f} "
                     f"in the plain net against {r.autocorr.iloc[1]:.3f} in the ResNet (white noise: about 0), "
                     f"median norm {p.grad_norm.median():.3g} against {r.grad_norm.median():.3g} -- "
                     + ("the plain net's gradient is the larger and the less correlated of the two."
                        if p.grad_norm.median() > r.grad_norm.median() and p.autocorr.iloc[1] < r.autocorr.iloc[1]
                        else "see the table above for how norm and correlation compare."))
    return "\n".join(lines)
