"""Qwen2.5-Coder-0.5B-Instruct Q4_K_M (real GGUF: Q5_0, Q8_0, Q4_K, Q6_K and F32 tensors) against
HF transformers loading the same file.

transformers dequantises every tensor of the GGUF to float32 with the gguf package, so both
sides run the same weights; thinkcache reads the blocks directly. The architecture is qwen2 with
what the loader must get right from the GGUF's own metadata: 24 layers, 14 query heads over 2 KV
heads (7:1 grouping, as DeepSeek-R1-Distill-Qwen-7B), q/k/v bias, NeoX RoPE with theta 1e6, a
separate (untied) Q8_0 output matrix and a Q5_0 embedding.

- logits at every position of a ~300-token chat prompt (f32 KV): argmax agreement >= 99% and
  relative error ||got - ref|| / ||ref|| per position below 1e-4 (measured: max 7e-6, mean 1.5e-6);
- 128 greedy tokens identical to transformers' generate (f32 KV);
- the chat template from the GGUF metadata renders byte-identical to apply_chat_template.
"""
import json

import numpy as np
import pytest

from conftest import run_tc
from tokenizer_cases import run_jsonl

# ~300 tokens: a code-review request in the model's chat format (system, user) with code.
CODE = '''import heapq
from collections import defaultdict


def dijkstra(graph, source):
    """Shortest distances from source in a graph given as {node: [(neighbour, weight), ...]}."""
    dist = defaultdict(lambda: float("inf"))
    dist[source] = 0
    queue = [(0, source)]
    while queue:
        d, node = heapq.heappop(queue)
        if d > dist[node]:
            continue
        for neighbour, weight in graph.get(node, []):
            candidate = d + weight
            if candidate < dist[neighbour]:
                dist[neighbour] = candidate
                heapq.heappush(queue, (candidate, neighbour))
    return dict(dist)


def test_dijkstra():
    graph = {"a": [("b", 1), ("c", 4)], "b": [("c", 2), ("d", 5)], "c": [("d", 1)]}
    assert dijkstra(graph, "a") == {"a": 0, "b": 1, "c": 3, "d": 4}
'''
LONG_MESSAGES = [
    {"role": "system", "content": "You are a careful senior Python reviewer."},
    {"role": "user", "content": "Review this module. Explain, step by step, what the function does, its time "
                                "complexity, and one bug or edge case it does not handle.\n\n```python\n" + CODE
                                + "```"},
]
SHORT_MESSAGES = [{"role": "user", "content": "Write a Python function that checks whether a number is prime, "
                                              "then explain it step by step."}]

CHAT_CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Sort [3, 1, 2] in Python."}],
    [{"role": "user", "content": "call it"}, {"role": "assistant", "content": "calling"},
     {"role": "tool", "content": "result 1"}, {"role": "tool", "content": "result 2"},
     {"role": "user", "content": "thanks"}],
    [{"role": "user", "content": "unicode: héllo 😀 你好\n\ttabs  and  spaces "}],
    LONG_MESSAGES,
]


@pytest.fixture(scope="module")
def hf(qwen25_gguf):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(2)
    folder, name = str(qwen25_gguf.parent), qwen25_gguf.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    return tok, model


def chat_ids(tok, messages):
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tok(text, add_special_tokens=False).input_ids


def test_metadata_the_loader_must_honour(tc_bin, qwen25_gguf):
    info = json.loads(run_tc(tc_bin, "inspect", qwen25_gguf, "--json").stdout)
    text = json.dumps(info)
    for want in ['"qwen2"', "Q5_0", "Q8_0", "Q4_K", "Q6_K"]:
        assert want in text, f"inspect --json lacks {want}"
    human = run_tc(tc_bin, "inspect", qwen25_gguf).stdout
    assert "24 layers" in human and "14 heads / 2 KV heads" in human and "qkv bias" in human, human
    assert "rope theta 1e+06" in human and "neox" in human, human


