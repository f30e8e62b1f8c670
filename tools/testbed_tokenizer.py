"""The testbed model's tokenizer: a byte-level BPE configured exactly like Qwen2/Qwen3's.

Pipeline (as in Qwen3's tokenizer.json): NFC normalizer; pre-tokenizer Sequence[Split(the
Qwen2 regex, isolated), ByteLevel(no prefix space, no regex)]; BPE over the 256 byte symbols
with merges learned from generated task text; ByteLevel decoder and post-processor. The Qwen2
regex splits every digit into its own piece, so digits are single tokens and arithmetic mod 10
is a one-token table. Added tokens come after the merged vocabulary, as in Qwen:
<|endoftext|> (special; EOS and padding), <think> and </think> (not special, like Qwen3, so
decoding keeps them).
"""
from __future__ import annotations

import json
import pathlib
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

QWEN2_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
EOS_TOKEN = "<|endoftext|>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def empty_qwen_style_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tok


def train_tokenizer(texts: Iterable[str], max_vocab: int = 1024, min_frequency: int = 2) -> Tokenizer:
    """Learns BPE merges from `texts` (stops at max_vocab or when no pair is frequent enough)."""
    tok = empty_qwen_style_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=max_vocab,
        min_frequency=min_frequency,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_special_tokens([EOS_TOKEN])
    tok.add_tokens([THINK_OPEN, THINK_CLOSE])
    return tok


def save_tokenizer_folder(tok: Tokenizer, folder: pathlib.Path, model_max_length: int) -> None:
    """Writes tokenizer.json and a tokenizer_config.json that transformers' AutoTokenizer reads."""
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    added = {}
    for content in (EOS_TOKEN, THINK_OPEN, THINK_CLOSE):
        added[str(tok.token_to_id(content))] = {
            "content": content, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False, "special": content == EOS_TOKEN,
        }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": False,
        "add_prefix_space": False,
        "bos_token": None,
        "eos_token": EOS_TOKEN,
        "pad_token": EOS_TOKEN,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "padding_side": "left",
        "split_special_tokens": False,
        "added_tokens_decoder": added,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
