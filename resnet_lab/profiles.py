"""Named run budgets. A figure always says which profile produced it.

The paper's recipe (Sec. 4.2): batch 128, SGD momentum 0.9, weight decay 1e-4,
lr 0.1 divided by 10 at 32k and 48k iterations, stop at 64k, on 45k training
images; ResNet-110 warms up at lr 0.01 until training error < 80%. Profiles keep
the recipe and scale the iteration counts (the lr drops stay at 1/2 and 3/4 of
training) and, below ``paper``, train on a fixed subset of the 45k images.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

ENV_VAR = "RESNET_LAB_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    iterations: int
    milestones: tuple[int, int]
    train_subset: int | None  # images drawn (fixed seed) from the 45k split; None = all of them
    eval_every: int  # iterations between val/test evaluations
    eval_subset: int | None  # images of val and of test used at the intermediate evaluations; None = all
    log_every: int  # iterations between training-loss/error points
    checkpoint_every: int
    final_eval_subset: int | None = None  # images of val and of test at the final evaluation; None = all
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_from_depth: int = 110  # the ResNet-110 warm-up (Sec. 4.2) at depth >= this
    warmup_lr: float = 0.01
    warmup_until_error: float = 0.80
    warmup_window: int = 100  # the warm-up ends when the training error over this many iterations is < 80%
    save_weights: bool = True
    summary: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def epochs(self) -> float:
        return self.iterations * self.batch_size / (self.train_subset or 45000)


PROFILES = {
    "smoke": Profile(
        name="smoke", iterations=20, milestones=(10, 15), train_subset=512, eval_every=10, eval_subset=256,
        log_every=2, checkpoint_every=10, batch_size=64, final_eval_subset=500,
        summary="CI only: 20 iterations of batch 64 on 512 images. Shows that the code runs end to end; "
                "its curves and errors mean nothing about the paper."),
    "cpu": Profile(
        name="cpu", iterations=360, milestones=(180, 270), train_subset=None, eval_every=40, eval_subset=500,
        log_every=10, checkpoint_every=40, lr=0.01,
        summary="What 2 CPU cores afford for a sweep of ten nets in about an hour: 360 iterations of batch 128 "
                "(1/178 of the paper's 64k, about one epoch of the 45k training images), peak lr 0.01 (not 0.1: "
                "see 'cpu-lr0.1') divided by 10 at 180 and 270; val/test error on 500 images each every 40 "
                "iterations, on the full sets at the end. Shows that deeper plain nets train worse and that "
                "shortcuts fix it; far too short for the paper's error levels or the gains of the deepest ResNets."),
    "cpu-lr0.1": Profile(
        name="cpu-lr0.1", iterations=400, milestones=(200, 300), train_subset=None, eval_every=40, eval_subset=500,
        log_every=10, checkpoint_every=40,
        summary="The first calibration of the cpu profile, kept to show why it failed: 400 iterations at the "
                "paper's lr 0.1. Deep ResNets blow up in their first steps at lr 0.1 and then sit at chance for "
                "longer than this budget (the paper's 64k iterations absorb that transient)."),
    "paper": Profile(
        name="paper", iterations=64000, milestones=(32000, 48000), train_subset=None, eval_every=1000,
        eval_subset=None, log_every=100, checkpoint_every=2000,
        summary="The paper's full recipe (Sec. 4.2): 64k iterations of batch 128 on 45k images "
                "(about 182 epochs), lr 0.1 / 10 at 32k and 48k. For a GPU."),
}


def get_profile(name: str | Profile | None = None) -> Profile:
    """A profile by name, else ``$RESNET_LAB_PROFILE``, else 'cpu'. Unknown names raise ValueError."""
    if isinstance(name, Profile):
        return name
    name = name or os.environ.get(ENV_VAR) or "cpu"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; allowed: {', '.join(PROFILES)} (set by argument or {ENV_VAR})")
    return PROFILES[name]


def lr_at(iteration: int, profile: Profile, warming_up: bool = False) -> float:
    """Learning rate at an iteration: lr / 10 at each milestone; ``warmup_lr`` while warming up."""
    if warming_up:
        return profile.warmup_lr
    return profile.lr * 0.1 ** sum(iteration >= m for m in profile.milestones)


__all__ = ["Profile", "PROFILES", "get_profile", "lr_at", "replace"]
