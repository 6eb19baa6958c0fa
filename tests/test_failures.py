"""Bad inputs and damaged stores (issue 13): every failure names its culprit in one line, the store stays
consistent, finished work is kept, and one bad record never blocks the others."""
import errno
import json
import re
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from resnet_lab import cli
from resnet_lab import runs as R
from resnet_lab import train as T
from resnet_lab.atomic import WriteFailed, atomic_write_json
from resnet_lab.profiles import PROFILES
from resnet_lab.train import CorruptCheckpoint, ForeignCheckpoint, RunConfig, TrainingDiverged, train

FAST = replace(PROFILES["smoke"], iterations=4, log_every=2, checkpoint_every=2, eval_every=2, final_eval_subset=64)
CFG = RunConfig("resnet20", profile="smoke")
TINY_FP = "synthetic000"  # the fingerprint of conftest's tiny_data


@pytest.fixture(autouse=True)
def fast_smoke(monkeypatch, tmp_path):
    monkeypatch.setitem(PROFILES, "smoke", FAST)
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path / "default-store"))  # never the repository's runs/
    monkeypatch.delenv("RESNET_LAB_PROFILE", raising=False)
    monkeypatch.delenv("RESNET_LAB_DEVICE", raising=False)
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # cli.main replaces it


@pytest.fixture
def with_tiny_data(monkeypatch, tiny_data, tmp_path):
    """The CLI loads ``tiny_data`` instead of CIFAR-10."""
    import resnet_lab.data as D
    monkeypatch.setattr(D, "resolve_source", lambda source=None: ("jpeg", tmp_path))
    monkeypatch.setattr(D, "load_cifar10", lambda source=None, **k: tiny_data)
    return tiny_data


def run_cli(capsys, *args):
    rc = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(err: str) -> str:
    """The one message line of stderr (progress bars, which tqdm draws there with \\r, left aside)."""
    lines = [ln for ln in err.replace("\r", "\n").splitlines()
             if ln.strip() and not re.match(r"\S+ \[[\w.-]+\]:", ln)]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def fake_record(store, cfg=CFG, status="completed", error=None, precision="fp32"):
    """A record written through the store, without training (fast)."""
    metrics = dict(status=status, final_train_error=0.5, final_val_error=0.5, final_test_error=0.5)
    if status == "failed":
        metrics = dict(status="failed", error=error)
    return store.write(R.Run.of(cfg, TINY_FP, precision=precision), {"train": [], "eval": []}, metrics, dict(data="synthetic"))


OTHER = RunConfig("resnet20", profile="smoke", seed=1)


def good_and_other(store):
    """Two fake records in ``store``: CFG, and OTHER (the same net at seed 1, the one a test then damages)."""
    return fake_record(store, CFG), fake_record(store, OTHER)


def store_is_clean(root: Path):
    """No temp folders, set-aside records or lock files left behind."""
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".") and p.name not in (".locks", ".partial")]
    assert leftovers == [], leftovers
    assert not list((root / ".locks").glob("*")) if (root / ".locks").exists() else True


class Counter:
    """Counts training steps (sgd_step calls) to prove that a call did not train."""

    def __init__(self, monkeypatch):
        self.n = 0
        real = T.sgd_step

        def counted(*a, **k):
            self.n += 1
            return real(*a, **k)
        monkeypatch.setattr(T, "sgd_step", counted)


# ---- 1. failed records: say why, block only until --retry --------------------------------------------------------

def test_failed_record_says_why_and_train_points_to_retry(tmp_path, capsys, with_tiny_data):
    store = R.RunStore(tmp_path)
    rec = fake_record(store, status="failed", error="resnet20: loss became nan by iteration 2 (lr 0.1)")
    assert rec.failed and rec.failure.startswith("resnet20: loss became nan")
    with pytest.raises(R.RunFailed, match="--retry") as e:
        store.get_or_train(CFG, data=with_tiny_data, progress=False)
    assert rec.id in str(e.value) and "loss became nan" in str(e.value)
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--runs", tmp_path)
    line = one_line_error(err)
    assert rc == 2 and rec.id in line and "loss became nan" in line and "--retry" in line
    assert "final_train_error" not in err  # no KeyError on a failed record's metrics
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)  # the listing shows it, with the reason
    assert rc == 0 and "failed" in out and "loss became nan" in out
    rows = json.loads(run_cli(capsys, "runs", "--json", "--runs", tmp_path)[1])
    assert rows[0]["status"] == "failed" and "loss became nan" in rows[0]["error"]


