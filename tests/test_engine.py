"""The engine's parts, each alone: the data stream, the schedule, the SGD update, the step (no host sync, static
storage), and the CUDA-only graph path refusing to run where it cannot."""
from dataclasses import replace

import pytest
import torch

from resnet_lab.data import augment_draws
from resnet_lab.engine import DataStream, PaperSGD, Schedule, Trainer
from resnet_lab.profiles import PROFILES, get_profile, lr_at
from resnet_lab.train import RunConfig


# ---- the data stream --------------------------------------------------------------------------------------------

def todays_draws(n_images, batch, seed, iterations):
    """The draws as train() made them before the engine had parts (commit 7fabb9a), one iteration at a time."""
    gen = torch.Generator().manual_seed(seed)
    perm, pos, rows = torch.randperm(n_images, generator=gen), 0, []
    for _ in range(iterations):
        if pos + batch > len(perm):
            perm, pos = torch.randperm(n_images, generator=gen), 0
        rows.append(torch.cat([perm[pos:pos + batch][None], augment_draws(batch, gen)]))
        pos += batch
    return torch.stack(rows), gen.get_state(), perm, pos


@pytest.mark.parametrize("n_images,batch", [(96, 24), (100, 24), (45000, 128)])
def test_data_stream_draws_what_the_engine_drew(n_images, batch):
    """Same indices and crop/flip draws, epoch reshuffles included (96 = 4 x 24: a batch ends exactly at an
    epoch's end; 100: 4 images skipped per epoch), whether drawn row by row or a window at a time."""
    iterations = 13 if n_images < 1000 else 360  # 360 x 128 > 45000: one reshuffle
    want, gen_state, perm, pos = todays_draws(n_images, batch, 5, iterations)
    s = DataStream(n_images, batch, seed=5)
    got = torch.cat([s.window(4), s.draw()[None], s.window(iterations - 5)])
    assert torch.equal(got, want) and got.dtype == torch.int64 and got.shape == (iterations, 4, batch)
    state = s.state()
    assert torch.equal(state["generator"], gen_state) and torch.equal(state["perm"], perm) and state["pos"] == pos


def test_data_stream_rewinds_to_any_iteration():
    s = DataStream(100, 24, seed=1)
    s.window(3)
    at3 = s.state()
    ahead = s.window(6)
    s.restore(at3)
    assert torch.equal(s.window(6), ahead)  # the loop's rewind after a stop inside a window
    s.restore(at3)
    s.window(2)
    assert torch.equal(s.draw(), ahead[2])


# ---- the schedule -----------------------------------------------------------------------------------------------

def test_schedule_lr_at_every_iteration_of_each_profile():
    for p in PROFILES.values():
        s = Schedule.for_net(p, residual=True, depth=20)
        lrs = [s.lr(i) for i in range(p.iterations)]
        m1, m2 = p.milestones
        assert lrs == pytest.approx([p.lr] * m1 + [p.lr / 10] * (m2 - m1) + [p.lr / 100] * (p.iterations - m2))
        assert lrs == [lr_at(i, p) for i in range(p.iterations)]  # the profiles' rule, to the bit
    p = get_profile("paper")
    s = Schedule.for_net(p, True, 56)
    assert [s.lr(i) for i in (31_999, 32_000, 47_999, 48_000)] == pytest.approx([0.1, 0.01, 0.01, 0.001])


def test_schedule_warm_up_is_resnet110s_and_ends_below_80_percent_over_the_window():
    p = get_profile("cpu")  # logging points every 50 iterations; the warm-up judged over the last 100
    assert not Schedule.for_net(p, residual=True, depth=56).warming_up
    assert not Schedule.for_net(p, residual=False, depth=110).warming_up
    s = Schedule.for_net(p, residual=True, depth=110)
    assert s.warming_up and s.lr(0) == 0.01 and s.lr(5000) == 0.01  # the warm-up lr, whatever the milestones
    n = 50 * 128  # images per logging window
    early = Schedule.for_net(p, residual=True, depth=110)
    assert not early.observe(50, 0.1 * n, n) and early.warming_up  # 10% error, but 50 < 100 iterations trained
    assert not s.observe(50, 0.95 * n, n)
    assert not s.observe(100, 0.80 * n, n)  # points 50 and 100: 87.5%
    assert s.observe(150, 0.70 * n, n) and not s.warming_up  # points 100 and 150: 75% < 80%
    assert s.lr(150) == 0.1 and s.lr(3200) == pytest.approx(0.01)
    assert s.windows == [(50, 0.95 * n, n), (100, 0.80 * n, n), (150, 0.70 * n, n)]
    assert not s.observe(200, n, n) and len(s.windows) == 3  # over: later points change nothing
    assert Schedule(p, True, s.windows[:2]).observe(150, 0.70 * n, n)  # restored from a checkpoint: the same


