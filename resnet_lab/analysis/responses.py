"""Layer responses (Fig. 7), gradients and branch/identity ratios of trained and untrained nets.

* :func:`layer_statistics` -- per 3x3 layer: std of its response (after BN,
  before addition/ReLU; paper Fig. 7), per-channel std, |gamma| of its BN, and
  optionally the RMS of the loss gradient arriving at it (Sec. 4.1's
  "not vanishing gradients" argument).
* :func:`branch_vs_identity` -- per residual block, std of the residual branch
  F(x) against std of the identity path x.
* :func:`fold_identity` -- y = W1 x + x is one conv with W1 + I (Sec. 3.2).
"""
from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn
import torch.nn.functional as F

from ..data import normalize
from ..models import Response, response_modules


def _bn_before(model: nn.Module) -> dict[str, nn.BatchNorm2d | None]:
    """For each Response, the BN that feeds it (the module registered right before it), if any."""
    out, prev = {}, None
    for name, m in model.named_modules():
        if isinstance(m, Response):
            out[name] = prev if isinstance(prev, nn.BatchNorm2d) else None
        if not list(m.children()):
            prev = m
    return out


def layer_statistics(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, mean: torch.Tensor,
                     bn_mode: str = "eval", grads: bool = False, batch_size: int = 500,
                     kernel: int | None = 3, per_channel: bool = False) -> pd.DataFrame:
    """One row per response tap (3x3 layers by default), in forward order.

    ``x``: uint8 images; ``bn_mode``: 'eval' (running statistics, as Fig. 7 on the
    test set) or 'train' (batch statistics, as during training; running stats are
    left untouched). ``grads=True`` also backpropagates the mean cross-entropy and
    reports the RMS of dL/d(response) averaged over batches.
    Columns: layer (1-based), name, std, channel_std, gamma_abs, grad_rms; with ``per_channel=True`` also
    ``channel_stds`` and ``channel_gamma_abs``: each channel's std and its BN's |gamma| (lists).
    """
    if bn_mode not in ("eval", "train"):
        raise ValueError(f"bn_mode must be 'eval' or 'train'; got {bn_mode!r}")
    if grads and y is None:
        raise ValueError("grads=True needs labels y")
    model = copy.deepcopy(model).float()
    device = next(model.parameters()).device
    model.train(bn_mode == "train")
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.0  # keep running statistics as they are
    taps = [(n, m) for n, m in response_modules(model) if kernel is None or m.kernel == kernel]
    bns = _bn_before(model)
    acc = {n: dict(s=0.0, ss=0.0, cnt=0, cs=None, css=None, g=0.0, gb=0) for n, _ in taps}
    hooks = []

    def fwd(name):
        def hook(m, args, out):
            o = out.detach().double()
            a = acc[name]
            a["s"] += o.sum().item()
            a["ss"] += (o * o).sum().item()
            a["cnt"] += o.numel()
            cs, css = o.sum((0, 2, 3)), (o * o).sum((0, 2, 3))
            a["cs"] = cs if a["cs"] is None else a["cs"] + cs
            a["css"] = css if a["css"] is None else a["css"] + css
            a["ccnt"] = a.get("ccnt", 0) + o.numel() // o.shape[1]
            if grads:
                out.register_hook(lambda g: a.__setitem__("g", a["g"] + g.double().pow(2).mean().sqrt().item())
                                  or a.__setitem__("gb", a["gb"] + 1))
        return hook

    for n, m in taps:
        hooks.append(m.register_forward_hook(fwd(n)))
    mean = mean.to(device)
    try:
        for i in range(0, len(x), batch_size):
            xb = normalize(x[i:i + batch_size].to(device), mean)
            with torch.set_grad_enabled(grads):
                out = model(xb)
                if grads:
                    model.zero_grad(set_to_none=True)
                    F.cross_entropy(out, y[i:i + batch_size].to(device)).backward()
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for k, (n, _) in enumerate(taps, start=1):
        a = acc[n]
        mu = a["s"] / a["cnt"]
        std = max(a["ss"] / a["cnt"] - mu * mu, 0.0) ** 0.5
        cmu = a["cs"] / a["ccnt"]
        cstds = (a["css"] / a["ccnt"] - cmu * cmu).clamp_min(0).sqrt()
        bn = bns.get(n)
        row = dict(layer=k, name=n, std=std, channel_std=cstds.mean().item(),
                   gamma_abs=bn.weight.detach().abs().mean().item() if bn is not None else float("nan"),
                   grad_rms=a["g"] / a["gb"] if grads and a["gb"] else float("nan"))
        if per_channel:
            row["channel_stds"] = cstds.tolist()
            row["channel_gamma_abs"] = (bn.weight.detach().abs().double().tolist() if bn is not None
                                        else [float("nan")] * len(cstds))
        rows.append(row)
    return pd.DataFrame(rows)


