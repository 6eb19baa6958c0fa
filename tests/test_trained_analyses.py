"""Lesions (Veit et al. 2016) and loss landscapes (Li et al. 2018) on small nets."""
import copy

import numpy as np
import pytest
import torch

from resnet_lab.analysis import landscape as LS
from resnet_lab.analysis import lesion as LE
from resnet_lab.models import cifar_net

MEAN = torch.zeros(3, 32, 32)


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 255, (48, 3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (48,), generator=g))


def calibrated(depth, residual, images, seed=0):
    """A small net with running statistics estimated on the images (so eval mode is a sensible net)."""
    torch.manual_seed(seed)
    net = cifar_net(depth, residual=residual)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    net.train()
    with torch.no_grad():
        net(images[0].float() / 255)
    return net.eval()


def logits(net, x):
    with torch.no_grad():
        return net(x.float() / 255)


@pytest.mark.parametrize("name", ["stage1.1", "stage2.0"])  # a same-shape block and a downsampling block
def test_deleting_a_block_with_zero_branch_changes_nothing(images, name):
    net = calibrated(14, True, images)
    block = net.get_submodule(name)
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()  # F(x) = 0 exactly
    before = logits(net, images[0])
    with LE.deleted(net, [name]):
        after = logits(net, images[0])
    assert torch.allclose(before, after, atol=1e-6)
    assert net.get_submodule(name) is block  # restored


@pytest.mark.parametrize("name", ["stage1.1", "stage2.0"])
def test_deleting_a_block_with_nonzero_branch_changes_predictions(images, name):
    net = calibrated(14, True, images)
    before = logits(net, images[0])
    with LE.deleted(net, [name]):
        after = logits(net, images[0])
    assert (before - after).abs().max() > 1e-2
    assert torch.equal(logits(net, images[0]), before)  # the net is intact again


def test_deleted_block_is_its_shortcut(images):
    """The ReLU after the addition does nothing on a deleted block: its input is non-negative."""
    net = calibrated(14, True, images)
    x = torch.relu(torch.randn(4, 16, 32, 32))
    down = net.get_submodule("stage2.0")
    d = LE.Deleted(down)
    assert torch.equal(d(x), down.shortcut(x))
    assert d(x).shape == (4, 32, 16, 16)
    assert torch.equal(LE.Deleted(net.get_submodule("stage1.1"))(x), x)


def test_plain_blocks_identity_only_where_shapes_match(images):
    plain = calibrated(14, False, images)
    info = LE.blocks(plain)
    assert [b["same_shape"] for b in info] == [True, True, False, True, False, True]
    assert not any(b["residual"] for b in info)
    with pytest.raises(ValueError, match="shape"):
        with LE.deleted(plain, ["stage2.0"]):
            pass
    with LE.deleted(plain, ["stage3.1"]):  # same shape: replaced by y = x
        assert isinstance(plain.stage3[1], LE.Deleted)
        x = torch.relu(torch.randn(2, 64, 8, 8))
        assert torch.equal(plain.stage3[1](x), x)
    assert not isinstance(plain.stage3[1], LE.Deleted)


def test_lesion_study_rows(images):
    x, y = images
    res, plain = calibrated(14, True, images), calibrated(14, False, images)
    r = LE.lesion_study(res, x, y, MEAN, draws=2)
    p = LE.lesion_study(plain, x, y, MEAN, draws=2)
    assert r["baseline"] == LE.evaluate(res, x, y, MEAN)
    assert len(r["single"]) == 6 and all(row["error"] is not None for row in r["single"])
    assert [row["error"] is None for row in p["single"]] == [False, False, True, False, True, False]
    assert r["pool"] == p["pool"] == ["stage1.0", "stage1.1", "stage2.1", "stage3.1"]
    # the same blocks are deleted in both nets; the whole pool is one draw
    assert [d["deleted"] for d in r["random"]] == [d["deleted"] for d in p["random"]]
    assert [d["k"] for d in r["random"]] == [2, 2, 3, 3, 4]
    rows = {row["k"]: row for row in LE.error_by_k(r)}
    singles = [row["error"] for row in r["single"] if row["same_shape"]]
    assert rows[1]["mean"] == pytest.approx(np.mean(singles)) and rows[0]["mean"] == r["baseline"]["error"]


