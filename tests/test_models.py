"""The networks against the paper's tables (Table 1, Table 6, Sec. 4.2)."""
import pytest
import torch
import torchvision

from resnet_lab.models import build, cifar_net, response_modules, NAMES, BasicBlock
from resnet_lab.summary import count_params, count_macs, summary, shape_trace

CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274}


@pytest.mark.parametrize("depth,params", CIFAR_PARAMS.items())
def test_cifar_option_a_params_exact(depth, params):
    assert count_params(build(f"resnet{depth}")) == params
    assert count_params(build(f"plain{depth}")) == params  # plain twin: same parameters


def _projection_params(model):
    return sum(p.numel() for n, p in model.named_parameters() if ".shortcut." in n)


@pytest.mark.parametrize("depth", [20, 56])
@pytest.mark.parametrize("option", ["B", "C"])
def test_options_b_c_add_exactly_their_projections(depth, option):
    m = build(f"resnet{depth}", shortcut=option)
    extra = _projection_params(m)
    assert extra > 0
    assert count_params(m) == CIFAR_PARAMS[depth] + extra
    n = (depth - 2) // 6
    # B: two projections (16->32, 32->64); C: one per block, 1x1 conv + BN
    expected_b = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    if option == "B":
        assert extra == expected_b
    else:
        per_stage = [(16 * 16 + 32) * n, (16 * 32 + 64) + (32 * 32 + 64) * (n - 1), (32 * 64 + 128) + (64 * 64 + 128) * (n - 1)]
        assert extra == sum(per_stage)


@pytest.mark.parametrize("name,macs", [("resnet20", 40.6e6), ("resnet56", 125.5e6), ("resnet110", 252.9e6)])
def test_cifar_macs_within_1_percent(name, macs):
    assert abs(count_macs(build(name)) - macs) / macs < 0.01


TV = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
TABLE1_FLOPS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}


@pytest.mark.parametrize("depth", TV)
def test_imagenet_option_b_matches_torchvision_and_table1(depth):
    m = build(f"resnet{depth}")
    assert count_params(m) == TV[depth]
    assert count_params(m) == count_params(getattr(torchvision.models, f"resnet{depth}")())
    assert abs(count_macs(m) - TABLE1_FLOPS[depth]) / TABLE1_FLOPS[depth] < 0.03


def test_bottleneck_stride_placement_changes_macs_not_params():
    paper, v15 = build("resnet50"), build("resnet50", stride_in_1x1=False)
    assert count_params(paper) == count_params(v15)
    assert count_macs(v15) > count_macs(paper) * 1.05  # the 3x3-stride variant misses Table 1's 3.8G


def test_plain34_is_about_18_percent_of_vgg19():
    ratio = count_macs(build("plain34")) / count_macs(torchvision.models.vgg19(), 224)
    assert 0.17 < ratio < 0.195


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("resnet1202", "plain1202")])
def test_output_shapes(name):
    m = build(name, num_classes=7).eval()
    size = 32 if m.__class__.__name__ == "CifarNet" else 224
    with torch.no_grad():
        assert m(torch.randn(2, 3, size, size)).shape == (2, 7)


