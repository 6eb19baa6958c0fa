#!/usr/bin/env bash
# Prepares what tools/device_check.sh needs on the GPU machine, which sees only this working tree (tracked files,
# untracked files git does not ignore, and what the call carries; 64 MiB in all): the CIFAR-10 JPEG copy packed into
# one file (.device/, carried), the commit and the data fingerprint the records here carry.
# Then: device run, command "bash tools/device_check.sh", carry [".device"], timeout_s 590.
#
#   bash tools/device_prep.sh [SOURCE]   before the device call (SOURCE: the ImageFolder copy, ../shared/data/cifar10-jpeg)
#   bash tools/device_prep.sh --restore  after it (puts back what was moved aside)
#   bash tools/device_prep.sh --measure  moves and writes nothing: what would travel now, and after the prep
#
# What would travel, and what the prep does about it:
#   * the data pack, 17.4 MiB (pack format 2 stores the JPEG heads once; a format-1 pack, 55 MiB, is made again);
#   * the records' weights (float32, 42.5 MiB for the 19 `cpu` records of 2026-12-02): the GPU needs none (a record
#     without weights still counts as recorded), so they are moved aside to $ASIDE for the call;
#   * committed checkpoints (runs/.partial/ is git-ignored; a checkpoint travels only if it was added with -f): those
#     of the PROFILE (paper) runs stay, since the GPU resumes them -- 33.4 MiB for the first group of five nets
#     (ResNet-20/56/110, plain-20/56); committed checkpoints of other profiles are moved aside. A checkpoint of a
#     PROFILE run that is here but not committed would not travel: the GPU would start that run over and bring back a
#     checkpoint that replaces it, so the prep stops and says to commit it (git add -f) first.
#   Everything else of the tree (code, book, JSON records, studies) is about 3 MiB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ASIDE=${ASIDE:-/tmp/resnet_lab_partial_aside}
PY=${PYTHON:-python}
PROFILE=${PROFILE:-paper}
PACK=.device/cifar10-jpeg.jpegpack
PACK_FORMAT2_BYTES=18267199  # the CIFAR-10 JPEG copy's format-2 pack (resnet_lab/datapack.py), before it is made
LIMIT=$(( 64 * 1048576 ))

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

travelling() {  # what the device tool sends, but for what the call carries
  git ls-files -co --exclude-standard | while IFS= read -r f; do [ -e "$f" ] && echo "$f"; done; true
}
bytes_of() { local s=0 f; while IFS= read -r f; do s=$(( s + $(stat -c %s -- "$f") )); done; echo $s; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
weights_list() { travelling | grep -E '^runs/[^/]+/weights\.safetensors$' || true; }
ckpt_list() { travelling | grep -E '^runs/\.partial/[^/]+/checkpoint\.pt$' || true; }
other_ckpts() { ckpt_list | grep -v -e "-$PROFILE-s" || true; }
profile_ckpts() { ckpt_list | grep -e "-$PROFILE-s" || true; }
uncommitted() {  # PROFILE checkpoints here that would not travel
  for f in runs/.partial/*-"$PROFILE"-s*/checkpoint.pt; do
    [ -e "$f" ] && ! git ls-files --error-unmatch -- "$f" > /dev/null 2>&1 && echo "$f"
  done; true
}
pack_is_current() {  # a pack made before format 2 reads, but is three times the size: made again
  $PY -c "import sys, torch; from resnet_lab.datapack import PACK_FORMAT
sys.exit(torch.load(sys.argv[1], weights_only=True).get('format') != PACK_FORMAT)" "$1" 2>/dev/null
}
report() {  # what would travel: now, and with the weights and other profiles' checkpoints aside
  local all w o p pk
  all=$(travelling | bytes_of); w=$(weights_list | bytes_of); o=$(other_ckpts | bytes_of); p=$(profile_ckpts | bytes_of)
  if [ -f "$PACK" ]; then pk=$(du -cb .device | tail -1 | cut -f1); pkn="$PACK"; else pk=$PACK_FORMAT2_BYTES; pkn="the pack (not made yet: format 2's size)"; fi
  echo "working tree that travels now: $(mib "$all") ($all bytes), of which"
  echo "  records' weights           $(mib "$w") ($(weights_list | wc -l) files; moved aside by the prep)"
  echo "  other profiles' checkpoints $(mib "$o") ($(other_ckpts | wc -l) committed; moved aside by the prep)"
  echo "  $PROFILE checkpoints         $(mib "$p") ($(profile_ckpts | wc -l) committed; they travel: the GPU resumes them)"
  echo "  the rest                   $(mib $(( all - w - o - p )))"
  echo "carried .device: $(mib "$pk") ($pkn)"
  TRAVEL=$(( all - w - o + pk ))
  echo "after the prep: $(mib "$TRAVEL") would travel (limit 64 MiB)"
  local u; u=$(uncommitted)
  [ -z "$u" ] || echo "NOT committed, so they would not travel (commit them with git add -f first):"$'\n'"$u"
}

if [ "${1:-}" = "--measure" ]; then report; exit 0; fi

u=$(uncommitted)
if [ -n "$u" ]; then
  echo "these $PROFILE checkpoints are not committed, so they would not travel: the GPU would start their runs over and" >&2
  echo "bring back checkpoints that replace them. Commit them first (git add -f <file>; git commit):" >&2
  echo "$u" >&2; exit 1
fi
move=$(other_ckpts | cut -d/ -f3)
if [ -n "$move" ] && ! $PY -c "import sys; from resnet_lab.runs import RunStore
ids = set(sys.argv[1:]); sys.exit(any(r.running and r.id in ids for r in RunStore('runs').in_progress()))" $move; then
  echo "a run whose committed checkpoint the prep moves aside is training here (python -m resnet_lab runs says which):" \
       "stop it at a checkpoint before the GPU call" >&2
  exit 1
fi
src=${1:-../shared/data/cifar10-jpeg}
mkdir -p .device
[ -f "$PACK" ] && pack_is_current "$PACK" || $PY -m resnet_lab pack-data "$src" "$PACK"
git rev-parse --short=12 HEAD > .device/commit
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "-dirty" >> .device/commit
for id in $move; do
  mkdir -p "$ASIDE/.partial" && mv "runs/.partial/$id" "$ASIDE/.partial/$id"
  echo "runs/.partial/$id (committed, not $PROFILE) moved to $ASIDE for the call"
done
n=0
for f in $(weights_list); do
  [ -e "$f" ] || continue
  id=$(basename "$(dirname "$f")")
  mkdir -p "$ASIDE/weights/$id" && mv "$f" "$ASIDE/weights/$id/" && n=$(( n + 1 ))
done
[ $n = 0 ] || echo "$n records' weights moved to $ASIDE/weights for the call"
echo "afterwards: bash tools/device_prep.sh --restore"
$PY -c "from resnet_lab.data import load_raw; print(load_raw('$PACK')['fingerprint'])" > .device/fingerprint
report
echo "commit $(tr -d '\n' < .device/commit), data fingerprint $(cat .device/fingerprint)"
[ "$TRAVEL" -lt $(( LIMIT - 1048576 )) ] || { echo "too much would travel: commit or ignore what is not needed" >&2; exit 1; }
