"""Sec. 3.4's testing protocols on the trained CIFAR nets: single view, flip, 10-crop, multi-scale
fully-convolutional (chapter 3, last section).

The errors are computed by :mod:`resnet_lab.analysis.multicrop` once per run and cached in its record
(``analysis/multicrop.json``); every profile but ``smoke`` uses all 10,000 test images. The paper's ImageNet
numbers are held here only as quoted numbers, to stand beside ours.
"""
from __future__ import annotations

import pandas as pd

from ..analysis import multicrop as mc
from ..runs import RunRecord
from ..models import paper_name
from .render import and_list, pct
from .spread import judge, seed_spread, spread_runs
from .store import analysed, analysis_device, data, profile_name, run_data, runs

TESTING_ARCHS = ("resnet20", "resnet56", "resnet110", "plain20")
MULTICROP_IMAGES = {"smoke": 20}  # test images in the smoke profile (CI); every other profile uses all 10k
FIGURE_SIZE = 64  # input side of the score-map figure (a 16x16 score map)

# ---- QUOTED from He et al. 2015 (ImageNet validation set, top-1 / top-5 error %); this project trains no
# ImageNet net. Table 3: 10-crop testing. Table 4: single models, the paper's "best results" (Sec. 3.4: the
# fully-convolutional form, scores averaged over the scales {224, 256, 384, 480, 640}). Table 5: ensembles.
QUOTED_TABLE3_10CROP = {"ResNet-34 B": (24.52, 7.46), "ResNet-34 C": (24.19, 7.40), "ResNet-50": (22.85, 6.71),
                        "ResNet-101": (21.75, 6.05), "ResNet-152": (21.43, 5.71)}
QUOTED_TABLE4_BEST = {"ResNet-34 B": (21.84, 5.71), "ResNet-34 C": (21.53, 5.60), "ResNet-50": (20.74, 5.25),
                      "ResNet-101": (19.87, 4.60), "ResNet-152": (19.38, 4.49)}
QUOTED_TABLE5_ENSEMBLE_TOP5 = 3.57  # ILSVRC 2015 entry, ImageNet test set (test server)
# The authors' released models (github.com/KaimingHe/deep-residual-networks, README): 1-crop = the centre
# 224x224 crop of the image resized to shorter side 256; their 10-crop numbers there are the paper's Table 3.
QUOTED_RELEASE_1CROP = {"ResNet-50": (24.7, 7.8), "ResNet-101": (23.6, 7.1), "ResNet-152": (23.0, 6.7)}


def testing_runs():
    """The recorded runs of :data:`TESTING_ARCHS` (a RunSet: ``.missing`` names those not recorded yet).

    With training off (the book build) a recorded run whose ``analysis/multicrop.json`` is not cached yet is left
    out too -- on all 10k images it costs 15 to 100+ CPU-minutes, past the build's time limit per cell -- and
    named in ``.uncached``."""
    return analysed(runs(TESTING_ARCHS), lambda r: ["multicrop"])


def multicrop(record: RunRecord) -> dict:
    """The per-protocol test errors of a run (computed once, then read from its record)."""
    return mc.cached(record, data, MULTICROP_IMAGES.get(record.config.profile), device=analysis_device())


def _label(m: str) -> str:
    label, views = mc.METHODS[m]
    return f"{label} ({views} view{'s' if views > 1 else ''})"


def multicrop_table(results: dict[str, dict]) -> pd.DataFrame:
    """One row per net, one column per protocol: test error (%, one decimal) and, after the single view, the
    difference to the single view in points."""
    rows = {}
    for net, r in results.items():
        e, base = r["errors"], r["errors"]["single"]
        row = {}
        for m in mc.METHODS:
            row[_label(m)] = pct(e[m]) if m == "single" else f"{pct(e[m])} ({100 * (e[m] - base):+.1f})"
        row["test images"] = f"{r['n_images']:,}"
        rows[net] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def scale_table(results: dict[str, dict]) -> pd.DataFrame:
    """Test error of the fully-convolutional net at each single input size (%, one decimal)."""
    return pd.DataFrame.from_dict(
        {net: {f"{s}x{s}": pct(e) for s, e in r["scale_errors"].items()} for net, r in results.items()},
        orient="index")


def mcnemar_p(fixed: int, broken: int) -> float:
    """Exact two-sided McNemar p-value: could the net's ``fixed`` vs ``broken`` images (same test images, two
    protocols) be a fair coin's split? The paired question on one net; the seed spread asks another."""
    from math import comb
    n, k = fixed + broken, min(fixed, broken)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)


