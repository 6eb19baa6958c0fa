#!/usr/bin/env bash
# Set up, then: the smoke sweep into a temporary run store, unit tests + every notebook under nbval in the smoke
# profile (reading that store), then the book build on the committed runs (-W: no warnings), then the
# checks on the built HTML (no image twice on a page, every figure numbered and captioned, nothing loaded
# from outside the site), then the browser test of the static widgets and formulas, offline (installs
# Debian's chromium and the playwright package if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
t0=$(date +%s)
smoke_runs=$(mktemp -d)
trap 'rm -rf "$smoke_runs" "$smoke_runs".sweep*.log' EXIT
echo "== the smoke sweep the notebooks read (the book only reads records; this trains them, a few seconds each)"
for part in 0 1; do  # two one-thread workers: about twice as fast as one process on 2 cores
  OMP_NUM_THREADS=1 RESNET_LAB_PROFILE=smoke RESNET_LAB_RUNS="$smoke_runs" \
    .venv/bin/python -m resnet_lab sweep --profile smoke --part $part/2 >"$smoke_runs.sweep$part.log" 2>&1 &
done
for part in 0 1; do wait -n || { tail -30 "$smoke_runs".sweep*.log; exit 1; }; done
rm -f "$smoke_runs".sweep*.log
echo "== unit tests + notebooks (nbval, profile smoke)"
RESNET_LAB_PROFILE=smoke RESNET_LAB_RUNS="$smoke_runs" .venv/bin/python -m pytest -q --nbval-lax \
  --ignore=tests/browser --ignore=tests/test_book_html.py tests book
t1=$(date +%s)
echo "== book build (the committed runs; no environment variables: a build never trains)"
bash book/_scripts/fetch_widget_js.sh
.venv/bin/jupyter-book build book/ -W --keep-going
echo "== checks on the built HTML"
RESNET_LAB_BOOK_HTML_REQUIRED=1 .venv/bin/python -m pytest -q tests/test_book_html.py
t2=$(date +%s)
echo "== browser test of the static widgets and formulas (no request may leave the site)"
bash .ci/browser-test.sh -q
t3=$(date +%s)
echo "== wall time: tests+nbval $((t1 - t0)) s, book build + HTML checks $((t2 - t1)) s, browser test $((t3 - t2)) s"
