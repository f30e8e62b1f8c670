"""Bad model files and bad requests: each is a non-zero exit with a message naming the cause."""
import json
import shutil

import numpy as np
import pytest

from conftest import run_tc
from gguf_models import FFN, HIDDEN, write_random_gguf
from random_models import build_random_models


def expect_error(tc_bin, *args, contains):
    p = run_tc(tc_bin, *args, check=False)
    assert p.returncode == 1, f"exit {p.returncode}, stderr: {p.stderr}"
    assert "error:" in p.stderr
    for text in ([contains] if isinstance(contains, str) else contains):
        assert text in p.stderr, p.stderr
    assert "internal error" not in p.stderr and "Segmentation" not in p.stderr
    return p.stderr


@pytest.fixture(scope="module")
def good_gguf(tmp_path_factory):
    return write_random_gguf(tmp_path_factory.mktemp("gguf") / "good.gguf", arch="llama", seed=5)


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    root = build_random_models(tmp_path_factory.mktemp("hf"), only=["qwen3_gqa3_f32"])
    return root / "qwen3_gqa3_f32"


def test_good_files_load(tc_bin, good_gguf, hf_folder):
    run_tc(tc_bin, "inspect", good_gguf)
    run_tc(tc_bin, "inspect", hf_folder)


@pytest.mark.parametrize("keep", [100, 2000, None])
def test_truncated_gguf(tc_bin, good_gguf, tmp_path, keep):
    data = good_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: keep if keep else len(data) - 1000])  # header / metadata / tensor data
    err = expect_error(tc_bin, "inspect", cut, contains=str(cut))
    # Cut inside the header the counts no longer fit the file ("corrupt GGUF header").
    assert "truncated GGUF file" in err or "corrupt GGUF header" in err, err