def branch_vs_identity(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, batch_size: int = 500,
                       bn_mode: str = "eval") -> pd.DataFrame:
    """Per residual block: std of F(x) (the branch, before the addition) and of the shortcut's output.

    ``bn_mode='train'`` uses batch statistics (for an untrained net, whose running statistics mean nothing);
    running statistics are left untouched either way."""
    if bn_mode not in ("eval", "train"):
        raise ValueError(f"bn_mode must be 'eval' or 'train'; got {bn_mode!r}")
    model = copy.deepcopy(model).float().train(bn_mode == "train")
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.0
    device = next(model.parameters()).device
    blocks = [(n, m) for n, m in model.named_modules()
              if getattr(m, "residual", False) and isinstance(getattr(m, "shortcut", None), nn.Module)]
    if not blocks:
        raise ValueError("the model has no residual blocks (a plain net?)")
    acc = {n: [0.0, 0.0, 0, 0.0, 0.0] for n, _ in blocks}
    hooks = []
    for n, blk in blocks:
        last = [m for name, m in blk.named_children() if isinstance(m, Response)][-1]

        def h_branch(m, a, o, n=n):
            o = o.detach().double()
            acc[n][0] += o.sum().item(); acc[n][1] += (o * o).sum().item(); acc[n][2] += o.numel()

        def h_short(m, a, o, n=n):
            o = o.detach().double()
            acc[n][3] += o.sum().item(); acc[n][4] += (o * o).sum().item()

        hooks += [last.register_forward_hook(h_branch), blk.shortcut.register_forward_hook(h_short)]
    mean = mean.to(device)
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            model(normalize(x[i:i + batch_size].to(device), mean))
    for h in hooks:
        h.remove()
    rows = []
    for k, (n, _) in enumerate(blocks, start=1):
        s, ss, c, si, ssi = acc[n]
        rows.append(dict(block=k, name=n, branch_std=(ss / c - (s / c) ** 2) ** 0.5,
                         identity_std=max(ssi / c - (si / c) ** 2, 0.0) ** 0.5))
    frame = pd.DataFrame(rows)
    frame["ratio"] = frame.branch_std / frame.identity_std
    return frame


def fold_identity(conv: nn.Conv2d) -> nn.Conv2d:
    """A conv computing conv(x) + x: W1 + I, the identity added at the kernel centre (needs cin == cout, stride 1)."""
    if conv.in_channels != conv.out_channels or conv.stride != (1, 1) or conv.groups != 1:
        raise ValueError("fold_identity needs a stride-1 conv with as many output as input channels")
    folded = copy.deepcopy(conv)
    kh, kw = conv.kernel_size
    with torch.no_grad():
        idx = torch.arange(conv.in_channels)
        folded.weight[idx, idx, kh // 2, kw // 2] += 1.0
    return folded


def eval_images(data, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` test images of a fixed shuffle (all 10k when n is None)."""
    idx = torch.randperm(len(data.test_y), generator=torch.Generator().manual_seed(3))
    idx = idx[:n] if n else idx
    return data.test_x[idx], data.test_y[idx]
