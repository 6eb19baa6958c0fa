"""Analyses of single nets, computed once and cached: of a recorded run in its record, of the untrained net (the
control) under ``runs/studies/init/<source>/``."""
from __future__ import annotations

import pandas as pd
import torch

from .. import analysis
from ..runs import RunRecord, RunStore
from ..train import RunConfig
from .store import analysis_source, data, profile_name, run_data


ANALYSIS_IMAGES = {"smoke": 500}  # test images for the analyses of untrained nets; default 500
GRADIENT_IMAGES = {"smoke": 250}  # images (batches of 125, BN in training mode) for the gradient analysis; default 500


def _images(record: RunRecord, n: int | None):
    return analysis.eval_images(run_data(record), n)


def responses(record: RunRecord) -> pd.DataFrame:
    """Fig. 7 statistics of a trained run: per 3x3 layer, response std on the test set (eval mode), |gamma|."""
    def compute():
        x, _ = _images(record, ANALYSIS_IMAGES.get(record.config.profile))
        return analysis.layer_statistics(record.load_model(), x, None, data().mean).to_dict(orient="list")
    return pd.DataFrame(record.cached("responses", compute, keys=("layer", "name", "std", "channel_std", "gamma_abs")))


def layer_gradients(record: RunRecord, trained: bool = True) -> pd.DataFrame:
    """Forward response std and backward gradient RMS per layer, BN in training mode (Sec. 4.1's argument)."""
    if not trained:
        return init_gradients(record.config.arch, record.config.seed)

    def compute():
        x, y = _images(record, GRADIENT_IMAGES.get(record.config.profile, 500))
        return analysis.layer_statistics(record.load_model(), x, y, data().mean, bn_mode="train", grads=True,
                                         batch_size=125).to_dict(orient="list")
    return pd.DataFrame(record.cached("gradients_trained", compute, keys=("layer", "std", "grad_rms")))


def _init_cached(arch: str, seed: int, name: str, compute) -> pd.DataFrame:
    """An analysis of the *untrained* net (its run's initialisation: same arch, same seed), cached under
    ``runs/studies/init/<source>/`` (:func:`analysis_source`: the JPEG copy's results are never read as the
    official release's) -- the control every trained-net analysis is read against."""
    import json
    from ..atomic import atomic_write_json
    n = ANALYSIS_IMAGES.get(profile_name(), 500)
    f = RunStore().root / "studies" / "init" / analysis_source() / f"{arch}-s{seed}" / f"{name}-{n}.json"
    if f.exists():
        return pd.DataFrame(json.loads(f.read_text()))
    torch.manual_seed(seed)  # the same initial weights as the run of this seed (train() seeds the same way)
    value = compute(RunConfig(arch).build(), n).to_dict(orient="list")
    try:
        atomic_write_json(f, value)
    except OSError:
        pass
    return pd.DataFrame(value)


def init_gradients(arch: str, seed: int = 0) -> pd.DataFrame:
    """:func:`layer_gradients` of the untrained net."""
    def compute(model, n):
        x, y = analysis.eval_images(data(), min(n, GRADIENT_IMAGES.get(profile_name(), 500)))
        return analysis.layer_statistics(model, x, y, data().mean, bn_mode="train", grads=True, batch_size=125)
    return _init_cached(arch, seed, "gradients", compute)


def init_responses(arch: str, seed: int = 0) -> pd.DataFrame:
    """Fig. 7 statistics of the untrained net, BN on batch statistics (its running statistics are not yet
    estimated): every response std is then |gamma| = 1 by construction, plain or residual."""
    def compute(model, n):
        x, _ = analysis.eval_images(data(), n)
        return analysis.layer_statistics(model, x, None, data().mean, bn_mode="train")
    return _init_cached(arch, seed, "responses", compute)


def init_branch_identity(arch: str, seed: int = 0) -> pd.DataFrame:
    """Branch vs identity of the untrained net (BN on batch statistics)."""
    def compute(model, n):
        x, _ = analysis.eval_images(data(), n)
        return analysis.branch_vs_identity(model, x, data().mean, bn_mode="train")
    return _init_cached(arch, seed, "branch_identity", compute)


def branch_identity(record: RunRecord, bn_mode: str = "eval") -> pd.DataFrame:
    """Per residual block: std of F(x) against std of the identity path, on the test set. ``bn_mode='train'``
    normalises each batch of 128 by its own statistics, as in training (chapter 4's measure for Fig. 7, which
    BN's eval mode distorts in ResNet-110); 'eval' uses the running statistics (the paper's setting)."""
    if bn_mode not in ("eval", "train"):
        raise ValueError(f"bn_mode must be 'eval' or 'train'; got {bn_mode!r}")

    def compute():
        x, _ = _images(record, ANALYSIS_IMAGES.get(record.config.profile))
        kw = dict(bn_mode="train", batch_size=128) if bn_mode == "train" else {}
        return analysis.branch_vs_identity(record.load_model(), x, data().mean, **kw).to_dict(orient="list")
    name = "branch_identity" if bn_mode == "eval" else "branch_identity_train"
    return pd.DataFrame(record.cached(name, compute, keys=("block", "branch_std", "identity_std", "ratio")))
