"""`thinkcache tasks`: JSONL shape, determinism, independent re-evaluation of the problems,
the exact checker (--check), bad input; and the shipped testbed model (models/testbed) loaded
with HF transformers, answering held-out problems."""
import json
import pathlib
import re

import pytest

from conftest import REPO, run_tc

MODEL = REPO / "models" / "testbed"


def tasks(tc_bin, *args):
    return [json.loads(line) for line in run_tc(tc_bin, "tasks", *args).stdout.splitlines()]


def eval_chain(prompt: str):
    """Independent evaluation of a chain prompt: returns (definitions, queries, answer)."""
    lines = prompt.rstrip("\n").split("\n")
    defs = {}
    for line in lines[:-1]:
        m = re.fullmatch(r"([a-zA-Z])=(?:([a-zA-Z])([-+])(\d)|(\d)|([a-zA-Z]))", line)
        assert m, line
        assert m.group(1) not in defs
        if m.group(5) is not None:    # a root: k=7
            defs[m.group(1)] = (None, None, int(m.group(5)))
        elif m.group(6) is not None:  # an alias: x=k
            defs[m.group(1)] = (m.group(6), None, 0)
        else:                         # arithmetic=1: x=k+3
            defs[m.group(1)] = (m.group(2), m.group(3), int(m.group(4)))
    assert lines[-1].startswith("find: ")
    queries = lines[-1][len("find: "):].split(" ")

    def value(name):
        ref, op, d = defs[name]
        if ref is None:
            return d
        v = value(ref)
        return v if op is None else {"+": (v + d) % 10, "-": (v - d) % 10}[op]

    return defs, queries, " ".join(f"{q}={value(q)}" for q in queries)


def test_jsonl_shape_and_answers(tc_bin):
    rows = tasks(tc_bin, "--suite", "chain", "--n", "20", "--seed", "3")
    assert len(rows) == 20
    for i, r in enumerate(rows):
        assert list(r) == ["id", "suite", "prompt", "trace", "answer"]
        assert r["id"] == f"chain-s3-{i}" and r["suite"] == "chain"
        assert r["prompt"].endswith("\n")
        assert r["trace"].startswith("<think>\n")
        assert r["trace"].endswith("</think>\nanswer: " + r["answer"])
        defs, queries, answer = eval_chain(r["prompt"])
        # defaults: 3 chains of 4-7 definitions, 12 distractors, 4 revisits
        assert len(queries) == 3 + 4 and 3 * 4 + 12 <= len(defs) <= 3 * 7 + 12
        assert len(set(queries)) == len(queries)
        assert r["answer"] == answer
    for r in tasks(tc_bin, "--suite", "chain", "--n", "20", "--seed", "3", "--param", "arithmetic=1"):
        defs, queries, answer = eval_chain(r["prompt"])
        assert any(op for _, op, _ in defs.values())  # x=k+3 definitions
        assert r["answer"] == answer
    for r in tasks(tc_bin, "--suite", "arith", "--n", "10", "--seed", "4", "--param", "terms=5", "--param", "digits=9"):
        numbers = r["prompt"][len("add: "):].strip().split("+")
        assert len(numbers) == 5 and all(len(n) == 9 for n in numbers)
        assert r["answer"] == str(sum(map(int, numbers)))


def solve_maze(prompt: str):
    """Independent solution of a maze prompt: the tree from its room lines, a depth-first search
    per target trying doors in the listed order. Returns (doors, entrance, targets, paths)."""
    lines = prompt.rstrip("\n").split("\n")
    doors = {}
    for line in lines[:-1]:
        m = re.fullmatch(r"([a-zA-Z]): (-|[a-zA-Z](?: [a-zA-Z])*)", line)
        assert m, line
        assert m.group(1) not in doors
        doors[m.group(1)] = [] if m.group(2) == "-" else m.group(2).split(" ")
    m = re.fullmatch(r"from ([a-zA-Z]) find((?: [a-zA-Z])+)", lines[-1])
    assert m, lines[-1]
    entrance, targets = m.group(1), m.group(2).split()

    def dfs(room, target, path):
        path = path + [room]
        if room == target:
            return path
        for child in doors[room]:
            found = dfs(child, target, path)
            if found:
                return found
        return None

    return doors, entrance, targets, [dfs(entrance, t, []) for t in targets]


