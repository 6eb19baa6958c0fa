"""The committed records (runs/): current, complete, with provenance; and what the chapters claim of them.

The sweep at the `cpu` profile spans several working sessions, so the claims are checked on the runs that are
recorded; a claim whose runs are not all recorded yet is skipped with their names (the book says the same).
"""
import json

import pytest

from resnet_lab.profiles import PROFILES, get_profile, resolved_settings
from resnet_lab.runs import REPO_ROOT, RunStore

STORE = RunStore(REPO_ROOT / "runs")


def _cpu(*archs, seed=0):
    recs = {r.config.arch: r for r in STORE.find(profile="cpu", variant="basic", seed=seed)
            if not r.failed and r.config.shortcut in ("A", None)}  # the sweep's nets, not the option-B/C runs
    missing = [a for a in archs if a not in recs]
    if missing:
        pytest.skip(f"not recorded yet at the cpu profile: {', '.join(missing)}")
    return recs


def test_no_damaged_stale_or_retired_record():
    assert STORE.damaged() == []
    for d in STORE.root.iterdir():
        if d.name.startswith(".") or d.name == "studies":
            continue
        cfg = json.loads((d / "config.json").read_text())
        profile = cfg["config"]["profile"]
        assert profile in PROFILES, f"{d.name}: retired profile {profile!r}"
        c = STORE.records()[[r.path for r in STORE.records()].index(d)].config
        assert cfg["identity"]["settings"] == resolved_settings(get_profile(profile), c.residual, c.depth), \
            f"{d.name} was recorded under other settings of profile {profile!r}: stale"


def test_records_are_complete_with_provenance():
    for r in STORE.records():
        p = r.provenance
        assert {"device", "torch", "commit", "wall_seconds", "data", "data_source", "data_fingerprint",
                "numerics"} <= set(p), r.id
        assert p["numerics"]["precision"] == r.precision and r.precision in r.id
        assert r.metrics["status"] == "completed", r.id
        assert r.history["train"][-1]["iter"] == get_profile(r.config.profile).iterations
        assert r.history["eval"][-1].get("final") and r.history["eval"][-1]["images"] == 10000
        assert r.has_weights()


def test_resnet20_reaches_the_calibrated_error():
    r = _cpu("resnet20")["resnet20"]
    assert r.metrics["final_test_error"] <= 0.185, r.metrics


@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_each_resnet_below_its_plain_twin(depth):
    r = _cpu(f"resnet{depth}", f"plain{depth}")
    res, plain = r[f"resnet{depth}"].metrics, r[f"plain{depth}"].metrics
    assert res["final_train_error"] < plain["final_train_error"]
    assert res["final_test_error"] < plain["final_test_error"]


def test_degradation_plain56_trains_worse_than_plain20():
    r = _cpu("plain20", "plain56")
    assert r["plain56"].metrics["final_train_error"] > r["plain20"].metrics["final_train_error"]


def test_lr_study_records_are_complete():
    from resnet_lab.analysis import lr_study as L
    recs = L.load(STORE.root)
    if not recs:
        pytest.skip("the lr-0.1 study is not recorded yet")
    for r in recs:
        assert r["history"][-1]["iter"] == r["iterations"] and "dead_stage3" in r["history"][-1]
        assert {"commit", "torch", "device", "data_fingerprint", "numerics", "wall_seconds"} <= set(r["provenance"])


def test_parity_records_are_complete():
    """The bf16/fp32 parity runs (chapter 3): each trained in the precision its key says, at the quick profile's
    full length, on one and the same data; no weights are kept (the study reads only curves and errors)."""
    from resnet_lab import parity
    recs = parity.load(STORE.root)
    if not recs:
        pytest.skip("the parity study is not recorded yet")
    for (arch, seed, precision), r in recs.items():
        assert r.precision == precision and r.provenance["numerics"]["precision"] == precision, r.id
        assert r.provenance["numerics"]["memory_format"] == "channels_last", r.id
        assert r.metrics["status"] == "completed", r.id
        assert r.history["train"][-1]["iter"] == get_profile(parity.PROFILE).iterations, r.id
        assert r.history["eval"][-1]["images"] == 10000 and not r.has_weights(), r.id
    assert len({r.provenance["data_fingerprint"] for r in recs.values()}) == 1


