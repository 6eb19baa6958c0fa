"""Several processes, one run (issue 31), checked on the CPU with 2 Gloo ranks -- processes forked from this one
and set up as torchrun sets up its processes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT``) -- on tiny
synthetic data, in float64 (see :func:`float64`), through the run store and the command line:

1. 2 ranks with synchronised BN train what one process trains (BN over the whole batch), to float tolerance:
   weights, BN buffers, loss and error history;
2. 2 ranks with per-device BN (the paper's) train what one process with ghost BN over half-batches trains;
3. a rank killed mid-run leaves no record, half-written or whole, and the run resumes from rank 0's checkpoint to
   the bits of the run that was never killed.
"""
import os
import signal
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from resnet_lab import distributed as D
from resnet_lab import runs as R
from resnet_lab.profiles import PROFILES
from resnet_lab.train import RunConfig

HERE = Path(__file__).resolve()
# 32 training images in batches of 8 (4 per rank): a reshuffle after 4 iterations; lr drops at 2 and 4; a
# checkpoint at 4; evaluations (16 images) at 2, 4 and at the end
TINY = replace(PROFILES["smoke"], iterations=6, milestones=(2, 4), train_subset=32, batch_size=8, log_every=2,
               eval_every=2, checkpoint_every=4, eval_subset=16, final_eval_subset=16)
TOL = dict(rtol=1e-6, atol=1e-7)  # the records keep float32 weights of float64 trainings: a last bit at most


def float64(patch) -> None:
    """Train in float64 (``patch(obj, name, value)`` as monkeypatch.setattr): the images normalised to float64 and
    every net, buffer and sum in it. A float32 run cannot show that 2 ranks compute what 1 process computes: at
    initialisation a ResNet-20's float32 gradient (BN in training mode) is off the exact one by up to 1.7% in some
    layers (the same batch, one process: ``torch.float32`` vs ``float64``), so two float32 runs that only add in
    another order part by as much (measured: 1e-2 in the weights after 8 SGD steps of batch 16). In float64 2
    ranks and 1 process agree to about 1e-13 in the gradients, and a real difference (BN over 4 images instead
    of 8, running statistics not averaged, a loss or gradient counted twice, weight decay added twice, another
    slice of the data) is orders of magnitude above the tolerance."""
    import resnet_lab.engine.step
    import resnet_lab.train

    def normalize64(x_uint8, mean):
        return x_uint8.double().div_(255.0).sub_(mean)
    torch.set_default_dtype(torch.float64)
    patch(resnet_lab.engine.step, "normalize", normalize64)
    patch(resnet_lab.train, "normalize", normalize64)


