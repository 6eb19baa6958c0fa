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
