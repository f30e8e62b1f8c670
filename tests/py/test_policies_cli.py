"""`thinkcache policies` and the KV-policy errors of `thinkcache generate`.

The expected names and defaults are the spec's (/work/shared/reference/eviction-methods.md):
LazyEviction alpha 1e-4, VaSE n_large = B/4 with 4 sinks and R = 64, R-KV lambda 0.1 every 128
tokens with alpha = 8, CUR rank 20, SnapKV window 32.
"""
import json
import re

import pytest

from conftest import run_tc

SPEC_POLICIES = {"full", "streaming", "h2o", "tova", "snapkv", "rkv", "curdkv", "random", "lazy", "vase",
                 "vase-dkv"}


def policies_json(tc_bin):
    return {p["name"]: p for p in json.loads(run_tc(tc_bin, "policies", "--json").stdout)}


def test_policies_lists_every_spec_policy_with_parameters(tc_bin):
    text = run_tc(tc_bin, "policies").stdout
    for name in SPEC_POLICIES:
        assert re.search(rf"^{re.escape(name)}$", text, re.M), name
    table = policies_json(tc_bin)
    assert SPEC_POLICIES <= set(table)
    for p in table.values():
        assert p["summary"] and p["budget"]
        for opt in p["options"]:
            assert opt["key"] and opt["default"] and opt["description"]
            assert f"{opt['key']}={opt['default']}" in text


def test_policies_defaults_follow_the_spec(tc_bin):
    table = policies_json(tc_bin)
    opts = {name: {o["key"]: o["default"] for o in p["options"]} for name, p in table.items()}
    assert opts["lazy"]["alpha"] == "1e-4"
    assert opts["lazy"]["score"] == "code"
    assert opts["vase"]["n_large"] == "B/4"
    assert opts["vase"]["sinks"] == "4"
    assert opts["vase"]["smooth"] == "5"
    assert opts["rkv"]["lambda"] == "0.1"
    assert opts["rkv"]["every"] == "128"
    assert opts["rkv"]["threshold"] == "0.5"
    assert opts["rkv"]["kernel"] == "7"
    assert opts["vase-dkv"]["rank"] == "20"
    assert opts["curdkv"]["rank"] == "20"
    assert opts["streaming"]["sinks"] == "4"
    assert "default 64" in table["vase"]["window"]
    assert "default 8" in table["rkv"]["window"]
    assert "default 32" in table["snapkv"]["window"]
    assert table["tova"]["window"] is None and table["full"]["window"] is None


def test_policies_rejects_unknown_arguments(tc_bin):
    p = run_tc(tc_bin, "policies", "--bogus", check=False)
    assert p.returncode != 0
    assert "bogus" in p.stderr


# ---- generate: needs the engine (another branch); skipped until `generate` takes --kv-policy.

def generate_usage(tc_bin):
    help_text = run_tc(tc_bin, "--help").stdout
    if not re.search(r"^\s+generate\s", help_text, re.M):
        pytest.skip("`thinkcache generate` is not a command yet")
    usage = run_tc(tc_bin, "generate", "--help").stdout
    if "--kv-policy" not in usage:
        pytest.skip("`thinkcache generate` has no --kv-policy yet")
    return usage


@pytest.mark.parametrize("args, message", [
    (["--kv-policy", "bogus", "--kv-budget", "256"], 'unknown KV policy "bogus"'),
    (["--kv-policy", "lazy", "--kv-budget", "256", "--kv-option", "alfa=1"], 'has no option "alfa"'),
    (["--kv-policy", "lazy", "--kv-budget", "256", "--kv-option", "alpha=abc"], "is not a finite number"),
    (["--kv-policy", "lazy", "--kv-budget", "64", "--kv-window", "64"], "too small"),
    (["--kv-policy", "vase", "--kv-budget", "1000"], "must be a multiple of the window R = 64"),
    (["--kv-policy", "vase", "--kv-budget", "64"], "too small"),
    (["--kv-policy", "streaming", "--kv-budget", "3"], "too small"),
    (["--kv-policy", "tova", "--kv-budget", "64", "--kv-window", "8"], "has no window"),
    # budget not above the protected set (window + sinks)
    (["--kv-policy", "random", "--kv-budget", "20", "--kv-window", "16", "--kv-option", "sinks=4"], "too small"),
    (["--kv-policy", "vase-dkv", "--kv-budget", "64"], "too small"),
    (["--kv-policy", "h2o", "--kv-budget", "16", "--kv-window", "16"], "too small"),
    (["--kv-policy", "lazy", "--kv-budget", "0"], "needs a positive --kv-budget"),
    # VaSE-family budgets must be multiples of R
    (["--kv-policy", "vase-dkv", "--kv-budget", "200"], "must be a multiple of the window R = 64"),
    (["--kv-policy", "curdkv", "--kv-budget", "100", "--kv-window", "32"], "must be a multiple of the window R = 32"),
    (["--kv-policy", "snapkv", "--kv-budget", "100", "--kv-option", "mode=decode"], "must be a multiple of the window"),
    # unknown or malformed options and values
    (["--kv-policy", "vase", "--kv-budget", "256", "--kv-option", "nlarge=3"], 'has no option "nlarge"'),
    (["--kv-policy", "vase", "--kv-budget", "256", "--kv-option", "n_large"], "--kv-option expects key=value"),
    (["--kv-policy", "lazy", "--kv-budget", "256", "--kv-option", "alpha=2"], "out of range"),
    (["--kv-policy", "lazy", "--kv-budget", "256", "--kv-option", "heads=layer"], 'heads="layer" is not one of'),
    (["--kv-policy", "full", "--kv-budget", "256"], "--kv-budget has no effect with --kv-policy full"),
    (["--kv-budget", "-5", "--kv-policy", "lazy"], "--kv-budget must be >= 0"),
    (["--kv-budget", "abc", "--kv-policy", "lazy"], '--kv-budget expects an integer, got "abc"'),
    (["--kv-dtype", "f8"], 'unknown KV cache dtype "f8"'),
])
def test_generate_rejects_bad_kv_requests(tc_bin, smollm2_gguf, args, message):
    usage = generate_usage(tc_bin)
    max_flag = next((f for f in ("--max-new-tokens", "--max-tokens", "-n") if f in usage), None)
    extra = [max_flag, "2"] if max_flag else []
    p = run_tc(tc_bin, "generate", "--model", smollm2_gguf, "--prompt", "Hello", *extra, *args, check=False)
    assert p.returncode == 1
    assert message in p.stderr, p.stderr
    assert p.stderr.startswith("thinkcache generate: error:"), p.stderr
