"""Chapter 4 (layer responses, Fig. 7): the computed sentences on response stds; branch against identity, per net."""
from __future__ import annotations

import pandas as pd

RESPONSE_PAIRS = (("resnet20", "plain20"), ("resnet56", "plain56"),  # Fig. 7's two claims: less than the plain twin,
                  ("resnet56", "resnet20"), ("resnet110", "resnet56"))  # and less still in a deeper ResNet


def train_mode_mean(check: dict) -> float:
    """Fig. 7's measure of one net in one number: the mean over its 3x3 layers of the response std with BN in
    training mode, from a BN-mode check (``analysis/bn_modes.json``)."""
    return float(pd.DataFrame(check["layers"])["train_std"].mean())


def seed_means(arch: str, profile: str | None = None) -> dict[int, float]:
    """``{seed: train_mode_mean}`` of every completed record of ``arch`` (the paper's blocks, option A) at
    ``profile`` (default: the book's) on the book's data whose BN-mode check is cached."""
    from .claims import cached_by_seed
    from .store import profile_name
    return cached_by_seed(arch, profile or profile_name(), "bn_modes", train_mode_mean)


def response_table(profile: str | None = None) -> pd.DataFrame:
    """Fig. 7's claims by the book's rule, on Fig. 7's measure (mean training-mode response std over the 3x3
    layers), every seed with a cached check: each ResNet against its plain twin, and each deeper ResNet against
    the shallower; Holm over the table."""
    from ..models import paper_name
    from .verdicts import comparison_table
    pairs = {f"{paper_name(a)} \u2212 {paper_name(b)}": (seed_means(a, profile), seed_means(b, profile))
             for a, b in RESPONSE_PAIRS}
    t = comparison_table(pairs, names=("first net (mean)", "second net (mean)"), scale=1, digits=3)
    # the test is two-sided: say which way each difference goes (the paper expects 'less' in every row), and
    # that a row without a shown difference only points that way
    from .. import stats
    note = {stats.SHOWN: "", stats.NOT_SHOWN: " (not shown)"}
    t.insert(len(t.columns) - 1, "first net responds", [
        "\u2013" if not a or not b else ("less" if _mean(a) < _mean(b) else "more")
        + note.get(v, " (described)") for (a, b), v in zip(pairs.values(), t.verdict)])
    return t


def response_reasons(profile: str | None = None) -> str:
    """Why a row of :func:`response_table` shows no difference, where one does (Markdown; ''):
    :func:`resnet_lab.book.verdicts.not_shown_reasons` over the same family."""
    from ..models import paper_name
    from .verdicts import not_shown_reasons
    return not_shown_reasons({f"{paper_name(a)} \u2212 {paper_name(b)}": (seed_means(a, profile), seed_means(b, profile))
                              for a, b in RESPONSE_PAIRS}, scale=1, digits=3)


def _mean(d: dict[int, float]) -> float:
    return sum(d.values()) / len(d)


def uncached_seeds(archs, profile: str | None = None) -> dict[str, list[int]]:
    """``{arch: seeds}`` recorded (every completed record at ``profile``) whose BN-mode check is not cached: the
    seeds :func:`response_table` cannot read until ``python -m resnet_lab.book.caches --only bn_modes`` runs."""
    from .verdicts import seed_values
    out = {}
    for a in archs:
        gap = sorted(set(seed_values(a, "final_test_error", profile)) - set(seed_means(a, profile)))
        if gap:
            out[a] = gap
    return out


def uncached_line(archs, profile: str | None = None) -> str:
    """'Recorded, but their BN-mode check is not cached yet: ResNet-56 seed 1 (`python -m ...`).' ('' if none)."""
    from ..models import paper_name
    gap = uncached_seeds(archs, profile)
    if not gap:
        return ""
    names = ", ".join(f"{paper_name(a)} seed{'s' * (len(s) > 1)} {', '.join(map(str, s))}" for a, s in gap.items())
    return (f"Recorded, but not in the table until their BN-mode check is cached: {names} "
            f"(`python -m resnet_lab.book.caches --only bn_modes --arch {' '.join(gap)}`).")


def response_report(resp: dict[str, pd.DataFrame]) -> str:
    """What Fig. 7's nets read, in two lines: the mean response std of each (the figure's seed), and how far each
    layer's channel std sits from its BN's |gamma| (0 in training mode: BN sets it). The claims are judged over
    seeds in :func:`response_table`."""
    mean = {k: float(f["std"].mean()) for k, f in resp.items()}
    lines = ["- Mean response std over the 3x3 layers: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()) + "."]
    gap = {k: float(((f.channel_std - f.gamma_abs).abs() / f.gamma_abs).median()) for k, f in resp.items()}
    if all(v < 0.005 for v in gap.values()):
        lines.append("- Each layer's mean channel std equals the mean |gamma| of its BN (median gap under 0.5% in "
                     "every net): in training mode BN normalises each channel exactly.")
    else:
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
