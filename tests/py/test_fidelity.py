"""`thinkcache fidelity`: teacher-forced comparison of policies with the full cache.

On a random tiny model: a policy that never evicts (budget >= the sequence) matches the full
cache exactly (KL 0, agreement 1, same perplexity); a small budget does not; the metrics over
the first N positions equal a run on the sequence cut to N positions; runs are deterministic.
The perplexity of the full cache is checked against an independent oracle (HF transformers on
the same weights). With SmolLM2 and the committed results, a slice must reproduce them.
"""
import json
import math
import pathlib
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import REPO, run_tc
from eval_models import build_eval_model


@pytest.fixture(scope="module")
def tiny(tc_bin, tmp_path_factory):
    return build_eval_model(tmp_path_factory.mktemp("fid_model") / "tiny", tc_bin)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    # Real prose (this repository's developer guide) rather than a synthetic string.
    path = tmp_path_factory.mktemp("fid_text") / "developers.txt"
    path.write_text((REPO / "DEVELOPERS.md").read_text())
    return path


def read_rows(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line]


def fidelity(tc_bin, model, out, *args, check=True):
    return run_tc(tc_bin, "fidelity", "--model", model, "--out", out, "--quiet", *args, check=check)


def test_fidelity_exact_without_eviction_and_lossy_with_it(tc_bin, tiny, text_file, tmp_path):
    out = tmp_path / "f"
    fidelity(tc_bin, tiny, out, "--text-file", text_file, "--prompt-tokens", "16", "--max-seq-tokens", "300",
             "--policies", "full,lazy,vase,streaming,h2o", "--budgets", "300,12%", "--seeds", "0,1",
             "--threads", "2", "--checkpoints", "100")
    rows = read_rows(out / "rows.jsonl")
    # full + (lazy, streaming, h2o) x 2 budgets + vase x 2 budgets x 2 seeds.
    assert len(rows) == 1 + 3 * 2 + 2 * 2
    full = rows[0]
    assert full["policy"] == "full" and full["sequence_tokens"] == 300 and full["positions"] == 284
    assert full["kl_mean"] == 0 and full["top1_agreement"] == 1
    for r in rows[1:]:
        assert r["positions"] == 284 and r["ppl_full"] == full["ppl_full"]
        if r["budget_spec"] == "300":
            assert r["evictions"] == 0
            assert r["kl_mean"] == 0.0 and r["kl_max"] == 0.0 and r["top1_agreement"] == 1.0
            assert r["ppl_policy"] == r["ppl_full"]
        else:
            assert r["budget"] == 36 or r["policy"] in ("lazy", "vase")  # round(0.12 x 300) = 36
            assert r["evictions"] > 0
            assert r["kl_mean"] > 0 and r["kl_max"] >= r["kl_mean"]
            assert r["top1_agreement"] < 1
            assert r["peak_kv_bytes"] < full["peak_kv_bytes"]
    seq = read_rows(out / "sequences.jsonl")
    assert len(seq) == 1 and len(seq[0]["tokens"]) == 300 and seq[0]["prompt_tokens"] == 16
    md = (out / "results.md").read_text()
    assert "## developers.txt (300 tokens: 16 prompt + 284 teacher-forced positions)" in md
    for name in ("plot_developers.txt_agreement.svg", "plot_developers.txt_kl.svg"):
        root = ET.parse(out / name).getroot()
        assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 4  # one line per evicting policy
    # --rows rebuilds the same table from rows.jsonl.
    run_tc(tc_bin, "fidelity", "--rows", out / "rows.jsonl", "--out", tmp_path / "again")
    table = lambda p: [line for line in p.read_text().splitlines() if line.startswith("|")]
    assert table(tmp_path / "again" / "results.md") == table(out / "results.md")


def test_fidelity_full_perplexity_matches_transformers(tc_bin, tiny, text_file, tmp_path):
    """The full cache's perplexity of the forced tokens equals HF's (f32 weights, f16 vs f32 cache)."""
    import torch
    from transformers import AutoModelForCausalLM
    out = tmp_path / "p"
    fidelity(tc_bin, tiny, out, "--text-file", text_file, "--prompt-tokens", "8", "--max-seq-tokens", "120",
             "--policies", "full", "--kv-dtype", "f32")
    row = read_rows(out / "rows.jsonl")[0]
    ids = read_rows(out / "sequences.jsonl")[0]["tokens"]
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()  # logits: [T][vocab]
    logp = torch.log_softmax(logits, -1).numpy()
    nll = -np.mean([logp[t, ids[t + 1]] for t in range(7, len(ids) - 1)])
    assert row["positions"] == len(ids) - 8
    assert math.isclose(row["nll_full"], nll, rel_tol=1e-4), (row["nll_full"], nll)


