#!/usr/bin/env python3
"""HF tokenizers' speed on the same corpus as bench/tokenizer_bench.cpp (single thread:
Tokenizer.encode in a loop, no encode_batch; RAYON_NUM_THREADS=1 as well).

usage: python3 bench/tokenizer_bench_hf.py [--bench build/tokenizer_bench] [--mb 4]
It asks the C++ bench to dump its corpus, then times HF on the Qwen3 and Llama-3 tokenizer.json
files and on the SmolLM2 oracle (built from the GGUF by transformers, with SmolLM2's Digits
pre-tokenizer restored; see tests/py/tokenizer_cases.py).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "py"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=str(REPO / "build" / "tokenizer_bench"))
    ap.add_argument("--mb", default="4")
    args = ap.parse_args()
    assets = pathlib.Path(os.environ.get("TC_ASSETS", REPO / "assets"))
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = pathlib.Path(tmp) / "corpus.jsonl"
        subprocess.run([args.bench, "--mb", args.mb, "--dump-corpus", str(corpus_path)], check=True,
                       stdout=subprocess.DEVNULL)
        corpus = [json.loads(line) for line in corpus_path.read_text(encoding="utf-8").split("\n") if line]
    total = sum(len(d.encode("utf-8")) for d in corpus)
    print(f"corpus: {len(corpus)} documents, {total / 1e6:.2f} MB")
    print(f"{'tokenizer (HF tokenizers, 1 thread)':<60} {'load_ms':>9} {'encode_MB/s':>12} {'decode_MB/s':>12} {'tokens':>10}")
    tokenizers = []
    for name in ["qwen3", "llama3"]:
        path = assets / "tokenizers" / name / "tokenizer.json"
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(str(path))
        tokenizers.append((str(path), tok, time.perf_counter() - t0))
    gguf = assets / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if gguf.exists():
        from tokenizer_cases import smollm2_oracle_json
        text, _ = smollm2_oracle_json(gguf)
        t0 = time.perf_counter()
        tok = Tokenizer.from_str(text)
        tokenizers.append((str(gguf) + " (oracle)", tok, time.perf_counter() - t0))
    for label, tok, load in tokenizers:
        for d in corpus[:20]:
            tok.encode(d)
        t0 = time.perf_counter()
        ids = [tok.encode(d).ids for d in corpus]
        enc = time.perf_counter() - t0
        t0 = time.perf_counter()
        for v in ids:
            tok.decode(v, skip_special_tokens=False)
        dec = time.perf_counter() - t0
        n = sum(len(v) for v in ids)
        print(f"{label:<60} {load * 1e3:9.0f} {total / 1e6 / enc:12.2f} {total / 1e6 / dec:12.1f} {n:10d}")


if __name__ == "__main__":
    main()
