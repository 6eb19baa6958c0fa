"""Chapter 4: which channels carry ResNet-110's eval/training-mode mismatch.

:mod:`resnet_lab.book.bn_modes` locates the mismatch by layer (stage, and the BN's place in the block). This
module looks one level down, at the channels of each 3x3 layer (:func:`resnet_lab.analysis.bn_modes.
channel_ratios`, cached per record as ``analysis/bn_channels.json``), for every seed whose eval mode parts from
training mode: how many channels part, whether the same ones part from block to block, and their BN scales.

In a ResNet the second BN of each block writes into the residual stream, channel for channel: channel c of
that BN's output is added to channel c of the identity path. So a channel index that parts in block after block
of one stage is one channel of the stream.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..runs import RunRecord
from .bn_modes import DEPART, _where
from .render import indexed_frame

TEST_IMAGES = {"smoke": 256}  # as the BN-mode check: test images in whole batches; default 2,048
BATCH = 128
KEYS = ("names", "ratios", "gamma_abs")
CLOSING = "second BN of a block"  # the BN whose output joins the residual stream


def channels(record: RunRecord) -> dict:
    """:func:`resnet_lab.analysis.bn_modes.channel_ratios` of a recorded run (its test images in batches of the
    training batch), cached as ``analysis/bn_channels.json``."""
    def compute():
        from ..analysis import bn_modes as BM, eval_images
        from .store import run_data
        d = run_data(record)
        x, _ = eval_images(d, TEST_IMAGES.get(record.config.profile, 2048))
        return BM.channel_ratios(record.load_model(), x, d.mean, batch_size=BATCH)
    return record.cached("bn_channels", compute, keys=KEYS)


def _stage_rows(result: dict) -> pd.DataFrame:
    """One row per 3x3 layer: stage, BN position, channel count, channels at :data:`DEPART` or more (their
    indices), the largest channel ratio and the channels' |gamma|."""
    rows = []
    for name, ratios, gammas in zip(result["names"], result["ratios"], result["gamma_abs"]):
        r, g = np.asarray(ratios, dtype=float), np.asarray(gammas, dtype=float)
        stage, bn = _where(name)
        hit = np.flatnonzero(np.nan_to_num(r, nan=0.0) >= DEPART)
        rows.append(dict(name=name, stage=stage, BN=bn, channels=len(r), parted=hit.tolist(),
                         largest=float(np.nanmax(r)) if len(r) else float("nan"),
                         gamma_parted=g[hit].tolist(), gamma_other=np.delete(g, hit).tolist()))
    return pd.DataFrame(rows)


def _stages(result: dict) -> list[dict]:
    """Per stage, at the BN that closes each block: its name, the blocks, the channels per layer, the count of
    parting channels per block, how many blocks each channel parts in, the largest channel ratio, and the |gamma|
    of the parting and of the other channels (the one reading both the table and the report use)."""
    f = _stage_rows(result)
    out = []
    for stage, g in f[f.BN == CLOSING].groupby("stage", sort=False):
        out.append(dict(stage=stage, blocks=len(g), channels=int(g.channels.iloc[0]), counts=g.parted.map(len),
                        tally=Counter(c for p in g.parted for c in p), largest=float(g.largest.max()),
                        gamma_parted=[x for xs in g.gamma_parted for x in xs],
                        gamma_other=[x for xs in g.gamma_other for x in xs]))
    return out


def _most(tally: Counter, blocks: int) -> str:
    """'21 (18 of 18)', '21, 33 and 40 (18 of 18)' (a tie), '7 channels (18 of 18 each)'; '\u2013' if none parts."""
    from .render import and_list
    if not tally:
        return "\u2013"
    top = max(tally.values())
    tied = sorted(c for c, k in tally.items() if k == top)
    return (f"{and_list([str(c) for c in tied])} ({top} of {blocks})" if len(tied) <= 3 else
            f"{len(tied)} channels ({top} of {blocks} each)")


def _ranges(blocks: list[int]) -> str:
    """Block numbers as runs: [1, 2, 3, 7] -> '1–3 and 7'."""
    from .render import and_list
    runs, out = [], []
    for b in blocks:
        if runs and b == runs[-1][-1] + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    for r in runs:
        out.append(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}")
    return and_list(out)


def _hit_blocks(counts: pd.Series) -> list[int]:
    """The blocks (numbered from 1 within the stage) in which at least one channel parts."""
    return [i + 1 for i, k in enumerate(counts) if k > 0]


