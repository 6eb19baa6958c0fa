"""A default build (no environment variables) of a chapter whose run is missing: the notebook executes to the end
with the trainer patched to raise, and names the missing run with the command that trains it."""
import shutil

import nbformat
from nbclient import NotebookClient

from resnet_lab.runs import REPO_ROOT

CHAPTER = REPO_ROOT / "book" / "07_variants.ipynb"
HIDDEN = "resnet56-final_bn-"  # the control run chapter 7 asks for

PATCH = """\
import resnet_lab.runs as _runs, resnet_lab.train as _train
def _no_training(*a, **k):
    raise AssertionError("the book called the trainer")
_runs.RunStore._train_and_record = _no_training
_train.train = _no_training
"""


def test_a_chapter_with_a_missing_run_executes_and_names_it_without_training(tmp_path, monkeypatch):
    store = tmp_path / "runs"
    shutil.copytree(REPO_ROOT / "runs", store, ignore=lambda d, names: [
        n for n in names if n.startswith(HIDDEN) or n == ".partial"])
    for var in ("RESNET_LAB_PROFILE", "RESNET_LAB_ALLOW_TRAINING"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RESNET_LAB_RUNS", str(store))
    nb = nbformat.read(CHAPTER, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PATCH))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(CHAPTER.parent)}}
                   ).execute()
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("text", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "the book called the trainer" not in text
    assert "Not recorded yet" in text
    assert "python -m resnet_lab train --arch resnet56 --shortcut A --variant final_bn --profile cpu --seed 0" in text
