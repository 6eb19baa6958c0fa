"""Chapter 6 read off: the lesion and loss-slice results of the recorded nets as tables and a few computed
sentences. Every net has one seed, so every difference is described beside the depth-20 seed range of the test
error, never judged (the book's rule, :data:`resnet_lab.stats.RULE`).

Inputs are what :mod:`resnet_lab.book.trained` reads from the caches: ``lesions`` / ``lands`` / ``init`` map a
net's name ('resnet56') to its cached lesion result or loss grid.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import landscape as LS
from ..analysis import lesion as LE
from ..models import paper_name
from .render import and_list, block_label, num, pct
from .spread import seed_spread, spread_seeds

CHANCE = 0.9  # ten classes: the test error of a guess


def _depth(name: str) -> str:
    return name.removeprefix("resnet").removeprefix("plain")


def _pairs(results: dict) -> list[tuple[str, str]]:
    """(ResNet, plain twin) of each depth where both are in ``results``, shallow to deep."""
    return [(n, f"plain{_depth(n)}") for n in results if n.startswith("resnet") and f"plain{_depth(n)}" in results]




def single_stats(result: dict) -> dict:
    """One net's single-block lesions: intact error, mean and worst over the same-shape blocks (and which),
    each deletable downsampling block's error, and how many same-shape blocks it has."""
    f = pd.DataFrame(result["single"])
    f["error"] = f["error"].astype(float)
    same, down = f[f.same_shape], f[~f.same_shape & f.error.notna()]
    return dict(base=result["baseline"]["error"], same_mean=float(same.error.mean()),
                same_max=float(same.error.max()), same_worst=block_label(same.loc[same.error.idxmax(), "name"]),
                down=dict(zip(map(block_label, down.name), down.error)), n_same=len(same))


def _cost(s: dict) -> float:
    """What deleting one same-shape block costs on average (fraction of test error)."""
    return s["same_mean"] - s["base"]


def lesion_table(lesions: dict[str, dict]) -> pd.DataFrame:
    """One row per net: test error intact, with one same-shape block deleted (mean over the blocks) and what that
    costs, the worst single block, each downsampling block deleted, and all same-shape blocks deleted."""
    rows = {}
    for name, r in lesions.items():
        s, last = single_stats(r), LE.error_by_k(r)[-1]
        down = ", ".join(f"{k}: {pct(v)}" for k, v in s["down"].items()) if s["down"] else (
            "cannot be deleted" if not r["residual"] else "\u2013")
        rows[paper_name(name)] = {"intact": pct(s["base"]), "one block deleted (mean)": pct(s["same_mean"]),
                                  "cost of one block (points)": f"{100 * _cost(s):+.2f}",
                                  "worst block": f"{s['same_worst']}: {pct(s['same_max'])}",
                                  "a downsampling block deleted": down,
                                  "all same-shape blocks deleted": f"{pct(last['mean'])} ({last['k']} blocks)"}
    return pd.DataFrame.from_dict(rows, orient="index")


def scale_line() -> str:
    """'One seed per net: described, not judged; for scale, the depth-20 seed range of the test error is 1.22
    points (3 seeds).'"""
    spread, n = seed_spread(), spread_seeds()
    scale = (f"; for scale, the depth-20 seed range of the test error is {100 * spread:.2f} points"
             + (f" ({n} seeds)" if n else "") if spread is not None else "")
    return f"One seed per net: described, not judged{scale}."


