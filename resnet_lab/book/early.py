"""Chapter 3's first SGD steps from initialisation (why the paper warms ResNet-110 up), cached.

The trace does not depend on any recorded run, only on the nets, the seed and the data, so it is computed once per
data source into ``runs/studies/first_steps/<source>/`` and read from there by every later build. The ``smoke``
profile (CI) uses batches of 32 instead of the recipe's 128: the same code, a quarter of the work.
"""
from __future__ import annotations

import json

import pandas as pd

from ..analysis import first_steps
from ..atomic import atomic_write_json
from ..runs import RunStore

STEPS = 15
BATCH = {"smoke": 32}  # images per step; default 128, the recipe's


def batch_size(profile: str | None = None) -> int:
    from .store import profile_name
    return BATCH.get(profile or profile_name(), 128)


def trace(archs=("plain56", "resnet56"), seed: int = 0) -> pd.DataFrame:
    """:func:`resnet_lab.analysis.first_steps` of each net (lr 0.1 and 0.01, ``STEPS`` steps), cached."""
    from .store import analysis_source, data
    b = batch_size()
    frames = []
    for arch in archs:
        f = RunStore().root / "studies" / "first_steps" / analysis_source() / f"{arch}-s{seed}-b{b}-{STEPS}.json"
        if f.exists():
            frames.append(pd.DataFrame(json.loads(f.read_text())))
            continue
        frame = first_steps(arch, data(), steps=STEPS, batch_size=b, seed=seed)
        try:
            atomic_write_json(f, frame.to_dict(orient="list"))
        except OSError:
            pass  # a read-only store: computed again next time
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
