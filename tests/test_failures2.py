"""Reliability, round two (issue 30): wrong records and stale inputs never pass silently; old, foreign or damaged
files give a one-line error naming the culprit, and the store stays consistent."""
import errno
import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from resnet_lab import atomic as A
from resnet_lab import cli
from resnet_lab import runs as R
from resnet_lab import train as T
from resnet_lab.atomic import WriteFailed
from resnet_lab.profiles import PROFILES
from resnet_lab.train import ForeignCheckpoint, RunConfig, train
from test_failures import (CFG, FAST, OTHER, TINY_FP, Counter, fake_record, fast_smoke, good_and_other,  # noqa: F401
                           one_line_error,
                           run_cli, store_is_clean, with_tiny_data)


def begun_checkpoint(tmp_path, tiny_data, tag=None):
    """A checkpoint of CFG stopped at iteration 3, where the store looks for it."""
    rid = R.run_id(CFG, "fp32", TINY_FP)
    ckpt = tmp_path / ".partial" / rid / "checkpoint.pt"
    train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt, tag=tag or rid,
          should_stop=lambda it: it >= 3)
    return ckpt


def edit_json(path: Path, change):
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


# ---- case 1: what shapes a run must shape its id, or be refused ----------------------------------------------------

@pytest.mark.parametrize("kwargs,culprit", [
    (dict(profile=replace(FAST, iterations=2)), "profile='smoke'"),
    (dict(profile="quick"), "profile='quick'"),
    (dict(tag="x"), "tag"),
    (dict(checkpoint_path="/tmp/x.pt"), "checkpoint_path"),
])
def test_train_settings_that_the_id_does_not_name_are_refused(tmp_path, tiny_data, monkeypatch, kwargs, culprit):
    steps = Counter(monkeypatch)
    with pytest.raises(ValueError, match="get_or_train") as e:
        R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False, **kwargs)
    assert culprit in str(e.value) and "\n" not in str(e.value)
    assert steps.n == 0 and not tmp_path.joinpath(".partial").exists() and R.RunStore(tmp_path).records() == []


def test_the_configs_own_profile_is_accepted(tmp_path, tiny_data):
    rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False, profile=PROFILES["smoke"])
    assert rec.metrics["iterations"] == FAST.iterations and rec.profile_settings["iterations"] == FAST.iterations


def test_the_value_that_trains_a_run_is_the_value_that_names_its_record(tmp_path, tiny_data, monkeypatch):
    from resnet_lab.engine import loop
    from resnet_lab.profiles import resolved_settings
    seen = []
    real_init = loop.Trainer.__init__

    def spy(self, *a, **kw):
        real_init(self, *a, **kw)
        seen.append(self)
    monkeypatch.setattr(loop.Trainer, "__init__", spy)
    rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    (t,) = seen
    assert isinstance(t.resolved, R.Run) and t.resolved.id == t.tag == rec.id  # the checkpoint's tag, the record's folder
    assert t.resolved.identity == rec.identity and t.precision == rec.precision == t.resolved.precision
    assert t.profile is t.resolved.profile and rec.profile_settings == json.loads(json.dumps(t.profile.as_dict()))
    assert rec.identity["settings"] == resolved_settings(t.profile, CFG.residual, CFG.depth)
    assert rec.metrics["iterations"] == t.profile.iterations


def test_a_checkpoint_trained_under_other_settings_is_not_resumed_under_this_runs_name(tmp_path, tiny_data):
    """train() with a profile of its own and the run's tag leaves a checkpoint where the store looks; the store's
    run (the registered profile) must not resume it: the checkpoint says what trained it."""
    rid = R.run_id(CFG, "fp32", TINY_FP)
    ckpt = tmp_path / ".partial" / rid / "checkpoint.pt"
    train(CFG, tiny_data, profile=replace(FAST, lr=0.05), progress=False, checkpoint_path=ckpt, tag=rid,
          should_stop=lambda it: it >= 2)
    assert ckpt.is_file()
    with pytest.warns(R.CheckpointSetAside, match=r"cannot be resumed \(trained under other settings: lr differ\)"):
        rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    assert rec.id == rid and rec.metrics["iterations"] == FAST.iterations
    assert rec.history["train"][0]["iter"] <= FAST.log_every  # trained from the start, not from iteration 2
    assert len(list(ckpt.parent.glob("checkpoint.pt.corrupt-*"))) == 1