def test_logits_every_position_match_transformers(tc_bin, qwen25_gguf, hf, tmp_path):
    import torch
    tok, model = hf
    ids = chat_ids(tok, LONG_MESSAGES)
    assert 250 <= len(ids) <= 400, len(ids)
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].float().numpy()
    # 64-token chunks: the prompt spans several forward calls (KV written, then read back).
    run_tc(tc_bin, "logits", "--model", qwen25_gguf, "--ids", ",".join(map(str, ids)), "--out", tmp_path / "l.npy",
           "--kv-dtype", "f32", "--prefill-chunk", "64")
    got = np.load(tmp_path / "l.npy")
    assert got.shape == ref.shape == (len(ids), 151936)
    agree = float((got.argmax(-1) == ref.argmax(-1)).mean())
    rel = np.linalg.norm(got - ref, axis=-1) / np.linalg.norm(ref, axis=-1)
    max_abs = float(np.abs(got - ref).max())
    print(f"\nqwen2.5 parity over {len(ids)} positions: argmax agreement {agree:.4f}, relative error "
          f"mean {rel.mean():.3g} max {rel.max():.3g}, max |logit diff| {max_abs:.3g} "
          f"(logits up to {np.abs(ref).max():.3g})")
    assert agree >= 0.99
    assert rel.max() < 1e-4, f"relative error per position up to {rel.max():.3g}"


def test_128_greedy_tokens_identical(tc_bin, qwen25_gguf, hf):
    import torch
    tok, model = hf
    ids = chat_ids(tok, SHORT_MESSAGES)
    with torch.no_grad():
        gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=128, min_new_tokens=128, do_sample=False, eos_token_id=None,
                             pad_token_id=tok.pad_token_id, top_p=None, top_k=None, temperature=None)
    ref = gen[0, len(ids):].tolist()
    out = json.loads(run_tc(tc_bin, "generate", "--model", qwen25_gguf, "--ids", ",".join(map(str, ids)),
                            "--max-tokens", 128, "--ignore-eos", "--kv-dtype", "f32", "--json").stdout)
    assert out["tokens"] == ref, f"first difference at token {next(i for i, (a, b) in enumerate(zip(out['tokens'], ref)) if a != b)}"


def test_chat_prompt_text_and_ids_match_transformers(tc_bin, qwen25_gguf, hf, tmp_path):
    """The GGUF's own chat template (Qwen2.5 ChatML, default system prompt) byte-identical to
    apply_chat_template, and thinkcache's tokenizer giving the same ids."""
    tok, _ = hf
    requests = [{"messages": m, "add_generation_prompt": g} for m in CHAT_CONVERSATIONS for g in (True, False)]
    results = run_jsonl(tc_bin, qwen25_gguf, requests, tmp_path, "qwen25", flag="--chat-jsonl")
    assert len(results) == len(requests)
    for req, res in zip(requests, results):
        want = tok.apply_chat_template(req["messages"], add_generation_prompt=req["add_generation_prompt"],
                                       tokenize=False)
        assert res["text"] == want, (req, res["text"], want)
        assert res["ids"] == tok(want, add_special_tokens=False).input_ids, req


def test_generate_chat_text_path(tc_bin, qwen25_gguf, hf):
    """--chat --prompt: template, tokenizer, EOS from the metadata (<|im_end|>) and detokenisation."""
    import torch
    tok, model = hf
    question = "What is the capital of France? Answer in one word."
    ids = chat_ids(tok, [{"role": "user", "content": question}])
    with torch.no_grad():
        gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=24, do_sample=False, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id, top_p=None, top_k=None, temperature=None)
    ref = gen[0, len(ids):].tolist()
    assert ref[-1] == tok.eos_token_id and len(ref) < 24, "the oracle was expected to stop at <|im_end|>"
    out = json.loads(run_tc(tc_bin, "generate", "--model", qwen25_gguf, "--chat", "--prompt", question,
                            "--max-tokens", 24, "--kv-dtype", "f32", "--json").stdout)
    assert out["prompt_tokens"] == len(ids)
    assert out["stop_reason"] == "eos"
    assert out["tokens"] == ref
    assert out["text"] == tok.decode(ref[:-1], skip_special_tokens=False) or \
        out["text"] == tok.decode(ref, skip_special_tokens=False)
