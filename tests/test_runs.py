"""The run store: hashing, atomic records, get_or_train, the training opt-out, failures, concurrency."""
import json
import multiprocessing as mp
import os
from dataclasses import replace

import pytest
import torch

from resnet_lab import runs as R
from resnet_lab.profiles import PROFILES
from resnet_lab.train import RunConfig, TrainingDiverged

FAST = replace(PROFILES["smoke"], iterations=4, log_every=2, checkpoint_every=2, eval_every=2, final_eval_subset=64)


@pytest.fixture(autouse=True)
def fast_smoke(monkeypatch):
    monkeypatch.setitem(PROFILES, "smoke", FAST)


def rid(cfg, precision="fp32", fingerprint="synthetic000"):
    """The id a run of ``cfg`` gets on conftest's tiny_data (fingerprint 'synthetic000') in fp32 on the CPU."""
    return R.run_id(cfg, precision, fingerprint)


def test_run_id_depends_on_every_field(monkeypatch):
    base = RunConfig("resnet20", profile="smoke")
    ids = {rid(base)} | {rid(replace(base, **kw)) for kw in
                         [dict(seed=1), dict(shortcut="B"), dict(variant="preact"), dict(profile="cpu"),
                          dict(data_source="official"), dict(arch="resnet32")]}
    ids |= {rid(base, precision="bf16"), rid(base, fingerprint="abc123")}
    assert len(ids) == 9
    assert rid(base) == rid(RunConfig("resnet20", profile="smoke"))
    assert rid(base).startswith("resnet20-A-smoke-s0-jpeg-fp32-")
    monkeypatch.setitem(PROFILES, "smoke", replace(FAST, lr=0.05))  # any resolved setting of the profile
    assert rid(base) not in ids


def test_get_or_train_records_then_reuses(tiny_data, tmp_path):
    store = R.RunStore(tmp_path)
    cfg = RunConfig("resnet20", profile="smoke")
    rec = store.get_or_train(cfg, data=tiny_data, progress=False)
    assert rec.metrics["status"] == "completed"
    for f in ("config.json", "history.json", "metrics.json", "provenance.json", "weights.safetensors"):
        assert (rec.path / f).exists(), f
    prov = rec.provenance
    assert {"device", "torch", "commit", "wall_seconds", "data", "data_source"} <= set(prov)
    assert rec.config == replace(cfg, precision="fp32")  # the record says what it ran in
    mtime = (rec.path / "metrics.json").stat().st_mtime_ns
    again = store.get_or_train(cfg, data=tiny_data, progress=False)
    assert (again.path / "metrics.json").stat().st_mtime_ns == mtime  # not retrained
    model = rec.load_model()
    assert not model.training and next(model.parameters()).dtype == torch.float32
    assert not list(tmp_path.glob(".*.tmp"))  # no temp folders left behind
    assert [r.id for r in store.records()] == [rec.id]


def test_training_opt_out_names_the_run(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "0")
    cfg = RunConfig("plain20", profile="smoke")
    with pytest.raises(R.RunNotRecorded, match=r"plain20 \(profile smoke, seed 0, CIFAR-10 JPEG copy\)") as e:
        R.RunStore(tmp_path).get_or_train(cfg, data=tiny_data)
    assert "python -m resnet_lab train --arch plain20 --profile smoke --seed 0" in str(e.value)
    assert "\n" not in str(e.value)  # one line: the book build prints it as it is


