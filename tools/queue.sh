#!/usr/bin/env bash
# Train a list of cpu-profile runs one after another as one single-threaded worker (resumable: a stopped run
# resumes from runs/.partial/). Usage: bash tools/queue.sh LOG "ARCH[:VARIANT]:SEED" ...
#   OMP_NUM_THREADS=1 nohup bash tools/queue.sh w0.log resnet56:final_bn:0 resnet56:basic:1 &
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log=$1; shift
bash tools/setup.sh >/dev/null || exit 1
export RESNET_LAB_CIFAR10=${RESNET_LAB_CIFAR10:-$(cd ../shared/data/cifar10-jpeg 2>/dev/null && pwd || echo official)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for job in "$@"; do
  IFS=: read -r arch variant seed <<<"$job"
  echo "== $(date -u +%FT%TZ) $arch variant=$variant seed=$seed" >>"$log"
  .venv/bin/python -m resnet_lab train --arch "$arch" --variant "$variant" --seed "$seed" --profile "${PROFILE:-cpu}" >>"$log" 2>&1
  rc=$?
  echo "== $(date -u +%FT%TZ) rc=$rc" >>"$log"
  [[ $rc -ge 128 ]] && exit $rc   # stopped on request: leave the rest of the queue
done
