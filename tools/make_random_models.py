#!/usr/bin/env python3
"""Builds seeded tiny HF models of every architecture thinkcache runs, plus their oracle outputs.

Each model is a real HF model folder written by transformers' save_pretrained (safetensors,
config.json, generation_config.json) with a small byte-level BPE tokenizer trained here
(tokenizer.json + tokenizer_config.json carrying the Qwen3 chat template when the assets
have it). Weights are random (seeded) and every parameter is perturbed away from its HF init
(norm weights != 1, biases != 0), so a mistake in any of them shows in the logits.

Next to each folder NAME the script writes NAME.ref/:
  ids.npy             int32 [n]       the fixed prompt ids
  logits.npy          float32 [n, V]  transformers' logits in float32 (BF16 weights upcast)
  logits_native.npy   float32 [n, V]  BF16 models only: transformers running natively in bf16
  greedy.json         {"prompt": [...], "tokens": [...]}  64-token greedy continuation (F32 only)

Usage: make_random_models.py --out DIR [--only NAME ...]
"""
import argparse
import json
import pathlib
import sys

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

VOCAB = 384          # model vocabulary (>= the tokenizer's, as in real padded vocabularies)
TOKENIZER_VOCAB = 320
CONTEXT = 256        # max_position_embeddings: small, so "prompt longer than context" is cheap
PROMPT_LEN = 40
GREEDY_TOKENS = 64
EOS_ID = 2           # <|im_end|> in the trained tokenizer (special tokens come first)

REPO = pathlib.Path(__file__).resolve().parents[1]

# name -> (architecture, config kwargs, dtype, tied, sharded)
SPECS = {
    # Llama-3 rope scaling; GQA 6 heads / 2 KV heads (ratio 3); untied; sharded safetensors.
    "llama3_gqa3_f32": ("llama", dict(hidden_size=96, num_attention_heads=6, num_key_value_heads=2, head_dim=16,
                                      rope_theta=10000.0,
                                      rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0, original_max_position_embeddings=64)),
                        torch.float32, False, True),
    "llama3_gqa3_bf16": ("llama", dict(hidden_size=96, num_attention_heads=6, num_key_value_heads=2, head_dim=16,
                                       rope_theta=10000.0,
                                       rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                         high_freq_factor=4.0, original_max_position_embeddings=64)),
                         torch.bfloat16, False, False),
    # Plain MHA (ratio 1), head_dim 24 != 64/4, attention and MLP biases, tied embeddings.
    "llama_mha_bias_tied_f32": ("llama", dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=4, head_dim=24,
                                              attention_bias=True, mlp_bias=True, rope_theta=500.0),
                                torch.float32, True, False),
    # Qwen2: q/k/v bias, GQA 8 / 2 (ratio 4), tied.
    "qwen2_gqa4_tied_f32": ("qwen2", dict(hidden_size=64, num_attention_heads=8, num_key_value_heads=2,
                                          rope_theta=1000000.0), torch.float32, True, False),
    "qwen2_gqa4_tied_bf16": ("qwen2", dict(hidden_size=64, num_attention_heads=8, num_key_value_heads=2,
                                           rope_theta=1000000.0), torch.bfloat16, True, False),
    # Qwen3: per-head q/k RMSNorm, 6 heads / 2 KV (ratio 3), head_dim 32 != 64/6, untied.
    "qwen3_gqa3_f32": ("qwen3", dict(hidden_size=64, num_attention_heads=6, num_key_value_heads=2, head_dim=32,
                                     rope_theta=1000000.0), torch.float32, False, False),
    "qwen3_gqa3_bf16": ("qwen3", dict(hidden_size=64, num_attention_heads=6, num_key_value_heads=2, head_dim=32,
                                      rope_theta=1000000.0), torch.bfloat16, False, False),
    # Qwen3 tied, 4 heads / 1 KV head (ratio 4, multi-query).
    "qwen3_mqa_tied_f32": ("qwen3", dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                                         rope_theta=10000.0), torch.float32, True, False),
}

CLASSES = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM),
           "qwen3": (Qwen3Config, Qwen3ForCausalLM)}

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A reasoning model thinks step by step before it answers: first, second, third.",
    "KV caches grow with every token; eviction keeps them inside a fixed memory budget.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14159.",
    "def add(a, b):\n    return a + b\n",
    "Über naïve café — 東京 and Zürich, emoji 🙂.",
] * 20


def train_tokenizer(folder: pathlib.Path) -> None:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TOKENIZER_VOCAB,
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "add_bos_token": False, "model_max_length": CONTEXT}
    qwen3 = REPO / "assets" / "tokenizers" / "qwen3" / "tokenizer_config.json"
    import os
    if os.environ.get("TC_ASSETS"):
        qwen3 = pathlib.Path(os.environ["TC_ASSETS"]) / "tokenizers" / "qwen3" / "tokenizer_config.json"
    if qwen3.exists():
        config["chat_template"] = json.loads(qwen3.read_text())["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Random weights with enough spread for non-trivial logits; norms around 1, biases != 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(1.0 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)


def build(name: str, out: pathlib.Path, seed: int) -> None:
    arch, kwargs, dtype, tied, sharded = SPECS[name]
    config_cls, model_cls = CLASSES[arch]
    config = config_cls(vocab_size=VOCAB, intermediate_size=128, num_hidden_layers=2, max_position_embeddings=CONTEXT,
                        rms_norm_eps=1e-6, tie_word_embeddings=tied, bos_token_id=None, eos_token_id=EOS_ID,
                        pad_token_id=0, **kwargs)
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    perturb(model, seed)
    model = model.to(dtype)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True, max_shard_size="200KB" if sharded else "2GB")
    train_tokenizer(folder)

    ref = out / (name + ".ref")
    ref.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, VOCAB, size=PROMPT_LEN).astype(np.int32)
    np.save(ref / "ids.npy", ids)
    # The oracle reloads the saved folder, so it sees exactly the bytes thinkcache reads.
    f32 = model_cls.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = f32(torch.tensor(ids[None, :].astype(np.int64))).logits[0].float().numpy()
    np.save(ref / "logits.npy", logits)
    if dtype == torch.bfloat16:
        native = model_cls.from_pretrained(folder, dtype=torch.bfloat16).eval()
        with torch.no_grad():
            nl = native(torch.tensor(ids[None, :].astype(np.int64))).logits[0].float().numpy()
        np.save(ref / "logits_native.npy", nl)
    else:
        prompt = ids[:8].astype(np.int64)
        f32.generation_config.eos_token_id = None
        f32.generation_config.pad_token_id = 0
        with torch.no_grad():
            gen = f32.generate(torch.tensor(prompt[None, :]), max_new_tokens=GREEDY_TOKENS, min_new_tokens=GREEDY_TOKENS,
                               do_sample=False, eos_token_id=None)
        tokens = gen[0, len(prompt):].tolist()
        (ref / "greedy.json").write_text(json.dumps({"prompt": prompt.tolist(), "tokens": tokens}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--only", nargs="*", default=None, help="names to build (default: all)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    names = args.only or list(SPECS)
    for n in names:
        if n not in SPECS:
            print(f"unknown model {n!r}; known: {', '.join(SPECS)}", file=sys.stderr)
            return 2
    torch.set_num_threads(1)
    for i, n in enumerate(names):
        build(n, args.out, args.seed + i)
    (args.out / "models.json").write_text(json.dumps(
        {n: {"arch": SPECS[n][0], "dtype": str(SPECS[n][2]).replace("torch.", ""), "tied": SPECS[n][3]}
         for n in names}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
