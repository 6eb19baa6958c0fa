#!/usr/bin/env bash
# The one prepared GPU check, for a session that is lent a device machine (the `device` tool; 15 minutes).
#
# Here, first (the machine cannot see ../shared; the pack is the JPEG bytes in one 55 MiB file):
#     python -m resnet_lab pack-data ../shared/data/cifar10-jpeg .device/cifar10-jpeg.jpegpack
# Then one device call:  command "bash tools/device_check.sh", carry [".device"], timeout_s 590.
# On the device it runs under that image's python3 and torch (not this project's pins) and writes to $OUT:
#   env.txt          GPU, driver, torch
#   bench.json/.log  `bench --device cuda` for ResNet-20/56/110 (alone on the GPU: clean timings)
#   parity.json/.log bf16 vs fp32: ResNet-20 and plain-20 x seeds 0, 1 x both precisions, `quick` profile
#                    (800 iterations, 2.3 epochs), four at a time on the GPU (timings not comparable)
#   paper.tar.gz     the `paper`-profile ResNet-20 (seed 0): its record if it finished, else its checkpoint
#                    (resumable: put it in runs/.partial/<id>/ and run `train` again), and paper.log
# Every phase has its own time limit, so one failing phase still leaves the others' results.
# Afterwards: record the numbers in benchmarks/NOTES.md (bench, parity table) with date and machine.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PY=${PY:-python3}
# for a dry run on a CPU: DEVICE=cpu PAPER=smoke PARITY=smoke BENCH_ITERS=2 BUDGET=200 bash tools/device_check.sh
DEVICE=${DEVICE:-cuda} PAPER=${PAPER:-paper} PARITY=${PARITY:-quick} BENCH_ITERS=${BENCH_ITERS:-200}
T0=$(date +%s)
left() { echo $(( ${BUDGET:-560} - ($(date +%s) - T0) )); }
export RESNET_LAB_CIFAR10=${RESNET_LAB_CIFAR10:-$PWD/.device/cifar10-jpeg.jpegpack}
export RESNET_LAB_CACHE=/tmp/resnet_lab_cache PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
if [ ! -f "$RESNET_LAB_CIFAR10" ] && [ ! -d "$RESNET_LAB_CIFAR10" ]; then
  echo "no CIFAR-10 source at $RESNET_LAB_CIFAR10: make the pack first (see the top of $0)" | tee "$OUT/env.txt"
  exit 2
fi

{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  $PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
'cuda', torch.version.cuda, 'gpu', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
  nproc; } > "$OUT/env.txt" 2>&1
# decode the pack once into the tensor cache (every later process loads the cache)
$PY -c "from resnet_lab.data import load_cifar10; print(load_cifar10().describe())" >> "$OUT/env.txt" 2>&1

# 1. bench, alone on the GPU
: > "$OUT/bench.log"
echo "[" > "$OUT/bench.json"
sep=""
for arch in resnet20 resnet56 resnet110; do
  line=$(timeout 60 $PY -m resnet_lab bench --device $DEVICE --arch $arch --iterations $BENCH_ITERS --json 2>>"$OUT/bench.log" | tail -1)
  [ -n "$line" ] && { printf '%s%s\n' "$sep" "$line" >> "$OUT/bench.json"; sep=","; }
done
echo "]" >> "$OUT/bench.json"

# 2. the paper-profile ResNet-20 in the background, for as long as the budget allows
paper_limit=$(( $(left) - 30 ))
( timeout $paper_limit $PY -m resnet_lab train --arch resnet20 --profile $PAPER --seed 0 --device $DEVICE \
    --runs /tmp/paper_runs > "$OUT/paper.log" 2>&1 ) &
paper=$!

# 3. bf16 vs fp32 parity beside it, four runs at a time
parity_limit=$(( $(left) - 60 ))
for a in resnet20 plain20; do for s in 0 1; do for p in bf16 fp32; do echo "$a $s $p"; done; done; done |
  timeout $parity_limit xargs -P 4 -L 1 sh -c \
    "$PY -m resnet_lab train --arch \$0 --seed \$1 --precision \$2 --profile $PARITY --device $DEVICE --runs /tmp/parity_runs" \
    > "$OUT/parity.log" 2>&1
$PY -m resnet_lab runs --json --runs /tmp/parity_runs > "$OUT/parity.json" 2>>"$OUT/parity.log"

wait $paper
tar czf "$OUT/paper.tar.gz" -C /tmp paper_runs 2>/dev/null
echo "done in $(( $(date +%s) - T0 )) s" >> "$OUT/env.txt"
