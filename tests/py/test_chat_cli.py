"""`generate --chat` and `chat` on a random Qwen3 model folder whose tokenizer carries the Qwen3
chat template. Oracle: transformers' apply_chat_template + greedy generate. Needs thinkcache's
tokenizer, so it is skipped on the engine branch before the tokenizer branch is merged."""
import json

import pytest

from conftest import REPO, run_tc
from random_models import build_random_models

pytestmark = pytest.mark.skipif((REPO / "src" / "text" / "tokenizer_stub_engine_branch.cpp").exists(),
                                reason="engine branch: the tokenizer lands from the tokenizer branch")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_random_models(tmp_path_factory.mktemp("chat"), only=["qwen3_gqa3_f32"]) / "qwen3_gqa3_f32"


def hf_chat_greedy(folder, messages, max_new, enable_thinking=True):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                   enable_thinking=enable_thinking)
    ids = tok(text, add_special_tokens=False).input_ids
    with torch.no_grad():
        gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=max_new, do_sample=False, eos_token_id=2, pad_token_id=0)
    return tok, ids, gen[0, len(ids):].tolist()


def test_generate_chat_matches_transformers(tc_bin, folder):
    tok, ids, ref = hf_chat_greedy(folder, [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "hello there"}], 16, enable_thinking=False)
    out = json.loads(run_tc(tc_bin, "generate", "--model", folder, "--chat", "--system", "Be brief.", "--prompt",
                            "hello there", "--no-think", "--max-tokens", 16, "--kv-dtype", "f32", "--json").stdout)
    assert out["prompt_tokens"] == len(ids)
    assert out["tokens"] == ref
    assert out["text"] == tok.decode([t for t in ref if t != 2])


def test_chat_two_turns(tc_bin, folder):
    tok, ids, ref = hf_chat_greedy(folder, [{"role": "user", "content": "hello there"}], 12)
    p = run_tc(tc_bin, "chat", "--model", folder, "--max-tokens", 12, "--kv-dtype", "f32",
               input="hello there\nand again\n/exit\n")
    first = tok.decode([t for t in ref if t != 2])
    assert first in p.stdout
    assert p.stderr.count("decode:") == 2  # one statistics line per reply
