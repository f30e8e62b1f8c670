"""Every KV policy end to end through `thinkcache generate`, checked against the spec's rules.

Oracles:
- the full cache: with a budget the sequence never exceeds, a policy must give exactly the
  full-cache greedy tokens (f32 cache: bit-identical attention), and with a small budget the
  tokens computed before the first eviction takes effect must equal full's;
- the schedule of docs/policies.md / eviction-methods.md (§1.4 LazyEviction every W steps if
  size > B; §2.5 VaSE when size % R == 0 and size > B; §3.1 R-KV at prefill if P >= B and
  when total tokens % every == 0 and size >= B; H2O / TOVA / StreamingLLM at prefill and
  every step while size > B; SnapKV once at prefill if P >= B), simulated here per head to
  give the exact eviction events, peak resident size and slots freed;
- byte counts from config.json: allocated = capacity x layers x store heads x head_dim x 2
  (K and V) x dtype size, store heads = KV heads (query heads for heads=query); the full
  cache equivalent = (prompt + generated) x layers x KV heads x head_dim x 2 x dtype size.
Models: a seeded random f32 Qwen3 (GQA 6/2, 2 layers, context 256) for every case, SmolLM2
for one realistic run of each policy.
"""
import json

import numpy as np
import pytest

from conftest import run_tc
from random_models import build_random_models

MODEL = "qwen3_gqa3_f32"
DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_random_models(tmp_path_factory.mktemp("random_models"), only=[MODEL])


@pytest.fixture(scope="module")
def tiny(models):
    cfg = json.loads((models / MODEL / "config.json").read_text())
    prompt = np.load(models / f"{MODEL}.ref" / "ids.npy").astype(int).tolist()
    return models / MODEL, cfg, prompt


def generate(tc_bin, model, prompt, max_tokens, *kv, dtype="f32", check=True):
    p = run_tc(tc_bin, "generate", "--model", model, "--ids", ",".join(map(str, prompt)), "--max-tokens", max_tokens,
               "--ignore-eos", "--kv-dtype", dtype, "--json", *kv, check=check)
    return json.loads(p.stdout) if check else p


# ---------------------------------------------------------------- the schedule oracle

class Case:
    """A policy's command-line arguments and its documented schedule.

    decode: "period" (t % every == 0 and size > B), "length" (size % every == 0 and size > B),
            "total" (total tokens % every == 0 and size >= B), "step" (size > B), "never".
    prefill: "keep", "over" (size > B), "atleast" (size >= B).
    """

    def __init__(self, name, budget, decode, prefill, every=1, window=None, options=(), query_heads=False):
        self.name, self.budget, self.decode, self.prefill, self.every = name, budget, decode, prefill, every
        self.window, self.options, self.query_heads = window, list(options), query_heads

    def args(self, budget=None):
        a = ["--kv-policy", self.name, "--kv-budget", str(budget or self.budget)]
        if self.window is not None:
            a += ["--kv-window", str(self.window)]
        for o in self.options:
            a += ["--kv-option", o]
        return a

    def fires(self, t, total, size, budget):
        if self.decode == "period":
            return t % self.every == 0 and size > budget
        if self.decode == "length":
            return size % self.every == 0 and size > budget
        if self.decode == "total":
            return total % self.every == 0 and size >= budget
        if self.decode == "step":
            return size > budget
        return False

    def simulate(self, prompt, steps, budget=None):
        """Per-head live size: (eviction events, peak before eviction, final size, first eviction step)."""
        b = budget or self.budget
        size, peak, events, first = prompt, prompt, 0, None
        if (self.prefill == "over" and size > b) or (self.prefill == "atleast" and size >= b):
            size, events, first = b, 1, 0
        for t in range(1, steps + 1):
            size += 1
            peak = max(peak, size)
            if self.fires(t, prompt + t, size, b):
                size, events = b, events + 1
                first = t if first is None else first
        return events, peak, size, first

    def capacity(self, prompt, max_new, budget=None):
        b = budget or self.budget
        if self.decode == "never":
            after = min(prompt, b) if prompt >= b else prompt
            return max(prompt, after + max_new)
        overshoot = 1 if self.decode == "step" else self.every
        return min(prompt + max_new, max(prompt, b) + overshoot)


