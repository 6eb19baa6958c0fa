"""Training throughput of this engine against a conventional DataLoader + torchvision-transforms loop.

All loops train the same net with the same optimiser, batch 128, on the same device,
in the same process, after a bare training step on a fixed batch (the ceiling): the baseline decodes PIL images per sample in DataLoader
workers (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, mean
subtraction), the way most CIFAR reimplementations do; the engine keeps uint8
tensors on the device and augments whole batches. Reported as images/s and ratio.

``bench --engine`` (:func:`run_engine_bench`) times the engine's own step instead: eager against CUDA graphs, and
1/2/4/8 nets trained at once, fp32, on synthetic data, each phase time-boxed, as ratios to the eager single net
of the same run; on CUDA it also checks that graphed and eager training agree to the bit.
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


# ---- the engine's steps: eager vs CUDA graphs, 1 to 8 nets at once (issue 36) ------------------------------------

def synthetic_data(n_train: int, seed: int = 0):
    """A Cifar10 of random uint8 images (a step costs the same whatever the pixels): no data set to load."""
    from .data import Cifar10
    g = torch.Generator().manual_seed(seed)

    def make(n):
        return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.randint(0, 10, (n,),
                                                                                                     generator=g)
    (tx, ty), (vx, vy), (sx, sy) = make(n_train), make(500), make(500)
    return Cifar10(tx, ty, vx, vy, sx, sy, tx[:1000].float().mean(0) / 255, "jpeg", "synthetic", f"synthetic{seed}")


def _bench_profile(iterations: int = 10 ** 9, milestones=(10 ** 9 - 2, 10 ** 9 - 1)):
    """The paper's recipe (batch 128, logging reads every 100 iterations), without evaluations or checkpoints."""
    return replace(get_profile("paper"), name="bench", iterations=iterations, milestones=milestones,
                   eval_every=10 ** 9, checkpoint_every=10 ** 9, final_eval_subset=256, eval_subset=256)


def nets_images_per_second(arch: str, data, device: torch.device, n: int, graph: bool, seconds: float,
                           warmup: int = 8) -> dict:
    """``n`` nets (seeds 0..n-1) trained together by the engine's loop for about ``seconds`` after ``warmup``
    iterations each (the graph's eager steps and its capture among them): aggregate img/s."""
    from .engine import Trainer
    shared = {}
    nets = [Trainer(RunConfig(arch, profile="paper", seed=s, precision="fp32"), data, device=device, progress=False,
                    profile=_bench_profile(), graph=graph, shared=shared) for s in range(n)]
    for t in nets:
        with t.on_stream():
            t.begin()
    for _ in range(warmup):
        for t in nets:
            with t.on_stream():
                t.advance()
    _sync(device)
    rounds, t0 = 0, time.perf_counter()
    while True:
        for _ in range(5):
            for t in nets:
                with t.on_stream():
                    t.advance()
        rounds += 5
        if time.perf_counter() - t0 > seconds:
            break
    _sync(device)
    el = time.perf_counter() - t0
    return dict(nets=n, graph=graph, iterations_each=rounds, seconds=round(el, 2),
                images_per_second=round(rounds * n * 128 / el, 1), ms_per_round=round(1000 * el / rounds, 3))


