"""Compute every cached analysis the chapters read, for the runs recorded at a profile.

The book build only reads the costly analyses of trained nets (lesions, loss landscapes, multi-crop testing:
minutes to hours of CPU each for the deep nets); this command computes what is missing, once, after the sweep:

    python -m resnet_lab.book.caches [--profile cpu] [--only lesion landscape multicrop ...] [--arch resnet56 ...]
                                     [--device cuda]

It never trains: runs that are not recorded are named and skipped. Each result is written into its run's
``analysis/`` folder (commit them with the records); results already there are read, not recomputed. Lesions
and landscapes keep each finished evaluation in ``analysis/.partial/`` as they go: a stopped command (a killed
process, the end of a session) resumes where it stopped when run again; commit those files to resume elsewhere.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from tqdm.auto import tqdm

ANALYSES = ("responses", "bn_modes", "bn_channels", "gradients", "branch_identity", "branch_identity_train",
            "multicrop", "lesion", "landscape", "init_landscape")
RESUMABLE = ("lesion", "landscape", "init_landscape")  # kept evaluation by evaluation in analysis/.partial/ while they run


def plan(only=ANALYSES) -> list[tuple[str, str, object]]:
    """(analysis, run name, function of the record) for every recorded run a chapter analyses; and the names of
    runs not recorded yet, as ("missing", name, None)."""
    from .cached import branch_identity, layer_gradients, responses
    from .store import runs
    from . import bn_channels, bn_modes, testing, trained
    from ..experiments import FIG7_ARCHS, SWEEP_ARCHS

    wanted = {
        "responses": (SWEEP_ARCHS, responses),  # chapter 4: Fig. 7 and the depth widget (every net of the sweep)
        "bn_modes": (bn_modes.NETS, bn_modes.check),  # chapter 4: eval-mode against training-mode BN
        "bn_channels": (("resnet110",), bn_channels.channels),  # chapter 4: which channels part, every seed
        "branch_identity": (tuple(a for a in FIG7_ARCHS if a.startswith("resnet")), branch_identity),  # 4, 5
        "branch_identity_train": (tuple(a for a in FIG7_ARCHS if a.startswith("resnet")),
                                  lambda r: branch_identity(r, bn_mode="train")),  # chapter 4: Fig. 4.5
        "gradients": (("plain20", "plain56", "resnet56"), lambda r: layer_gradients(r, trained=True)),  # 1
        "multicrop": (testing.TESTING_ARCHS, testing.multicrop),  # chapter 3
        "lesion": (trained.SMOKE_NETS if trained.profile_name() == "smoke" else trained.NETS, trained.lesion),
        "landscape": (trained.SMOKE_NETS if trained.profile_name() == "smoke" else trained.NETS, trained.landscape),
        "init_landscape": (trained.SMOKE_NETS if trained.profile_name() == "smoke" else trained.NETS,
                           trained.init_landscape),  # chapter 6's control
    }
    out, missing = [], set()
    for name in only:
        archs, fn = wanted[name]
        recs = runs(archs)
        missing.update(c.arch for c in recs.missing)
        out += [(name, arch, (fn, rec)) for arch, rec in recs.items()]
        if name in ("responses", "bn_modes", "bn_channels"):  # and every other recorded seed of these nets: the
            # intro and chapter 4 judge Fig. 7's claims over seeds
            from .store import other_seeds
            out += [(name, key, (fn, rec)) for key, rec in other_seeds(archs).items()]
        elif name == "multicrop":  # and every seed of the spread nets: chapter 3 sets the multi-crop gain beside
            # how much it moves from seed to seed at depth 20 (about 40 min of one core per 56-layer seed)
            from .spread import spread_runs
            out += [(name, key, (fn, rec)) for key, rec in spread_runs().items() if not key.endswith(" s0")]
    return out + [("missing", a, None) for a in sorted(missing)]


def _follow(bar, instant: float = 0.2):
    """A ``progress(done, total)`` callback for ``bar``. The first updates of a resumed analysis come at once
    (read from its partial file): they count as the bar's start, so its rate and time left are those of the
    evaluations still to make."""
    state = {"resuming": True, "last": time.monotonic()}

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if state["resuming"] and now - state["last"] < instant:
            bar.initial, bar.start_t = done, bar._time()
        else:
            state["resuming"] = False
        state["last"] = now
        bar.total = total
        bar.n = done
        bar.refresh()
    return update


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lab.book.caches", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default=None, help="the runs' profile (default: $RESNET_LAB_PROFILE, else the "
                                                     "best recorded)")
    ap.add_argument("--only", nargs="+", choices=ANALYSES, default=list(ANALYSES))
    ap.add_argument("--arch", nargs="+", default=None, help="only these nets (e.g. resnet56), to share the work "
                                                              "between processes")
    ap.add_argument("--device", default=None, help="cpu (default), cuda or mps for lesions, landscapes and "
                                                    "multi-crop testing ($RESNET_LAB_ANALYSIS_DEVICE)")
    a = ap.parse_args(argv)
    saved = dict(os.environ)
    try:
        return _run(a)
    finally:  # a library or notebook caller gets its environment back
        os.environ.clear()
        os.environ.update(saved)


def _run(a) -> int:
    os.environ["RESNET_LAB_ALLOW_TRAINING"] = "0"  # read records only; never train
    if a.device:
        os.environ["RESNET_LAB_ANALYSIS_DEVICE"] = a.device
    try:
        if a.profile is not None:
            from ..profiles import get_profile
            get_profile(a.profile, where="--profile")  # '' or a typo fails here, naming the option
            os.environ["RESNET_LAB_PROFILE"] = a.profile
        from .store import analysis_device, profile_name
        analysis_device()  # a bad device fails here, in one line
        jobs = plan(a.only)
    except (ValueError, OSError, LookupError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    if a.arch:
        known = {arch.split()[0] for _, arch, _ in jobs}  # 'resnet56 s1' is resnet56's: --arch takes every seed
        unknown = [x for x in a.arch if x not in known]
        if unknown:
            print(f"error: --arch {' '.join(unknown)}: not a net these analyses read (recorded or not): "
                  f"{', '.join(sorted(known))}", file=sys.stderr)
            return 2
        jobs = [j for j in jobs if j[1].split()[0] in a.arch]
    todo = [j for j in jobs if j[0] != "missing"]
    print(f"profile {profile_name()}: {len(todo)} analyses of recorded runs", flush=True)
    failed = 0
    for k, (name, arch, (fn, rec)) in enumerate(todo, 1):
        t = time.perf_counter()
        try:
            if name in RESUMABLE:  # long: a progress bar, and a stopped job resumes from its partial results
                with tqdm(desc=f"{name} of {arch}", unit="row" if name.endswith("landscape") else "eval", leave=False, file=sys.stderr) as bar:
                    fn(rec, progress=_follow(bar))
            else:
                fn(rec)
        except Exception as e:  # one bad run does not stop the others
            failed += 1
            print(f"error: {name} of {arch} ({rec.id}): {' '.join(str(e).split())[:300]}", file=sys.stderr, flush=True)
            continue
        print(f"[{k}/{len(todo)}] {name} of {arch}: {time.perf_counter() - t:.0f} s", flush=True)
    for _, arch, _ in (j for j in jobs if j[0] == "missing"):
        print(f"not recorded at profile {profile_name()}, skipped: {arch}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