# ---- the update -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lr_on_device", [True, False])
def test_paper_sgd_is_torch_sgd_to_the_last_bit(lr_on_device):
    """Momentum 0.9, weight decay 1e-4, lr changes between steps; odd sizes take the kernels' scalar tails. The lr
    read from a device tensor (what a graph captures) or a host number (torch's own foreach operation)."""
    torch.manual_seed(0)
    shapes = [(16, 3, 3, 3), (16,), (64, 64, 3, 3), (10, 64), (10,), (37,)]
    p0 = [torch.randn(s) for s in shapes]
    grads = [[torch.randn(s) * 0.1 for s in shapes] for _ in range(5)]
    a = [p.clone().requires_grad_() for p in p0]
    b = [p.clone().requires_grad_() for p in p0]
    ref = torch.optim.SGD(a, lr=0.1, momentum=0.9, weight_decay=1e-4)
    ours = PaperSGD(b, lr=0.1, momentum=0.9, weight_decay=1e-4, lr_on_device=lr_on_device)
    for g, lr in zip(grads, [0.1, 0.1, 0.01, 0.01, 0.001]):
        for group in ref.param_groups:
            group["lr"] = lr
        ours.set_lr(lr)
        for x, y, gg in zip(a, b, g):
            x.grad, y.grad = gg.clone(), gg.clone()
        ref.step()
        ours.step()
        for x, y in zip(a, b):
            assert torch.equal(x, y) and torch.equal(ref.state[x]["momentum_buffer"], ours.state[y]["momentum_buffer"])
    assert ours.lr_tensor.item() == pytest.approx(0.001) and ours.param_groups[0]["lr"] == 0.001
    sd = ours.state_dict()  # a checkpoint of either loads into the other
    assert sd["param_groups"][0].keys() == ref.state_dict()["param_groups"][0].keys()
    ref.load_state_dict(sd)


# ---- the step ---------------------------------------------------------------------------------------------------

def _trainer(data, **kw):
    p = replace(PROFILES["smoke"], name="smoke", iterations=12, batch_size=16, log_every=4, checkpoint_every=4,
                eval_every=8, final_eval_subset=32)
    return Trainer(RunConfig("resnet20", profile="smoke"), data, device="cpu", profile=p, progress=False, **kw)


class HostSync(AssertionError):
    pass


def test_the_step_makes_no_host_sync(tiny_data, monkeypatch):
    """The step never reads a device value on the host (on CUDA each would stall the launch queue and break a
    graph capture): .item, .cpu, .tolist, .numpy and the conversions to bool/int/float raise while it runs. The
    very first step (it creates the momentum buffers) included."""
    t = _trainer(tiny_data)
    t.begin()
    t._draw_window()

    def forbidden(name):
        def raise_(*a, **k):
            raise HostSync(f"host sync in the step: Tensor.{name}")
        return raise_
    with monkeypatch.context() as m:
        for name in ("item", "cpu", "tolist", "numpy", "__bool__", "__int__", "__float__"):
            m.setattr(torch.Tensor, name, forbidden(name))
        for _ in range(3):
            t.step()
    with pytest.raises(HostSync):  # the patch bites where a value is read
        with monkeypatch.context() as m:
            m.setattr(torch.Tensor, "item", forbidden("item"))
            t.step.loss_sum.item()
    assert t.step.counter.item() == 3 and t.step.wrong_sum.item() <= 48 and t.step.loss_sum.item() > 0


