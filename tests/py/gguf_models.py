"""Writes tiny random GGUF models with gguf-py's GGUFWriter (the reference writer), for the
GGUF parity and bad-input tests. transformers reads these files back as the oracle.

Tensors are written the way convert_hf_to_gguf.py does: GGUF names, llama Q/K rows permuted
for interleaved RoPE, and each matrix in a chosen GGML type. Q8_0/Q4_0/Q4_1/F16/BF16 come from
gguf.quants.quantize (Q5_0/Q5_1 too); Q2_K..Q6_K and IQ4_NL/IQ4_XS (which gguf-py cannot
quantise) are random blocks with sane f16 scales, so the weights are whatever those blocks decode to.
"""
import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

HIDDEN, FFN, VOCAB, LAYERS, CONTEXT = 256, 512, 384, 2, 512
TYPE_CYCLE = [T.Q4_K, T.Q6_K, T.Q4_0, T.Q4_1, T.Q8_0, T.F16, T.BF16, T.F32]
MORE_TYPES = [T.Q5_0, T.Q2_K, T.Q5_1, T.Q3_K, T.IQ4_NL, T.Q5_K, T.IQ4_XS]
RANDOM_BLOCK_TYPES = (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS)


def _random_kquant_blocks(rng, qtype, rows, cols):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_elems
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    def f16(lo, hi):
        return rng.uniform(lo, hi, size=n_blocks).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    # Scales chosen so the decoded weights have a spread near 1/sqrt(fan_in), like the others.
    if qtype == T.Q4_K:  # d, dmin, scales[12], qs[128]: x = d*sc*q - dmin*m (6-bit sc, m; 4-bit q)
        raw[:, 0:2] = f16(1e-4, 3e-4)
        raw[:, 2:4] = f16(0.0, 2e-4)
    elif qtype == T.Q6_K:  # ql[128], qh[64], scales[16] (int8), d: x = d*scale*(q - 32)
        raw[:, 192:208] = rng.integers(-32, 32, size=(n_blocks, 16), dtype=np.int8).view(np.uint8)
        raw[:, 208:210] = f16(5e-5, 1.5e-4)
    elif qtype == T.Q5_K:  # d, dmin, scales[12], qh[32], qs[128]: x = d*sc*q - dmin*m (q 5-bit)
        raw[:, 0:2] = f16(5e-5, 1.5e-4)
        raw[:, 2:4] = f16(0.0, 2e-4)
    elif qtype == T.Q2_K:  # scales[16], qs[64], d, dmin: x = d*(sc & 15)*q - dmin*(sc >> 4) (q 2-bit)
        raw[:, 80:82] = f16(1e-3, 3e-3)
        raw[:, 82:84] = f16(0.0, 2e-3)
    elif qtype == T.Q3_K:  # hmask[32], qs[64], scales[12], d: x = d*(sc - 32)*q (q in -4..3)
        raw[:, 108:110] = f16(-6e-4, 6e-4)
    elif qtype == T.IQ4_NL:  # d, qs[16]: x = d*kv[q], |kv| <= 127
        raw[:, 0:2] = f16(-6e-4, 6e-4)
    elif qtype == T.IQ4_XS:  # d, scales_h, scales_l[4], qs[128]: x = d*(ls - 32)*kv[q]
        raw[:, 0:2] = f16(-2e-5, 2e-5)
    return raw.reshape(rows, cols // block_elems * block_bytes)


def encode(rng, w, qtype):
    """w: float32 [rows, cols] -> the array GGUFWriter stores for qtype."""
    if qtype == T.F32:
        return w.astype(np.float32)
    if qtype == T.F16:
        return w.astype(np.float16)
    if qtype in RANDOM_BLOCK_TYPES:
        return _random_kquant_blocks(rng, qtype, *w.shape)
    return quants.quantize(w.astype(np.float32), qtype)


def permute_qk(w, n_head):
    # convert_hf_to_gguf LlamaModel.permute: rows of each head reordered so that RoPE pairs
    # (i, i + d/2) become adjacent (2i, 2i+1).
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_random_gguf(path, arch="llama", n_heads=4, n_kv_heads=2, head_dim=64, seed=0, tied=False,
                      type_offset=0, overrides=None, drop=(), metadata=None, type_cycle=TYPE_CYCLE):
    """A random `arch` model, its matrices in the types of type_cycle in turn. overrides: {gguf tensor name: np.ndarray or (raw uint8 blocks, GGML type)};
    drop: tensor names to leave out; metadata: extra/replaced keys {key: value}."""
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), arch)
    meta = {
        f"{arch}.block_count": LAYERS, f"{arch}.context_length": CONTEXT, f"{arch}.embedding_length": HIDDEN,
        f"{arch}.feed_forward_length": FFN, f"{arch}.attention.head_count": n_heads,
        f"{arch}.attention.head_count_kv": n_kv_heads, f"{arch}.rope.freq_base": 10000.0,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-6, f"{arch}.attention.key_length": head_dim,
        f"{arch}.attention.value_length": head_dim, f"{arch}.vocab_size": VOCAB,
    }
    meta.update(metadata or {})
    for key, value in meta.items():
        if key == "general.architecture":
            continue
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        else:
            w.add_string(key, value)
    # A byte-level "gpt2" vocabulary so tools that insist on a tokenizer can read the file.
    tokens = [f"<t{i}>" for i in range(VOCAB)]
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([1] * VOCAB)
    w.add_token_merges([])
    w.add_eos_token_id(2)

    types = iter(type_cycle[type_offset:] + type_cycle * 20)
    tensors = {}

    def mat(rows, cols, scale=None):
        return (rng.standard_normal((rows, cols)) * (scale or cols ** -0.5)).astype(np.float32)

    def vec(n, mean=0.0, std=0.1):
        return (mean + std * rng.standard_normal(n)).astype(np.float32)

    tensors["token_embd.weight"] = (mat(VOCAB, HIDDEN, 1.0), T.Q8_0)
    for l in range(LAYERS):
        p = f"blk.{l}."
        q, k = mat(n_heads * head_dim, HIDDEN), mat(n_kv_heads * head_dim, HIDDEN)
        if arch == "llama":
            q, k = permute_qk(q, n_heads), permute_qk(k, n_kv_heads)
        tensors[p + "attn_norm.weight"] = (vec(HIDDEN, 1.0, 0.2), T.F32)
        tensors[p + "attn_q.weight"] = (q, next(types))
        tensors[p + "attn_k.weight"] = (k, next(types))
        tensors[p + "attn_v.weight"] = (mat(n_kv_heads * head_dim, HIDDEN), next(types))
        tensors[p + "attn_output.weight"] = (mat(HIDDEN, n_heads * head_dim), next(types))
        if arch == "qwen2":
            tensors[p + "attn_q.bias"] = (vec(n_heads * head_dim), T.F32)
            tensors[p + "attn_k.bias"] = (vec(n_kv_heads * head_dim), T.F32)
            tensors[p + "attn_v.bias"] = (vec(n_kv_heads * head_dim), T.F32)
        if arch == "qwen3":
            tensors[p + "attn_q_norm.weight"] = (vec(head_dim, 1.0, 0.2), T.F32)
            tensors[p + "attn_k_norm.weight"] = (vec(head_dim, 1.0, 0.2), T.F32)
        tensors[p + "ffn_norm.weight"] = (vec(HIDDEN, 1.0, 0.2), T.F32)
        tensors[p + "ffn_gate.weight"] = (mat(FFN, HIDDEN), next(types))
        tensors[p + "ffn_up.weight"] = (mat(FFN, HIDDEN), next(types))
        tensors[p + "ffn_down.weight"] = (mat(HIDDEN, FFN), next(types))
    tensors["output_norm.weight"] = (vec(HIDDEN, 1.0, 0.2), T.F32)
    if not tied:
        tensors["output.weight"] = (mat(VOCAB, HIDDEN), T.Q6_K)

    for name, (value, qtype) in tensors.items():
        if name in drop:
            continue
        if overrides and name in overrides:
            value = overrides[name]
            if isinstance(value, tuple):  # (raw bytes, GGML type)
                w.add_tensor(name, value[0], raw_shape=value[0].shape, raw_dtype=value[1])
            else:
                w.add_tensor(name, value)
            continue
        data = encode(rng, value, qtype)
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