def test_retry_replaces_a_failed_record(tmp_path, capsys, with_tiny_data):
    store = R.RunStore(tmp_path)
    failed = fake_record(store, status="failed", error="loss became nan")
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--runs", tmp_path, "--retry")
    assert rc == 0, err
    assert "test error" in out and failed.id in out
    rec = store.get(CFG)
    assert rec.id == failed.id and not rec.failed and rec.metrics["status"] == "completed"
    assert [r.id for r in store.records()] == [failed.id] and store.damaged() == []
    store_is_clean(tmp_path)


def test_sweep_goes_on_past_a_failed_run_and_retry_replaces_it(tmp_path, capsys, monkeypatch, with_tiny_data):
    import resnet_lab.experiments as E
    cfgs = [RunConfig("plain20", profile="smoke"), CFG]
    monkeypatch.setattr(E, "book_runs", lambda profile, data_source="jpeg", seed=0: cfgs)
    store = R.RunStore(tmp_path)
    fake_record(store, cfgs[0], status="failed", error="loss became inf by iteration 4")
    rc, out, err = run_cli(capsys, "sweep", "--profile", "smoke", "--runs", tmp_path)
    assert rc == 1
    assert "loss became inf" in err and "--retry" in err and "1 of 2 runs failed" in err
    assert store.get(CFG) is not None and not store.get(CFG).failed  # the other run was recorded
    rc, out, err = run_cli(capsys, "sweep", "--profile", "smoke", "--runs", tmp_path, "--retry")
    assert rc == 0, err
    assert all(not store.get(c).failed for c in cfgs)
    assert len(store.records()) == 2
    store_is_clean(tmp_path)


def test_sweep_resumes_a_begun_run_before_it_starts_new_ones(tmp_path, capsys, monkeypatch, with_tiny_data):
    import resnet_lab.experiments as E
    cfgs = [RunConfig("plain20", profile="smoke"), CFG]
    monkeypatch.setattr(E, "book_runs", lambda profile, data_source="jpeg", seed=0: cfgs)
    store = R.RunStore(tmp_path)
    with pytest.raises(R.RunNotRecorded, match="stopped"):  # the second run of the sweep is begun
        store.get_or_train(CFG, data=with_tiny_data, progress=False, should_stop=lambda it: it >= 2)
    assert store.begun(CFG, with_tiny_data.fingerprint) and not store.begun(cfgs[0], with_tiny_data.fingerprint)
    rc, out, err = run_cli(capsys, "sweep", "--profile", "smoke", "--runs", tmp_path)
    assert rc == 0, err
    recorded = [line.split(":")[0] for line in out.splitlines() if "test error" in line]
    assert recorded == [store.get(CFG).id, store.get(cfgs[0]).id]  # the begun run first
    assert not store.begun(CFG, with_tiny_data.fingerprint)


