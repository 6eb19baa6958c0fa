"""The data stream of Sec. 4.2: which training images each iteration sees, and how each one is augmented.

A seeded permutation of the training images is walked a batch at a time (a new permutation when fewer than a
batch are left); every image gets a random 32x32 crop of its 4-pixel zero padding and a horizontal flip with
probability 0.5. All of it is drawn on the CPU from one generator, ``torch.Generator().manual_seed(seed)``, in
the order the engine has always drawn it, so the data order of a run is the same on every device, and a
checkpoint (generator state, permutation, position) resumes it exactly.

The draws of a window of iterations are made at once, as a table ``[iterations, 4, batch]`` of image index,
vertical and horizontal crop offset and flip flag (:func:`resnet_lab.data.augment_draws`'s rows), which the step
reads on the device (:class:`resnet_lab.engine.step.Step`): the GPU never waits for the CPU within a window.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from ..data import augment_draws

ROWS = 4  # image index; crop offsets dy, dx (0..8); flip (0/1)


class DataStream:
    """The draws of one run: ``draw()`` gives one iteration's ``[4, batch]`` row, ``window(n)`` the next ``n``."""

    def __init__(self, n_images: int, batch_size: int, seed: int):
        self.n_images, self.batch_size = n_images, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n_images, generator=self.generator)
        self.pos = 0

    def draw(self) -> torch.Tensor:
        """The next iteration's image indices and augmentation draws: int64 ``[4, batch]``."""
        b = self.batch_size
        if self.pos + b > len(self.perm):  # a new epoch: reshuffle (the last, partial batch is skipped)
            self.perm, self.pos = torch.randperm(self.n_images, generator=self.generator), 0
        row = torch.cat([self.perm[self.pos:self.pos + b][None], augment_draws(b, self.generator)])
        self.pos += b
        return row

    def window(self, n: int) -> torch.Tensor:
        """The draws of the next ``n`` iterations: int64 ``[n, 4, batch]``."""
        return torch.stack([self.draw() for _ in range(n)])

    def state(self) -> dict:
        """What a checkpoint keeps: the generator's state, the permutation, the position in it."""
        return dict(generator=self.generator.get_state(), perm=self.perm, pos=self.pos)

    def restore(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.perm, self.pos = state["perm"], state["pos"]


def shard(draws: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s slice of a window of draws ``[n, 4, batch]`` (``[n, 4, batch / world_size]``, images
    ``rank * batch / world_size`` onwards of each iteration): the processes of one run share each batch in the
    order one process would train it (:mod:`resnet_lab.distributed`)."""
    b = draws.shape[-1]
    if b % world_size:
        raise ValueError(f"a batch of {b} does not split evenly over {world_size} processes")
    k = b // world_size
    return draws[..., rank * k:(rank + 1) * k].contiguous()


@dataclass
class DeviceData:
    """The run's images on its device as uint8, labels and the per-pixel mean (Sec. 4.2): the training images
    (the profile's fixed subset of them, if it has one) and the val/test images of the intermediate evaluations.
    Nets trained together share one (:func:`shared_device_data`)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor

    @classmethod
    def of(cls, data, profile, device: torch.device) -> "DeviceData":
        from ..train import _subset
        tr = _subset(len(data.train_y), profile.train_subset, seed=1)  # the same subset for every run of a profile
        ev = (_subset(len(data.val_y), profile.eval_subset, 2), _subset(len(data.test_y), profile.eval_subset, 3))
        return cls(data.train_x[tr].to(device), data.train_y[tr].to(device),
                   data.val_x[ev[0]].to(device), data.val_y[ev[0]].to(device),
                   data.test_x[ev[1]].to(device), data.test_y[ev[1]].to(device), data.mean.to(device))


_SHARED_LOCK = threading.Lock()


def shared_device_data(cache: dict, data, profile, device: torch.device) -> DeviceData:
    """One :class:`DeviceData` per (data, subsets, device) in ``cache``, for nets trained in one process (whose
    set-ups may run in threads at once)."""
    key = (id(data), data.fingerprint, profile.train_subset, profile.eval_subset, str(device))
    with _SHARED_LOCK:
        if key not in cache:
            cache[key] = DeviceData.of(data, profile, device)
        return cache[key]
