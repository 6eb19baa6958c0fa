"""A run resolved once: the one value that both names a run and trains it.

What shapes a run's result is its :class:`~resnet_lab.train.RunConfig` (net, shortcut, variant, profile name,
seed, data kind, how many images each BN statistic sees), the settings its profile gives that net, the
arithmetic it trains in (precision) and the content of its data (fingerprint). :meth:`Run.of` resolves these
once, for one device: the registered profile the config names, the precision the device will use. The result
is frozen:

* its :attr:`Run.identity` is hashed into its :attr:`Run.id`, the record's folder name;
* :class:`~resnet_lab.engine.loop.Trainer` given a ``Run`` trains under ``run.profile`` and ``run.precision``,
  tags its checkpoints ``run.id`` and refuses data of another fingerprint, another profile or another tag;
* :meth:`RunStore.write <resnet_lab.runs.RunStore.write>` records only a ``Run``, under ``run.id``, with
  ``run.identity`` and ``run.profile`` in its ``config.json``.

So the object that is trained is the object that names the record: a run trained under other settings than
its id says cannot be recorded (issue 30, case 1). Settings of your own get a name of their own in
:data:`resnet_lab.profiles.PROFILES`, and with it ids of their own.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from .profiles import Profile, get_profile, resolved_settings
from .train import PRECISIONS, RunConfig, pick_device, resolve_precision


def identity(config: RunConfig, profile: Profile, precision: str, data_fingerprint: str) -> dict:
    """Everything that shapes a run's result (its hash names the run): the config's identity fields, the
    profile's settings for this net, the precision and the data's fingerprint."""
    return dict(config=config.identity_fields(), settings=resolved_settings(profile, config.residual, config.depth),
                precision=precision, data_fingerprint=data_fingerprint)


def id_prefix(config: RunConfig, precision: str) -> str:
    """A run id without its hash: '<arch>[-variant]-<shortcut>-<profile>-s<seed>-<data>-<precision>[-compiled]-'."""
    variant = "" if config.variant == "basic" else f"-{config.variant}"
    return (f"{config.arch}{variant}-{config.shortcut or 'plain'}-{config.profile}-s{config.seed}-"
            f"{config.data_source}-{precision}{'-compiled' if config.compiled else ''}{parallel_tag(config)}-")


def parallel_tag(config: RunConfig) -> str:
    """The id's word for the world size and the BN mode (issue 31): '' for one process with BN over its whole
    batch (every run recorded before issue 31), '-ddp2-bn64' (2 processes, BN over each one's 64 images: the
    paper's), '-ddp2-syncbn' (BN over the whole batch across them), '-bn64' (one process, BN over groups of 64)."""
    if config.world_size == 1 and config.ghost_bn is None:
        return ""
    ddp = f"-ddp{config.world_size}" if config.world_size > 1 else ""
    return ddp + ("-syncbn" if config.sync_bn else f"-bn{config.bn_images()}")


def id_of(config: RunConfig, precision: str, ident: dict) -> str:
    """The id of a run with identity ``ident`` (as :func:`identity` gives it, or as a record's config.json keeps it)."""
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
    return id_prefix(config, precision) + digest


@dataclass(frozen=True)
class Run:
    """One run, resolved: ``config`` (its precision filled in), the registered ``profile`` it names, and the
    fingerprint of the data it trains on. Build it with :meth:`of`; it checks that its parts agree."""

    config: RunConfig
    profile: Profile
    data_fingerprint: str

    def __post_init__(self):
        if not isinstance(self.config, RunConfig):
            raise ValueError(f"Run: config must be a RunConfig; got a {type(self.config).__name__}")
        if not isinstance(self.profile, Profile):
            raise ValueError(f"Run: profile must be a Profile; got a {type(self.profile).__name__}")
        if not isinstance(self.data_fingerprint, str):
            raise ValueError(f"Run: data_fingerprint must be a str; got a {type(self.data_fingerprint).__name__}")
        if self.config.precision not in PRECISIONS:
            raise ValueError(f"Run: the config's precision must be resolved to one of {', '.join(PRECISIONS)}; got "
                             f"{self.config.precision!r} (build the Run with Run.of(config, fingerprint, device))")
        named = get_profile(self.config.profile)
        if self.profile != named:
            differ = sorted(k for k, v in self.profile.as_dict().items() if named.as_dict().get(k) != v)
            raise ValueError(f"Run: profile {self.profile.name!r} differs from the registered profile "
                             f"{self.config.profile!r} that names the run (in {', '.join(differ) or 'its name'}), "
                             f"so its record would carry the wrong id; register the settings under a name of their "
                             f"own in resnet_lab.profiles.PROFILES and give that name as RunConfig(profile=...)")
        self.config.check_batch(self.profile.batch_size)

    @classmethod
    def of(cls, config: RunConfig, data_fingerprint: str, device=None, precision: str | None = None) -> "Run":
        """``config`` resolved for ``device``: its registered profile and the precision it trains in there
        (``config.precision``, else the profile's, 'auto' meaning bf16 where the device has it natively).
        ``precision`` names it outright instead (for looking up a record made elsewhere)."""
        if not isinstance(config, RunConfig):
            raise ValueError(f"Run.of: expected a RunConfig, got {type(config).__name__}")
        profile = get_profile(config.profile)
        if precision is None:
            precision = resolve_precision(config.precision or profile.precision, pick_device(device))
        return cls(replace(config, precision=precision), profile, data_fingerprint)

    @property
    def precision(self) -> str:
        return self.config.precision

    @property
    def identity(self) -> dict:
        return identity(self.config, self.profile, self.precision, self.data_fingerprint)

    @property
    def id(self) -> str:
        return id_of(self.config, self.precision, self.identity)

    def check_data(self, data) -> None:
        """A one-line ValueError unless ``data`` is the content this run is named for."""
        got = getattr(data, "fingerprint", None)
        if got != self.data_fingerprint:
            raise ValueError(f"run {self.id} is named for data with fingerprint {self.data_fingerprint!r}, but the "
                             f"data given have {got!r} ({getattr(data, 'path', type(data).__name__)}): resolve the "
                             f"run for these data (Run.of(config, data.fingerprint, device))")


def run_id(config: RunConfig, precision: str, data_fingerprint: str) -> str:
    """The id of ``config`` trained in ``precision`` on data of ``data_fingerprint`` (``Run.of(...).id``)."""
    return Run.of(config, data_fingerprint, precision=precision).id
