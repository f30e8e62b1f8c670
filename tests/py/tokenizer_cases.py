"""Shared material for the tokenizer tests: a seeded generator of varied test strings and the
HF oracles (tokenizers / transformers) for each tokenizer under test.

The generator covers what breaks tokenizers: mixed scripts (including scripts added in
Unicode 15 and 16), emoji sequences, code, long digit runs and non-ASCII digits, runs of
spaces/tabs/newlines and Unicode whitespace, contractions in any case, special-token text
(exact, partial, adjacent), text that NFC changes (decomposed letters, shuffled combining
marks, Hangul jamo, singletons, exclusions) and random code points.
"""
import functools
import json
import random
import unicodedata

SCRIPT_WORDS = [
    "hello", "World", "naïve", "café", "Straße", "über", "ĳssel", "Ærø", "œuvre", "façade",
    "привет", "Москва", "Ελληνικά", "λόγος", "مرحبا", "العربية", "שלום", "עברית", "नमस्ते",
    "हिन्दी", "สวัสดี", "ภาษาไทย", "你好", "世界", "中文分词", "こんにちは", "カタカナ", "한국어",
    "안녕하세요", "ქართული", "Հայերեն", "አማርኛ", "தமிழ்", "বাংলা", "ಕನ್ನಡ", "ꯃꯤꯇꯩ", "ᠮᠣᠩᠭᠣᠯ",
    "𐌰𐌱𐌲", "𓀀𓀁𓀂", "ᚠᚢᚦ", "Ꭰꭰ", "ǅemal", "ΣΊΣΥΦΟΣ", "ﬁnance", "ℌ𝔢𝔩𝔩𝔬", "𝐀𝐁𝐂", "Ⅻ",
    # Unicode 15 / 15.1 / 16 letters (HF's regex engine knows 16.0).
    "\U00011F04\U00011F05", "\U0001E030\U0001E031", "\U0002EBF0\U0002EBF1", "\U00010D4A\U00010D4B",
    "\U0001E5D0\U0001E5D1", "\U00011380\U00011381",
    # Unicode 17 (unassigned for HF's engine): behaves as punctuation-like "other".
    "\U00010940\U00010941",
]
EMOJI = [
    "😀", "🤖", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "1️⃣", "❤️", "🧑🏿‍🚀", "🫨", "🪿",
    "☃", "⚡", "🥲", "👩‍💻", "🐈‍⬛", "#️⃣",
]
CODE = [
    "def f(x):\n    return x**2\n", "int main(void) {\n\treturn 0;\n}\n", "for (i = 0; i < n; ++i) {",
    '{"key": [1, 2.5, null], "b": true}', "<div class=\"a\">&nbsp;</div>", "x += y // 2  # comment",
    "SELECT * FROM t WHERE id=42;", "    if (a && b || !c) { x->y[3] = z; }", "import numpy as np\n\n\n",
    "lambda: {**kw}", "#include <vector>\r\n", "$ ls -la | grep '^d'", "a_b_c = __init__",
    "```python\nprint('hi')\n```", "arr[i:j:k]", "std::vector<int> v{1,2,3};",
]
WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", " \t ",
              "\u00a0", "\u3000", "\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\x1c", "\u200b",
              "\ufeff", "\u2003", "\u202f", "\u180e", " \u00a0 ", "\n\n\n\n", "        "]
PUNCT = ["!", "?", "...", "—", "–", "«", "»", "¿", "¡", "“", "”", "‘", "’", "(", ")", "[", "]",
         "{", "}", "@", "#", "$", "%", "^", "&", "*", "_", "-", "+", "=", "/", "\\", "|", "~",
         "`", "'", '"', ",", ".", ";", ":", "<", ">", "。", "、", "！", "？", "·", "•", "€", "£",
         "¥", "©", "®", "™", "°", "±", "×", "÷", "→", "∑", "∞", "≠", "≤"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m", "'M",
                "'ll", "'LL", "'Ll", "'d", "'D", "'ſ", "'x", "''s", "'", "' s", "'r", "'l", "'v"]
DIGIT_CHARS = "0123456789"
OTHER_DIGITS = ["٠١٢٣", "۴۵۶", "०१२३", "০১২", "０１２３", "²³", "½", "Ⅳ", "〇", "𝟙𝟚", "\U00010D40\U00010D41",
                "\U00011F50\U00011F51", "߀߁", "๑๒๓", "፩፪"]
# Text that NFC changes or that exercises its corner cases.
NFC_CASES = [
    "e\u0301", "a\u0308", "o\u0302\u0323", "o\u0323\u0302", "a\u0301\u0316", "a\u0316\u0301",
    "\u1100\u1161", "\u1100\u1161\u11a8", "\uac00\u11a8", "\u212b", "\u2126", "\u0958", "\u0344",
    "A\u030a", "\u00c5\u0301", "\u0374", "\u1e9b\u0323", "u\u0308\u0304", "\u01d6", "ǖ\u0301",
    "n\u0303", "c\u0327", "\u0041\u0300\u0320", "\u05d0\u05b7", "\u0915\u093c", "\u09c7\u09be",
    "\u0b47\u0b3e", "\u1025\u102e", "a\u1ac1\u0323", "a\u0323\u1ac1", "e\u0301\u0301", "\u0301x",
    "\u11a8", "\u1161", "\U00011935\U00011930", "\u0f73", "\u2000",
]


