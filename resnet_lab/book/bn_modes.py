"""Chapter 4's check of Fig. 7: does BN in eval mode give each layer the response it had in training?

Computed once per recorded run and cached in its record (``analysis/bn_modes.json``,
:func:`resnet_lab.analysis.bn_modes.bn_check`): per 3x3 layer the response std with BN in eval mode (Fig. 7's)
and in training mode (batch statistics) on the same test images, the same with running statistics
re-estimated on training images ("precise BN"), and the test error both ways.
"""
from __future__ import annotations

import pandas as pd

from ..runs import RunRecord
from .render import and_list, block_label, pct
from .store import run_data
from ..analysis import bn_modes as BM

TEST_IMAGES = {"smoke": 256}  # test images (the fixed shuffle of the other analyses), whole batches; default 2,048
RECAL_IMAGES = {"smoke": 256}  # training images for the recalibration, in batches of 128; default 5,120
BATCH = 128  # the training batch size: training-mode statistics are those of batches of this size
NETS = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")  # Fig. 7's
KEYS = ("layers", "error", "recal_error", "train_mode_error")  # the fields of a cached check
DEPART = 1.5  # a layer whose eval-mode response is 1.5 times its training-mode one (or more) has "parted"


def settings(profile: str) -> dict:
    return dict(test_images=TEST_IMAGES.get(profile, 2048), recal_images=RECAL_IMAGES.get(profile, 5120),
                batch_size=BATCH)


def check(record: RunRecord) -> dict:
    """:func:`resnet_lab.analysis.bn_modes.bn_check` of a recorded run, cached as ``analysis/bn_modes.json``."""
    import torch
    from ..analysis import eval_images

    def compute():
        s = settings(record.config.profile)
        d = run_data(record)
        x, y = eval_images(d, s["test_images"])
        pick = torch.randperm(len(d.train_x), generator=torch.Generator().manual_seed(0))[:s["recal_images"]]
        return BM.bn_check(record.load_model(), x, y, d.train_x[pick], d.mean, batch_size=s["batch_size"])
    return record.cached("bn_modes", compute, keys=KEYS)


def frame(result: dict) -> pd.DataFrame:
    return pd.DataFrame(result["layers"])