def lesion_summary(lesions: dict[str, dict]) -> str:
    """Two or three sentences on :func:`lesion_table`: what one deleted block costs the ResNets and the plain nets,
    whether the plain nets fall to near chance, whether the cost shrinks with the ResNet's depth."""
    if not lesions:
        return ""
    stats = {n: single_stats(r) for n, r in lesions.items()}
    res = [n for n in lesions if lesions[n]["residual"]]
    plain = [n for n in lesions if not lesions[n]["residual"]]

    def costs(names):
        return and_list([f"{100 * _cost(stats[n]):+.2f} points in {paper_name(n)}" for n in names])
    parts = [f"On average, deleting one same-shape block changes the test error by {costs(res or plain)}"
             + (f", against {costs(plain)}." if res and plain else ".")]
    far = max((abs(CHANCE - stats[n]["same_mean"]) for n in plain), default=None)
    if far is not None and far <= 0.1:
        parts.append(f"Every plain net is within {100 * far:.1f} points of chance ({pct(CHANCE)}) after one deletion, "
                     f"on average.")
    spread = seed_spread()
    if len(res) >= 2 and spread is not None:  # a trend only where every step exceeds the seed range (described)
        by_depth = sorted(res, key=lambda n: int(_depth(n)))
        c = [_cost(stats[n]) for n in by_depth]
        if all(a - b > spread for a, b in zip(c, c[1:])):
            parts.append(f"The deeper the ResNet, the less one block costs it, from {100 * c[0]:.2f} points at depth "
                         f"{_depth(by_depth[0])} to {100 * c[-1]:.2f} at {_depth(by_depth[-1])}, each step larger "
                         f"than the seed range below.")
    return " ".join(parts + [scale_line()])


def k_summary(lesions: dict[str, dict]) -> str:
    """One sentence on the k-lesion figure: each net's largest rise from one number of deleted blocks to the
    next, and where it happens."""
    parts = []
    for name, r in lesions.items():
        rows = LE.error_by_k(r)
        if len(rows) < 2:
            continue
        steps = np.diff([row["mean"] for row in rows])
        i = int(np.argmax(steps))
        parts.append(f"{paper_name(name)} {100 * steps[i]:.1f} points (k = {rows[i]['k']} \u2192 {rows[i + 1]['k']})"
                     if steps[i] > 0 else f"{paper_name(name)} none (its error never rises with k)")
    return ("The largest rise in test error from one number of deleted blocks to the next: " + "; ".join(parts)
            + ".") if parts else ""


def landscape_summary(lands: dict[str, dict]) -> str:
    """One or two sentences per depth with both nets: which slice rises less half a unit from the trained weights,
    where each curves downwards, and (:func:`~resnet_lab.book.trained.plateau_caveat`) whether the flatter one is
    only a higher plateau."""
    from .trained import plateau_caveat
    out = []
    for name, other in _pairs(lands):
        r, p = LS.sharpness(lands[name]), LS.sharpness(lands[other])
        if r["rise_0.5"] == p["rise_0.5"] or r["rise_0.5"] != r["rise_0.5"] or p["rise_0.5"] != p["rise_0.5"]:
            line = (f"At depth {_depth(name)}, half a unit from the trained weights, neither slice rises less "
                    f"({paper_name(name)} {num(r['rise_0.5'])}, {paper_name(other)} {num(p['rise_0.5'])}).")
        else:
            (fn, f), (sn, s) = ((name, r), (other, p)) if r["rise_0.5"] < p["rise_0.5"] else ((other, p), (name, r))
            line = (f"At depth {_depth(name)}, half a unit from the trained weights, the loss rises less for "
                    f"{paper_name(fn)} ({num(f['rise_0.5'])}) than for {paper_name(sn)} ({num(s['rise_0.5'])}).")
            line += plateau_caveat(paper_name(fn), f, paper_name(sn), s)
        curved = [(x, g["nonconvex"]) for x, g in ((other, p), (name, r)) if g["nonconvex"] == g["nonconvex"]]
        if curved:
            line += " The slice curves downwards at " + and_list(
                [f"{share(v)} of {paper_name(x)}'s low-loss points" for x, v in curved]) + "."
        out.append(line)
    if not out:
        return ""
    return " ".join(out) + " One seed and one pair of directions per net: described, not judged."


