"""Chapter 2's cost tables: counted from the modules, and they agree with the paper where the paper is exact."""
from resnet_lab import costs as C
from resnet_lab.models import build
from resnet_lab.reference import PAPER_TABLE1_FLOPS
from resnet_lab.summary import count_macs, summary


def test_table1_has_all_five_depths_and_v1_matches_the_paper():
    t = C.table1()
    assert list(t.index) == ["ResNet-18", "ResNet-34", "ResNet-50", "ResNet-101", "ResNet-152"]
    for depth, paper in PAPER_TABLE1_FLOPS.items():
        assert abs(count_macs(build(f"resnet{depth}")) / paper - 1) < 0.02  # stride on the 1x1: Table 1
    assert count_macs(build("resnet50", stride_in_1x1=False)) / PAPER_TABLE1_FLOPS[50] > 1.05  # v1.5 is not


def test_projection_everywhere_about_doubles_a_bottleneck_block():
    t = C.projection_everywhere()
    per_block = [float(v.lstrip("×")) for v in t["×"].iloc[:4]]
    assert all(1.9 < r < 2.0 for r in per_block)


def test_shortcut_options_quote_table3_and_count_thirteen_extra_projections():
    t = C.shortcut_options()
    assert list(t["top-1 error (paper, quoted)"]) == ["25.03%", "24.52%", "24.19%"]
    assert t.loc["C", "projection shortcuts"] - t.loc["B", "projection shortcuts"] == 13


def test_readable_tables_have_no_long_floats():
    for frame in (C.readable_summary(summary("plain56")), C.table1(), C.basic_vs_bottleneck(), C.cifar_blocks()):
        for v in frame.astype(str).to_numpy().ravel():
            assert len(v.split(".")[-1]) <= 3 or not v.replace(".", "").isdigit(), v


def test_the_counts_chapter_2_states_in_prose_are_the_codes():
    """Chapter 2's text quotes these counts; if the code's counts move, this fails and the text must follow."""
    from resnet_lab.summary import count_params
    opts = C.shortcut_options("resnet34")
    assert opts.loc["C", "vs A"] == "+5.1%" and opts["projection shortcuts"].tolist() == [0, 3, 16]  # "about 5%"
    stages = summary("plain56").set_index("stage")
    assert all(abs(stages.loc[f"stage{i}", "macs"] / 1e6 - 42) < 1.5 for i in (1, 2, 3))  # "each stage about 42M"
    t1 = C.table1()
    assert (t1["v1 vs paper"].str.rstrip("%").astype(float).abs() < 2).all()  # "within 2% of Table 1"
    g = lambda v: float(v.rstrip("G"))  # noqa: E731
    gaps = [g(t1.loc[n, "v1.5: stride on 3x3"]) - g(t1.loc[n, "v1: stride on 1x1"])
            for n in ("ResNet-50", "ResNet-101", "ResNet-152")]
    assert all(abs(x - 0.23) < 0.005 for x in gaps)  # "about 0.23G more multiply-adds per net"
    proj = C.projection_everywhere(50)
    assert proj.iloc[:4, 1].tolist() == ["×1.94"] * 4 and "×1.57" in proj.iloc[6, 1]  # per block; whole net
    assert round(count_params(build("resnet20")) / 1e6, 2) == 0.27 and round(count_params(build("resnet110")) / 1e6, 1) == 1.7
    assert round(count_macs(build("resnet20")) / 1e6) == 41 and round(count_macs(build("resnet110")) / 1e6) == 253
