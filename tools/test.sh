#!/usr/bin/env bash
# Set up, then: the smoke sweep into a temporary run store; the unit tests beside every notebook under nbval in the
# smoke profile (reading that store); the book build on the committed runs (-W: no warnings; no environment
# variables: a build never trains); the checks on the built HTML (no image twice on a page, every figure numbered
# and captioned, no one-seed "finding", nothing loaded from outside the site); the browser test of the static
# widgets and formulas, offline (installs Debian's chromium and the playwright package if missing).
#
# On 2 cores the work runs as two one-thread streams (the unit tests; the notebooks, then the book build), which
# keeps both cores busy where one two-thread process would leave one idle in Python-bound stretches.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
logs=$(mktemp -d)
smoke_runs=$(mktemp -d)
trap 'rm -rf "$smoke_runs" "$logs"' EXIT
apt_pid=""
if [[ ! -x /usr/bin/chromium ]]; then  # the browser test's chromium, fetched while the rest runs
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  ( $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      chromium ) >"$logs/apt.log" 2>&1 &
  apt_pid=$!
fi
source tools/setup.sh
export RESNET_LAB_PROFILE=smoke RESNET_LAB_RUNS="$smoke_runs" OMP_NUM_THREADS=1
t1=$(date +%s)

echo "== the smoke sweep the notebooks read (the book only reads records; this trains them, a few seconds each)"
sweep_pids=()
for part in 0 1; do
  .venv/bin/python -m resnet_lab sweep --profile smoke --part $part/2 >"$logs/sweep$part.log" 2>&1 &
  sweep_pids+=($!)
done
for pid in "${sweep_pids[@]}"; do wait "$pid" || { tail -30 "$logs"/sweep*.log; exit 1; }; done
t2=$(date +%s)

echo "== unit tests beside notebooks (nbval, profile smoke), then the book build"
.venv/bin/python -m pytest -q --ignore=tests/browser --ignore=tests/test_book_html.py tests >"$logs/unit.log" 2>&1 &
unit_pid=$!
nb_rc=0
{
  .venv/bin/python -m pytest -q --nbval-lax book && t_nb=$(date +%s) && echo "nbval done after $((t_nb - t2)) s" &&
  bash book/_scripts/fetch_widget_js.sh &&
  bash book/_scripts/fetch_cjk_font.sh &&
  env -u RESNET_LAB_PROFILE -u RESNET_LAB_RUNS .venv/bin/jupyter-book build book/ -W --keep-going
} >"$logs/book.log" 2>&1 || nb_rc=$?
unit_rc=0; wait $unit_pid || unit_rc=$?
echo "== unit tests"; tail -40 "$logs/unit.log"
echo "== notebooks (nbval) and book build"; grep -E "passed|failed|error|Error|nbval done|build succeeded|resnet_lab: " \
  "$logs/book.log" | tail -40 || true
if [[ $nb_rc != 0 ]]; then tail -80 "$logs/book.log"; fi
[[ $unit_rc == 0 && $nb_rc == 0 ]] || { echo "FAILED: unit tests rc $unit_rc, notebooks/book rc $nb_rc"; exit 1; }
t3=$(date +%s)

unset RESNET_LAB_PROFILE RESNET_LAB_RUNS OMP_NUM_THREADS
echo "== checks on the built HTML"
RESNET_LAB_BOOK_HTML_REQUIRED=1 .venv/bin/python -m pytest -q tests/test_book_html.py
echo "== browser test of the static widgets and formulas (no request may leave the site)"
if [[ -n "$apt_pid" ]]; then wait "$apt_pid" || { cat "$logs/apt.log"; exit 1; }; fi
bash .ci/browser-test.sh -q
t4=$(date +%s)
echo "== wall time: setup $((t1 - t0)) s, smoke sweep $((t2 - t1)) s, unit tests + notebooks + book build $((t3 - t2)) s, HTML checks + browser test $((t4 - t3)) s; total $((t4 - t0)) s"
