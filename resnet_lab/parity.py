"""bf16 against fp32: does the engine's bf16 autocast keep accuracy?

bf16 autocast (forward pass in bf16; master weights, loss and optimiser in fp32) is about 1.7x the fp32 speed
on a CPU that computes bf16 natively (AVX-512 BF16 / AMX; ``benchmarks/NOTES.md``). Before any recorded run
uses it, it has to be shown to keep accuracy: ResNet-20 and plain-20, seeds 0 to 3, each trained in fp32
and in bf16 from the same seed at the ``quick`` profile (800 iterations of batch 128, about 2.3 epochs, at the
real recipe: lr 0.1 divided by 10 at 500 and 650). The verdict compares, per net, the largest bf16 - fp32
difference in final training and test error with the seed-to-seed range of the same net at the same profile
in fp32, the reference (the bf16 runs are what is judged, so they do not widen the yardstick): bf16 keeps
accuracy where the former is within the latter. Four seeds, not the two first
planned: with two, the seed range is the difference of a single pair, itself as noisy as the difference it is
meant to judge (the two-seed verdict is kept in ``benchmarks/NOTES.md``).

The records live in a run store of their own, ``runs/studies/parity/``, so they never mix with the book's
sweep: ``python -m resnet_lab.parity`` trains the missing ones (resumable, one run at a time).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .runs import RunRecord, RunStore
from .train import RunConfig

NETS = ("resnet20", "plain20")
SEEDS = (0, 1, 2, 3)
PRECISIONS = ("fp32", "bf16")
REFERENCE = "fp32"  # the precision whose seed range is the yardstick
PROFILE = "quick"
METRICS = {"train": "final_train_error", "test": "final_test_error"}


def store(runs_root: str | Path) -> RunStore:
    """The parity study's own run store under ``<runs_root>/studies/parity`` (records without weights)."""
    return RunStore(Path(runs_root) / "studies" / "parity", keep_weights=False)


def plan(nets=NETS, seeds=SEEDS) -> list[RunConfig]:
    """Every run of the study, seed-major, fp32 before bf16 for each (net, seed)."""
    return [RunConfig(a, profile=PROFILE, seed=s, precision=p) for s in seeds for a in nets for p in PRECISIONS]


def load(runs_root: str | Path) -> dict[tuple[str, int, str], RunRecord]:
    """The completed records of the study, keyed by (arch, seed, precision)."""
    out = {}
    for r in store(runs_root).find(profile=PROFILE, variant="basic"):
        c = r.config
        if not r.failed and c.arch in NETS and c.seed in SEEDS and c.shortcut in (None, "A"):
            out[(c.arch, c.seed, r.precision)] = r
    return out


def missing(records: dict) -> list[str]:
    """'resnet20 s1 bf16', ... for every planned run that is not recorded."""
    return [f"{c.arch} s{c.seed} {c.precision}" for c in plan() if (c.arch, c.seed, c.precision) not in records]


def table(records: dict) -> pd.DataFrame:
    """One row per (net, seed) with either precision recorded (every run of the study; the fp32 ones make the
    seed range): final
    training and test error (%) in fp32 and bf16, their difference (bf16 - fp32, points; NaN until both are
    recorded), and the training speed each run recorded (images/s)."""
    nan = float("nan")
    rows = []
    for a in NETS:
        for s in SEEDS:
            f, b = records.get((a, s, "fp32")), records.get((a, s, "bf16"))
            if f is None and b is None:
                continue
            row = {"net": a, "seed": s}
            for k, m in METRICS.items():
                row[f"{k} fp32"] = 100 * f.metrics[m] if f is not None else nan
                row[f"{k} bf16"] = 100 * b.metrics[m] if b is not None else nan
                row[f"{k} bf16 - fp32"] = 100 * (b.metrics[m] - f.metrics[m]) if f is not None and b is not None else nan
            row["img/s fp32"] = _rate(f)
            row["img/s bf16"] = _rate(b)
            rows.append(row)
    return pd.DataFrame(rows)


def _rate(record) -> float | None:
    """A run's training images/s; None for a run resumed from a checkpoint (its wall time spans two processes,
    and whatever happened between them) or not recorded."""
    if record is None or record.provenance.get("resumed_at"):
        return None
    return record.metrics.get("images_per_second")


