"""Command line: ``python -m resnet_lab {arch,train,runs,sweep,bench,pack-data}``."""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import warnings


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
    """The run asked for, checked (with the device and the store) before the data are looked for."""
    from dataclasses import replace
    from .train import RunConfig, pick_device
    from .data import resolve_source
    from .runs import RunStore, training_allowed

    training_allowed()  # a bad $RESNET_LAB_ALLOW_TRAINING is an error before anything is loaded
    cfg = RunConfig(a.arch, shortcut=a.shortcut, variant=a.variant, profile=a.profile, seed=a.seed,
                    precision=a.precision, compiled=getattr(a, "compile", False), **_parallel(a))
    device, store = pick_device(a.device), RunStore(a.runs)
    source = a.data_source or resolve_source(a.data)[0]
    return replace(cfg, data_source=source), device, store


def _parallel(a) -> dict:
    """The run's processes and BN mode (issue 31): torchrun's world size, --sync-bn, --ghost-bn."""
    from .distributed import world_size
    return dict(world_size=world_size(), sync_bn=getattr(a, "sync_bn", False), ghost_bn=getattr(a, "ghost_bn", None))


def _pct(x) -> str:
    return f"{x:.2%}" if isinstance(x, (int, float)) else "n/a"


@contextlib.contextmanager
def _stop_on_signal():
    """While training: SIGTERM or Ctrl-C finishes the current iteration, saves the run's checkpoint there and
    stops (the same command resumes it, to the last bit); a second signal interrupts at once."""
    got = []

    def handler(signum, frame):
        if got:
            raise KeyboardInterrupt
        got.append(signum)
        print(f"\n{signal.Signals(signum).name}: stopping after this iteration and saving the checkpoint "
              f"(again to interrupt at once)", file=sys.stderr, flush=True)
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield got
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _stopped(e, got) -> int:
    """The exit of a run stopped on request: its message (not an error), 128 + the signal's number (with several
    processes, a rank that got no signal stops with the one that did: as SIGTERM)."""
    from .distributed import is_main
    if is_main():
        print(f"stopped: {_one_line(e)}", file=sys.stderr, flush=True)
    return 128 + (got[0] if got else signal.SIGTERM)


def _cmd_train(a) -> int:
    from .runs import RunNotRecorded, run_failed
    from .data import load_cifar10

    from .engine import use_engine
    from . import distributed as D

    cfg, device, store = _config(a)
    _check_graph(a, device)
    ctx = D.current()  # several processes (torchrun): rank 0 decides, reads and writes the run store

    def recorded():
        rec = store.get(cfg)
        if rec is not None and rec.failed and not a.retry:
            raise run_failed(rec, cfg)
        return rec, rec is None or rec.failed
    rec, needed = ctx.on_rank0(recorded) if ctx is not None else recorded()
    if needed:
        with _stop_on_signal() as got, use_engine(graph=a.graph):
            try:
                data = D.load_in_turn(lambda: load_cifar10(a.data))
                rec = D.get_or_train(store, cfg, data=data, device=device, retry_failed=a.retry,
                                     should_stop=lambda it: bool(got))
            except RunNotRecorded as e:
                if not got and ctx is None:
                    raise
                return _stopped(e, got)
    if not D.is_main():
        return 0
    m = rec.metrics
    print(f"run {rec.id}\nrecord {rec.path}\nfinal train error {_pct(m.get('final_train_error'))}  "
          f"val error {_pct(m.get('final_val_error'))}  test error {_pct(m.get('final_test_error'))}")
    return 0


