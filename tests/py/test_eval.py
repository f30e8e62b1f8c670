"""`thinkcache eval` and `thinkcache demo` end to end on a seeded random tiny Qwen3 model.

Checks the JSONL schema and row count, determinism (across runs and worker-thread counts), the
budget resolution rules of eval/README.md (re-derived here in Python), the Markdown and SVG
outputs, and the clear errors on bad input. When the testbed model and its committed results
are present, a slice of eval/results/testbed-chain is re-run and must reproduce exactly.
"""
import json
import math
import pathlib
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, run_tc
from eval_models import build_eval_model

TIMING = "timing"
ROW_KEYS = {"problem", "index", "policy", "policy_name", "requested", "budget_spec", "budget_target", "budget",
            "window", "options", "seed", "correct", "answered", "answer", "expected", "prompt_tokens", "trace_tokens",
            "reference_trace_tokens", "max_tokens", "full_length", "stop_reason", "capacity_slots", "peak_tokens",
            "peak_kv_bytes", "full_peak_kv_bytes", "kv_bytes_allocated", "evictions", "timing", "budget_mode",
            "budget_reference_length", "feasible", "mean_kv_bytes", "full_mean_kv_bytes"}


@pytest.fixture(scope="module")
def tiny(tc_bin, tmp_path_factory):
    return build_eval_model(tmp_path_factory.mktemp("eval_model") / "tiny", tc_bin)


def read_rows(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != TIMING} for r in rows]


def run_eval(tc_bin, model, out, *extra, check=True):
    return run_tc(tc_bin, "eval", "--model", model, "--out", out, "--quiet", *extra, check=check)


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def vase_rule(target: int) -> tuple[int, int]:
    """eval/README.md for vase with a percentage: R = 64, or round(target / 8) when 64 > target / 8;
    the budget is the multiple of R nearest the target (the larger on a tie) that vase accepts:
    B > R, n_large = B // 4 >= 4 sinks and n_large <= B - R."""
    window = 64 if 64 * 8 <= target else max(1, round_half_up(target / 8))

    def valid(b):
        return b > window and b % window == 0 and b // 4 >= 4 and b // 4 <= b - window

    for d in range(0, 4 * target + 256):
        for b in (target + d, target - d):
            if b >= 1 and valid(b):
                return b, window
    raise AssertionError("no valid budget")


