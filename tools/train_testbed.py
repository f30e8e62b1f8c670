#!/usr/bin/env python3
"""Trains thinkcache's testbed reasoning model (a tiny Qwen3) on the `chain` task suite.

One source of truth for the data: every problem comes from the `thinkcache tasks` binary
(build it first: cmake -S . -B build -G Ninja && cmake --build build -j2 --target thinkcache),
and accuracy is judged by `thinkcache tasks --check`, the suites' exact checkers.

Seeds (document any change in models/testbed/README.md):
  - training problems: task seeds 1000 + k, one per data chunk k (k = 0, 1, ...);
  - the tokenizer is learned from chunk 0 of the training data (plus arith text, seed 1000);
  - held-out problems: task seed 1 (any seed below 1000 is held out; the script also checks
    that no held-out prompt occurs in the training data it generated);
  - --seed fixes the weight initialisation and the batch order.

Commands:
  train:  python3 tools/train_testbed.py train --out models/testbed --steps 4000 --seed 0
  eval:   python3 tools/train_testbed.py eval --model models/testbed --n 200 --seed 1
Runs on a GPU when one is present (--device cuda|cpu|auto), in bf16 autocast there, fp32 on
the CPU. Under CPU contention --threads 1 is often faster than 2 (OpenMP threads spin). --minutes stops training early (the schedule is by steps, so a stopped run is not
the run that --steps describes; the log says so).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from testbed_tokenizer import EOS_TOKEN, save_tokenizer_folder, train_tokenizer  # noqa: E402

TRAIN_SEED_BASE = 1000
HELDOUT_SEED = 1

# The shipped difficulty of `chain` (models/testbed): three chains of 4-7 aliases, 12 distractor
# definitions and 4 revisits, no arithmetic (with mod-10 offsets the 1M-parameter CPU model learned
# the look-ups but not the digit arithmetic: 74% per offset digit after 3000 steps, no exact answers).
EVAL_PARAMS = {"queries": 3, "depth_min": 4, "depth_max": 7, "distractors": 12, "distractor_depth": 4,
               "revisits": 4, "arithmetic": 0}

# Training data by stage of the run: (start fraction of --steps, [(weight, suite, suite params)]).
# The skills are learned first on short problems (cheap sequences where each rule is easy to
# discover), then the mixture moves to the shipped difficulty, with some easier problems kept and
# some harder ones so that the model does not rely on the shipped sizes.
TINY = {"queries": 1, "depth_min": 2, "depth_max": 3, "distractors": 2, "distractor_depth": 2, "revisits": 0, "arithmetic": 0}
RECALL = {"queries": 4, "depth_min": 1, "depth_max": 2, "distractors": 4, "distractor_depth": 2, "revisits": 0, "arithmetic": 0}
EASY = {"queries": 1, "depth_min": 3, "depth_max": 5, "distractors": 6, "distractor_depth": 3, "revisits": 1, "arithmetic": 0}
MEDIUM = {"queries": 2, "depth_min": 3, "depth_max": 6, "distractors": 10, "distractor_depth": 4, "revisits": 2, "arithmetic": 0}
HARD = {"queries": 3, "depth_min": 5, "depth_max": 8, "distractors": 16, "distractor_depth": 5, "revisits": 6, "arithmetic": 0}

# The long-trace suites (models/testbed-long): `maze` and `sum` at their defaults are the shipped
# difficulty (thinkcache tasks --list); smaller instances teach the rules first.
MAZE_SMALL = {"rooms": 10, "targets": 1}
MAZE_MEDIUM = {"rooms": 24, "targets": 2}
MAZE_HARD = {"rooms": 52, "targets": 5}
SUM_SMALL = {"items": 4, "digits_min": 1, "digits_max": 3}
SUM_MEDIUM = {"items": 8}
SUM_HARD = {"items": 16, "digits_min": 2, "digits_max": 5}

CURRICULA = {
    "full": [
        (0.0, [(0.5, "chain", TINY), (0.5, "chain", RECALL)]),
        (0.30, [(0.2, "chain", RECALL), (0.4, "chain", EASY), (0.4, "chain", MEDIUM)]),
        (0.55, [(0.1, "chain", EASY), (0.3, "chain", MEDIUM), (0.6, "chain", EVAL_PARAMS)]),
        (0.80, [(0.1, "chain", MEDIUM), (0.7, "chain", EVAL_PARAMS), (0.2, "chain", HARD)]),
    ],
    "long": [
        (0.0, [(0.5, "maze", MAZE_SMALL), (0.5, "sum", SUM_SMALL)]),
        (0.25, [(0.2, "maze", MAZE_SMALL), (0.3, "maze", MAZE_MEDIUM), (0.2, "sum", SUM_SMALL), (0.3, "sum", SUM_MEDIUM)]),
        (0.50, [(0.1, "maze", MAZE_MEDIUM), (0.4, "maze", {}), (0.1, "sum", SUM_MEDIUM), (0.4, "sum", {})]),
        (0.80, [(0.35, "maze", {}), (0.15, "maze", MAZE_HARD), (0.35, "sum", {}), (0.15, "sum", SUM_HARD)]),
    ],
    "maze-pilot": [(0.0, [(1.0, "maze", MAZE_SMALL)]), (0.4, [(0.3, "maze", MAZE_SMALL), (0.7, "maze", MAZE_MEDIUM)])],
    "sum-pilot": [(0.0, [(1.0, "sum", SUM_SMALL)]), (0.4, [(0.3, "sum", SUM_SMALL), (0.7, "sum", SUM_MEDIUM)])],
    "easy": [(0.0, [(1.0, "chain", TINY)]), (0.3, [(0.3, "chain", TINY), (0.7, "chain", EASY)])],
    "shipped": [(0.0, [(1.0, "chain", EVAL_PARAMS)])],
    "recall": [(0.0, [(1.0, "chain", RECALL)])],
    "tiny": [(0.0, [(0.5, "chain", TINY), (0.5, "chain", RECALL)])],
}
# What each curriculum is evaluated on: suite -> params (the held-out problems, task seed 1).
CURRICULUM_EVAL = {
    "full": {"chain": EVAL_PARAMS},
    "long": {"maze": {}, "sum": {}},
    "maze-pilot": {"maze": MAZE_MEDIUM},
    "sum-pilot": {"sum": SUM_MEDIUM},
    "easy": {"chain": EASY},
    "shipped": {"chain": EVAL_PARAMS},
    "recall": {"chain": RECALL},
    "tiny": {"chain": TINY},
}


# ----------------------------------------------------------------------------------------------
# Data

def thinkcache_binary(path: str | None) -> pathlib.Path:
    exe = pathlib.Path(path) if path else pathlib.Path(os.environ.get("TC_BUILD_DIR", REPO / "build")) / "thinkcache"
    if not exe.exists():
        sys.exit(f"{exe} not found: build it first (cmake -S . -B build -G Ninja && "
                 f"cmake --build build -j2 --target thinkcache) or pass --thinkcache")
    return exe


def generate(exe: pathlib.Path, suite: str, n: int, seed: int, params: dict) -> list[dict]:
    cmd = [str(exe), "tasks", "--suite", suite, "--n", str(n), "--seed", str(seed)]
    for key, value in params.items():
        cmd += ["--param", f"{key}={value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def check_outputs(exe: pathlib.Path, rows: list[dict], outputs: list[str]) -> list[bool]:
    """Judges outputs with `thinkcache tasks --check`; returns one bool per row."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = pathlib.Path(tmp) / "outputs.jsonl", pathlib.Path(tmp) / "results.jsonl"
        with open(src, "w") as f:
            for row, output in zip(rows, outputs):
                f.write(json.dumps({**row, "output": output}) + "\n")
        subprocess.run([str(exe), "tasks", "--check", str(src), "--out", str(dst)], capture_output=True,
                       text=True, check=True)
        return [json.loads(line)["correct"] for line in dst.read_text().splitlines()]