def test_divergence_is_recorded_with_its_reason(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setitem(PROFILES, "smoke", replace(FAST, lr=1e12, iterations=10))
    store = R.RunStore(tmp_path)
    with pytest.raises(TrainingDiverged):
        store.get_or_train(RunConfig("plain20", profile="smoke"), data=tiny_data, progress=False)
    rec = store.get(RunConfig("plain20", profile="smoke"))
    assert rec.failed and "loss became" in rec.failure and rec.metrics["error_type"] == "TrainingDiverged"
    assert not (tmp_path / ".partial" / rec.id).exists()
    store_is_clean(tmp_path)


# ---- 2. profiles and checkpoints of other runs --------------------------------------------------------------------

@pytest.mark.parametrize("args,env,culprit", [
    (("--profile", ""), {}, "unknown profile ''"),
    (("--profile", "turbo"), {}, "unknown profile 'turbo'"),
    ((), {"RESNET_LAB_PROFILE": "bogus"}, "unknown profile 'bogus' (from $RESNET_LAB_PROFILE)"),
])
def test_bad_profile_names_are_one_line_errors(tmp_path, capsys, monkeypatch, args, env, culprit):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--runs", tmp_path / "store", *args)
    assert rc == 2 and culprit in one_line_error(err)
    assert not (tmp_path / "store").exists()  # no lock file, no partial folder for an invalid config


def test_library_rejects_empty_unknown_and_unregistered_profiles():
    for bad in ("", "bogus", None, 3):
        with pytest.raises(ValueError, match="profile"):
            RunConfig("resnet20", profile=bad)
    assert RunConfig("resnet20", profile=PROFILES["smoke"]).profile == "smoke"  # a registered one, by object
    custom = replace(FAST, summary="my/own profile, with slashes")
    with pytest.raises(ValueError, match="name of a profile"):
        RunConfig("resnet20", profile=custom)


def test_checkpoint_of_another_run_is_refused_with_its_path(tiny_data, tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt, tag="run-a",
          should_stop=lambda it: it >= 3)
    with pytest.raises(ForeignCheckpoint, match=str(ckpt)) as e:
        train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt, tag="run-b")
    assert "run-a" in str(e.value) and e.value.path == ckpt
    shorter = replace(FAST, iterations=1, milestones=(1, 1))  # a checkpoint past this run's end
    with pytest.raises(ForeignCheckpoint, match=r"trained under other settings: iterations, milestones differ"):
        train(CFG, tiny_data, profile=shorter, progress=False, checkpoint_path=ckpt)
    old = torch.load(ckpt, weights_only=True)  # a checkpoint from before they kept their settings
    del old["settings"], old["precision"]
    torch.save(old, ckpt)
    with pytest.raises(ForeignCheckpoint, match="past this run"):
        train(CFG, tiny_data, profile=shorter, progress=False, checkpoint_path=ckpt)


def test_store_sets_a_foreign_checkpoint_aside_and_starts_over(tiny_data, tmp_path):
    store = R.RunStore(tmp_path)
    rid = R.run_id(CFG, "fp32", TINY_FP)
    ckpt = tmp_path / ".partial" / rid / "checkpoint.pt"
    train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt, tag="someone-else",
          should_stop=lambda it: it >= 3)
    with pytest.warns(R.CheckpointSetAside, match=str(ckpt)) as w:
        rec = store.get_or_train(CFG, data=tiny_data, progress=False)
    assert "someone-else" in str(w[0].message)
    fresh = R.RunStore(tmp_path / "fresh").get_or_train(CFG, data=tiny_data, progress=False)
    assert rec.history == fresh.history  # started over, not resumed from the other run's state
    assert len(list(ckpt.parent.glob("checkpoint.pt.corrupt-*"))) == 1 and not ckpt.exists()


# ---- 3. damaged records -------------------------------------------------------------------------------------------

def _damage(rec_path: Path, how: str):
    if how == "bad config json":
        (rec_path / "config.json").write_text("{not json")
    elif how == "bad metrics json":
        (rec_path / "metrics.json").write_text('{"status": "compl')
    elif how == "missing history":
        (rec_path / "history.json").unlink()
    elif how == "folder for metrics":
        (rec_path / "metrics.json").unlink()
        (rec_path / "metrics.json").mkdir()
    elif how == "list for config":
        (rec_path / "config.json").write_text("[1, 2]")
    elif how == "unknown arch":
        c = json.loads((rec_path / "config.json").read_text())
        c["config"]["arch"] = "resnet19"
        (rec_path / "config.json").write_text(json.dumps(c))
    elif how == "bad status":
        (rec_path / "metrics.json").write_text('{"status": "maybe"}')
    elif how == "binary provenance":
        (rec_path / "provenance.json").write_bytes(b"\xff\xfe\x00garbage")
    elif how == "empty folder":
        for f in rec_path.iterdir():
            f.unlink()


