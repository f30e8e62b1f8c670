"""Block dequantisation against the gguf package, the independent oracle for the formats.

Python writes weight rows (raw GGML blocks) and gguf.quants.dequantize's values for them; the
C++ test cpu_dequantize_matches_gguf_oracle (thinkcache_tests, pointed here by
TC_DEQUANT_ORACLE_DIR) runs both tc::dequantize_row (the reference) and cpu::dequantize_row
(the SIMD kernels' decoder) on the same bytes and compares.

* Q8_0 and Q4_1: rows of the real SmolLM2 GGUF (the C++ side reads them with our GGUF reader).
* Q4_0, Q8_0, Q4_1, Q5_0, Q5_1, BF16, F16: random data quantised with gguf.quants.quantize.
* Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS: gguf-py cannot quantise them, so random but
  valid blocks (every byte random except the f16 scales, which are finite and of a sane size),
  dequantised by gguf-py.
* Q5_0, Q8_0, Q4_K, Q6_K: rows of the real Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF.
"""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader
from gguf.quants import dequantize, quantize

from conftest import BUILD

TEST_NAME = "cpu_dequantize_matches_gguf_oracle"


def run_oracle(case_dir: pathlib.Path, cases: list) -> None:
    (case_dir / "manifest.json").write_text(json.dumps({"cases": cases}))
    exe = BUILD / "thinkcache_tests"
    if not exe.exists():
        pytest.fail(f"{exe} not built (run scripts/build.sh)")
    # The narrower vector paths too (AVX2, scalar), where CMake built them (TC_KERNEL_VARIANT_TESTS).
    exes = [exe] + sorted(BUILD.glob("thinkcache_kernel_tests_*"))
    env = dict(os.environ, TC_DEQUANT_ORACLE_DIR=str(case_dir))
    for exe in exes:
        proc = subprocess.run([str(exe), TEST_NAME], capture_output=True, text=True, env=env, timeout=300)
        out = f"{exe.name}:\n{proc.stdout}{proc.stderr}"
        assert proc.returncode == 0, out
        assert "1 passed, 0 failed" in proc.stdout, out
        # The C++ side reports what it compared, so a test that silently did nothing fails here.
        assert f"compared {len(cases)} cases" in proc.stdout, out


def save_case(case_dir, name, dtype, raw: np.ndarray, expected: np.ndarray) -> dict:
    raw = np.ascontiguousarray(raw).view(np.uint8)
    (case_dir / f"{name}.bin").write_bytes(raw.tobytes())
    np.save(case_dir / f"{name}.npy", expected.astype(np.float32))
    return {"name": name, "dtype": dtype, "rows": int(expected.shape[0]), "cols": int(expected.shape[1]),
            "raw": f"{name}.bin", "expected": f"{name}.npy"}


# Byte offsets of each block type's f16 scales (the rest of a block is any bytes) and their range.
F16_SCALES = {
    Q.Q4_K: ([0, 2], (0, 0.01)),      # d, dmin, scales[12], qs[128]
    Q.Q5_K: ([0, 2], (0, 0.01)),      # d, dmin, scales[12], qh[32], qs[128]
    Q.Q6_K: ([208], (-0.01, 0.01)),   # ql[128], qh[64], scales[16], d
    Q.Q2_K: ([80, 82], (0, 0.02)),    # scales[16], qs[64], d, dmin
    Q.Q3_K: ([108], (-0.01, 0.01)),   # hmask[32], qs[64], scales[12], d
    Q.IQ4_NL: ([0], (-0.01, 0.01)),   # d, qs[16]
    Q.IQ4_XS: ([0], (-0.001, 0.001)),  # d, scales_h, scales_l[4], qs[128]
}


def random_blocks(rng, rows, cols, qtype):
    """Random valid rows of a block type gguf-py cannot quantise: every byte random except the
    f16 scales (finite, sane)."""
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_elems
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    offsets, (lo, hi) = F16_SCALES[qtype]
    for at in offsets:
        d = rng.uniform(lo, hi, size=(n_blocks, 1)).astype(np.float16)
        d[0] = 0.0  # a zero scale, as quantisers write for all-zero blocks
        blocks[:, at:at + 2] = d.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(rows, -1)


def test_dequantize_synthetic_blocks_match_gguf(tmp_path):
    rng = np.random.default_rng(1234)
    cases = []
    # Odd sizes on purpose: rows not a multiple of anything, widths with vector tails (F16/BF16).
    for name, qtype, dtype, rows, cols in [("q4_0", Q.Q4_0, "q4_0", 7, 96), ("q8_0", Q.Q8_0, "q8_0", 5, 320),
                                           ("q4_1", Q.Q4_1, "q4_1", 9, 64), ("q5_0", Q.Q5_0, "q5_0", 7, 160),
                                           ("q5_1", Q.Q5_1, "q5_1", 5, 96), ("bf16", Q.BF16, "bf16", 3, 77),
                                           ("f16", Q.F16, "f16", 4, 45)]:
        x = (rng.standard_normal((rows, cols)) * rng.uniform(0.01, 3.0, size=(rows, 1))).astype(np.float32)
        x[0, :5] = [0.0, -0.0, 1e-6, -65000.0, 3.5]  # zero, tiny, large
        raw = quantize(x, qtype)
        cases.append(save_case(tmp_path, name, dtype, raw, dequantize(raw, qtype)))
    for qtype in F16_SCALES:
        name = qtype.name.lower()
        block_elems = GGML_QUANT_SIZES[qtype][0]
        raw = random_blocks(rng, 6, 2 * 256 if block_elems == 256 else 7 * 32, qtype)
        cases.append(save_case(tmp_path, name, name, raw, dequantize(raw, qtype)))
    run_oracle(tmp_path, cases)


