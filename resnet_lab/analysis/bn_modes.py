"""BN in eval mode against BN in training mode: is a layer's response what the net saw in training?

Fig. 7 measures responses with BN in **eval mode**: each BN is a fixed affine map built from running statistics.
During training every BN normalised with the statistics of the batch in front of it. If the running statistics
describe what a layer receives at test time, each channel's response std is its |gamma| in both modes. They can
fail to for two reasons, which this module separates:

* **stale or mis-estimated running statistics** (an exponential average of batch statistics taken while the
  weights were still moving): :func:`recalibrate` re-estimates them with the final weights, as the plain average
  of the batch statistics over training images ("precise BN"); if the gap closes, that was the cause;
* **the mode itself**: in eval mode a layer's input comes from upstream layers that also use running statistics
  instead of batch statistics, so a small difference in one layer is passed on, and in a net with an identity
  path it is carried along and can grow from block to block; in training mode the next BN removes it.

:func:`mode_ratio` gives, per 3x3 layer, the response std in eval mode over the std in training mode on the same
images and batches (1 where the two modes agree); :func:`bn_check` adds the recalibrated net and test errors.
"""
from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn

from ..data import normalize
from .responses import layer_statistics


def recalibrate(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, batch_size: int = 128) -> nn.Module:
    """A copy of ``model`` whose BN running statistics are re-estimated with its final weights ("precise BN"):
    the plain (not exponential) average of the batch statistics over ``x`` (uint8 images, no augmentation),
    in batches of ``batch_size`` with BN in training mode. ``model`` itself is left untouched."""
    if len(x) < batch_size:
        raise ValueError(f"recalibrate needs at least one full batch: {len(x)} images < batch_size {batch_size}")
    m = copy.deepcopy(model).float()
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    if not bns:
        raise ValueError("the model has no BatchNorm2d to recalibrate")
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative average over the batches
    device = next(m.parameters()).device
    m.train()
    with torch.no_grad():
        for i in range(0, len(x) - batch_size + 1, batch_size):  # full batches only: every one weighs the same
            m(normalize(x[i:i + batch_size].to(device), mean.to(device)))
    for b in bns:
        b.momentum = 0.1
    return m.eval()


def mode_ratio(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, batch_size: int = 128) -> pd.DataFrame:
    """Per 3x3 layer (forward order): response std with BN in eval mode and in training mode (statistics of
    each batch of ``batch_size``, as in training), on the same images; ``ratio`` = eval / train.
    Columns: layer, name, eval_std, train_std, ratio, eval_channel_std, gamma_abs."""
    ev = layer_statistics(model, x, None, mean, bn_mode="eval", batch_size=batch_size)
    tr = layer_statistics(model, x, None, mean, bn_mode="train", batch_size=batch_size)
    return pd.DataFrame(dict(layer=ev.layer, name=ev.name, eval_std=ev["std"], train_std=tr["std"],
                             ratio=ev["std"] / tr["std"], eval_channel_std=ev.channel_std,
                             gamma_abs=ev.gamma_abs))


def error(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, batch_size: int = 500) -> float:
    """Single-view error of ``model`` in eval mode on uint8 images ``x`` with labels ``y``."""
    model = model.eval()
    device = next(model.parameters()).device
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = model(normalize(x[i:i + batch_size].to(device), mean.to(device)))
            wrong += (out.argmax(1).cpu() != y[i:i + batch_size]).sum().item()
    return wrong / len(x)


def bn_check(model: nn.Module, test_x: torch.Tensor, test_y: torch.Tensor, train_x: torch.Tensor,
             mean: torch.Tensor, batch_size: int = 128) -> dict:
    """Both causes at once, for one trained net: :func:`mode_ratio` on the test images with the stored running
    statistics and with statistics re-estimated on ``train_x`` (:func:`recalibrate`), and the test error of each.
    A JSON-able dict: ``layers`` (columns of :func:`mode_ratio`, plus ``recal_eval_std`` and ``recal_ratio``,
    and ``recal_train_ratio``: the recalibrated net's ratio on the first ``len(test_x)`` images of ``train_x``,
    images its statistics were estimated from, so that neither staleness nor test images can be the cause),
    ``error``, ``recal_error``, ``test_images``, ``recal_images``, ``batch_size``."""
    stored = mode_ratio(model, test_x, mean, batch_size)
    recal = recalibrate(model, train_x, mean, batch_size)
    again = layer_statistics(recal, test_x, None, mean, bn_mode="eval", batch_size=batch_size)
    stored["recal_eval_std"] = again["std"]
    stored["recal_ratio"] = again["std"] / stored["train_std"]
    own = mode_ratio(recal, train_x[:len(test_x)], mean, batch_size)  # on images the statistics came from
    stored["recal_train_ratio"] = own["ratio"]
    return dict(layers=stored.to_dict(orient="list"), error=error(model, test_x, test_y, mean),
                recal_error=error(recal, test_x, test_y, mean), test_images=len(test_x),
                recal_images=len(train_x) - len(train_x) % batch_size, batch_size=batch_size)
