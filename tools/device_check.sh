#!/usr/bin/env bash
# The one prepared GPU job (issue 36): one call of at most 9 minutes on the lent device machine (the `device` tool;
# 15 minutes of device time a task, its start-up included).
#
# Here, first:  bash tools/device_prep.sh   (packs the CIFAR-10 JPEG copy into .device/, 17.4 MiB; notes the commit
# and the data fingerprint; moves the records' weights and the committed checkpoints of non-paper runs aside; checks
# that under 64 MiB would travel). Then one device call:
#   command "bash tools/device_check.sh", carry [".device"], timeout_s 590
# and afterwards `bash tools/device_prep.sh --restore`. benchmarks/NOTES.md ("next GPU window") has the whole recipe.
#
# It runs under that machine's python3 and torch (not this project's pins) in a copy of the working tree, with a
# hard deadline: everything is over DEADLINE seconds after it starts (default 520 s, under the call's 590 s), every
# phase time-boxed with `timeout`, so one failing phase leaves the others' results. What comes back in $OUT (at most
# 8 files, each under 16 MiB, 64 MiB in all; here: 4 small files and at most 4 parts of the runs tar):
#   env.txt          GPU, driver, torch; the data decoded once and its fingerprint checked against .device/fingerprint
#                    (another fingerprint: bench only, no training: its runs would not merge with runs/)
#   bench.json       `python -m resnet_lab bench --engine --device cuda` for each arch of BENCH_PLAN (default
#                    ResNet-20 with 1/2/4/8 nets, ResNet-56 with 1/4/8, ResNet-110 with 1/4), fp32, BENCH_SECONDS (3)
#                    a phase: eager and graphed img/s, `paper_sgd_bit_identical_to_torch_sgd` and `graph_agreement`
#                    (graphed vs eager training, 200 steps with two lr drops, to the bit), as a JSON list
#   device.log       every phase's output, with its time since the start
#   summary.txt      the decision (graphs or eager, lr mode, group size, and why), the group trained and where each
#                    run stopped, what came back, and the commands that file it here
#   runs.tar.part-*  the records of the PROFILE (paper) runs this job finished and the checkpoints
#                    (`.partial/<id>/checkpoint.pt`) of those it stopped, paths relative to the run store, at most
#                    OUT_MIB (56) in all, in parts of 15 MiB. Unpack from the repo root with
#                      cat <files_at>/runs.tar.part-* | tar x -C runs
#                    (a checkpoint that travelled is replaced by its later state; a record can only be new), then
#                    `git add -f` the checkpoints and commit them: the next GPU window resumes them.
# The phases:
#   1. env        the machine; the data (into a tensor cache) and its fingerprint; the checkpoints that travelled
#   2. bench      the engine bench per arch, each run time-boxed (BENCH_BOX, and never into TRAIN_MIN + RESERVE)
#   3. decide     graphs for the records only if every arch's graph-agreement check passed (bit-identical weights,
#                 BN buffers and momentum, and the same losses, in the lr mode the records use); the lr mode is
#                 PaperSGD's lr-in-a-device-tensor unless the bench found it differs from torch.optim.SGD and the
#                 host-lr mode does not; the group size (GROUP, else the count of nets with the best aggregate
#                 img/s in the bench, geometric mean over the archs)
#   4. train      the paper sweep's next group: the runs already begun (their checkpoints travelled) first, then
#                 ResNet-20, -56, -110, plain-20, -56, the rest of experiments.SWEEP_ARCHS, the rest of the book's
#                 runs; at most GROUP nets, and only as many new ones as keep all checkpoints of the profile under
#                 CKPT_MIB (36; they must travel back next time beside the 17.4 MiB data pack); trained together
#                 (resnet_lab.engine.train_runs, each recorded as alone), stopped at DEADLINE - RESERVE through
#                 their should_stop (each writes its checkpoint at the iteration it stopped), SIGINT as a backstop;
#                 a run that breaks with graphed steps (graphs have not trained a group on a GPU before) goes again,
#                 eager
#   5. collect    the runs tar, summary.txt
# Each run's record and checkpoint keep which device trained which iterations (`segments`).
#
# Settings (environment): DEVICE (cuda), PROFILE (paper), DEADLINE, RESERVE (45), TRAIN_MIN (150), BENCH_PLAN
# ("arch:nets ..."), BENCH_SECONDS, BENCH_BOX, GROUP, CKPT_MIB, OUT_MIB, GROUP_MIN_SECONDS (60: no new group with
# less left), DEVDIR (.device), OUT, PY (python3), RESNET_LAB_RUNS (./runs), RESNET_LAB_CIFAR10 (the pack).
# Dry run on this CPU (every phase; smoke profile, tiny boxes, temp store and $OUT): bash tools/device_dryrun.sh
# `bash tools/device_check.sh --decide ARCH=FILE ...` prints the decision for bench JSON files (used by the dry run).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-python3}

