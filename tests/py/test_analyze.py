"""`thinkcache analyze` against an independent recomputation from HF transformers.

Oracle: the generated ids are fed once through transformers (eager attention,
output_attentions=True) on a seeded random f32 Qwen3 (GQA 6/2); row P + t - 1 of each
layer's attention matrix is the query of decode step t. TS/MRI are recomputed from those
probabilities with LazyEviction's rule (spec §1.2-1.4: steps t = 1, 2, ...; tokens present at
t = 1 start at TS = 0, a token born at step t >= 2 at TS = t - 1; active when p >= alpha:
MRI = max(MRI, t - TS), TS = t), per query head or per KV head (active when any query head
of the group is). Value ranges (max - min over a KV head's value channels) come from the
v_proj outputs. Summary statistics (nearest-rank percentiles, log2 histogram, recurring
shares, W = ceil(p80)) are recomputed in numpy from the oracle's table.

Probabilities within 1e-4 (relative) of alpha could legitimately fall on either side in
two f32 implementations; entries whose oracle value changes when alpha moves by that much
are excluded from the exact comparison (there are few or none).
"""
import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import run_tc
from random_models import build_random_models

MODEL = "qwen3_gqa3_f32"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_random_models(tmp_path_factory.mktemp("random_models"), only=[MODEL])


def analyze(tc_bin, model_dir, out_dir, *extra, ids=None):
    args = ["analyze", "--model", model_dir, "--out", out_dir, "--json"]
    if ids is not None:
        args += ["--ids", ",".join(map(str, ids))]
    p = run_tc(tc_bin, *args, *extra)
    report = json.loads(p.stdout)
    on_disk = json.loads((out_dir / "analysis.json").read_text())
    assert on_disk == report
    return report, p.stderr


# ---------------------------------------------------------------- the oracle

def hf_attention_and_values(model_dir, ids):
    """Eager attention probabilities [L][H][N][N] and value rows [L][N][KV][D] in f32."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    values = []
    hooks = [layer.self_attn.v_proj.register_forward_hook(lambda m, i, o: values.append(o[0].detach()))
             for layer in model.model.layers]
    with torch.no_grad():
        out = model(torch.tensor([ids], dtype=torch.long), output_attentions=True)
    for h in hooks:
        h.remove()
    attn = np.stack([a[0].double().numpy() for a in out.attentions])
    vals = np.stack([v.reshape(len(ids), cfg.num_key_value_heads, head_dim).numpy() for v in values])
    return attn, vals


def recurrence_oracle(attn, prompt_len, steps, alpha, per_kv_head, group):
    """TS/MRI tables [L][tracked heads][P + steps] (-1 = never tracked), LazyEviction's rule."""
    n_layers, n_heads = attn.shape[:2]
    n_tracks = n_heads // group if per_kv_head else n_heads
    n = prompt_len + steps
    ts = np.full((n_layers, n_tracks, n), -1, dtype=np.int64)
    mri = np.zeros_like(ts)
    for t in range(1, steps + 1):
        row = prompt_len + t - 1            # the query of decode step t
        live = row + 1                      # it attends positions 0 .. row
        p = attn[:, :, row, :live]          # [L][H][live]
        if per_kv_head:                     # any query head of the group
            p = p.reshape(n_layers, n_tracks, group, live).max(axis=2)
        cur_ts, cur_mri = ts[:, :, :live], mri[:, :, :live]
        unseen = cur_ts < 0
        born = np.zeros(live, dtype=bool)
        if t >= 2:
            born[row] = True                # the new token; everything else was present at t = 1
        cur_ts[unseen & born[None, None, :]] = t - 1
        cur_ts[unseen & ~born[None, None, :]] = 0
        active = p >= alpha
        cur_mri[active] = np.maximum(cur_mri[active], t - cur_ts[active])
        cur_ts[active] = t
    mri[ts < 0] = -1
    return ts, mri


def nearest_rank(sorted_values, q):
    if len(sorted_values) == 0:
        return 0.0
    rank = math.ceil(q * len(sorted_values))
    return float(sorted_values[min(len(sorted_values), max(rank, 1)) - 1])


def summary_of(mri_table, gaps):
    m = mri_table[mri_table >= 0]
    active = np.sort(m[m >= 1])
    pct = {k: nearest_rank(active, q) for k, q in
           [("p50", .5), ("p80", .8), ("p90", .9), ("p95", .95), ("p99", .99)]}
    pct["max"] = float(active[-1]) if len(active) else 0.0
    bins = np.where(m <= 0, 0, np.floor(np.log2(np.maximum(m, 1))).astype(int) + 1)
    hist = np.bincount(bins).tolist()
    return {
        "tracked_tokens": int(m.size),
        "never_active_share": float((m == 0).sum() / m.size),
        "mri_percentiles": pct,
        "recommended_window": math.ceil(pct["p80"]),
        "recurring_share": [{"min_gap": g, "share": float((m >= g).sum() / m.size)} for g in gaps],
        "histogram": hist,
    }