def share(x: float) -> str:
    """A percentage, or 'n/a' for NaN (no grid point below the chance loss)."""
    return "n/a" if x != x else pct(x)


def init_table(init: dict[str, dict], lands: dict[str, dict]) -> pd.DataFrame:
    """Per net, the loss slice around its initial weights beside the trained one: loss at the centre and its rise
    half and one unit away."""
    rows = {}
    for name, g in init.items():
        i, t = LS.sharpness(g), (LS.sharpness(lands[name]) if name in lands else None)
        row = {}
        for key, what in (("centre_loss", "loss at centre"), ("rise_0.5", "rise at 0.5"), ("rise_1.0", "rise at 1.0")):
            row[f"{what}, initial"] = num(i[key])
            row[f"{what}, trained"] = num(t[key]) if t else "\u2013"
        rows[paper_name(name)] = row
    return pd.DataFrame.from_dict(rows, orient="index")


QUOTED = {  # what the later papers report (summarised from their abstracts and figures, not re-run)
    "block": "deleting one block of ResNet-110 barely changes its test error (Veit et al.)",
    "plain": "deleting a layer of a plain net (VGG) drops it to chance (Veit et al.)",
    "down": "the downsampling blocks are the exception: deleting one hurts (Veit et al.)",
    "convex": "ResNet-56's slice is smooth and nearly convex; without shortcuts it is chaotic (Li et al.)",
}


def conclusion_table(lesions: dict[str, dict], lands: dict[str, dict]) -> pd.DataFrame:
    """The chapter's questions, one per row: what the later papers report (quoted summary) and what our recorded
    nets show (computed); every row rests on one seed per net."""
    stats = {n: single_stats(r) for n, r in lesions.items()}
    res = [n for n in lesions if lesions[n]["residual"]]
    plain = [n for n in lesions if not lesions[n]["residual"]]
    rows = []
    if res:
        rows.append(("Does a trained ResNet survive losing one block?", QUOTED["block"],
                     "one block costs " + ", ".join(f"{paper_name(n)} {100 * _cost(stats[n]):+.2f}" for n in res)
                     + " points on average"))
        down = [(n, float(np.mean(list(stats[n]["down"].values()))) - stats[n]["same_mean"])
                for n in res if stats[n]["down"]]
        if down:
            rows.append(("Do the downsampling blocks matter more?", QUOTED["down"],
                         "a downsampling block costs " + ", ".join(f"{paper_name(n)} {100 * d:+.2f}" for n, d in down)
                         + " points more than an average same-shape block"))
    if plain:
        rows.append(("And a plain net?", QUOTED["plain"],
                     "one block deleted: " + ", ".join(f"{paper_name(n)} {pct(stats[n]['same_mean'])}"
                                                       for n in plain) + f" (chance {pct(CHANCE)})"))
    pairs = _pairs(lands)
    if pairs:
        rows.append(("Is the ResNet's loss slice the smoother one?", QUOTED["convex"],
                     "low-loss points where the slice curves downwards: " + "; ".join(
                         f"{paper_name(n)} {share(LS.sharpness(lands[n])['nonconvex'])}, {paper_name(o)} "
                         f"{share(LS.sharpness(lands[o])['nonconvex'])}" for n, o in pairs)))
    return pd.DataFrame(rows, columns=["question", "the later papers (quoted summary)", "our recorded nets"]
                        ).set_index("question")


def left_out(missing=(), uncached=()) -> str:
    """Which nets the chapter's tables do not speak for: not recorded at this profile, or not analysed yet."""
    from ..runs import describe
    parts = []
    if missing:
        parts.append("Not analysed, because not recorded at this profile yet: "
                     + ", ".join(describe(c) for c in missing) + ".")
    if uncached:
        parts.append("Recorded but not analysed yet (no cached lesion or landscape results): " + ", ".join(uncached)
                     + ".")
    return " ".join(parts + (["Nothing above speaks for them."] if parts else []))