def graph_agreement(arch: str, data, device: torch.device, steps: int = 200, lr_on_device: bool = True) -> dict:
    """CUDA: the same net trained eagerly and with a graphed step for ``steps`` iterations with lr drops at half
    and three quarters: whether weights, BN buffers and momentum agree to the bit (else the largest difference),
    and whether the step passes torch.cuda's sync debug mode ('error': any host sync raises)."""
    from .engine import Trainer
    prof = _bench_profile(steps, (steps // 2, steps * 3 // 4))
    runs = []
    for graph in (False, True):
        t = Trainer(RunConfig(arch, profile="paper", seed=0, precision="fp32"), data, device=device, progress=False,
                    profile=prof, graph=graph, lr_on_device=lr_on_device)
        result = t.run()
        momentum = [v["momentum_buffer"].detach().cpu() for v in t.opt.state_dict()["state"].values()]
        runs.append((list(result.model.state_dict().values()) + momentum, result.history["train"]))
    (eager, eager_log), (graphed, graphed_log) = runs
    diffs = [(a.double() - b.double()).abs().max().item() for a, b in zip(eager, graphed)]
    out = dict(steps=steps, lr_on_device=lr_on_device, bit_identical=all(torch.equal(a, b) for a, b in
                                                                         zip(eager, graphed)),
               max_abs_difference=max(diffs), same_losses=[h["loss"] for h in eager_log] ==
               [h["loss"] for h in graphed_log])
    t = Trainer(RunConfig(arch, profile="paper", seed=1, precision="fp32"), data, device=device, progress=False,
                profile=_bench_profile(), lr_on_device=lr_on_device)
    with t.on_stream():
        t.begin()
        for _ in range(3):
            t.advance()
        torch.cuda.synchronize(device)
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                t.step()
            out["step_host_sync"] = "none (torch.cuda.set_sync_debug_mode('error') passed 3 steps)"
        except RuntimeError as e:
            out["step_host_sync"] = f"FOUND: {' '.join(str(e).split())[:300]}"
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return out


def paper_sgd_vs_torch_sgd(device: torch.device, steps: int = 5, lr_on_device: bool = True) -> bool:
    """The engine's update (lr in a device tensor) against torch.optim.SGD as the engine used it before (foreach on
    CUDA, single-tensor on the CPU), on the parameters of a ResNet-20 with random gradients: equal to the bit?"""
    from .engine import PaperSGD
    torch.manual_seed(0)
    shapes = [p.shape for p in RunConfig("resnet20").build().parameters()]
    p0 = [torch.randn(s, device=device) for s in shapes]
    a = [p.clone().requires_grad_() for p in p0]
    b = [p.clone().requires_grad_() for p in p0]
    ref, ours = (torch.optim.SGD(a, lr=0.1, momentum=0.9, weight_decay=1e-4),
                 PaperSGD(b, lr=0.1, momentum=0.9, weight_decay=1e-4, lr_on_device=lr_on_device))
    for i, lr in enumerate([0.1, 0.1, 0.01, 0.001, 0.001][:steps]):
        for g in ref.param_groups:
            g["lr"] = lr
        ours.set_lr(lr)
        for x, y in zip(a, b):
            x.grad = torch.randn_like(x) * 0.1
            y.grad = x.grad.clone()
        ref.step()
        ours.step()
    return all(torch.equal(x, y) for x, y in zip(a, b))


def run_engine_bench(arch: str = "resnet20", device=None, nets=(1, 2, 4, 8), seconds: float = 10.0,
                     agreement_steps: int = 200, log=print) -> dict:
    """Eager vs graphed steps, and 1/2/4/8 nets at once, fp32, batch 128, on synthetic data: each phase
    time-boxed to ``seconds``, every rate also as a ratio to the single eager net measured in the same run. Off
    CUDA the graphed phases and the agreement check are skipped with a message (a dry run of the rest)."""
    device = pick_device(device)
    set_cuda_numerics(device, "fp32")
    data = synthetic_data(45000 if device.type == "cuda" else 4096)
    cuda = device.type == "cuda"
    out = dict(arch=arch, device=device_name(device), torch=torch.__version__, batch_size=128, precision="fp32",
               seconds_per_phase=seconds, phases={}, skipped=[])
    modes = [False, True] if cuda else [False]
    if not cuda:
        out["skipped"].append("graphed phases: CUDA graphs need a CUDA device")
    for graph in modes:
        for n in nets:
            label = f"{'graphed' if graph else 'eager'} x{n}"
            t0 = time.perf_counter()
            try:
                r = nets_images_per_second(arch, data, device, n, graph, seconds)
            except Exception as e:  # one phase failing (e.g. out of memory) does not lose the others
                out["skipped"].append(f"{label}: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
                log(f"{label}: failed ({type(e).__name__})")
                continue
            out["phases"][label] = r
            log(f"{label}: {r['images_per_second']} img/s ({time.perf_counter() - t0:.0f} s)")
            if cuda:
                torch.cuda.empty_cache()
    base = out["phases"].get("eager x1", {}).get("images_per_second")
    if base:
        out["ratio_to_eager_x1"] = {k: round(v["images_per_second"] / base, 2) for k, v in out["phases"].items()}
    out["paper_sgd_bit_identical_to_torch_sgd"] = {f"lr_on_device={m}": paper_sgd_vs_torch_sgd(device, lr_on_device=m)
                                                   for m in (True, False)}
    log(f"PaperSGD vs torch.optim.SGD: {out['paper_sgd_bit_identical_to_torch_sgd']}")
    if cuda:
        out["graph_agreement"] = {}
        for m in (True, False):
            try:
                r = graph_agreement(arch, data, device, agreement_steps, lr_on_device=m)
            except Exception as e:
                r = f"FAILED: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
            out["graph_agreement"][f"lr_on_device={m}"] = r
            log(f"graph agreement, lr_on_device={m}: {r}")
    else:
        out["skipped"].append("graph agreement: CUDA graphs need a CUDA device")
    return out
