"""The bf16/fp32 parity study: its verdict follows the numbers in the records, never a fixed answer."""
import pytest

from resnet_lab import parity, plots
from resnet_lab.resolved import Run
from resnet_lab.train import RunConfig

HISTORY = {"train": [{"iter": 20, "lr": 0.1, "loss": 2.0, "error": 0.7}, {"iter": 40, "lr": 0.1, "loss": 1.8,
                                                                          "error": 0.6}],
           "eval": [{"iter": 40, "test_error": 0.55, "test_loss": 1.5, "val_error": 0.56, "val_loss": 1.5}]}


def write(root, errors):
    """errors: {(arch, seed, precision): (train %, test %)} -> records in the parity store under ``root``."""
    st = parity.store(root)
    for (arch, seed, precision), (train, test) in errors.items():
        cfg = RunConfig(arch, profile=parity.PROFILE, seed=seed, precision=precision)
        st.write(Run.of(cfg, "synthetic000", precision=precision), HISTORY,
                 {"status": "completed", "final_train_error": train / 100, "final_test_error": test / 100, "final_val_error": test / 100,
                  "images_per_second": 100.0 if precision == "fp32" else 170.0}, {"device": "test"})
    return parity.load(root)


def full(bf16_shift: float):
    """Every planned run; seed 1 is 1 point above the others; bf16 shifted from fp32 by ``bf16_shift`` points."""
    out = {}
    for arch, base in (("resnet20", 40.0), ("plain20", 45.0)):
        for seed in parity.SEEDS:
            for p in parity.PRECISIONS:
                v = base + (seed == 1) + (bf16_shift if p == "bf16" else 0.0)
                out[(arch, seed, p)] = (v, v + 2)
    return out


def test_within_the_seed_range_keeps_accuracy(tmp_path):
    recs = write(tmp_path, full(0.4))
    v = parity.verdicts(recs)
    assert len(v) == 4 and v["within"].all()
    assert v["largest_diff"].round(6).eq(0.4).all() and v["seed_range"].round(6).eq(1.0).all()
    assert parity.keeps_accuracy(recs)
    assert parity.report(recs).count("**bf16 keeps accuracy**") == 2
    t = parity.table(recs)
    n = len(parity.SEEDS)
    assert list(t["net"]) == ["resnet20"] * n + ["plain20"] * n
    assert t["test bf16 - fp32"].round(6).eq(0.4).all()


def test_beyond_the_seed_range_is_reported(tmp_path):
    recs = write(tmp_path, full(1.5))
    assert not parity.keeps_accuracy(recs)
    rep = parity.report(recs)
    assert "not shown to keep accuracy" in rep and "beyond the 1.00-point seed range" in rep


def test_an_outlying_bf16_seed_does_not_widen_its_own_yardstick(tmp_path):
    errs = full(0.0)
    errs[("resnet20", 2, "bf16")] = (44.0, 46.0)  # 4 points off its fp32 twin: the bf16 range becomes 4, fp32's stays 1
    v = parity.verdicts(write(tmp_path, errs)).set_index(["net", "metric"])
    assert v.loc[("resnet20", "train"), "seed_range"] == pytest.approx(1.0)
    assert not v.loc[("resnet20", "train"), "within"] and v.loc[("plain20", "train"), "within"]


def test_missing_runs_are_named_and_give_no_verdict(tmp_path):
    errs = {k: v for k, v in full(0.0).items() if not (k[0] == "plain20" and k[1] >= 1)}
    recs = write(tmp_path, errs)
    assert parity.missing(recs) == [f"plain20 s{s} {p}" for s in parity.SEEDS[1:] for p in parity.PRECISIONS]
    assert not parity.keeps_accuracy(recs)  # resnet20 passes, but the study is not complete
    rep = parity.report(recs)
    assert "plain20: not enough runs recorded" in rep and "Not recorded yet: plain20 s1 fp32, plain20 s1 bf16," in rep


def test_parity_store_is_apart_from_the_sweep(tmp_path):
    write(tmp_path, {("resnet20", 0, "fp32"): (40, 42)})
    from resnet_lab.runs import RunStore
    assert RunStore(tmp_path).records() == []  # studies/ is not scanned as runs
    assert len(parity.load(tmp_path)) == 1


def test_figure_and_caption(tmp_path):
    recs = write(tmp_path, full(0.2))
    fig = plots.precision_parity(recs)
    assert len(fig.axes) == 2 and all(len(ax.lines) == 4 * len(parity.SEEDS) for ax in fig.axes)  # seeds x 2 precisions x (train, test)
    cap = parity.caption(recs)
    assert cap.startswith("profile quick, ") and "seeds 0, 1, 2, 3" in cap and "16 of 16 runs" in cap
    assert "`" not in cap  # a glued caption is plain text: Markdown would show raw
    assert parity.caption({}) == "no parity run is recorded yet"


def test_cli_refuses_emulated_bf16(monkeypatch, tmp_path):
    monkeypatch.setattr("resnet_lab.train.cpu_has_native_bf16", lambda: False)
    with pytest.raises(SystemExit):
        parity.main(["--runs", str(tmp_path), "--device", "cpu"])


def test_book_table_is_formatted_for_reading(tmp_path):
    from resnet_lab import book
    t = book.cifar.parity_table(write(tmp_path, full(-0.25)))
    assert t.loc[("resnet20", 1), "test fp32"] == "43.00%" and t.loc[("resnet20", 1), "test bf16"] == "42.75%"
    assert t.loc[("plain20", 0), "train bf16 - fp32"] == "-0.25" and t.loc[("plain20", 0), "img/s bf16"] == "170"
    assert book.cifar.parity_table({}).empty


def test_parity_store_keeps_no_weights(tmp_path):
    from resnet_lab.runs import RunStore
    cfg = RunConfig("resnet20", profile=parity.PROFILE, seed=0, precision="fp32")
    model = cfg.build()
    metrics = {"status": "completed", "final_train_error": 0.4, "final_test_error": 0.4, "final_val_error": 0.4}
    assert not parity.store(tmp_path).write(Run.of(cfg, "synthetic000", precision="fp32"), HISTORY, metrics, {}, model).has_weights()
    assert RunStore(tmp_path / "sweep").write(Run.of(cfg, "synthetic000", precision="fp32"), HISTORY, metrics, {}, model).has_weights()


def test_table_shows_every_run_that_enters_a_seed_range(tmp_path):
    recs = write(tmp_path, full(0.2))
    del recs[("resnet20", 3, "bf16")]
    t = parity.table(recs)
    row = t[(t["net"] == "resnet20") & (t["seed"] == 3)]
    assert len(row) == 1 and row["train bf16 - fp32"].isna().all() and row["train fp32"].notna().all()
    v = parity.verdicts(recs)
    assert v.loc[v["net"] == "resnet20", "pairs"].tolist() == [3, 3]  # the lone fp32 run is no pair


def test_null_pass_rate_is_simulated_not_assumed():
    assert parity.null_pass_rate(2, trials=20000) < parity.null_pass_rate(4, trials=20000) < 0.6
    assert 0.45 < parity.null_pass_rate(4) < 0.55  # four seeds: a coin flip for a harmless bf16