def replay_maze_trace(trace: str, doors: dict, entrance: str, targets: list):
    """Walks the trace line by line, checking each against the search it describes: room lines are
    copies of the prompt's, paths follow the moves, doors are tried in order, backs go to the
    parent. Returns the found paths."""
    lines = trace.split("\n")
    assert lines[0] == "<think>"
    i, found = 1, []
    for target in targets:
        assert lines[i] == f"search {target}"
        i += 1
        path, tried = [], {}
        room = entrance
        while True:
            assert lines[i] == f"{room}: " + (" ".join(doors[room]) or "-"), (i, lines[i])
            if not path or path[-1] != room:
                path.append(room)
            assert lines[i + 1] == "path " + " ".join(path), (i, lines[i + 1])
            i += 2
            if room == target:
                assert lines[i] == f"found {target}: " + " ".join(path)
                i += 1
                found.append(path)
                break
            done = tried.setdefault(room, 0)
            if done < len(doors[room]):
                child = doors[room][done]
                expected = f"go {child}" if done == 0 else f"after {doors[room][done - 1]} go {child}"
                assert lines[i] == expected, (i, lines[i], expected)
                tried[room] = done + 1
                tried.pop(child, None)
                room = child
                i += 1
                continue
            if doors[room]:
                assert lines[i] == f"after {doors[room][-1]} none"
                i += 1
            path.pop()
            room = path[-1]
            assert lines[i] == f"back {room}"
            i += 1
    assert lines[i] == "</think>"
    return found


def test_maze_answers_and_traces_replay(tc_bin):
    settings = [[], ["rooms=10", "targets=1"], ["rooms=52", "targets=6", "max_doors=2", "max_depth=20"],
                ["rooms=20", "targets=3", "max_doors=5", "max_depth=3", "max_length=0", "max_prompt_percent=100"]]
    for params in settings:
        rows = tasks(tc_bin, "--suite", "maze", "--n", "25", "--seed", "7", *sum((["--param", p] for p in params), []))
        for r in rows:
            doors, entrance, targets, paths = solve_maze(r["prompt"])
            assert len(set(targets)) == len(targets) and entrance not in targets
            assert r["answer"] == ", ".join(" ".join(p) for p in paths)
            assert replay_maze_trace(r["trace"], doors, entrance, targets) == paths
            assert r["trace"].endswith("</think>\nanswer: " + r["answer"])


