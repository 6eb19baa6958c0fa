#!/usr/bin/env bash
# Create .venv and install requirements.txt (torch/torchvision from this machine's disk or PyPI) and the
# package itself. Idempotent: skipped when .venv matches requirements.txt and pyproject.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=".venv/.requirements.sha"
want=$(cat requirements.txt pyproject.toml | sha1sum | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "== setting up .venv"
  python3 -m venv .venv
  # uv (from PyPI) installs the same pinned requirements several times faster than pip (parallel downloads); pip
  # stays the fallback.
  if .venv/bin/python -m pip install -q uv && .venv/bin/uv pip install -q --python .venv/bin/python -r requirements.txt; then
    :
  else
    echo "== uv failed; installing with pip"
    .venv/bin/python -m pip install -q -U pip
    .venv/bin/python -m pip install -q -r requirements.txt
  fi
  echo "$want" > "$stamp"
fi
# CIFAR-10: an explicit RESNET_LAB_CIFAR10 wins; else the offline copy beside the repo, if there is one;
# else the official release is downloaded (needs network).
if [[ -z "${RESNET_LAB_CIFAR10:-}" ]]; then
  if [[ -d ../shared/data/cifar10-jpeg ]]; then
    export RESNET_LAB_CIFAR10="$(cd ../shared/data/cifar10-jpeg && pwd)"
  else
    export RESNET_LAB_CIFAR10=official
  fi
fi
echo "== CIFAR-10 source: $RESNET_LAB_CIFAR10"