def seed_gains(results_by_seed: dict[str, dict] | None = None) -> dict[str, dict[str, list[float]]]:
    """Per protocol, per spread net (ResNet-20, plain-20): its gain over the single view (error difference) in
    every seed whose multi-crop result is cached. ``results_by_seed``: {'resnet20 s1': result, ...}; default: the
    cached results of the spread runs (read only, never computed here)."""
    if results_by_seed is None:
        results_by_seed = {}
        for key, rec in spread_runs().items():
            f = rec.path / "analysis" / "multicrop.json"
            if f.exists():
                import json
                results_by_seed[key] = json.loads(f.read_text())
    out: dict[str, dict[str, list[float]]] = {}
    for key, r in results_by_seed.items():
        net = key.split(" ")[0]
        for m in list(mc.METHODS)[1:]:
            out.setdefault(m, {}).setdefault(net, []).append(r["errors"][m] - r["errors"]["single"])
    return out


GAIN_SEEDS = 3  # seeds of one net a gain's seed range needs (with two, a range is one noisy difference)


def gain_range(gains: dict[str, list[float]]) -> tuple[float, int, str] | None:
    """(largest range over the seeds of one net, its seed count, the net) of a protocol's gain; None until some
    net has :data:`GAIN_SEEDS` seeds cached."""
    best = None
    for net, vals in gains.items():
        if len(vals) >= GAIN_SEEDS and (best is None or max(vals) - min(vals) > best[0]):
            best = (max(vals) - min(vals), len(vals), net)
    return best


def _gain_verdicts(diffs: dict[str, float], rng: tuple[float, int, str]) -> str:
    """Each net's gain against the seed range of the gain itself (how much training the spread net again moves
    it); the deeper nets are judged against the depth-20 nets' range, which is all that is measured."""
    what = f"{100 * rng[0]:.2f} points over {rng[1]} seeds of {rng[2]}"
    v = {net: (f"larger than the gain's seed range ({what})" if abs(d) > rng[0] else
               f"within the gain's seed range ({what})") + "; one seed: described, not judged"
         for net, d in diffs.items()}
    if len(set(v.values())) == 1:
        return ("The gain is " if len(v) == 1 else "For every net the gain is ") + f"{next(iter(v.values()))}."
    return "; ".join(f"{net}: {verdict}" for net, verdict in v.items()) + "."


def _verdicts(diffs: dict[str, float], spread) -> str:
    """One judgement per net against the seed spread, in one sentence ('The change is ...' when all agree)."""
    v = {net: judge(d, spread) for net, d in diffs.items()}
    if len(set(v.values())) == 1:
        return ("The change is " if len(v) == 1 else "For every net the change is ") + f"{next(iter(v.values()))}."
    return "; ".join(f"{net}: {verdict}" for net, verdict in v.items()) + "."


def _absent(records) -> list[str]:
    """Lines naming the asked-for nets that are not recorded, or recorded but not evaluated yet."""
    lines = []
    missing = getattr(records, "missing", ())
    if missing:
        from ..runs import describe
        lines.append("- Not recorded yet, so not in the table: " + ", ".join(describe(c) for c in missing) + ".")
    uncached = getattr(records, "uncached", [])
    if uncached:
        lines.append(f"- Recorded but not evaluated yet, so not in the table: {', '.join(uncached)}. The book build "
                     f"only reads cached results; compute them with `python -m resnet_lab.analysis.multicrop "
                     f"--arch {' '.join(uncached)} --profile {profile_name()}`.")
    return lines


