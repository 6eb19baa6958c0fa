"""The training engine: schedule, resume, NaN guard, a real smoke run."""
from dataclasses import replace

import pytest
import torch

from resnet_lab.profiles import PROFILES, get_profile, lr_at
from resnet_lab.train import RunConfig, TrainingDiverged, train, pick_device


def test_paper_lr_schedule():
    p = get_profile("paper")
    assert [lr_at(i, p) for i in (0, 31_999, 32_000, 47_999, 48_000, 63_999)] == \
        pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert lr_at(100, p, warming_up=True) == 0.01
    assert (p.iterations, p.batch_size, p.momentum, p.weight_decay) == (64_000, 128, 0.9, 1e-4)


def test_profiles_scale_the_milestones_at_half_and_three_quarters():
    for p in PROFILES.values():
        if p.name == "quick":  # drops late on purpose, after the first-steps transient (profiles.py)
            continue
        assert p.milestones == (p.iterations // 2, p.iterations * 3 // 4)
        assert p.checkpoint_every % p.log_every == 0 and p.eval_every % p.log_every == 0


def test_unknown_profile_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match=", ".join(PROFILES)):
        get_profile("fast")
    monkeypatch.setenv("RESNET_LAB_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    with pytest.raises(ValueError, match="unknown profile"):
        RunConfig("resnet20", profile="nope")


def test_run_config_validation():
    assert RunConfig("resnet20").shortcut == "A"
    assert RunConfig("plain20").shortcut is None
    with pytest.raises(ValueError, match="no shortcut"):
        RunConfig("plain20", shortcut="B")
    with pytest.raises(ValueError, match="CIFAR-10 nets only"):
        RunConfig("resnet18")


def test_device_order(monkeypatch):
    monkeypatch.setenv("RESNET_LAB_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    assert pick_device("cpu").type == "cpu"


def _quick(**kw):
    return replace(PROFILES["smoke"], name="smoke", **kw)


def test_warmup_for_110_layers_only(tiny_data):
    p = _quick(iterations=4, log_every=2, checkpoint_every=2, eval_every=2, final_eval_subset=64)
    deep = train(RunConfig("resnet110", profile="smoke"), tiny_data, profile=p, progress=False)
    assert deep.history["train"][0]["lr"] == 0.01  # starts warming up at lr 0.01
    shallow = train(RunConfig("resnet20", profile="smoke"), tiny_data, profile=p, progress=False)
    assert shallow.history["train"][0]["lr"] == 0.1
    plain = train(RunConfig("plain110", profile="smoke"), tiny_data,
                  profile=_quick(iterations=2, log_every=2, checkpoint_every=2, eval_every=2, final_eval_subset=64),
                  progress=False)
    assert plain.history["train"][0]["lr"] == 0.1


def test_resume_gives_the_same_result(tiny_data, tmp_path):
    cfg = RunConfig("resnet20", profile="smoke")
    p = _quick(iterations=12, log_every=2, checkpoint_every=4, eval_every=4, final_eval_subset=64)
    straight = train(cfg, tiny_data, profile=p, progress=False)
    ckpt = tmp_path / "ck.pt"
    killed = train(cfg, tiny_data, profile=p, progress=False, checkpoint_path=ckpt, should_stop=lambda it: it >= 7)
    assert killed.metrics["status"] == "stopped" and ckpt.exists()
    resumed = train(cfg, tiny_data, profile=p, progress=False, checkpoint_path=ckpt)
    assert resumed.metrics["status"] == "completed"
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert straight.history == resumed.history
    assert straight.metrics["final_test_error"] == resumed.metrics["final_test_error"]


def test_checkpoint_loads_with_weights_only(tiny_data, tmp_path):
    p = _quick(iterations=4, log_every=2, checkpoint_every=2, eval_every=2, final_eval_subset=64)
    train(RunConfig("resnet20", profile="smoke"), tiny_data, profile=p, progress=False,
          checkpoint_path=tmp_path / "c.pt", should_stop=lambda it: it >= 3)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["iteration"] == 3  # where it stopped, between two logging points
    assert state["window"]["seen"] > 0


def test_nan_guard(tiny_data):
    p = _quick(iterations=10, log_every=2, lr=1e12)
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(RunConfig("plain20", profile="smoke"), tiny_data, profile=p, progress=False)


def test_history_is_dense_enough_for_fig6(tiny_data):
    p = _quick(iterations=8, log_every=2, eval_every=4, checkpoint_every=4, final_eval_subset=64)
    r = train(RunConfig("resnet20", profile="smoke"), tiny_data, profile=p, progress=False)
    assert [h["iter"] for h in r.history["train"]] == [2, 4, 6, 8]
    assert [h["iter"] for h in r.history["eval"]] == [4, 8]
    assert all(0 <= h["test_error"] <= 1 for h in r.history["eval"])


def test_smoke_run_on_cifar_lowers_training_loss(real_data):
    r = train(RunConfig("resnet20", profile="smoke", data_source=real_data.source), real_data, progress=False)
    losses = [h["loss"] for h in r.history["train"]]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.05
    assert r.metrics["status"] == "completed" and r.metrics["iterations"] == 20


def test_compiled_step_trains_like_the_eager_one(tiny_data):
    """torch.compile of the training step (``--compile``): same losses as eager to float rounding, the compiling
    first step kept out of the rate, and the choice in the run's numerics."""
    import shutil
    if not (shutil.which("g++") or shutil.which("clang++")):
        pytest.skip("no C++ compiler for inductor")
    p = _quick(iterations=4, log_every=1, eval_every=10, checkpoint_every=10, final_eval_subset=64)
    eager = train(RunConfig("resnet20", profile="smoke", precision="fp32"), tiny_data, profile=p, progress=False)
    comp = train(RunConfig("resnet20", profile="smoke", precision="fp32", compiled=True), tiny_data, profile=p,
                 progress=False)
    (first, *rest), (cfirst, *crest) = eager.history["train"], comp.history["train"]
    assert cfirst["loss"] == pytest.approx(first["loss"], rel=1e-5)  # the same weights, the same batch
    for a, b in zip(rest, crest):  # later steps: rounding differences grow through the updates, slowly
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-2)
    assert comp.metrics["compile_seconds"] > 0 and comp.metrics["images_per_second"] > 0
    assert "compiled" in comp.extra["numerics"] and "compiled" not in eager.extra["numerics"]
    assert not any(k.startswith("_orig_mod") for k in comp.model.state_dict())  # the record's weights load
