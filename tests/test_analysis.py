"""Layer statistics (Fig. 7), branch vs identity, the one-layer fold, and the book's report helpers."""
import pandas as pd
import pytest
import torch

from resnet_lab import analysis
from resnet_lab.models import build


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 255, (64, 3, 32, 32), generator=g, dtype=torch.uint8), torch.randint(0, 10, (64,), generator=g)


def test_layer_statistics_shape_and_gamma(images):
    x, y = images
    model = build("resnet20")
    with torch.no_grad():  # give the BNs distinct scales
        for i, m in enumerate(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            m.weight.fill_(0.1 * (i + 1))
    f = analysis.layer_statistics(model, x, y, torch.zeros(3, 32, 32), bn_mode="train", grads=True, batch_size=32)
    assert len(f) == 19 and list(f.layer) == list(range(1, 20))
    assert f.name.iloc[0] == "response0"
    # in training mode BN normalises each channel with batch statistics: channel std == |gamma|
    assert f.channel_std.to_numpy() == pytest.approx(f.gamma_abs.to_numpy(), rel=0.02)
    assert (f.grad_rms > 0).all()
    assert model.stage1[0].bn1.weight[0].item() == pytest.approx(0.2)  # the model itself is untouched


def test_layer_statistics_does_not_move_running_stats(images):
    x, _ = images
    model = build("plain20")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    analysis.layer_statistics(model, x, None, torch.zeros(3, 32, 32), bn_mode="train")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="bn_mode"):
        analysis.layer_statistics(model, x, None, torch.zeros(3, 32, 32), bn_mode="test")


def test_branch_vs_identity(images):
    x, _ = images
    model = build("resnet20").eval()
    f = analysis.branch_vs_identity(model, x, torch.zeros(3, 32, 32))
    assert len(f) == 9 and (f.identity_std > 0).all()
    for blk in (m for m in model.modules() if hasattr(m, "bn2") and hasattr(m, "shortcut")):
        torch.nn.init.zeros_(blk.bn2.weight), torch.nn.init.zeros_(blk.bn2.bias)
    zero = analysis.branch_vs_identity(model, x, torch.zeros(3, 32, 32))
    assert (zero.branch_std == 0).all()  # F(x) = 0 when the last BN's scale and shift are zero
    with pytest.raises(ValueError, match="plain"):
        analysis.branch_vs_identity(build("plain20"), x, torch.zeros(3, 32, 32))


def test_fold_identity_equals_conv_plus_x():
    conv = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(conv(x) + x, analysis.fold_identity(conv)(x), atol=1e-6)
    with pytest.raises(ValueError):
        analysis.fold_identity(torch.nn.Conv2d(8, 16, 3, padding=1))


def test_dead_units_counts_dead_channels_and_leaves_the_model_alone():
    from resnet_lab.analysis.lr_study import dead_units
    torch.manual_seed(0)
    net = build("resnet20").train()
    x = torch.randn(16, 3, 32, 32)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    alive = dead_units(net, x)
    assert set(alive) == {"dead_stage1", "dead_stage2", "dead_stage3"}
    assert all(v < 0.2 for v in alive.values())  # He init + BN: almost every unit fires somewhere
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k  # running statistics restored
    with torch.no_grad():  # kill stage 3: every BN before a ReLU outputs a negative constant, no shortcut help
        for block in net.stage3:
            block.bn1.weight.zero_(); block.bn1.bias.fill_(-1.0)
            block.bn2.weight.zero_(); block.bn2.bias.fill_(-1e3)
    dead = dead_units(net, x)
    assert dead["dead_stage3"] == 1.0 and dead["dead_stage1"] == alive["dead_stage1"]


def test_lr_study_records_and_summarises(tiny_data, tmp_path):
    from resnet_lab.analysis import lr_study as L
    rec = L.run_one("resnet20", 0, tiny_data, tmp_path, iterations=60, progress=False)
    assert L.record_path(tmp_path, "resnet20", 0).exists()
    assert {"dead_stage1", "dead_stage2", "dead_stage3", "loss", "error"} <= set(rec["history"][0])
    assert rec["provenance"]["data_fingerprint"] == tiny_data.fingerprint
    again = L.run_one("resnet20", 0, tiny_data, tmp_path, iterations=60, progress=False)
    assert again == rec  # recorded: read back, not retrained
    row = L.summary(L.load(tmp_path)).iloc[0]
    assert row.net == "resnet20" and row.collapsed == (row.train_error_last_50 > L.COLLAPSE_ERROR)
    assert L.plan(("a", "b"), (0, 1)) == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