class Encoded:
    """A problem as token ids: the prompt, then the completion (trace + EOS) the loss is on.
    `lookup[i]` marks completion tokens on walk-back lines (trace lines copied from the prompt):
    predicting them needs a look-up far back into the prompt; their accuracy is logged."""

    def __init__(self, prompt_ids: list[int], completion_ids: list[int], newline_id: int):
        self.prompt_ids = prompt_ids
        self.completion_ids = completion_ids
        prompt_lines = set(split_lines(prompt_ids, newline_id))
        self.lookup = []
        for line in split_lines(completion_ids, newline_id, keep_tail=True):
            self.lookup += [line in prompt_lines] * len(line) + [False]
        self.lookup = self.lookup[:len(completion_ids)]

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)


def split_lines(ids: list[int], newline_id: int, keep_tail: bool = False) -> list[tuple]:
    lines, current = [], []
    for i in ids:
        if i == newline_id:
            lines.append(tuple(current))
            current = []
        else:
            current.append(i)
    if keep_tail:
        lines.append(tuple(current))
    return lines


def encode_rows(tok, rows: list[dict]) -> list[Encoded]:
    prompts = tok.encode_batch([r["prompt"] for r in rows])
    completions = tok.encode_batch([r["trace"] + EOS_TOKEN for r in rows])
    newline = tok.encode("\n").ids[0]
    return [Encoded(p.ids, c.ids, newline) for p, c in zip(prompts, completions)]


