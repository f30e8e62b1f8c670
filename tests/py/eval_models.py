"""A seeded random tiny Qwen3 model for the evaluation tests (`thinkcache eval`, `fidelity`).

Unlike tools/make_random_models.py (context 256, a generic tokenizer), this model has a
context long enough for `chain` problems and a byte-level BPE tokenizer learned from chain
text, so prompts tokenize like the testbed model's. Its weights are random: it does not solve
anything, which is all the plumbing tests need (schema, determinism, budgets, errors).
"""
import json
import pathlib

CONTEXT = 1024
VOCAB = 320
EOS = "<|endoftext|>"


def chain_corpus(tc_bin) -> list[str]:
    import subprocess
    out = subprocess.run([str(tc_bin), "tasks", "--suite", "chain", "--n", "40", "--seed", "12345"],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line]
    return [r["prompt"] + r["trace"] for r in rows] + ["The quick brown fox jumps over the lazy dog.\n"] * 4


def build_eval_model(folder: pathlib.Path, tc_bin, seed: int = 7) -> pathlib.Path:
    """Writes the model into `folder` once (idempotent); returns the folder."""
    if (folder / "model.safetensors").exists():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen3Config, Qwen3ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(chain_corpus(tc_bin), trainer)
    tok.save(str(folder / "tokenizer.json"))
    eos_id = tok.token_to_id(EOS)
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": EOS, "pad_token": EOS,
         "add_bos_token": False, "model_max_length": CONTEXT}, indent=2))

    config = Qwen3Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=CONTEXT,
                         rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, bos_token_id=eos_id,
                         eos_token_id=eos_id, pad_token_id=eos_id)
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
