#!/usr/bin/env python3
"""Accuracy against the KV budget of a chat model on procedural addition problems.

`thinkcache eval` drives the testbed's prompt format; a real instruct model needs its chat
template and a free-form answer instead. This runs each problem of thinkcache's `arith`
generator (`thinkcache tasks --suite arith`, so the numbers are reproducible from the seed) as
a chat question through `thinkcache generate --chat` (the engine's own generation path, greedy)
with the system prompt Qwen's math models are evaluated with, for every policy x budget, and
checks the last number inside \\boxed{...} (else the last number of the reply) against the sum.

usage: tools/chat_math_budget.py --model GGUF --n 16 --terms 3 --digits 3
           --configs full,lazy@96,vase/32@96,h2o@96 --out DIR
Writes DIR/rows.jsonl (one row per problem x config, as they finish) and DIR/results.md.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def final_number(text: str):
    boxed = re.findall(r"\\boxed\{([^}]*)\}", text)
    nums = re.findall(r"-?\d+", (boxed[-1] if boxed else text).replace(",", ""))
    return nums[-1] if nums else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--thinkcache", default=str(REPO / "build" / "thinkcache"))
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=7, help="task seed of the arith generator")
    ap.add_argument("--terms", type=int, default=3)
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--configs", default="full",
                    help="comma-separated POLICY[/WINDOW]@BUDGET (full alone: no budget; WINDOW: --kv-window)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = subprocess.run([a.thinkcache, "tasks", "--suite", "arith", "--n", str(a.n), "--seed", str(a.seed),
                            "--param", f"terms={a.terms}", "--param", f"digits={a.digits}"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    problems = [json.loads(t) for t in tasks]
    configs = [c.split("@") if "@" in c else [c, None] for c in a.configs.split(",")]
    configs = [(p.split("/")[0], p.split("/")[1] if "/" in p else None, b) for p, b in configs]
    summary = []
    with open(out / "rows.jsonl", "w") as rows:
        for policy, window, budget in configs:
            correct, generated, peak, t0 = 0, 0, 0, time.time()
            for p in problems:
                question = "What is " + p["prompt"].split(":", 1)[1].strip().replace("+", " + ") + "?"
                cmd = [a.thinkcache, "generate", "--model", a.model, "--chat", "--system", SYSTEM, "--prompt", question,
                       "--max-tokens", str(a.max_tokens), "--json"]
                if policy != "full":
                    cmd += ["--kv-policy", policy, "--kv-budget", budget]
                if window:
                    cmd += ["--kv-window", window]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    sys.exit(f"chat_math_budget: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
                r = json.loads(proc.stdout)
                got = final_number(r["text"])
                ok = got == p["answer"]
                correct += ok
                generated += len(r["tokens"])
                kv_peak = r["kv_peak_tokens"]  # most live tokens per KV head at any step
                peak += kv_peak
                rows.write(json.dumps({"id": p["id"], "policy": policy, "window": window, "budget": budget,
                                       "correct": ok,
                                       "answer": p["answer"], "got": got, "prompt_tokens": r["prompt_tokens"],
                                       "generated_tokens": len(r["tokens"]), "kv_peak_tokens": kv_peak,
                                       "evictions": r["evictions"],
                                       "text": r["text"]}) + "\n")
                rows.flush()
            n = len(problems)
            name = policy + (f" (window {window})" if window else "")
            summary.append((name, budget or "-", correct, n, generated / n, peak / n))
            print(f"{name} @ {budget or '-'}: {correct}/{n} correct, mean {generated / n:.0f} generated tokens, "
                  f"{time.time() - t0:.0f} s", flush=True)
    with open(out / "results.md", "w") as f:
        f.write(f"# {pathlib.Path(a.model).name}: arith (terms={a.terms}, digits={a.digits}, task seed {a.seed}) "
                "accuracy against the KV budget\n\n```\n" + " ".join(["tools/chat_math_budget.py"] + sys.argv[1:])
                + "\n```\n\n| policy | budget (tokens per KV head) | correct | accuracy | mean generated tokens | "
                "mean peak KV tokens |\n|---|---|---|---|---|---|\n")
        for policy, budget, c, n, gen, pk in summary:
            f.write(f"| {policy} | {budget} | {c}/{n} | {100 * c / n:.1f}% | {gen:.0f} | {pk:.0f} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