def test_dequantize_every_code_and_scale_bit(tmp_path):
    """Blocks that walk every code value through every position and every scale bit pattern
    (all-zero and all-one bytes next to random ones), for the types without a quantiser."""
    rng = np.random.default_rng(99)
    cases = []
    for qtype in F16_SCALES:
        block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
        n_blocks = 16
        raw = random_blocks(rng, 1, n_blocks * block_elems, qtype).reshape(n_blocks, block_bytes)
        offsets, _ = F16_SCALES[qtype]
        keep = np.zeros(block_bytes, dtype=bool)
        for at in offsets:
            keep[at:at + 2] = True
        for b, fill in enumerate([0x00, 0xFF, 0x55, 0xAA]):  # every non-scale byte set to a pattern
            raw[b, ~keep] = fill
        for b in range(4, n_blocks):  # byte value b*16 + k cycles through all 256 values over the blocks
            raw[b, ~keep] = (np.arange((~keep).sum()) * 7 + b * 16) % 256
        name = f"pattern_{qtype.name.lower()}"
        cases.append(save_case(tmp_path, name, qtype.name.lower(), raw.reshape(1, -1),
                               dequantize(raw.reshape(1, -1), qtype)))
    run_oracle(tmp_path, cases)


def test_dequantize_real_smollm2_tensors_match_gguf(tmp_path, smollm2_gguf):
    reader = GGUFReader(str(smollm2_gguf))
    tensors = {t.name: t for t in reader.tensors}
    cases = []
    for name, dtype, row_begin, rows in [("token_embd.weight", "q8_0", 0, 40),
                                         ("token_embd.weight", "q8_0", 49152 - 40, 40),
                                         ("blk.0.attn_q.weight", "q4_1", 0, 64),
                                         ("blk.29.ffn_down.weight", "q4_1", 500, 76)]:
        t = tensors[name]
        assert t.tensor_type == {"q8_0": Q.Q8_0, "q4_1": Q.Q4_1}[dtype]
        raw = np.asarray(t.data[row_begin:row_begin + rows])
        expected = dequantize(raw, t.tensor_type)
        case = f"{name.replace('.', '_')}_{row_begin}"
        np.save(tmp_path / f"{case}.npy", expected.astype(np.float32))
        # No raw bytes: the C++ side reads these rows from the GGUF itself.
        cases.append({"name": case, "dtype": dtype, "rows": rows, "cols": int(expected.shape[1]),
                      "gguf": str(smollm2_gguf), "tensor": name, "row_begin": row_begin,
                      "expected": f"{case}.npy"})
    run_oracle(tmp_path, cases)


def test_dequantize_real_qwen25_tensors_match_gguf(tmp_path, qwen25_gguf):
    """Q5_0, Q8_0, Q4_K and Q6_K rows of the real Qwen2.5-Coder-0.5B-Instruct Q4_K_M file."""
    reader = GGUFReader(str(qwen25_gguf))
    tensors = {t.name: t for t in reader.tensors}
    cases = []
    for name, row_begin, rows in [("token_embd.weight", 0, 16), ("token_embd.weight", 151936 - 16, 16),
                                  ("blk.0.attn_q.weight", 100, 32), ("blk.23.ffn_gate.weight", 4000, 16),
                                  ("blk.0.attn_v.weight", 0, 32), ("output.weight", 70000, 16),
                                  ("blk.5.ffn_down.weight", 0, 24), ("blk.0.ffn_down.weight", 300, 24)]:
        t = tensors[name]
        raw = np.asarray(t.data[row_begin:row_begin + rows])
        expected = dequantize(raw, t.tensor_type)
        case = f"qwen_{name.replace('.', '_')}_{row_begin}"
        np.save(tmp_path / f"{case}.npy", expected.astype(np.float32))
        cases.append({"name": case, "dtype": t.tensor_type.name.lower(), "rows": rows,
                      "cols": int(expected.shape[1]), "gguf": str(qwen25_gguf), "tensor": name,
                      "row_begin": row_begin, "expected": f"{case}.npy"})
    assert {c["dtype"] for c in cases} == {"q5_0", "q8_0", "q4_k", "q6_k"}, "the file's types changed?"
    run_oracle(tmp_path, cases)