# Small budgets for the 40-token prompt and 200 new tokens of the tiny model (context 256).
CASES = [
    Case("lazy", 48, "period", "keep", every=16, window=16, options=["alpha=0.01"]),
    Case("lazy", 48, "period", "keep", every=16, window=16, options=["heads=query", "score=paper"], query_heads=True),
    Case("vase", 48, "length", "keep", every=16, window=16),
    Case("vase", 128, "length", "keep", every=64),
    Case("vase-dkv", 48, "length", "keep", every=16, window=16),
    Case("curdkv", 48, "length", "keep", every=16, window=16),
    Case("snapkv", 48, "length", "keep", every=16, window=16, options=["mode=decode"]),
    Case("snapkv", 32, "never", "atleast", window=8),
    Case("rkv", 48, "total", "atleast", every=32, options=["every=32"]),
    Case("rkv", 40, "total", "atleast", every=128),
    Case("h2o", 32, "step", "over"),
    Case("h2o", 32, "step", "over", window=8, options=["heads=query"], query_heads=True),
    Case("tova", 32, "step", "over"),
    Case("streaming", 32, "step", "over"),
    Case("random", 48, "period", "keep", every=16, window=16, options=["sinks=4"]),
]
IDS = [f"{c.name}-{c.budget}-{'-'.join(c.options) or 'default'}" for c in CASES]
STOCHASTIC = [c for c in CASES if c.name in ("vase", "random", "vase-dkv", "curdkv") and c.budget == 48]


def store_heads(cfg, case):
    return cfg["num_attention_heads"] if case.query_heads else cfg["num_key_value_heads"]


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def check_report(r, case, cfg, prompt_len, max_new, dtype, budget=None):
    """Every KV field of generate --json against the schedule oracle and config.json."""
    layers, d, size = cfg["num_hidden_layers"], head_dim(cfg), DTYPE_BYTES[dtype]
    steps = r["generated_tokens"] - 1  # the last token is sampled, never forwarded
    events, peak, final, _ = case.simulate(prompt_len, steps, budget)
    capacity = case.capacity(prompt_len, max_new, budget)
    assert r["kv_policy"] == case.name and r["kv_budget"] == (budget or case.budget) and r["kv_dtype"] == dtype
    assert r["kv_capacity_slots"] == capacity
    assert r["kv_bytes_allocated"] == layers * store_heads(cfg, case) * d * 2 * size * capacity
    assert r["kv_bytes_full_cache_equivalent"] == \
        (prompt_len + r["generated_tokens"]) * layers * cfg["num_key_value_heads"] * d * 2 * size
    assert r["kv_peak_tokens"] == peak <= capacity
    assert r["kv_peak_live_slots"] == peak * layers * store_heads(cfg, case)
    assert r["evictions"] == events
    assert r["slots_evicted"] == (prompt_len + steps - final) * layers * store_heads(cfg, case)
    assert r["eviction_seconds"] >= 0


def test_full_cache_report(tc_bin, tiny):
    model, cfg, prompt = tiny
    r = generate(tc_bin, model, prompt, 60)
    layers, kv, d = cfg["num_hidden_layers"], cfg["num_key_value_heads"], head_dim(cfg)
    assert r["generated_tokens"] == 60 and r["kv_policy"] == "full" and r["kv_budget"] == 0
    assert r["kv_capacity_slots"] == 40 + 60
    # A full cache that reached max tokens allocated exactly the whole sequence.
    assert r["kv_bytes_allocated"] == r["kv_bytes_full_cache_equivalent"] == 100 * layers * kv * d * 2 * 4
    assert r["kv_peak_tokens"] == 40 + 59
    assert r["evictions"] == 0 and r["slots_evicted"] == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_budget_above_the_sequence_gives_the_full_cache_tokens(tc_bin, tiny, case):
    model, cfg, prompt = tiny
    full = generate(tc_bin, model, prompt, 100)
    budget = 192 if case.decode == "length" else 160  # > 40 + 100 tokens; a multiple of the VaSE window
    r = generate(tc_bin, model, prompt, 100, *case.args(budget))
    assert r["tokens"] == full["tokens"]
    assert r["evictions"] == 0 and r["slots_evicted"] == 0
    check_report(r, case, cfg, len(prompt), 100, "f32", budget)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_small_budget_report_and_tokens_before_the_first_eviction(tc_bin, tiny, case):
    model, cfg, prompt = tiny
    full = generate(tc_bin, model, prompt, 200)
    r = generate(tc_bin, model, prompt, 200, *case.args())
    check_report(r, case, cfg, len(prompt), 200, "f32")
    events, _, _, first = case.simulate(len(prompt), r["generated_tokens"] - 1)
    assert events > 0 and r["slots_evicted"] > 0
    # Token i comes from the logits of decode step i (token 0: the prompt's); the step that
    # evicts still attends over the pre-eviction cache, so tokens 0 .. first are full's.
    assert r["tokens"][:first + 1] == full["tokens"][:first + 1]


