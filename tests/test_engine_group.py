"""Several nets in one process: each net of a group is, to the last bit, the run train() makes of it alone --
weights, BN buffers, momentum buffers, data order, loss history -- across both lr drops, the warm-up and a
resume; through the run store each is recorded under the same id with the same record."""
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import resnet_lab.runs as R
from resnet_lab.engine import Trainer, train_runs, train_together
from resnet_lab.train import RunConfig, TrainingDiverged, train

sys.path.insert(0, str(Path(__file__).parent))
from test_engine_parity import P, assert_same, same_result  # noqa: E402  (the parity profile: drops, warm-up)


@pytest.fixture
def with_tiny_data(monkeypatch, tiny_data, tmp_path):
    """The CLI loads ``tiny_data`` instead of CIFAR-10 (as in test_failures.py)."""
    import resnet_lab.data as D
    monkeypatch.setattr(D, "resolve_source", lambda source=None: ("jpeg", tmp_path))
    monkeypatch.setattr(D, "load_cifar10", lambda source=None, **k: tiny_data)
    return tiny_data


def test_every_net_of_a_group_is_the_net_trained_alone(tiny_data, tmp_path):
    """Three nets in one loop -- a warming-up ResNet, a plain net of another seed, and a ResNet resumed from a
    checkpoint taken inside a logging window -- and a fourth that diverges (lr 1e12): it fails alone, the others
    finish as if alone."""
    nets = [RunConfig("resnet20", profile="smoke", seed=0), RunConfig("plain20", profile="smoke", seed=1),
            RunConfig("resnet20", profile="smoke", seed=2)]
    alone = [train(c, tiny_data, profile=P, progress=False, checkpoint_path=tmp_path / f"alone{i}.pt", tag="t")
             for i, c in enumerate(nets)]
    train(nets[2], tiny_data, profile=P, progress=False, checkpoint_path=tmp_path / "g2.pt", tag="t",
          should_stop=lambda it: it >= 5)
    shared, done = {}, []
    trainers = [Trainer(c, tiny_data, profile=P, progress=False, checkpoint_path=tmp_path / f"g{i}.pt", tag="t",
                        shared=shared) for i, c in enumerate(nets)]
    trainers.append(Trainer(RunConfig("plain20", profile="smoke"), tiny_data, progress=False, shared=shared,
                            profile=replace(P, lr=1e12, warmup_from_depth=110)))
    assert trainers[2].start == 5 and trainers[0].dd is trainers[1].dd  # one copy of the data for the group
    results = train_together(trainers, on_done=lambda i, r: done.append(i))
    assert isinstance(results[3], TrainingDiverged) and done[0] == 3  # it ended first; the others went on
    for i, (a, b) in enumerate(zip(alone, results[:3])):
        same_result(a, b)
        assert b.extra["numerics"]["trained_with"].startswith("4 nets")
        assert_same(torch.load(tmp_path / f"alone{i}.pt", weights_only=True),  # momentum, generator, sums
                    {**torch.load(tmp_path / f"g{i}.pt", weights_only=True),
                     "segments": torch.load(tmp_path / f"alone{i}.pt", weights_only=True)["segments"]})


def test_a_group_trained_through_the_store_records_the_runs_trained_alone(with_tiny_data, tmp_path):
    """train_runs: every run through RunStore.get_or_train (lock, checkpoint, id, record); a recorded run is
    found, not trained; a run stopped in the group resumes in the next one to the record of an unstopped run."""
    data = with_tiny_data
    cfgs = [RunConfig("resnet20", profile="smoke", seed=4), RunConfig("plain20", profile="smoke", seed=4)]
    alone = R.RunStore(tmp_path / "alone")
    want = [alone.get_or_train(c, data=data, progress=False) for c in cfgs]
    store = R.RunStore(tmp_path / "group")
    out = train_runs(store, cfgs, data, "cpu", progress=False, should_stop=lambda it: it >= 9)
    assert all(isinstance(r, R.RunNotRecorded) for r in out), out
    assert sorted(p.parent.name for p in (tmp_path / "group" / ".partial").glob("*/checkpoint.pt")) == \
        sorted(w.id for w in want)
    out = train_runs(store, cfgs + cfgs[:1], data, "cpu", progress=False)  # a config given twice trains once
    assert [r.id for r in out] == [w.id for w in want] + [want[0].id]
    for w, r in zip(want, out):
        assert r.history == w.history and r.metrics["final_test_error"] == w.metrics["final_test_error"]
        assert r.provenance["resumed_at"] == 9 and r.provenance["numerics"]["trained_with"].startswith("2 nets")
        for (k, a), b in zip(w.load_model().state_dict().items(), r.load_model().state_dict().values()):
            assert torch.equal(a, b), k
    assert not list((tmp_path / "group" / ".partial").glob("*/checkpoint.pt"))
    assert [r.id for r in train_runs(store, cfgs, data, "cpu", progress=False)] == [w.id for w in want]


def test_sweep_group_trains_the_runs_together(tmp_path, capsys, monkeypatch, with_tiny_data):
    from resnet_lab.cli import main
    import resnet_lab.engine as G
    import resnet_lab.experiments as E
    monkeypatch.setattr(E, "book_runs", lambda profile, data_source="jpeg", seed=0: [
        RunConfig("resnet20", profile=profile, data_source=data_source, seed=seed),
        RunConfig("plain20", profile=profile, data_source=data_source, seed=seed)])
    calls = []
    real = G.train_runs
    monkeypatch.setattr(G, "train_runs", lambda store, cfgs, *a, **k: (calls.append(len(cfgs)),
                                                                       real(store, cfgs, *a, **k))[1])
    rc = main(["sweep", "--profile", "smoke", "--runs", str(tmp_path), "--group", "2", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert calls == [2] and out.count("test error") == 2
    assert len(R.RunStore(tmp_path).records()) == 2
    rc = main(["sweep", "--profile", "smoke", "--runs", str(tmp_path), "--group", "2", "--graph"])
    assert rc == 2 and "CUDA graphs need a CUDA device" in capsys.readouterr().err