def test_a_run_cannot_be_named_by_one_profile_and_trained_by_another(tiny_data):
    cfg = replace(CFG, precision="fp32")
    with pytest.raises(ValueError, match=r"differs from the registered profile 'smoke'.*\(in iterations\)") as e:
        R.Run(cfg, replace(FAST, iterations=2), TINY_FP)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="precision must be resolved"):
        R.Run(CFG, FAST, TINY_FP)
    with pytest.raises(ValueError, match="expected a RunConfig, got str"):
        R.Run.of("resnet20", TINY_FP)


@pytest.mark.parametrize("kwargs,culprit", [(dict(profile=FAST), "leave out profile"), (dict(tag="x"), "leave out tag")])
def test_a_resolved_run_brings_its_own_profile_and_tag(tiny_data, kwargs, culprit):
    with pytest.raises(ValueError, match=culprit):
        train(R.Run.of(CFG, TINY_FP, "cpu"), tiny_data, progress=False, **kwargs)


def test_a_resolved_run_refuses_data_it_is_not_named_for(tiny_data, monkeypatch):
    steps = Counter(monkeypatch)
    with pytest.raises(ValueError, match="named for data with fingerprint 'ffffffffffff'"):
        train(R.Run.of(CFG, "ffffffffffff", "cpu"), tiny_data, progress=False)
    assert steps.n == 0


def test_the_store_records_only_a_resolved_run(tmp_path):
    store = R.RunStore(tmp_path)
    with pytest.raises(ValueError, match="records a resolved run .* got a RunConfig"):
        store.write(CFG, {"train": [], "eval": []}, {"status": "failed", "error": "x"}, {})
    assert not tmp_path.joinpath(CFG.arch).exists() and store.records() == []


def test_resolving_keeps_the_ids_of_every_recorded_run():
    """The ids of the repository's records, rebuilt through Run.of from their config: none moved."""
    from resnet_lab.profiles import get_profile, resolved_settings
    store = R.RunStore(R.REPO_ROOT / "runs")
    checked = 0
    for rec in store.records():
        c = rec.config
        if rec.identity["settings"] != resolved_settings(get_profile(c.profile), c.residual, c.depth):
            continue  # made under older settings of its profile (stale): its id is not the current one
        assert R.Run.of(c, rec.identity["data_fingerprint"], precision=rec.precision).id == rec.id
        checked += 1
    assert checked >= 20


# ---- case 3: a full disk at the final checkpoint keeps the finished training ----------------------------------------

def _full_at_final_checkpoint(monkeypatch):
    """The final checkpoint's write fails as torch fails on a full disk (a short write inside torch.save)."""
    real = T.atomic_torch_save

    def save(obj, path):
        if obj.get("iteration") != FAST.iterations:
            return real(obj, path)

        def short_write(f):
            f.write(b"PK\x03\x04 partial zip")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1919 vs 1847")
        return A._atomic(path, short_write)
    monkeypatch.setattr(T, "atomic_torch_save", save)


def test_full_disk_at_the_final_checkpoint_records_the_run_from_memory(tmp_path, tiny_data, monkeypatch):
    store = R.RunStore(tmp_path)
    with pytest.raises(R.RunNotRecorded):
        store.get_or_train(CFG, data=tiny_data, progress=False, should_stop=lambda it: it >= 2)
    _full_at_final_checkpoint(monkeypatch)
    with pytest.warns(UserWarning, match="no space left on device") as w:
        rec = store.get_or_train(CFG, data=tiny_data, progress=False)
    msg = str(w[0].message)
    assert "checkpoint.pt" in msg and "MiB free" in msg and "unexpected pos" not in msg
    assert rec.metrics["status"] == "completed" and rec.metrics["iterations"] == FAST.iterations
    assert list((tmp_path / ".partial").rglob("*")) == []  # the stale checkpoint of iteration 2 is gone, no temp file
    store_is_clean(tmp_path)


