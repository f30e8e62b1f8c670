"""Chat formatting: thinkcache's hard-coded renderers against transformers'
apply_chat_template (the oracle) rendering each family's own jinja template, byte for byte,
for several conversations and the add_generation_prompt / enable_thinking switches. Also the
template detection errors and the EOS rule that depends on the template."""
import json
import re
import shutil

import pytest

from conftest import ASSETS, REPO, require, run_tc
from tokenizer_cases import gguf_tokenizer_fields, run_jsonl

TEMPLATES = REPO / "tests" / "data" / "chat_templates"
DS_BOS, DS_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me a joke."}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"},
     {"role": "assistant", "content": "<think>\nreasoning one\n</think>\n\nAnswer one"}, {"role": "user", "content": "Q2"}],
    [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "<think>\n\nlet me think\n\n</think>\n\nfinal answer"}],
    [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "plain answer"}],
    [{"role": "user", "content": "  padded \n"}, {"role": "assistant", "content": "\tanswer \u3000 "},
     {"role": "user", "content": "\x1c\u00a0spaces\u2028"}],
    [{"role": "system", "content": "A"}, {"role": "system", "content": "B"}, {"role": "user", "content": "x"}],
    [{"role": "user", "content": "call it"}, {"role": "assistant", "content": "calling"},
     {"role": "tool", "content": "result 1"}, {"role": "tool", "content": "result 2"},
     {"role": "user", "content": "thanks"}, {"role": "assistant", "content": "x</think>y"}],
    [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "tool", "content": "r"}],
    [{"role": "user", "content": "real question"}, {"role": "assistant", "content": "<think>r</think>a"},
     {"role": "user", "content": "<tool_response>\nx\n</tool_response>"}],
    [{"role": "user", "content": "unicode: héllo 😀 你好 <think> </think>"}],
]
OPTIONS = [(g, t) for g in (True, False) for t in (True, False)]


def make_folder(dst, tokenizer_json, config, extra_added=()):
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False))
    if not extra_added:
        shutil.copy(tokenizer_json, dst / "tokenizer.json")
        return dst
    data = json.loads(tokenizer_json.read_text())
    next_id = max(max(data["model"]["vocab"].values()), max(a["id"] for a in data["added_tokens"])) + 1
    for k, content in enumerate(extra_added):
        data["added_tokens"].append({"id": next_id + k, "content": content, "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": False, "special": True})
    (dst / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False))
    return dst


def smollm2_template(gguf_path):
    return gguf_tokenizer_fields(gguf_path)[3]


@pytest.fixture(scope="module")
def families(tmp_path_factory, smollm2_gguf):
    """name -> (thinkcache model path, folder transformers loads, template override or None)."""
    qwen3 = require(ASSETS / "tokenizers" / "qwen3")
    llama3 = require(ASSETS / "tokenizers" / "llama3")
    root = tmp_path_factory.mktemp("chat")
    qwen25 = make_folder(root / "qwen2.5", qwen3 / "tokenizer.json",
                         {"eos_token": "<|im_end|>", "chat_template": (TEMPLATES / "qwen2.5.jinja").read_text()})
    deepseek = make_folder(root / "deepseek", qwen3 / "tokenizer.json",
                           {"bos_token": DS_BOS, "eos_token": DS_EOS,
                            "chat_template": (TEMPLATES / "deepseek-r1-distill.jinja").read_text()},
                           extra_added=[DS_BOS, DS_EOS, "<｜User｜>", "<｜Assistant｜>"])
    return {
        "qwen3": (qwen3, qwen3, None),
        "llama3": (llama3, llama3, None),
        "qwen2.5": (qwen25, qwen25, None),
        "deepseek-r1-distill": (deepseek, deepseek, None),
        "smollm2": (smollm2_gguf, qwen3, smollm2_template(smollm2_gguf)),
    }


