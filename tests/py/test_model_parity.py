"""Logits and greedy tokens of thinkcache against HF transformers on seeded tiny random models.

Models (tools/make_random_models.py): Llama with llama3 rope scaling (GQA 6/2, sharded
safetensors), Llama MHA with attention+MLP bias and head_dim != hidden/heads (tied), Qwen2 with
q/k/v bias (GQA 8/2, tied), Qwen3 with q/k norm (GQA 6/2, head_dim 32 != 64/6) and Qwen3 MQA
(4/1, tied); F32 and BF16 files.

Tolerances (logits of magnitude up to ~70 on these models):
- F32 weights, f32 KV cache: max |diff| < 1e-3. Both sides compute in f32 on identical weights;
  what remains is summation order (observed ~2e-5).
- BF16 weights vs transformers on the same weights upcast to f32: also < 1e-3, since thinkcache
  computes in f32 from BF16 weights exactly like that oracle.
- BF16 weights vs transformers running natively in bf16: < 0.5 abs and the argmax agrees on
  >= 90% of positions. Native bf16 rounds every activation to 8 bits of mantissa (relative
  error ~4e-3 per op, compounded over the layers); thinkcache keeps activations in f32, so it
  is the *more* exact of the two and only a loose agreement is expected (observed 0.03-0.27).
"""
import json

import numpy as np
import pytest

from conftest import run_tc
from random_models import build_random_models

ALL = ["llama3_gqa3_f32", "llama3_gqa3_bf16", "llama_mha_bias_tied_f32", "qwen2_gqa4_tied_f32",
       "qwen2_gqa4_tied_bf16", "qwen3_gqa3_f32", "qwen3_gqa3_bf16", "qwen3_mqa_tied_f32"]
F32 = [n for n in ALL if n.endswith("_f32")]
BF16 = [n for n in ALL if n.endswith("_bf16")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_random_models(tmp_path_factory.mktemp("random_models"))


def tc_logits(tc_bin, model_dir, ids, out, *extra):
    run_tc(tc_bin, "logits", "--model", model_dir, "--ids", ",".join(map(str, ids)), "--out", out, *extra)
    return np.load(out)


@pytest.mark.parametrize("name", ALL)
def test_logits_match_transformers_f32(tc_bin, models, tmp_path, name):
    ref_dir = models / f"{name}.ref"
    ids = np.load(ref_dir / "ids.npy")
    ref = np.load(ref_dir / "logits.npy")
    # A chunk of 16 splits the 40-token prompt into 3 forward calls (cache reuse across chunks).
    got = tc_logits(tc_bin, models / name, ids, tmp_path / "l.npy", "--kv-dtype", "f32", "--prefill-chunk", "16")
    assert got.shape == ref.shape
    diff = np.abs(got - ref).max()
    assert diff < 1e-3, f"{name}: max |logit diff| {diff:.3g}"


@pytest.mark.parametrize("name", BF16)
def test_bf16_logits_close_to_native_bf16_transformers(tc_bin, models, tmp_path, name):
    ref_dir = models / f"{name}.ref"
    ids = np.load(ref_dir / "ids.npy")
    native = np.load(ref_dir / "logits_native.npy")
    got = tc_logits(tc_bin, models / name, ids, tmp_path / "l.npy", "--kv-dtype", "bf16")
    diff = np.abs(got - native).max()
    agree = (got.argmax(-1) == native.argmax(-1)).mean()
    assert diff < 0.5, f"{name}: max |diff| {diff:.3g} vs native bf16"
    assert agree >= 0.9, f"{name}: argmax agrees on only {agree:.0%} of positions"


@pytest.mark.parametrize("name", F32)
def test_greedy_tokens_match_transformers_generate(tc_bin, models, name):
    ref = json.loads((models / f"{name}.ref" / "greedy.json").read_text())
    p = run_tc(tc_bin, "generate", "--model", models / name, "--ids", ",".join(map(str, ref["prompt"])),
               "--max-tokens", len(ref["tokens"]), "--ignore-eos", "--kv-dtype", "f32", "--json")
    out = json.loads(p.stdout)
    assert out["tokens"] == ref["tokens"]
    assert out["generated_tokens"] == len(ref["tokens"]) >= 32
    assert out["prompt_tokens"] == len(ref["prompt"])


def test_prefill_chunking_does_not_change_logits(tc_bin, models, tmp_path):
    # Invariant: one 40-token forward and 40 one-token forwards see the same cache.
    name = "qwen3_gqa3_f32"
    ids = np.load(models / f"{name}.ref" / "ids.npy")
    whole = tc_logits(tc_bin, models / name, ids, tmp_path / "a.npy", "--kv-dtype", "f32", "--prefill-chunk", "64")
    single = tc_logits(tc_bin, models / name, ids, tmp_path / "b.npy", "--kv-dtype", "f32", "--prefill-chunk", "1")
    assert np.abs(whole - single).max() < 1e-4


def test_f16_kv_cache_stays_close(tc_bin, models, tmp_path):
    name = "llama3_gqa3_f32"
    ids = np.load(models / f"{name}.ref" / "ids.npy")
    ref = np.load(models / f"{name}.ref" / "logits.npy")
    got = tc_logits(tc_bin, models / name, ids, tmp_path / "l.npy")  # default: f16 KV
    assert np.abs(got - ref).max() < 2e-2  # f16 keeps 11 significant bits of K and V


@pytest.mark.parametrize("name", ["llama3_gqa3_f32", "qwen2_gqa4_tied_f32", "qwen3_gqa3_bf16"])
def test_inspect_reports_hf_config_and_parameter_count(tc_bin, models, name):
    import torch  # noqa: F401  (transformers needs it)
    from transformers import AutoConfig, AutoModelForCausalLM
    folder = models / name
    out = json.loads(run_tc(tc_bin, "inspect", folder, "--json").stdout)
    cfg = AutoConfig.from_pretrained(folder)
    hf = AutoModelForCausalLM.from_pretrained(folder)
    assert out["parameters"] == hf.num_parameters()
    assert out["n_layers"] == cfg.num_hidden_layers
    assert out["n_heads"] == cfg.num_attention_heads
    assert out["n_kv_heads"] == cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    assert out["head_dim"] == head_dim
    assert out["tied_embeddings"] == cfg.tie_word_embeddings
    # K and V, every layer and KV head, 2 bytes each at f16.
    assert out["kv_bytes_per_token_f16"] == 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 2


def test_sampling_reproducible_with_seed(tc_bin, models):
    folder = models / "qwen2_gqa4_tied_f32"

    def run(seed):
        p = run_tc(tc_bin, "generate", "--model", folder, "--ids", "5,6,7,8", "--max-tokens", 24, "--ignore-eos",
                   "--temp", "1.5", "--top-k", "50", "--top-p", "0.95", "--min-p", "0.01", "--repeat-penalty", "1.1",
                   "--seed", seed, "--json")
        return json.loads(p.stdout)["tokens"]

    a, b, c = run(11), run(11), run(12)
    assert a == b
    assert a != c