def assert_summary(rec, expected):
    assert rec["tracked_tokens"] == expected["tracked_tokens"]
    assert rec["never_active_share"] == pytest.approx(expected["never_active_share"], rel=1e-8)
    for k, v in expected["mri_percentiles"].items():
        assert rec["mri_percentiles"][k] == v, k
    assert rec["recommended_window"] == expected["recommended_window"]
    assert [(r["min_gap"], pytest.approx(r["share"], rel=1e-8, abs=1e-12)) for r in rec["recurring_share"]] == \
        [(r["min_gap"], r["share"]) for r in expected["recurring_share"]]
    got_hist = [b["count"] for b in rec["mri_histogram"]]
    assert got_hist == expected["histogram"]
    for b, entry in enumerate(rec["mri_histogram"]):  # log2 bins [0], [1], [2, 3], [4, 7], ...
        assert (entry["mri_min"], entry["mri_max"]) == ((0, 0) if b == 0 else (2 ** (b - 1), 2 ** b - 1))


@pytest.mark.parametrize("heads, alpha", [("query", 0.02), ("kv", 0.05), ("query", 1e-4)])
def test_recurrence_matches_transformers_attention(tc_bin, models, tmp_path, heads, alpha):
    ref = models / f"{MODEL}.ref"
    prompt = np.load(ref / "ids.npy").astype(int).tolist()
    gaps = [2, 4, 16]
    report, _ = analyze(tc_bin, models / MODEL, tmp_path, "--max-tokens", "72", "--ignore-eos", "--kv-dtype", "f32",
                        "--alpha", str(alpha), "--heads", heads, "--gaps", ",".join(map(str, gaps)),
                        "--save-tracks", ids=prompt)
    gen = report["generation"]
    assert gen["generated_tokens"] == 72 and gen["kv_policy"] == "full"
    steps = gen["generated_tokens"] - 1     # the last token is sampled, never forwarded
    rec = report["recurrence"]
    assert rec["decode_steps"] == steps and rec["alpha"] == alpha and rec["heads"] == heads

    seq = prompt + gen["tokens"][:-1]
    attn, values = hf_attention_and_values(models / MODEL, seq)
    n_layers, n_heads = attn.shape[:2]
    group = n_heads // values.shape[2]
    ts_o, mri_o = recurrence_oracle(attn, len(prompt), steps, alpha, heads == "kv", group)
    lo = recurrence_oracle(attn, len(prompt), steps, alpha * (1 - 1e-4), heads == "kv", group)[1]
    hi = recurrence_oracle(attn, len(prompt), steps, alpha * (1 + 1e-4), heads == "kv", group)[1]
    clear = (lo == mri_o) & (hi == mri_o)
    assert clear.mean() > 0.99

    mri_tc = np.load(tmp_path / "mri.npy")
    ts_tc = np.load(tmp_path / "ts.npy")
    assert mri_tc.shape == mri_o.shape == (n_layers, n_heads // group if heads == "kv" else n_heads,
                                           len(prompt) + steps)
    assert rec["tracked_heads_per_layer"] == mri_tc.shape[1]
    assert np.array_equal(mri_tc[clear], mri_o[clear])
    assert np.array_equal(ts_tc[clear], ts_o[clear])
    # The run has real recurrences to compare (not all MRI = 1 or 0).
    assert (mri_o >= 4).sum() > 20 or alpha == 1e-4

    # The JSON summary is that of the table it wrote, and (all entries clear) of the oracle's.
    assert_summary(rec, summary_of(mri_tc, gaps))
    if clear.all():
        assert_summary(rec, summary_of(mri_o, gaps))
    assert report["recommended_kv_window"] == rec["recommended_window"]


def test_value_ranges_match_transformers(tc_bin, models, tmp_path):
    ref = models / f"{MODEL}.ref"
    prompt = np.load(ref / "ids.npy").astype(int).tolist()
    report, _ = analyze(tc_bin, models / MODEL, tmp_path, "--max-tokens", "24", "--ignore-eos", "--kv-dtype", "f32",
                        "--outlier-factor", "1.5", ids=prompt)
    gen = report["generation"]
    seq = prompt + gen["tokens"][:-1]
    _, values = hf_attention_and_values(models / MODEL, seq)
    vr = report["value_ranges"]
    assert vr["outlier_factor"] == 1.5
    assert len(vr["layers"]) == values.shape[0]
    for layer, got in zip(values, vr["layers"]):
        ranges = (layer.max(axis=2) - layer.min(axis=2)).astype(np.float64)  # [N][KV]
        flat = np.sort(ranges.ravel())
        median = nearest_rank(flat, 0.5)
        assert got["tokens"] == flat.size
        assert got["median"] == pytest.approx(median, rel=1e-4)
        assert got["p90"] == pytest.approx(nearest_rank(flat, 0.9), rel=1e-4)
        assert got["p99"] == pytest.approx(nearest_rank(flat, 0.99), rel=1e-4)
        assert got["max"] == pytest.approx(flat[-1], rel=1e-4)
        assert got["mean"] == pytest.approx(flat.mean(), rel=1e-4)
        assert got["outlier_share"] == pytest.approx((flat > 1.5 * median).mean(), abs=1.0 / flat.size + 1e-12)
        assert got["sink_ratio"] == pytest.approx(ranges[:4].mean() / median, rel=1e-4)
        top_pos = int(np.unravel_index(np.argmax(ranges), ranges.shape)[0])
        assert got["top"][0]["position"] == top_pos
        assert got["top"][0]["range"] == pytest.approx(flat[-1], rel=1e-4)