def test_full_disk_at_checkpoint_and_record_names_both_and_the_free_space(tmp_path, tiny_data, monkeypatch):
    store = R.RunStore(tmp_path)
    _full_at_final_checkpoint(monkeypatch)
    real = R.atomic_write_json

    def full(path, obj):
        if Path(path).name == "metrics.json":
            raise A._failure(Path(path), OSError(errno.ENOSPC, "No space left on device"))
        return real(path, obj)
    monkeypatch.setattr(R, "atomic_write_json", full)
    with pytest.warns(UserWarning, match="no space left"), pytest.raises(R.RecordNotWritten) as e:
        store.get_or_train(CFG, data=tiny_data, progress=False)
    text = str(e.value)
    assert "\n" not in text and "metrics.json" in text and "MiB free" in text and "could not be kept either" in text
    assert "is kept in" not in text  # the stale checkpoint is not offered as the finished training
    assert store.records() == [] and store.damaged() == []
    store_is_clean(tmp_path)


# ---- case 4: a checkpoint with wrong-typed fields is set aside like a corrupt one ------------------------------------

@pytest.mark.parametrize("field,value", [("history", []), ("pos", "7"), ("iteration", 2.5), ("perm", [1, 2]),
                                         ("warmup", "no"), ("elapsed", "soon"), ("generator", 3),
                                         ("pos", 10**6), ("windows", "x")])
def test_a_checkpoint_with_wrong_typed_fields_is_set_aside(tmp_path, tiny_data, field, value):
    ckpt = begun_checkpoint(tmp_path, tiny_data)
    state = torch.load(ckpt, weights_only=True)
    state[field] = value
    torch.save(state, ckpt)
    with pytest.warns(R.CheckpointSetAside, match=f"'{field}'") as w:
        rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    assert str(ckpt) in str(w[0].message) and "set aside" in str(w[0].message)
    assert rec.metrics["status"] == "completed" and "resumed_at" not in rec.provenance  # started over
    assert len(list(ckpt.parent.glob("checkpoint.pt.corrupt-*"))) == 1 and not ckpt.exists()
    store_is_clean(tmp_path)


def test_runs_lists_a_wrong_typed_checkpoint_without_a_traceback(tmp_path, tiny_data, capsys):
    ckpt = begun_checkpoint(tmp_path, tiny_data)
    state = torch.load(ckpt, weights_only=True)
    state["iteration"] = "7"
    torch.save(state, ckpt)
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)
    assert rc == 0 and "unusable checkpoint" in out and "'7'" in out and "Traceback" not in err


# ---- case 6 and 7: a record's schema is checked where it is read ------------------------------------------------------

BAD_RECORDS = {
    "no eval in history": ("history.json", lambda h: h.pop("eval"), "'eval'"),
    "eval not a list": ("history.json", lambda h: h.update(eval={"iter": 1}), "'eval'"),
    "no final train error": ("metrics.json", lambda m: m.pop("final_train_error"), "final_train_error"),
    "test error true": ("metrics.json", lambda m: m.update(final_test_error=True), "final_test_error"),
    "test error NaN": ("metrics.json", lambda m: m.update(final_test_error=math.nan), "final_test_error"),
    "test error Infinity": ("metrics.json", lambda m: m.update(final_test_error=math.inf), "final_test_error"),
    "test error 1.5": ("metrics.json", lambda m: m.update(final_test_error=1.5), "final_test_error"),
    "val error text": ("metrics.json", lambda m: m.update(final_val_error="0.1"), "final_val_error"),
}


@pytest.mark.parametrize("how", list(BAD_RECORDS))
def test_a_record_of_the_wrong_schema_is_listed_as_damaged(tmp_path, capsys, how):
    store = R.RunStore(tmp_path)
    good, bad = good_and_other(store)
    name, change, culprit = BAD_RECORDS[how]
    edit_json(bad.path / name, change)
    (path, reason), = store.damaged()
    assert path == bad.path and name in reason and culprit in reason
    assert [r.id for r in store.records()] == [good.id] and store.get(OTHER) is None
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)
    assert rc == 1 and bad.id not in out and str(bad.path) in err and culprit in err


