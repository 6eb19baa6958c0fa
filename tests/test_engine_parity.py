"""Recorded runs stay reproducible: the engine in parts trains the same bits as the engine before it
(tests/_legacy_train.py, a frozen copy of train() at commit 7fabb9a) -- weights, BN buffers, momentum buffers,
generator, loss history -- across epoch reshuffles, both lr drops and the ResNet-110-style warm-up, and a run
stopped mid-window by either engine resumes in the new one to the bits of a run that never stopped."""
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from resnet_lab.profiles import PROFILES
from resnet_lab.train import RunConfig, train

sys.path.insert(0, str(Path(__file__).parent))
import _legacy_train as legacy  # noqa: E402

# 100 training images in batches of 24: a reshuffle every 4 iterations; lr drops at 6 and 10; a net of depth >= 20
# warms up at lr 0.01 until iteration 4 (the rule's threshold 101% error: it ends at its first chance)
P = replace(PROFILES["smoke"], name="smoke", iterations=13, milestones=(6, 10), train_subset=100, batch_size=24,
            log_every=2, eval_every=4, checkpoint_every=4, eval_subset=32, final_eval_subset=32,
            warmup_from_depth=20, warmup_window=4, warmup_until_error=1.01)
NOT_BITS = ("train_seconds", "images_per_second")  # wall-clock numbers


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


NEW_KEYS = ("settings", "precision")  # what trained a checkpoint (since 2026-12-02): the legacy engine wrote neither


def assert_same(a, b, where="checkpoint"):
    """Equal to the last bit, recursively; 'elapsed' (seconds) aside, and at the top of a checkpoint the keys only
    the new engine writes (tested in test_failures2)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(bits(a), bits(b)), where  # -0.0 is not 0.0, a NaN equals only its own bits
    elif isinstance(a, dict):
        aside = {"elapsed", *(NEW_KEYS if where == "checkpoint" else ())}
        keys = set(a) - aside
        assert keys == set(b) - aside, (where, sorted(set(a) ^ set(b)))
        for k in keys:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def same_result(r1, r2):
    assert r1.history == r2.history
    assert {k: v for k, v in r1.metrics.items() if k not in NOT_BITS} == \
        {k: v for k, v in r2.metrics.items() if k not in NOT_BITS}
    assert_same(r1.model.state_dict(), r2.model.state_dict(), "model")


@pytest.mark.parametrize("arch,seed", [("resnet20", 0), ("plain20", 3)])
def test_a_run_is_the_run_the_old_engine_trained(tiny_data, tmp_path, arch, seed):
    cfg = RunConfig(arch, profile="smoke", seed=seed)
    old = legacy.train(cfg, tiny_data, profile=P, progress=False, checkpoint_path=tmp_path / "old.pt", tag="t")
    new = train(cfg, tiny_data, profile=P, progress=False, checkpoint_path=tmp_path / "new.pt", tag="t")
    same_result(old, new)
    lrs = [h["lr"] for h in new.history["train"]]
    if arch == "resnet20":  # the warm-up, its end, both drops
        assert lrs == pytest.approx([0.01, 0.01, 0.1, 0.01, 0.01, 0.001, 0.001])
        assert new.history["train"][1].get("warmup_ended")
    else:
        assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    # the finished checkpoints: momentum buffers, generator, permutation, position, warm-up windows, sums
    a, b = (torch.load(tmp_path / f, weights_only=True) for f in ("old.pt", "new.pt"))
    assert len(a["optimizer"]["state"]) == len(list(new.model.parameters()))
    assert_same(a, b)


@pytest.mark.parametrize("stopped_by", ["old", "new"])
def test_a_stopped_run_resumes_to_the_same_bits(tiny_data, tmp_path, stopped_by):
    """Stopped at iteration 7 (inside a logging window, before the second drop), by either engine (a checkpoint
    in runs/.partial may be the old engine's), resumed by the new one: the run that never stopped."""
    cfg = RunConfig("resnet20", profile="smoke", seed=1)
    straight = legacy.train(cfg, tiny_data, profile=P, progress=False)
    ckpt = tmp_path / "ck.pt"
    stopper = legacy.train if stopped_by == "old" else train
    killed = stopper(cfg, tiny_data, profile=P, progress=False, checkpoint_path=ckpt, tag="t",
                     should_stop=lambda it: it >= 7)
    assert killed.metrics["status"] == "stopped" and torch.load(ckpt, weights_only=True)["iteration"] == 7
    if stopped_by == "new":  # the new engine's checkpoint at the stop is the old engine's, bit for bit
        ref = tmp_path / "ref.pt"
        legacy.train(cfg, tiny_data, profile=P, progress=False, checkpoint_path=ref, tag="t",
                     should_stop=lambda it: it >= 7)
        assert_same(torch.load(ref, weights_only=True), torch.load(ckpt, weights_only=True))
    resumed = train(cfg, tiny_data, profile=P, progress=False, checkpoint_path=ckpt, tag="t")
    assert resumed.metrics["status"] == "completed" and resumed.extra["resumed_at"] == 7
    same_result(straight, resumed)
