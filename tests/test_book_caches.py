"""The book build reads cached analyses only: a recorded run without its chapter-6 caches is named, not computed."""
from types import SimpleNamespace

import resnet_lab.book as book
from resnet_lab.book import RunSet, trained
from resnet_lab.train import RunConfig
from conftest import patch_book


def _rec(tmp_path, name, cached):
    rec = SimpleNamespace(path=tmp_path / name, config=RunConfig("resnet20", profile="cpu"))
    (rec.path / "analysis").mkdir(parents=True)
    for n in trained._cache_names(rec)[:len(cached) and 2]:
        (rec.path / "analysis" / f"{n}.json").write_text("{}")
    return rec


def test_uncached_runs_are_left_out_and_named_when_training_is_off(tmp_path, monkeypatch):
    recs = RunSet({"resnet20": _rec(tmp_path, "a", "yes"), "plain20": _rec(tmp_path, "b", "")})
    monkeypatch.setattr(trained, "runs", lambda archs: recs)
    patch_book(monkeypatch, "profile_name", lambda: "cpu")
    patch_book(monkeypatch, "training_allowed", lambda: False)
    ns = trained.nets()
    assert list(ns) == ["resnet20"] and ns.uncached == ["plain20"]
    assert "plain20" in trained.uncached_note(ns)
    patch_book(monkeypatch, "training_allowed", lambda: True)
    ns = trained.nets()  # training allowed, but not at the smoke profile: still read, never computed
    assert list(ns) == ["resnet20"] and ns.uncached == ["plain20"]
    patch_book(monkeypatch, "profile_name", lambda: "smoke")
    monkeypatch.setattr(trained, "runs", lambda archs: recs)
    ns = trained.nets()  # smoke + training allowed (CI's notebooks): computed on the fly
    assert list(ns) == ["resnet20", "plain20"] and trained.uncached_note(ns) == ""


def test_a_net_with_only_its_landscape_cached_is_shown_where_that_is_read(tmp_path, monkeypatch):
    rec = _rec(tmp_path, "c", "")
    (rec.path / "analysis" / f"{trained._cache_names(rec)[1]}.json").write_text("{}")  # landscape, no lesions
    recs = RunSet({"resnet20": _rec(tmp_path, "a", "yes"), "plain20": rec})
    monkeypatch.setattr(trained, "runs", lambda archs: recs)
    monkeypatch.setattr(trained, "profile_name", lambda: "cpu")
    patch_book(monkeypatch, "training_allowed", lambda: False)
    les, land, both = trained.nets("lesion"), trained.nets("landscape"), trained.nets()
    assert list(les) == ["resnet20"] and list(land) == ["resnet20", "plain20"] and list(both) == ["resnet20"]
    note = trained.uncached_note(les, land)
    assert "(lesion: plain20)" in note and "landscape" not in note.split(")")[0]
    import pytest
    with pytest.raises(ValueError, match="unknown analysis 'lesions'"):
        trained.nets("lesions")


def test_progress_of_a_resumed_analysis_counts_only_new_evaluations(monkeypatch):
    import io

    from tqdm import tqdm

    from resnet_lab.book import caches
    clock = iter([0.0, 0.01, 0.02, 0.03, 5.0, 10.0])  # three evaluations read back at once, then two made
    monkeypatch.setattr(caches.time, "monotonic", lambda: next(clock))
    bar = tqdm(file=io.StringIO(), total=10)
    update = caches._follow(bar)
    for done in (1, 2, 3):
        update(done, 10)
    assert bar.initial == 3  # the rate and time left are those of the evaluations still to make
    update(4, 10)
    update(5, 10)
    assert (bar.initial, bar.n) == (3, 5)


def test_untrained_net_caches_are_kept_apart_by_data_source(tmp_path, monkeypatch):
    """An analysis of an untrained net computed on the JPEG copy is not read back as the official release's,
    and the caption label names the source the analyses read."""
    import pandas as pd
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path))
    patch_book(monkeypatch, "profile_name", lambda: "smoke")
    calls = []

    def compute(model, n):
        calls.append(n)
        return pd.DataFrame({"v": [float(len(calls))]})

    for kind in ("jpeg", "official", "jpeg"):
        patch_book(monkeypatch, "analysis_source", lambda kind=kind: kind)
        assert book.data_label() == {"jpeg": "CIFAR-10 JPEG q75 copy", "official": "official CIFAR-10 release"}[kind]
        f = book.cached._init_cached("resnet20", 0, "probe", compute)
        assert (tmp_path / "studies" / "init" / kind / "resnet20-s0" / "probe-500.json").is_file()
        assert f.v.tolist() == [1.0 if kind == "jpeg" else 2.0]
    assert calls == [500, 500]  # computed once per source, read back the third time


def test_analysis_source_is_the_configured_data_and_none_is_a_clear_error(tmp_path, monkeypatch):
    import pytest

    from resnet_lab.data import DatasetNotFound
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path))
    monkeypatch.setenv("RESNET_LAB_CIFAR10", "official")
    assert book.analysis_source() == "official"
    monkeypatch.delenv("RESNET_LAB_CIFAR10")
    with pytest.raises(DatasetNotFound, match="RESNET_LAB_CIFAR10"):
        book.analysis_source()  # no data configured and no records to read: the one-line data error


def test_an_analysis_of_a_run_refuses_other_data_than_the_run_was_trained_on(monkeypatch):
    import pytest
    from resnet_lab.runs import RunRecord
    rec = SimpleNamespace(id="resnet20-A-cpu-s0-jpeg-fp32-x", config=RunConfig("resnet20", profile="cpu"),
                          identity={"data_fingerprint": "aaaa"}, provenance={"data": "CIFAR-10 JPEG q75 copy"})
    rec.check_data = lambda d: RunRecord.check_data(rec, d)
    same = SimpleNamespace(source="jpeg", fingerprint="aaaa", path="/d", describe=lambda: "CIFAR-10 JPEG q75 copy")
    patch_book(monkeypatch, "data", lambda: same)
    assert book.run_data(rec) is same
    for other in (SimpleNamespace(source="official", fingerprint="bbbb", path="/o",
                                  describe=lambda: "official CIFAR-10 release"),
                  SimpleNamespace(source="jpeg", fingerprint="cccc", path="/e", describe=lambda: "CIFAR-10 JPEG q75 copy")):
        patch_book(monkeypatch, "data", lambda other=other: other)
        with pytest.raises(ValueError, match=rf"run {rec.id} was trained on the CIFAR-10 JPEG q75 copy, but "
                                             rf"\$RESNET_LAB_CIFAR10 gives the .*\({other.path}\)"):
            book.run_data(rec)
