"""The learning-rate schedule of Sec. 4.2, the ResNet-110 warm-up included.

"We start with a learning rate of 0.1, divide it by 10 at 32k and 48k iterations, and terminate training at 64k
iterations" (profiles scale the milestones). "In this case [110 layers], we find that the initial learning rate
of 0.1 is slightly too large to start converging. So we use 0.01 to warm up the training until the training
error is below 80% (about 400 iterations), and then go back to 0.1 and continue training."

The warm-up ends on the training error over the last ``warmup_window`` iterations (one logging window is too
noisy), read at logging points by the loop (:meth:`Schedule.observe`): a decision on the host, outside the step.
"""
from __future__ import annotations

from ..profiles import Profile, lr_at


class Schedule:
    """lr per iteration for one net. State (checkpointed): whether it is warming up, and the logging windows
    ``(iteration, wrong, seen)`` seen while it was."""

    def __init__(self, profile: Profile, warming_up: bool = False, windows=()):
        self.profile = profile
        self.warming_up = bool(warming_up)
        self.windows: list[tuple[int, float, int]] = [tuple(w) for w in windows]

    @classmethod
    def for_net(cls, profile: Profile, residual: bool, depth: int) -> "Schedule":
        """The schedule of a net: residual nets of ``profile.warmup_from_depth`` layers or more warm up."""
        return cls(profile, warming_up=residual and depth >= profile.warmup_from_depth)

    def lr(self, iteration: int) -> float:
        """The learning rate of iteration ``iteration`` (0-based): ``warmup_lr`` while warming up, else lr / 10
        at each milestone passed."""
        return lr_at(iteration, self.profile, self.warming_up)

    def observe(self, iteration: int, wrong: float, seen: int) -> bool:
        """A logging point at ``iteration`` while warming up: ``wrong`` of ``seen`` training images were
        misclassified since the last one. True when the warm-up ends here (the error over the last
        ``warmup_window`` iterations is below ``warmup_until_error``); from the next iteration on the lr is the
        scheduled one."""
        if not self.warming_up:
            return False
        p = self.profile
        self.windows.append((iteration, wrong, seen))
        recent = [w for w in self.windows if w[0] > iteration - p.warmup_window]
        if iteration >= p.warmup_window and sum(w[1] for w in recent) / sum(w[2] for w in recent) \
                < p.warmup_until_error:
            self.warming_up = False
            return True
        return False