# ---- phase 3's decision, from the bench JSON files (also: --decide) -------------------------------------------------
read -r -d '' DECIDE_PY <<'EOF'
import json, math, os, sys
results = []
for spec in sys.argv[1:]:
    arch, path = spec.split("=", 1)
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        text = ""
    r = None
    for part in (text, text.splitlines()[-1] if text else ""):  # the bench prints its JSON as its last line
        try:
            r = json.loads(part)
            break
        except ValueError:
            pass
    if not isinstance(r, dict):
        r = dict(arch=arch, error="no bench result (see device.log)")
    results.append(r)
if os.environ.get("BENCH_OUT"):
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump(results, f, indent=1)
good = [r for r in results if "error" not in r]
for r in good:
    ph = r.get("phases", {})
    one = ph.get("eager x1", {}).get("images_per_second")
    print(f"# bench {r['arch']}: " + ", ".join(f"{k} {v['images_per_second']:.0f} img/s"
                                               + (f" ({v['images_per_second'] / one:.2f}x)" if one else "")
                                               for k, v in ph.items()))
    for s in r.get("skipped", []):
        print(f"# bench {r['arch']}: skipped {s}")
# the lr mode: PaperSGD reads the lr from a device tensor unless that is not torch.optim.SGD's bits here and the host
# lr (torch's own foreach op) is
sgd = [r.get("paper_sgd_bit_identical_to_torch_sgd") or {} for r in good]
lr_on = 1
if any(s.get("lr_on_device=True") is False for s in sgd):
    if all(s.get("lr_on_device=False") is True for s in sgd):
        lr_on = 0
        print("# PaperSGD with the lr in a device tensor is not bit-identical to torch.optim.SGD here, with the host "
              "lr it is: the records train with lr_on_device=False")
    else:
        print("# PaperSGD differs from torch.optim.SGD in both lr modes here (bench.json): lr_on_device=True kept")
elif sgd:
    print(f"# PaperSGD vs torch.optim.SGD: {sgd[0]}")
key = f"lr_on_device={bool(lr_on)}"
graph = 1 if good else 0
if not good:
    print("# graphs: no (no bench result)")
for r in results:
    a = r.get("arch")
    if "error" in r:
        graph = 0
        print(f"# graphs: no ({a}: {r['error']})")
        continue
    g = (r.get("graph_agreement") or {}).get(key)
    if g is None:
        graph = 0
        print(f"# graphs: no ({a}: no graph agreement check for {key}"
              + ("; not a CUDA device)" if "graph_agreement" not in r else ")"))
    elif not isinstance(g, dict):
        graph = 0
        print(f"# graphs: no ({a}, {key}: {g})")
    elif not (g.get("bit_identical") is True and g.get("same_losses") is True):
        graph = 0
        print(f"# graphs: no ({a}, {key}: graphed and eager training differ over {g.get('steps')} steps, largest "
              f"difference {g.get('max_abs_difference')}, same losses {g.get('same_losses')})")
    else:
        print(f"# graphs: {a} graphed == eager to the bit over {g.get('steps')} steps ({key}); host sync in the "
              f"step: {g.get('step_host_sync')}")
mode = "graphed" if graph else "eager"
score = {}
for r in good:
    ph = r.get("phases", {})
    one = ph.get(f"{mode} x1")
    for k, v in ph.items():
        if one and k.startswith(f"{mode} x"):
            score.setdefault(int(k.split(" x")[1]), []).append(v["images_per_second"] / one["images_per_second"])
best = max(score, key=lambda n: (math.exp(sum(map(math.log, score[n])) / len(score[n])), -n)) if score else 4
if score:
    print(f"# group size: {best} nets ({mode} aggregate img/s over {mode} x1, geometric mean over the archs: "
          + ", ".join(f"x{n} {math.exp(sum(map(math.log, v)) / len(v)):.2f}" for n, v in sorted(score.items())) + ")")
else:
    print(f"# group size: {best} (no {mode} phases measured: the sweep's CUDA default)")