class TrainStream:
    """An endless, seeded stream of training batches: fresh problems chunk by chunk (task seeds
    TRAIN_SEED_BASE + 8k + entry for chunk k), batched by similar length to save padding. A batch
    holds `batch_size` problems, or with `batch_tokens` as many as fit in that many (padded) tokens."""

    def __init__(self, exe, tok, batch_size: int, batch_tokens: int, chunk_size: int, seed: int,
                 heldout_prompts: set[str], curriculum: list):
        self.exe, self.tok, self.batch_size, self.chunk_size = exe, tok, batch_size, chunk_size
        self.batch_tokens = batch_tokens
        self.curriculum = curriculum
        self.rng = random.Random(seed)
        self.heldout_prompts = heldout_prompts
        self.chunk = 0
        self.batches: list[list[Encoded]] = []

    def _refill(self, progress: float) -> None:
        rows = []
        mixture = [m for start, m in self.curriculum if start <= progress][-1]
        weights = [w for w, _, _ in mixture]
        for i, (w, suite, params) in enumerate(mixture):
            n = max(1, round(self.chunk_size * w / sum(weights)))
            # Task seed: one per (chunk, mixture entry), all >= TRAIN_SEED_BASE.
            rows += generate(self.exe, suite, n, TRAIN_SEED_BASE + self.chunk * 8 + i, params)
        leaked = sum(r["prompt"] in self.heldout_prompts for r in rows)
        if leaked:
            raise RuntimeError(f"{leaked} held-out prompts appear in training chunk {self.chunk}")
        self.chunk += 1
        examples = encode_rows(self.tok, rows)
        self.rng.shuffle(examples)
        # Sort within windows, so each batch holds similar lengths.
        window = 16 * self.batch_size
        batches = []
        for start in range(0, len(examples), window):
            part = sorted(examples[start:start + window], key=len)
            if not self.batch_tokens:
                batches += [part[i:i + self.batch_size] for i in range(0, len(part) - self.batch_size + 1, self.batch_size)]
                continue
            batch: list[Encoded] = []
            for e in part:
                if batch and (len(batch) + 1) * len(e) > self.batch_tokens:
                    batches.append(batch)
                    batch = []
                batch.append(e)
            if batch:
                batches.append(batch)
        self.rng.shuffle(batches)
        self.batches = batches

    def next(self, progress: float) -> list[Encoded]:
        """The next batch; `progress` (fraction of the run done) picks the curriculum stage."""
        if not self.batches:
            self._refill(progress)
        return self.batches.pop()


def collate(batch: list[Encoded], pad_id: int, device):
    """Right-padded input ids and labels (-100 on the prompt and the padding)."""
    width = max(len(e) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)     # ids: [batch][width]
    labels = torch.full((len(batch), width), -100, dtype=torch.long)    # labels: [batch][width]
    mask = torch.zeros((len(batch), width), dtype=torch.long)           # mask: [batch][width]
    lookup = torch.zeros((len(batch), width), dtype=torch.bool)         # lookup: [batch][width]
    for b, e in enumerate(batch):
        seq = e.prompt_ids + e.completion_ids
        ids[b, :len(seq)] = torch.tensor(seq)
        labels[b, len(e.prompt_ids):len(seq)] = torch.tensor(e.completion_ids)
        lookup[b, len(e.prompt_ids):len(seq)] = torch.tensor(e.lookup)
        mask[b, :len(seq)] = 1
    return ids.to(device), labels.to(device), mask.to(device), lookup.to(device)


