#!/usr/bin/env bash
# The one prepared GPU job, for a session that is lent a device machine (the `device` tool; 15 minutes a session).
#
# Here, first:  bash tools/device_prep.sh   (packs the CIFAR-10 JPEG copy into .device/, 17.4 MiB, which decodes to
# the same images and data fingerprint as the folder; notes the commit; checks what would travel).
# Then one device call:  command "bash tools/device_check.sh", carry [".device"], timeout_s 590; then
# `bash tools/device_prep.sh --restore` (prep moves the CPU runs' checkpoints and the records' weights aside for the call).
# It runs under that machine's python3 and torch (not this project's pins), in a copy of the working tree, and
# spends about 9 minutes, every phase time-boxed so that one failing phase leaves the others' results:
#   1. env.txt                 GPU, driver, torch; the data, checked against .device/fingerprint
#   2. bench.json              `bench --device cuda` for ResNet-20/56/110, alone on the GPU (clean timings)
#   3. runs.tar.part-*         the book's `cpu`-profile runs that runs/ does not hold yet (`sweep`, 6 workers,
#                              IEEE fp32 as the profile says), then the chapters' analyses of every recorded run
#                              (`python -m resnet_lab.book.caches --device cuda`: lesions, landscapes, multi-crop
#                              testing, responses...), and the lr-0.1 study's missing (net, seed) pairs:
#                              every file they add under runs/ (records, and the checkpoints of runs that did not
#                              finish), in parts of at most 15 MiB. Unpack here, from the repo root, with
#                                cat <files_at>/runs.tar.part-* | tar x --skip-old-files
#                              (nothing recorded here is overwritten), check `python -m resnet_lab runs`, commit.
#   4. extra.tar.gz            bf16 vs fp32 parity: the missing runs of `python -m resnet_lab.parity` (ResNet-20
#                              and plain-20 x seeds 0-3 x both precisions, `quick` profile; they land in
#                              runs/studies/parity/ and come back in the runs tar of 3.; a dry run with another
#                              PARITY profile trains seeds 0, 1 into parity_runs/ instead); and
#                              two minutes of a `paper`-profile ResNet-20 (seed 0; fp32), store
#                              paper_runs/: its log (rate, first curve), and a checkpoint only if it got past
#                              iteration 2,000 (the paper profile's checkpoint interval).
#   5. device.log              every phase's output
# The GPU runs side by side (timings in the run records are therefore not clean; bench's are).
# Afterwards: record bench and the parity table in benchmarks/NOTES.md with date and machine.
# Dry run of the logic on a CPU, in a scratch copy of the repo (tiny; minutes):
#   DEVICE=cpu SWEEP=smoke PARITY=smoke PAPER=smoke BENCH_ARCHS=resnet20 BENCH_ITERS=2 LR_ITERS=50 WORKERS=2 \
#     BUDGET=300 OUT=/tmp/out PY=python bash tools/device_check.sh
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda} SWEEP=${SWEEP:-cpu} PARITY=${PARITY:-quick} PAPER=${PAPER:-paper}
BENCH_ITERS=${BENCH_ITERS:-200} LR_ITERS=${LR_ITERS:-} WORKERS=${WORKERS:-6}
T0=$(date +%s)
left() { echo $(( ${BUDGET:-540} - ($(date +%s) - T0) )); }
export RESNET_LAB_CIFAR10=${RESNET_LAB_CIFAR10:-$PWD/.device/cifar10-jpeg.jpegpack}
export RESNET_LAB_CACHE=/tmp/resnet_lab_cache PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export TQDM_MININTERVAL=5  # progress lines every 5 s, not 10 a second, in the log
LOG="$OUT/device.log"
say() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$LOG"; }
if [ ! -e "$RESNET_LAB_CIFAR10" ]; then
  echo "no CIFAR-10 source at $RESNET_LAB_CIFAR10: make the pack first (see the top of $0)" | tee "$OUT/env.txt"
  exit 2
fi
W=$(mktemp -d); STAMP=$W/stamp; touch "$STAMP"; sleep 1  # files newer than this are what this job added under runs/

# 1. the machine, and the data decoded once into the tensor cache (every later process loads the cache)
export RESNET_LAB_COMMIT=$(tr -d '\n' < .device/commit 2>/dev/null || echo unknown)
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  $PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
'cuda', torch.version.cuda, 'gpu', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
  echo "cpus $(nproc --all)"  # (plain nproc says OMP_NUM_THREADS, 1 here)
  timeout 180 $PY -c "from resnet_lab.data import load_cifar10; d = load_cifar10(); print(d.describe()); print('fingerprint', d.fingerprint)"
} > "$OUT/env.txt" 2>>"$LOG"
got=$(sed -n 's/^fingerprint //p' "$OUT/env.txt"); want=$(cat .device/fingerprint 2>/dev/null)
SAME_DATA=1
if [ -z "$got" ] || [ "$got" != "$want" ]; then
  SAME_DATA=0  # other images (another JPEG decoder?) would give other run ids: nothing would merge with runs/
  say "data fingerprint '$got' is not this repo's '$want': no sweep and no lr study, only bench, parity, paper"
fi
say "env done"

# 2. bench, alone on the GPU
echo "[" > "$OUT/bench.json"; sep=""
for arch in ${BENCH_ARCHS-resnet20 resnet56 resnet110}; do
  line=$(timeout 120 $PY -m resnet_lab bench --device "$DEVICE" --arch $arch --iterations "$BENCH_ITERS" --json \
         2>>"$LOG" | tail -1)
  [ -n "$line" ] && { printf '%s%s\n' "$sep" "$line" >> "$OUT/bench.json"; sep=","; }
  say "bench $arch: ${line:0:160}"
