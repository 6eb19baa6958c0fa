"""The book never trains: a missing run is named with its command; the runs pages ask for are the ones the sweep
trains; the build's list of missing runs; the README figure against the records it was drawn from."""
import json
import os

import pytest

import resnet_lab.book as B
from resnet_lab import experiments
from resnet_lab.book import bn_batch, bn_modes, status, testing, trained, variants
from resnet_lab.runs import REPO_ROOT, RunNotRecorded, RunStore, describe
from conftest import patch_book


def _trainer_raises(*a, **k):
    raise AssertionError("the book called the trainer")


@pytest.fixture
def empty_store(monkeypatch, tmp_path):
    """An empty run store at the cpu profile, with training allowed (the default) and the trainer patched to
    raise: whatever a page asks for must come back as missing, never trained."""
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path))
    monkeypatch.setenv("RESNET_LAB_PROFILE", "cpu")
    monkeypatch.delenv("RESNET_LAB_ALLOW_TRAINING", raising=False)
    patch_book(monkeypatch, "_data_source", lambda: "jpeg")
    monkeypatch.setattr(RunStore, "_train_and_record", _trainer_raises)
    return tmp_path


def test_run_never_trains_and_names_the_command(empty_store):
    with pytest.raises(RunNotRecorded, match=r"never trains.*python -m resnet_lab train --arch resnet56 "
                                             r"--shortcut A --variant final_bn --profile cpu --seed 0"):
        B.run("resnet56", variant="final_bn")


def test_a_page_with_missing_runs_shows_them_with_their_commands(empty_store):
    recs = variants.control_runs()
    assert not recs and [c.arch for c in recs.missing] == ["resnet56"]
    note = recs.note()
    assert "Not recorded yet" in note and "never trains" in note
    assert "python -m resnet_lab train --arch resnet56 --shortcut A --variant final_bn --profile cpu --seed 0" in note
    assert "book.train_run('resnet56', variant='final_bn')" in note
    assert "book.train_run('resnet20')" in B.seeds("resnet20").note()
    assert "book.train_run('resnet32', shortcut='C', seed=1)" in B.missing_note([B.store._config("resnet32", shortcut="C",
                                                                                          seed=1)])


def test_every_run_a_page_asks_for_is_one_the_sweep_trains(empty_store):
    """Each chapter's run selection, on an empty store: what it names as missing is in experiments.book_runs, so
    `sweep` trains it and the recorded-runs test below checks it."""
    asked = []
    for recs in (B.sweep(), B.spread_runs(), B.runs(["plain20", "plain32", "plain44", "plain56"]),
                 B.runs(["resnet20"], variant="one_layer"), B.runs(list(bn_modes.NETS)), B.runs(list(trained.NETS)),
                 B.runs(list(testing.TESTING_ARCHS)), variants.option_runs(), variants.preact_runs(),
                 variants.control_runs(), *bn_batch.records().values()):
        assert not recs
        asked += recs.missing
    requested = {describe(c) for c in status.requested_runs("cpu")}
    assert asked and {describe(c) for c in asked} <= requested, {describe(c) for c in asked} - requested
    sweep = {describe(c) for c in experiments.book_runs("cpu", "jpeg")}
    assert requested - sweep == {describe(c) for c in experiments.fixed_profile_runs("jpeg")} != set()


def test_the_build_lists_the_missing_runs(empty_store):
    text = status.missing_report()
    n = len(experiments.book_runs("cpu", "jpeg")) + 6
    assert f"{n} of the {n} runs the chapters ask for at profile 'cpu' (and 6 at profile 'quick')" in text
    assert "never trains" in text
    assert "python -m resnet_lab train --arch resnet20 --shortcut A --profile quick --seed 2 --ghost-bn 64" in text
    assert "python -m resnet_lab train --arch resnet56 --shortcut A --variant final_bn --profile cpu --seed 0" in text
    assert len(status.missing_runs()) == n


def test_train_run_trains_when_asked(monkeypatch, tmp_path, tiny_data):
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path))
    monkeypatch.setenv("RESNET_LAB_PROFILE", "smoke")
    monkeypatch.delenv("RESNET_LAB_ALLOW_TRAINING", raising=False)
    patch_book(monkeypatch, "_data_source", lambda: "jpeg")
    patch_book(monkeypatch, "data", lambda: tiny_data)
    with pytest.raises(RunNotRecorded):
        B.run("resnet20")
    rec = B.train_run("resnet20")
    assert rec.metrics["status"] == "completed"
    assert B.run("resnet20").id == rec.id
    left = {describe(c) for c in status.missing_runs()}
    assert describe(rec.config) not in left and len(left) == len(status.requested_runs("smoke")) - 1


def test_readme_figure_check_catches_a_stale_or_edited_figure(empty_store):
    png = empty_store / "fig.png"
    meta = status.render_readme_figure(png)
    assert meta["runs"] == [] and meta["profile"] == "cpu" and "resnet56" in meta["missing"]
    assert status.readme_figure_problem(png) is None
    png.write_bytes(png.read_bytes() + b"x")
    assert "changed by hand" in status.readme_figure_problem(png)
    status.render_readme_figure(png)
    side = png.with_suffix(".json")
    meta = json.loads(side.read_text())
    side.write_text(json.dumps(meta | {"runs": ["resnet20-A-cpu-s0-jpeg-fp32-0000000000"]}))
    assert "drawn from other records" in status.readme_figure_problem(png)


def test_a_book_build_sets_the_guard_and_get_or_train_then_never_trains(monkeypatch, tmp_path, tiny_data):
    import importlib.util

    from resnet_lab.runs import BOOK_BUILD_VAR
    from resnet_lab.train import RunConfig
    spec = importlib.util.spec_from_file_location("run_status", REPO_ROOT / "book" / "_ext" / "run_status.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    monkeypatch.setenv(BOOK_BUILD_VAR, "0")  # so that monkeypatch restores its absence after this test
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "1")  # whatever the environment says
    ext._never_train(None, None)  # what Sphinx calls at config-inited
    assert os.environ[BOOK_BUILD_VAR] == "1"
    monkeypatch.setattr(RunStore, "_train_and_record", _trainer_raises)
    with pytest.raises(RunNotRecorded, match=r"a book build never trains.*python -m resnet_lab train --arch resnet20"):
        RunStore(tmp_path).get_or_train(RunConfig("resnet20", profile="smoke"), data=tiny_data, progress=False)


def test_the_readme_summary_block_is_checked_and_rewritten_in_place(tmp_path, monkeypatch):
    from resnet_lab.book import status
    monkeypatch.setattr(status, "readme_summary", lambda: "At the `cpu` profile 2 of 10 claims are reproduced.")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{status.SUMMARY_START}\nold words\n{status.SUMMARY_END}\n\nafter\n")
    assert "not what the records say now" in status.readme_summary_problem(readme)
    assert status.write_readme_summary(readme) is True
    assert readme.read_text() == (f"# title\n\nbefore\n{status.SUMMARY_START}\nAt the `cpu` profile 2 of 10 claims "
                                  f"are reproduced.\n{status.SUMMARY_END}\n\nafter\n")
    assert status.readme_summary_problem(readme) is None
    assert status.write_readme_summary(readme) is False  # unchanged: not rewritten
    readme.write_text("# no block\n")
    with pytest.raises(ValueError, match="has no claims-summary block"):
        status.readme_summary_problem(readme)