def test_nan_marks_the_run_failed(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(PROFILES, "smoke", replace(FAST, lr=1e12, iterations=10))
    store = R.RunStore(tmp_path)
    cfg = RunConfig("plain20", profile="smoke")
    with pytest.raises(TrainingDiverged):
        store.get_or_train(cfg, data=tiny_data, progress=False)
    rec = store.get(cfg)
    assert rec.failed and "loss became" in rec.metrics["error"]
    with pytest.raises(R.RunFailed, match="failed"):
        store.get_or_train(cfg, data=tiny_data, progress=False)


def test_interrupted_write_leaves_nothing(tiny_data, tmp_path, monkeypatch):
    store = R.RunStore(tmp_path)
    cfg = RunConfig("resnet20", profile="smoke")

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr("safetensors.torch.save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        store.get_or_train(cfg, data=tiny_data, progress=False)
    assert store.get(cfg) is None
    assert not [p for p in tmp_path.iterdir() if p.name not in (".locks", ".partial")]


def test_stopped_run_resumes_from_its_checkpoint(tiny_data, tmp_path):
    store = R.RunStore(tmp_path)
    cfg = RunConfig("resnet20", profile="smoke")
    with pytest.raises(R.RunNotRecorded, match="stopped"):
        store.get_or_train(cfg, data=tiny_data, progress=False, should_stop=lambda it: it >= 3)
    assert (tmp_path / ".partial" / rid(cfg) / "checkpoint.pt").exists()
    rec = store.get_or_train(cfg, data=tiny_data, progress=False)
    fresh = R.RunStore(tmp_path / "fresh").get_or_train(cfg, data=tiny_data, progress=False)
    assert rec.history == fresh.history
    assert not (tmp_path / ".partial" / rid(cfg)).exists()


def _worker(root, q):
    import os
    from tests.conftest import REPO  # noqa: F401  (sets up the import path like pytest does)
    from resnet_lab import runs as R
    from resnet_lab.profiles import PROFILES
    from resnet_lab.data import Cifar10
    PROFILES["smoke"] = FAST
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (256,), generator=g)
    x = torch.randint(0, 255, (256, 3, 32, 32), generator=g, dtype=torch.uint8)
    data = Cifar10(x, y, x[:64], y[:64], x[:64], y[:64], x.float().mean(0) / 255, "jpeg", "synthetic")
    rec = R.RunStore(root).get_or_train(RunConfig("resnet20", profile="smoke"), data=data, progress=False)
    q.put((os.getpid(), rec.provenance["started"], rec.metrics["final_test_error"]))


def test_two_processes_asking_for_one_run_train_it_once(tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]  # generous: a loaded machine (a trainer beside) is slow to spawn
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert results[0][1:] == results[1][1:]  # both got the one record (same start time, same result)
    assert len(R.RunStore(tmp_path).records()) == 1


def test_best_profile_and_find(tiny_data, tmp_path):
    store = R.RunStore(tmp_path)
    assert store.best_profile() is None
    store.get_or_train(RunConfig("plain20", profile="smoke"), data=tiny_data, progress=False)
    assert store.best_profile() == "smoke"
    assert [r.config.arch for r in store.find(arch="plain20")] == ["plain20"]
    assert store.find(arch="resnet20") == []


def _write_with(tmp_path, model):
    store = R.RunStore(tmp_path)
    cfg = RunConfig("plain20", profile="smoke")
    metrics = dict(status="completed", iterations=1, final_train_error=0.5, final_val_error=0.5, final_test_error=0.5)
    return store.write(R.Run.of(cfg, "synthetic000", precision="fp32"), dict(train=[], eval=[]), metrics, {}, model=model)


def test_weights_round_trip_exactly_beyond_float16_range(tmp_path):
    """A deep plain net's BN running variances pass float16's 65,504 (plain-56 reached inf when records kept
    float16): the record keeps float32, so the loaded model is the trained one to the last bit."""
    torch.manual_seed(0)
    model = RunConfig("plain20", profile="smoke").build()
    bn = model.stage1[0].bn1
    bn.running_var.fill_(1e6)
    bn.running_mean.fill_(-3e5)
    with torch.no_grad():
        model.stage1[0].conv1.weight.mul_(1e-6)  # below float16's normal range
    loaded = _write_with(tmp_path, model).load_model()
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_weights_with_non_finite_values_are_refused_by_name(tmp_path):
    model = RunConfig("plain20", profile="smoke").build()
    model.stage2[1].bn2.running_var[3] = float("inf")
    rec = _write_with(tmp_path, model)
    with pytest.raises(R.RecordDamaged, match=r"non-finite values in stage2\.1\.bn2\.running_var$"):
        rec.load_model()
    assert rec.weights_dtype() == "float32"


def test_a_run_whose_weights_do_not_load_is_left_out_of_weight_analyses_by_name(tmp_path):
    from resnet_lab import book
    good = _write_with(tmp_path / "a", RunConfig("plain20", profile="smoke").build())
    model = RunConfig("plain20", profile="smoke").build()
    model.stage1[0].bn1.running_var.fill_(float("inf"))
    bad = _write_with(tmp_path / "b", model)
    out = book.with_weights(book.RunSet({"plain20": good, "plain56": bad}))
    assert list(out) == ["plain20"] and list(out.unusable) == ["plain56"]
    assert "non-finite values in stage1.0.bn1.running_var" in out.note() and "plain56" in out.note()
    assert good.weights_problem() is None
