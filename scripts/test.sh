#!/usr/bin/env bash
# Builds and runs every test: the C++ unit tests (thinkcache_tests), then the Python tests
# that compare thinkcache against independent oracles (HF transformers / tokenizers).
# Assets must be present (scripts/setup.sh); TC_REQUIRE_ASSETS=1 makes their absence fail.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
scripts/build.sh
echo "== C++ unit tests"
./build/thinkcache_tests
for variant in build/thinkcache_kernel_tests_*; do  # the kernels' narrower SIMD paths (see CMakeLists.txt)
  [ -x "$variant" ] || continue
  echo "== C++ kernel tests, ${variant#build/thinkcache_kernel_tests_} path"
  "$variant"
done
echo "== Python oracle tests"
python3 -m pytest -q tests/py
