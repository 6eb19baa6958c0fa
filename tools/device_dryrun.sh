#!/usr/bin/env bash
# Dry run of tools/device_check.sh on this CPU, before a GPU window: every phase of the same script, with
# --device cpu, the smoke profile instead of paper, tiny time boxes, a temp $OUT and a temp run store
# (RESNET_LAB_RUNS), so it never writes into runs/ or .device/. The bench's CUDA-only phases (graphed steps, graph
# agreement) are skipped by `bench --engine` itself, with a message; the decision then says eager.
#   bash tools/device_dryrun.sh [CIFAR-10 source]    (default: $RESNET_LAB_CIFAR10, else ../shared/data/cifar10-jpeg)
# Then a second, shorter pass with the quick profile and no bench: its runs cannot end in the window, so the stop
# and the checkpoints it writes are exercised whatever the smoke pass did.
# Environment: DEADLINE (240 s), DEADLINE2 (100 s), KEEP=1 keeps the temp folder. About 6 minutes on 2 busy cores.
# Before the job: the decision on made-up CUDA bench results (passes, a failed agreement, a missing result, PaperSGD
# differing). After it: what came back is checked against the device tool's limits (at most 8 files, each under
# 16 MiB, 64 MiB in all, plain names), its tar unpacks into a fresh store that `python -m resnet_lab runs` reads,
# and runs/ here is unchanged.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-$PWD/.venv/bin/python}
SRC=${1:-${RESNET_LAB_CIFAR10:-../shared/data/cifar10-jpeg}}
TMP=$(mktemp -d /tmp/device_dryrun.XXXXXX)
export OMP_NUM_THREADS=1
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
T0=$(date +%s)
mkdir -p "$TMP/out" "$TMP/runs" "$TMP/dev" "$TMP/fake"
touch "$TMP/stamp"

# the decision on made-up CUDA results
mk() {  # mk FILE ARCH BIT_IDENTICAL SGD_DEVICE_LR
  cat > "$1" <<EOF
{"arch": "$2", "phases": {"eager x1": {"images_per_second": 1000}, "eager x4": {"images_per_second": 2000},
 "graphed x1": {"images_per_second": 3000}, "graphed x4": {"images_per_second": 6000}, "graphed x8": {"images_per_second": 6600}},
 "skipped": [], "paper_sgd_bit_identical_to_torch_sgd": {"lr_on_device=True": $4, "lr_on_device=False": true},
 "graph_agreement": {"lr_on_device=True": {"steps": 200, "bit_identical": $3, "same_losses": true, "max_abs_difference": 0.0,
 "step_host_sync": "none"}, "lr_on_device=False": {"steps": 200, "bit_identical": true, "same_losses": true,
 "max_abs_difference": 0.0, "step_host_sync": "none"}}}
EOF
}
mk "$TMP/fake/a.json" resnet20 true true; mk "$TMP/fake/b.json" resnet56 true true
mk "$TMP/fake/c.json" resnet110 false true; mk "$TMP/fake/d.json" resnet20 true false
decide() { PY=$PY bash tools/device_check.sh --decide "$@" | grep -v '^#' | tr '\n' ' '; }
f=$TMP/fake
check "decision: every agreement passed -> graphs, group 8" \
  '[ "$(decide resnet20=$f/a.json resnet56=$f/b.json)" = "GRAPH=1 LR_ON_DEVICE=1 GROUP_BENCH=8 " ]'
check "decision: one arch's graphed run differs -> eager, group 4" \
  '[ "$(decide resnet20=$f/a.json resnet110=$f/c.json)" = "GRAPH=0 LR_ON_DEVICE=1 GROUP_BENCH=4 " ]'
check "decision: one arch without a result -> eager" \
  '[ "$(decide resnet20=$f/a.json resnet56=$f/none.json)" = "GRAPH=0 LR_ON_DEVICE=1 GROUP_BENCH=4 " ]'
check "decision: PaperSGD's device lr differs from torch's SGD -> host lr, graphs by its own agreement" \
  '[ "$(decide resnet20=$f/d.json)" = "GRAPH=1 LR_ON_DEVICE=0 GROUP_BENCH=8 " ]'

# what tools/device_prep.sh writes into .device/, for this source
git rev-parse --short=12 HEAD > "$TMP/dev/commit"
$PY -c "import sys; from resnet_lab.data import load_cifar10; print(load_cifar10(sys.argv[1]).fingerprint)" "$SRC" \
  > "$TMP/dev/fingerprint" || { echo "cannot load $SRC"; exit 2; }

