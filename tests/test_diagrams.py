"""The diagrams of chapter 2 are read off the modules: what is drawn is what the code computes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from torch import nn  # noqa: E402

from resnet_lab import diagrams as D  # noqa: E402
from resnet_lab.models import BasicBlock, Bottleneck, OneLayerBlock, build, cifar_net  # noqa: E402


def _main_convs(model):
    """Every Conv2d of the model that is not inside a shortcut (the layers the paper counts)."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and ".shortcut" not in n]


def _blocks(model):
    return [n for n, m in model.named_modules() if isinstance(m, D.BLOCK_TYPES)]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_block_spec_follows_forward_order():
    spec = D.block_spec(BasicBlock(64, 64))
    assert [o.kind for o in spec.ops] == ["conv", "bn", "relu", "conv", "bn", "add", "relu"]
    assert spec.shortcut == "identity"
    plain = D.block_spec(BasicBlock(64, 64, residual=False))
    assert [o.kind for o in plain.ops] == ["conv", "bn", "relu", "conv", "bn", "relu"]
    assert plain.shortcut is None


@pytest.mark.parametrize("residual", [True, False])
def test_block_drawing_has_the_modules_layers_and_shortcut_only_if_residual(residual):
    block = BasicBlock(16, 32, stride=2, residual=residual, shortcut="A")
    fig = D.draw_block(block)
    convs = D.drawn(fig, "op:conv:")
    assert [g.split(":")[-1] for g in convs] == ["conv1", "conv2"]
    assert len(D.drawn(fig, "op:bn:")) == 2
    assert len(D.drawn(fig, "op:add")) == (1 if residual else 0)
    assert D.drawn(fig, "shortcut:") == (["shortcut:pad"] if residual else [])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "3x3 conv, 32, /2" in texts  # the stride-2 conv says so, from conv1.stride


@pytest.mark.parametrize("option,kinds", [("A", ["pad", "identity"]), ("B", ["projection", "identity"]),
                                          ("C", ["projection", "projection"])])
def test_shortcut_options_drawn_as_built(option, kinds):
    net = build("resnet34", shortcut=option)
    fig = D.draw_blocks({"first": net.conv3_x[0], "other": net.conv3_x[1]})
    assert D.drawn(fig, "shortcut:") == [f"shortcut:{k}" for k in kinds]


def test_bottleneck_drawing_and_its_stride():
    v1 = build("resnet50").conv3_x[0]
    v15 = build("resnet50", stride_in_1x1=False).conv3_x[0]
    assert [o.label for o in D.block_spec(v1).convs] == ["1x1 conv, 128, /2", "3x3 conv, 128", "1x1 conv, 512"]
    assert [o.label for o in D.block_spec(v15).convs] == ["1x1 conv, 128", "3x3 conv, 128, /2", "1x1 conv, 512"]
    fig = D.draw_block(Bottleneck(256, 64))
    assert len(D.drawn(fig, "op:conv:")) == 3 and D.drawn(fig, "shortcut:") == ["shortcut:identity"]


@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet34", "plain34", "resnet50"])
def test_net_drawing_has_every_weighted_layer_and_one_shortcut_per_block(name):
    model = build(name)
    fig = D.draw_net(model)
    layers = [g[len("layer:"):] for g in D.drawn(fig, "layer:")]
    assert layers == _main_convs(model) + ["fc"]
    depth = int(name.lstrip("resnetplain"))
    assert len(layers) == depth  # the paper's layer count: convs on the main path + fc
    shortcuts = D.drawn(fig, "shortcut:")
    if model.residual:
        assert [g.split(":")[1] for g in shortcuts] == _blocks(model)
    else:
        assert shortcuts == []


def test_net_drawing_follows_depth_and_marks_dimension_changes():
    for depth in (8, 14, 26):
        model = cifar_net(depth)
        fig = D.draw_net(model)
        assert len(D.drawn(fig, "layer:")) == depth
        assert len(D.drawn(fig, "shortcut:")) == 3 * (depth - 2) // 6
        plt.close(fig)
    # dashed arcs where a shortcut changes dimensions: 2 in the CIFAR nets, 3 in ResNet-34 (conv3_1..conv5_1)
    for name, n in [("resnet20", 2), ("resnet34", 3)]:
        fig = D.draw_net(build(name))
        dashed = [a for a in fig.axes[0].patches if (a.get_gid() or "").startswith("shortcut:")
                  and a.get_linestyle() not in ("-", "solid")]
        assert len(dashed) == n


def test_one_layer_blocks_drawn_with_one_conv_each():
    model = cifar_net(20, variant="one_layer")
    fig = D.draw_net(model)
    assert len(D.drawn(fig, "layer:")) == 20
    assert len(D.drawn(fig, "shortcut:")) == 18
    assert [o.kind for o in D.block_spec(OneLayerBlock(16, 16)).ops] == ["conv", "bn", "add", "relu"]