def test_a_record_is_valid_only_in_the_folder_its_id_names(tmp_path, capsys):
    import shutil
    store = R.RunStore(tmp_path)
    real = fake_record(store, CFG)
    edit_json(real.path / "metrics.json", lambda m: m.update(final_test_error=0.25))
    copy = tmp_path / "aaa-copied-record"  # sorts ahead of the real one
    shutil.copytree(real.path, copy)
    edit_json(copy / "metrics.json", lambda m: m.update(final_test_error=0.01))
    assert store.get(CFG).path == real.path and store.get(CFG).metrics["final_test_error"] == 0.25
    (path, reason), = store.damaged()
    assert path == copy and real.id in reason and "folder" in reason
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)
    assert rc == 1 and str(copy) in err


def test_a_record_whose_identity_was_edited_is_damaged(tmp_path):
    store = R.RunStore(tmp_path)
    rec = fake_record(store, CFG)
    edit_json(rec.path / "config.json", lambda c: c["identity"]["settings"].update(iterations=99))
    (path, reason), = store.damaged()
    assert path == rec.path and "config.json" in reason and store.get(CFG) is None


# ---- case 8: a checkpoint must prove which run it belongs to -----------------------------------------------------------

def test_an_untagged_checkpoint_is_set_aside(tmp_path, tiny_data):
    ckpt = begun_checkpoint(tmp_path, tiny_data)
    state = torch.load(ckpt, weights_only=True)
    del state["tag"]
    torch.save(state, ckpt)
    with pytest.raises(ForeignCheckpoint, match="no run tag"):
        train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt, tag="some-run")
    with pytest.warns(R.CheckpointSetAside, match="no run tag"):
        rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    assert "resumed_at" not in rec.provenance and len(list(ckpt.parent.glob("checkpoint.pt.corrupt-*"))) == 1


def test_a_plain_net_checkpoint_in_a_resnets_folder_is_not_resumed(tmp_path, tiny_data):
    rid = R.run_id(CFG, "fp32", TINY_FP)
    ckpt = tmp_path / ".partial" / rid / "checkpoint.pt"
    train(RunConfig("plain20", profile="smoke"), tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt,
          should_stop=lambda it: it >= 3)  # untagged
    with pytest.warns(R.CheckpointSetAside, match=str(ckpt)):
        rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    assert rec.config.arch == "resnet20" and "resumed_at" not in rec.provenance


# ---- case 9: truncated or non-float weights are reported, never loaded silently ----------------------------------------

def _record_with_weights(tmp_path):
    store = R.RunStore(tmp_path)
    metrics = dict(status="completed", final_train_error=0.5, final_val_error=0.5, final_test_error=0.5)
    return store, store.write(R.Run.of(CFG, TINY_FP, precision="fp32"), {"train": [], "eval": []}, metrics, {}, model=CFG.build())


def test_truncated_weights_are_named_by_damaged_and_weights_problem(tmp_path, capsys):
    store, rec = _record_with_weights(tmp_path)
    w = rec.path / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-1000])
    (path, reason), = store.damaged()
    assert path == rec.path and "weights.safetensors is truncated" in reason
    for call in (rec.weights_dtype, rec.load_model):
        with pytest.raises(R.RecordDamaged, match="truncated"):
            call()
    assert "truncated" in rec.weights_problem()
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)
    assert rc == 1 and "truncated" in err


def test_int8_weights_are_refused_by_name(tmp_path):
    from safetensors.torch import save_file
    store, rec = _record_with_weights(tmp_path)
    state = {k: (v.to(torch.int8) if v.is_floating_point() else v).contiguous()
             for k, v in CFG.build().state_dict().items()}
    save_file(state, str(rec.path / "weights.safetensors"))
    (path, reason), = store.damaged()
    assert "I8" in reason and "float32" in reason
    with pytest.raises(R.RecordDamaged, match="I8"):
        rec.load_model()
    with pytest.raises(R.RecordDamaged, match="I8"):
        rec.weights_dtype()


# ---- case 10: with training off, the real cause is named --------------------------------------------------------------

