"""A run's name covers everything that shapes its result: config, resolved profile settings, precision, data."""
from dataclasses import fields, replace

import pytest
import torch

from resnet_lab import runs as R
from resnet_lab.profiles import PROFILES, resolved_settings
from resnet_lab.train import RunConfig, resolve_precision

FP = "0123456789ab"


def test_id_changes_with_every_config_field():
    base = RunConfig("resnet20", profile="cpu")
    ids = {R.run_id(base, "fp32", FP)}
    for kw in [dict(seed=1), dict(shortcut="B"), dict(variant="preact"), dict(profile="smoke"),
               dict(data_source="official"), dict(arch="resnet32")]:
        ids.add(R.run_id(replace(base, **kw), "fp32", FP))
    assert len(ids) == 7
    assert R.run_id(base, "fp32", FP) == R.run_id(RunConfig("resnet20", profile="cpu"), "fp32", FP)
    assert R.run_id(base, "fp32", FP).startswith("resnet20-A-cpu-s0-jpeg-fp32-")


def test_id_changes_with_precision_and_data_content():
    cfg = RunConfig("plain20", profile="cpu")
    assert len({R.run_id(cfg, "fp32", FP), R.run_id(cfg, "bf16", FP), R.run_id(cfg, "fp32", "ffffffffffff")}) == 3


def test_compiled_runs_are_other_runs_and_eager_ids_do_not_move():
    eager, compiled = RunConfig("resnet20", profile="cpu"), RunConfig("resnet20", profile="cpu", compiled=True)
    assert "compiled" not in eager.identity_fields() and compiled.identity_fields()["compiled"] is True
    assert R.run_id(compiled, "bf16", FP) != R.run_id(eager, "bf16", FP)
    assert R.run_id(compiled, "bf16", FP).startswith("resnet20-A-cpu-s0-jpeg-bf16-compiled-")
    with pytest.raises(ValueError, match="compiled must be True or False"):
        RunConfig("resnet20", compiled="yes")


SHAPING = [f.name for f in fields(PROFILES["cpu"]) if f.name not in
           ("name", "summary", "checkpoint_every", "save_weights", "precision", "warmup_from_depth", "warmup_lr",
            "warmup_until_error", "warmup_window")]


@pytest.mark.parametrize("setting", SHAPING)
def test_id_changes_with_every_profile_setting(monkeypatch, setting):
    cfg = RunConfig("resnet20", profile="cpu")
    before = R.run_id(cfg, "fp32", FP)
    p = PROFILES["cpu"]
    value = getattr(p, setting)
    new = (value[0] + 1, value[1] + 1) if isinstance(value, tuple) else (
        123 if value is None else type(value)(value * 2 + 1))
    monkeypatch.setitem(PROFILES, "cpu", replace(p, **{setting: new}))
    assert R.run_id(cfg, "fp32", FP) != before, setting


def test_warmup_rule_changes_only_the_runs_it_touches(monkeypatch):
    r20, r110 = RunConfig("resnet20", profile="cpu"), RunConfig("resnet110", profile="cpu")
    before = R.run_id(r20, "fp32", FP), R.run_id(r110, "fp32", FP)
    assert resolved_settings(PROFILES["cpu"], True, 110)["warmup"] is not None
    assert resolved_settings(PROFILES["cpu"], True, 56)["warmup"] is None
    assert resolved_settings(PROFILES["cpu"], False, 110)["warmup"] is None  # plain nets never warm up
    monkeypatch.setitem(PROFILES, "cpu", replace(PROFILES["cpu"], warmup_lr=0.02))
    assert R.run_id(r20, "fp32", FP) == before[0]
    assert R.run_id(r110, "fp32", FP) != before[1]


def test_bookkeeping_settings_do_not_rename_runs(monkeypatch):
    cfg = RunConfig("resnet20", profile="cpu")
    before = R.run_id(cfg, "fp32", FP)
    monkeypatch.setitem(PROFILES, "cpu", replace(PROFILES["cpu"], summary="other words", checkpoint_every=7))
    assert R.run_id(cfg, "fp32", FP) == before


def test_stale_record_is_not_found_after_a_profile_change(tiny_data, tmp_path, monkeypatch):
    fast = replace(PROFILES["smoke"], iterations=4, log_every=2, checkpoint_every=2, eval_every=2, final_eval_subset=64)
    monkeypatch.setitem(PROFILES, "smoke", fast)
    store = R.RunStore(tmp_path)
    cfg = RunConfig("resnet20", profile="smoke")
    rec = store.get_or_train(cfg, data=tiny_data, progress=False)
    assert store.get(cfg) is not None and rec.precision == "fp32"
    assert rec.identity["data_fingerprint"] == tiny_data.fingerprint
    monkeypatch.setitem(PROFILES, "smoke", replace(fast, iterations=6))
    assert store.get(cfg) is None  # the old record is stale: not found, not reused
    assert store.find(profile="smoke") == [] and store.best_profile() is None
    assert store.get(replace(cfg), data_fingerprint="ffffffffffff") is None


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert PROFILES["cpu"].precision == "fp32"  # bf16 is not yet shown to keep accuracy at this budget
    with pytest.raises(ValueError, match="precision"):
        RunConfig("resnet20", precision="fp8")
    with pytest.raises(ValueError, match="seed"):
        RunConfig("resnet20", seed="../../x")


def test_the_no_warmup_profile_is_the_cpu_profile_without_the_warmup():
    """cpu_nowarmup (ResNet-110's warm-up control, issue 29) differs from cpu in the warm-up alone: for ResNet-110
    its resolved settings differ only there, and for a net the warm-up never touches they are cpu's."""
    cpu, nowarm = PROFILES["cpu"], PROFILES["cpu_nowarmup"]
    differ = {k for k, v in nowarm.as_dict().items() if cpu.as_dict()[k] != v}
    assert differ == {"name", "summary", "warmup_from_depth"}
    r110 = resolved_settings(cpu, True, 110), resolved_settings(nowarm, True, 110)
    assert r110[0]["warmup"] is not None and r110[1]["warmup"] is None
    assert {k: v for k, v in r110[0].items() if k != "warmup"} == {k: v for k, v in r110[1].items() if k != "warmup"}
    assert resolved_settings(cpu, True, 56) == resolved_settings(nowarm, True, 56)
    cfg = RunConfig("resnet110", profile="cpu_nowarmup")
    assert R.run_id(cfg, "fp32", FP).startswith("resnet110-A-cpu_nowarmup-s0-jpeg-fp32-")