def train_frames(checks: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """Fig. 7's statistics with BN in training mode (each batch normalised by its own statistics, as in
    training): per 3x3 layer ``std``, ``channel_std`` and ``gamma_abs``, in the columns :func:`plots.fig7` and
    :func:`resnet_lab.book.layer_responses.response_report` read."""
    return {k: frame(v).rename(columns={"train_std": "std", "train_channel_std": "channel_std"})
            [["layer", "name", "std", "channel_std", "gamma_abs"]] for k, v in checks.items()}


def _where(name: str) -> tuple[str, str]:
    """'stage3.5.response2' -> ('stage 3', 'second BN of a block'); 'response0' -> ('stem', 'stem BN')."""
    parts = name.split(".")
    if len(parts) < 3:
        return "stem", "stem BN"
    return f"stage {parts[0][5:]}", {"response1": "first BN of a block", "response2": "second BN of a block"}.get(
        parts[-1], parts[-1])


def mismatch_table(checks: dict[str, dict]) -> pd.DataFrame:
    """Where the eval/training-mode mismatch is made, for each net that parts from training mode
    (:func:`parted_nets`): per stage and BN position in the block, the median and largest ratio of eval-mode to
    training-mode response std. Empty when no net parts."""
    rows = []
    for net in parted_nets(checks):
        f = frame(checks[net])
        where = pd.DataFrame([_where(n) for n in f["name"]], columns=["stage", "BN"])
        g = pd.concat([where, f["ratio"]], axis=1).groupby(["stage", "BN"], sort=False)["ratio"]
        for (stage, bn), v in g:
            rows.append({"net": net, "stage": stage, "BN": bn, "layers": len(v), "median ratio": f"{v.median():.2f}",
                         "largest ratio": f"{v.max():.2f}"})
    return pd.DataFrame(rows).set_index(["net", "stage", "BN"]) if rows else pd.DataFrame()


def mismatch_summary(checks: dict[str, dict]) -> str:
    """Where the mismatch is made, in words computed from :func:`mismatch_table`: whether its median grows from
    stage to stage and whether, within a stage, it is larger at the BN that closes the residual branch (a block's
    second) than at the first. '' when no net parts from training mode (Markdown)."""
    t = mismatch_table(checks)
    if t.empty:
        return ""
    lines = []
    for net in dict.fromkeys(t.index.get_level_values(0)):
        f = t.loc[net]
        med = {k: float(v) for k, v in f["median ratio"].items()}
        stages = [st for st in dict.fromkeys(k[0] for k in med) if st != "stem"]
        first = {st: med.get((st, "first BN of a block")) for st in stages}
        second = {st: med.get((st, "second BN of a block")) for st in stages}
        worst = [max(first[st], second[st]) for st in stages]
        grows = all(b > a for a, b in zip(worst, worst[1:]))
        later = [st for st in stages if second[st] > first[st]]
        lines.append(
            f"- {net}: the median ratio {'grows' if grows else 'does not grow'} from stage to stage "
            f"({', '.join(f'{st}: {first[st]:.2f} at the first BN, {second[st]:.2f} at the second' for st in stages)}); "
            + (f"in {'every stage' if len(later) == len(stages) else and_list(later)} it is larger at the BN that "
               f"closes the residual branch than at the first, so the mismatch is made inside the branches."
               if later else "no stage has it larger at the BN that closes the residual branch."))
    return "\n".join(lines)


def data_line(checks: dict[str, dict], with_data: bool = True) -> str:
    """What the check ran on, for a caption (``with_data=False``: without the data set's name, for a caption that
    names it with the runs)."""
    r = next(iter(checks.values()), None)
    if r is None:
        return "no check cached yet"
    from .store import data_label
    return (f"{r['test_images']:,} test images in batches of {r['batch_size']}, statistics re-estimated on "
            f"{r['recal_images']:,} training images (no augmentation) with the final weights"
            + (f"; {data_label()}" if with_data else ""))


def _parted(f: pd.DataFrame) -> str | None:
    """Where a net's eval mode first parts from training mode (the first layer at :data:`DEPART` or more)."""
    hit = f[f.ratio >= DEPART]
    if hit.empty:
        return None
    name = str(hit.name.iloc[0])
    return block_label(name.rsplit(".", 1)[0]) if "." in name else name


def parted_nets(checks: dict[str, dict]) -> list[str]:
    """The nets in which some layer's eval-mode response is :data:`DEPART` times its training-mode one or more."""
    return [k for k, v in checks.items() if _parted(frame(v)) is not None]


def _images(n: int, what: str = "images") -> str:
    return f"{n:,} {what}"


def mode_table(checks: dict[str, dict]) -> pd.DataFrame:
    """The check read off, one column per net: eval-mode over training-mode response std (median and largest over
    the 3x3 layers), the first layer where they part (:data:`DEPART` or more) and how many later layers do too, the
    ratio in the last stage, the same after re-estimating the BN statistics ("precise BN") on test and on training
    images, the test error in each mode, and Fig. 7's mean response std in training mode."""
    rows = {}
    for k, r in checks.items():
        f = frame(r)
        first = _parted(f)
        later = f.ratio.iloc[int((f.ratio >= DEPART).to_numpy().argmax()) + 1:] if first else f.ratio.iloc[:0]
        last = f[f.name.str.startswith("stage3")]
        rows[k] = {"eval/train std, median (largest)": f"{f.ratio.median():.2f} ({f.ratio.max():.2f})",
                   f"first layer at {DEPART} or more": first or "none",
                   f"later layers at {DEPART} or more": f"{int((later >= DEPART).sum())} of {len(later)}" if first
                   else "\u2013",
                   "stage 3, median (per channel)": f"{last.ratio.median():.2f} ({last.channel_ratio.median():.2f})"
                   if len(last) else "\u2013",
                   "precise BN, median (largest)": f"{f.recal_ratio.median():.2f} ({f.recal_ratio.max():.2f})",
                   "precise BN on training images, median (largest)":
                       f"{f.recal_train_ratio.median():.2f} ({f.recal_train_ratio.max():.2f})",
                   "test error: eval / precise BN / training mode":
                       f"{pct(r['error'])} / {pct(r['recal_error'])} / {pct(r['train_mode_error'])}",
                   "Fig. 7 mean std, training mode": f"{float(f.train_std.mean()):.3f}"}
    return pd.DataFrame(rows)


def report(checks: dict[str, dict]) -> str:
    """What :func:`mode_table` shows, in a few computed sentences: where eval mode parts from training mode and
    whether re-estimating the statistics closes the gap. (Fig. 7's depth steps in training mode are judged over
    seeds in :func:`resnet_lab.book.layer_responses.response_table`.)"""
    if not checks:
        return ""
    fr = {k: frame(v) for k, v in checks.items()}
    parted = {k: _parted(f) for k, f in fr.items()}
    steady = [k for k, p in parted.items() if p is None]
    lines = []
    for k, f in fr.items():
        if parted[k] is None:
            continue
        r = checks[k]
        closes = f.recal_ratio.max() < DEPART
        line = (f"- In {k} eval mode first parts from training mode (a ratio of {DEPART} or more) in {parted[k]}. "
                f"Re-estimating its BN statistics with its final weights (\"precise BN\", on "
                f"{_images(r['recal_images'], 'training images')}) " + ("closes the gap." if closes else
                   f"does not close the gap (largest ratio {f.ratio.max():.2f} before, {f.recal_ratio.max():.2f} "
                   f"after), so stale statistics explain at most part of it"
                   + ("; it is there on the training images the statistics were re-estimated from too, so it arises "
                      "in this net's eval-mode forward pass." if f.recal_train_ratio.max() >= DEPART else ".")))
        lines.append(line)
    if steady:
        lines.append(f"- In {and_list(steady)} no layer's ratio reaches {DEPART}"
                     + (": eval and training mode agree within that." if lines else "."))
    return "\n".join(lines)


def nets_checked() -> dict[str, dict]:
    """Fig. 7's nets (seed 0) with the check cached or computable: name -> result."""
    from .store import runs, with_weights
    return {name: check(rec) for name, rec in with_weights(runs(list(NETS))).items()}