def test_paper_profile_uses_bf16_only_if_the_parity_study_passed_it():
    """The book's rule (chapter 3): bf16 may be a profile's default only once the parity study has shown, on
    every net and metric, that it keeps accuracy; the sentence chapter 3 prints says which case holds."""
    from resnet_lab import book, parity
    recs = parity.load(STORE.root)
    if parity.missing(recs):
        pytest.skip(f"the parity study is not complete: {', '.join(parity.missing(recs))}")
    assert (get_profile("paper").precision == "auto") == parity.keeps_accuracy(recs)
    assert "contradiction" not in book.cifar.paper_precision_note(recs)


def test_saved_weights_reproduce_the_recorded_test_error(real_data):
    """The weights a chapter analyses are the ones that made the recorded numbers: on 1,000 test images (a
    binomial spread of at most 1.6 points) each loaded model lands within 4 points of its record's full test
    error. (Records written with float16 weights lost plain-56's BN statistics to overflow: 84% error.)"""
    from resnet_lab.analysis.responses import eval_images
    from resnet_lab.train import evaluate

    x, y = eval_images(real_data, 1000)
    for r in STORE.records():
        if r.has_weights():
            err, _ = evaluate(r.load_model(), x, y, real_data.mean)
            assert abs(err - r.metrics["final_test_error"]) < 0.04, (r.id, err, r.metrics["final_test_error"])


def test_chapter1_prose_on_gradients_at_initialisation_holds(monkeypatch):
    """Chapter 1's fixed sentences: in the plain nets at initialisation the gradient grows on its way back by a
    factor that itself grows with depth, and ResNet-56's gradient still grows (less). Read from the cached
    analyses of the `cpu` profile (runs/studies/init)."""
    monkeypatch.setenv("RESNET_LAB_PROFILE", "cpu")
    from resnet_lab import book
    n = book.ANALYSIS_IMAGES.get("cpu", 500)
    for arch in ("plain20", "plain56", "resnet56"):
        if not (STORE.root / "studies" / "init" / "jpeg" / f"{arch}-s0" / f"gradients-{n}.json").exists():
            pytest.skip(f"the cpu-profile gradients of the untrained {arch} are not cached")
    growth = {a: (lambda g: g[0] / g[-1])(book.init_gradients(a)["grad_rms"].to_numpy())
              for a in ("plain20", "plain56", "resnet56")}
    assert 1 < growth["plain20"] < growth["plain56"], growth
    assert 1 < growth["resnet56"] < growth["plain56"], growth


def test_chapter1_prose_on_trained_plain56_gradients_holds(monkeypatch):
    """Chapter 1: after training, plain-56's gradient no longer grows on its way back and its first layer's RMS is
    within a factor of ten of its last (neither explosion nor vanishing). Read from the cached analysis."""
    monkeypatch.setenv("RESNET_LAB_PROFILE", "cpu")
    from resnet_lab import book
    hits = [r for r in STORE.find(arch="plain56", profile="cpu", seed=0) if not r.failed]
    if not hits or not (hits[0].path / "analysis" / "gradients_trained.json").exists():
        pytest.skip("the trained plain-56's gradients are not cached")
    g = book.layer_gradients(hits[0], trained=True)["grad_rms"].to_numpy()
    assert 0.1 < g[0] / g[-1] <= 1, g[0] / g[-1]


def test_the_cpu_sweep_is_complete_and_listed_by_runs_json(capsys):
    """The sweep's 14 runs (Fig. 6, Table 6, the one-layer claim, the seed spread) are recorded at the cpu profile,
    completed, with provenance -- and `python -m resnet_lab runs --json` lists each of them."""
    from resnet_lab.cli import main
    from resnet_lab.experiments import book_runs, variant_runs
    variants = {(c.arch, c.variant, c.shortcut) for c in variant_runs("cpu")}
    sweep = [c for c in book_runs("cpu") if (c.arch, c.variant, c.shortcut) not in variants]
    assert len(sweep) == 14
    recs = STORE.records()
    for c in sweep:
        match = [r for r in recs if (r.config.arch, r.config.variant, r.config.seed, r.config.profile,
                                     r.config.data_source) == (c.arch, c.variant, c.seed, "cpu", c.data_source)
                 and r.config.shortcut in ("A", None)]
        assert len(match) == 1 and match[0].metrics["status"] == "completed", c
    assert main(["runs", "--json", "--runs", str(STORE.root)]) == 0
    listed = {r["id"] for r in json.loads(capsys.readouterr().out)}
    cpu_basic = {r.id for r in recs if r.config.profile == "cpu"}
    assert len(cpu_basic & listed) >= 14