def multicrop_report(results: dict[str, dict], records=None, gains: dict | None = None) -> str:
    """What each protocol buys over the single view at CIFAR scale, per net (Markdown list). A gain is judged
    against the seed range of that gain -- how much it moves when ResNet-20 or plain-20 is trained again from
    another seed (``gains``: :func:`seed_gains`) -- where two seeds are cached, else against the seed spread of
    the test error. ``records``: the runs (a RunSet names the missing ones)."""
    if not results:
        return "\n".join(["- No net of this comparison has results at this profile yet."] + _absent(records))
    spread = seed_spread("final_test_error")
    gains = seed_gains() if gains is None else gains
    lines = []
    if records:
        gap = {net: results[net]["errors"]["single"] - records[net].metrics["final_test_error"]
               for net in results if net in records}
        if gap:
            per = ", ".join(f"{n} {100 * abs(g):.2f}" for n, g in gap.items())
            f16 = [n for n in gap if records[n].weights_dtype() == "float16"]
            lines.append(f"- Check: the single view here against each run's recorded test error, in points: {per}"
                         + (f" ({', '.join(f16)}: weights saved in float16 by the records of before 2026-11-28, so "
                            f"a few test images can fall the other way)" if f16 else "") + ".")
    for m in list(mc.METHODS)[1:]:
        diffs = {net: r["errors"][m] - r["errors"]["single"] for net, r in results.items()}
        per_net = ", ".join(f"{net} {100 * d:+.1f}" for net, d in diffs.items())
        moved = ", ".join(f"{net} {r['fixed'][m]} / {r['broken'][m]} "
                          f"(p = {mcnemar_p(r['fixed'][m], r['broken'][m]):.1g})" for net, r in results.items())
        rng = gain_range(gains.get(m, {}))
        seeds_line = "" if rng is None else " Across seeds: " + ", ".join(
            f"{net} " + " / ".join(f"{100 * g:+.1f}" for g in vals) for net, vals in gains[m].items()) + "."
        lines.append(f"- **{_label(m)}** against the single view: {per_net} points (test images it turns right / "
                     f"wrong, with the exact McNemar p of that split: {moved}).{seeds_line} "
                     + (_gain_verdicts(diffs, rng) if rng else _verdicts(diffs, spread)))
    best = {net: min(mc.METHODS, key=lambda m: r["errors"][m]) for net, r in results.items()}
    lines.append("- Lowest error per net: " + ", ".join(
        f"{net} {_label(m)} {pct(results[net]['errors'][m])}" for net, m in best.items()) + ".")
    big = max(results[next(iter(results))]["scales"])
    lines.append(f"- The fully-convolutional net on the image upscaled to {big}x{big} alone (no averaging): "
                 + ", ".join(f"{net} {pct(r['scale_errors'][str(big)])} (32x32: {pct(r['scale_errors']['32'])})"
                             for net, r in results.items()) + "; chance is 90.0%.")
    gain = {net: r["errors"]["single"] - min(r["errors"].values()) for net, r in results.items()}
    top = max(gain, key=gain.get)
    q = quoted_gains()
    best_m = min(mc.METHODS, key=lambda m: results[top]["errors"][m])
    rng = gain_range(gains.get(best_m, {})) if best_m != "single" else None
    verdict = (judge(gain[top], spread) if rng is None else
               f"{'larger than' if gain[top] > rng[0] else 'within'} the seed range of that protocol's gain "
               f"({100 * rng[0]:.2f} points over {rng[1]} seeds of {rng[2]}): "
               f"one seed, described, not judged; the largest of several gains, picked after the fact, so read it "
               f"as an upper end")
    lines.append(f"- **What multi-crop buys here:** at most {100 * gain[top]:.2f} points over the single view "
                 f"({top}, {_label(best_m)}) -- {verdict}. On ImageNet the paper's protocols bought (quoted, "
                 f"top-1): {q['ten_crop']} points from the centre crop to 10 crops, and another {q['multiscale']} "
                 f"from 10-crop to the fully-convolutional multi-scale form.")
    rule = max(abs(r["errors_logit_average"][m] - r["errors"][m]) for r in results.values() for m in mc.METHODS)
    lines.append(f"- Averaging logits instead of softmax probabilities changes no error by more than "
                 f"{100 * rule:.2f} points.")
    n = {r["n_images"] for r in results.values()}
    if n != {10000}:
        lines.append(f"- Computed on {', '.join(f'{k:,}' for k in sorted(n))} test images (profile "
                     f"`{profile_name()}`), not all 10,000: these numbers say nothing about the nets.")
    return "\n".join(lines + _absent(records))


