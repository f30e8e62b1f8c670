#!/usr/bin/env bash
# Configures and builds thinkcache (Release, ninja) into build/.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${TC_BUILD_DIR:-$repo/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
