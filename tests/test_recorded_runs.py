"""The committed cpu-profile runs (runs/) show the paper's orderings (Sec. 4.2, Fig. 6) and carry provenance."""
import pytest

from resnet_lab.runs import REPO_ROOT, RunStore

STORE = RunStore(REPO_ROOT / "runs")


def _cpu():
    recs = {r.config.arch: r for r in STORE.find(profile="cpu", variant="basic", seed=0)}
    missing = {"plain20", "plain32", "plain44", "plain56", "resnet20", "resnet32", "resnet44", "resnet56",
               "resnet110"} - set(recs)
    assert not missing, f"recorded cpu runs missing from runs/: {sorted(missing)}"
    return recs


def test_degradation_plain56_trains_worse_than_plain20():
    r = _cpu()
    assert r["plain56"].metrics["final_train_error"] > r["plain20"].metrics["final_train_error"]


def test_resnet56_below_plain56():
    r = _cpu()
    assert r["resnet56"].metrics["final_train_error"] < r["plain56"].metrics["final_train_error"]
    assert r["resnet56"].metrics["final_test_error"] < r["plain56"].metrics["final_test_error"]


@pytest.mark.parametrize("profile", ["cpu", "cpu-lr0.1"])
def test_recorded_runs_carry_provenance(profile):
    recs = STORE.find(profile=profile)
    assert recs, f"no {profile} runs recorded"
    for r in recs:
        p = r.provenance
        assert {"device", "torch", "commit", "wall_seconds", "data", "data_source"} <= set(p), r.id
        assert r.metrics["status"] == "completed"
        assert r.config.data_source == p["data_source"]
        assert r.history["train"] and r.history["eval"][-1].get("final")