def test_the_step_keeps_its_storage_across_steps_windows_and_a_resume(tiny_data, tmp_path):
    """What a captured graph reads and writes never moves: parameters, BN buffers, momentum buffers, lr, the draw
    table and counter, the sums -- after a resume from a checkpoint too (restored before the step exists)."""
    ck = tmp_path / "c.pt"
    first = _trainer(tiny_data, checkpoint_path=ck, should_stop=lambda it: it >= 6)
    first.run()
    t = _trainer(tiny_data, checkpoint_path=ck)
    assert t.start == 6
    t.begin()
    t.advance()  # the first step after the resume: the momentum buffers come from the checkpoint
    ptrs = {k: v.data_ptr() for k, v in t.step.static_tensors().items()}
    assert any(k.startswith("momentum") for k in ptrs) and any(k.startswith("buffer:") for k in ptrs)
    while t.advance():  # through a logging point (sums zeroed), a new window of draws, an lr drop (at 6 and 9)
        assert {k: v.data_ptr() for k, v in t.step.static_tensors().items()} == ptrs
    assert t.it == 12


def test_graphs_are_refused_off_cuda_and_with_compile(tiny_data):
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        _trainer(tiny_data, graph=True)
    t = _trainer(tiny_data, graph=None)  # the default: eager
    assert t.graph is False
    from resnet_lab.engine.loop import check_graph
    with pytest.raises(ValueError, match="--compile or --graph"):
        check_graph(True, torch.device("cuda"), compiled=True, precision="fp32")
    with pytest.raises(ValueError, match="fp32 only"):
        check_graph(True, torch.device("cuda"), compiled=False, precision="bf16")
    from resnet_lab.engine.step import GraphedStep
    t.begin()
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        GraphedStep(t.step, None)


def test_graphed_step_warms_up_then_captures_once_or_once_per_lr(monkeypatch):
    """The graph bookkeeping, with CUDA faked: 3 eager steps, then one capture replayed at every call; with the lr
    a host number, one capture per lr value (a value seen before replays its graph)."""
    import contextlib
    from types import SimpleNamespace
    from resnet_lab.engine.step import GraphedStep
    log = []

    class FakeGraph:
        def replay(self):
            log.append("replay")

    class FakeStep(SimpleNamespace):
        def __call__(self):
            log.append("step")

    @contextlib.contextmanager
    def fake_capture(graph, stream=None, capture_error_mode="global"):
        assert capture_error_mode == "thread_local" and stream == "net stream"
        log.append("capture")
        yield
    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", fake_capture)
    for on_device in (True, False):
        log.clear()
        opt = SimpleNamespace(lr_on_device=on_device, _lr=0.01)
        step = FakeStep(device=torch.device("cuda"), opt=opt)
        g = GraphedStep(step, "net stream", warmup=3)
        for lr in [0.01] * 5 + [0.1] * 2 + [0.01, 0.001]:
            opt._lr = lr
            g()
        captures = ["capture", "step", "replay"]
        if on_device:
            assert log == ["step"] * 3 + captures + ["replay"] * 5
        else:  # 0.01 (captured at the 4th call), 0.1 (new), 0.01 (replayed), 0.001 (new)
            assert log == ["step"] * 3 + captures + ["replay"] + captures + ["replay", "replay"] + captures


def test_bench_engine_runs_its_gpu_phases_with_cuda_faked(monkeypatch):
    """`bench --engine`'s CUDA-only code (graphed phases, the graph-agreement check), run on the CPU with the graph
    replaced by the eager step and CUDA's synchronisation calls by no-ops: no Python error waits for the GPU
    window, and eager against 'graphed' (the same step here) agrees to the bit."""
    import resnet_lab.bench as B
    import resnet_lab.engine.loop as L
    monkeypatch.setattr(L, "check_graph", lambda graph, device, compiled, precision: bool(graph))
    monkeypatch.setattr(L, "GraphedStep", lambda step, stream, warmup: step)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", lambda mode: None)
    data = B.synthetic_data(300)
    cpu = torch.device("cpu")
    r = B.graph_agreement("resnet20", data, cpu, steps=3, lr_on_device=False)
    assert r["bit_identical"] and r["max_abs_difference"] == 0 and r["same_losses"], r
    assert r["step_host_sync"].startswith("none")
    r = B.nets_images_per_second("resnet20", data, cpu, 2, graph=True, seconds=0.0, warmup=1)
    assert r["nets"] == 2 and r["iterations_each"] == 5 and r["images_per_second"] > 0