def test_training_off_names_a_damaged_record(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "0")
    store = R.RunStore(tmp_path)
    rec = fake_record(store, CFG)
    (rec.path / "metrics.json").write_text("{oops")
    for data in (tiny_data, None):  # with and without the data's fingerprint
        with pytest.raises(R.RunNotRecorded) as e:
            store.get_or_train(CFG, data=data, progress=False)
        text = str(e.value)
        assert "damaged" in text and str(rec.path) in text and "metrics.json" in text and "not recorded" not in text
    assert store.damaged()[0].path == rec.path  # left as it was


def test_retry_with_training_off_suggests_retry(tmp_path, capsys, monkeypatch, with_tiny_data):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "0")
    store = R.RunStore(tmp_path)
    failed = fake_record(store, CFG, status="failed", error="loss became nan")
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--retry", "--runs", tmp_path)
    line = one_line_error(err)
    assert rc == 2 and failed.id in line and "training is disabled" in line and line.endswith("--retry")
    assert store.get(CFG).failed


# ---- cases 11, 12, 14: arguments are checked up front ---------------------------------------------------------------

@pytest.mark.parametrize("seed", [2**64, 10**400, -1])
def test_seeds_outside_the_generators_range_are_refused(seed):
    with pytest.raises(ValueError, match=r"seed must be a whole number from 0 to 2\*\*64-1") as e:
        RunConfig("resnet20", profile="smoke", seed=seed)
    assert len(str(e.value)) < 200
    assert RunConfig("resnet20", profile="smoke", seed=2**64 - 1).seed == 2**64 - 1


def test_cli_refuses_a_huge_seed_before_loading_data(tmp_path, capsys, monkeypatch):
    import resnet_lab.data as D
    monkeypatch.setattr(D, "load_cifar10", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--arch", "resnet20", "--seed", "18446744073709551616", "--runs", str(tmp_path / "s")])
    line = one_line_error(capsys.readouterr().err)
    assert e.value.code == 2 and "--seed" in line and "2**64-1" in line and not (tmp_path / "s").exists()


@pytest.mark.parametrize("value,allowed", [("1", True), ("yes", True), ("ON", True), ("", True), ("0", False),
                                           ("False", False), ("off", False), ("no", False)])
def test_allow_training_values(monkeypatch, value, allowed):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", value)
    assert R.training_allowed() is allowed


def test_an_unknown_allow_training_value_is_an_error(tmp_path, tiny_data, capsys, monkeypatch, with_tiny_data):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "maybe")
    steps = Counter(monkeypatch)
    with pytest.raises(ValueError, match=r"\$RESNET_LAB_ALLOW_TRAINING='maybe'"):
        R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--runs", tmp_path)
    assert rc == 2 and "RESNET_LAB_ALLOW_TRAINING" in one_line_error(err)
    assert steps.n == 0 and not list(tmp_path.iterdir())


def test_get_or_train_checks_its_arguments_before_loading_data(tmp_path, monkeypatch):
    import resnet_lab.data as D
    monkeypatch.setattr(D, "load_cifar10", lambda *a, **k: pytest.fail("data loaded"))
    store = R.RunStore(tmp_path)
    with pytest.raises(ValueError, match="bogus_kw"):
        store.get_or_train(CFG, bogus_kw=1)
    with pytest.raises(ValueError, match="data must be a loaded CIFAR-10.*got a int"):
        store.get_or_train(CFG, data=42)
    with pytest.raises(ValueError, match="should_stop must be a function"):
        store.get_or_train(CFG, should_stop=3)
    with pytest.raises(ValueError, match="bogus"):
        R.get_or_train(arch="resnet20", profile="smoke", store=store, bogus=1)
    assert not tmp_path.joinpath(".locks").exists() and not list(tmp_path.iterdir())


# ---- case 13: bench --variants checks the store before timing ---------------------------------------------------------

def test_bench_variants_checks_the_store_first(tmp_path, capsys, monkeypatch):
    import resnet_lab.bench as B
    monkeypatch.setattr(B, "step_seconds", lambda *a, **k: pytest.fail("timed before the store was checked"))
    f = tmp_path / "a-file"
    f.write_text("")
    monkeypatch.setenv("RESNET_LAB_RUNS", str(f))
    rc, out, err = run_cli(capsys, "bench", "--variants")
    assert rc == 2 and str(f) in one_line_error(err)