DAMAGE = {"bad config json": "config.json is not valid JSON", "bad metrics json": "metrics.json is not valid JSON",
          "missing history": "history.json is missing", "folder for metrics": "metrics.json is a folder",
          "list for config": "config.json holds a JSON list", "unknown arch": "resnet19",
          "bad status": "status 'maybe'", "binary provenance": "provenance.json", "empty folder": "is missing"}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_one_damaged_record_never_blocks_the_rest(tmp_path, capsys, how):
    store = R.RunStore(tmp_path)
    good, bad = good_and_other(store)
    _damage(bad.path, how)
    assert [r.id for r in store.records()] == [good.id]
    (path, reason), = store.damaged()
    assert path == bad.path and DAMAGE[how] in reason
    assert [r.id for r in store.find(profile="smoke")] == [good.id]
    assert store.best_profile() == "smoke"
    assert store.get(CFG).id == good.id and store.get(OTHER) is None
    rc, out, err = run_cli(capsys, "runs", "--runs", tmp_path)
    assert rc == 1 and good.id in out and bad.id not in out
    assert str(bad.path) in err and DAMAGE[how] in err
    rc, out, err = run_cli(capsys, "runs", "--json", "--runs", tmp_path)
    assert [r["id"] for r in json.loads(out)] == [good.id]


def test_a_damaged_record_is_replaced_by_training_it(tmp_path, tiny_data):
    store = R.RunStore(tmp_path)
    bad = fake_record(store, CFG)
    _damage(bad.path, "bad metrics json")
    rec = store.get_or_train(CFG, data=tiny_data, progress=False)
    assert rec.id == bad.id and store.damaged() == [] and rec.metrics["status"] == "completed"
    store_is_clean(tmp_path)


def test_damaged_weights_and_analysis_cache_name_the_file(tmp_path, tiny_data):
    rec = R.RunStore(tmp_path).get_or_train(CFG, data=tiny_data, progress=False)
    (rec.path / "weights.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(R.RecordDamaged, match="weights.safetensors"):
        rec.load_model()
    (rec.path / "analysis").mkdir()
    (rec.path / "analysis" / "x.json").write_text("{oops")
    with pytest.warns(UserWarning, match="x.json"):
        assert rec.cached("x", lambda: {"a": 1}) == {"a": 1}
    assert rec.cached("x", lambda: {"a": 2}) == {"a": 1}  # recomputed once and stored


# ---- 4. corrupt checkpoints ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage", "truncated", "folder", "not a dict"])
def test_corrupt_checkpoint_is_set_aside_with_a_warning(tmp_path, tiny_data, damage):
    store = R.RunStore(tmp_path)
    rid = R.run_id(CFG, "fp32", TINY_FP)
    ckpt = tmp_path / ".partial" / rid / "checkpoint.pt"
    if damage == "truncated":
        train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt, tag=rid,
              should_stop=lambda it: it >= 3)
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    else:
        ckpt.parent.mkdir(parents=True)
        if damage == "garbage":
            ckpt.write_bytes(b"\x00\x01 not a checkpoint")
        elif damage == "folder":
            ckpt.mkdir()
        else:
            torch.save([1, 2, 3], ckpt)
    with pytest.warns(R.CheckpointSetAside, match=str(ckpt)):
        rec = store.get_or_train(CFG, data=tiny_data, progress=False)
    assert rec.metrics["status"] == "completed"
    aside = list(ckpt.parent.glob("checkpoint.pt.corrupt-*"))
    assert len(aside) == 1 and not ckpt.exists()  # kept for a look, out of the way


def test_corrupt_checkpoint_in_train_names_the_file(tmp_path, tiny_data):
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"junk")
    with pytest.raises(CorruptCheckpoint, match=str(ckpt)):
        train(CFG, tiny_data, profile=FAST, progress=False, checkpoint_path=ckpt)


# ---- 5. failed writes ----------------------------------------------------------------------------------------------