print(f"GRAPH={graph}\nLR_ON_DEVICE={lr_on}\nGROUP_BENCH={best}")
EOF
if [ "${1:-}" = "--decide" ]; then shift; exec $PY -c "$DECIDE_PY" "$@"; fi

# ---- phase 4's trainer: the next group of the profile's sweep, in the book's order ----------------------------------
read -r -d '' TRAIN_PY <<'EOF'
import json, os, signal, sys, time
import torch
from resnet_lab.data import load_cifar10
from resnet_lab.engine import train_runs, use_engine
from resnet_lab.experiments import SWEEP_ARCHS, book_runs
from resnet_lab.profiles import get_profile
from resnet_lab.runs import RunFailed, RunNotRecorded, RunStore, run_id
from resnet_lab.train import TrainingDiverged, pick_device, resolve_precision

env = os.environ
profile, stop_at = env["PROFILE"], float(env["STOP_AT"])
graph, lr_on_device = env["GRAPH"] == "1", env["LR_ON_DEVICE"] == "1"
group_size, budget, min_left = int(env["GROUP"]), float(env["CKPT_MIB"]) * 2 ** 20, float(env["GROUP_MIN_SECONDS"])
device = pick_device(env["DEVICE"])
store = RunStore(env["RESNET_LAB_RUNS"])
got = []


def on_signal(signum, frame):  # as `train`/`sweep`: finish the iteration, save the checkpoint; a second one: at once
    if got:
        raise KeyboardInterrupt
    got.append(signum)
    print(f"{signal.Signals(signum).name}: stopping after this iteration and saving the checkpoints", flush=True)


for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, on_signal)


def should_stop(it):
    return bool(got) or time.time() >= stop_at


data = load_cifar10()
FIRST = ("resnet20", "resnet56", "resnet110", "plain20", "plain56")  # Fig. 6 and Fig. 7's nets first
ORDER = FIRST + tuple(a for a in SWEEP_ARCHS if a not in FIRST)


def rank(c):  # the seed-0 option-A nets of Fig. 6 in ORDER, then the rest of the book's runs in the sweep's order
    fig6 = c.variant == "basic" and c.shortcut in (None, "A") and c.seed == 0 and c.arch in ORDER
    return ORDER.index(c.arch) if fig6 else len(ORDER)


runs = sorted(book_runs(profile, data_source=data.source), key=rank)
rid = {c: run_id(c, resolve_precision(c.precision or get_profile(c.profile).precision, device), data.fingerprint)
       for c in runs}


def ckpt(c):
    return store.root / ".partial" / rid[c] / "checkpoint.pt"


def estimate(c):  # a checkpoint: weights, BN buffers, momentum, the data stream's state and the history
    m = c.build()
    return 4 * (sum(t.numel() for t in m.state_dict().values()) + sum(p.numel() for p in m.parameters())) + 600_000


report = dict(profile=profile, device=str(device), graph=graph, lr_on_device=lr_on_device, group_size=group_size,
              checkpoint_budget_mib=budget / 2 ** 20, groups=[], not_started=[])
done = set()
failed = [rid[c] for c in runs if (r := store.get(c, data.fingerprint)) is not None and r.failed]
if failed:
    print(f"recorded as failed (not retried here; `sweep --retry`): {', '.join(failed)}")
