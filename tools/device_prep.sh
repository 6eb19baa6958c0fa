#!/usr/bin/env bash
# Prepares what tools/device_check.sh needs on the GPU machine, which sees only this working tree (64 MiB):
# the CIFAR-10 JPEG copy packed into one file, the commit and the data fingerprint the records here carry.
# Then: device run, command "bash tools/device_check.sh", carry [".device"], timeout_s 590.
#
# Checkpoints of CPU runs in progress (runs/.partial/, committed between sessions) and the recorded runs' weights
# (float32, several MiB each) would travel too and can push the tree past 64 MiB beside the data pack (17.4 MiB:
# pack format 2 stores the JPEG heads once; format 1 took 55 MiB and still reads, but is rebuilt here); the GPU
# needs neither (it trains the missing runs afresh; a record without weights still counts as recorded), so they
# are moved aside to $ASIDE for the call:
#   bash tools/device_prep.sh            before the device call
#   bash tools/device_prep.sh --restore  after it (puts the checkpoints and weights back)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ASIDE=${ASIDE:-/tmp/resnet_lab_partial_aside}
PY=${PYTHON:-python}
if [ "${1:-}" = "--restore" ]; then
  [ -d "$ASIDE/.partial" ] || [ -d "$ASIDE/weights" ] || { echo "nothing set aside in $ASIDE"; exit 0; }
  [ ! -d "$ASIDE/.partial" ] || mkdir -p runs/.partial
  for d in "$ASIDE"/.partial/*/; do
    [ -d "$d" ] || continue
    id=$(basename "$d")
    if [ -e "runs/.partial/$id" ]; then  # never overwrite: keep both, say so
      echo "runs/.partial/$id exists (a newer start?); the set-aside one stays in $d"
    else
      mv "$d" "runs/.partial/$id" && echo "restored runs/.partial/$id"
    fi
  done
  for f in "$ASIDE"/weights/*/weights.safetensors; do
    [ -e "$f" ] || continue
    id=$(basename "$(dirname "$f")")
    if [ -d "runs/$id" ] && [ ! -e "runs/$id/weights.safetensors" ]; then
      mv "$f" "runs/$id/" && rmdir "$(dirname "$f")" && echo "restored runs/$id/weights.safetensors"
    else
      echo "runs/$id is gone or has weights again; the set-aside weights stay in $(dirname "$f")"
    fi
  done
  rmdir "$ASIDE/.partial" "$ASIDE/weights" "$ASIDE" 2>/dev/null || true
  exit 0
fi
if ! $PY -c "import sys; from resnet_lab.runs import RunStore; sys.exit(any(r.running for r in RunStore('runs').in_progress()))"; then
  echo "a run is training here (python -m resnet_lab runs says which): stop it at a checkpoint before the GPU call" >&2
  exit 1
fi
src=${1:-../shared/data/cifar10-jpeg}
mkdir -p .device
pack_is_current() {  # a pack made before format 2 reads, but is three times the size: made again
  $PY -c "import sys, torch; from resnet_lab.datapack import PACK_FORMAT
sys.exit(torch.load(sys.argv[1], weights_only=True).get('format') != PACK_FORMAT)" "$1" 2>/dev/null
}
[ -f .device/cifar10-jpeg.jpegpack ] && pack_is_current .device/cifar10-jpeg.jpegpack ||
  $PY -m resnet_lab pack-data "$src" .device/cifar10-jpeg.jpegpack
git rev-parse --short=12 HEAD > .device/commit
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "-dirty" >> .device/commit
if [ -n "$(ls -A runs/.partial 2>/dev/null)" ]; then
  mkdir -p "$ASIDE" && mv runs/.partial "$ASIDE/.partial"
  echo "runs/.partial moved to $ASIDE for the call; afterwards: bash tools/device_prep.sh --restore"
fi
for f in runs/*/weights.safetensors; do
  [ -e "$f" ] || continue
  id=$(basename "$(dirname "$f")")
  mkdir -p "$ASIDE/weights/$id" && mv "$f" "$ASIDE/weights/$id/"
done
[ ! -d "$ASIDE/weights" ] || echo "the records' weights moved to $ASIDE/weights for the call; afterwards: bash tools/device_prep.sh --restore"
$PY -c "from resnet_lab.data import load_raw; print(load_raw('.device/cifar10-jpeg.jpegpack')['fingerprint'])" \
  > .device/fingerprint
bytes=$(( $(git ls-files -co --exclude-standard -z | xargs -0 cat 2>/dev/null | wc -c) + $(du -cb .device | tail -1 | cut -f1) ))
echo "commit $(tr -d '\n' < .device/commit), data fingerprint $(cat .device/fingerprint); $(( bytes / 1048576 )) MiB would travel (limit 64)"
[ $bytes -lt $(( 63 * 1048576 )) ] || { echo "too much would travel: commit or ignore what is not needed" >&2; exit 1; }