echo "== device_check.sh, dry run (temp folder $TMP)"
OUT=$TMP/out RESNET_LAB_RUNS=$TMP/runs DEVDIR=$TMP/dev RESNET_LAB_CIFAR10=$SRC \
  RESNET_LAB_CACHE=${RESNET_LAB_CACHE:-$HOME/.cache/resnet_lab} PY=$PY DEVICE=cpu PROFILE=smoke \
  DEADLINE=${DEADLINE:-240} RESERVE=20 TRAIN_MIN=60 BENCH_PLAN="resnet20:1,2 resnet56:1" BENCH_SECONDS=1 \
  BENCH_BOX=80 GROUP=2 GROUP_MIN_SECONDS=5 TQDM_MININTERVAL=5 bash tools/device_check.sh
rc=$?
echo "== exit $rc after $(( $(date +%s) - T0 )) s"
echo "== summary.txt"; cat "$TMP/out/summary.txt"
echo "== \$OUT"; ls -l "$TMP/out"

check "exit 0" '[ $rc = 0 ]'
check "every phase logged" '[ $(grep -c -e "^\[[0-9]* s\] [1-5]\. " "$TMP/out/device.log") -ge 5 ]'
check "at most 8 files, none in a folder" '[ $(ls -A "$TMP/out" | wc -l) -le 8 ] && [ -z "$(find "$TMP/out" -mindepth 1 -type d)" ]'
check "each file under 16 MiB, 64 MiB in all" \
  '[ -z "$(find "$TMP/out" -type f -size +16383k)" ] && [ $(du -cb "$TMP"/out/* | tail -1 | cut -f1) -lt $(( 64 * 1048576 )) ]'
check "plain names" '[ -z "$(ls "$TMP/out" | grep -v "^[A-Za-z0-9._-]*$")" ]'
check "bench.json is a list of results" \
  "$PY -c \"import json, sys; r = json.load(open('$TMP/out/bench.json')); sys.exit(not (isinstance(r, list) and r and all('arch' in x for x in r)))\""
check "the CUDA-only bench phases were skipped with a message" 'grep -q "skipped graphed phases" "$TMP/out/device.log"'
check "the decision said eager on the CPU" 'grep -q "3. decision: eager" "$TMP/out/device.log"'
mkdir -p "$TMP/unpacked"
if ls "$TMP"/out/runs.tar.part-* > /dev/null 2>&1; then
  cat "$TMP"/out/runs.tar.part-* | tar x -C "$TMP/unpacked"
  echo "== the tar, unpacked into a fresh store:"; (cd "$TMP/unpacked" && find . -type f | sort)
  $PY -m resnet_lab runs --runs "$TMP/unpacked"
  check "the records and checkpoints that came back are readable" '$PY -m resnet_lab runs --runs "$TMP/unpacked" > /dev/null'
  check "records came back" 'ls "$TMP"/unpacked/*-smoke-s0-*/metrics.json > /dev/null 2>&1'
else
  echo "FAILED: nothing came back in runs.tar.part-*"; fail=1
fi
# the stop: a second, shorter pass with the quick profile (800 iterations: no run ends in the window) and no bench, so
# the runs are stopped at the deadline and their checkpoints come back (the smoke pass may finish every group it starts)
echo "== device_check.sh, second pass: quick profile, stopped at its deadline"
mkdir -p "$TMP/out2" "$TMP/unpacked2"
OUT=$TMP/out2 RESNET_LAB_RUNS=$TMP/runs DEVDIR=$TMP/dev RESNET_LAB_CIFAR10=$SRC \
  RESNET_LAB_CACHE=${RESNET_LAB_CACHE:-$HOME/.cache/resnet_lab} PY=$PY DEVICE=cpu PROFILE=quick \
  DEADLINE=${DEADLINE2:-100} RESERVE=15 TRAIN_MIN=30 BENCH_PLAN="" GROUP=2 GROUP_MIN_SECONDS=5 TQDM_MININTERVAL=5 \
  bash tools/device_check.sh > "$TMP/pass2.log" 2>&1
rc2=$?
grep -e '^\[' "$TMP/pass2.log"; sed -n '/^== training/,/^== came back/p' "$TMP/out2/summary.txt" | grep -e 'stopped\|recorded\|in progress'
check "second pass: exit 0" '[ $rc2 = 0 ]'
cat "$TMP"/out2/runs.tar.part-* 2>/dev/null | tar x -C "$TMP/unpacked2" 2>/dev/null
check "second pass: the stopped runs' checkpoints came back and read as in progress" \
  '$PY -m resnet_lab runs --runs "$TMP/unpacked2" | grep -q "^in progress: .*-quick-s0-.* at iteration [1-9]"'
$PY -m resnet_lab runs --runs "$TMP/unpacked2" | grep "^in progress"
check "nothing of the dry run written into runs/ here" '[ -z "$(find runs -newer "$TMP/stamp" -path "*-smoke-s*" -o -newer "$TMP/stamp" -path "*-quick-s*" | head -1)" ]'
echo "== dry run: $([ $fail = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - T0 )) s"
[ "${KEEP:-0}" = 1 ] && echo "kept: $TMP" || rm -rf "$TMP"
exit $fail