def test_failed_record_write_keeps_the_finished_training(tmp_path, tiny_data, monkeypatch, capsys):
    """Fault test: the record cannot be written at the end (disk full); the next call records it, no training."""
    store = R.RunStore(tmp_path)
    real = R.atomic_write_json

    def full_disk(path, obj):
        if Path(path).name == "metrics.json":
            raise WriteFailed(path, "no space left on device", errno.ENOSPC)
        return real(path, obj)
    monkeypatch.setattr(R, "atomic_write_json", full_disk)
    with pytest.raises(R.RecordNotWritten) as e:
        store.get_or_train(CFG, data=tiny_data, progress=False)
    msg = str(e.value)
    rid = R.run_id(CFG, "fp32", TINY_FP)
    ckpt = tmp_path / ".partial" / rid / "checkpoint.pt"
    assert "\n" not in msg and str(tmp_path / rid) in msg and "no space left" in msg and str(ckpt) in msg
    assert isinstance(e.value, OSError)
    assert store.records() == [] and store.damaged() == [] and ckpt.is_file()
    store_is_clean(tmp_path)

    monkeypatch.setattr(R, "atomic_write_json", real)
    steps = Counter(monkeypatch)
    rec = store.get_or_train(CFG, data=tiny_data, progress=False)
    assert steps.n == 0  # recorded from the kept state: no training step
    fresh = R.RunStore(tmp_path / "fresh").get_or_train(CFG, data=tiny_data, progress=False)
    assert rec.history == fresh.history and rec.metrics["final_test_error"] == fresh.metrics["final_test_error"]
    assert not ckpt.exists()
    store_is_clean(tmp_path)


def test_safetensors_failure_is_a_one_line_store_error(tmp_path, tiny_data, monkeypatch, capsys, with_tiny_data):
    from safetensors import SafetensorError

    def broken(*a, **k):
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")
    monkeypatch.setattr("safetensors.torch.save_file", broken)
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--runs", tmp_path)
    line = one_line_error(err)
    assert rc == 2 and "cannot write run record" in line and str(tmp_path) in line and "checkpoint.pt" in line
    assert R.RunStore(tmp_path).records() == []
    store_is_clean(tmp_path)


def test_unwritable_store_is_a_one_line_error(tmp_path, capsys, with_tiny_data):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--runs", blocker / "sub")
    line = one_line_error(err)
    assert rc == 2 and str(blocker / "sub") in line


def test_atomic_write_failure_names_the_file(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(WriteFailed, match=str(tmp_path / "d")):
        atomic_write_json(tmp_path / "d", {"a": 1})  # a folder where the file should be
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


# ---- 6. library arguments: nothing outside the store ---------------------------------------------------------------

@pytest.mark.parametrize("seed", ["0", "../../evil", -1, 1.5, True, None])
def test_odd_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        RunConfig("resnet20", profile="smoke", seed=seed)


@pytest.mark.parametrize("rid", ["../evil", "a/b", "..", ".hidden", "", "a\nb", "/abs"])
def test_store_refuses_ids_that_are_not_plain_names(tmp_path, rid):
    with pytest.raises(ValueError, match="plain folder name"):
        R.check_name(rid)


def test_write_never_leaves_the_store(tmp_path):
    store = R.RunStore(tmp_path / "store")
    run = R.Run.of(RunConfig("resnet20", profile="smoke"), "", precision="fp32")
    object.__setattr__(run.config, "data_source", "x/../../../evil")  # a config tampered with after its checks
    with pytest.raises(ValueError, match="plain folder name"):
        store.write(run, {}, {"status": "completed"}, {})
    assert not list(tmp_path.rglob("*evil*")) and not (tmp_path / "store").exists()


def test_store_arguments_are_checked(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        R.RunStore(f)
    with pytest.raises(ValueError, match="folder path"):
        R.RunStore(123)
    with pytest.raises(ValueError, match="empty"):
        R.RunStore("")
    with pytest.raises(ValueError, match="colour"):
        R.RunStore(tmp_path).find(colour="red")
    with pytest.raises(ValueError, match="RunConfig"):
        R.RunStore(tmp_path).get("resnet20")


# ---- 7. CLI edges --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,culprit", [
    (("bench", "--iterations", "0"), "--iterations"),
    (("bench", "--iterations", "-5"), "--iterations"),
    (("sweep", "--part", "0/0"), "'0/0'"),
    (("sweep", "--part", "3/2"), "'3/2'"),
    (("sweep", "--part", "half"), "'half'"),
    (("train", "--arch", "resnet20", "--seed", "-1"), "--seed"),
    (("train", "--arch", "resnet20", "--seed", "one"), "'one'"),
    (("train", "--arch", "resnet20", "--device", "tpu"), "unknown device 'tpu'"),
    (("train", "--arch", "resnet20", "--runs", ""), "--runs is empty"),
    (("train", "--arch", "resnet20", "--data", "/no/such/folder"), "/no/such/folder"),
    (("train", "--arch", "resnet20", "--shortcut", "D"), "--shortcut"),
    (("runs", "--bogus"), "--bogus"),
])
def test_cli_edges_are_one_line_errors(tmp_path, capsys, args, culprit):
    store = tmp_path / "store"
    extra = ("--runs", store) if args[0] != "runs" and "--runs" not in args and args[0] != "bench" else ()
    try:
        rc, out, err = run_cli(capsys, *args, *extra)
    except SystemExit as e:  # argparse usage errors
        rc, (out, err) = e.code, capsys.readouterr()
    assert rc == 2 and culprit in one_line_error(err)
    assert not store.exists()  # nothing created, no lock file