try:
    while True:
        todo = [c for c in runs if c not in done and store.get(c, data.fingerprint) is None]
        left = stop_at - time.time()
        if not todo:
            print(f"every {profile} run of the book is recorded")
            break
        if left < min_left:
            print(f"{left:.0f} s left before the stop: no new group")
            break
        begun = [c for c in todo if ckpt(c).is_file()]
        total = sum(ckpt(c).stat().st_size for c in begun)  # these travel next time whatever is trained now
        group = begun[:group_size]
        for c in (c for c in todo if c not in begun):
            if len(group) >= group_size:
                break
            e = estimate(c)
            if total + e > budget:
                report["not_started"].append(rid[c])
                print(f"{rid[c]} not started: its checkpoint (about {e / 2 ** 20:.1f} MiB) would take the "
                      f"{profile} checkpoints past CKPT_MIB={budget / 2 ** 20:.0f} ({total / 2 ** 20:.1f} MiB now)")
                break
            group.append(c)
            total += e
        if not group:
            break
        print(f"group of {len(group)} ({'graphed' if graph else 'eager'} steps, lr_on_device={lr_on_device}; "
              f"{left:.0f} s to the stop; {total / 2 ** 20:.1f} MiB of checkpoints): "
              + ", ".join(f"{rid[c]}{' (resumed)' if c in begun else ''}" for c in group), flush=True)
        t0 = time.time()
        with use_engine(graph=graph, lr_on_device=lr_on_device):
            results = train_runs(store, group, data, device, should_stop=should_stop)
        seconds = time.time() - t0
        entry = dict(graph=graph, seconds=round(seconds, 1), runs={})
        broken = []
        for c, r in zip(group, results):
            done.add(c)
            if isinstance(r, RunNotRecorded):
                state = f"stopped ({' '.join(str(r).split())})"
                try:  # this process's share, from the checkpoint it wrote at the stop
                    seg = torch.load(ckpt(c), map_location="cpu", weights_only=True)["segments"][-1]
                    state += f"; iterations {seg['start']}-{seg['end']} here, {(seg['end'] - seg['start']) / seconds:.1f} it/s"
                except Exception as e:
                    state += f"; no segment read ({type(e).__name__})"
            elif isinstance(r, (RunFailed, TrainingDiverged)):
                state = f"failed ({' '.join(str(r).split())[:300]})"
            elif isinstance(r, BaseException):
                state = f"error ({type(r).__name__}: {' '.join(str(r).split())[:300]})"
                broken.append(c)
            else:
                state = f"recorded (test error {r.metrics.get('final_test_error')})"
            entry["runs"][rid[c]] = state
            print(f"{rid[c]}: {state}", flush=True)
        report["groups"].append(entry)
        if got or time.time() >= stop_at:
            break
        if graph and broken:  # graphed training has not run in a group before: what broke goes again, eager
            print(f"{len(broken)} run(s) broke with graphed steps: again with eager steps", flush=True)
            graph = report["graph"] = False
            done.difference_update(broken)
finally:
    with open(env["TRAIN_REPORT"], "w") as f:
        json.dump(report, f, indent=1)
EOF

# ---- settings -----------------------------------------------------------------------------------------------------
T0=$(date +%s)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda} PROFILE=${PROFILE:-paper} DEVDIR=${DEVDIR:-.device}
DEADLINE=${DEADLINE:-520}   # s after the start: everything is over by then (the call's timeout_s: 590)
RESERVE=${RESERVE:-45}      # s kept at the end: the stop, the checkpoints, the tar
TRAIN_MIN=${TRAIN_MIN:-150} # s of training that the bench never eats into
BENCH_PLAN=${BENCH_PLAN-resnet20:1,2,4,8 resnet56:1,4,8 resnet110:1,4}
BENCH_SECONDS=${BENCH_SECONDS:-3} BENCH_BOX=${BENCH_BOX:-150}
GROUP=${GROUP:-} GROUP_FROM_ENV=${GROUP:+1} CKPT_MIB=${CKPT_MIB:-36} OUT_MIB=${OUT_MIB:-56} GROUP_MIN_SECONDS=${GROUP_MIN_SECONDS:-60}
export RESNET_LAB_RUNS=${RESNET_LAB_RUNS:-$PWD/runs}
export RESNET_LAB_CIFAR10=${RESNET_LAB_CIFAR10:-$PWD/$DEVDIR/cifar10-jpeg.jpegpack}
export RESNET_LAB_CACHE=${RESNET_LAB_CACHE:-/tmp/resnet_lab_cache}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-15}  # a progress line per net every 15 s in the log
export RESNET_LAB_COMMIT=$(tr -d '\n' < "$DEVDIR/commit" 2>/dev/null || echo unknown)
LOG="$OUT/device.log" SUMMARY="$OUT/summary.txt"
: > "$LOG"
say() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$LOG"; }
left() { echo $(( T0 + DEADLINE - $(date +%s) )); }
box() {  # seconds a phase may take: at most $1, and never into the last $2 + RESERVE seconds
  local n=$(( $(left) - RESERVE - ${2:-0} )); [ "$n" -gt "$1" ] && n=$1; [ "$n" -lt 1 ] && n=1; echo "$n"
}
W=$(mktemp -d); STAMP=$W/stamp; touch "$STAMP"; sleep 1  # files newer than this are what this job wrote
say "device_check: device $DEVICE, profile $PROFILE, deadline $DEADLINE s, run store $RESNET_LAB_RUNS, commit $RESNET_LAB_COMMIT"
if [ ! -e "$RESNET_LAB_CIFAR10" ]; then
  say "no CIFAR-10 source at $RESNET_LAB_CIFAR10: run bash tools/device_prep.sh first and carry .device"
  cp "$LOG" "$SUMMARY"; exit 2