def special_texts(specials):
    out = []
    for s in specials:
        out += [s, s + s, " " + s + " ", s[:-1], s[1:], "x" + s + "y", s + "\n", "\n" + s]
    return out


def random_codepoint(rng):
    while True:
        r = rng.random()
        if r < 0.5:
            cp = rng.randrange(0x20, 0x3000)
        elif r < 0.8:
            cp = rng.randrange(0x3000, 0x10000)
        else:
            cp = rng.randrange(0x10000, 0x30000)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def fragment(rng, specials):
    kind = rng.randrange(13)
    if kind == 0:
        return rng.choice(SCRIPT_WORDS)
    if kind == 1:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if kind == 2:
        return rng.choice(CODE)
    if kind == 3:
        return "".join(rng.choice(DIGIT_CHARS) for _ in range(rng.choice([1, 2, 3, 4, 5, 7, 12, 25, 40])))
    if kind == 4:
        return "".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 4)))
    if kind == 5:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 4)))
    if kind == 6:
        return rng.choice(["I", "you", "they", "IT", "we"]) + rng.choice(CONTRACTIONS) + rng.choice(["", " ", "x", "ed"])
    if kind == 7:
        return rng.choice(OTHER_DIGITS)
    if kind == 8:
        return rng.choice(NFC_CASES)
    if kind == 9:
        return "".join(random_codepoint(rng) for _ in range(rng.randint(1, 6)))
    if kind == 10 and specials:
        return rng.choice(special_texts(specials))
    if kind == 11:
        words = [rng.choice(["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "A", "of"])
                 for _ in range(rng.randint(1, 8))]
        return " ".join(words)
    return rng.choice(SCRIPT_WORDS) + rng.choice(["", " ", "-", "_", "'", "."]) + rng.choice(SCRIPT_WORDS)


def generate_strings(n, seed, specials=()):
    """n varied strings (deterministic for a seed). `specials`: the tokenizer's special tokens."""
    rng = random.Random(seed)
    out = ["", " ", "a", "\n", "  \n\n  ", "Hello world", "12345678901234567890", "ἀ" * 50]
    while len(out) < n:
        parts = [fragment(rng, list(specials)) for _ in range(rng.randint(1, 5))]
        seps = ["", " ", "  ", "\n", "\t", ""]
        s = parts[0]
        for p in parts[1:]:
            s += rng.choice(seps) + p
        if rng.random() < 0.05:
            s = s * rng.randint(2, 20)  # long repetitive inputs
        out.append(s)
    return out


def invalid_utf8_samples(seed, n=12):
    """Byte strings with invalid UTF-8 in assorted forms, each with some valid text around."""
    rng = random.Random(seed)
    bad = [b"\xff", b"\xc0\xaf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80",
           b"\xbf\xbf", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b"\xf5\x80", b"\xe2\x28\xa1"]
    out = []
    for i in range(n):
        pieces = []
        for _ in range(rng.randint(1, 4)):
            pieces.append(rng.choice(["héllo ", "abc", " 12 ", "你好", "😀", "\n", ""]).encode())
            pieces.append(rng.choice(bad))
        out.append(b"".join(pieces))
    out.append(b"ends with a partial \xe2\x82")
    return out


def write_jsonl(path, strings):
    with open(path, "w", encoding="ascii") as f:
        for s in strings:
            f.write(json.dumps(s) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_nfc_stable(s):
    return unicodedata.is_normalized("NFC", s)


def run_jsonl(tc_bin, model, values, tmp_path, name, *extra, command="tokenize", flag="--jsonl"):
    """Runs one thinkcache batch (one JSON value per line in and out) and returns the outputs."""
    import subprocess
    src = tmp_path / f"{name}.in.jsonl"
    write_jsonl(src, values)
    proc = subprocess.run([str(tc_bin), command, "--model", str(model), flag, str(src), *extra],
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return [json.loads(line) for line in proc.stdout.decode("utf-8").split("\n") if line]


@functools.lru_cache(maxsize=None)
def gguf_tokenizer_fields(gguf_path):
    """(tokens, merges, token types, chat template) of a GGUF file, read with the gguf package."""
    import gguf
    reader = gguf.GGUFReader(str(gguf_path))

    def strings(key):
        f = reader.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    f = reader.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    return (strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges"), types,
            strings("tokenizer.chat_template")[0])


def smollm2_oracle_json(gguf_path):
    """tokenizer.json text for SmolLM2, built by transformers from the GGUF, with the
    pre-tokenizer of the real SmolLM2 tokenizer.json restored.

    transformers' GGUF conversion maps tokenizer.ggml.pre="smollm" to ByteLevel(use_regex=True)
    alone and drops the Digits(individual_digits=True) step that SmolLM2's own tokenizer.json
    (and llama.cpp's "smollm" regex list, which starts with \\p{N}) applies first. Without it,
    "  1" tokenizes as [" ", " ", "1"] instead of ["  ", "1"]; test_smollm2_oracle_is_faithful
    checks the rest of the conversion against the GGUF itself.
    """
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    data = json.loads(tok.backend_tokenizer.to_str())
    data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    return json.dumps(data), tok.chat_template
