# The numpy reference of Tests/ModelsTests/TinyCheckpointTests checked against the reference readers: its
# hand-written safetensors and GGUF writers must produce files that the `safetensors` and `gguf` packages read back
# as the same tensors, with llama.cpp's q/k permutation for the Llama GGUF. A writer bug would otherwise show up
# only as a Swift loader "mismatch" against a reference that is itself wrong.
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from gguf import GGUFReader
from safetensors.numpy import load_file

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "Tests", "Fixtures", "tiny_checkpoint_reference.py")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    subprocess.run([sys.executable, SCRIPT, str(directory)], check=True)
    return directory


def gguf_tensors(path):
    reader = GGUFReader(str(path))
    # GGUF lists dimensions innermost first; the reader's arrays are in row-major (PyTorch) order.
    return reader, {t.name: np.array(t.data).reshape(list(reversed([int(n) for n in t.shape]))) for t in reader.tensors}


def llama_cpp_permute(weights, heads):
    # convert_hf_to_gguf.py's LlamaModel.permute: rows of each head reordered for adjacent-pair RoPE.
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def test_safetensors_files_read_back_identically(out):
    single = load_file(out / "qwen2" / "model.safetensors")
    sharded = {}
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        sharded.update(load_file(out / "qwen2_sharded" / name))
    assert single.keys() == sharded.keys()
    assert len(single) == 3 + 2 * 12  # embeddings, final norm, head; 12 tensors per layer with biases
    for name, value in single.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, sharded[name])
    index = json.loads((out / "qwen2_sharded" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(single)


def test_qwen2_gguf_holds_the_safetensors_weights_unpermuted(out):
    hf = load_file(out / "qwen2" / "model.safetensors")
    reader, tensors = gguf_tensors(out / "qwen2_gguf" / "model.gguf")
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == "qwen2"
    np.testing.assert_array_equal(tensors["token_embd.weight"], hf["model.embed_tokens.weight"])
    np.testing.assert_array_equal(tensors["output.weight"], hf["lm_head.weight"])
    np.testing.assert_array_equal(tensors["blk.1.attn_q.weight"], hf["model.layers.1.self_attn.q_proj.weight"])
    np.testing.assert_array_equal(tensors["blk.0.attn_k.bias"], hf["model.layers.0.self_attn.k_proj.bias"])


def test_llama_gguf_permutes_q_and_k_as_llama_cpp_does(out):
    hf = load_file(out / "llama_hf" / "model.safetensors")
    reader, tensors = gguf_tensors(out / "llama_gguf" / "model.gguf")
    assert reader.fields["llama.attention.head_count"].parts[-1][0] == 4
    assert "output.weight" not in tensors  # tied head
    for layer in range(2):
        q = hf[f"model.layers.{layer}.self_attn.q_proj.weight"]
        k = hf[f"model.layers.{layer}.self_attn.k_proj.weight"]
        np.testing.assert_array_equal(tensors[f"blk.{layer}.attn_q.weight"], llama_cpp_permute(q, 4))
        np.testing.assert_array_equal(tensors[f"blk.{layer}.attn_k.weight"], llama_cpp_permute(k, 2))
        assert not np.array_equal(q, llama_cpp_permute(q, 4))
        np.testing.assert_array_equal(tensors[f"blk.{layer}.attn_v.weight"], hf[f"model.layers.{layer}.self_attn.v_proj.weight"])


def test_reference_logits_cover_every_position(out):
    ids = json.loads((out / "ids.json").read_text())
    for model in ("qwen2", "qwen2_sharded", "qwen2_half", "llama_gguf", "llama_hf", "qwen2_gguf"):
        logits = np.fromfile(out / model / "reference_logits.bin", dtype="<f4")
        assert logits.shape == (len(ids) * 64,), model
        assert np.isfinite(logits).all() and logits.std() > 0.1, model
    same_weights = [np.fromfile(out / m / "reference_logits.bin", dtype="<f4") for m in ("qwen2", "qwen2_sharded", "qwen2_gguf")]
    np.testing.assert_array_equal(same_weights[0], same_weights[1])
    np.testing.assert_array_equal(same_weights[0], same_weights[2])