def channel_table(results: dict[str, dict]) -> pd.DataFrame:
    """Which channels part, per checked run (``{label: channel result}``, e.g. 'ResNet-110 seed 0') and stage, at
    the BN that closes each block (whose channels are those of the residual stream): the blocks in which any
    channel parts (of how many, and which), the channels that part per block in those blocks (median and largest
    count, of how many), the channel that parts in the most blocks and
    in how many, the largest channel ratio, and the median |gamma| of the parting channels against the others."""
    out = {}
    for label, res in results.items():
        for st in _stages(res):
            gp, go = st["gamma_parted"], st["gamma_other"]
            hit = _hit_blocks(st["counts"])
            out[(label, st["stage"])] = {
                "blocks with a parting channel": f"{len(hit)} of {st['blocks']}"
                + (f" ({_ranges(hit)})" if 0 < len(hit) < st["blocks"] else ""),
                f"channels at {DEPART} or more per parting block: median (largest)":
                    f"{np.median(st['counts'][st['counts'] > 0]):g} ({int(st['counts'].max())}) of {st['channels']}"
                    if hit else f"0 of {st['channels']}",
                "channel in the most blocks": _most(st["tally"], st["blocks"]),
                "largest channel ratio": f"{st['largest']:.2f}",
                "median |gamma|: parting / other channels":
                    f"{np.median(gp):.3f} / {np.median(go):.3f}" if gp and go else "\u2013"}
    return indexed_frame(out, ["run", "stage"])


def channel_report(results: dict[str, dict]) -> str:
    """What :func:`channel_table` shows, per run, in one computed line: in the stage where most channels part,
    in which blocks any channel parts and, in those, whether few channels or many carry the mismatch, whether the
    same stream channels part block after block,
    and whether they are the channels with small or large BN scales (Markdown; '' with nothing checked)."""
    lines = []
    for label, res in results.items():
        stages = _stages(res)
        if not stages:
            continue
        st = max(stages, key=lambda x: int(x["counts"].sum()))  # the first stage with the most, on a tie
        if st["counts"].sum() == 0:
            lines.append(f"- {label}: no channel of a block-closing BN reaches {DEPART}.")
            continue
        stage, blocks, n_ch = st["stage"], st["blocks"], st["channels"]
        hit = _hit_blocks(st["counts"])
        counts = st["counts"][st["counts"] > 0]  # in the blocks where any channel parts
        share = float(np.median(counts)) / n_ch
        steady = sorted(c for c, k in st["tally"].items() if k >= max(2, len(hit) / 2))  # twice at least
        gp = np.median(st["gamma_parted"])
        rest = st["gamma_other"]
        go = np.median(rest) if rest else float("nan")
        where = (f"in all {blocks} blocks" if len(hit) == blocks else
                 f"in {len(hit)} of its {blocks} blocks (block{'s' * (len(hit) > 1)} {_ranges(hit)})")
        those = "the blocks" if len(hit) == blocks else "those blocks"
        lines.append(
            f"- {label}, {stage} (the most parting channels), at the BN that closes each block: channels reach "
            f"{DEPART} {where}, a median of {np.median(counts):g} of {n_ch} per block there -- "
            + ("a few channels, not the whole layer" if share <= 0.25 else
               "nearly every channel: the whole layer parts, not a few channels" if share > 0.75 else
               "many of the layer's channels")
            + "; " + ("only one block parts, so no channel can part block after block" if len(hit) == 1 else
                      f"{len(steady)} of the {n_ch} channels part in at least half of {those}" if len(steady) > 8
                      else f"channel{'s' * (len(steady) > 1)} {', '.join(map(str, steady))} "
                      f"{'part' if len(steady) > 1 else 'parts'} in at least half of {those}, the same stream "
                      f"channel{'s' * (len(steady) > 1)} block after block" if steady else
                      f"no channel parts in half of {those}: different channels in different blocks")
            + (f"; the parting channels' median |gamma| is {gp:.3f} against {go:.3f} for the others."
               if rest and share <= 0.75 else "."))  # with nearly every channel parting, the others are too few
    return "\n".join(lines)


def parted_checks(checks: dict[str, dict[int, dict]]) -> dict[str, dict[int, dict]]:
    """The seeds whose BN-mode check parts (largest ratio :data:`DEPART` or more), per net (``{net: {seed:
    check}}``, :func:`resnet_lab.book.bn_seeds.seed_checks`)."""
    from .bn_seeds import _parts
    return {net: {s: c for s, c in by.items() if _parts(c)} for net, by in checks.items()}


def checked(checks: dict[str, dict[int, dict]]) -> dict[str, dict]:
    """The channel check of every parting seed of the ResNets in ``checks`` (a plain net has no residual stream),
    labelled 'ResNet-110 seed 0'; computed and cached where missing (about a minute of one core per net;
    ``python -m resnet_lab.book.caches --only bn_channels`` does it ahead), for runs whose weights load."""
    from ..models import paper_name
    from .store import RunSet, other_seeds, runs, with_weights
    out = {}
    for net, by in parted_checks(checks).items():
        if not by or not net.startswith("resnet"):
            continue
        usable = with_weights(RunSet({**runs([net]), **other_seeds([net])}))
        recs = {r.config.seed: r for r in usable.values()}
        for s in sorted(by):
            if s in recs:
                out[f"{paper_name(net)} seed {s}"] = channels(recs[s])
    return out


def data_line(results: dict[str, dict]) -> str:
    """What the channel check ran on, for a caption: the test images and batch size, the profile, the data and the
    runs it read (the labels of ``results``)."""
    from .render import and_list
    from .store import data_label, profile_name
    r = next(iter(results.values()), None)
    if r is None:
        return "no channel check cached yet"
    return (f"{r['test_images']:,} test images in batches of {r['batch_size']}; profile {profile_name()}, "
            f"{data_label()}; {and_list(list(results))}")
