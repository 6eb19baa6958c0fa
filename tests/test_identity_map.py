"""Chapter 2's identity study: the stacks (a zeroed residual stack IS the identity; a plain stack can be made one),
determinism, the cache, the computed sentences against a synthetic result, the figures and the explorer."""
import json
import math
from dataclasses import replace

import ipywidgets as widgets
import pytest
import torch

from resnet_lab import stats
from resnet_lab.analysis import identity_map as IM
from resnet_lab.book import identity_map as B


def _x(n=6, channels=16, size=8, seed=0):
    return IM.inputs(n, channels, size, torch.Generator().manual_seed(seed))


def _trained_looking(net):
    """Every BN with a non-trivial scale, shift and running statistics, as after training."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                for t, lo, hi in ((m.weight, 0.5, 1.5), (m.bias, -0.5, 0.5), (m.running_mean, -0.3, 0.3),
                                  (m.running_var, 0.5, 2.0)):
                    t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)
    return net


# ------------------------------------------------------------------------------------------------------ the stacks

@pytest.mark.parametrize("depth", [2, 8])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_residual_stack_with_zeroed_branches_is_exactly_the_identity(depth, mode):
    net = IM.zero_branches(_trained_looking(IM.stack(depth, True, seed=0)))
    net.train(mode == "train")
    x = _x()
    with torch.no_grad():
        assert torch.equal(net(x), x)
        # the same weights without shortcuts output nothing at all
        plain = IM.stack(depth, False, seed=0)
        plain.load_state_dict(net.state_dict())
        plain.train(mode == "train")
        assert torch.equal(plain(x), torch.zeros_like(x))


def test_the_identity_needs_non_negative_inputs_and_zeroed_branches():
    """The property above can fail: the final ReLU cuts negative inputs, and He-initialised branches are not zero."""
    net = IM.zero_branches(IM.stack(4, True, seed=0)).eval()
    x = torch.randn(4, 16, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert not torch.equal(net(x), x) and torch.equal(net(x), x.relu())
        assert IM.relative_error(IM.stack(4, True, seed=0).eval()(_x()), _x()) > 0.1


def test_a_plain_stack_can_be_the_identity():
    net = IM.identity_weights(IM.stack(8, False, seed=0))
    x = _x(16)
    with torch.no_grad():
        err = IM.relative_error(net(x), x)
    assert err < 1e-10
    with torch.no_grad():  # and not by accident: the He-initialised stack is far from it
        assert IM.relative_error(IM.stack(8, False, seed=0).eval()(x), x) > 0.1


def test_plain_and_residual_stacks_of_one_seed_start_from_the_same_weights():
    a, b = IM.stack(8, False, seed=3).state_dict(), IM.stack(8, True, seed=3).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = IM.stack(8, False, seed=4).state_dict()
    assert not torch.equal(a["0.conv1.weight"], c["0.conv1.weight"])
    assert len(IM.stack(8, True)) == 4 and sum(isinstance(m, torch.nn.Conv2d) for m in IM.stack(8, True).modules()) == 8


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_depth_is_an_even_number_of_layers(depth):
    with pytest.raises(ValueError, match="even"):
        IM.stack(depth, True)


# ------------------------------------------------------------------------------------------------------ the study

@pytest.fixture(scope="module")
def small():
    torch.set_num_threads(1)
    return IM.run_study(IM.SMALL)


def test_the_small_study_runs_and_has_every_net(small):
    s = IM.SMALL
    recs = small["records"]
    assert len(recs) == len(s.depths) * 2 * len(s.seeds)
    assert {(r["depth"], r["arm"], r["seed"]) for r in recs} == {
        (d, a, k) for d in s.depths for a in IM.ARMS for k in s.seeds}
    assert all(math.isfinite(r["trained"]) and math.isfinite(r["untrained"]) and len(r["curve"]) == s.steps
               for r in recs)
    with_examples = [r for r in recs if "trained_example" in r]
    assert {r["seed"] for r in with_examples} == {s.seeds[0]}
    assert torch.tensor(with_examples[0]["trained_example"]).shape == (s.example_channels, s.size, s.size)
    assert small["key"] == s.key() and small["provenance"]["commit"] and small["provenance"]["torch"]
    json.dumps(small)  # JSON-ready


def test_the_study_is_deterministic(small):
    again = IM.run_study(IM.SMALL)
    assert again["records"] == small["records"] and again["example"] == small["example"]
    other = IM.run_study(replace(IM.SMALL, seeds=(5,), depths=(2,)))
    assert other["records"][0]["trained"] != small["records"][0]["trained"]


def test_the_cache_round_trip(small, tmp_path):
    f = IM.save(small, tmp_path)
    assert f == tmp_path / "studies" / "identity_map" / f"{IM.SMALL.key()}.json"
    assert IM.load(tmp_path, IM.SMALL) == json.loads(json.dumps(small))
    assert IM.load(tmp_path, replace(IM.SMALL, steps=13)) is None  # other settings, other key
    f.write_text("{not json")
    assert IM.load(tmp_path, IM.SMALL) is None
    f.write_text(json.dumps({**small, "key": "0000000000"}))
    assert IM.load(tmp_path, IM.SMALL) is None


def test_settings_survive_json_and_change_the_key():
    assert IM.Settings.from_json(json.loads(json.dumps(IM.DEFAULT.to_json()))) == IM.DEFAULT
    assert replace(IM.DEFAULT, lr=0.02).key() != IM.DEFAULT.key()


def test_the_book_reads_the_cache_and_computes_only_when_missing(small, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_RUNS", str(tmp_path))
    calls = []
    monkeypatch.setattr(IM, "run_study", lambda s: calls.append(s) or small)
    assert B.results(settings=IM.SMALL) == small and calls == [IM.SMALL]  # missing here and in the repo: computed
    assert IM.load(tmp_path, IM.SMALL) is not None  # ... and written to the store in force
    assert B.results(settings=IM.SMALL) == json.loads(json.dumps(small)) and len(calls) == 1  # read, not computed
    B.results(recompute=True, settings=IM.SMALL)
    assert len(calls) == 2


def test_the_committed_cache_is_the_default_study():
    """The book reads runs/studies/identity_map/<key of DEFAULT>.json: it must be there and be that study."""
    from resnet_lab.runs import REPO_ROOT
    r = IM.load(REPO_ROOT / "runs", IM.DEFAULT)
    assert r is not None, f"no cached study for the default settings ({IM.record_path(REPO_ROOT / 'runs')})"
    assert len(r["records"]) == len(IM.DEFAULT.depths) * 2 * len(IM.DEFAULT.seeds)


# ------------------------------------------------------------------------------------------------------ the words

def synthetic(seeds=(0, 1, 2)) -> dict:
    """Plain stuck at the constant level from 4 layers on, residual far below at 2 and 4 and equal at 8."""
    s = replace(IM.DEFAULT, depths=(2, 4, 8), seeds=seeds)
    jitter = (0.0, 0.01, -0.01, 0.005)
    plain = {2: 0.20, 4: 0.70, 8: 0.71}
    residual = {2: 0.05, 4: 0.06, 8: 0.71}
    untrained = {("plain", 2): 1.3, ("plain", 4): 1.4, ("plain", 8): 1.5,
                 ("residual", 2): 1.2, ("residual", 4): 2.5, ("residual", 8): 5.0}
    ex = [[[0.5] * s.size] * s.size] * s.example_channels
    recs = []
    for i, seed in enumerate(seeds):
        for d in s.depths:
            for arm, means in (("plain", plain), ("residual", residual)):
                r = dict(depth=d, arm=arm, seed=seed, untrained=untrained[(arm, d)] + jitter[i],
                         trained=means[d] + jitter[i] * (1 if arm == "plain" else 0.5), curve=[1.0] * s.steps)
                if i == 0:
                    r.update(untrained_example=ex, trained_example=ex)
                recs.append(r)
    return dict(study=IM.STUDY, key=s.key(), settings=s.to_json(), constant_error=IM.CONSTANT_ERROR, records=recs,
                example=ex, provenance=dict(commit="abc", torch="x", python="3", threads=1, device="cpu",
                                            wall_seconds=12.3, started="now"))


def test_the_sentences_are_computed_from_the_records():
    text = B.report(synthetic())
    assert "the plain stacks of 4 and 8 layers end at a mean error of 0.700 to 0.710" in text
    assert "the best constant output (0.682)" in text
    assert "The plain stacks of 2 layers get below it: 0.200 at 2." in text
    assert "The residual stacks end at 0.050 at 2 layers, 0.060 at 4 layers, 0.710 at 8 layers." in text
    assert "3 seeds per arm, Welch's test, Holm's correction over the 3 depths" in text
    assert "lower than the plain one's at 2 and 4 layers (difference); at 8 layers no difference is shown" in text
    assert "the plain stacks start at 1.290 to 1.510, the residual ones at 1.200 (2 layers) to 5.000 (8 layers)" in text
    assert "the more blocks, the farther from the identity" in text
    assert "Training lowered the error of 18 of the 18 nets." in text
    assert ("At 8 layers the untrained residual stacks start 4 times as far from the identity as at 2 layers, and "
            "100 steps do not bring them below the plain ones.") in text


def test_the_sentences_do_not_judge_two_seeds():
    text = B.report(synthetic(seeds=(0, 1)))
    assert "too few seeds to judge" in text and "(difference)" not in text
    assert all(not c.judged for c in B.comparisons(synthetic(seeds=(0, 1))).values())


def test_the_table_and_the_verdicts():
    r = synthetic()
    t = B.table(r)
    assert list(t.index) == [2, 4, 8] and t.index.name == "layers"
    assert list(t.verdict) == [stats.SHOWN, stats.SHOWN, stats.NOT_SHOWN]
    assert t.loc[2, "plain, trained"].startswith("0.200 [") and t.loc[8, "plain \u2212 residual"].startswith("+0.000")
    assert B.stuck_depths(r) == [4, 8]
    assert "3 CPU thread" not in B.settings_line(r) and "1 CPU thread in 12 s, commit abc" in B.settings_line(r)


# ------------------------------------------------------------------------------------------------------ pictures

def test_the_nested_classes_picture_says_what_it_claims():
    assert B.nested(B.NESTED) and not B.nested(B.NON_NESTED)
    near = [B.closest(e)[1] for e in B.NESTED]
    assert all(b <= a for a, b in zip(near, near[1:]))  # nested: never farther
    far = [B.closest(e)[1] for e in B.NON_NESTED]
    assert far[-1] > far[0]  # non-nested: the largest class's best is farther than the smallest's
    sizes = [a * b for _, _, a, b, _ in B.NON_NESTED]
    assert sizes == sorted(sizes)  # ... although the classes grow
    fig = B.nested_classes_figure()
    gids = [p.get_gid() for ax in fig.axes for p in ax.patches]
    assert sorted(g for g in gids if g) == sorted([f"class:{k}" for k in (1, 2, 3)] * 2)


def _views(w):
    out, stack = [], [w]
    while stack:
        x = stack.pop()
        out += [c for c in getattr(x, "_dom_classes", ()) if c.startswith("rl-view-")]
        stack += list(getattr(x, "children", ()))
    return out


def test_the_explorer_has_a_view_per_depth_and_kind():
    w = B.explorer(synthetic())
    assert sorted(_views(w)) == sorted(f"rl-view-{d}-{k}" for d in (2, 4, 8) for k in ("trained", "untrained"))
    assert not any(isinstance(x, widgets.HTML) and "rl-missing" in x.value for x in w.children)
    import matplotlib.pyplot as plt
    plt.close("all")
    assert len(B.figure(synthetic()).axes) == 2
