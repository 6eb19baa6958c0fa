"""Sec. 3.4's test-time protocols, on the CIFAR nets: flips, 10-crop, and the fully-convolutional multi-scale form.

The paper (Sec. 3.4): "In testing, for comparison studies we adopt the standard 10-crop testing. For best
results, we adopt the fully-convolutional form as in [41, 13], and average the scores at multiple scales."

* :func:`fully_convolutional` -- the same net with its last layer, the 10-way fc, applied as a 1x1 convolution
  at every position of the last feature map, followed by the spatial average of the resulting class-score
  map. A linear layer commutes with average pooling, so this is the *same function* as the original net at
  every input size; what it adds is the score map (:func:`score_map`), whose spatial average is the
  prediction. Any input size works: a 32x32 image gives an 8x8 score map, 48x48 a 12x12 one, 64x64 16x16.
* :func:`ten_crop` -- the standard 10-crop adapted to CIFAR: the image zero-padded by 4 pixels to 40x40 (in
  mean-subtracted units, exactly as the training augmentation pads), its four corner 32x32 crops and the
  centre crop (which is the original image), and the horizontal flips of all five.
* :func:`evaluate` -- test error of each protocol on a set of images, with the softmax probabilities of the
  views averaged (as 10-crop testing conventionally does; the error with averaged logits is kept beside it).

Inference only: BN in eval mode (running statistics), no gradients, batched.
"""
from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from ..data import normalize

SCALES = (32, 40, 48, 64)  # input sizes of the multi-scale test (the paper: shorter side 224 ... 640 for 224 crops)
PAD = 4  # the training augmentation's padding; the 10-crop's canvas is 32 + 2 * PAD
METHODS = {  # key: (label, number of views)
    "single": ("single view", 1),
    "flip": ("+ flip", 2),
    "ten_crop": ("10-crop", 10),
    "multiscale": ("multi-scale", len(SCALES)),
    "multiscale_flip": ("multi-scale + flip", 2 * len(SCALES)),
}


