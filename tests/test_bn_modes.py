"""BN in eval mode against training mode (chapter 4's check of ResNet-110's Fig. 7 responses)."""
import pytest
import torch

from resnet_lab.analysis import bn_modes
from resnet_lab.models import build

MEAN = torch.zeros(3, 32, 32)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 255, (64, 3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (64,), generator=g))


def test_recalibrated_on_one_batch_eval_mode_is_training_mode(images):
    """Running statistics estimated from the very batch they are applied to make eval mode compute what training
    mode computes, in every layer however deep (nothing differs upstream to be passed on): ratio 1."""
    x, _ = images
    torch.manual_seed(0)
    model = build("resnet20")
    recal = bn_modes.recalibrate(model, x, MEAN, batch_size=64)
    f = bn_modes.mode_ratio(recal, x, MEAN, batch_size=64)
    assert len(f) == 19
    # BN keeps the unbiased variance (n / (n - 1) with n = 64 * 32 * 32 values per channel at most): ~1e-4
    assert f.ratio.to_numpy() == pytest.approx(1.0, abs=2e-3)


def test_recalibrate_copies_and_replaces_the_running_statistics(images):
    x, _ = images
    model = build("resnet20")
    bn = model.stage1[0].bn1
    with torch.no_grad():
        bn.running_var.fill_(123.0)
    recal = bn_modes.recalibrate(model, x, MEAN, batch_size=32)
    assert bn.running_var[0].item() == 123.0  # the model itself is untouched
    assert recal.stage1[0].bn1.running_var[0].item() != pytest.approx(123.0)
    assert not recal.training and recal.stage1[0].bn1.momentum == 0.1
    with pytest.raises(ValueError, match="full batch"):
        bn_modes.recalibrate(model, x[:10], MEAN, batch_size=32)


def test_a_running_variance_four_times_too_small_doubles_the_eval_response(images):
    """The stem's BN with its running variance divided by 4 (after an exact recalibration): its eval-mode
    response std is twice its training-mode std (beta = 0, mean exact), and the ratio is not 1 downstream."""
    x, _ = images
    torch.manual_seed(0)
    recal = bn_modes.recalibrate(build("resnet20"), x, MEAN, batch_size=64)
    with torch.no_grad():
        recal.bn1.running_var.div_(4.0)
    f = bn_modes.mode_ratio(recal, x, MEAN, batch_size=64)
    assert f.ratio.iloc[0] == pytest.approx(2.0, rel=2e-3)
    assert abs(f.ratio.iloc[1] - 1.0) > 0.01


def test_bn_check_reports_both_statistics_and_errors(images):
    x, y = images
    torch.manual_seed(0)
    model = bn_modes.recalibrate(build("plain20"), x, MEAN, batch_size=64)
    out = bn_modes.bn_check(model, x, y, x, MEAN, batch_size=64)
    assert out["test_images"] == 64 and out["recal_images"] == 64 and out["batch_size"] == 64
    layers = out["layers"]
    assert len(layers["ratio"]) == 19 and layers["recal_ratio"] == pytest.approx(layers["ratio"], abs=1e-4)
    assert layers["recal_train_ratio"] == pytest.approx(layers["ratio"], abs=1e-4)  # the same images here
    assert out["error"] == out["recal_error"] == bn_modes.error(model, x, y, MEAN)
    assert 0.0 <= out["error"] <= 1.0


def _check(ratios, recal, train_std, error=0.2, recal_error=0.21, own=None):
    n = len(ratios)
    names = ["response0"] + [f"stage{1 + 3 * i // n}.{i}.response2" for i in range(1, n)]
    return dict(layers=dict(layer=list(range(1, n + 1)), name=names, eval_std=[r * t for r, t in zip(ratios, train_std)],
                            train_std=train_std, ratio=ratios, recal_ratio=recal, recal_train_ratio=own or recal,
                            eval_channel_std=train_std, gamma_abs=train_std, recal_eval_std=train_std),
                error=error, recal_error=recal_error, test_images=2000, recal_images=5120, batch_size=128)


def test_report_names_the_net_that_parts_and_whether_recalibration_closes_the_gap():
    from resnet_lab.book import bn_modes as BB
    steady = _check([1.0, 1.02, 1.05, 1.1, 1.0, 0.98], [1.0] * 6, [0.8] * 6)
    parted = _check([1.0, 1.1, 1.2, 2.0, 5.0, 9.0], [1.0, 1.1, 1.1, 1.8, 4.0, 7.0], [0.6] * 6)
    healed = _check([1.0, 1.1, 1.2, 2.0, 5.0, 9.0], [1.0] * 6, [0.7] * 6)
    text = BB.report({"resnet20": steady, "resnet56": healed, "resnet110": parted}, spread=(0.05, 3))
    assert "resnet20 1.01 (1.10)" in text
    assert "In resnet110 the two modes part (ratio 1.5 or more) from block 4 of stage 2 on" in text
    assert "while in resnet20 no layer reaches 1.5" in text
    assert "does not close the gap: median ratio 1.60 -> 1.45, largest 9.00 -> 7.00" in text
    assert "resnet56's BN statistics with its final weights (\"precise BN\") closes the gap" in text
    assert "20.0% with the stored statistics, 21.0% re-estimated" in text
    assert "the ratio is still a median 1.45, largest 7.00. So neither stale statistics" in text
    own_ok = _check([1.0, 1.1, 1.2, 2.0, 5.0, 9.0], [1.0, 1.1, 1.1, 1.8, 4.0, 7.0], [0.6] * 6, own=[1.0] * 6)
    assert "So neither" not in BB.report({"resnet110": own_ok})
    # training-mode Fig. 7 (the train_std means 0.8 / 0.7 / 0.6), each step 0.1 > the spread 0.05: findings
    assert "resnet56 0.100 below resnet20, larger than the seed spread (0.050; 3 seeds): a finding" in text
    assert "resnet110 0.100 below resnet56" in text
    assert "In resnet20 the two modes part" not in text
    assert BB.report({}) == ""
