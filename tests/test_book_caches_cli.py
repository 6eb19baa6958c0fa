"""`python -m resnet_lab.book.caches`: computes the chapters' cached analyses of recorded runs, never trains."""
import json

import pytest

from resnet_lab.book import caches
from resnet_lab.runs import RunStore
from resnet_lab.train import RunConfig
from conftest import patch_book


@pytest.fixture
def smoke_store(tmp_path, monkeypatch, real_data):
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("RESNET_LAB_PROFILE", "smoke")
    monkeypatch.delenv("RESNET_LAB_ANALYSIS_DEVICE", raising=False)
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "1")  # main() turns it off; monkeypatch restores it after
    store = RunStore(tmp_path / "runs")
    return store, store.get_or_train(RunConfig("resnet20", profile="smoke"), data=real_data, progress=False)


def test_caches_computes_what_is_missing_and_names_unrecorded_runs(smoke_store, capsys, monkeypatch):
    store, rec = smoke_store
    assert caches.main(["--profile", "smoke", "--only", "lesion", "multicrop"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] lesion of resnet20" in out and "[2/2] multicrop of resnet20" in out
    assert "not recorded at profile smoke, skipped: plain20" in out
    lesion = json.loads((rec.path / "analysis" / "lesion.json").read_text())
    assert lesion["device"] == "cpu"
    assert json.loads((rec.path / "analysis" / "multicrop.json").read_text())["device"] == "cpu"
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == [rec.path.name]  # no training
    import os
    assert os.environ["RESNET_LAB_ALLOW_TRAINING"] == "1"  # main() turned training off for itself only


def test_caches_refuses_a_bad_device_in_one_line(tmp_path, capsys, monkeypatch):
    for var in ("RESNET_LAB_ALLOW_TRAINING", "RESNET_LAB_ANALYSIS_DEVICE", "RESNET_LAB_PROFILE"):
        monkeypatch.setenv(var, "")  # main() sets them; monkeypatch restores them after
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path))
    assert caches.main(["--device", "tpu", "--profile", "smoke", "--only", "lesion"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown device 'tpu'") and err.count("\n") == 1


def test_a_stopped_lesion_resumes_where_it_stopped(smoke_store, capsys, monkeypatch):
    from resnet_lab.analysis import lesion as LE
    store, rec = smoke_store
    real, calls = LE.evaluate, []

    def failing_after_5(*a, **k):
        if len(calls) == 5:
            raise RuntimeError("killed")
        calls.append(1)
        return real(*a, **k)
    monkeypatch.setattr(LE, "evaluate", failing_after_5)
    assert caches.main(["--profile", "smoke", "--only", "lesion", "--arch", "resnet20"]) == 1
    assert "error: lesion of resnet20" in capsys.readouterr().err
    partial = json.loads((rec.path / "analysis" / ".partial" / "lesion.json").read_text())
    assert len(partial["values"]) == 5 and not (rec.path / "analysis" / "lesion.json").exists()
    monkeypatch.setattr(LE, "evaluate", lambda *a, **k: (calls.append(2), real(*a, **k))[1])
    assert caches.main(["--profile", "smoke", "--only", "lesion", "--arch", "resnet20"]) == 0
    done = json.loads((rec.path / "analysis" / "lesion.json").read_text())
    n = 1 + len(done["single"]) + len(done["random"])
    assert calls.count(2) == n - 5  # only what was missing was evaluated
    assert not (rec.path / "analysis" / ".partial").exists()  # removed once the whole result is stored
    assert done["cpu_seconds"] > 0 and done["device"] == "cpu"


def test_caches_names_an_unknown_arch(smoke_store, capsys):
    assert caches.main(["--profile", "smoke", "--only", "lesion", "--arch", "resnet21"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --arch resnet21: not a net") and err.count("\n") == 1


def test_the_plan_caches_responses_for_every_net_the_depth_widget_shows(monkeypatch):
    """Chapter 4's depth widget draws the responses of every sweep run: the build must find them all cached."""
    import resnet_lab.book as book
    asked = {}

    def fake_runs(archs, **kw):
        asked.setdefault("archs", list(archs))
        return book.RunSet({}, missing=[RunConfig(a) for a in archs])
    patch_book(monkeypatch, "runs", fake_runs)
    plan = caches.plan(only=("responses",))
    from resnet_lab.experiments import PLAIN_DEPTHS, RESNET_DEPTHS
    want = [f"plain{d}" for d in PLAIN_DEPTHS] + [f"resnet{d}" for d in RESNET_DEPTHS]
    assert asked["archs"] == want
    assert [a for kind, a, _ in plan if kind == "missing"] == sorted(want)


@pytest.mark.parametrize("value", ["", "bogus"])
def test_caches_names_a_bad_profile_option(value, capsys):
    from resnet_lab.book import caches
    assert caches.main(["--profile", value]) != 0
    err = capsys.readouterr().err
    assert f"unknown profile {value!r} (from --profile)" in err


def test_a_bad_profile_in_the_environment_is_named_as_such(monkeypatch):
    from resnet_lab import book
    monkeypatch.setenv("RESNET_LAB_PROFILE", "bogus")
    with pytest.raises(ValueError, match=r"unknown profile 'bogus' \(from \$RESNET_LAB_PROFILE\)"):
        book.profile_name()


def test_the_plan_caches_every_recorded_seed_the_chapters_judge_over(monkeypatch):
    """Responses, BN-mode checks and multi-crop are judged over seeds (the intro, chapters 3 and 4): every extra
    seed recorded -- plain-56 seed 1 as much as ResNet-20 seed 2 -- is in the plan, not only the depth-20 seeds."""
    from types import SimpleNamespace
    import resnet_lab.book as book
    from resnet_lab.book import store

    def rec(arch, seed, failed=False, shortcut="A"):
        return SimpleNamespace(failed=failed, config=SimpleNamespace(arch=arch, seed=seed, shortcut=shortcut))
    recs = {"plain56": [rec("plain56", 0), rec("plain56", 1, shortcut=None)],
            "resnet56": [rec("resnet56", 2), rec("resnet56", 1, failed=True)],
            "resnet32": [rec("resnet32", 1, shortcut="B")]}
    monkeypatch.setattr(store, "_data_source", lambda: "jpeg")
    patch_book(monkeypatch, "profile_name", lambda: "cpu")  # not the real store's best profile
    monkeypatch.setattr(store.RunStore, "find", lambda self, arch=None, **kw: recs.get(arch, []))
    assert list(store.other_seeds(["plain56", "resnet56", "resnet32"])) == ["plain56 s1", "resnet56 s2"]
    patch_book(monkeypatch, "runs", lambda archs, **kw: book.RunSet({}, missing=[]))
    plan = caches.plan(only=("responses",))
    assert [a for kind, a, _ in plan if kind == "responses"] == ["plain56 s1", "resnet56 s2"]