def test_unavailable_device_is_a_one_line_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--device", "cuda", "--runs", tmp_path / "s")
    assert rc == 2 and "not available" in one_line_error(err)


def test_environment_device_is_checked(monkeypatch):
    monkeypatch.setenv("RESNET_LAB_DEVICE", "gpu0")
    with pytest.raises(ValueError, match=r"'gpu0' \(from \$RESNET_LAB_DEVICE\)"):
        T.pick_device()


def test_no_lock_file_is_left_behind(tmp_path, tiny_data):
    store = R.RunStore(tmp_path)
    store.get_or_train(CFG, data=tiny_data, progress=False)
    assert list((tmp_path / ".locks").iterdir()) == []


def test_wall_time_counts_every_process_of_a_resumed_run(tmp_path, tiny_data, monkeypatch):
    store = R.RunStore(tmp_path)
    with pytest.raises(R.RunNotRecorded, match="stopped"):
        store.get_or_train(CFG, data=tiny_data, progress=False, should_stop=lambda it: it >= 3)
    rec = store.get_or_train(CFG, data=tiny_data, progress=False)
    prov = rec.provenance
    assert prov["resumed_at"] == 3 and prov["processes"] == 2 and prov["earlier_seconds"] > 0
    assert prov["wall_seconds"] >= prov["earlier_seconds"]


def test_a_resumed_run_records_where_each_process_trained(tmp_path, tiny_data):
    store = R.RunStore(tmp_path)
    for stop in (1, 3):  # the smoke profile trains 4 iterations
        with pytest.raises(R.RunNotRecorded, match="stopped"):
            store.get_or_train(CFG, data=tiny_data, progress=False, should_stop=lambda it, s=stop: it >= s)
    ckpt = next((tmp_path / ".partial").glob("*/checkpoint.pt"))
    state = torch.load(ckpt, weights_only=True)
    assert [(g["start"], g["end"]) for g in state["segments"]] == [(0, 1), (1, 3)]
    state["segments"][0]["device"] = "NVIDIA H200"  # as if the first process had trained on a GPU
    torch.save(state, ckpt)
    prov = store.get_or_train(CFG, data=tiny_data, progress=False).provenance
    end = PROFILES["smoke"].iterations
    assert [(g["device"], g["start"], g["end"]) for g in prov["segments"]] == [
        ("NVIDIA H200", 0, 1), (prov["device"], 1, 3), (prov["device"], 3, end)]
    assert prov["processes"] == 3 and prov["resumed_at"] == 3
    assert all(g["torch"] == torch.__version__ for g in prov["segments"])


def test_a_checkpoint_from_before_segments_says_its_device_is_not_recorded(tmp_path, tiny_data):
    store = R.RunStore(tmp_path)
    with pytest.raises(R.RunNotRecorded, match="stopped"):
        store.get_or_train(CFG, data=tiny_data, progress=False, should_stop=lambda it: it >= 3)
    ckpt = next((tmp_path / ".partial").glob("*/checkpoint.pt"))
    state = torch.load(ckpt, weights_only=True)
    del state["segments"]
    torch.save(state, ckpt)
    prov = store.get_or_train(CFG, data=tiny_data, progress=False).provenance
    assert [(g["device"], g["start"], g["end"]) for g in prov["segments"]][0] == ("not recorded", 0, 3)
    assert prov["processes"] == "at least 2"  # the old checkpoint may have taken several processes