def multicrop_summary(results: dict[str, dict], gains: dict | None = None) -> str:
    """Chapter 3's reading of the multi-crop table in three plain sentences, computed: what flips and crops buy
    (with the seeds of ResNet-20 and plain-20 where they are evaluated), what the multi-scale form costs at CIFAR
    scale, and the quoted ImageNet gains beside ours."""
    if not results:
        return ""
    gains = seed_gains() if gains is None else gains
    small = [m for m in list(mc.METHODS)[1:] if not m.startswith("multiscale")]
    scale = [m for m in list(mc.METHODS)[1:] if m.startswith("multiscale")]
    d = {m: [100 * (r["errors"][m] - r["errors"]["single"]) for r in results.values()] for m in mc.METHODS}
    seeds = [100 * g for m in small for vals in gains.get(m, {}).values() for g in vals]
    nets = sorted({paper_name(n) for m in small for n in gains.get(m, {})})
    every = (f"; so does every seed of {' and '.join(nets)} "
             f"evaluated ({len(seeds)} gains, {min(seeds):+.1f} to {max(seeds):+.1f})" if seeds and max(seeds) < 0
             else "")
    big = max(results[next(iter(results))]["scales"])
    at_big = [100 * r["scale_errors"][str(big)] for r in results.values()]
    q = quoted_gains()
    return (f"Flips and crops help a little: {' and '.join(_label(m) for m in small)} lower every net's test error, "
            f"by {-max(max(d[m]) for m in small):.1f} to {-min(min(d[m]) for m in small):.1f} points{every}. "
            f"The multi-scale form hurts at CIFAR scale: {and_list(_label(m) for m in scale)} raise the error by "
            f"{min(min(d[m]) for m in scale):.1f} to {max(max(d[m]) for m in scale):.1f} points, because our nets "
            f"were trained at one scale and never saw an object at another (alone, at {big}x{big}, they score "
            f"{min(at_big):.0f}-{max(at_big):.0f}% error, where guessing gives 90%). On ImageNet, where training samples many "
            f"scales, the paper's protocols bought (quoted, top-1) {q['ten_crop']} points from one crop to 10, "
            f"and another {q['multiscale']} from 10-crop to the multi-scale form.")


def quoted_imagenet() -> pd.DataFrame:
    """The paper's ImageNet numbers for the same nets under its two protocols (QUOTED, not re-run), with the
    difference between them, and the authors' release's single-crop numbers."""
    rows = {}
    for net, (t1, t5) in QUOTED_TABLE3_10CROP.items():
        b1, b5 = QUOTED_TABLE4_BEST[net]
        c = QUOTED_RELEASE_1CROP.get(net)
        rows[net] = {
            "1 centre crop (quoted, release)": f"{c[0]:.1f}% / {c[1]:.1f}%" if c else "not released",
            "10-crop (quoted, Table 3)": f"{t1:.2f}% / {t5:.2f}%",
            "fully-conv., multi-scale (quoted, Table 4)": f"{b1:.2f}% / {b5:.2f}%",
            "Table 4 - Table 3 (points)": f"{b1 - t1:+.2f} / {b5 - t5:+.2f}",
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def quoted_gains() -> dict[str, str]:
    """The quoted gains in words, for the text: ranges over the nets of :func:`quoted_imagenet` (top-1)."""
    ten = [QUOTED_RELEASE_1CROP[k][0] - QUOTED_TABLE3_10CROP[k][0] for k in QUOTED_RELEASE_1CROP]
    best = [QUOTED_TABLE3_10CROP[k][0] - QUOTED_TABLE4_BEST[k][0] for k in QUOTED_TABLE3_10CROP]
    return {"ten_crop": f"{min(ten):.1f} to {max(ten):.1f}", "multiscale": f"{min(best):.1f} to {max(best):.1f}",
            "ensemble": f"{QUOTED_TABLE5_ENSEMBLE_TOP5:.2f}%"}


def score_map_figure(record: RunRecord, sizes=(32, FIGURE_SIZE), classes: int = 3):
    """The class-score maps of the fully-convolutional net on one test image at each input size of ``sizes``
    (one row each): the first image of the fixed test shuffle that the net gets right at 32x32."""
    import torch
    from .. import plots
    from ..analysis import eval_images
    from ..data import CLASSES, normalize

    d = run_data(record)
    model = record.load_model()
    x8, y = eval_images(d, 200)
    with torch.no_grad():
        right = (mc.score_map(model, normalize(x8, d.mean)).mean((2, 3)).argmax(1) == y).nonzero().flatten()
    i = int(right[0]) if len(right) else 0
    x = normalize(x8[i:i + 1], d.mean)
    maps = [mc.score_map(model, x, s)[0] for s in sizes]
    images = [mc.resize(x8[i:i + 1].float() / 255, s)[0].clamp(0, 1) for s in sizes]
    titles = [f"input {s}x{s} ({m.shape[-1]}x{m.shape[-1]} map)" for s, m in zip(sizes, maps)]
    return plots.score_maps(images, maps, CLASSES, int(y[i]), classes=classes, row_titles=titles,
                            title=f"{record.config.arch}: class-score maps; true class {CLASSES[int(y[i])]}")