fi

# ---- 1. env ---------------------------------------------------------------------------------------------------------
{ date -u
  if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  else echo "nvidia-smi: not on this machine"; fi
  timeout 60 $PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
'cuda', torch.version.cuda, 'gpu', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
  echo "cpus $(nproc --all)"  # (plain nproc says OMP_NUM_THREADS)
  timeout "$(box 180 "$TRAIN_MIN")" $PY -c "from resnet_lab.data import load_cifar10; d = load_cifar10()
print(d.describe()); print('fingerprint', d.fingerprint)"
  echo "checkpoints in $RESNET_LAB_RUNS (resumed first if of the $PROFILE profile):"
  timeout 60 $PY -m resnet_lab runs | grep '^in progress' || echo "  none"
} > "$OUT/env.txt" 2>>"$LOG"
got=$(sed -n 's/^fingerprint //p' "$OUT/env.txt"); want=$(cat "$DEVDIR/fingerprint" 2>/dev/null)
SAME_DATA=1
if [ -z "$got" ] || [ "$got" != "$want" ]; then
  SAME_DATA=0  # other images (another JPEG decoder?) give other run ids: nothing would merge with runs/
  say "data fingerprint '$got' is not this repo's '$want': bench only, no training"
fi
say "1. env done: $(grep -m1 -e '^torch' "$OUT/env.txt"); data fingerprint ${got:-none}"

# ---- 2. bench -------------------------------------------------------------------------------------------------------
specs=()
for spec in $BENCH_PLAN; do
  arch=${spec%%:*} nets=${spec#*:}; [ "$nets" = "$spec" ] && nets=1,2,4,8
  specs+=("$arch=$W/bench-$arch.json")
  b=$(box "$BENCH_BOX" "$TRAIN_MIN")
  if [ "$b" -lt 20 ]; then say "2. bench $arch: skipped ($b s left for it)"; continue; fi
  say "2. bench $arch, nets $nets, $BENCH_SECONDS s a phase, at most $b s"
  timeout -k 10 "$b" $PY -m resnet_lab bench --engine --device "$DEVICE" --arch "$arch" --nets "$nets" \
    --seconds "$BENCH_SECONDS" --json > "$W/bench-$arch.json" 2>> "$LOG"
  rc=$?; [ $rc = 0 ] || say "bench $arch: exit $rc$([ $rc = 124 ] && echo " (timed out after $b s)")"
done

# ---- 3. decide ------------------------------------------------------------------------------------------------------
BENCH_OUT="$OUT/bench.json" $PY -c "$DECIDE_PY" "${specs[@]}" > "$W/decision" 2>> "$LOG"
cat "$W/decision" >> "$LOG"
GRAPH=$(sed -n 's/^GRAPH=\([01]\)$/\1/p' "$W/decision"); GRAPH=${GRAPH:-0}
[ "$DEVICE" = cuda ] || GRAPH=0
LR_ON_DEVICE=$(sed -n 's/^LR_ON_DEVICE=\([01]\)$/\1/p' "$W/decision"); LR_ON_DEVICE=${LR_ON_DEVICE:-1}
GROUP_BENCH=$(sed -n 's/^GROUP_BENCH=\([0-9][0-9]*\)$/\1/p' "$W/decision"); GROUP_BENCH=${GROUP_BENCH:-4}
GROUP=${GROUP:-$GROUP_BENCH}
say "3. decision: $([ "$GRAPH" = 1 ] && echo graphed || echo eager) steps, lr_on_device=$LR_ON_DEVICE, group of up to $GROUP ($([ -n "$GROUP_FROM_ENV" ] && echo "GROUP; the bench's: $GROUP_BENCH" || echo "from the bench"))"

# ---- 4. train -------------------------------------------------------------------------------------------------------
STOP_AT=$(( T0 + DEADLINE - RESERVE ))
n=$(( STOP_AT - $(date +%s) ))
if [ "$SAME_DATA" != 1 ]; then say "4. train: skipped (not this repo's data)"
elif [ "$n" -lt 30 ]; then say "4. train: skipped (only $n s left)"
else
  say "4. train: the next $PROFILE group, stopping at +$(( STOP_AT - T0 )) s"
  PROFILE=$PROFILE DEVICE=$DEVICE GRAPH=$GRAPH LR_ON_DEVICE=$LR_ON_DEVICE GROUP=$GROUP CKPT_MIB=$CKPT_MIB \
    GROUP_MIN_SECONDS=$GROUP_MIN_SECONDS STOP_AT=$STOP_AT TRAIN_REPORT=$W/train.json \
    timeout -s INT -k 20 $(( n + 25 )) $PY -c "$TRAIN_PY" > "$W/train.log" 2>&1
  rc=$?
  tr '\r' '\n' < "$W/train.log" | grep -v '^\s*$' >> "$LOG"
  say "4. train: exit $rc$([ $rc = 124 ] && echo " (the backstop SIGINT: the runs stopped at their last checkpoint or the stop)")"
fi

# ---- 5. collect -----------------------------------------------------------------------------------------------------
# this profile's new records, then the checkpoints of its stopped runs; no temp files of killed writers; at most
# OUT_MIB in all (a part left out would truncate the tar: whole files are left out instead, and named)
( cd "$RESNET_LAB_RUNS" 2>/dev/null && {
    find . -mindepth 2 -maxdepth 3 -type f -newer "$STAMP" -path "./*-$PROFILE-s*/*" ! -path './.*' ! -name '.*'
    find ./.partial -mindepth 2 -maxdepth 2 -type f -newer "$STAMP" -name checkpoint.pt -path "./.partial/*-$PROFILE-s*/*" 2>/dev/null
  } | sed 's|^\./||' | while read -r f; do echo "$(stat -c %s "$f") $f"; done ) |
  awk -v cap=$(( OUT_MIB * 1048576 )) '{ s = $1; sub(/^[0-9]+ /, "")
    if (t + s + 1024 <= cap) { t += s + 1024; print } else print "left out (over OUT_MIB): " $0 > "/dev/stderr" }' \
  > "$W/new_files" 2> "$W/left_out"