def test_eval_rows_schema_count_and_budgets(tc_bin, tiny, tmp_path):
    """--budget-mode problem: the first testbed's per-problem rules (eval/README.md)."""
    out = tmp_path / "a"
    run_eval(tc_bin, tiny, out, "--n", "3", "--policies", "full,vase,lazy", "--budgets", "25%,100",
             "--seeds", "0,1", "--max-tokens", "24", "--threads", "2", "--budget-mode", "problem")
    rows = read_rows(out / "rows.jsonl")
    # Per problem: full once, vase (seeded) 2 budgets x 2 seeds, lazy (deterministic) 2 budgets x 1.
    assert len(rows) == 3 * (1 + 4 + 2)
    for r in rows:
        assert set(r) == ROW_KEYS, set(r) ^ ROW_KEYS
        assert set(r["timing"]) == {"seconds", "decode_tokens_per_s", "eviction_seconds"}
        assert isinstance(r["correct"], bool) and isinstance(r["trace_tokens"], int)
        assert r["trace_tokens"] <= r["max_tokens"] == 24
        assert r["peak_kv_bytes"] > 0 and r["full_peak_kv_bytes"] > 0
        assert r["budget_mode"] == "problem" and r["feasible"] is True
        assert 0 < r["mean_kv_bytes"] <= r["peak_kv_bytes"]
    # Problem order, full first within each problem, and the runs in --policies/--budgets/--seeds order.
    assert [r["index"] for r in rows] == sorted(r["index"] for r in rows)
    first = [(r["policy"], r["budget_spec"], r["seed"]) for r in rows if r["index"] == 0]
    assert first == [("full", "full", 0), ("vase", "25%", 0), ("vase", "25%", 1), ("vase", "100", 0),
                     ("vase", "100", 1), ("lazy", "25%", 0), ("lazy", "100", 0)]
    full = {r["index"]: r for r in rows if r["policy"] == "full"}
    for r in rows:
        f = full[r["index"]]
        assert r["full_length"] == f["prompt_tokens"] + f["trace_tokens"]
        assert r["full_peak_kv_bytes"] == f["peak_kv_bytes"]
        if r["policy"] == "full":
            assert r["budget"] is None and r["window"] is None and r["requested"] is True
            continue
        if r["budget_spec"] == "100":
            assert r["budget"] == 100  # a token budget is never changed
        if r["policy"] == "vase" and r["budget_spec"] == "25%":
            target = round_half_up(0.25 * r["full_length"])
            assert r["budget_target"] == target
            assert (r["budget"], r["window"]) == vase_rule(target)
        if r["policy"] == "vase" and r["budget_spec"] == "100":
            assert r["window"] == 10  # round(100 / 8) = 13, 12, 11 do not divide 100
        if r["policy"] == "lazy":
            target = round_half_up(0.25 * r["full_length"]) if r["budget_spec"] == "25%" else 100
            assert r["budget"] == target and r["window"] == max(16, target // 8)
        # The cache really stays bounded: at most budget + window (+1 for the step that triggers).
        assert r["peak_tokens"] <= max(r["prompt_tokens"], r["budget"]) + r["window"] + 1


def test_eval_suite_mode_one_budget_default_windows_infeasible_rows(tc_bin, tiny, tmp_path):
    """The default protocol: a percentage is a share of the suite's mean full-cache length,
    resolved once; policies at their default windows; a budget that cannot hold a problem's
    prompt plus the window of a prompt-keeping policy gives an infeasible row, not a run."""
    out = tmp_path / "s"
    # chain prompts of ~100 tokens and 60 new tokens: full lengths ~160.
    run_eval(tc_bin, tiny, out, "--n", "4", "--policies", "full,vase,lazy,streaming", "--budgets", "90%,128",
             "--seeds", "0", "--max-tokens", "60")
    rows = read_rows(out / "rows.jsonl")
    full = [r for r in rows if r["policy"] == "full"]
    mean_length = sum(r["full_length"] for r in full) / len(full)
    for r in rows:
        assert r["budget_mode"] == "suite"
        assert r["budget_reference_length"] == pytest.approx(mean_length)
    for policy in ("vase", "lazy", "streaming"):
        for spec in ("90%", "128"):
            cell = [r for r in rows if r["policy"] == policy and r["budget_spec"] == spec]
            assert len(cell) == 4
            assert len({(r["budget"], r["window"]) for r in cell}) == 1  # one budget for every problem
            target = round_half_up(0.9 * mean_length) if spec == "90%" else 128
            assert {r["budget_target"] for r in cell} == {target}
    vase = [r for r in rows if r["policy"] == "vase"]
    assert {r["window"] for r in vase} == {64}  # R at its default, never scaled
    multiples = [b for b in range(128, 1024, 64)]
    nearest = min(multiples, key=lambda b: (abs(b - round_half_up(0.9 * mean_length)), -b))
    assert {r["budget"] for r in vase if r["budget_spec"] == "90%"} == {nearest}
    lazy = [r for r in rows if r["policy"] == "lazy" and r["budget_spec"] == "128"]
    assert {(r["budget"], r["window"]) for r in lazy} == {(128, 16)}
    infeasible = 0
    for r in rows:
        if r["policy"] == "full":
            continue
        fits = r["policy"] == "streaming" or r["prompt_tokens"] + r["window"] <= r["budget"]
        assert r["feasible"] is fits, r
        if not fits:
            infeasible += 1
            assert r["stop_reason"] == "infeasible" and r["trace_tokens"] == 0 and r["correct"] is False
            assert "cannot hold the" in r["infeasible_reason"]
    assert infeasible >= 4  # vase at 128: ~100-token prompts + R = 64
    # vase at 80 tokens with R = 64 is refused by the policy itself: a clear error, no run.
    proc = run_eval(tc_bin, tiny, tmp_path / "bad", "--n", "2", "--policies", "vase", "--budgets", "80",
                    "--max-tokens", "8", check=False)
    assert proc.returncode == 1 and "multiple of the window R = 64" in proc.stderr


def test_eval_is_deterministic_across_runs_and_threads(tc_bin, tiny, tmp_path):
    args = ["--n", "3", "--policies", "full,vase,h2o", "--budgets", "30%", "--seeds", "0,1", "--max-tokens", "20"]
    run_eval(tc_bin, tiny, tmp_path / "a", *args, "--threads", "2")
    run_eval(tc_bin, tiny, tmp_path / "b", *args, "--threads", "1")
    a = read_rows(tmp_path / "a" / "rows.jsonl")
    b = read_rows(tmp_path / "b" / "rows.jsonl")
    assert without_timing(a) == without_timing(b)
    # Seeds matter for vase (its draws) and the rows say which seed ran.
    assert {r["seed"] for r in a if r["policy"] == "vase"} == {0, 1}
    assert {r["seed"] for r in a if r["policy"] == "h2o"} == {0}


def test_eval_reports_parse(tc_bin, tiny, tmp_path):
    out = tmp_path / "r"
    run_eval(tc_bin, tiny, out, "--n", "3", "--policies", "lazy,streaming", "--budgets", "25%,50%",
             "--max-tokens", "16", "--title", "tiny & <random>")
    md = (out / "results.md").read_text()
    assert md.startswith("# tiny & <random>\n")
    assert "thinkcache eval --model" in md and "--policies lazy,streaming --budgets 25%,50%" in md
    table = [line for line in md.splitlines() if line.startswith("|")]
    # Header, separator, the full cache (not requested: a reference), 2 policies x 2 budgets.
    assert len(table) == 2 + 1 + 4
    assert table[2].startswith("| full (reference) |")
    assert all(line.count("|") == 15 for line in table)
    rows = read_rows(out / "rows.jsonl")
    assert [r["requested"] for r in rows if r["policy"] == "full"] == [False] * 3
    for name in ("plot.svg", "plot_kv.svg"):
        root = ET.parse(out / name).getroot()  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert "tiny & <random>: accuracy vs KV budget" in texts or "tiny & <random>: accuracy vs peak KV" in texts
        assert "lazy" in texts and "streaming" in texts
        assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 2
    # --rows re-aggregates the same table.
    run_tc(tc_bin, "eval", "--rows", out / "rows.jsonl", "--out", tmp_path / "again")
    again = [line for line in (tmp_path / "again" / "results.md").read_text().splitlines() if line.startswith("|")]
    strip_speed = lambda lines: [l.rsplit("|", 3)[0] for l in lines]  # tokens/s differs only in formatting order
    assert strip_speed(again) == strip_speed(table)


def test_eval_keep_text_answers_match_checker(tc_bin, tiny, tmp_path):
    out = tmp_path / "t"
    run_eval(tc_bin, tiny, out, "--n", "2", "--policies", "full", "--max-tokens", "12", "--keep-text")
    for r in read_rows(out / "rows.jsonl"):
        assert "text" in r
        # No answer line in 12 random tokens: the checker and the row agree.
        assert r["answered"] == ("answer:" in r["text"])
        assert r["correct"] is False


@pytest.mark.parametrize("args, message", [
    (["--suite", "nosuch"], "nosuch"),
    (["--policies", "full,nosuch"], "unknown KV policy \"nosuch\""),
    (["--budgets", "25x"], "\"25x\" is not a budget"),
    (["--budgets", "0"], "must be positive"),
    (["--budgets", "0%"], "outside"),
    (["--n", "0"], "--n must be positive"),
    (["--n", "-3"], "--n must be positive"),
    (["--seeds", "1,x"], "\"x\" is not a seed"),
    (["--policies", "vase:window=32", "--budgets", "100"], "not valid for policy vase:window=32"),
    (["--policies", "lazy", "--budgets", "10"], "must exceed W"),
    (["--param", "nosuch=1"], "nosuch"),
    (["--threads", "0"], "--threads"),
    (["--budget-mode", "per-problem"], "not a budget mode"),
])
def test_eval_bad_input(tc_bin, tiny, tmp_path, args, message):
    base = {"--policies": "full,lazy", "--budgets": "25%", "--n": "2"}
    extra = []
    for key, value in base.items():
        if key not in args:
            extra += [key, value]
    proc = run_eval(tc_bin, tiny, tmp_path / "x", *extra, *args, "--max-tokens", "8", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "thinkcache eval: error:" in proc.stderr and message in proc.stderr, proc.stderr


def test_eval_missing_model(tc_bin, tmp_path):
    proc = run_eval(tc_bin, tmp_path / "nope", tmp_path / "x", "--n", "1", "--policies", "full", check=False)
    assert proc.returncode == 1 and "thinkcache eval: error:" in proc.stderr and "nope" in proc.stderr


def test_eval_prompt_longer_than_context(tc_bin, tiny, tmp_path):
    # The same weights declared with a 64-token context: a chain prompt no longer fits.
    short = tmp_path / "short"
    shutil.copytree(tiny, short)
    config = json.loads((short / "config.json").read_text())
    config["max_position_embeddings"] = 64
    (short / "config.json").write_text(json.dumps(config))
    proc = run_eval(tc_bin, short, tmp_path / "x", "--n", "1", "--policies", "full", check=False)
    assert proc.returncode == 1
    assert "does not fit the model's context of 64 tokens" in proc.stderr, proc.stderr


def test_demo_runs_on_a_given_model(tc_bin, tiny, tmp_path):
    proc = run_tc(tc_bin, "demo", "--model", tiny, "--n", "2", "--max-tokens", "16", "--out", tmp_path / "d")
    out = proc.stdout
    assert "chain-s1-0  expected:" in out and "chain-s1-1  expected:" in out
    for policy in ("full", "lazy 25%", "vase 25%"):
        assert policy in out
    summary = out[out.index("\npolicy "):]
    assert summary.count("\nfull ") == 1 and "\nlazy " in summary and "\nvase " in summary
    assert len(read_rows(tmp_path / "d" / "rows.jsonl")) == 2 * 3


def test_demo_without_testbed_model_is_a_clear_error(tc_bin, tmp_path):
    # A copy of the binary outside the repository, run from an empty folder: no models/testbed anywhere.
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "thinkcache"
    shutil.copy(tc_bin, exe)
    proc = subprocess.run([str(exe), "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert "thinkcache demo: error: the testbed model is missing" in proc.stderr
    assert "--model PATH" in proc.stderr


# --- the committed testbed results reproduce ---------------------------------------------------

COMMITTED = REPO / "eval" / "results" / "testbed-chain"
TESTBED = REPO / "models" / "testbed"


def test_committed_testbed_results_reproduce(tc_bin, tmp_path):
    rows_file = COMMITTED / "rows.jsonl"
    if not rows_file.exists() or not TESTBED.exists():
        pytest.skip("no committed testbed results or no models/testbed yet")
    committed = read_rows(rows_file)
    # Re-run the first 5 problems with the full cache and two policies at one percentage budget
    # and one seed, with the same suite parameters and generation cap as the committed run.
    command = (COMMITTED / "command.txt").read_text().split()
    def option(name, default=None):
        return command[command.index(name) + 1] if name in command else default
    params = [command[i + 1] for i, word in enumerate(command) if word == "--param"]
    start = int(option("--start", "0"))
    budget = next(r["budget_spec"] for r in committed if r["policy"] == "vase")
    seed = min(r["seed"] for r in committed)
    args = ["--n", "5", "--start", str(start), "--task-seed", option("--task-seed", "1"), "--suite",
            option("--suite", "chain"), "--policies", "full,lazy,vase", "--budgets", budget, "--seeds", str(seed),
            "--budget-mode", option("--budget-mode", "problem")]
    for p in params:
        args += ["--param", p]
    if option("--max-tokens"):
        args += ["--max-tokens", option("--max-tokens")]
    else:
        args += ["--max-tokens-factor", option("--max-tokens-factor", "1.5")]
    run_eval(tc_bin, TESTBED, tmp_path / "slice", *args)
    fresh = read_rows(tmp_path / "slice" / "rows.jsonl")
    key = lambda r: (r["index"], r["policy"], r["budget_spec"], r["seed"])
    by_key = {key(r): r for r in committed}
    compared = 0
    for r in fresh:
        c = by_key.get(key(r))
        assert c is not None, f"the committed results have no row {key(r)}"
        for field in ("correct", "trace_tokens", "answer", "budget", "window", "peak_kv_bytes"):
            assert r[field] == c[field], (key(r), field, r[field], c[field])
        compared += 1
    assert compared == 5 * 3
