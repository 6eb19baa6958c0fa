"""Training throughput of this engine against a conventional DataLoader + torchvision-transforms loop.

All loops train the same net with the same optimiser, batch 128, on the same device,
in the same process, after a bare training step on a fixed batch (the ceiling): the baseline decodes PIL images per sample in DataLoader
workers (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, mean
subtraction), the way most CIFAR reimplementations do; the engine keeps uint8
tensors on the device and augments whole batches. Reported as images/s and ratio.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import replace

import torch

from .data import load_cifar10
from .profiles import get_profile
from .train import (RunConfig, _memory_format, device_name, numerics, pick_device, resolve_precision, set_cuda_numerics,
                    sgd_step,
                    train)


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x.permute(0, 2, 3, 1).numpy(), y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def baseline_images_per_second(arch: str, data, iterations: int, device: torch.device, workers: int) -> float:
    from torchvision import transforms as T

    mean = data.mean
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Lambda(lambda t: t - mean)])
    ds = _PILDataset(data.train_x, data.train_y, tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True, num_workers=workers, drop_last=True,
                                         pin_memory=device.type == "cuda", persistent_workers=False)
    torch.manual_seed(0)
    fmt = _memory_format(device)
    model = RunConfig(arch, profile="smoke").build().to(device, memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    set_cuda_numerics(device, "fp32")
    warmup, it, t0 = 2, 0, None
    for xb, yb in loader:
        xb = xb.to(device, non_blocking=True).contiguous(memory_format=fmt)
        yb = yb.to(device, non_blocking=True)
        loss, _ = sgd_step(model, opt, xb, yb, device)
        if warmup:  # the workers' start and the first steps are not timed
            warmup -= 1
            if not warmup:
                _sync(device)
                t0 = time.perf_counter()
            continue
        it += 1
        if it == iterations:
            break
    loss.item()
    return it * 128 / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_step_images_per_second(arch: str, iterations: int, device: torch.device, precision: str) -> float:
    """The training step alone on one fixed random batch already on the device: the ceiling for any data path."""
    torch.manual_seed(0)
    fmt = _memory_format(device)
    model = RunConfig(arch, profile="smoke").build().to(device, memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    xb = torch.randn(128, 3, 32, 32, device=device).contiguous(memory_format=fmt)
    yb = torch.randint(0, 10, (128,), device=device)
    model.train()
    set_cuda_numerics(device, precision)
    for _ in range(2):  # warm-up
        sgd_step(model, opt, xb, yb, device, precision)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iterations):
        loss, _ = sgd_step(model, opt, xb, yb, device, precision)
    loss.item()
    return iterations * 128 / (time.perf_counter() - t0)


def variant_configs() -> dict[str, RunConfig]:
    """The nets of the variants chapter, each beside its baseline: ResNet-32 with shortcut options A/B/C, and the
    original and pre-activation ResNet-56/110 (``experiments``), keyed as the chapter names them."""
    from .experiments import OPTIONS_ARCH, PREACT_ARCHS
    out = {f"{OPTIONS_ARCH} {s}": RunConfig(OPTIONS_ARCH, shortcut=s) for s in ("A", "B", "C")}
    for a in PREACT_ARCHS:
        out[a] = RunConfig(a)
        out[f"preact-{a}"] = RunConfig(a, variant="preact")
    return out


def step_seconds(configs: dict[str, RunConfig], iterations: int = 5, rounds: int = 3, device=None,
                 precision: str = "fp32", progress=None) -> dict:
    """Seconds per training step (batch 128, one fixed random batch on the device, SGD as in training) of each
    net, measured in one process: in each of ``rounds`` rounds every net is timed for ``iterations`` steps in
    turn (in reverse order every second round), so a change of machine load falls on all of them alike; the
    median over the rounds is kept.
    ``progress(done, total)`` follows the timings. JSON-able dict: ``seconds`` (label -> s/step), ``rounds``
    (label -> list), and what it ran on."""
    if not isinstance(iterations, int) or iterations < 1 or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"step_seconds needs iterations and rounds >= 1; got {iterations!r}, {rounds!r}")
    if not configs:
        raise ValueError("step_seconds needs at least one net")
    device = pick_device(device)
    fmt = _memory_format(device)
    set_cuda_numerics(device, precision)
    nets = {}
    for label, cfg in configs.items():
        torch.manual_seed(0)
        model = cfg.build().to(device, memory_format=fmt).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        nets[label] = (model, opt)
    xb = torch.randn(128, 3, 32, 32, device=device).contiguous(memory_format=fmt)
    yb = torch.randint(0, 10, (128,), device=device)
    for model, opt in nets.values():  # warm-up: allocations, kernel choice
        for _ in range(2):
            sgd_step(model, opt, xb, yb, device, precision)
    times = {label: [] for label in nets}
    done, total = 0, rounds * len(nets)
    for i in range(rounds):
        for label in (list(nets) if i % 2 == 0 else list(reversed(nets))):  # no net always timed first
            model, opt = nets[label]
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(iterations):
                loss, _ = sgd_step(model, opt, xb, yb, device, precision)
            loss.item()
            _sync(device)
            times[label].append((time.perf_counter() - t0) / iterations)
            done += 1
            if progress:
                progress(done, total)
    med = {k: statistics.median(v) for k, v in times.items()}
    return dict(seconds={k: round(v, 4) for k, v in med.items()}, rounds={k: [round(t, 4) for t in v]
                                                                          for k, v in times.items()},
                iterations=iterations, batch_size=128, device=device_name(device), precision=precision,
                torch=torch.__version__, memory_format=numerics(device, precision)["memory_format"])


def engine_metrics(arch: str, data, iterations: int, device: torch.device, precision: str,
                   compiled: bool = False) -> dict:
    """The engine's run metrics over ``iterations`` steps: ``images_per_second`` (with ``compiled``, over the
    steps after the first, which compiles; its time is ``compile_seconds``)."""
    profile = replace(get_profile("cpu"), name="bench", iterations=iterations, eval_every=10 ** 9,
                      log_every=iterations, checkpoint_every=10 ** 9, final_eval_subset=128)
    if device.type == "cuda":  # CUDA context, cuDNN handles and kernels are set up outside the timed run
        train(RunConfig(arch, profile="cpu", precision=precision), data, device=device, progress=False,
              profile=replace(profile, iterations=2))
    result = train(RunConfig(arch, profile="cpu", precision=precision, compiled=compiled), data, device=device,
                   progress=False, profile=replace(profile, iterations=iterations + 1) if compiled else profile)
    return result.metrics


def run_bench(arch: str = "resnet20", iterations: int = 20, device=None, data=None, workers: int | None = None,
              compiled: bool = False) -> dict:
    """Measure, in one process and on one device: the bare training step, this engine at its default precision,
    the engine in fp32, and the DataLoader + transforms loop (fp32, as most reimplementations); with
    ``compiled``, also the engine at its default precision with torch.compile. JSON-able dict."""
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"bench needs at least 1 iteration; got {iterations!r}")
    device = pick_device(device)
    data = data if hasattr(data, "train_x") else load_cifar10(data)
    if workers is None:  # what a reimplementation would give it: 2 on a laptop-sized CPU, up to 8 beside a GPU
        workers = min(8 if device.type == "cuda" else 2, os.cpu_count() or 1)
    precision = resolve_precision("auto", device)
    bare = bare_step_images_per_second(arch, iterations, device, precision)
    engine = engine_metrics(arch, data, iterations, device, precision)["images_per_second"]
    engine32 = engine if precision == "fp32" else engine_metrics(arch, data, iterations, device, "fp32")["images_per_second"]
    base = baseline_images_per_second(arch, data, iterations, device, workers)
    extra = {}
    if compiled:
        m = engine_metrics(arch, data, iterations, device, precision, compiled=True)
        fast = m["images_per_second"]
        extra = dict(engine_compiled_images_per_second=round(fast, 1), ratio_compiled=round(fast / base, 2),
                     compile_seconds=m.get("compile_seconds"))
    return dict(arch=arch, device=device_name(device), torch=torch.__version__, batch_size=128,
                iterations=iterations, data_source=data.source, precision=precision,
                memory_format=numerics(device, precision)["memory_format"],
                baseline_dataloader_workers=workers, bare_step_images_per_second=round(bare, 1),
                engine_images_per_second=round(engine, 1), engine_fp32_images_per_second=round(engine32, 1),
                baseline_images_per_second=round(base, 1), ratio=round(engine / base, 2),
                engine_vs_bare_step=round(engine / bare, 3), **extra)
