"""Bad input to the tokenizer commands: each case is a clear error naming the problem (exit 1),
never a crash. Broken GGUF files are written with the gguf package."""
import json
import shutil

import gguf
import numpy as np
import pytest

from conftest import ASSETS, require, run_tc


def expect_error(tc_bin, *args, contains):
    p = run_tc(tc_bin, *args, check=False)
    assert p.returncode == 1, (p.returncode, p.stdout[-500:], p.stderr[-500:])
    for part in ([contains] if isinstance(contains, str) else contains):
        assert part in p.stderr, p.stderr
    return p


def write_gguf(path, tokenizer_kv):
    """A GGUF file with one small tensor and the given tokenizer metadata."""
    w = gguf.GGUFWriter(str(path), "llama")
    for key, value in tokenizer_kv.items():
        if isinstance(value, str):
            w.add_string(key, value)
        elif isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value)
        else:
            w.add_array(key, value)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


TINY_TOKENS = ["a", "b", "ab", "Ġ", "<|im_end|>"]
TINY_MERGES = ["a b"]


def tiny_gguf_kv(**over):
    kv = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2", "tokenizer.ggml.tokens": TINY_TOKENS,
          "tokenizer.ggml.merges": TINY_MERGES, "tokenizer.ggml.token_type": [1, 1, 1, 1, 3],
          "tokenizer.ggml.eos_token_id": 4}
    kv.update(over)
    return {k: v for k, v in kv.items() if v is not None}


def test_tiny_gguf_works(tc_bin, tmp_path):
    """The crafted file is valid when nothing is removed (so the errors below are the cause)."""
    path = write_gguf(tmp_path / "ok.gguf", tiny_gguf_kv())
    out = json.loads(run_tc(tc_bin, "tokenize", "--model", path, "--text", "ab<|im_end|>a b", "--json").stdout)
    assert out["ids"] == [2, 4, 0, 3, 1]


def test_gguf_without_vocabulary(tc_bin, tmp_path):
    path = write_gguf(tmp_path / "novocab.gguf", tiny_gguf_kv(**{"tokenizer.ggml.tokens": None}))
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains=["no vocabulary", "tokenizer.ggml.tokens"])


def test_gguf_without_tokenizer(tc_bin, tmp_path):
    path = write_gguf(tmp_path / "none.gguf", {})
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains="has no tokenizer")


def test_gguf_unknown_pre_tokenizer(tc_bin, tmp_path):
    path = write_gguf(tmp_path / "pre.gguf", tiny_gguf_kv(**{"tokenizer.ggml.pre": "klingon-bpe"}))
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains=["unknown pre-tokenizer", "klingon-bpe", "llama-bpe"])


def test_gguf_sentencepiece_is_refused(tc_bin, tmp_path):
    path = write_gguf(tmp_path / "spm.gguf", tiny_gguf_kv(**{"tokenizer.ggml.model": "llama"}))
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains="tokenizer.ggml.model='llama' is not supported")


def test_gguf_bad_merge_and_type_count(tc_bin, tmp_path):
    path = write_gguf(tmp_path / "merge.gguf", tiny_gguf_kv(**{"tokenizer.ggml.merges": ["a c"]}))
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains=["merge 0 'a c'", "'c' is not in the vocabulary"])
    path = write_gguf(tmp_path / "types.gguf", tiny_gguf_kv(**{"tokenizer.ggml.token_type": [1, 1]}))
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains="token_type has 2 entries for 5 tokens")
    path = write_gguf(tmp_path / "eos.gguf", tiny_gguf_kv(**{"tokenizer.ggml.eos_token_id": 99}))
    expect_error(tc_bin, "tokenize", "--model", path, "--text", "x", contains="eos_token_id = 99 is outside the vocabulary")


def test_truncated_gguf(tc_bin, tmp_path):
    path = write_gguf(tmp_path / "full.gguf", tiny_gguf_kv())
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:60])
    p = run_tc(tc_bin, "tokenize", "--model", cut, "--text", "x", check=False)
    assert p.returncode == 1 and "cut.gguf" in p.stderr