def _cmd_runs(a) -> int:
    from .runs import RunStore

    store = RunStore(a.runs)
    good, bad = store.scan()
    rows = []
    for r in good:
        c, m = r.config, r.metrics
        rows.append(dict(id=r.id, arch=c.arch, shortcut=c.shortcut, variant=c.variant, profile=c.profile,
                         seed=c.seed, data_source=c.data_source, precision=c.precision, status=m.get("status"),
                         final_train_error=m.get("final_train_error"), final_val_error=m.get("final_val_error"),
                         final_test_error=m.get("final_test_error"), error=r.failure, path=str(r.path)))
    if a.json:
        print(json.dumps(rows))
    elif not rows:
        where = "" if store.root.is_dir() else " (the folder does not exist)"
        print(f"no recorded runs in {store.root}{where}")
    else:
        import pandas as pd
        frame = pd.DataFrame(rows).drop(columns=["path", "error"]).fillna({"shortcut": "-"})
        print(frame.to_string(index=False))
        for r in rows:
            if r["error"]:
                print(f"failed: {r['id']}: {r['error']}")
    if not a.json:
        for run in store.in_progress():
            if run.problem:
                state = run.problem
            else:
                of = f"/{run.iterations:,}" if run.iterations else ""
                state = f"at iteration {run.iteration:,}{of}"
            how = "training now" if run.running else "paused; `train` or `sweep` with the same settings resumes it"
            print(f"in progress: {run.id} {state} ({how})")
        for left in store.leftovers():
            if not left.running:
                print(f"left behind: {left.path} (a temp file of run {left.run} whose writer stopped; the next run "
                      f"of it removes it, or delete it)")
    for path, reason in bad:
        print(f"damaged record {path}: {reason}", file=sys.stderr)
    if bad:
        print(f"{len(bad)} damaged record(s) left out; move or delete them (a run is recorded again by training "
              f"it)", file=sys.stderr)
    return 1 if bad else 0


def _cmd_sweep(a) -> int:
    from .experiments import book_runs, split_work
    from .runs import RunFailed, RunNotRecorded, RunStore
    from .data import load_cifar10
    from .train import TrainingDiverged, pick_device
    from .runs import training_allowed
    from dataclasses import replace
    from . import distributed as D

    training_allowed()  # a bad $RESNET_LAB_ALLOW_TRAINING is an error before anything is loaded
    device = pick_device(a.device)
    _check_graph(a, device)
    ctx = D.current()  # several processes (torchrun): every run spread over them, rank 0 records
    if ctx is not None and a.group not in (None, 1):
        raise ValueError("--group trains several nets in one process; under torchrun each run is spread over the "
                         "processes: leave out --group")
    group = a.group or (CUDA_GROUP if device.type == "cuda" and ctx is None else 1)
    store = RunStore(a.runs)
    # a bad profile, seed or BN option fails before the data are loaded
    [replace(c, **_parallel(a)) for c in book_runs(a.profile, seed=a.seed)]
    data = D.load_in_turn(lambda: load_cifar10(a.data))
    runs = [replace(c, **_parallel(a)) for c in book_runs(a.profile, data_source=data.source, seed=a.seed)]
    if a.part is not None:
        runs = split_work(runs, *a.part)
    # runs already begun first (in their order): a stopped sweep finishes what it began before it starts anything new
    order = lambda: sorted(runs, key=lambda c: not store.begun(c, data.fingerprint, device))  # noqa: E731
    runs = ctx.on_rank0(order) if ctx is not None else order()
    failed = []
    if group > 1:
        return _sweep_in_groups(a, runs, group, store, data, device)
    with _stop_on_signal() as got:
        for cfg in runs:
            try:
                rec = D.get_or_train(store, cfg, data=data, device=device, retry_failed=a.retry,
                                     should_stop=lambda it: bool(got))
            except (RunFailed, TrainingDiverged) as e:  # one failed run does not stop the others
                if D.is_main():
                    print(f"error: {e}", file=sys.stderr, flush=True)
                failed.append(cfg)
                continue
            except RunNotRecorded as e:
                if not got and ctx is None:
                    raise
                return _stopped(e, got)
            if D.is_main():
                print(f"{rec.id}: test error {_pct(rec.metrics.get('final_test_error'))}", flush=True)
            # a signal during the run's record or between runs: the next one is not started (on any rank: on all)
            stop = ctx.any(bool(got)) if ctx is not None else bool(got)
            if stop:
                sig = got[0] if got else signal.SIGTERM
                if D.is_main():
                    print(f"stopped: {signal.Signals(sig).name} after {rec.id}", file=sys.stderr, flush=True)
                return 128 + sig
    if failed:
        if D.is_main():
            print(f"error: {len(failed)} of {len(runs)} runs failed; the others are recorded"
                  + ("" if a.retry else "; add --retry to train the failed ones again"), file=sys.stderr)
        return 1
    return 0


