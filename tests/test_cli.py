"""python -m resnet_lab: arch, train, runs, bench; errors exit non-zero with the message."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "resnet_lab", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_arch_json():
    out = cli("arch", "resnet110", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["name"] == "resnet110" and info["shortcut"] == "A" and info["params"] == 1_727_962
    assert abs(info["macs"] - 252.9e6) / 252.9e6 < 0.01
    assert info["input_size"] == [3, 32, 32]
    b = json.loads(cli("arch", "resnet50", "--shortcut", "B", "--json").stdout)
    assert b["params"] == 25_557_032 and b["input_size"] == [3, 224, 224]


def test_arch_table():
    out = cli("arch", "resnet56")
    assert out.returncode == 0 and "stage2" in out.stdout and "853,018" in out.stdout


@pytest.mark.parametrize("args,msg", [
    (("arch", "resnet19"), "unknown network"),
    (("arch", "resnet20", "--variant", "bottleneck"), "allowed"),
    (("arch", "resnet34", "--variant", "one_layer"), "CIFAR family"),
    (("train", "--arch", "resnet20", "--profile", "turbo"), "unknown profile"),
    (("train", "--arch", "resnet18", "--profile", "smoke"), "CIFAR-10 nets only"),
    (("train", "--arch", "plain20", "--shortcut", "B", "--profile", "smoke"), "no shortcut"),
])
def test_bad_input_exits_nonzero_with_message(args, msg):
    out = cli(*args)
    assert out.returncode != 0
    assert msg in out.stderr


def test_train_without_data_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RESNET_LAB_CIFAR10"}
    out = subprocess.run([sys.executable, "-m", "resnet_lab", "train", "--arch", "resnet20", "--profile", "smoke",
                          "--runs", str(tmp_path)], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert out.returncode != 0 and "RESNET_LAB_CIFAR10" in out.stderr


def test_train_then_runs_json(tmp_path, real_data):
    out = cli("train", "--arch", "resnet20", "--profile", "smoke", "--runs", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "test error" in out.stdout and str(tmp_path) in out.stdout
    listing = json.loads(cli("runs", "--json", "--runs", str(tmp_path)).stdout)
    assert len(listing) == 1
    item = listing[0]
    for key in ("arch", "shortcut", "profile", "seed", "data_source", "final_train_error", "final_test_error", "path"):
        assert key in item
    assert item["arch"] == "resnet20" and item["profile"] == "smoke" and item["data_source"] == "jpeg"
    assert Path(item["path"]).is_dir()


def test_bench_json(real_data):
    out = cli("bench", "--iterations", "3", "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["engine_images_per_second"] > 0 and r["baseline_images_per_second"] > 0
    assert r["ratio"] == pytest.approx(r["engine_images_per_second"] / r["baseline_images_per_second"], rel=0.02)


def test_runs_lists_runs_in_progress_and_whether_they_train_now(tmp_path, capsys):
    import torch
    from resnet_lab.cli import main
    from resnet_lab.runs import RunStore
    store = RunStore(tmp_path)
    rid, bad = "resnet20-A-smoke-s0-jpeg-fp32-0123456789", "plain20-plain-smoke-s0-jpeg-fp32-0123456789"
    (tmp_path / ".partial" / rid).mkdir(parents=True)
    torch.save({"iteration": 10, "tag": rid}, tmp_path / ".partial" / rid / "checkpoint.pt")
    (tmp_path / ".partial" / bad).mkdir(parents=True)
    (tmp_path / ".partial" / bad / "checkpoint.pt").write_bytes(b"junk")
    [p1, p2] = sorted(store.in_progress(), key=lambda r: r.id)
    assert p1.id == bad and p1.iteration is None and "unreadable checkpoint" in p1.problem
    assert (p2.iteration, p2.iterations, p2.running) == (10, 20, False)
    with store._lock(rid):  # another open file holding the lock, as a training process does
        assert [r.running for r in store.in_progress() if r.id == rid] == [True]
        assert main(["runs", "--runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"in progress: {rid} at iteration 10/20 (training now)" in out
    assert f"in progress: {bad} unreadable checkpoint" in out
    assert main(["runs", "--runs", str(tmp_path)]) == 0
    assert "(paused; `train` or `sweep` with the same settings resumes it)" in capsys.readouterr().out
    assert main(["runs", "--json", "--runs", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == []  # --json lists records only


def test_step_seconds_times_each_net_in_every_round():
    from resnet_lab.bench import step_seconds, variant_configs
    from resnet_lab.train import RunConfig
    seen = []
    r = step_seconds({"a": RunConfig("resnet20"), "b": RunConfig("plain20")}, iterations=1, rounds=3, device="cpu",
                     progress=lambda d, t: seen.append((d, t)))
    assert set(r["seconds"]) == {"a", "b"} and all(len(v) == 3 for v in r["rounds"].values())
    assert all(r["seconds"][k] == sorted(r["rounds"][k])[1] > 0 for k in "ab")  # the median of the rounds
    assert seen[-1] == (6, 6) and r["batch_size"] == 128 and r["precision"] == "fp32"
    with pytest.raises(ValueError, match="rounds"):
        step_seconds({"a": RunConfig("resnet20")}, rounds=0)
    cfgs = variant_configs()  # every net chapter 7 compares, each beside its baseline
    assert list(cfgs) == ["resnet32 A", "resnet32 B", "resnet32 C", "resnet56", "preact-resnet56", "resnet110",
                          "preact-resnet110"]
    assert cfgs["resnet32 C"].shortcut == "C" and cfgs["preact-resnet110"].variant == "preact"


def test_bench_variants_keeps_its_result_in_the_run_store(tmp_path, monkeypatch, capsys):
    from resnet_lab import bench
    from resnet_lab.cli import main
    from resnet_lab.train import RunConfig
    monkeypatch.setattr(bench, "variant_configs", lambda: {"resnet20": RunConfig("resnet20")})
    assert main(["bench", "--variants", "--iterations", "1", "--device", "cpu", "--runs", str(tmp_path)]) == 0
    kept = list((tmp_path / "studies" / "step_times").glob("*.json"))
    assert len(kept) == 1
    r = json.loads(kept[0].read_text())
    assert r["seconds"]["resnet20"] > 0 and r["iterations"] == 1 and r["commit"] and r["started"]
    assert "resnet20:" in capsys.readouterr().out
