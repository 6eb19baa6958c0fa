#!/usr/bin/env bash
# Train a list of cpu-profile runs one after another as one single-threaded worker (resumable: a stopped run
# resumes from runs/.partial/). Usage: bash tools/queue.sh LOG ARCH:VARIANT:SEED[:SHORTCUT] ...
#   OMP_NUM_THREADS=1 nohup bash tools/queue.sh w0.log resnet56:final_bn:0 resnet56:basic:1 resnet32:basic:1:B &
# (SHORTCUT: A, B or C; default the paper's A.) PROFILE=<name> trains at another profile (default cpu);
# DRY_RUN=1 prints each job's command instead of running it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log=$1; shift
for job in "$@"; do  # every job's shape checked before the first one trains (hours in)
  IFS=: read -r arch variant seed shortcut rest <<<"$job"
  if [[ -z "$arch" || -z "$variant" || ! "$seed" =~ ^[0-9]+$ || ! "$shortcut" =~ ^[ABC]?$ || -n "$rest" ]]; then
    echo "queue.sh: job '$job' is not ARCH:VARIANT:SEED[:SHORTCUT] (e.g. resnet56:basic:1 or resnet32:basic:1:B)" >&2
    exit 2
  fi
  if [[ -n "$shortcut" && "$arch" != resnet* ]]; then
    echo "queue.sh: job '$job': a shortcut option needs a ResNet ($arch has no shortcuts)" >&2
    exit 2
  fi
done
[[ -n "${DRY_RUN:-}" ]] || bash tools/setup.sh >/dev/null || exit 1
export RESNET_LAB_CIFAR10=${RESNET_LAB_CIFAR10:-$(cd ../shared/data/cifar10-jpeg 2>/dev/null && pwd || echo official)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for job in "$@"; do
  IFS=: read -r arch variant seed shortcut rest <<<"$job"
  cmd=(.venv/bin/python -m resnet_lab train --arch "$arch" --variant "$variant" --seed "$seed"
       ${shortcut:+--shortcut "$shortcut"} --profile "${PROFILE:-cpu}")
  if [[ -n "${DRY_RUN:-}" ]]; then echo "${cmd[*]}"; continue; fi
  echo "== $(date -u +%FT%TZ) $arch variant=$variant seed=$seed${shortcut:+ shortcut=$shortcut}" >>"$log"
  "${cmd[@]}" >>"$log" 2>&1
  rc=$?
  echo "== $(date -u +%FT%TZ) rc=$rc" >>"$log"
  [[ $rc -ge 128 ]] && exit $rc   # stopped on request: leave the rest of the queue
done