def test_sum_answers_and_scratchpads(tc_bin):
    for params in [[], ["items=1"], ["items=30", "digits_min=1", "digits_max=9"]]:
        for r in tasks(tc_bin, "--suite", "sum", "--n", "25", "--seed", "8", *sum((["--param", p] for p in params), [])):
            lines = r["prompt"].rstrip("\n").split("\n")
            items = [tuple(line.split("=")) for line in lines[:-1]]
            assert lines[-1] == f"add {items[0][0]} to {items[-1][0]}"
            assert [name for name, _ in items] == list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[:len(items)])
            total = sum(int(v) for _, v in items)
            assert r["answer"] == str(total)
            # Every scratch line "A+B cC rR" follows from the one above it by one column of addition.
            trace = r["trace"].split("\n")
            scratch = [re.fullmatch(r"(\d*)\+(\d*) c([01]) r(\d*)", line) for line in trace]
            for above, below in zip(scratch, scratch[1:]):
                if not (above and below):
                    continue
                a, b, carry, result = above.group(1), above.group(2), int(above.group(3)), above.group(4)
                s = carry + (int(a[-1]) if a else 0) + (int(b[-1]) if b else 0)
                assert below.groups() == (a[:-1], b[:-1], str(s // 10), str(s % 10) + result)
            sums = [int(line[4:]) for line in trace if line.startswith("sum=")]
            order = [int(v) for _, v in items] + [int(v) for _, v in reversed(items)]
            assert sums == [sum(order[:k + 1]) - (sum(order[:len(items)]) if k >= len(items) else 0)
                            for k in range(2 * len(items))]
            assert f"so {total}={total}" in trace


def test_long_suites_lengths_in_the_seeds_regime(tc_bin):
    """The defaults: full-cache sequences of 1,000-4,000 tokens with the prompt at most 10%,
    counted with a Qwen-style byte-level BPE learned on the suites' text (the testbed's kind)."""
    tokenizers = pytest.importorskip("tokenizers")
    import sys
    sys.path.insert(0, str(REPO / "tools"))
    from testbed_tokenizer import train_tokenizer
    corpus = tasks(tc_bin, "--suite", "maze", "--n", "300", "--seed", "1000") + \
        tasks(tc_bin, "--suite", "sum", "--n", "300", "--seed", "1000")
    tok = train_tokenizer([r["prompt"] + r["trace"] for r in corpus])
    for suite in ("maze", "sum"):
        for r in tasks(tc_bin, "--suite", suite, "--n", "100", "--seed", "1"):
            prompt = len(tok.encode(r["prompt"]).ids)
            length = prompt + len(tok.encode(r["trace"]).ids) + 1
            assert 1000 <= length <= 4000, (r["id"], length)
            assert prompt <= 0.1 * length, (r["id"], prompt, length)


def test_same_seed_same_bytes(tc_bin, tmp_path):
    args = ["tasks", "--suite", "chain", "--n", "30", "--seed", "9", "--param", "queries=2"]
    a = run_tc(tc_bin, *args).stdout
    assert a == run_tc(tc_bin, *args).stdout
    out = tmp_path / "x.jsonl"
    run_tc(tc_bin, *args, "--out", out)
    assert out.read_text() == a
    tail = run_tc(tc_bin, "tasks", "--suite", "chain", "--n", "5", "--seed", "9", "--start", "25",
                  "--param", "queries=2").stdout
    assert tail.splitlines() == a.splitlines()[25:]
    other = run_tc(tc_bin, "tasks", "--suite", "chain", "--n", "30", "--seed", "10", "--param", "queries=2").stdout
    assert not set(a.splitlines()) & set(other.splitlines())


def test_check_accepts_reference_and_rejects_corruption(tc_bin, tmp_path):
    rows = tasks(tc_bin, "--suite", "chain", "--n", "10", "--seed", "5")
    rows += tasks(tc_bin, "--suite", "arith", "--n", "10", "--seed", "5")

    def corrupt(text):
        i = max(i for i, c in enumerate(text) if c.isdigit())
        return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]

    outputs = [r["trace"] for r in rows] + [corrupt(r["trace"]) for r in rows] + \
              [r["trace"].replace("</think>", "") for r in rows[:3]]
    src = tmp_path / "outputs.jsonl"
    src.write_text("".join(json.dumps({**r, "output": o}) + "\n" for r, o in zip(rows * 3, outputs)))
    dst = tmp_path / "results.jsonl"
    p = run_tc(tc_bin, "tasks", "--check", src, "--out", dst)
    results = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [x["correct"] for x in results] == [True] * 20 + [False] * 23
    assert results[0]["extracted"] == rows[0]["answer"]
    assert results[-1]["extracted"] is None
    summary = json.loads(p.stderr.strip().splitlines()[-1])
    assert summary["n"] == 43 and summary["correct"] == 20
    assert abs(summary["accuracy"] - 20 / 43) < 1e-6


@pytest.mark.parametrize("args,message", [
    (["--suite", "nope", "--n", "1", "--seed", "1"], "unknown task suite 'nope'"),
    (["--suite", "chain", "--n", "1", "--seed", "1", "--param", "depth=3"], "has no parameter 'depth'"),
    (["--suite", "chain", "--n", "1", "--seed", "1", "--param", "queries=9"], "out of range [1, 8]"),
    (["--suite", "chain", "--n", "1", "--seed", "1", "--param", "queries=x"], "expects an integer"),
    (["--suite", "chain", "--n", "1"], "--seed"),
    (["--suite", "chain", "--n", "1", "--seed", "1", "--bogus"], "unknown option --bogus"),
    (["--check", "/nonexistent/file.jsonl"], "cannot open /nonexistent/file.jsonl"),
])
def test_bad_input_is_a_clear_error(tc_bin, args, message):
    p = run_tc(tc_bin, "tasks", *args, check=False)
    assert p.returncode == 1
    assert message in p.stderr


def test_check_rejects_malformed_lines(tc_bin, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id":"a","suite":"chain","prompt":"","trace":"","answer":"1"}\n')
    p = run_tc(tc_bin, "tasks", "--check", bad, check=False)
    assert p.returncode == 1 and 'missing string field "output"' in p.stderr
    bad.write_text('{"id":"a","suite":"chain",\n')
    p = run_tc(tc_bin, "tasks", "--check", bad, check=False)
    assert p.returncode == 1 and "bad.jsonl:1" in p.stderr


# ----------------------------------------------------------------------------------------------
# The shipped testbed model

def test_testbed_tokenizer_is_qwen_style_byte_level_bpe():
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    data = json.loads((MODEL / "tokenizer.json").read_text())
    assert data["model"]["type"] == "BPE" and len(data["model"]["merges"]) > 50
    assert data["normalizer"]["type"] == "NFC"
    pre = data["pre_tokenizer"]["pretokenizers"]
    assert pre[0]["type"] == "Split" and r"\p{N}" in pre[0]["pattern"]["Regex"]
    assert pre[1]["type"] == "ByteLevel" and data["decoder"]["type"] == "ByteLevel"
    raw = tokenizers.Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    auto = transformers.AutoTokenizer.from_pretrained(str(MODEL))
    text = "x=k+3\nk=7\nfind: x\n<think>\nx=k+3\nx=k+3\nk=7\nx=7+3=0\nso x=0\n</think>\nanswer: x=0 é 1234"
    assert auto(text)["input_ids"] == raw.encode(text).ids
    assert auto.decode(raw.encode(text).ids) == text
    assert [raw.id_to_token(i) for i in raw.encode("1234").ids] == ["1", "2", "3", "4"]
    assert auto.eos_token == "<|endoftext|>" and auto.pad_token_id == auto.eos_token_id
    assert len(raw.encode("<think></think>").ids) == 2


def test_testbed_model_answers_heldout_problems(tc_bin, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    assert MODEL.exists(), "models/testbed is part of the repository"
    total = sum(f.stat().st_size for f in MODEL.iterdir())
    assert total < 30 * 2**20
    config = json.loads((MODEL / "config.json").read_text())
    assert config["model_type"] == "qwen3" and config["num_key_value_heads"] < config["num_attention_heads"]
    model = transformers.AutoModelForCausalLM.from_pretrained(str(MODEL), dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(MODEL))
    assert type(model).__name__ == "Qwen3ForCausalLM"

    # Held-out problems (task seed 1 is never used for training) at the shipped difficulty.
    log = json.loads((MODEL / "training_log.json").read_text())
    params = [f"{k}={v}" for k, v in log["eval_params"].items()]
    rows = tasks(tc_bin, "--suite", "chain", "--n", "12", "--seed", "1", "--start", "1000",
                 *sum((["--param", p] for p in params), []))
    tok.padding_side = "left"
    enc = tok([r["prompt"] for r in rows], return_tensors="pt", padding=True)
    with torch.no_grad():
        longest = max(len(tok(r["trace"])["input_ids"]) for r in rows)
        gen = model.generate(**enc, max_new_tokens=longest + 16, do_sample=False, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.eos_token_id)
    outputs = [tok.decode(g[enc["input_ids"].shape[1]:], skip_special_tokens=True) for g in gen]
    src = tmp_path / "outputs.jsonl"
    src.write_text("".join(json.dumps({**r, "output": o}) + "\n" for r, o in zip(rows, outputs)))
    p = run_tc(tc_bin, "tasks", "--check", src)
    summary = json.loads(p.stderr.strip().splitlines()[-1])
    assert summary["correct"] >= 10, outputs
