"""Command line: ``python -m resnet_lab {arch,train,runs,sweep,bench}``."""
from __future__ import annotations

import argparse
import json
import sys


def _cmd_arch(a) -> int:
    from .summary import arch_info, summary
    from .models import build

    info = arch_info(a.name, shortcut=a.shortcut, variant=a.variant)
    if a.json:
        print(json.dumps(info))
        return 0
    frame = summary(build(a.name, shortcut=a.shortcut, variant=a.variant))
    kind = f"option {info['shortcut']} shortcuts" if info["residual"] else "plain (no shortcuts)"
    print(f"{a.name}: {info['family']} family, {kind}, variant {info['variant']}, "
          f"input {'x'.join(map(str, info['input_size']))}")
    print(frame.to_string(index=False, formatters={"params": "{:,}".format, "macs": "{:,}".format}))
    print(f"params {info['params']:,}  multiply-adds {info['macs'] / 1e6:,.1f}M")
    return 0


def _config(a):
    from .train import RunConfig
    from .data import resolve_source

    source = a.data_source or resolve_source(a.data)[0]
    return RunConfig(a.arch, shortcut=a.shortcut, variant=a.variant, profile=a.profile, seed=a.seed,
                     data_source=source, precision=a.precision)


def _cmd_train(a) -> int:
    from .runs import RunStore
    from .data import load_cifar10

    cfg = _config(a)
    store = RunStore(a.runs)
    rec = store.get(cfg)
    if rec is None or (rec.failed and a.retry):
        rec = store.get_or_train(cfg, data=load_cifar10(a.data), device=a.device, retry_failed=a.retry)
    elif rec.failed:
        from .runs import RunFailed
        raise RunFailed(f"run {rec.id} is recorded as failed: {rec.metrics.get('error', 'no reason recorded')}; "
                        f"add --retry to train it again")
    m = rec.metrics
    print(f"run {rec.id}\nrecord {rec.path}\nfinal train error {m['final_train_error']:.2%}  "
          f"val error {m['final_val_error']:.2%}  test error {m['final_test_error']:.2%}")
    return 0


def _cmd_runs(a) -> int:
    from .runs import RunStore

    rows = []
    for r in RunStore(a.runs).records():
        c, m = r.config, r.metrics
        rows.append(dict(id=r.id, arch=c.arch, shortcut=c.shortcut, variant=c.variant, profile=c.profile,
                         seed=c.seed, data_source=c.data_source, status=m.get("status"),
                         final_train_error=m.get("final_train_error"), final_val_error=m.get("final_val_error"),
                         final_test_error=m.get("final_test_error"), path=str(r.path)))
    if a.json:
        print(json.dumps(rows))
    elif not rows:
        print(f"no recorded runs in {RunStore(a.runs).root}")
    else:
        import pandas as pd
        frame = pd.DataFrame(rows).drop(columns=["path"]).fillna({"shortcut": "-"})
        print(frame.to_string(index=False))
    return 0


def _cmd_sweep(a) -> int:
    from .experiments import book_runs, split_work
    from .runs import RunStore
    from .data import load_cifar10

    data = load_cifar10(a.data)
    runs = book_runs(a.profile, data_source=data.source, seed=a.seed)
    if a.part is not None:
        runs = split_work(runs, *a.part)
    store = RunStore(a.runs)
    for cfg in runs:
        rec = store.get_or_train(cfg, data=data, device=a.device, retry_failed=a.retry)
        print(f"{rec.id}: test error {rec.metrics['final_test_error']:.2%}", flush=True)
    return 0


def _cmd_bench(a) -> int:
    from .bench import run_bench

    result = run_bench(arch=a.arch, iterations=a.iterations, device=a.device, data=a.data)
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


def _part(text: str):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("--part takes I/N, e.g. 0/2")
    return i, n


def parser() -> argparse.ArgumentParser:
    from .models import NAMES, CIFAR_VARIANTS
    from .profiles import PROFILES

    p = argparse.ArgumentParser(prog="python -m resnet_lab", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    arch = sub.add_parser("arch", help="print a Table-1/Table-6-style summary of a network")
    arch.add_argument("name", help=", ".join(NAMES))
    arch.add_argument("--shortcut", choices=["A", "B", "C"])
    arch.add_argument("--variant", help="CIFAR: basic, one_layer, preact")
    arch.add_argument("--json", action="store_true")
    arch.set_defaults(fn=_cmd_arch)

    def run_args(q, with_arch=True):
        if with_arch:
            q.add_argument("--arch", required=True, help="a CIFAR net, e.g. resnet56, plain20")
            q.add_argument("--shortcut", choices=["A", "B", "C"])
            q.add_argument("--variant", default="basic", choices=list(CIFAR_VARIANTS))
        q.add_argument("--profile", default=None, help=f"{', '.join(PROFILES)} (default: $RESNET_LAB_PROFILE or cpu)")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--data", default=None, help="CIFAR-10 source (default: $RESNET_LAB_CIFAR10)")
        q.add_argument("--data-source", choices=["official", "jpeg"], help=argparse.SUPPRESS)
        q.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
        q.add_argument("--precision", choices=["fp32", "bf16"], default=None,
                       help="default: the profile's (cpu: fp32; paper: bf16 on CUDA and CPUs with native bf16)")
        q.add_argument("--retry", action="store_true", help="train again a run recorded as failed")
        q.add_argument("--runs", default=None, help="run store folder (default: $RESNET_LAB_RUNS or ./runs)")

    train = sub.add_parser("train", help="train (or find) a recorded run")
    run_args(train)
    train.set_defaults(fn=_cmd_train)
    sweep = sub.add_parser("sweep", help="train (or find) every run the book uses")
    run_args(sweep, with_arch=False)
    sweep.add_argument("--part", type=_part, default=None, help="I/N: this worker's share of the runs")
    sweep.set_defaults(fn=_cmd_sweep)
    runs = sub.add_parser("runs", help="list recorded runs")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--runs", default=None)
    runs.set_defaults(fn=_cmd_runs)
    bench = sub.add_parser("bench", help="training img/s of this engine vs a DataLoader loop")
    bench.add_argument("--arch", default="resnet20")
    bench.add_argument("--iterations", type=int, default=20)
    bench.add_argument("--device", default=None)
    bench.add_argument("--data", default=None)
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(fn=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "profile", "x") is None:
        from .profiles import get_profile
        args.profile = get_profile(None).name
    try:
        return args.fn(args)
    except (ValueError, LookupError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