def test_a_process_that_only_records_a_finished_checkpoint_adds_no_segment(tmp_path, tiny_data, monkeypatch):
    store = R.RunStore(tmp_path)
    with pytest.raises(R.RunNotRecorded, match="stopped"):
        store.get_or_train(CFG, data=tiny_data, progress=False, should_stop=lambda it: it >= 2)
    real_write = R.RunStore.write
    calls = []

    def failing_write(self, *a, **k):  # the first record write fails: the finished checkpoint is kept
        calls.append(1)
        if len(calls) == 1:
            raise R.RecordNotWritten("disk full")
        return real_write(self, *a, **k)
    monkeypatch.setattr(R.RunStore, "write", failing_write)
    with pytest.raises(R.RecordNotWritten):
        store.get_or_train(CFG, data=tiny_data, progress=False)
    prov = store.get_or_train(CFG, data=tiny_data, progress=False).provenance
    end = PROFILES["smoke"].iterations
    assert [(g["start"], g["end"]) for g in prov["segments"]] == [(0, 2), (2, end)] and prov["processes"] == 2


# ---- 8. a missing run names itself and the command ------------------------------------------------------------------

def test_missing_run_with_training_disabled_names_run_and_command(tmp_path, capsys, monkeypatch, with_tiny_data):
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "0")
    rc, out, err = run_cli(capsys, "train", "--arch", "plain20", "--profile", "smoke", "--seed", "2", "--runs",
                           tmp_path)
    line = one_line_error(err)
    assert rc == 2 and "plain20 (profile smoke, seed 2" in line
    assert "python -m resnet_lab train --arch plain20 --profile smoke --seed 2" in line
    cfg = RunConfig("plain20", profile="smoke", data_source="official")
    with pytest.raises(R.RunNotRecorded) as e:
        R.RunStore(tmp_path).get_or_train(cfg, data=replace(with_tiny_data, source="official"))
    assert "--data official" in str(e.value) and "\n" not in str(e.value)


# ---- 9. a run stopped by a signal keeps every finished iteration ------------------------------------------------------

@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_saves_the_checkpoint_where_training_stopped_and_resumes_exactly(
        tmp_path, capsys, monkeypatch, with_tiny_data, command, sig):
    import os
    import signal

    store_dir = tmp_path / "store"
    steps, real_step = [], T.sgd_step

    def step_then_signal(*a, **k):
        out = real_step(*a, **k)
        steps.append(1)
        if len(steps) == 3:  # mid-window: FAST logs every 2 iterations and checkpoints every 2
            os.kill(os.getpid(), getattr(signal, sig))
        return out
    monkeypatch.setattr(T, "sgd_step", step_then_signal)
    import resnet_lab.experiments as E
    monkeypatch.setattr(E, "book_runs", lambda profile, data_source="jpeg", seed=0: [
        RunConfig("resnet20", profile=profile, data_source=data_source, seed=seed), RunConfig("plain20", profile=profile)])
    args = ["train", "--arch", "resnet20"] if command == "train" else ["sweep"]
    rc, out, err = run_cli(capsys, *args, "--profile", "smoke", "--runs", store_dir)
    assert rc == 128 + getattr(signal, sig), err
    assert "stopped: run resnet20-" in err and "stopped at iteration 3" in err and "error:" not in err
    ckpt = next(store_dir.glob(".partial/*/checkpoint.pt"))
    assert torch.load(ckpt, weights_only=True)["iteration"] == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back

    monkeypatch.setattr(T, "sgd_step", real_step)
    rc, out, err = run_cli(capsys, "train", "--arch", "resnet20", "--profile", "smoke", "--runs", store_dir)
    assert rc == 0, err
    resumed = R.RunStore(store_dir).records()[0]
    fresh = R.RunStore(tmp_path / "fresh").get_or_train(CFG, data=with_tiny_data, progress=False)
    assert resumed.provenance["resumed_at"] == 3 and resumed.history == fresh.history
    for (k, a), b in zip(fresh.load_model().state_dict().items(), resumed.load_model().state_dict().values()):
        assert torch.equal(a, b), k