done
echo "]" >> "$OUT/bench.json"

# 3 and 4 side by side, until 40 s before the budget ends
limit=$(( $(left) - 40 ))
if [ $limit -lt 60 ]; then say "only $limit s left: no training"; limit=0; fi
DEADLINE=$(( $(date +%s) + limit ))
until_deadline() { local n=$(( DEADLINE - $(date +%s) )); [ $n -lt 1 ] && n=1; echo $n; }
say "training for at most $limit s"
pids=(); sweep_pids=()
[ $limit -gt 0 ] && [ $SAME_DATA = 1 ] && for i in $(seq 0 $(( WORKERS - 1 ))); do
  ( timeout $limit $PY -m resnet_lab sweep --profile "$SWEEP" --device "$DEVICE" --part $i/$WORKERS \
      > "$W/sweep$i.log" 2>&1 ) & sweep_pids+=($!)
done
# then the chapters' analyses of every recorded run of the profile (lesions, landscapes, multi-crop, ...)
( for pid in "${sweep_pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 5; done; done  # (not children here)
  n=$(until_deadline); [ $n -gt 30 ] && [ $SAME_DATA = 1 ] && OMP_NUM_THREADS=4 timeout $n \
    $PY -m resnet_lab.book.caches --profile "$SWEEP" --device "$DEVICE" ) > "$W/caches.log" 2>&1 &
pids+=($!)
lr_nets=$($PY -c "from resnet_lab.analysis.lr_study import NETS, VARIANT_NETS; print(*NETS, *VARIANT_NETS)" 2>>"$LOG")
[ -n "$lr_nets" ] || say "cannot list the lr-0.1 study's nets (see above): the study runs its default nets"
lr_args=(); [ -n "$lr_nets" ] && lr_args=(--nets $lr_nets)
[ -n "$LR_ITERS" ] && lr_args+=(--iterations "$LR_ITERS")  # chapter 3's nets and chapter 7's
[ $limit -gt 0 ] && [ $SAME_DATA = 1 ] && ( RESNET_LAB_DEVICE=$DEVICE timeout $limit $PY -m resnet_lab.analysis.lr_study --seeds 0 1 2 3 4 "${lr_args[@]}" \
    > $W/lr.log 2>&1 ) & pids+=($!)
if [ "$PARITY" = quick ]; then  # the study's own command: its missing runs into runs/studies/parity (come back
  # with the runs tar, beside the CPU's records), then its verdict
  [ $limit -gt 0 ] && [ $SAME_DATA = 1 ] && ( timeout $(until_deadline) $PY -m resnet_lab.parity --device "$DEVICE" \
    > $W/parity.log 2>&1 ) & pids+=($!)
else  # a dry run's tiny stand-in (another profile), kept apart in parity_runs/
  [ $limit -gt 0 ] && ( for a in resnet20 plain20; do for s in 0 1; do for p in bf16 fp32; do
      timeout $(until_deadline) $PY -m resnet_lab train --arch $a --seed $s --precision $p \
        --profile "$PARITY" --device "$DEVICE" --runs $W/parity_runs || echo "parity run $a s$s $p failed"
    done; done; done > $W/parity.log 2>&1 ) & pids+=($!)
fi
[ $limit -gt 0 ] && ( timeout $(( limit < 120 ? limit : 120 )) $PY -m resnet_lab train --arch resnet20 --profile "$PAPER" --seed 0 --device "$DEVICE" \
    --runs $W/paper_runs > $W/paper.log 2>&1 ) & pids+=($!)
wait "${pids[@]}" "${sweep_pids[@]}"
for f in $W/sweep*.log $W/caches.log $W/lr.log $W/parity.log $W/paper.log; do [ -f "$f" ] || continue
  echo "===== $f" >> "$LOG"; tr '\r' '\n' < "$f" | grep -v "^\s*$" | tail -40 >> "$LOG"
done
say "training phase over"

# what came back
mkdir -p $W/parity_runs $W/paper_runs; cp $W/paper.log $W/paper_runs/ 2>/dev/null
$PY -m resnet_lab runs --runs $W/parity_runs > $W/parity_runs/summary.txt 2>&1
find $W/parity_runs -name weights.safetensors -delete 2>/dev/null
tar czf "$OUT/extra.tar.gz" -C "$W" parity_runs paper_runs 2>>"$LOG"
# records first, then the checkpoints of unfinished runs; no temp files of killed writers; and no more than
# ~55 MiB in all (what comes back is at most 8 files and 64 MiB; a missing part would truncate the tar)
{ find runs -newer "$STAMP" -type f ! -path '*/.locks/*' ! -path '*/.partial/*' ! -name '.*.tmp*'
  find runs/.partial -newer "$STAMP" -type f -name checkpoint.pt 2>/dev/null; } |
  while read -r f; do echo "$(stat -c %s "$f") $f"; done |
  awk -v cap=$(( 55 * 1048576 )) '{ if (t + $1 <= cap) { t += $1; sub(/^[0-9]+ /, ""); print } else { sub(/^[0-9]+ /, ""); print "left out (size): " $0 > "/dev/stderr" } }' \
  > $W/new_files 2>>"$LOG"
say "$(wc -l < $W/new_files) new files under runs/ to bring back"
if [ -s $W/new_files ]; then
  tar cf - -T $W/new_files | split -b 15M - "$OUT/runs.tar.part-"
fi
$PY -m resnet_lab runs >> "$LOG" 2>&1
say "done"
