"""Block dequantisation against the gguf package, the independent oracle for the formats.

Python writes weight rows (raw GGML blocks) and gguf.quants.dequantize's values for them; the
C++ test cpu_dequantize_matches_gguf_oracle (thinkcache_tests, pointed here by
TC_DEQUANT_ORACLE_DIR) runs both tc::dequantize_row (the reference) and cpu::dequantize_row
(the SIMD kernels' decoder) on the same bytes and compares.

* Q8_0 and Q4_1: rows of the real SmolLM2 GGUF (the C++ side reads them with our GGUF reader).
* Q4_0, Q8_0, Q4_1, BF16, F16: random data quantised with gguf.quants.quantize.
* Q4_K, Q6_K: gguf-py cannot quantise them, so random but valid blocks (random scale/min
  bytes and quants, finite random f16 super-block scales), dequantised by gguf-py.
"""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
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
    env = dict(os.environ, TC_DEQUANT_ORACLE_DIR=str(case_dir))
    proc = subprocess.run([str(exe), TEST_NAME], capture_output=True, text=True, env=env, timeout=300)
    out = proc.stdout + proc.stderr
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


def random_k_blocks(rng, rows, cols, qtype):
    """Random valid Q4_K / Q6_K rows: every byte random except the f16 super-block scales."""
    block_bytes = {Q.Q4_K: 144, Q.Q6_K: 210}[qtype]
    n_blocks = rows * cols // 256
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    if qtype == Q.Q4_K:  # d, dmin at bytes 0..3
        scales = rng.uniform(0, 0.01, size=(n_blocks, 2)).astype(np.float16)
        blocks[:, 0:4] = scales.view(np.uint8).reshape(n_blocks, 4)
    else:  # d at bytes 208..209
        d = rng.uniform(-0.01, 0.01, size=(n_blocks, 1)).astype(np.float16)
        blocks[:, 208:210] = d.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(rows, -1)


def test_dequantize_synthetic_blocks_match_gguf(tmp_path):
    rng = np.random.default_rng(1234)
    cases = []
    # Odd sizes on purpose: rows not a multiple of anything, widths with vector tails (F16/BF16).
    for name, qtype, dtype, rows, cols in [("q4_0", Q.Q4_0, "q4_0", 7, 96), ("q8_0", Q.Q8_0, "q8_0", 5, 320),
                                           ("q4_1", Q.Q4_1, "q4_1", 9, 64), ("bf16", Q.BF16, "bf16", 3, 77),
                                           ("f16", Q.F16, "f16", 4, 45)]:
        x = (rng.standard_normal((rows, cols)) * rng.uniform(0.01, 3.0, size=(rows, 1))).astype(np.float32)
        x[0, :5] = [0.0, -0.0, 1e-6, -65000.0, 3.5]  # zero, tiny, large
        raw = quantize(x, qtype)
        cases.append(save_case(tmp_path, name, dtype, raw, dequantize(raw, qtype)))
    for name, qtype in [("q4_k", Q.Q4_K), ("q6_k", Q.Q6_K)]:
        raw = random_k_blocks(rng, 6, 512, qtype)
        cases.append(save_case(tmp_path, name, name, raw, dequantize(raw, qtype)))
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
