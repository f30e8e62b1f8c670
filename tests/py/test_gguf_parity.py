"""GGUF files of every supported architecture and tensor type against transformers.

tests/py/gguf_models.py writes random llama / qwen2 / qwen3 GGUFs with gguf-py's writer, the
matrices spread over F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K (llama Q/K rows permuted as
convert_hf_to_gguf does), and a qwen2 whose matrices are Q5_0, Q5_1, Q2_K, Q3_K,
Q5_K, IQ4_NL and IQ4_XS. transformers loads the same files (dequantising with gguf-py) and is
the oracle. Both sides then hold identical f32 weights, so with an f32 KV cache the logits
agree to float32 arithmetic: max |diff| < 1e-3 on logits of magnitude ~3 (observed ~2e-6).
Qwen3 uses head_dim 128: transformers' GGUF loader ignores attention.key_length for qwen3 and
falls back to Qwen3Config's default of 128.
"""
import numpy as np
import pytest

from conftest import run_tc
from gguf_models import MORE_TYPES, VOCAB, write_random_gguf

CASES = {
    "llama": dict(arch="llama", seed=1, n_heads=4, n_kv_heads=2, head_dim=64),
    "qwen2": dict(arch="qwen2", seed=2, n_heads=4, n_kv_heads=1, head_dim=64, type_offset=3),
    "qwen3": dict(arch="qwen3", seed=3, n_heads=4, n_kv_heads=2, head_dim=128, type_offset=5, tied=True),
    "qwen2_more_types": dict(arch="qwen2", seed=4, n_heads=4, n_kv_heads=1, head_dim=64, type_cycle=MORE_TYPES),
}


@pytest.mark.parametrize("case", list(CASES))
def test_gguf_logits_match_transformers(tc_bin, tmp_path, case):
    import torch
    from transformers import AutoModelForCausalLM
    path = write_random_gguf(tmp_path / f"{case}.gguf", **CASES[case])
    model = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32).eval()
    ids = np.random.default_rng(7).integers(0, VOCAB, size=48).tolist()
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].numpy()
    run_tc(tc_bin, "logits", "--model", path, "--ids", ",".join(map(str, ids)), "--out", tmp_path / "l.npy",
           "--kv-dtype", "f32", "--prefill-chunk", "20")
    got = np.load(tmp_path / "l.npy")
    assert got.shape == ref.shape
    diff = np.abs(got - ref).max()
    assert diff < 1e-3, f"{case}: max |logit diff| {diff:.3g}"
