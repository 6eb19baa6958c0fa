#!/usr/bin/env bash
# Set up (tools/setup.sh), fetch the widget JavaScript and the CJK web font (npm registry) and build the book into
# book/_build/html. Reads the recorded runs in runs/ and never trains: a missing run is shown as missing on its
# page, with its command, and listed at the end of the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
bash book/_scripts/fetch_widget_js.sh
bash book/_scripts/fetch_cjk_font.sh
.venv/bin/jupyter-book build book/ -W --keep-going
echo "== built: $(pwd)/book/_build/html/index.html"