@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
@pytest.mark.parametrize("variant", ["basic", "one_layer", "preact"])
def test_cifar_variants_run(shortcut, variant):
    m = build("resnet20", shortcut=shortcut, variant=variant).eval()
    with torch.no_grad():
        assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet1202_builds_and_runs():
    m = build("resnet1202").eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_zero_gamma_block_is_identity_then_relu():
    """Sec. 3.1: if the last BN's scale (and shift) are zero, F(x) = 0 and the block computes ReLU(x)."""
    blk = BasicBlock(16, 16).eval()
    torch.nn.init.zeros_(blk.bn2.weight)
    torch.nn.init.zeros_(blk.bn2.bias)
    x = torch.randn(4, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(blk(x), torch.relu(x))
        plain = BasicBlock(16, 16, residual=False).eval()
        plain.load_state_dict(blk.state_dict(), strict=False)
        assert torch.allclose(plain(x), torch.zeros_like(x))  # the plain block cannot: it outputs 0


def test_responses_are_named_and_ordered():
    m = build("resnet20")
    names = [n for n, _ in response_modules(m)]
    assert names[0] == "response0"
    assert names[1:3] == ["stage1.0.response1", "stage1.0.response2"]
    assert len(names) == 19  # the stem + 18 block layers: every 3x3 layer of a 20-layer net but the FC
    assert len(response_modules(build("resnet110"))) == 109


def test_responses_see_post_bn_pre_addition():
    m = build("resnet20").eval()
    seen = {}
    blk = m.stage1[0]
    blk.response2.register_forward_hook(lambda mod, a, o: seen.setdefault("r", o))
    blk.bn2.register_forward_hook(lambda mod, a, o: seen.setdefault("bn", o))
    with torch.no_grad():
        m(torch.randn(2, 3, 32, 32))
    assert torch.equal(seen["r"], seen["bn"])
    assert (seen["r"] < 0).any()  # before the ReLU


def test_shape_trace_answers_padding_question():
    trace = shape_trace(build("resnet20").stage2[0], (1, 16, 32, 32))
    conv1 = trace[trace.layer == "conv1"].iloc[0]
    assert conv1.padding == (1, 1) and conv1.stride == (2, 2) and conv1.output == (1, 32, 16, 16)
    conv2 = trace[trace.layer == "conv2"].iloc[0]
    assert conv2.input[2:] == conv2.output[2:]  # 3x3, padding 1, stride 1 keeps H x W
    assert trace[trace.layer == "shortcut"].iloc[0].output == (1, 32, 16, 16)


def test_summary_frames_match_table6_layout():
    frame = summary("resnet56")
    assert list(frame.stage) == ["conv1", "stage1", "stage2", "stage3", "pool+fc", "total"]
    assert list(frame.output_size[:4]) == ["32x32", "32x32", "16x16", "8x8"]
    assert list(frame.blocks[1:4]) == [9, 9, 9]
    assert frame.params.iloc[-1] == frame.params.iloc[:-1].sum() == 853_018
    assert frame.macs.iloc[-1] == frame.macs.iloc[:-1].sum()
    t1 = summary("resnet34")
    assert list(t1.output_size[:5]) == ["56x56", "56x56", "28x28", "14x14", "7x7"]
    assert list(t1.blocks[1:5]) == [3, 4, 6, 3]


@pytest.mark.parametrize("call,allowed", [
    (lambda: cifar_net(21), "6n+2"),
    (lambda: cifar_net(2), "6n+2"),
    (lambda: build("resnet19"), "allowed"),
    (lambda: build("resnet20", shortcut="D"), "'A', 'B', 'C'"),
    (lambda: build("resnet34", variant="one_layer"), "CIFAR family"),
    (lambda: build("resnet20", variant="bottleneck"), "allowed"),
])
def test_bad_arguments_raise_valueerror_with_what_is_allowed(call, allowed):
    with pytest.raises(ValueError, match=allowed.replace("(", r"\(").replace("+", r"\+")):
        call()


def test_readable_trace_of_a_downsampling_block():
    from resnet_lab.summary import readable_trace, shape_trace
    t = shape_trace(build("resnet20").stage2[0], (1, 16, 32, 32))
    r = readable_trace(t[t.type != "Response"]).set_index("layer")
    assert r.loc["conv1", ["kernel", "stride", "padding", "input", "output"]].tolist() == \
        ["3x3", "2", "1", "16 × 32 × 32", "32 × 16 × 16"]
    assert r.loc["bn1", "kernel"] == "–" and r.loc["shortcut", "stride"] == "2"


def test_the_final_bn_control_is_the_original_net_plus_the_pre_activation_nets_head():
    """Chapter 7's control: the paper's blocks, and only the pre-activation net's final BN-ReLU before pooling."""
    orig, ctrl = build("resnet56"), build("resnet56", variant="final_bn")
    assert count_params(ctrl) == count_params(orig) + 2 * 64  # one BN of 64 channels: its weight and bias
    assert all(type(b) is BasicBlock for s in (ctrl.stage1, ctrl.stage2, ctrl.stage3) for b in s)
    ctrl_names = {n for n, _ in ctrl.named_parameters()}
    assert ctrl_names - {n for n, _ in orig.named_parameters()} == {"final_bn.weight", "final_bn.bias"}
    # the same weights in both: the control's output is the original's pooled through BN-ReLU
    ctrl.load_state_dict({**orig.state_dict(), **{k: v for k, v in ctrl.state_dict().items()
                                                   if k.startswith("final_bn")}})
    x = torch.randn(4, 3, 32, 32)
    orig.eval(), ctrl.eval()
    with torch.no_grad():
        feats = {}
        orig.stage3.register_forward_hook(lambda m, a, out: feats.setdefault("orig", out))
        ctrl.stage3.register_forward_hook(lambda m, a, out: feats.setdefault("ctrl", out))
        orig(x)
        y = ctrl(x)
    assert torch.equal(feats["orig"], feats["ctrl"])
    expected = ctrl.fc(torch.relu(ctrl.final_bn(feats["ctrl"])).mean(dim=(2, 3)))
    torch.testing.assert_close(y, expected)