def test_wrong_magic(tc_bin, good_gguf, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUX" + good_gguf.read_bytes()[4:])
    expect_error(tc_bin, "inspect", bad, contains=[str(bad), "GGUF"])


def test_unsupported_gguf_version(tc_bin, good_gguf, tmp_path):
    data = bytearray(good_gguf.read_bytes())
    data[4:8] = (7).to_bytes(4, "little")
    bad = tmp_path / "v7.gguf"
    bad.write_bytes(bytes(data))
    expect_error(tc_bin, "inspect", bad, contains="unsupported GGUF version 7")


def _patch_tensor_type(good_gguf, tmp_path, tensor, new_type):
    import gguf
    reader = gguf.GGUFReader(str(good_gguf))
    field = next(t for t in reader.tensors if t.name == tensor)
    # The tensor info is: name, n_dims, dims[n], type (u32), offset (u64). Find it after the name.
    data = bytearray(good_gguf.read_bytes())
    name = tensor.encode()
    at = data.index(len(name).to_bytes(8, "little") + name) + 8 + len(name)
    n_dims = int.from_bytes(data[at:at + 4], "little")
    type_at = at + 4 + 8 * n_dims
    assert int.from_bytes(data[type_at:type_at + 4], "little") == int(field.tensor_type)
    data[type_at:type_at + 4] = new_type.to_bytes(4, "little")
    out = tmp_path / "patched.gguf"
    out.write_bytes(bytes(data))
    return out


def test_unknown_tensor_type(tc_bin, good_gguf, tmp_path):
    bad = _patch_tensor_type(good_gguf, tmp_path, "blk.0.attn_norm.weight", 250)
    expect_error(tc_bin, "inspect", bad, contains=["blk.0.attn_norm.weight", "unknown tensor type id 250"])


def test_known_but_unsupported_tensor_type(tc_bin, tmp_path):
    import gguf
    # IQ2_XXS blocks (66 bytes per 256 elements): a real GGML type thinkcache does not read.
    iq2 = np.zeros((HIDDEN, 66 * FFN // 256), dtype=np.uint8)
    path = write_random_gguf(tmp_path / "iq2xxs.gguf", seed=6,
                             overrides={"blk.1.ffn_down.weight": (iq2, gguf.GGMLQuantizationType.IQ2_XXS)})
    expect_error(tc_bin, "inspect", path, contains=["blk.1.ffn_down.weight", "IQ2_XXS", "does not support"])


def test_missing_tensor_gguf(tc_bin, tmp_path):
    path = write_random_gguf(tmp_path / "missing.gguf", seed=7, drop={"blk.1.ffn_up.weight"})
    expect_error(tc_bin, "inspect", path, contains="missing tensor blk.1.ffn_up.weight")


def test_shape_mismatch_gguf(tc_bin, tmp_path):
    wrong = np.zeros((FFN + 32, HIDDEN), dtype=np.float32)
    path = write_random_gguf(tmp_path / "shape.gguf", seed=8, overrides={"blk.0.ffn_gate.weight": wrong})
    expect_error(tc_bin, "inspect", path, contains=["blk.0.ffn_gate.weight", f"[{FFN + 32}, {HIDDEN}]",
                                                     f"expected [{FFN}, {HIDDEN}]"])


def test_unknown_architecture_gguf(tc_bin, tmp_path):
    path = write_random_gguf(tmp_path / "mamba.gguf", arch="mamba", seed=9)
    expect_error(tc_bin, "inspect", path, contains='unknown architecture "mamba"')


def _copy_folder(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_unknown_architecture_hf(tc_bin, hf_folder, tmp_path):
    bad = _copy_folder(hf_folder, tmp_path / "m")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model_type"] = "gpt_neox"
    (bad / "config.json").write_text(json.dumps(cfg))
    expect_error(tc_bin, "inspect", bad, contains='unknown architecture "gpt_neox"')


def test_malformed_config_json(tc_bin, hf_folder, tmp_path):
    bad = _copy_folder(hf_folder, tmp_path / "m")
    (bad / "config.json").write_text('{"model_type": "qwen3", "hidden_size": 64,,}')
    expect_error(tc_bin, "inspect", bad, contains=["config.json", "line 1"])


def test_config_missing_key(tc_bin, hf_folder, tmp_path):
    bad = _copy_folder(hf_folder, tmp_path / "m")
    cfg = json.loads((bad / "config.json").read_text())
    del cfg["num_hidden_layers"]
    (bad / "config.json").write_text(json.dumps(cfg))
    expect_error(tc_bin, "inspect", bad, contains='missing key "num_hidden_layers"')


def test_missing_tensor_hf(tc_bin, hf_folder, tmp_path):
    # tie_word_embeddings false but no lm_head.weight in the file.
    from safetensors.numpy import load_file, save_file
    bad = _copy_folder(hf_folder, tmp_path / "m")
    tensors = load_file(bad / "model.safetensors")
    del tensors["lm_head.weight"]
    save_file(tensors, bad / "model.safetensors")
    expect_error(tc_bin, "inspect", bad, contains="missing tensor lm_head.weight")


def test_shape_mismatch_hf(tc_bin, hf_folder, tmp_path):
    from safetensors.numpy import load_file, save_file
    bad = _copy_folder(hf_folder, tmp_path / "m")
    tensors = load_file(bad / "model.safetensors")
    tensors["model.layers.1.self_attn.k_proj.weight"] = np.zeros((5, 64), dtype=np.float32)
    save_file(tensors, bad / "model.safetensors")
    expect_error(tc_bin, "inspect", bad, contains=["model.layers.1.self_attn.k_proj.weight", "[5, 64]"])


def test_truncated_safetensors(tc_bin, hf_folder, tmp_path):
    bad = _copy_folder(hf_folder, tmp_path / "m")
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    expect_error(tc_bin, "inspect", bad, contains=["model.safetensors", "truncated"])


def test_not_a_model(tc_bin, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    expect_error(tc_bin, "inspect", tmp_path / "notes.txt", contains="not a model")
    expect_error(tc_bin, "inspect", tmp_path, contains="config.json is missing")
    expect_error(tc_bin, "inspect", tmp_path / "nope.gguf", contains="no such file")


def test_prompt_longer_than_context(tc_bin, hf_folder, tmp_path):
    ids = ",".join(["5"] * 300)  # the random models have a 256-token context
    expect_error(tc_bin, "generate", "--model", hf_folder, "--ids", ids, "--max-tokens", 4,
                 contains="longer than the model's context of 256 tokens")
    expect_error(tc_bin, "logits", "--model", hf_folder, "--ids", ids, "--out", tmp_path / "x.npy",
                 contains="longer than the model's context of 256 tokens")


def test_token_id_outside_vocabulary(tc_bin, hf_folder):
    expect_error(tc_bin, "generate", "--model", hf_folder, "--ids", "1,2,99999", contains="outside the vocabulary")


@pytest.mark.parametrize("args,contains", [
    (["--kv-dtype", "q4"], 'unknown KV cache dtype "q4"'),
    (["--kv-policy", "nosuch"], 'unknown KV policy "nosuch"'),
    (["--kv-budget", "64"], "--kv-budget has no effect with --kv-policy full"),
    (["--temp", "-1"], "temperature must be >= 0"),
    (["--top-p", "0"], "top-p must be in (0, 1]"),
    (["--frobnicate"], "unknown option --frobnicate"),
    (["--stop", "x"], "--stop needs a text prompt"),
])
def test_bad_generate_options(tc_bin, hf_folder, args, contains):
    expect_error(tc_bin, "generate", "--model", hf_folder, "--ids", "1,2,3", "--max-tokens", 2, *args,
                 contains=contains)