def test_lesion_study_of_a_net_with_zero_branches_is_flat(images):
    x, y = images
    net = calibrated(14, True, images)
    with torch.no_grad():
        for b in LE.blocks(net):
            bn = net.get_submodule(b["name"]).bn2
            bn.weight.zero_(), bn.bias.zero_()
    r = LE.lesion_study(net, x, y, MEAN, draws=1)
    errs = [row["loss"] for row in r["single"]] + [d["loss"] for d in r["random"]]
    assert errs == pytest.approx([r["baseline"]["loss"]] * len(errs), abs=1e-5)


def test_k_values():
    assert LE.k_values(1) == [] and LE.k_values(7) == [2, 3, 4, 5, 6, 7]
    ks = LE.k_values(52)
    assert len(ks) == 8 and ks[0] == 2 and ks[-1] == 52


def test_filter_normalised_directions(images):
    net = calibrated(14, True, images)
    d1, d2 = LS.directions(net, seed=3)
    params = dict(net.named_parameters())
    two_d = [n for n, p in params.items() if p.dim() > 1]
    assert "fc.weight" in two_d and "stage2.0.conv1.weight" in two_d
    for n in two_d:
        w = params[n].detach()
        for d in (d1, d2):
            assert d[n].shape == w.shape
            assert d[n].flatten(1).norm(dim=1) == pytest.approx(w.flatten(1).norm(dim=1), rel=1e-4)
    assert not torch.equal(d1["fc.weight"], d2["fc.weight"])
    again, _ = LS.directions(net, seed=3)
    assert all(torch.equal(again[n], d1[n]) for n in d1)


def test_bn_and_bias_directions_are_zero(images):
    net = calibrated(14, True, images)
    d1, d2 = LS.directions(net, seed=0)
    one_d = [n for n, p in net.named_parameters() if p.dim() == 1]
    assert "fc.bias" in one_d and "bn1.weight" in one_d and "stage3.1.bn2.bias" in one_d
    for d in (d1, d2):
        assert all(torch.count_nonzero(d[n]) == 0 for n in one_d)
        assert all(torch.count_nonzero(d[n]) > 0 for n, p in net.named_parameters() if p.dim() > 1)


def test_grid_centre_is_the_trained_net_and_axes_are_right(images):
    x, y = images
    net = calibrated(14, True, images)
    before = copy.deepcopy(net.state_dict())
    out = LS.landscape(net, x, y, MEAN, steps=3, span=0.5, seed=1)
    assert out["coords"] == [-0.5, 0.0, 0.5]
    assert out["loss"][1][1] == pytest.approx(LE.evaluate(net, x, y, MEAN)["loss"], rel=1e-6)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # weights restored
    # loss[i][j] is at a = coords[j] (d1), b = coords[i] (d2)
    d1, d2 = LS.directions(net, seed=1)
    moved = copy.deepcopy(net)
    with torch.no_grad():
        for n, p in moved.named_parameters():
            p.add_(0.5 * d1[n] - 0.5 * d2[n])
    assert out["loss"][0][2] == pytest.approx(LE.evaluate(moved, x, y, MEAN)["loss"], rel=1e-5)
    assert out["loss"][0][2] != pytest.approx(out["loss"][1][1], rel=1e-3)


def test_sharpness_reads_curvature():
    c = np.linspace(-1, 1, 21)
    a, b = np.meshgrid(c, c)
    bowl = dict(coords=c.tolist(), loss=(0.3 + a ** 2 + b ** 2).tolist(), error=np.zeros_like(a).tolist())
    s = LS.sharpness(bowl)
    assert s["centre_loss"] == pytest.approx(0.3)
    assert s["rise_0.5"] == pytest.approx(0.25) and s["rise_1.0"] == pytest.approx(1.0)
    assert s["nonconvex"] == 0.0 and s["below_chance"] == 1.0
    saddle = dict(coords=c.tolist(), loss=(1 + 0.5 * a ** 2 - 0.5 * b ** 2).tolist(), error=bowl["error"])
    assert LS.sharpness(saddle)["nonconvex"] == 1.0


