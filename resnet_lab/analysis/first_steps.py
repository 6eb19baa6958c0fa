"""The first SGD steps from initialisation (why the paper warms ResNet-110 up)."""
from __future__ import annotations

import copy

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data import normalize


def pooled_features(model: nn.Module, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """The globally average-pooled features that enter the classifier (BN in training mode, as at step 0)."""
    model = copy.deepcopy(model).float().train()
    feats = []
    hook = model.fc.register_forward_hook(lambda m, a, o: feats.append(a[0].detach()))
    with torch.no_grad():
        model(normalize(x, mean))
    hook.remove()
    return feats[0]


def first_steps(arch: str, data, lrs=(0.1, 0.01), steps: int = 15, batch_size: int = 128, seed: int = 0) -> pd.DataFrame:
    """Training loss over the first SGD steps (recipe of Sec. 4.2, no augmentation) at each lr.

    Shows the early blow-up of deep option-A ResNets at lr 0.1. Columns: arch, lr, step, loss,
    plus the mean of the pooled features at initialisation.
    """
    from ..models import build
    g = torch.Generator().manual_seed(seed)
    batches = [torch.randint(0, len(data.train_y), (batch_size,), generator=g) for _ in range(steps)]
    rows = []
    for lr in lrs:
        torch.manual_seed(seed)
        model = build(arch).train()
        feat_mean = pooled_features(model, data.train_x[batches[0]], data.mean).mean().item()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
        for step, idx in enumerate(batches):
            loss = F.cross_entropy(model(normalize(data.train_x[idx], data.mean)), data.train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            rows.append(dict(arch=arch, lr=lr, step=step, loss=loss.item(), feature_mean=feat_mean))
    return pd.DataFrame(rows)
