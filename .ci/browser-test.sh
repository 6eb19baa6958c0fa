#!/usr/bin/env bash
# .ci/browser-test.sh -- check that the ipywidgets and the formulas work in the STATIC built book, offline.
#
# Idempotent; each step is skipped when already done:
#   1. apt-get installs Debian's `chromium` (needs root or sudo; apt-get update first)
#   2. pip-installs the `playwright` Python package into the venv (never runs
#      `playwright install`: the browser is Debian's /usr/bin/chromium)
#   3. fetches the widget JS and MathJax from the npm registry (book/_scripts/fetch_widget_js.sh), and the CJK
#      web font (book/_scripts/fetch_cjk_font.sh: every page links its CSS, so a build without it would 404)
#   4. builds the book (jupyter-book build book/ -W --keep-going) if the widget
#      page is missing or older than any book source / config
#   5. runs tests/browser/test_static_widgets.py (widgets and formulas, every external host blocked
#      and any request to one a failure) with RESNET_LAB_BROWSER_REQUIRED=1
#      (so a missing piece fails instead of skipping)
#
# Env: VENV (default .venv), RESNET_LAB_WIDGET_PAGE (default 04_layer_responses.html),
#      FORCE_BUILD=1 to always build. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${VENV:-.venv}"
PAGE="${RESNET_LAB_WIDGET_PAGE:-04_layer_responses.html}"
if [[ -x "$VENV/bin/python" ]]; then PY="$VENV/bin/python"; else PY="$(command -v python3)"; fi
JB="$(dirname "$PY")/jupyter-book"
SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"

# 1. browser
if [[ ! -x /usr/bin/chromium ]]; then
  echo "== installing chromium (apt)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
fi

# 2. playwright (Python package only)
if ! "$PY" -c "import playwright.sync_api" 2>/dev/null; then
  echo "== pip install playwright"
  "$PY" -m pip install playwright
fi

# 3. widget JS and MathJax from npm into book/_widget_js/_static/{widgets,mathjax}/, the CJK font into .../fonts/
bash book/_scripts/fetch_widget_js.sh
bash book/_scripts/fetch_cjk_font.sh

# 4. build if needed
built="book/_build/html/$PAGE"
if [[ "${FORCE_BUILD:-0}" == 1 || ! -f "$built" ]] \
   || [[ -n "$(find book _config.yml _toc.yml resnet_lab -path book/_build -prune -o -type f \
                \( -name '*.ipynb' -o -name '*.md' -o -name '*.py' -o -name '*.yml' -o -name '*.bib' -o -name '*.js' \) \
                -newer "$built" -print -quit)" ]]; then
  echo "== jupyter-book build book/"
  "$JB" build book/ -W --keep-going
fi

# 5. the test
echo "== browser test ($PAGE)"
run_test() {
  RESNET_LAB_BROWSER_REQUIRED=1 RESNET_LAB_WIDGET_PAGE="$PAGE" \
    "$PY" -m pytest tests/browser/test_static_widgets.py -q -rs "$@"
}
# one retry: a cold headless Chromium on a loaded 2-core machine has timed out once in ~10 runs
run_test "$@" || { echo "== browser test failed once; retrying"; run_test "$@"; }