def verdicts(records: dict) -> pd.DataFrame:
    """Per net and metric: the largest |bf16 - fp32| over the seeds, the seed range of the reference precision
    (fp32: max - min over its seeds), and whether the former is within the latter. The bf16 runs do not enter
    the yardstick they are judged by: an outlying bf16 seed would otherwise widen its own tolerance."""
    rows = []
    t = table(records)
    for a in NETS:
        for k, m in METRICS.items():
            diffs = (t.loc[t["net"] == a, f"{k} bf16 - fp32"].abs().dropna() if not t.empty
                     else pd.Series(dtype=float))
            vals = [100 * records[(a, s, REFERENCE)].metrics[m] for s in SEEDS if (a, s, REFERENCE) in records]
            if diffs.empty or len(vals) < 2:
                continue
            spread = max(vals) - min(vals)
            rows.append(dict(net=a, metric=k, pairs=len(diffs), largest_diff=float(diffs.max()),
                             seed_range=spread, within=bool(diffs.max() <= spread)))
    return pd.DataFrame(rows)


def report(records: dict) -> str:
    """Markdown: the verdict per net, computed from the records; names what is missing."""
    v = verdicts(records)
    lines = []
    for a in NETS:
        rows = v[v["net"] == a] if not v.empty else v
        if rows.empty:
            lines.append(f"- {a}: not enough runs recorded for a verdict (both precisions of a seed, and two "
                         f"fp32 seeds, are needed).")
            continue
        parts = [f"{r.metric} error differs by at most {r.largest_diff:.2f} points between bf16 and fp32 "
                 f"({r.pairs} seed{'s' if r.pairs > 1 else ''}), "
                 f"{'within' if r.within else 'beyond'} the {r.seed_range:.2f}-point seed range"
                 for r in rows.itertuples()]
        ok = bool(rows["within"].all())
        lines.append(f"- {a}: " + "; ".join(parts) + (". **bf16 keeps accuracy** at this budget." if ok else
                                                      ". **bf16 is not shown to keep accuracy.**"))
    gone = missing(records)
    if gone:
        lines.append(f"- Not recorded yet: {', '.join(gone)} (`python -m resnet_lab.parity` trains them).")
    if not v.empty:
        n = len(SEEDS)
        lines.append(f"- How strict the test is: a bf16 that behaved exactly like one more fp32 seed would pass it for "
                     f"one net and metric with probability {null_pass_rate(n):.0%} ({n} seeds; simulated). A fail "
                     f"is therefore weak evidence that bf16 hurts, and a pass some evidence that it does not; the "
                     f"gate is conservative on purpose, and fp32 stays the default until bf16 passes it.")
    return "\n".join(lines)


def null_pass_rate(seeds: int, trials: int = 200_000, seed: int = 0) -> float:
    """The chance that the verdict says 'within' when bf16 is just another seed: the largest |bf16 - fp32| over
    ``seeds`` pairs of independent normal errors against the range of the ``seeds`` fp32 ones (simulated)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    f, b = rng.standard_normal((trials, seeds)), rng.standard_normal((trials, seeds))
    return float((np.abs(b - f).max(1) <= f.max(1) - f.min(1)).mean())


def keeps_accuracy(records: dict) -> bool:
    """True only when every planned run is recorded and every verdict is 'within'."""
    v = verdicts(records)
    return not missing(records) and not v.empty and bool(v["within"].all()) and len(v) == len(NETS) * len(METRICS)


def caption(records: dict) -> str:
    """Which runs the figure shows: profile, seeds, data, precisions."""
    if not records:
        return "no parity run is recorded yet"
    recs = list(records.values())
    from .plots import provenance_line
    # records written before train.device_name learnt the singular say "1 threads"
    dev = sorted({re.sub(r"\b1 threads\b", "1 thread", r.provenance.get("device", "?")) for r in recs})
    return (f"{provenance_line(recs)}; {len(recs)} of {len(plan())} runs, trained on {'; '.join(dev)} "
            f"(one training process per core)")


def main(argv=None) -> int:
    """``python -m resnet_lab.parity``: train the study's missing runs, then print the verdicts."""
    import argparse

    from .data import load_cifar10
    from .runs import default_root

    ap = argparse.ArgumentParser(prog="python -m resnet_lab.parity", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default=None, help="run store (default: $RESNET_LAB_RUNS or ./runs)")
    ap.add_argument("--data", default=None, help="CIFAR-10 source (default: $RESNET_LAB_CIFAR10)")
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    from .train import cpu_has_native_bf16, pick_device
    device = pick_device(a.device)
    if device.type == "cpu" and not cpu_has_native_bf16():
        ap.error("this CPU emulates bf16 (no AVX-512 BF16 / AMX in /proc/cpuinfo): a bf16 run would take ~10x "
                 "the fp32 time; run the parity study on a CPU with native bf16 or on a GPU")
    root = Path(a.runs) if a.runs else default_root()
    st = store(root)
    data = None
    for cfg in plan():
        if st.get(cfg) is None:
            data = data or load_cifar10(a.data)
            st.get_or_train(cfg, data=data, device=device)
    print(report(load(root)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
