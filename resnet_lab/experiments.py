"""The runs the book uses, in one list: what ``python -m resnet_lab sweep`` trains.

Fig. 6 (left and middle) and Table 6: plain-20/32/44/56 and ResNet-20/32/44/56/110
with option-A shortcuts; Chapter 2's one-layer-shortcut net at depth 20; seeds 1
and 2 of ResNet-20 and plain-20 for the seed-to-seed spread. Fig. 7
uses plain-20/56 and ResNet-20/56/110 from the same runs. Beyond the paper (chapter
"Shortcut options and pre-activation"): ResNet-32 with shortcut options B and C
beside the sweep's option-A ResNet-32 (the paper compared A/B/C on ImageNet only;
depth 32 rather than 56 because each option-C run must fit the CPU budget), and
pre-activation ResNet-56/110 (He et al. 2016) beside the originals.
"""
from __future__ import annotations

from .train import RunConfig

PLAIN_DEPTHS = (20, 32, 44, 56)
RESNET_DEPTHS = (20, 32, 44, 56, 110)
SWEEP_ARCHS = tuple(f"plain{d}" for d in PLAIN_DEPTHS) + tuple(f"resnet{d}" for d in RESNET_DEPTHS)  # Fig. 6
FIG7_ARCHS = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")
SPREAD_ARCHS = ("resnet20", "plain20")  # trained with several seeds: the spread every comparison is read against
SPREAD_SEEDS = (0, 1, 2)
OPTIONS_ARCH = "resnet32"  # trained with shortcut options A (the sweep's), B and C
PREACT_ARCHS = ("resnet56", "resnet110")  # trained with pre-activation blocks beside the originals
HEAD_CONTROL_ARCHS = ("resnet56",)  # trained as 'final_bn': the original blocks + the pre-activation head (ch. 7)


def variant_runs(profile: str, data_source: str = "jpeg", seed: int = 0) -> list[RunConfig]:
    """The runs of the variants chapter that the sweep does not already hold (options B, C; preact; the
    final-BN-ReLU control)."""
    runs = [RunConfig(OPTIONS_ARCH, shortcut=s, profile=profile, data_source=data_source, seed=seed)
            for s in ("B", "C")]
    runs += [RunConfig(a, variant="preact", profile=profile, data_source=data_source, seed=seed)
             for a in PREACT_ARCHS]
    runs += [RunConfig(a, variant="final_bn", profile=profile, data_source=data_source, seed=seed)
             for a in HEAD_CONTROL_ARCHS]
    return runs


# Chapter 3's "Several GPUs": BN over 64 images (the paper's two GPUs) against BN over 128, ResNet-20 at the
# `quick` profile whatever the book's profile, 3 seeds per arm. Not part of `sweep` (whose runs follow its
# --profile); the build lists them with the others when they are missing (book.status.requested_runs).
BN_BATCH_ARCH, BN_BATCH_PROFILE, BN_BATCH_SEEDS, BN_BATCH_GHOST = "resnet20", "quick", (0, 1, 2), 64
BN_BATCH_ARMS = {f"BN over {BN_BATCH_GHOST}": BN_BATCH_GHOST, "BN over 128": None}


def bn_batch_runs(data_source: str = "jpeg") -> dict[str, list[RunConfig]]:
    """The BN-over-64 study's runs, per arm: BN over groups of 64 (one process; = two processes with BN per
    device) or over the whole batch of 128."""
    return {arm: [RunConfig(BN_BATCH_ARCH, profile=BN_BATCH_PROFILE, seed=s, data_source=data_source, ghost_bn=g)
                  for s in BN_BATCH_SEEDS] for arm, g in BN_BATCH_ARMS.items()}


def fixed_profile_runs(data_source: str = "jpeg") -> list[RunConfig]:
    """Runs a chapter asks for at a profile of their own, whatever the book's profile (the BN-over-64 study)."""
    return [c for cfgs in bn_batch_runs(data_source).values() for c in cfgs]


def seeds_of(arch: str) -> tuple[int, ...]:
    return SPREAD_SEEDS if arch in SPREAD_ARCHS else (0,)


def book_runs(profile: str, data_source: str = "jpeg", seed: int = 0) -> list[RunConfig]:
    """Every run the chapters ask for, cheapest first."""
    runs = [RunConfig(f"plain{d}", profile=profile, data_source=data_source, seed=seed) for d in PLAIN_DEPTHS]
    runs += [RunConfig(f"resnet{d}", profile=profile, data_source=data_source, seed=seed) for d in RESNET_DEPTHS]
    runs.append(RunConfig("resnet20", variant="one_layer", profile=profile, data_source=data_source, seed=seed))
    if seed == 0:  # the seed spread
        runs += [RunConfig(a, profile=profile, data_source=data_source, seed=s)
                 for a in SPREAD_ARCHS for s in SPREAD_SEEDS if s != 0]
    runs += variant_runs(profile, data_source, seed)
    return sorted(runs, key=lambda c: (c.depth, c.seed))


def split_work(runs: list[RunConfig], part: int, parts: int) -> list[RunConfig]:
    """Share runs among ``parts`` workers with about equal total depth (cost grows with depth)."""
    if not 0 <= part < parts:
        raise ValueError(f"part must be in 0..{parts - 1}; got {part}")
    loads, shares = [0] * parts, [[] for _ in range(parts)]
    for cfg in sorted(runs, key=lambda c: -c.depth):
        i = loads.index(min(loads))
        loads[i] += cfg.depth
        shares[i].append(cfg)
    return shares[part]
