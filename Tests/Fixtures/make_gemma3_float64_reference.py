"""Makes Tests/Fixtures/gemma3_270m_float64.json: Gemma 3 270M's last-position logits for the four prompts of
gemma3_270m_reference.json, computed in float64 with NumPy from the GGUF's weights (dequantized by the `gguf`
package) by the forward pass of gemma3_tiny_reference.py (transformers' Gemma3TextModel with the exact tanh GELU).

    .venv-dev/bin/python Tests/Fixtures/make_gemma3_float64_reference.py models/gemma-3-270m-q4_k_m.gguf

Per prompt it keeps the logits at llama.cpp's top-10 ids, the float64 top 10, and 500 fixed pseudo-random ids,
and records how far llama.cpp's F32 logits (gemma3_270m_last_logits_f32.bin) are from float64.
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gemma3_tiny_reference as reference  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GLOBAL_NAMES = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight"}
LAYER_NAMES = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
               "attn_v": "self_attn.v_proj", "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
               "attn_output": "self_attn.o_proj", "post_attention_norm": "post_attention_layernorm",
               "ffn_norm": "pre_feedforward_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
               "ffn_down": "mlp.down_proj", "post_ffw_norm": "post_feedforward_layernorm"}


def load(path):
    weights = {}
    for tensor in GGUFReader(path).tensors:
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float64)
        values = values.reshape([int(d) for d in reversed(tensor.shape)])
        if tensor.name in GLOBAL_NAMES:
            name = GLOBAL_NAMES[tensor.name]
        else:
            _, layer, rest = tensor.name.split(".", 2)
            name = f"model.layers.{layer}.{LAYER_NAMES[rest.rsplit('.', 1)[0]]}.weight"
        # llama.cpp's converter stored Gemma's norm weights as 1 + w; the reference multiplies by 1 + w.
        weights[name] = values - 1 if name.endswith("norm.weight") else values
    return weights


def main():
    weights = load(sys.argv[1])
    cfg = dict(V=262144, C=640, F=2048, LAYERS=18, H=4, KVH=1, D=256, WINDOW=512, PATTERN=6, EPS=1e-6,
               QUERY_SCALAR=256.0, GLOBAL_THETA=1_000_000.0, LOCAL_THETA=10_000.0)
    prompts = json.load(open(os.path.join(HERE, "gemma3_270m_reference.json")))["prompts"]
    llama = np.fromfile(os.path.join(HERE, "gemma3_270m_last_logits_f32.bin"), dtype="<f4").reshape(len(prompts), -1)
    sample = sorted(np.random.default_rng(18).choice(cfg["V"], 500, replace=False).tolist())
    out = []
    for index, prompt in enumerate(prompts):
        logits = reference.forward(weights, prompt["prompt_ids"], cfg)[-1]
        top = np.argsort(-logits)[:10].tolist()
        ids = sorted(set(top) | {t["id"] for t in prompt["top10_last"]} | set(sample))
        llama_top = [t["id"] for t in prompt["top10_last"]]
        out.append({"name": prompt["name"], "top10_ids": top, "ids": ids, "logits": [float(logits[i]) for i in ids],
                    "llama_cpp_vs_float64_top10_max_abs": float(np.abs(llama[index][llama_top] - logits[llama_top]).max()),
                    "llama_cpp_vs_float64_all_max_abs": float(np.abs(llama[index] - logits).max())})
    with open(os.path.join(HERE, "gemma3_270m_float64.json"), "w") as f:
        json.dump({"made_by": f"Tests/Fixtures/make_gemma3_float64_reference.py {sys.argv[1]}", "prompts": out}, f)


if __name__ == "__main__":
    main()