CUDA_GROUP = 4  # nets trained together by `sweep --device cuda` unless --group says otherwise


def _check_graph(a, device) -> None:
    if getattr(a, "graph", None) and device.type != "cuda":
        raise ValueError(f"CUDA graphs need a CUDA device; --device is {device} (leave out --graph)")


def _sweep_in_groups(a, runs, group, store, data, device) -> int:
    """`sweep --group N`: the runs N at a time, each group's nets trained together in this process (each run
    recorded as it is alone: same id, same record); failures, stops and output as the one-at-a-time sweep."""
    from .engine import train_runs, use_engine
    from .runs import RunFailed, RunNotRecorded
    from .train import TrainingDiverged

    failed = []
    with _stop_on_signal() as got, use_engine(graph=a.graph):
        for k in range(0, len(runs), group):
            chunk = runs[k:k + group]
            results = train_runs(store, chunk, data, device, retry_failed=a.retry, should_stop=lambda it: bool(got))
            stopped = None
            for cfg, r in zip(chunk, results):
                if isinstance(r, (RunFailed, TrainingDiverged)):  # one failed run does not stop the others
                    print(f"error: {r}", file=sys.stderr, flush=True)
                    failed.append(cfg)
                elif isinstance(r, RunNotRecorded) and got:
                    stopped = stopped or r
                elif isinstance(r, BaseException):
                    raise r
                else:
                    print(f"{r.id}: test error {_pct(r.metrics.get('final_test_error'))}", flush=True)
            if stopped is not None:
                return _stopped(stopped, got)
            if got:  # a signal while the group's records were written: the next group is not started
                print(f"stopped: {signal.Signals(got[0]).name} after {len(chunk)} runs", file=sys.stderr, flush=True)
                return 128 + got[0]
    if failed:
        print(f"error: {len(failed)} of {len(runs)} runs failed; the others are recorded"
              + ("" if a.retry else "; add --retry to train the failed ones again"), file=sys.stderr)
        return 1
    return 0


def _cmd_bench(a) -> int:
    from .bench import run_bench

    if a.variants:
        return _bench_variants(a)
    if a.engine:
        return _bench_engine(a)
    result = run_bench(arch=a.arch, iterations=a.iterations or 20, device=a.device, data=a.data, compiled=a.compile)
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


