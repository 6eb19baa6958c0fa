"""Branch/skip variance at initialisation (De & Smith 2020) and shattered gradients (Balduzzi et al. 2017)."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from resnet_lab.analysis import branch_variance as BV
from resnet_lab.analysis import shattered as SH
from resnet_lab.book import initialisation as I
from resnet_lab.models import cifar_net

MEAN = torch.zeros(3, 32, 32)


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 255, (64, 3, 32, 32), generator=g, dtype=torch.uint8)


def net(depth, residual=True, seed=0, variant="basic"):
    torch.manual_seed(seed)
    return cifar_net(depth, residual=residual, variant=variant)


# --- branch against skip ---

def test_frame_has_one_row_per_block_and_marks_the_option_a_boundaries(images):
    f = BV.block_variances(net(14), images, MEAN)
    assert len(f) == 6 and list(f.block) == list(range(1, 7))
    assert list(f.boundary) == [False, False, True, False, True, False]
    assert list(f.name) == ["stage1.0", "stage1.1", "stage2.0", "stage2.1", "stage3.0", "stage3.1"]
    assert np.allclose(f.var_ratio, f.branch_var / f.skip_var)
    assert np.allclose(f.std_ratio ** 2, f.var_ratio)


def test_with_bn_on_batch_statistics_every_branch_has_variance_one(images):
    f = BV.block_variances(net(20), images, MEAN, bn_mode="train")
    assert np.allclose(f.branch_var, 1.0, atol=1e-3)
    inside = ~f.boundary.to_numpy()[1:]
    assert (np.diff(f.skip_var.to_numpy())[inside] > 0).all()  # the skip accumulates inside a stage
    assert f.var_ratio.iloc[2] < f.var_ratio.iloc[0]


def test_zero_branch_gammas_give_zero_branch_variance_and_ratio(images):
    model = net(14)
    for _, blk in BV.residual_blocks(model):
        nn.init.zeros_(blk.bn2.weight)  # beta is 0 at init: F(x) = 0 exactly
    f = BV.block_variances(model, images, MEAN)
    assert np.allclose(f.branch_var, 0.0) and np.allclose(f.var_ratio, 0.0)
    assert (f.skip_var > 0).all()
    # with F = 0 the block is ReLU(x) = x (x >= 0 after the stem's ReLU): nothing accumulates in a stage
    assert np.allclose(f.out_var, f.skip_var, rtol=1e-6)


def test_variance_is_per_channel_over_images_and_positions_then_averaged(images):
    model = net(14)
    f = BV.block_variances(model, images, MEAN)
    with torch.no_grad():  # the stem's output, BN on the batch statistics: the input of block 1
        stem = torch.relu(torch.nn.functional.batch_norm(model.conv1(images.float() / 255), None, None,
                                                         model.bn1.weight, model.bn1.bias, training=True))
    want = stem.double().var((0, 2, 3), unbiased=False).mean().item()
    assert f.in_var.iloc[0] == pytest.approx(want, rel=1e-5)
    assert f.in_var.iloc[0] < stem.double().pow(2).mean().item() * 0.8  # a variance, not a second moment


def test_option_a_boundary_halves_the_channel_mean_variance(images):
    f = BV.block_variances(net(14), images, MEAN)
    b = f[f.boundary]
    assert np.allclose(b.skip_var / b.in_var, 0.5, atol=0.06)  # half the channels are zero padding


def test_without_bn_removes_every_bn_and_keeps_the_weights():
    model = net(14)
    bare = BV.without_bn(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in bare.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    for n, m in convs:
        assert torch.equal(bare.get_submodule(n).weight, m.weight)


def test_without_bn_the_skip_variance_roughly_doubles_per_block(images):
    f = BV.block_variances(BV.without_bn(net(32)), images, MEAN)
    assert 1.5 < BV.growth_per_block(f) < 3.0
    g = BV.block_variances(net(32), images, MEAN)  # with BN: linear growth, far below doubling
    assert BV.growth_per_block(g) < 1.4


def test_predicted_skip_variance_recursion():
    pred = BV.predicted_skip_var(0.5, [1, 1, 1, 1], [False, False, True, False], zero_pad=[1, 1, 0.5, 1])
    assert np.allclose(pred, [0.5, 1.5, (2.5) * 0.5, 2.25])


def test_preact_net_follows_the_plus_var_f_model(images):
    f = BV.block_variances(net(20, variant="preact"), images, MEAN)
    assert np.allclose(f.skip_var, f.pred_skip_var, rtol=0.15)
    post = BV.block_variances(net(20), images, MEAN)  # the ReLU after the addition: below the model
    assert (post.skip_var.iloc[1:] < post.pred_skip_var.iloc[1:]).all()


def test_block_variances_rejects_plain_nets_and_bad_modes(images):
    with pytest.raises(ValueError, match="no residual blocks"):
        BV.block_variances(net(14, residual=False), images, MEAN)
    with pytest.raises(ValueError, match="bn_mode"):
        BV.block_variances(net(14), images, MEAN, bn_mode="batch")


# --- shattered gradients ---

def test_line_runs_from_a_to_b():
    a, b = torch.zeros(3, 4, 4), torch.ones(3, 4, 4)
    xs = SH.line(a, b, 5)
    assert xs.shape == (5, 3, 4, 4)
    assert torch.equal(xs[0], a) and torch.equal(xs[-1], b) and torch.allclose(xs[2], 0.5 * b)


def test_autocorrelation_of_constant_is_one_and_of_white_noise_near_zero():
    const = torch.randn(1, 50).repeat(40, 1)
    r = SH.autocorrelation(const)
    assert r.shape == (40,) and np.allclose(r, 1.0)
    noise = torch.randn(200, 3000, generator=torch.Generator().manual_seed(0))
    w = SH.autocorrelation(noise)
    assert w[0] == pytest.approx(1.0) and np.abs(w[1:100]).max() < 0.05
    assert SH.correlation_length(w) == 1 and SH.correlation_length(r) is None


def test_autocorrelation_of_a_slowly_turning_vector_decreases_with_lag():
    ang = torch.linspace(0, np.pi / 2, 64, dtype=torch.float64)
    g = torch.stack([torch.cos(ang), torch.sin(ang)], 1)
    r = SH.autocorrelation(g)
    assert (np.diff(r) < 0).all()
    assert r[63] == pytest.approx(0.0, abs=1e-9)


def test_linear_model_has_the_same_gradient_everywhere_on_the_line(images):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    f = SH.shattering(model, images[0], images[1], MEAN, target=3, points=16)
    assert len(f) == 16 and list(f.lag) == list(range(16))
    assert np.allclose(f.autocorr, 1.0)
    assert np.allclose(f.coordinate, model[1].weight[3, 0].item())


def test_without_relus_a_calibrated_resnet_is_linear_on_the_line(images, monkeypatch):
    monkeypatch.setattr(torch.nn.functional, "relu", lambda x, inplace=False: x)
    f = SH.shattering(net(20), images[0], images[1], MEAN, target=0, calibration=images, points=16)
    assert np.allclose(f.autocorr, 1.0, atol=1e-6)
    assert np.allclose(np.diff(f.logit, 2), 0.0, atol=1e-3 * np.abs(f.logit).max())  # affine in t


def test_with_relus_the_gradient_changes_along_the_line_and_plain_changes_more(images):
    kw = dict(calibration=images, points=32)
    res = SH.shattering(net(32), images[0], images[1], MEAN, target=0, **kw)
    plain = SH.shattering(net(32, residual=False), images[0], images[1], MEAN, target=0, **kw)
    assert res.autocorr.iloc[1] < 0.999
    assert plain.autocorr.iloc[1] < res.autocorr.iloc[1]


def test_input_gradients_are_per_point_and_refuse_training_mode_bn(images):
    model = SH.calibrated(net(14), images, MEAN)
    xs = torch.randn(6, 3, 32, 32)
    g = SH.input_gradients(model, xs, target=2, batch_size=4)
    assert g.shape == (6, 3 * 32 * 32)
    x1 = xs[4:5].clone().requires_grad_(True)
    model(x1)[0, 2].backward()
    assert torch.allclose(g[4].float(), x1.grad.flatten(), atol=1e-5)
    with pytest.raises(ValueError, match="training mode"):
        SH.input_gradients(net(14).train(), xs, target=2)


def test_calibration_sets_running_statistics_from_the_images(images):
    model = net(14)
    cal = SH.calibrated(model, images, MEAN, batch_size=16)
    assert not cal.training
    x = images.float() / 255
    with torch.no_grad():
        h = cal.conv1(x)
    assert torch.allclose(cal.bn1.running_mean, h.mean((0, 2, 3)), atol=1e-4)
    assert torch.equal(model.bn1.running_mean, torch.zeros(16))  # the original is untouched


# --- the chapter's sentences ---

def _frame(skip, branch=None, boundary=None):
    n = len(skip)
    branch = np.ones(n) if branch is None else np.asarray(branch, float)
    boundary = np.zeros(n, bool) if boundary is None else np.asarray(boundary)
    f = pd.DataFrame(dict(block=np.arange(1, n + 1), name=[f"b{i}" for i in range(n)], stage="stage1",
                          boundary=boundary, in_var=np.asarray(skip, float), branch_var=branch,
                          skip_var=np.asarray(skip, float)))
    f["out_var"] = f.skip_var + f.branch_var
    f["var_ratio"] = f.branch_var / f.skip_var
    f["std_ratio"] = np.sqrt(f.var_ratio)
    f["pred_skip_var"] = BV.predicted_skip_var(f.in_var.iloc[0], f.branch_var, f.boundary)
    f["pred_ratio"] = f.branch_var / f.pred_skip_var
    return f


def test_reports_state_what_the_frames_show():
    linear = _frame([1, 2, 3, 4, 5, 6])
    doubling = _frame([1, 2, 4, 8, 16, 32], branch=[1, 2, 4, 8, 16, 32])
    t = I.variance_table({"resnet14": linear})
    row = t.loc["resnet14"]
    assert row["growth per block in a stage (range)"] == "1.00 (1.00)" and row["the +1 model's growth"] == "1.00"
    assert (row["branch/skip ratio, block 1"], row["last block (the model's)"]) == ("1.00", "0.167 (0.167)")
    assert row["skip variance, first \u2192 last block"] == "1.00 \u2192 6.00" and row["branch variance"] == "1.00"
    assert row["skip keeps at a stage boundary"] == "\u2013"
    txt = I.variance_summary({"resnet14": linear})
    assert txt == ("In this net every branch variance is within 0.0e+00 of 1. Inside the stages the skip variance "
                   "grows by 1.00 per block (medians), not below the model's 1. The measurement lies below the model "
                   "in every block after the first in 0 of 1 nets, and at the last block it is 1.00 of the model's "
                   "value.")
    slow = _frame([1, 1.5, 2, 2.5, 3, 3.5])
    assert "grows by 0.50 per block (medians), below the model's 1" in I.variance_summary({"resnet14": slow})
    assert "in 1 of 1 nets" in I.variance_summary({"resnet14": slow}) and I.variance_summary({}) == ""
    both = I.control_summary({"resnet14": linear}, {"resnet14": doubling})
    assert "changes by a factor 0.24 to 0.24 with BN and 1.00 to 1.00 without" in both
    assert "branch variance stays 1.00 to 1.00 times the skip's" in both
    t = I.control_table({"resnet14": linear}, {"resnet14": doubling})
    with_bn, without = t.loc[("resnet14", "with BN")], t.loc[("resnet14", "without BN")]
    assert with_bn["skip variance growth per block"] == "×1.33" and without["skip variance growth per block"] == "×2.00"
    assert (with_bn["branch/skip ratio, first third"], with_bn["last third"], with_bn["the ratio"]) == ("0.75", "0.18",
                                                                                                         "falls")
    assert without["the ratio"] == "stays level (within 10%)"
    rising = _frame([1, 1, 1, 1], branch=[1, 2, 3, 4])
    assert I.control_table({}, {"resnet8": rising}).loc[("resnet8", "without BN"), "the ratio"] == "rises"
    assert I.control_summary({}, {"resnet8": rising}) == "" and I.control_table({}, {}).empty


def test_shattering_report_says_when_a_claim_fails():
    def fr(r1):
        return pd.DataFrame(dict(autocorr=[1.0, r1, 0.1], autocorr_centred=[1.0, r1, 0.0]))
    ok = I.shattering_report({"plain20": fr(0.6), "plain56": fr(0.1), "resnet20": fr(0.9), "resnet56": fr(0.8)})
    assert "plain nets decorrelate at every step" in ok and "at 2 of 2 depths" in ok
    assert "never at white-noise level" in ok
    bad = I.shattering_report({"plain20": fr(0.1), "plain56": fr(0.6), "resnet20": fr(0.05), "resnet56": fr(0.8)})
    assert "plain nets do NOT decorrelate" in bad and "at 1 of 2 depths (not at 20)" in bad
    floor = I.shattering_report({"plain20": fr(0.5), "plain44": fr(0.001), "plain56": fr(-0.003)})
    assert "plain nets decorrelate at every step" in floor and "white-noise level at depths 44, 56." in floor
    rising_noise = I.shattering_report({"plain20": fr(0.5), "plain44": fr(0.001), "plain56": fr(0.3)})
    assert "do NOT decorrelate" in rising_noise


def test_trained_comparison_counts_blocks():
    init = pd.DataFrame(dict(ratio=[1.0, 0.8, 0.6]))
    trained = pd.DataFrame(dict(ratio=[1.2, 0.5, 0.9]))
    txt = I.trained_comparison(init, trained, "resnet8")
    assert "median 0.80 at initialisation, 0.90 after training" in txt and "in 2 of 3 blocks" in txt
    assert "not recorded" in I.trained_comparison(init, None)
