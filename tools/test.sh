#!/usr/bin/env bash
# Set up, then: unit tests + every notebook under nbval in the smoke profile (smoke runs go to a temporary
# run store), then the book build with training disabled on the committed runs (-W: no warnings), then the
# checks on the built HTML (no image twice on a page, every figure numbered and captioned, nothing loaded
# from outside the site), then the browser test of the static widgets and formulas, offline (installs
# Debian's chromium and the playwright package if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
t0=$(date +%s)
smoke_runs=$(mktemp -d)
trap 'rm -rf "$smoke_runs"' EXIT
echo "== unit tests + notebooks (nbval, profile smoke)"
RESNET_LAB_PROFILE=smoke RESNET_LAB_RUNS="$smoke_runs" .venv/bin/python -m pytest -q --nbval-lax \
  --ignore=tests/browser --ignore=tests/test_book_html.py tests book
t1=$(date +%s)
echo "== book build (recorded runs, training disabled)"
bash book/_scripts/fetch_widget_js.sh
RESNET_LAB_ALLOW_TRAINING=0 .venv/bin/jupyter-book build book/ -W --keep-going
echo "== checks on the built HTML"
RESNET_LAB_BOOK_HTML_REQUIRED=1 .venv/bin/python -m pytest -q tests/test_book_html.py
t2=$(date +%s)
echo "== browser test of the static widgets and formulas (no request may leave the site)"
bash .ci/browser-test.sh -q
t3=$(date +%s)
echo "== wall time: tests+nbval $((t1 - t0)) s, book build + HTML checks $((t2 - t1)) s, browser test $((t3 - t2)) s"
