"""Chapter 4 (layer responses, Fig. 7): the computed sentences on response stds; branch against identity, per net."""
from __future__ import annotations

import pandas as pd

from .cached import responses
from .spread import _widest_range, judge
from .store import seeds


def response_spread() -> tuple[float, int] | None:
    """(range, seeds): the seed-to-seed spread of the mean response std over the 3x3 layers -- the largest range
    over the seeds of ResNet-20 and of plain-20 (computed and cached once per run, like Fig. 7's own
    statistics); None until one of them has two seeds recorded."""
    return _widest_range("responses", lambda a: [float(responses(r)["std"].mean())
                                                 for r in seeds(a).values() if not r.failed])


def response_report(resp: dict[str, pd.DataFrame], spread: tuple[float, int] | None = None) -> str:
    """Fig. 7's two claims checked on our frames: ResNets respond less than plain nets; deeper ResNets less still.
    Each difference of the mean response std is judged against ``spread`` (:func:`response_spread`)."""
    mean = {k: float(f["std"].mean()) for k, f in resp.items()}

    def verdict(d):
        return judge(d, spread[0], seeds=spread[1], unit="") if spread else judge(d, None)
    lines = ["- Mean response std over the 3x3 layers: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()) + "."]
    for d in (20, 56):
        p, r = mean.get(f"plain{d}"), mean.get(f"resnet{d}")
        if p is not None and r is not None:
            lines.append(f"- Depth {d}: ResNet {'below' if r < p else 'NOT below'} its plain twin "
                         f"({r:.3f} vs {p:.3f}, {abs(r - p):.3f} apart) -- {verdict(r - p)}.")
    res = [k for k in ("resnet20", "resnet56", "resnet110") if k in mean]
    if len(res) >= 2:
        steps = [(a, b, mean[b] - mean[a]) for a, b in zip(res, res[1:])]
        found = spread is not None and all(d < 0 and -d > spread[0] for _, _, d in steps)
        lines.append("- Deeper ResNets, step by step: " + "; ".join(
            f"{b} {abs(d):.3f} {'below' if d < 0 else 'above'} {a}, {verdict(d)}" for a, b, d in steps)
            + ((". Deeper ResNets respond less at every step, beyond the seed range (one seed per net: "
                "described, not judged)." if len(steps) > 1 else
                f". From {res[0]} to {res[1]} the ResNet responds less, beyond the seed range (one seed per net; "
                f"one step of depth: "
                f"{', '.join(k for k in ('resnet20', 'resnet56', 'resnet110') if k not in mean)} not shown).")
               if found else ". So these runs do not show deeper ResNets responding less at every step."))
    gap = {k: float(((f.channel_std - f.gamma_abs).abs() / f.gamma_abs).median()) for k, f in resp.items()}
    lines.append("- Median relative gap between a layer's mean channel std and its mean |gamma|: "
                 + ", ".join(f"{k} {v:.0%}" for k, v in gap.items()) + ".")
    return "\n".join(lines)


def branch_table(branch: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per ResNet (and state): the std of the residual branch over the std of the identity path, block by block --
    its median and range, and in how many blocks the branch is the smaller."""
    return pd.DataFrame.from_dict({
        k: {"median of std F(x) / std x": f"{f.ratio.median():.2f}",
            "range": f"{f.ratio.min():.2f} to {f.ratio.max():.2f}",
            "blocks with the branch smaller": f"{int((f.ratio < 1).sum())} of {len(f)}"}
        for k, f in branch.items()}, orient="index").rename_axis("net")