def test_the_quick_analyses_of_every_recorded_cpu_run_are_cached(monkeypatch):
    """The analyses a chapter computes in seconds to minutes per run (Fig. 7 responses, the eval/training-mode BN
    check, branch/identity, gradients, multi-crop testing) are committed for every recorded `cpu` run the book reads,
    so that the book build (CI) only reads them. The hours-long ones (lesions, landscapes) say themselves which
    nets they lack (chapter 6's note)."""
    from resnet_lab.book import caches
    monkeypatch.setenv("RESNET_LAB_PROFILE", "cpu")
    monkeypatch.setenv("RESNET_LAB_ALLOW_TRAINING", "0")
    monkeypatch.setenv("RESNET_LAB_RUNS", str(STORE.root))
    jobs = caches.plan(only=("responses", "bn_modes", "branch_identity", "gradients", "multicrop"))
    recorded = [(name, fn_rec[1]) for name, _, fn_rec in jobs if name != "missing"]
    assert recorded, "no recorded cpu run is analysed"
    files = {"gradients": "gradients_trained"}  # the cache file's name where it is not the analysis's
    lacking = [f"{name} of {rec.id}" for name, rec in recorded
               if not (rec.path / "analysis" / f"{files.get(name, name)}.json").exists()]
    assert not lacking, f"not cached: {lacking}"


# Runs the chapters ask for that may be missing from the published book, each with the reason. Empty: every run
# the chapters ask for at the book's profile is recorded (a queued run cannot reach the book as "not recorded"
# without this list saying so).
OPTIONAL: dict[str, str] = {}


def _book_env(monkeypatch):
    monkeypatch.delenv("RESNET_LAB_PROFILE", raising=False)
    monkeypatch.setenv("RESNET_LAB_RUNS", str(STORE.root))


def test_every_run_the_chapters_ask_for_is_recorded(monkeypatch):
    from resnet_lab.book import profile_name, status
    from resnet_lab.runs import describe
    _book_env(monkeypatch)
    assert profile_name() == "cpu"
    missing = [describe(c) for c in status.missing_runs()]
    assert [m for m in missing if m not in OPTIONAL] == [], status.missing_report()


def test_the_readme_figure_is_drawn_from_the_records_now(monkeypatch):
    """book/_static/fig6.png (the README's picture) and fig6.json beside it: drawn from exactly the sweep runs
    recorded now (the build redraws it when they change; `python tools/readme_figure.py` does it by hand)."""
    from resnet_lab.book import status
    _book_env(monkeypatch)
    assert status.readme_figure_problem() is None, status.readme_figure_problem()
    meta = json.loads(status.README_FIGURE.with_suffix(".json").read_text())
    assert meta["missing"] == [] and len(meta["runs"]) == 9
    assert f"profile `{meta['profile']}`" in (REPO_ROOT / "README.md").read_text()


def test_the_readme_summary_says_what_the_records_say_now(monkeypatch):
    """The README's claims summary is the book's first-page sentence at the book's profile, computed from the
    records (the build rewrites it when they change; `python tools/readme_figure.py` does it by hand)."""
    from resnet_lab.book import status
    _book_env(monkeypatch)
    assert status.readme_summary_problem() is None, status.readme_summary_problem()
    from resnet_lab.book import profile_name
    assert f"At the `{profile_name()}` profile, where the book's rule can judge them" in (REPO_ROOT / "README.md").read_text()


def test_a_comparison_caption_reads_every_seed_of_its_nets(monkeypatch):
    """Chapter 7's closing table takes each arm's mean over its recorded seeds; its caption's runs are those seeds."""
    from resnet_lab.book import variants
    _book_env(monkeypatch)
    recs = _cpu("resnet56", "resnet20")
    got = variants.arm_records([recs["resnet56"], recs["resnet20"]])
    by_net = {}
    for r in got:
        by_net.setdefault(r.config.arch, set()).add(r.config.seed)
    assert by_net["resnet56"] == {r.config.seed for r in STORE.find(arch="resnet56", profile="cpu", variant="basic")
                                  if not r.failed and r.config.shortcut == "A"}
    assert len(by_net["resnet56"]) >= 3 and all(r.config.profile == "cpu" for r in got)