@pytest.mark.parametrize("family", ["qwen3", "llama3", "qwen2.5", "deepseek-r1-distill", "smollm2"])
def test_chat_render_matches_transformers(family, families, tc_bin, tmp_path):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    model, hf_folder, template = families[family]
    hf = AutoTokenizer.from_pretrained(str(hf_folder))
    requests, expected = [], []
    for messages in CONVERSATIONS:
        for gen, think in OPTIONS:
            requests.append({"messages": messages, "add_generation_prompt": gen, "enable_thinking": think})
            expected.append(hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen,
                                                   enable_thinking=think, chat_template=template))
    results = run_jsonl(tc_bin, model, requests, tmp_path, family, flag="--chat-jsonl")
    for req, want, got in zip(requests, expected, results):
        assert got["chat_template"] == family
        assert got["text"] == want, f"{family} {req}:\n  thinkcache {got['text']!r}\n  transformers {want!r}"
    if family != "smollm2":  # SmolLM2's ids are checked against its oracle in test_tokenizer.py
        oracle = Tokenizer.from_file(str(hf_folder / "tokenizer.json"))
        for got in results:
            assert got["ids"] == oracle.encode(got["text"]).ids


def info_line(tc_bin, model):
    return run_tc(tc_bin, "tokenize", "--model", model, "--text", "x", "--info").stderr


def eos_ids(tc_bin, model):
    return [int(x) for x in re.search(r"eos \[([0-9,]*)\]", info_line(tc_bin, model)).group(1).split(",") if x]


def test_eos_rule(families, tc_bin):
    """Declared EOS plus the end-of-turn marker the template uses (ids from the oracle files)."""
    from tokenizers import Tokenizer
    q = Tokenizer.from_file(str(families["qwen3"][0] / "tokenizer.json"))
    assert eos_ids(tc_bin, families["qwen3"][0]) == [q.token_to_id("<|im_end|>")]
    l = Tokenizer.from_file(str(families["llama3"][0] / "tokenizer.json"))
    assert eos_ids(tc_bin, families["llama3"][0]) == [l.token_to_id("<|end_of_text|>"), l.token_to_id("<|eot_id|>")]
    d = Tokenizer.from_file(str(families["deepseek-r1-distill"][0] / "tokenizer.json"))
    assert eos_ids(tc_bin, families["deepseek-r1-distill"][0]) == [d.token_to_id(DS_EOS)]
    assert "bos %d (add_bos false)" % d.token_to_id(DS_BOS) in info_line(tc_bin, families["deepseek-r1-distill"][0])
    assert eos_ids(tc_bin, families["smollm2"][0]) == [2]  # GGUF eos_token_id = <|im_end|>


def test_generation_config_eos_ids_are_added(families, tc_bin, tmp_path):
    folder = tmp_path / "qwen3_gen"
    shutil.copytree(families["qwen3"][0], folder)
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [151645, 151643]}))
    assert eos_ids(tc_bin, folder) == [151645, 151643]


def test_unsupported_template_is_named_and_overridable(families, tc_bin, tmp_path):
    qwen3 = families["qwen3"][0]
    folder = make_folder(tmp_path / "custom", qwen3 / "tokenizer.json",
                         {"chat_template": "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}"})
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps(CONVERSATIONS[1]))
    p = run_tc(tc_bin, "tokenize", "--model", folder, "--chat", msgs, check=False)
    assert p.returncode == 1
    assert "unsupported chat template" in p.stderr and "[{{ m.role }}]" in p.stderr and "qwen3" in p.stderr
    p = run_tc(tc_bin, "tokenize", "--model", folder, "--chat", msgs, "--chat-template", "qwen2.5", "--json")
    assert json.loads(p.stdout)["text"].startswith("<|im_start|>system\nYou are terse.<|im_end|>")
    # Llama-3.1+ templates (dated system preamble, tools) are recognised as not transcribed.
    llama31 = make_folder(tmp_path / "llama31", qwen3 / "tokenizer.json", {"chat_template": (
        "{{- bos_token }}{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
        "{{- 'Cutting Knowledge Date: December 2023\\n' }}{{- '<|eot_id|>' }}")})
    p = run_tc(tc_bin, "tokenize", "--model", llama31, "--chat", msgs, check=False)
    assert p.returncode == 1 and "unsupported chat template" in p.stderr
    p = run_tc(tc_bin, "tokenize", "--model", folder, "--chat", msgs, "--chat-template", "vicuna", check=False)
    assert p.returncode == 1 and "unknown chat template 'vicuna'" in p.stderr and "deepseek-r1-distill" in p.stderr


def test_missing_template_is_an_error(tc_bin, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    shutil.copy(require(ASSETS / "tokenizers" / "qwen3" / "tokenizer.json"), folder)
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps(CONVERSATIONS[0]))
    p = run_tc(tc_bin, "tokenize", "--model", folder, "--chat", msgs, check=False)
    assert p.returncode == 1 and "no chat template" in p.stderr
