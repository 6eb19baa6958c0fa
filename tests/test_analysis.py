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


def test_dead_units_of_a_pre_activation_net_count_the_relus_in_front_of_its_convs():
    from resnet_lab.analysis.lr_study import dead_units
    torch.manual_seed(0)
    net = build("resnet20", variant="preact").train()
    x = torch.randn(16, 3, 32, 32)
    alive = dead_units(net, x)
    assert set(alive) == {"dead_stage1", "dead_stage2", "dead_stage3"} and all(v < 0.2 for v in alive.values())
    with torch.no_grad():  # BN2 of stage 3 negative: the ReLU in front of each conv2 is dead; the one in front of
        for block in net.stage3:  # conv1 is not (the blocks pass their input on through the shortcut)
            block.bn2.weight.zero_(); block.bn2.bias.fill_(-1.0)
    half = dead_units(net, x)["dead_stage3"]
    # counted: 3 x 64 units in front of conv2 and 32 + 2 x 64 in front of conv1. Dead: all in front of conv2, and
    # in blocks 2 and 3 the 32 channels that option A's zero-padding adds (no branch writes into them now)
    assert half == pytest.approx((3 * 64 + 2 * 32) / (3 * 64 + 32 + 2 * 64))
    with torch.no_grad():
        for block in net.stage3:
            block.bn1.weight.zero_(); block.bn1.bias.fill_(-1.0)
    assert dead_units(net, x)["dead_stage3"] == 1.0


def test_study_nets_name_their_arch_warm_up_and_block():
    from resnet_lab.analysis import lr_study as L
    assert L.parse("resnet110+warmup") == ("resnet110", True, "basic")
    assert L.parse("resnet56+preact") == ("resnet56", False, "preact")
    assert L.parse("plain56") == ("plain56", False, "basic")
    assert L.parse("resnet56+final_bn") == ("resnet56", False, "final_bn")
    assert L.label("resnet56+final_bn") == "resnet56 with a final BN-ReLU"
    with pytest.raises(ValueError, match="one block variant at most"):
        L.parse("resnet56+preact+final_bn")
    assert L.label("resnet56+preact") == "pre-activation resnet56" and L.label("resnet110+warmup") == \
        "resnet110 with warm-up"
    with pytest.raises(ValueError, match="'resnet56\\+fast'.*fast"):
        L.parse("resnet56+fast")
    assert set(L.VARIANT_NETS).isdisjoint(L.NETS)  # chapter 3's study stays as it was


def test_lr_study_records_and_summarises(tiny_data, tmp_path):
    from resnet_lab.analysis import lr_study as L
    rec = L.run_one("resnet20", 0, tiny_data, tmp_path, iterations=60, progress=False)
    assert L.record_path(tmp_path, "resnet20", 0).exists()
    assert {"dead_stage1", "dead_stage2", "dead_stage3", "loss", "error"} <= set(rec["history"][0])
    assert rec["provenance"]["data_fingerprint"] == tiny_data.fingerprint
    assert rec["provenance"]["threads"] == torch.get_num_threads()  # chapter 7 names the threads its arms ran on
    again = L.run_one("resnet20", 0, tiny_data, tmp_path, iterations=60, progress=False)
    assert again == rec  # recorded: read back, not retrained
    # the file is named by net and seed: another length (or data) is refused, not answered with this record
    with pytest.raises(ValueError, match="resnet20 seed 0 trained for 60 iterations on data .*, not 80 on"):
        L.run_one("resnet20", 0, tiny_data, tmp_path, iterations=80, progress=False)
    assert L.record_path(tmp_path, "resnet20", 0).exists()  # nothing finished thrown away
    row = L.summary(L.load(tmp_path)).iloc[0]
    assert row.net == "resnet20" and row.collapsed == (row.train_error_last_50 > L.COLLAPSE_ERROR)
    assert L.plan(("a", "b"), (0, 1)) == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    pre = L.run_one("resnet20+preact", 0, tiny_data, tmp_path, iterations=60, progress=False)
    assert pre["variant"] == "preact" and pre["arch"] == "resnet20"
    assert L.record_path(tmp_path, "resnet20+preact", 0).name == "resnet20-preact-s0.json"
    # same seed, data and length: only the net differs, so the curves differ only if the pre-activation net trained
    assert [p["iter"] for p in pre["history"]] == [p["iter"] for p in rec["history"]]
    assert [p["loss"] for p in pre["history"]] != [p["loss"] for p in rec["history"]]