cat "$W/left_out" >> "$LOG"
if [ -s "$W/new_files" ]; then
  tar cf - -C "$RESNET_LAB_RUNS" -T "$W/new_files" | split -b 15M - "$OUT/runs.tar.part-"
fi
say "5. collect: $(wc -l < "$W/new_files") files in $(ls "$OUT"/runs.tar.part-* 2>/dev/null | wc -l) tar part(s)"

{ echo "device_check.sh, $(date -u), commit $RESNET_LAB_COMMIT, device $DEVICE, profile $PROFILE"
  echo "machine: $(sed -n 2p "$OUT/env.txt"); $(grep -m1 '^torch' "$OUT/env.txt")"
  echo "data fingerprint: ${got:-none} (this repo's: ${want:-unknown}) -> $([ $SAME_DATA = 1 ] && echo same || echo DIFFERENT: no training)"
  echo; echo "== phases (seconds since the start)"; grep -e '^\[[0-9]* s\] [1-5]\. ' "$LOG"
  echo; echo "== bench and decision"; cat "$W/decision"
  echo; echo "== training (group, outcome of each run)"
  if [ -f "$W/train.json" ]; then cat "$W/train.json"; else echo "no training"; fi
  echo; echo "== $PROFILE runs in this store after the job"
  timeout 60 $PY -m resnet_lab runs 2>&1 | grep -e "-$PROFILE-s" || echo "none"
  echo; echo "== came back: runs.tar.part-* ($(wc -l < "$W/new_files") files, paths relative to the run store)"
  sed 's/^/  /' "$W/new_files"; cat "$W/left_out"
  echo; echo "== here, from the repo root"
  echo "cat <files_at>/runs.tar.part-* | tar x -C runs && bash tools/device_prep.sh --restore"
  for d in $(sed -n 's|^\.partial/\([^/]*\)/checkpoint.pt$|\1|p' "$W/new_files"); do
    echo "git add -f runs/.partial/$d/checkpoint.pt"; done
  for d in $(grep -v '^\.partial/' "$W/new_files" | cut -d/ -f1 | sort -u); do
    echo "git add runs/$d && git rm -rq --cached --ignore-unmatch runs/.partial/$d && rm -rf runs/.partial/$d"; done
  echo "python -m resnet_lab runs   # then commit; the next GPU window resumes the checkpoints"
} > "$SUMMARY" 2>&1
say "done ($(du -cb "$OUT"/* | tail -1 | cut -f1) bytes in $(ls "$OUT" | wc -l) files under \$OUT)"
rm -rf "$W"