@pytest.mark.parametrize("case", STOCHASTIC, ids=lambda c: c.name)
def test_seeded_policies_are_reproducible_and_depend_on_the_seed(tc_bin, tiny, case):
    model, _, prompt = tiny
    runs = {seed: [generate(tc_bin, model, prompt, 200, *case.args(), "--kv-seed", str(seed))["tokens"]
                   for _ in range(2 if seed == 1 else 1)] for seed in (1, 2, 3)}
    assert runs[1][0] == runs[1][1]
    # Another seed keeps other tokens: at least one of two other seeds changes the output.
    assert runs[2][0] != runs[1][0] or runs[3][0] != runs[1][0]


def test_f16_cache_bytes(tc_bin, tiny):
    model, cfg, prompt = tiny
    case = CASES[0]
    r = generate(tc_bin, model, prompt, 120, *case.args(), dtype="f16")
    check_report(r, case, cfg, len(prompt), 120, "f16")


# ---------------------------------------------------------------- SmolLM2: one realistic run per policy

SMOL_CASES = [  # for a 44-token prompt and 96 new tokens
    Case("lazy", 64, "period", "keep", every=16, window=16),
    Case("vase", 64, "length", "keep", every=32, window=32),
    Case("vase-dkv", 64, "length", "keep", every=32, window=32),
    Case("curdkv", 64, "length", "keep", every=32, window=32),
    Case("snapkv", 64, "length", "keep", every=32, window=32, options=["mode=decode"]),
    Case("rkv", 64, "total", "atleast", every=32, options=["every=32"]),
    Case("h2o", 64, "step", "over"),
    Case("tova", 64, "step", "over"),
    Case("streaming", 64, "step", "over"),
    Case("random", 64, "period", "keep", every=16, window=16),
]


def gguf_config(path):
    """The shape fields of a GGUF's metadata, read with the gguf package."""
    from gguf import GGUFReader

    fields = GGUFReader(str(path)).fields
    arch = bytes(fields["general.architecture"].parts[-1]).decode()

    def get(key):
        f = fields[f"{arch}.{key}"]
        return int(f.parts[f.data[0]][0])

    heads = get("attention.head_count")
    return {"num_hidden_layers": get("block_count"), "num_attention_heads": heads,
            "num_key_value_heads": get("attention.head_count_kv"), "head_dim": get("embedding_length") // heads}


SMOL_PROMPT = "Explain step by step why the sum of two odd numbers is even."


@pytest.mark.parametrize("case", SMOL_CASES, ids=lambda c: c.name)
def test_smollm2_policy_run(tc_bin, smollm2_gguf, case):
    cfg = gguf_config(smollm2_gguf)
    assert (cfg["num_hidden_layers"], cfg["num_key_value_heads"]) == (30, 3)
    out = run_tc(tc_bin, "generate", "--model", smollm2_gguf, "--prompt", SMOL_PROMPT, "--chat", "--max-tokens", "96",
                 "--ignore-eos", "--json", *case.args())
    r = json.loads(out.stdout)
    assert r["text"]
    check_report(r, case, cfg, r["prompt_tokens"], 96, "f16")
    assert r["evictions"] > 0


@pytest.mark.parametrize("policy, budget", [("lazy", 128), ("vase", 128)])
def test_smollm2_budget_above_the_sequence_gives_the_full_cache_text(tc_bin, smollm2_gguf, policy, budget):
    common = ["generate", "--model", smollm2_gguf, "--prompt", SMOL_PROMPT, "--chat", "--max-tokens", "48",
              "--ignore-eos", "--kv-dtype", "f32", "--json"]
    full = json.loads(run_tc(tc_bin, *common).stdout)
    r = json.loads(run_tc(tc_bin, *common, "--kv-policy", policy, "--kv-budget", budget).stdout)
    assert r["prompt_tokens"] + 48 <= budget
    assert r["tokens"] == full["tokens"] and r["text"] == full["text"]
    assert r["evictions"] == 0
