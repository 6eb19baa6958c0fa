#!/usr/bin/env bash
# Set up (tools/setup.sh), fetch the widget JavaScript (npm registry) and build the book into
# book/_build/html. Uses the recorded runs in runs/; trains only what is missing (set
# RESNET_LAB_ALLOW_TRAINING=0 to forbid that).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
bash book/_scripts/fetch_widget_js.sh
.venv/bin/jupyter-book build book/ -W --keep-going
echo "== built: $(pwd)/book/_build/html/index.html"