def test_twins_get_the_same_draws_before_normalisation(images):
    """A ResNet and its option-A plain twin share parameter shapes, so one seed gives them one Gaussian draw."""
    res, plain = calibrated(14, True, images, seed=0), calibrated(14, False, images, seed=1)
    dr, _ = LS.directions(res, seed=2)
    dp, _ = LS.directions(plain, seed=2)
    unit = lambda d: d / d.flatten(1).norm(dim=1).view(-1, *([1] * (d.dim() - 1)))
    for n, p in res.named_parameters():
        if p.dim() > 1:
            assert torch.allclose(unit(dr[n]), unit(dp[n]), atol=1e-5)
            assert not torch.allclose(dr[n], dp[n])  # ... rescaled to each net's own filter norms


# ---- resuming a stopped analysis from its partial results -----------------------------------------------------

class Stopped(Exception):
    pass


def counting(partial, limit=None):
    """``partial`` that records which evaluations it had to make, and stops (raises) after ``limit`` of them."""
    made = []

    def call(key, compute, device=None):
        def c():
            if limit is not None and len(made) >= limit:
                raise Stopped
            made.append(key)
            return compute()
        return partial(key, c, device)
    return call, made


@pytest.mark.parametrize("study", ["lesion", "landscape"])
def test_a_stopped_analysis_resumes_and_gives_the_same_result(tmp_path, images, study):
    from resnet_lab.runs import PartialAnalysis
    x, y = images
    net = calibrated(14, True, images)
    settings = {"study": study, "images": len(x)}

    def run(partial):
        if study == "lesion":
            return LE.lesion_study(net, x, y, MEAN, draws=2, partial=partial)
        return LS.landscape(net, x, y, MEAN, steps=3, span=0.5, seed=1, partial=partial)
    whole = run(None)
    f = tmp_path / ".partial" / f"{study}.json"
    first, made1 = counting(PartialAnalysis(f, settings), limit=4)
    with pytest.raises(Stopped):
        run(first)
    assert len(made1) == 4 and f.exists()
    second, made2 = counting(PartialAnalysis(f, settings))
    assert run(second) == whole  # the same numbers, to the last bit
    assert not set(made1) & set(made2) and len(made1) + len(made2) == len(PartialAnalysis(f, settings))
    # other settings: the file is not used (a warning says so), everything is evaluated again
    third, made3 = counting(_warned(lambda: PartialAnalysis(f, dict(settings, images=1)), "other settings"))
    assert run(third) == whole and len(made3) == len(made1) + len(made2)


def _warned(make, match):
    with pytest.warns(UserWarning, match=match):
        return make()


def test_partial_file_damaged_is_named_and_replaced(tmp_path):
    from resnet_lab.runs import PartialAnalysis
    f = tmp_path / "lesion.json"
    f.write_text("{oops")
    p = _warned(lambda: PartialAnalysis(f, {"a": 1}), "lesion.json")
    assert len(p) == 0 and p("k", lambda: {"error": 0.5}, "cpu") == {"error": 0.5}
    again = PartialAnalysis(f, {"a": 1})
    assert again("k", lambda: pytest.fail("recomputed")) == {"error": 0.5} and again.devices == ["cpu"]


def test_the_init_control_starts_from_the_runs_own_initial_weights(tiny_data):
    """Chapter 6's control slices the loss around the weights the run started from: the same arch and seed give
    the weights train() begins with; BN gets running statistics from the images (eval mode needs them)."""
    from dataclasses import replace as dc_replace
    from resnet_lab.book.trained import initial_net
    from resnet_lab.profiles import PROFILES
    from resnet_lab.train import RunConfig, train
    cfg = RunConfig("resnet20", profile="smoke", seed=3)
    start = train(cfg, tiny_data, progress=False, should_stop=lambda it: True,
                  profile=dc_replace(PROFILES["smoke"], final_eval_subset=64)).model
    net = initial_net(cfg, tiny_data.train_x[:128], tiny_data.mean)
    ours, theirs = net.state_dict(), start.state_dict()
    weights = [k for k in theirs if k.endswith("weight")]
    assert weights and all(torch.equal(ours[k].float(), theirs[k].float()) for k in weights)
    bn_mean = [k for k in ours if k.endswith("running_mean")]
    assert not net.training and any(ours[k].abs().sum() > 0 for k in bn_mean)  # estimated, not the zeros of init
    other = initial_net(RunConfig("resnet20", profile="smoke", seed=4), tiny_data.train_x[:128], tiny_data.mean)
    assert not torch.equal(other.state_dict()["conv1.weight"], ours["conv1.weight"])
