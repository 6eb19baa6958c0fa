"""Chapter 3, "Several GPUs": BN over 64 images (the paper's two GPUs, each normalising its half of the batch)
against BN over all 128 (one GPU, or ``--sync-bn``), ResNet-20 at the `quick` profile, 3 seeds each, judged by
the book's rule. One process with ``--ghost-bn 64`` trains the arithmetic of two GPUs with BN per device
(``tests/test_distributed.py``), so a CPU can measure it."""
from __future__ import annotations

import pandas as pd

from .. import experiments as E
from ..runs import RunStore
from ..train import RunConfig
from .store import RunSet, _data_source

ARCH, PROFILE, SEEDS, GHOST = E.BN_BATCH_ARCH, E.BN_BATCH_PROFILE, E.BN_BATCH_SEEDS, E.BN_BATCH_GHOST
ARMS = E.BN_BATCH_ARMS


def configs() -> dict[str, list[RunConfig]]:
    """The runs of each arm: ResNet-20, `quick`, seeds 0-2; BN over groups of 64 (one process) or the batch."""
    return E.bn_batch_runs(_data_source())


def records() -> dict[str, RunSet]:
    """Each arm's recorded runs keyed by seed; the others named in ``.missing`` (the book never trains)."""
    store, out = RunStore(), {}
    for arm, cfgs in configs().items():
        got = {c.seed: store.get(c) for c in cfgs}
        out[arm] = RunSet({s: r for s, r in got.items() if r is not None and not r.failed},
                          missing=[c for c in cfgs if got[c.seed] is None])
    return out


def table(recs: dict[str, RunSet]) -> pd.DataFrame:
    """BN over 64 minus BN over 128 on final training and test error: means [95% interval], Welch, Holm over
    the two rows, the verdict (:func:`resnet_lab.book.verdicts.comparison_table`)."""
    from .verdicts import comparison_table
    a, b = ARMS
    pairs = {f"{a} \u2212 {b}, {what} error": ({s: r.metrics[m] for s, r in recs[a].items()},
                                               {s: r.metrics[m] for s, r in recs[b].items()})
             for m, what in (("final_train_error", "training"), ("final_test_error", "test"))}
    return comparison_table(pairs, names=(f"{a} (mean, %)", f"{b} (mean, %)"))


def summary(t: pd.DataFrame) -> str:
    """Two plain sentences on :func:`table`, computed: the test-error row's difference and verdict."""
    row = t.iloc[-1]
    if row["verdict"] == "not recorded":
        return "Not all of these runs are recorded yet; the commands above train them."
    return (f"BN over {GHOST} images instead of 128 changes ResNet-20's final test error by {row['difference']} "
            f"points (seeds {row['seeds']}): {row['verdict']} by the book's rule. "
            + ("The paper's two-GPU batch statistics change what the net learns at this budget."
               if row["verdict"] == "difference" else
               "A change smaller than that interval is not ruled out; more seeds would narrow it."))


def commands() -> str:
    """The commands that train both arms (one process; the two-GPU equivalent with torchrun)."""
    seeds = " ".join(map(str, SEEDS))
    return (f"```bash\nfor s in {seeds}; do python -m resnet_lab train --arch {ARCH} --profile {PROFILE} --seed $s "
            f"--ghost-bn {GHOST}; done   # BN over {GHOST}\nfor s in {seeds}; do python -m resnet_lab train --arch "
            f"{ARCH} --profile {PROFILE} --seed $s; done   # BN over 128\n# on two GPUs, BN per device (= --ghost-bn "
            f"{GHOST}):\ntorchrun --nproc-per-node 2 -m resnet_lab train --arch {ARCH} --profile {PROFILE} --seed 0\n```")