# ----------------------------------------------------------------------------------------------
# Model

def make_model(args, vocab_size: int, eos_id: int, max_positions: int):
    from transformers import Qwen3Config, Qwen3ForCausalLM
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.head_dim,
        max_position_embeddings=max_positions,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        attention_bias=False,
        hidden_act="silu",
        initializer_range=0.02,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        use_cache=True,
    )
    return Qwen3ForCausalLM(config)


def autocast_for(device, bf16: bool):
    """bf16 autocast on a GPU always, on the CPU when asked (about 1.5x faster there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def induction_warmup(model, opt, tok, eos: int, args, device) -> list[dict]:
    """Pre-training on random token sequences written twice (loss on the repeat only).

    Every far look-up in the chain traces is an induction copy (the token that followed an
    earlier occurrence of the current token). On the task data alone a small model finds that
    circuit late and slowly; on repeated random sequences it is the only way to lower the loss,
    so the heads form within a few hundred steps, and the task training starts from them."""
    gen = torch.Generator().manual_seed(args.seed + 1)
    ids_pool = torch.tensor([i for i in range(tok.get_vocab_size()) if i != eos])
    curve, started, hits, total = [], time.time(), 0, 0
    for step in range(args.induction_steps):
        for group in opt.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1) / 50)
        half = args.induction_length
        seq = ids_pool[torch.randint(0, len(ids_pool), (args.batch * 2, half), generator=gen)]  # seq: [batch][half]
        if args.induction_alphabet:
            # Half the rows draw from a few symbols only: a symbol then occurs many times, and
            # the copy must follow the place it is copying from (an n-gram match), as it must
            # for the digits and operators of a definition line.
            for row in range(0, seq.shape[0], 2):
                alphabet = ids_pool[torch.randperm(len(ids_pool), generator=gen)[:args.induction_alphabet]]
                seq[row] = alphabet[torch.randint(0, len(alphabet), (half,), generator=gen)]
        ids = torch.cat([seq, seq], 1).to(device)                                  # ids: [batch][2*half]
        logits = model(input_ids=ids).logits                                       # logits: [batch][2*half][vocab]
        pred, target = logits[:, half:-1], ids[:, half + 1:]
        loss = torch.nn.functional.cross_entropy(pred.float().reshape(-1, logits.shape[-1]), target.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            hits += int((pred.argmax(-1) == target).sum())
            total += target.numel()
        if (step + 1) % args.log_every == 0:
            point = {"step": step + 1, "loss": loss.item(), "copy_acc": hits / total,
                     "minutes": (time.time() - started) / 60}
            curve.append(point)
            print(f"induction {point['step']:5d}  loss {point['loss']:.3f}  copy acc {point['copy_acc']:.3f}  "
                  f"{point['minutes']:.1f} min", flush=True)
            hits, total = 0, 0
    return curve


# ----------------------------------------------------------------------------------------------
# Greedy evaluation

@torch.no_grad()
def greedy_outputs(model, tok, rows: list[dict], device, batch_size: int = 64, extra_tokens: int = 48) -> list[str]:
    """Greedy completions (full cache) for each row's prompt, batched with left padding."""
    model.eval()
    eos = tok.token_to_id(EOS_TOKEN)
    outputs = [""] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["prompt"]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        prompts = [tok.encode(rows[i]["prompt"]).ids for i in idx]
        budget = max(len(tok.encode(rows[i]["trace"]).ids) for i in idx) + extra_tokens
        width = max(map(len, prompts))
        ids = torch.full((len(idx), width), eos, dtype=torch.long)      # ids: [batch][width]
        mask = torch.zeros((len(idx), width), dtype=torch.long)         # mask: [batch][width]
        for b, p in enumerate(prompts):
            ids[b, width - len(p):] = torch.tensor(p)
            mask[b, width - len(p):] = 1
        with autocast_for(device, False):
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=budget,
                                 do_sample=False, eos_token_id=eos, pad_token_id=eos)
        for b, i in enumerate(idx):
            new = gen[b, width:].tolist()
            if eos in new:
                new = new[:new.index(eos)]
            outputs[i] = tok.decode(new, skip_special_tokens=False)
    return outputs