# ---- case 15 (the part outside resnet_lab/book): a profile's source is named ------------------------------------------

def test_a_bad_profile_names_where_it_came_from(monkeypatch, tmp_path, capsys):
    from resnet_lab.profiles import get_profile
    with pytest.raises(ValueError, match=r"unknown profile '' \(from --profile\)"):
        get_profile("", where="--profile")
    monkeypatch.setenv("RESNET_LAB_PROFILE", "bogus")
    with pytest.raises(ValueError, match=r"'bogus' \(from \$RESNET_LAB_PROFILE\)"):
        get_profile()
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--runs", tmp_path)
    assert rc == 2 and "$RESNET_LAB_PROFILE" in one_line_error(err)


# ---- case 17: temp files of a killed writer are listed, then cleaned by the next run ------------------------------------

def _leave_temp_files(tmp_path, rid):
    part = tmp_path / ".partial" / rid
    part.mkdir(parents=True, exist_ok=True)
    (part / ".checkpoint.pt.abcd1234.tmp").write_bytes(b"x" * 1000)
    half = tmp_path / f".{rid}.k2j4h5g6.tmp"
    half.mkdir()
    (half / "config.json").write_text("{}")
    (tmp_path / f".{rid}.zz00yy11.tmp.old").symlink_to(tmp_path / "gone")  # a dangling link
    return [part / ".checkpoint.pt.abcd1234.tmp", half, tmp_path / f".{rid}.zz00yy11.tmp.old"]


def test_stale_temp_files_are_listed_and_cleaned_by_the_next_run(tmp_path, tiny_data, capsys):
    store = R.RunStore(tmp_path)
    rid = R.run_id(CFG, "fp32", TINY_FP)
    other = "plain20-plain-smoke-s0-jpeg-fp32-0123456789"
    mine, theirs = _leave_temp_files(tmp_path, rid), _leave_temp_files(tmp_path, other)
    assert sorted(x.path for x in store.leftovers()) == sorted(mine + theirs)
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)
    assert rc == 0 and all(f"left behind: {p}" in out for p in mine + theirs)
    store.get_or_train(CFG, data=tiny_data, progress=False)
    assert sorted(x.path for x in store.leftovers()) == sorted(theirs)  # only this run's are its to clean
    assert not (tmp_path / ".partial" / rid).exists()


def test_a_record_set_aside_by_a_killed_replace_is_put_back(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "1")
    store = R.RunStore(tmp_path)
    failed = fake_record(store, CFG, status="failed", error="loss became nan")
    aside = tmp_path / f".{failed.id}.q1w2e3r4.tmp.old"
    os.replace(failed.path, aside)  # killed between setting the old record aside and renaming the new one in
    with pytest.raises(R.RunFailed):  # the old record is back, and says the run failed
        store.get_or_train(CFG, data=tiny_data, progress=False)
    assert store.get(CFG).failed and not aside.exists()
    store_is_clean(tmp_path)


# ---- case 5: a cached analysis of the wrong shape is named and computed again ---------------------------------------

@pytest.mark.parametrize("held, says", [([], "holds a JSON list"), (None, "holds a JSON null"),
                                        ({}, "holds a JSON dict (empty)"),
                                        ({"layer": [1], "name": ["x"]}, "lacks the field 'std'"),
                                        ({"layer": [1, 2], "std": [1.0]}, "has list fields of unequal or zero length")])
def test_a_cached_analysis_of_the_wrong_shape_is_named_and_computed_again(tmp_path, held, says):
    rec = fake_record(R.RunStore(tmp_path))
    (rec.path / "analysis").mkdir(exist_ok=True)
    (rec.path / "analysis" / "responses.json").write_text(json.dumps(held))
    good = {"layer": [1, 2], "std": [0.5, 0.6]}
    import re
    with pytest.warns(UserWarning, match=f"cached analysis .*responses.json {re.escape(says)}.*computing it again"):
        value = rec.cached("responses", lambda: good, keys=("layer", "std"))
    assert value == good and json.loads((rec.path / "analysis" / "responses.json").read_text()) == good
    assert rec.cached("responses", lambda: pytest.fail("a good cache is read, not computed"), keys=("layer", "std")) == good