def test_fidelity_prefix_metrics_reproduce_on_a_cut_sequence(tc_bin, tiny, text_file, tmp_path):
    args = ["--policies", "full,lazy,vase", "--budgets", "40", "--seeds", "3"]
    fidelity(tc_bin, tiny, tmp_path / "long", "--text-file", text_file, "--prompt-tokens", "16", "--max-seq-tokens",
             "260", "--checkpoints", "100", *args, "--threads", "1")
    fidelity(tc_bin, tiny, tmp_path / "cut", "--sequences", tmp_path / "long" / "sequences.jsonl",
             "--max-positions", "100", *args, "--threads", "2")
    long = read_rows(tmp_path / "long" / "rows.jsonl")
    cut = read_rows(tmp_path / "cut" / "rows.jsonl")
    assert len(long) == len(cut) == 3
    for a, b in zip(long, cut):
        assert (a["policy"], a["seed"]) == (b["policy"], b["seed"])
        prefix = a["prefixes"][0]
        assert prefix["positions"] == b["positions"] == 100
        for key in ("top1_agreement", "kl_mean", "kl_max", "nll_full", "nll_policy"):
            assert prefix[key] == b[key], (a["policy"], key)


@pytest.mark.parametrize("args, message", [
    (["--policies", "full,nosuch", "--text-file", "X"], "unknown KV policy"),
    (["--policies", "lazy", "--budgets", "25x", "--text-file", "X"], "\"25x\" is not a budget"),
    (["--policies", "lazy", "--budgets", "0", "--text-file", "X"], "must be positive"),
    (["--policies", "lazy", "--budgets", "25%"], "give a text"),
    (["--policies", "lazy", "--budgets", "25%", "--text-file", "/nonexistent/file"], "cannot open"),
    (["--policies", "lazy", "--budgets", "25%", "--text-file", "X", "--prompt-tokens", "5000"], "--prompt-tokens"),
])
def test_fidelity_bad_input(tc_bin, tiny, text_file, tmp_path, args, message):
    args = [str(text_file) if a == "X" else a for a in args]
    proc = fidelity(tc_bin, tiny, tmp_path / "x", *args, check=False)
    assert proc.returncode == 1 and "thinkcache fidelity: error:" in proc.stderr and message in proc.stderr, proc.stderr


# --- the committed SmolLM2 results reproduce -------------------------------------------------

COMMITTED = REPO / "eval" / "results" / "smollm2-fidelity"


def test_committed_smollm2_fidelity_reproduces(tc_bin, smollm2_gguf, tmp_path):
    if not (COMMITTED / "rows.jsonl").exists():
        pytest.skip("no committed SmolLM2 fidelity results")
    committed = read_rows(COMMITTED / "rows.jsonl")
    fidelity(tc_bin, smollm2_gguf, tmp_path / "s", "--sequences", COMMITTED / "sequences.jsonl",
             "--max-positions", "128", "--policies", "full,lazy,streaming", "--budgets", "256", "--threads", "2")
    fresh = read_rows(tmp_path / "s" / "rows.jsonl")
    assert len(fresh) == 2 * 3
    for r in fresh:
        c = next(c for c in committed if (c["text"], c["policy"], c["budget_spec"], c["seed"]) ==
                 (r["text"], r["policy"], "full" if r["policy"] == "full" else "256", r["seed"]))
        prefix = next(p for p in c["prefixes"] if p["positions"] == 128)
        assert r["positions"] == 128
        assert r["top1_agreement"] == prefix["top1_agreement"], r["policy"]
        for key in ("kl_mean", "nll_full", "nll_policy"):
            assert math.isclose(r[key], prefix[key], rel_tol=1e-6, abs_tol=1e-9), (r["text"], r["policy"], key)


QWEN25_COMMITTED = REPO / "eval" / "results" / "qwen25-fidelity"


def test_committed_qwen25_fidelity_reproduces(tc_bin, qwen25_gguf, tmp_path):
    """The committed Qwen2.5 study's first 512 positions (h2o at 512 tokens evicts from position
    416 on: 97 prompt + 512 > 512) against the metrics its rows kept for that prefix."""
    if not (QWEN25_COMMITTED / "rows.jsonl").exists():
        pytest.skip("no committed Qwen2.5 fidelity results")
    committed = read_rows(QWEN25_COMMITTED / "rows.jsonl")
    fidelity(tc_bin, qwen25_gguf, tmp_path / "s", "--sequences", QWEN25_COMMITTED / "sequences.jsonl",
             "--max-positions", "512", "--policies", "full,h2o", "--budgets", "512", "--threads", "2")
    fresh = read_rows(tmp_path / "s" / "rows.jsonl")
    assert len(fresh) == 2
    for r in fresh:
        c = next(c for c in committed if (c["policy"], c["budget_spec"]) ==
                 (r["policy"], "full" if r["policy"] == "full" else "512"))
        prefix = next(p for p in c["prefixes"] if p["positions"] == 512)
        assert r["positions"] == 512
        assert r["top1_agreement"] == prefix["top1_agreement"], r["policy"]
        for key in ("kl_mean", "nll_full", "nll_policy"):
            assert math.isclose(r[key], prefix[key], rel_tol=1e-6, abs_tol=1e-9), (r["policy"], key)
    assert next(r for r in fresh if r["policy"] == "h2o")["kl_mean"] > 0  # it did evict