def quick_eval_thinkcache(exe: pathlib.Path, model_dir: pathlib.Path, suite: str, params: dict, n: int) -> dict:
    """Greedy full-cache accuracy of a saved model on the first n held-out problems, by
    `thinkcache eval` (the engine's own generation path)."""
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(exe), "eval", "--model", str(model_dir), "--suite", suite, "--n", str(n), "--task-seed",
               str(HELDOUT_SEED), "--policies", "full", "--budgets", "100%", "--kv-dtype", "f32", "--quiet",
               "--out", tmp]
        for key, value in params.items():
            cmd += ["--param", f"{key}={value}"]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows = [json.loads(line) for line in (pathlib.Path(tmp) / "rows.jsonl").read_text().splitlines()]
    correct = sum(r["correct"] for r in rows)
    return {"n": len(rows), "correct": correct, "accuracy": correct / max(1, len(rows)),
            "seconds": round(time.time() - t0, 1), "engine": "thinkcache"}


def evaluate(model, tok, exe, rows, device, verbose: int = 0) -> dict:
    t0 = time.time()
    outputs = greedy_outputs(model, tok, rows, device)
    correct = check_outputs(exe, rows, outputs)
    prompt_tokens = [len(tok.encode(r["prompt"]).ids) for r in rows]
    trace_tokens = [len(tok.encode(r["trace"] + EOS_TOKEN).ids) for r in rows]
    # What must survive in the KV cache when decoding starts: the prompt lines the trace will
    # copy (every queried chain) and the "find:" line; the distractors are never needed.
    needed = []
    for r in rows:
        lines = r["prompt"].splitlines(keepends=True)
        trace_lines = set(r["trace"].splitlines(keepends=True))
        needed.append(sum(len(tok.encode(line).ids) for line in lines[:-1] if line in trace_lines)
                      + len(tok.encode(lines[-1]).ids))
    for r, o, c in list(zip(rows, outputs, correct))[:verbose]:
        if not c:
            print(f"--- wrong: {r['id']}\nexpected:\n{r['trace']}\ngot:\n{o}\n", flush=True)
    return {
        "n": len(rows),
        "correct": int(sum(correct)),
        "accuracy": sum(correct) / len(rows),
        "exact_trace": sum(o == r["trace"] for o, r in zip(outputs, rows)) / len(rows),
        "mean_prompt_tokens": sum(prompt_tokens) / len(rows),
        "mean_trace_tokens": sum(trace_tokens) / len(rows),
        "max_total_tokens": max(p + t for p, t in zip(prompt_tokens, trace_tokens)),
        "needed_at_start_fraction": sum(n / (p + t) for n, p, t in zip(needed, prompt_tokens, trace_tokens)) / len(rows),
        "seconds": round(time.time() - t0, 1),
    }


# ----------------------------------------------------------------------------------------------
# Commands