def test_missing_paths(tc_bin, tmp_path):
    expect_error(tc_bin, "tokenize", "--model", tmp_path / "nope", "--text", "x", contains="no such file or folder")
    (tmp_path / "empty").mkdir()
    expect_error(tc_bin, "tokenize", "--model", tmp_path / "empty", "--text", "x", contains="no tokenizer.json")
    (tmp_path / "notes.txt").write_text("hello")
    expect_error(tc_bin, "tokenize", "--model", tmp_path / "notes.txt", "--text", "x", contains="not a model folder")


@pytest.fixture
def qwen3_copy(tmp_path):
    src = require(ASSETS / "tokenizers" / "qwen3")
    return json.loads((src / "tokenizer.json").read_text())


def folder_with(tmp_path, name, tokenizer_json_text):
    d = tmp_path / name
    d.mkdir()
    (d / "tokenizer.json").write_text(tokenizer_json_text)
    return d


def test_malformed_tokenizer_json(tc_bin, tmp_path, qwen3_copy):
    text = json.dumps(qwen3_copy)
    d = folder_with(tmp_path, "trunc", text[:5000])
    expect_error(tc_bin, "tokenize", "--model", d, "--text", "x", contains=["tokenizer.json", "line 1, column"])
    d = folder_with(tmp_path, "array", "[1, 2]")
    expect_error(tc_bin, "tokenize", "--model", d, "--text", "x", contains="not a tokenizer.json")
    broken = dict(qwen3_copy)
    del broken["model"]
    d = folder_with(tmp_path, "nomodel", json.dumps(broken))
    expect_error(tc_bin, "tokenize", "--model", d, "--text", "x", contains=["tokenizer.json", "model"])


def test_unknown_pre_tokenizer_and_regex(tc_bin, tmp_path, qwen3_copy):
    meta = dict(qwen3_copy, pre_tokenizer={"type": "Metaspace", "replacement": "▁"})
    d = folder_with(tmp_path, "meta", json.dumps(meta))
    expect_error(tc_bin, "tokenize", "--model", d, "--text", "x", contains="unsupported pre-tokenizer type 'Metaspace'")
    split = dict(qwen3_copy)
    split["pre_tokenizer"] = json.loads(json.dumps(qwen3_copy["pre_tokenizer"]))
    split["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\p{L}+|\s+"
    d = folder_with(tmp_path, "regex", json.dumps(split))
    expect_error(tc_bin, "tokenize", "--model", d, "--text", "x", contains=[r"unsupported Split regex '\p{L}+|\s+'"])
    norm = dict(qwen3_copy, normalizer={"type": "NFKC"})
    d = folder_with(tmp_path, "nfkc", json.dumps(norm))
    expect_error(tc_bin, "tokenize", "--model", d, "--text", "x", contains="unsupported normalizer type 'NFKC'")


def test_bad_ids_and_options(tc_bin):
    qwen3 = require(ASSETS / "tokenizers" / "qwen3")
    expect_error(tc_bin, "detokenize", "--model", qwen3, "--ids", "1,999999", contains="token id 999999 is not in the vocabulary")
    expect_error(tc_bin, "detokenize", "--model", qwen3, "--ids", "1,x2", contains="'x2' is not a token id")
    expect_error(tc_bin, "tokenize", "--model", qwen3, contains="exactly one of")
    expect_error(tc_bin, "tokenize", "--model", qwen3, "--text", "a", "--frobnicate", contains="frobnicate")


def test_malformed_batch_lines(tc_bin, tmp_path):
    qwen3 = require(ASSETS / "tokenizers" / "qwen3")
    f = tmp_path / "in.jsonl"
    f.write_text('"ok"\n{"not": "a string"}\n')
    expect_error(tc_bin, "tokenize", "--model", qwen3, "--jsonl", f, contains=["in.jsonl:2", "expected a JSON string"])
    f.write_text('"unterminated\n')
    expect_error(tc_bin, "tokenize", "--model", qwen3, "--jsonl", f, contains="in.jsonl:1")