def _bench_engine(a) -> int:
    """Eager vs graphed steps and 1/2/4/8 nets at once (fp32), each phase time-boxed; ratios to the eager net."""
    from .bench import run_engine_bench

    try:
        nets = tuple(int(x) for x in a.nets.split(","))
    except ValueError:
        raise ValueError(f"--nets must be counts separated by commas, e.g. 1,2,4,8; got {a.nets!r}")
    if not nets or min(nets) < 1:
        raise ValueError(f"--nets must be counts of at least 1; got {a.nets!r}")
    result = run_engine_bench(arch=a.arch, device=a.device, nets=nets, seconds=a.seconds,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result["phases"].items():
            print(f"{k}: {v['images_per_second']} img/s ({result.get('ratio_to_eager_x1', {}).get(k)}x eager x1)")
        for k in ("paper_sgd_bit_identical_to_torch_sgd", "graph_agreement"):
            if k in result:
                print(f"{k}: {result[k]}")
        for line in result["skipped"]:
            print(f"skipped: {line}")
    return 0


def _bench_variants(a) -> int:
    """Seconds per training step of the variants chapter's nets, in one process; kept in the run store
    (``studies/step_times/<device>.json``), where chapter 7 reads it."""
    import datetime as _dt
    import re

    from tqdm.auto import tqdm

    from .atomic import atomic_write_json
    from .bench import step_seconds, variant_configs
    from .runs import RunStore, git_commit

    store = RunStore(a.runs)  # the store is checked before a minute of timing, not after
    try:
        (store.root / "studies" / "step_times").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot keep step times in run store {store.root}: {_one_line(e)}") from e
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with tqdm(desc="step times", unit="timing", file=sys.stderr) as bar:
        def follow(done, total):
            bar.total, bar.n = total, done
            bar.refresh()
        result = step_seconds(variant_configs(), iterations=a.iterations or 5, rounds=5, device=a.device,
                              progress=follow)
    result.update(started=started, commit=git_commit())
    slug = re.sub(r"[^a-z0-9]+", "-", result["device"].lower()).strip("-")
    out = store.root / "studies" / "step_times" / f"{slug}.json"
    atomic_write_json(out, result)
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result["seconds"].items():
            print(f"{k}: {v:.3f} s/step")
        print(f"kept in {out}")
    return 0


def _cmd_pack_data(a) -> int:
    from .data import pack_imagefolder

    dest = pack_imagefolder(a.src, a.dest)
    print(f"{dest}: {dest.stat().st_size / 2**20:.1f} MiB; use it as --data {dest} or RESNET_LAB_CIFAR10={dest}")
    return 0


def _part(text: str):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N, e.g. 0/2")
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be at least 1 and I one of 0..N-1, e.g. 0/2")
    return i, n


def _whole_number_at_least(lo: int):
    """An argparse type: a whole number >= ``lo``, else a one-line usage error."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        if n < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}; got {n}")
        return n
    return parse


_positive_int = _whole_number_at_least(1)


def _seed(text: str) -> int:
    """An argparse type: a seed torch's generator takes (0..2**64-1), else a one-line usage error."""
    from .train import SEED_MAX
    n = _whole_number_at_least(0)(text)
    if n > SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be at most 2**64-1 = {SEED_MAX} (what torch's generator takes); "
                                         f"got {text[:30]}{'...' if len(text) > 30 else ''}")
    return n


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``error: <what> (see <prog> --help)``, exit 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    from .models import NAMES, CIFAR_VARIANTS
    from .profiles import PROFILES

    p = _Parser(prog="python -m resnet_lab", description=__doc__)
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
        q.add_argument("--seed", type=_seed, default=0)
        q.add_argument("--data", default=None, help="CIFAR-10 source (default: $RESNET_LAB_CIFAR10)")
        q.add_argument("--data-source", choices=["official", "jpeg"], help=argparse.SUPPRESS)
        q.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
        q.add_argument("--precision", choices=["fp32", "bf16"], default=None,
                       help="default: the profile's (fp32 for cpu and paper: bf16 has not passed the parity study)")
        q.add_argument("--retry", action="store_true", help="train again a run recorded as failed")
        q.add_argument("--graph", action=argparse.BooleanOptionalAction, default=None,
                       help="CUDA only: capture each training step as a CUDA graph (default: eager steps); the run "
                            "and its id are the same either way")
        q.add_argument("--runs", default=None, help="run store folder (default: $RESNET_LAB_RUNS or ./runs)")
        q.add_argument("--sync-bn", action="store_true",
                       help="under torchrun: BN statistics over the whole batch across the processes "
                            "(SyncBatchNorm); default: each process's own share, as the paper's two GPUs. Another run "
                            "(its id says -ddpN-syncbn)")
        q.add_argument("--ghost-bn", type=_whole_number_at_least(2), default=None, metavar="N",
                       help="BN statistics over groups of N images of the batch (of each process's share under "
                            "torchrun): --ghost-bn 64 in one process trains what 2 processes with per-device BN "
                            "train (the paper's BN over 64). Another run (its id says -bnN)")

    train = sub.add_parser("train", help="train (or find) a recorded run")
    run_args(train)
    train.add_argument("--compile", action="store_true",
                       help="torch.compile the training step (inductor; the first step compiles for about a minute; "
                            "needs a C++ compiler on the CPU); a compiled run is another run: its id says 'compiled' "
                            "and the book's figures do not read it")
    train.set_defaults(fn=_cmd_train)
    sweep = sub.add_parser("sweep", help="train (or find) every run the book uses")
    run_args(sweep, with_arch=False)
    sweep.add_argument("--part", type=_part, default=None, help="I/N: this worker's share of the runs")
    sweep.add_argument("--group", type=_positive_int, default=None,
                       help=f"train N runs at a time together in this process, each recorded as if alone "
                            f"(default: {CUDA_GROUP} on CUDA, 1 elsewhere)")
    sweep.set_defaults(fn=_cmd_sweep)
    runs = sub.add_parser("runs", help="list recorded runs")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--runs", default=None)
    runs.set_defaults(fn=_cmd_runs)
    bench = sub.add_parser("bench", help="training img/s of this engine vs a DataLoader loop")
    bench.add_argument("--arch", default="resnet20")
    bench.add_argument("--iterations", type=_positive_int, default=None,
                       help="timed iterations (default 20; with --variants, steps per timing, default 5)")
    bench.add_argument("--device", default=None)
    bench.add_argument("--data", default=None)
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--variants", action="store_true",
                       help="instead: seconds per training step of ResNet-32 A/B/C and original vs pre-activation "
                            "ResNet-56/110, in one process (kept in the run store for chapter 7)")
    bench.add_argument("--runs", default=None, help="run store folder for --variants (default: $RESNET_LAB_RUNS "
                                                     "or ./runs)")
    bench.add_argument("--compile", action="store_true",
                       help="also measure the engine with torch.compile (its compile time is reported, not timed)")
    bench.add_argument("--engine", action="store_true",
                       help="instead: the engine's step eager vs as a CUDA graph, and 1/2/4/8 nets at once (fp32, "
                            "synthetic data), each phase time-boxed; on CUDA also graphed-vs-eager agreement")
    bench.add_argument("--nets", default="1,2,4,8", help="with --engine: how many nets at once, e.g. 1,2,4,8")
    bench.add_argument("--seconds", type=float, default=10.0, help="with --engine: seconds per phase")
    bench.set_defaults(fn=_cmd_bench)
    pack = sub.add_parser("pack-data", help="pack an ImageFolder copy of CIFAR-10 into one .jpegpack file")
    pack.add_argument("src", help="the ImageFolder copy, e.g. ../shared/data/cifar10-jpeg")
    pack.add_argument("dest", help="the pack to write, e.g. .device/cifar10-jpeg.jpegpack")
    pack.set_defaults(fn=_cmd_pack_data)
    return p


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and type(e).__str__ is OSError.__str__ and e.strerror:
        where = " ".join(str(f) for f in (e.filename, e.filename2) if f)
        text = f"{where}: {e.strerror}" if where else e.strerror
    else:
        text = str(e) or type(e).__name__
    if isinstance(e, KeyError):  # str(KeyError('x')) is just "'x'"
        text = f"missing key {text}"
    return " ".join(text.split())


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"warning: {' '.join(str(message).split())}\n"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.formatwarning = _warning_line
    try:
        if getattr(args, "profile", "x") is None:
            from .profiles import get_profile
            args.profile = get_profile(None).name
        if getattr(args, "runs", None) is not None and not args.runs.strip():
            raise ValueError("--runs is empty; give a folder (or leave it out for $RESNET_LAB_RUNS or ./runs)")
        if args.cmd in ("train", "sweep"):
            from . import distributed
            if distributed.launched():  # one of torchrun's processes: join them (NCCL on CUDA, Gloo on the CPU)
                args.device = str(distributed.init(device=args.device).device)
        return args.fn(args)
    except (ValueError, LookupError, OSError, RuntimeError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; a run being trained resumes from its last checkpoint next time",
              file=sys.stderr)
        return 130
    finally:
        if "resnet_lab.distributed" in sys.modules:
            sys.modules["resnet_lab.distributed"].shutdown()


if __name__ == "__main__":
    sys.exit(main())