def tiny_cifar():
    """conftest's tiny_data (the workers cannot take a fixture)."""
    from resnet_lab.data import Cifar10

    g = torch.Generator().manual_seed(0)

    def make(n):
        y = torch.randint(0, 10, (n,), generator=g)
        x = torch.randint(0, 60, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
        x[:, 0] += (y * 19).to(torch.uint8)[:, None, None]
        return x, y
    (tx, ty), (vx, vy), (sx, sy) = make(512), make(64), make(64)
    return Cifar10(tx, ty, vx, vy, sx, sy, tx.float().mean(0) / 255, "jpeg", "synthetic", "synthetic000")


def _can_fork_gloo_ranks() -> bool:
    import multiprocessing
    return (torch.distributed.is_available() and torch.distributed.is_gloo_available()
            and "fork" in multiprocessing.get_all_start_methods())


needs_ranks = pytest.mark.skipif(not _can_fork_gloo_ranks(), reason="needs torch.distributed with Gloo and fork()")


def config(**kw) -> RunConfig:
    return RunConfig("resnet20", profile="smoke", **kw)


# ---- the ranks ------------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank: int, ports: list[int], jobs: list[dict], out: str) -> None:
    """One rank, forked from the test process (which has torch imported: a fresh interpreter would spend seconds on
    it), started as torchrun starts one: $RANK, $WORLD_SIZE, $MASTER_ADDR, $MASTER_PORT. Each job trains through
    the API (``D.init`` + ``D.get_or_train``) or through the command line (``cli.main``, which joins the group
    itself), each on a port of its own; rank 1 kills itself at iteration ``kill_rank1_at``. Output and traceback
    go to ``<out>.<rank>``."""
    import contextlib
    import traceback

    import resnet_lab.data
    torch.set_num_threads(1)
    float64(setattr)
    PROFILES["smoke"] = TINY
    resnet_lab.data.load_cifar10 = lambda *a, **k: tiny_cifar()  # what the command line loads
    with open(f"{out}.{rank}", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            for port, job in zip(ports, jobs):
                os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                                  LOCAL_RANK=str(rank))
                if "cli" in job:
                    code = cli_main(job["cli"])
                    assert code == 0, f"exit {code}"
                    continue
                D.init(device="cpu", timeout=60)

                def should_stop(it):
                    if rank == 1 and it == job.get("kill_rank1_at"):
                        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind: a crash, an OOM kill
                    return False
                D.get_or_train(R.RunStore(job["store"]), config(**job["run"]), data=tiny_cifar(), device="cpu",
                               progress=False, should_stop=should_stop)
                D.shutdown()
        except BaseException:
            traceback.print_exc()
            log.flush()
            os._exit(1)
    os._exit(0)


def cli_main(args):
    from resnet_lab.cli import main
    return main(args)


def launch(jobs: list[dict], tmp: Path, timeout: float = 120) -> list[tuple[int, str]]:
    """Two ranks doing ``jobs`` in turn; (exit code, output) of each."""
    import importlib
    import multiprocessing

    # what the ranks would import lazily, imported once here (seconds each; torch.optim's first optimiser imports
    # torch._dynamo)
    for name in ("resnet_lab.cli", "resnet_lab.engine", "safetensors.torch", "torch._dynamo", "torch.nn.parallel",
                 "tqdm.auto"):
        importlib.import_module(name)
    fork = multiprocessing.get_context("fork")
    ports, out = [free_port() for _ in jobs], str(tmp / f"ranks-{free_port()}")
    procs = [fork.Process(target=rank_main, args=(r, ports, jobs, out)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    done = [(p.exitcode, Path(f"{out}.{r}").read_text() if Path(f"{out}.{r}").exists() else "")
            for r, p in enumerate(procs)]
    assert all(code is not None for code, _ in done), done
    return done


# ---- fixtures --------------------------------------------------------------------------------------------------

@pytest.fixture
def tiny(monkeypatch):
    """The tiny profile and data, in float64 (as the ranks train)."""
    monkeypatch.setitem(PROFILES, "smoke", TINY)
    float64(monkeypatch.setattr)
    yield tiny_cifar()
    torch.set_default_dtype(torch.float32)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Two launches of 2 ranks. The first trains a run with per-device BN in store ``killed``, and rank 1 is killed at
    iteration 5 (the checkpoint is at 4). The second, through the command line: the same command resumes it; then,
    in store ``ddp``, the run with per-device BN that no one killed and the one with synchronised BN."""
    tmp = tmp_path_factory.mktemp("ddp")
    killed, ddp = tmp / "killed", tmp / "ddp"
    first = launch([dict(store=str(killed), run=dict(world_size=2), kill_rank1_at=5)], tmp)
    state = dict(records=R.RunStore(killed).records(), damaged=R.RunStore(killed).damaged(),
                 leftovers=R.RunStore(killed).leftovers(), in_progress=R.RunStore(killed).in_progress(),
                 tmp=list(killed.glob(".*.tmp*")))
    train = ["train", "--arch", "resnet20", "--profile", "smoke", "--device", "cpu", "--data-source", "jpeg"]
    second = launch([dict(cli=train + ["--runs", str(killed)]), dict(cli=train + ["--runs", str(ddp)]),
                     dict(cli=train + ["--runs", str(ddp), "--sync-bn"])], tmp)
    return dict(first=first, killed_state=state, second=second, killed=R.RunStore(killed), ddp=R.RunStore(ddp))


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The runs of one process: BN over the whole batch, and ghost BN over half-batches (float64, as the ranks)."""
    store = R.RunStore(tmp_path_factory.mktemp("one"))
    with pytest.MonkeyPatch.context() as m:
        m.setitem(PROFILES, "smoke", TINY)
        float64(m.setattr)
        try:
            data = tiny_cifar()
            return {k: store.get_or_train(config(**kw), data=data, device="cpu", progress=False)
                    for k, kw in (("whole", {}), ("ghost", dict(ghost_bn=4)))}
        finally:
            torch.set_default_dtype(torch.float32)


def record(store: R.RunStore, cfg: RunConfig) -> R.RunRecord:
    with pytest.MonkeyPatch.context() as m:
        m.setitem(PROFILES, "smoke", TINY)
        rec = store.get(cfg)
    assert rec is not None, f"{cfg} not recorded in {store.root}"
    return rec


def assert_same_training(a: R.RunRecord, b: R.RunRecord, exact: bool = False):
    """Weights and BN buffers (the record's float32 state), the loss and error history, the evaluations."""
    wa, wb = a.load_model().state_dict(), b.load_model().state_dict()
    assert wa.keys() == wb.keys()
    for k in wa:
        if exact:
            assert torch.equal(wa[k], wb[k]), k
        else:
            torch.testing.assert_close(wa[k], wb[k], **TOL, msg=lambda m: f"{k}: {m}")
    ha, hb = a.history, b.history
    if exact:
        assert ha == hb
        return
    assert [(p["iter"], p["lr"]) for p in ha["train"]] == [(p["iter"], p["lr"]) for p in hb["train"]]
    assert [p["loss"] for p in ha["train"]] == pytest.approx([p["loss"] for p in hb["train"]], rel=1e-5)
    assert [p["error"] for p in ha["train"]] == [p["error"] for p in hb["train"]]
    for pa, pb in zip(ha["eval"], hb["eval"], strict=True):
        assert pa.keys() == pb.keys() and pa == pytest.approx(pb, rel=1e-4)


# ---- 1. synchronised BN over 2 ranks = 1 process ----------------------------------------------------------------

@needs_ranks
def test_sync_bn_over_two_ranks_trains_what_one_process_trains(two_ranks, one_process, tiny):
    assert [code for code, _ in two_ranks["second"]] == [0, 0], two_ranks["second"]
    one = one_process["whole"]
    two = record(two_ranks["ddp"], config(world_size=2, sync_bn=True))
    assert_same_training(two, one)
    assert two.id.startswith("resnet20-A-smoke-s0-jpeg-fp32-ddp2-syncbn-") and "ddp" not in one.id
    prov = two.provenance
    assert prov["world_size"] == 2 and prov["batch_norm"] == dict(mode="sync", images=8, groups_per_batch=1)
    assert prov["distributed"]["backend"] == "gloo" and prov["distributed"]["images_per_process"] == 4
    assert "world_size" not in one.provenance and "batch_norm" not in one.provenance  # as before issue 31


# ---- 2. per-device BN over 2 ranks = 1 process with ghost BN over half-batches ------------------------------------

@needs_ranks
def test_per_device_bn_over_two_ranks_trains_what_ghost_bn_trains(two_ranks, one_process, tiny):
    ghost = one_process["ghost"]
    two = record(two_ranks["ddp"], config(world_size=2))
    assert_same_training(two, ghost)
    assert two.id.startswith("resnet20-A-smoke-s0-jpeg-fp32-ddp2-bn4-") and "-bn4-" in ghost.id
    assert two.provenance["batch_norm"] == dict(mode="per-device", images=4, groups_per_batch=2)
    assert ghost.provenance["batch_norm"] == dict(mode="ghost", images=4, groups_per_batch=2)
    assert ghost.provenance["world_size"] == 1 and "distributed" not in ghost.provenance
    # and it is another training than BN over the whole batch (the comparison the issue is about)
    whole = one_process["whole"]
    assert [p["loss"] for p in whole.history["train"]] != pytest.approx([p["loss"] for p in ghost.history["train"]],
                                                                        rel=1e-5)


# ---- 3. a rank killed mid-run ----------------------------------------------------------------------------------------

@needs_ranks
def test_a_killed_rank_leaves_no_record_and_the_run_resumes_to_the_same_bits(two_ranks, tiny):
    (code0, out0), (code1, _) = two_ranks["first"]
    assert code1 == -signal.SIGKILL and code0 == 1, out0  # rank 0 fails: its peer is gone
    left = two_ranks["killed_state"]
    assert left["records"] == left["damaged"] == left["leftovers"] == left["tmp"] == []
    assert [(r.iteration, r.running, r.problem) for r in left["in_progress"]] == [(4, False, None)]  # rank 0's at 4
    (code0, out0), (code1, out1) = two_ranks["second"]
    resumed, never_killed = record(two_ranks["killed"], config(world_size=2)), record(two_ranks["ddp"],
                                                                                      config(world_size=2))
    assert f"run {resumed.id}\nrecord " in out0 and "run " not in out1  # rank 0 alone says it (and writes it)
    assert resumed.id == never_killed.id and two_ranks["killed"].in_progress() == []
    assert_same_training(resumed, never_killed, exact=True)
    assert resumed.provenance["resumed_at"] == 4 and resumed.metrics["status"] == "completed"


# ---- without processes -------------------------------------------------------------------------------------------

def test_world_size_and_bn_mode_name_the_run_and_one_process_ids_do_not_move():
    base = config()
    assert base.identity_fields() == RunConfig("resnet20", profile="smoke").identity_fields()
    assert not {"world_size", "sync_bn", "ghost_bn"} & set(base.identity_fields())
    ids = {R.run_id(c, "fp32", "f") for c in (base, config(world_size=2), config(world_size=2, sync_bn=True),
                                               config(ghost_bn=32), config(world_size=2, ghost_bn=16))}
    assert len(ids) == 5
    assert R.train_command(config(world_size=2, sync_bn=True)).startswith(
        "torchrun --nproc-per-node 2 -m resnet_lab train --arch resnet20")
    assert R.train_command(config(ghost_bn=32)).endswith(" --ghost-bn 32")
    assert config(world_size=2).bn_images() == config(ghost_bn=32).bn_images() == 32  # smoke: batch 64


@pytest.mark.parametrize("kw,msg", [(dict(sync_bn=True), "leave out --sync-bn"),
                                    (dict(ghost_bn=48), "must divide"),
                                    (dict(world_size=2, ghost_bn=32), "leave out --ghost-bn"),
                                    (dict(world_size=3), "does not split evenly"),
                                    (dict(world_size=2, sync_bn=True, ghost_bn=16), "choose one"),
                                    (dict(world_size=0), "at least 1")])
def test_bad_combinations_are_one_line_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        config(**kw)


def test_the_command_line_checks_the_bn_options_before_it_loads_data(tmp_path, capsys):
    from resnet_lab.cli import main
    base = ["--profile", "quick", "--runs", str(tmp_path), "--data-source", "jpeg"]
    assert main(["train", "--arch", "resnet20", "--sync-bn"] + base) == 2  # one process: no torchrun
    assert "leave out --sync-bn" in capsys.readouterr().err
    assert main(["sweep", "--ghost-bn", "48"] + base) == 2
    assert "ghost_bn=48 must divide the batch of 128" in capsys.readouterr().err
    assert R.train_command(RunConfig("resnet20", profile="quick", ghost_bn=64)) == \
        "python -m resnet_lab train --arch resnet20 --shortcut A --profile quick --seed 0 --ghost-bn 64"


def test_a_run_of_two_processes_needs_them(tiny):
    from resnet_lab.train import train
    with pytest.raises(ValueError, match="torchrun --nproc-per-node 2"):
        train(config(world_size=2), tiny, device="cpu", progress=False)


