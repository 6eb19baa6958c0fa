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
    each BN's mean and variance over *all* the values it receives while ``x`` (uint8 images, no augmentation)
    passes through in batches of ``batch_size`` with BN in training mode (as in training: every upstream layer
    normalised by its batch) -- the population statistics, E[x^2] - E[x]^2, so the spread of the batch means
    counts too. Full batches only; ``model`` itself is left untouched."""
    if len(x) < batch_size:
        raise ValueError(f"recalibrate needs at least one full batch: {len(x)} images < batch_size {batch_size}")
    m = copy.deepcopy(model).float()
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    if not bns:
        raise ValueError("the model has no BatchNorm2d to recalibrate")
    sums: dict[nn.Module, list] = {b: [0.0, 0.0, 0] for b in bns}

    def hook(b, args):
        v = args[0].detach().double()
        acc = sums[b]
        acc[0] = acc[0] + v.sum((0, 2, 3))
        acc[1] = acc[1] + (v * v).sum((0, 2, 3))
        acc[2] += v.numel() // v.shape[1]

    momenta = {b: b.momentum for b in bns}
    handles = [b.register_forward_pre_hook(hook) for b in bns]
    for b in bns:
        b.momentum = 0.0  # the running statistics are set from the sums below, not averaged in
    device = next(m.parameters()).device
    m.train()
    try:
        with torch.no_grad():
            for i in range(0, len(x) - batch_size + 1, batch_size):  # full batches only: every one weighs the same
                m(normalize(x[i:i + batch_size].to(device), mean.to(device)))
    finally:
        for h in handles:
            h.remove()
        for b in bns:
            b.momentum = momenta[b]
    with torch.no_grad():
        for b, (s1, s2, n) in sums.items():
            mu = s1 / n
            b.running_mean.copy_(mu.to(b.running_mean.dtype))
            b.running_var.copy_((s2 / n - mu * mu).clamp_min(0).to(b.running_var.dtype))
    return m.eval()


def mode_ratio(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, batch_size: int = 128) -> pd.DataFrame:
    """Per 3x3 layer (forward order): response std with BN in eval mode and in training mode (statistics of
    each batch of ``batch_size``, as in training), on the same images; ``ratio`` = eval / train, over all of a
    layer's values, and ``channel_ratio`` = the same for the mean over channels of each channel's std (which
    leaves out the spread of the channel means). Columns: layer, name, eval_std, train_std, ratio,
    eval_channel_std, train_channel_std, channel_ratio, gamma_abs."""
    if len(x) < batch_size or len(x) % batch_size:
        raise ValueError(f"mode_ratio compares the modes on full batches: {len(x)} images is not a multiple of "
                         f"batch_size {batch_size}")
    ev = layer_statistics(model, x, None, mean, bn_mode="eval", batch_size=batch_size)
    tr = layer_statistics(model, x, None, mean, bn_mode="train", batch_size=batch_size)
    return pd.DataFrame(dict(layer=ev.layer, name=ev.name, eval_std=ev["std"], train_std=tr["std"],
                             ratio=ev["std"] / tr["std"], eval_channel_std=ev.channel_std,
                             train_channel_std=tr.channel_std, channel_ratio=ev.channel_std / tr.channel_std,
                             gamma_abs=ev.gamma_abs))


def channel_ratios(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, batch_size: int = 128) -> dict:
    """Which channels part: per 3x3 layer (forward order) and channel, the response std with BN in eval mode over
    the std in training mode (as :func:`mode_ratio`, channel by channel, same images and batches), and the
    channel's |gamma|. A JSON-able dict: ``names`` (the layers), ``ratios`` and ``gamma_abs`` (one list per
    layer, one value per channel), ``test_images``, ``batch_size``."""
    if len(x) < batch_size or len(x) % batch_size:
        raise ValueError(f"channel_ratios compares the modes on full batches: {len(x)} images is not a multiple "
                         f"of batch_size {batch_size}")
    ev = layer_statistics(model, x, None, mean, bn_mode="eval", batch_size=batch_size, per_channel=True)
    tr = layer_statistics(model, x, None, mean, bn_mode="train", batch_size=batch_size, per_channel=True)
    ratios = [[e / t if t > 0 else float("nan") for e, t in zip(es, ts)]
              for es, ts in zip(ev.channel_stds, tr.channel_stds)]
    return dict(names=list(ev.name), ratios=ratios, gamma_abs=list(ev.channel_gamma_abs), test_images=len(x),
                batch_size=batch_size)


def error(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, batch_size: int = 500,
          bn_mode: str = "eval") -> float:
    """Single-view error of ``model`` on uint8 images ``x`` with labels ``y``: BN in eval mode, or with
    ``bn_mode='train'`` each batch of ``batch_size`` normalised by its own statistics (running statistics
    untouched). ``model`` is not changed."""
    if bn_mode not in ("eval", "train"):
        raise ValueError(f"bn_mode must be 'eval' or 'train'; got {bn_mode!r}")
    m = copy.deepcopy(model).train(bn_mode == "train")
    for b in m.modules():
        if isinstance(b, nn.BatchNorm2d):
            b.momentum = 0.0
    device = next(m.parameters()).device
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = m(normalize(x[i:i + batch_size].to(device), mean.to(device)))
            wrong += (out.argmax(1).cpu() != y[i:i + batch_size]).sum().item()
    return wrong / len(x)


def bn_check(model: nn.Module, test_x: torch.Tensor, test_y: torch.Tensor, train_x: torch.Tensor,
             mean: torch.Tensor, batch_size: int = 128) -> dict:
    """Both causes at once, for one trained net: :func:`mode_ratio` on the test images with the stored running
    statistics and with statistics re-estimated on ``train_x`` (:func:`recalibrate`), and the test error each
    way and with BN in training mode (batches of ``batch_size`` test images).
    A JSON-able dict: ``layers`` (columns of :func:`mode_ratio`, plus ``recal_eval_std`` and ``recal_ratio``,
    and ``recal_train_ratio``: the recalibrated net's ratio on the first ``len(test_x)`` images of ``train_x``,
    images its statistics were estimated from), ``error``, ``recal_error``, ``train_mode_error``,
    ``test_images``, ``recal_images``, ``batch_size``."""
    if len(train_x) < len(test_x):
        raise ValueError(f"bn_check needs at least as many training images as test images ({len(train_x)} < "
                         f"{len(test_x)})")
    stored = mode_ratio(model, test_x, mean, batch_size)
    recal = recalibrate(model, train_x, mean, batch_size)
    again = layer_statistics(recal, test_x, None, mean, bn_mode="eval", batch_size=batch_size)
    stored["recal_eval_std"] = again["std"]
    stored["recal_ratio"] = again["std"] / stored["train_std"]
    own = mode_ratio(recal, train_x[:len(test_x)], mean, batch_size)  # on images the statistics came from
    stored["recal_train_ratio"] = own["ratio"]
    return dict(layers=stored.to_dict(orient="list"), error=error(model, test_x, test_y, mean),
                recal_error=error(recal, test_x, test_y, mean),
                train_mode_error=error(model, test_x, test_y, mean, batch_size=batch_size, bn_mode="train"),
                test_images=len(test_x), recal_images=len(train_x) - len(train_x) % batch_size,
                batch_size=batch_size)