def test_analyze_with_a_policy_text_prompt_file_and_plot(tc_bin, models, tmp_path):
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("A reasoning model thinks step by step before it answers: first, second, third.")
    out = tmp_path / "out"
    report, summary = analyze(tc_bin, models / MODEL, out, "--prompt-file", prompt_file, "--max-tokens", "150",
                              "--ignore-eos", "--kv-policy", "lazy", "--kv-budget", "48", "--kv-window", "16",
                              "--alpha", "0.02")
    gen = report["generation"]
    assert gen["kv_policy"] == "lazy" and gen["evictions"] > 0 and gen["kv_peak_tokens"] <= 48 + 16
    assert "recommended LazyEviction window: --kv-window" in summary
    # Evicted tokens keep the record they had; every token was tracked once.
    assert report["recurrence"]["tracked_tokens"] == 2 * 6 * (gen["prompt_tokens"] + gen["generated_tokens"] - 1)
    svg = ET.parse(out / "analysis.svg").getroot()
    assert svg.tag.endswith("svg")
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}rect")) > 3
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) == 3
    assert not (out / "mri.npy").exists()


def test_analyze_smollm2_chat(tc_bin, smollm2_gguf, tmp_path):
    report, summary = analyze(tc_bin, smollm2_gguf, tmp_path, "--prompt", "What is 12 + 30? Think step by step.",
                              "--chat", "--max-tokens", "40", "--ignore-eos")
    rec = report["recurrence"]
    gen = report["generation"]
    assert gen["generated_tokens"] == 40 and gen["text"]
    # SmolLM2-135M: 30 layers x 9 query heads, every forwarded token tracked.
    assert rec["tracked_heads_per_layer"] == 9
    assert rec["tracked_tokens"] == 30 * 9 * (gen["prompt_tokens"] + 39)
    assert rec["recommended_window"] == math.ceil(rec["mri_percentiles"]["p80"]) >= 1
    assert sum(b["count"] for b in rec["mri_histogram"]) == rec["tracked_tokens"]
    assert len(report["value_ranges"]["layers"]) == 30
    assert all(layer["max"] >= layer["p99"] >= layer["median"] > 0 for layer in report["value_ranges"]["layers"])
    w = report["recommended_kv_window"]
    assert f"--kv-window {w}" in summary
    # The recommendation is a valid window for lazy.
    g = run_tc(tc_bin, "generate", "--model", smollm2_gguf, "--prompt", "Hi", "--max-tokens", "2",
               "--kv-policy", "lazy", "--kv-budget", str(w + 32), "--kv-window", str(w), "--json")
    assert json.loads(g.stdout)["kv_policy"] == "lazy"


@pytest.mark.parametrize("args, message", [
    (["--kv-policy", "bogus", "--kv-budget", "64"], 'unknown KV policy "bogus"'),
    (["--alpha", "0"], "--alpha must be a probability in (0, 1]"),
    (["--alpha", "1.5"], "--alpha must be a probability in (0, 1]"),
    (["--alpha", "nan"], "--alpha must be a probability in (0, 1]"),
    (["--alpha", "abc"], '--alpha expects a number, got "abc"'),
    (["--heads", "layer"], '--heads must be query or kv, got "layer"'),
    (["--gaps", "8,2"], "--gaps must be strictly increasing"),
    (["--gaps", "0"], "--gaps expects positive step counts"),
    (["--outlier-factor", "-1"], "--outlier-factor must be a positive number"),
    (["--save-tracks"], "--save-tracks needs --out DIR"),
    (["--max-tokens", "0"], "--max-tokens must be >= 1"),
    (["--kv-policy", "vase", "--kv-budget", "100"], "must be a multiple of the window R = 64"),
    (["--kv-policy", "lazy", "--kv-budget", "64", "--kv-option", "alfa=1"], 'has no option "alfa"'),
])
def test_analyze_rejects_bad_input(tc_bin, models, args, message):
    p = run_tc(tc_bin, "analyze", "--model", models / MODEL, "--ids", "5,6,7", *args, check=False)
    assert p.returncode == 1
    assert message in p.stderr, p.stderr
    assert "thinkcache analyze: error:" in p.stderr