def cmd_train(args) -> None:
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    exe = thinkcache_binary(args.thinkcache)
    out = pathlib.Path(args.out)
    started = time.time()

    # Tokenizer from training text of every suite the curriculum uses (the chain model's also
    # from arith text, as it was trained).
    suites = sorted({suite for _, mixture in CURRICULA[args.curriculum] for _, suite, _ in mixture})
    if suites == ["chain"]:
        corpus = generate(exe, "chain", 3000, TRAIN_SEED_BASE, EVAL_PARAMS) + generate(exe, "arith", 300, TRAIN_SEED_BASE, {})
    else:
        corpus = [r for suite in suites for r in generate(exe, suite, 1000, TRAIN_SEED_BASE, {})]
    tok = train_tokenizer([r["prompt"] + r["trace"] for r in corpus])
    for name in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        # Every name is one token bare (the start of a line that defines it) and one token after
        # '=' or ' ' (a reference to it): a look-up is an induction copy.
        if "chain" in suites:
            assert len(tok.encode(f"a={name}+1\n").ids) == 5, f"'={name}' is not one token"
        if "maze" in suites:
            assert len(tok.encode(f"{name}: {name} {name}\n").ids) == 5, f"'{name}' or ' {name}' is not one token"
    eos = tok.token_to_id(EOS_TOKEN)
    vocab = (tok.get_vocab_size() + 15) // 16 * 16  # padded, like Qwen's embedding tables

    eval_sets = {suite: generate(exe, suite, args.eval_n, HELDOUT_SEED, params)
                 for suite, params in CURRICULUM_EVAL[args.curriculum].items()}
    heldout_prompts = {r["prompt"] for rows in eval_sets.values() for r in rows}
    stream = TrainStream(exe, tok, args.batch, args.batch_tokens, args.chunk, args.seed, heldout_prompts,
                         CURRICULA[args.curriculum])

    model = make_model(args, vocab, eos, args.max_positions).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"device {device}, threads {torch.get_num_threads()}, vocab {tok.get_vocab_size()} (table {vocab}), "
          f"params {n_params / 1e6:.2f}M", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    warmup = max(1, int(args.warmup * args.steps))

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    log = {"args": vars(args), "params": n_params, "curve": [], "evals": []}
    if args.induction_steps:
        log["induction"] = induction_warmup(model, opt, tok, eos, args, device)
    train_started = time.time()
    running, running_tokens, seen_tokens, step = 0.0, 0, 0, 0
    lookup_hits, lookup_total = 0, 0
    stopped_early = False
    for step in range(args.steps):
        if args.minutes and time.time() - train_started > args.minutes * 60:
            stopped_early = True
            print(f"time budget of {args.minutes} min reached at step {step}", flush=True)
            break
        model.train()
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        ids, labels, mask, lookup = collate(stream.next(step / args.steps), eos, device)
        with autocast_for(device, args.bf16):
            logits = model(input_ids=ids, attention_mask=mask).logits    # logits: [batch][width][vocab]
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                 labels[:, 1:].reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        n_tok = int((labels[:, 1:] != -100).sum())
        running += loss.item() * n_tok
        running_tokens += n_tok
        with torch.no_grad():
            hit = logits[:, :-1].argmax(-1) == labels[:, 1:]                # hit: [batch][width-1]
            sel = lookup[:, 1:]
            lookup_hits += int((hit & sel).sum())
            lookup_total += int(sel.sum())
        seen_tokens += int(mask.sum())
        if (step + 1) % args.log_every == 0:
            point = {"step": step + 1, "loss": running / running_tokens,
                     "lookup_acc": lookup_hits / max(1, lookup_total), "lr": lr_at(step),
                     "minutes": (time.time() - train_started) / 60, "tokens": seen_tokens}
            log["curve"].append(point)
            print(f"step {point['step']:6d}  loss {point['loss']:.4f}  walk-back acc {point['lookup_acc']:.3f}  "
                  f"lr {point['lr']:.2e}  {point['minutes']:.1f} min  {seen_tokens / 1e6:.1f}M tok", flush=True)
            running, running_tokens, lookup_hits, lookup_total = 0.0, 0, 0, 0
        if args.eval_every and (step + 1) % args.eval_every == 0:
            # Quick held-out check through thinkcache (full cache, greedy): far faster than
            # transformers' generate on the CPU; the final evaluation below uses transformers.
            model.save_pretrained(out / "checkpoint", safe_serialization=True)
            save_tokenizer_folder(tok, out / "checkpoint", model_max_length=args.max_positions)
            for suite, rows in eval_sets.items():
                result = quick_eval_thinkcache(exe, out / "checkpoint", suite, CURRICULUM_EVAL[args.curriculum][suite],
                                               args.eval_quick)
                result.update({"step": step + 1, "suite": suite})
                log["evals"].append(result)
                print(f"  eval@{step + 1} {suite}: {result['correct']}/{result['n']} ({result['seconds']} s)", flush=True)

    train_minutes = (time.time() - train_started) / 60
    finals = {}
    for suite, rows in eval_sets.items():
        final = evaluate(model, tok, exe, rows, device, verbose=args.show_wrong)
        finals[suite] = final
        print(f"final held-out accuracy {suite}: {final['correct']}/{final['n']} = {final['accuracy']:.3f}  "
              f"(prompt {final['mean_prompt_tokens']:.0f} tok, trace {final['mean_trace_tokens']:.0f} tok, "
              f"{final['seconds']} s)", flush=True)

    out.mkdir(parents=True, exist_ok=True)
    model.config.dtype = torch.float32
    model.save_pretrained(out, safe_serialization=True)
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    save_tokenizer_folder(tok, out, model_max_length=args.max_positions)
    log.update({"steps_done": step + 1 if not stopped_early else step, "stopped_early": stopped_early,
                "train_minutes": train_minutes, "total_minutes": (time.time() - started) / 60,
                "final_eval": finals, "eval_params": CURRICULUM_EVAL[args.curriculum], "curriculum": CURRICULA[args.curriculum],
                "heldout_seed": HELDOUT_SEED, "train_seed_base": TRAIN_SEED_BASE, "device": str(device),
                "torch": torch.__version__})
    (out / "training_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(f"saved {out}", flush=True)


def cmd_eval(args) -> None:
    from transformers import AutoModelForCausalLM
    from tokenizers import Tokenizer
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    exe = thinkcache_binary(args.thinkcache)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).to(device)
    tok = Tokenizer.from_file(str(pathlib.Path(args.model) / "tokenizer.json"))
    params = dict(EVAL_PARAMS) if args.suite == "chain" else {}
    for item in args.param:
        key, value = item.split("=", 1)
        params[key] = int(value)
    rows = generate(exe, args.suite, args.n, args.seed, params)
    result = evaluate(model, tok, exe, rows, device, verbose=args.show_wrong)
    result.update({"suite": args.suite, "seed": args.seed, "params": params})
    print(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("train", "eval"):
        p = sub.add_parser(name)
        p.add_argument("--device", default="auto", help="auto, cpu or cuda")
        p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
        p.add_argument("--thinkcache", default=None, help="path of the thinkcache binary (default build/thinkcache)")
        p.add_argument("--show-wrong", type=int, default=0, help="print up to N wrong completions")
        if name == "train":
            p.add_argument("--out", required=True)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--steps", type=int, default=4000, help="length of the LR schedule")
            p.add_argument("--minutes", type=float, default=0, help="stop early after this many minutes (0: never)")
            p.add_argument("--batch", type=int, default=16)
            p.add_argument("--batch-tokens", type=int, default=0,
                           help="if > 0, batches hold as many problems as fit in this many padded tokens")
            p.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU too (always on a GPU)")
            p.add_argument("--chunk", type=int, default=1000, help="problems generated per data chunk")
            p.add_argument("--curriculum", default="full", choices=sorted(CURRICULA))
            p.add_argument("--lr", type=float, default=2e-3)
            p.add_argument("--min-lr-ratio", type=float, default=0.05)
            p.add_argument("--warmup", type=float, default=0.03, help="warm-up fraction of --steps")
            p.add_argument("--weight-decay", type=float, default=0.01)
            p.add_argument("--layers", type=int, default=4)
            p.add_argument("--hidden", type=int, default=128)
            p.add_argument("--intermediate", type=int, default=512)
            p.add_argument("--heads", type=int, default=4)
            p.add_argument("--kv-heads", type=int, default=2)
            p.add_argument("--head-dim", type=int, default=32)
            p.add_argument("--max-positions", type=int, default=2048)
            p.add_argument("--log-every", type=int, default=50)
            p.add_argument("--induction-steps", type=int, default=300,
                           help="warm-up steps on repeated random sequences before the task data")
            p.add_argument("--induction-length", type=int, default=64, help="length of each random half")
            p.add_argument("--induction-alphabet", type=int, default=10,
                           help="if > 0, half the warm-up rows use only this many random symbols")
            p.add_argument("--eval-every", type=int, default=0, help="quick held-out eval every N steps (0: off)")
            p.add_argument("--eval-quick", type=int, default=32, help="problems in the quick eval")
            p.add_argument("--eval-n", type=int, default=256, help="held-out problems in the final eval")
        else:
            p.add_argument("--model", default=str(REPO / "models" / "testbed"))
            p.add_argument("--n", type=int, default=256)
            p.add_argument("--seed", type=int, default=HELDOUT_SEED)
            p.add_argument("--suite", default="chain", help="task suite (chain: at the chain model's shipped difficulty)")
            p.add_argument("--param", action="append", default=[], help="suite parameter key=value")
    args = ap.parse_args()
    {"train": cmd_train, "eval": cmd_eval}[args.command](args)


if __name__ == "__main__":
    main()
