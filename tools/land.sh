#!/usr/bin/env bash
# Land finished records: for each run id (a folder of runs/ with its metrics), add the record, take its partial
# checkpoint out of the index, compute the per-seed caches the chapters read (responses, BN modes, BN channels:
# `python -m resnet_lab.book.caches --only ...`, minutes of one core), rewrite the README's claims summary, and
# commit, the message naming the run, its errors, data and device. Usage (from the repository root):
#   bash tools/land.sh resnet44-A-cpu-s1-jpeg-fp32-<hash> [RUN_ID ...]
# A run that has not finished (no metrics.json) is named and stops the script before anything is committed for it;
# records landed before it stay committed. A run recorded as failed (its loss stopped being finite) is committed as
# such, without caches: the book says it failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -ge 1 ]] || { echo "usage: bash tools/land.sh RUN_ID [RUN_ID ...]" >&2; exit 2; }
export RESNET_LAB_CIFAR10=${RESNET_LAB_CIFAR10:-$(cd ../shared/data/cifar10-jpeg 2>/dev/null && pwd || echo official)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
py=.venv/bin/python
# the landing commits what it stages; other staged work would be folded into it
git diff --cached --quiet || { echo "land.sh: the index holds staged changes; commit or unstage them first" >&2; exit 1; }
read -r -d '' describe <<'PY' || true
import json, sys
d = f"runs/{sys.argv[1]}"
c, m = json.load(open(f"{d}/config.json"))["config"], json.load(open(f"{d}/metrics.json"))
p = json.load(open(f"{d}/provenance.json"))
data = str(p.get("data", c["data_source"])).split(" (")[0]
err = " ".join(str(m.get("error", "")).split())
what = (f"training error {100 * m['final_train_error']:.2f}%, test error {100 * m['final_test_error']:.2f}% "
        f"({data}, {p.get('device', 'device not recorded')})" if m.get("status") == "completed" else
        f"recorded as {m.get('status')} ({err}; {data})")
print("\t".join(map(str, (c["arch"], c["profile"], c["seed"], m.get("status"), what))))
PY
for id in "$@"; do
  id=${id%/}; id=${id#runs/}
  [[ -f runs/$id/metrics.json && -f runs/$id/config.json ]] || { echo "land.sh: runs/$id is not a finished record" >&2; exit 1; }
  IFS=$'\t' read -r arch profile seed status what < <($py -c "$describe" "$id")
  git add "runs/$id"
  paths=("runs/$id")
  if git ls-files --error-unmatch "runs/.partial/$id/checkpoint.pt" >/dev/null 2>&1; then
    git rm --cached -q "runs/.partial/$id/checkpoint.pt"
    paths+=("runs/.partial/$id/checkpoint.pt")
  fi
  note="no caches (the run failed)"
  if [[ $status == completed ]]; then
    # a net no analysis reads, or another seed's cache that fails, must not stop the landing: say so and go on
    if $py -m resnet_lab.book.caches --profile "$profile" --only responses bn_modes bn_channels --arch "$arch"; then
      note="its caches"
    else
      note="caches not all computed (see above)"
      echo "land.sh: caches for $arch did not all complete; the record lands without them" >&2
    fi
    git add "runs/$id"
  fi
  $py tools/readme_figure.py
  git add README.md book/_static/fig6.*
  paths+=(README.md book/_static)
  if git diff --cached --quiet -- "${paths[@]}"; then
    echo "land.sh: runs/$id is already landed; nothing to commit"
    continue
  fi
  git commit -q -m "Seed $seed of $arch at the $profile profile: $what; $note; the README's claims summary rewritten from the records"
  git log --oneline -1
done
