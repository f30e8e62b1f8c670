#!/usr/bin/env bash
# One-time set-up of a fresh machine: toolchain, Python oracles, real assets, and a build.
# Safe to re-run. Usage: scripts/setup.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v ninja >/dev/null || need_apt+=(ninja-build)
command -v g++ >/dev/null || need_apt+=(g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt"
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

echo "setup: Python packages (tools/requirements.txt)"
python3 -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt 2>&1 | grep -v "is ignored: it is neither" || true
python3 -c "import torch, transformers, tokenizers" # fail loudly if the install did not work

scripts/fetch_assets.sh
scripts/build.sh