class FullyConvolutional(nn.Module):
    """A CIFAR net (:class:`~resnet_lab.models.CifarNet`) in fully-convolutional form.

    ``score_map(x)`` is the class-score map [B, classes, h, w] (the fc as a 1x1 convolution over the last
    feature map); ``forward(x)`` its spatial average. The wrapped net's weights are copied, not shared.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        from ..models import CifarNet
        if not isinstance(net, CifarNet):
            raise ValueError(f"fully_convolutional needs a CIFAR net (CifarNet); got {type(net).__name__}")
        self.net = copy.deepcopy(net)
        fc = self.net.fc
        self.classifier = nn.Conv2d(fc.in_features, fc.out_features, kernel_size=1, bias=fc.bias is not None)
        with torch.no_grad():
            self.classifier.weight.copy_(fc.weight[:, :, None, None])
            if fc.bias is not None:
                self.classifier.bias.copy_(fc.bias)
        self.net.fc = nn.Identity()  # not used; the 1x1 convolution replaces it
        self.train(net.training)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (before global average pooling), as CifarNet.forward computes it."""
        n = self.net
        x = n.response0(n.bn1(n.conv1(x)))
        x = x if n.variant == "preact" else F.relu(x)
        x = n.stage3(n.stage2(n.stage1(x)))
        if n.final_bn is not None:
            x = F.relu(n.final_bn(x))
        return x

    def score_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.feature_map(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_map(x).mean((2, 3))


def fully_convolutional(model: nn.Module) -> nn.Module:
    """The fully-convolutional form of ``model``: itself if it already has a ``score_map`` method, else
    :class:`FullyConvolutional` of it (CIFAR nets only)."""
    if callable(getattr(model, "score_map", None)):
        return model
    return FullyConvolutional(model)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of a batch [B,C,H,W] to size x size (align_corners=False); unchanged at its own size."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


@torch.no_grad()
def score_map(model: nn.Module, x: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """Class-score map of a (mean-subtracted) batch, resized to ``size`` first if given; BN in eval mode.

    Its spatial average is the net's prediction (logits) for that input."""
    fc = fully_convolutional(model)
    was = fc.training
    fc.eval()
    try:
        return fc.score_map(resize(x, size) if size else x)
    finally:
        fc.train(was)


def flip(x: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of a batch [B,C,H,W]."""
    return x.flip(-1)


def ten_crop(x: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """The 10 views [10,B,C,H,W] of a (mean-subtracted) batch: zero-pad by ``pad``, then the centre crop and the
    four corner crops (top-left, top-right, bottom-left, bottom-right) of the original size, then their flips."""
    h, w = x.shape[-2:]
    p = F.pad(x, (pad, pad, pad, pad))
    offsets = [(pad, pad), (0, 0), (0, 2 * pad), (2 * pad, 0), (2 * pad, 2 * pad)]
    crops = [p[..., i:i + h, j:j + w] for i, j in offsets]
    return torch.stack(crops + [flip(c) for c in crops])


def _logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).float()


@torch.no_grad()
def view_logits(model: nn.Module, x: torch.Tensor, scales=SCALES, pad: int = PAD,
                batch_size: int = 250) -> dict[str, torch.Tensor]:
    """Logits [N, classes] of every view a protocol of :data:`METHODS` needs, keyed 'crop0'..'crop9' (the
    :func:`ten_crop` order; 'crop0' is the original image, 'crop5' its flip) and 's<size>' / 's<size>f' for
    the fully-convolutional net on the image resized to ``size`` (and flipped)."""
    fc = fully_convolutional(model)
    device = next(iter(fc.parameters()), x).device
    out: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        for k, view in enumerate(ten_crop(xb, pad)):
            out.setdefault(f"crop{k}", []).append(model(view).float().cpu())
        for s in scales:
            if (s, s) == tuple(xb.shape[-2:]):
                continue  # the original image: crop0 / crop5 (the fully-convolutional net is the same function)
            r = resize(xb, s)
            out.setdefault(f"s{s}", []).append(fc(r).float().cpu())
            out.setdefault(f"s{s}f", []).append(fc(flip(r)).float().cpu())
    logits = {k: torch.cat(v) for k, v in out.items()}
    h = x.shape[-1]
    for s in scales:
        if s == h:
            logits[f"s{s}"], logits[f"s{s}f"] = logits["crop0"], logits["crop5"]
    return logits


def method_views(scales=SCALES) -> dict[str, list[str]]:
    """Which views (keys of :func:`view_logits`) each protocol averages."""
    return {
        "single": ["crop0"],
        "flip": ["crop0", "crop5"],
        "ten_crop": [f"crop{k}" for k in range(10)],
        "multiscale": [f"s{s}" for s in scales],
        "multiscale_flip": [f"s{s}" for s in scales] + [f"s{s}f" for s in scales],
    }


def _error(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred != y).float().mean())


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, scales=SCALES,
             pad: int = PAD, batch_size: int = 250) -> dict:
    """Test error of each protocol of :data:`METHODS` on ``images`` (uint8 [N,3,32,32]) and ``labels``.

    ``model``: a net or a run record (its trained model is loaded). ``mean``: the per-pixel training mean
    subtracted before anything else (padding and resizing act on mean-subtracted images, so padding is with
    the mean pixel, as in training). Softmax probabilities of the views are averaged (``errors``); the
    errors with averaged logits are kept as ``errors_logit_average``. Also returned: the error of the
    fully-convolutional net at each single scale (``scale_errors``), and per protocol how many predictions
    differ from the single view's (``changed``), how many of those turn a wrong answer right (``fixed``) and
    a right one wrong (``broken``).
    """
    if hasattr(model, "load_model"):
        model = model.load_model()
    model = copy.deepcopy(model).float().eval()
    fc = fully_convolutional(model)
    fc.eval()
    t0 = time.perf_counter()
    x = normalize(images, mean)
    y = labels.cpu()
    logits = view_logits(model, x, scales, pad, batch_size)
    probs = {k: v.softmax(1) for k, v in logits.items()}
    errors, logit_errors, preds = {}, {}, {}
    for m, views in method_views(scales).items():
        preds[m] = torch.stack([probs[v] for v in views]).mean(0).argmax(1)
        errors[m] = _error(preds[m], y)
        logit_errors[m] = _error(torch.stack([logits[v] for v in views]).mean(0).argmax(1), y)
    right0 = preds["single"] == y
    changed, fixed, broken = {}, {}, {}
    for m, p in preds.items():
        right = p == y
        changed[m] = int((p != preds["single"]).sum())
        fixed[m] = int((right & ~right0).sum())
        broken[m] = int((~right & right0).sum())
    return {
        "errors": errors,
        "errors_logit_average": logit_errors,
        "views": {m: len(v) for m, v in method_views(scales).items()},
        "scale_errors": {str(s): _error(logits[f"s{s}"].argmax(1), y) for s in scales},
        "changed": changed, "fixed": fixed, "broken": broken,
        "n_images": int(len(y)),
        "scales": list(scales),
        "pad": pad,
        "ten_crop": f"zero-pad {pad} (mean-subtracted units) to {x.shape[-1] + 2 * pad}x{x.shape[-1] + 2 * pad}; "
                    f"centre + 4 corner {x.shape[-1]}x{x.shape[-1]} crops and their flips",
        "averaging": "softmax probabilities",
        "resize": "bilinear, align_corners=False",
        "seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }


def cached(record, data, n: int | None = None, device=None) -> dict:
    """:func:`evaluate` of a run record on the first ``n`` test images of the fixed shuffle (all 10k when None),
    on ``device`` (default the CPU), cached in the record as ``analysis/multicrop.json``. ``data`` may be a
    function that loads it: it is then called only when the result is not cached."""
    from .responses import eval_images

    def compute():
        nonlocal data
        if callable(data):
            data = data()
        record.check_data(data)
        x, y = eval_images(data, n)
        dev = torch.device(device or "cpu")
        out = evaluate(record.load_model().to(dev), x, y, data.mean)
        out["data_fingerprint"] = data.fingerprint
        out["device"] = dev.type
        return out
    return record.cached("multicrop", compute)


def main(argv=None) -> int:
    import argparse
    import sys

    from ..data import load_cifar10
    from ..runs import RunStore

    ap = argparse.ArgumentParser(prog="python -m resnet_lab.analysis.multicrop",
                                 description="Compute and cache the multi-crop test errors of recorded runs "
                                             "(all 10k test images; runs/<id>/analysis/multicrop.json).")
    ap.add_argument("--arch", nargs="+", required=True, help="e.g. resnet56 resnet110")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default=None, help="run store (default: $RESNET_LAB_RUNS or runs/)")
    args = ap.parse_args(argv)
    store = RunStore(args.runs)
    data = None
    status = 0
    for arch in args.arch:
        hits = [r for r in store.find(arch=arch, profile=args.profile, variant="basic", seed=args.seed)
                if not r.failed]
        if not hits:
            print(f"{arch}: no recorded run at profile {args.profile}, seed {args.seed}", file=sys.stderr)
            status = 1
            continue
        data = data or load_cifar10()  # $RESNET_LAB_CIFAR10; cached() checks it is the run's data
        r = cached(hits[0], data)
        print(f"{hits[0].id}: " + ", ".join(f"{m} {100 * e:.2f}%" for m, e in r["errors"].items())
              + f" ({r['n_images']} images, {r['seconds']} s)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
