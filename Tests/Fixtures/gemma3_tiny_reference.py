"""Independent float64 NumPy forward pass of Gemma 3, and a tiny random Gemma 3 for Gemma3ModelTests.

    python Tests/Fixtures/gemma3_tiny_reference.py OUT_DIR

Writes OUT_DIR/config.json (torl ModelConfiguration fields), weights.json + weights.bin (Hugging Face names,
float32, norm weights as Hugging Face's w: the model multiplies by 1 + w), ids.json and logits.bin
(float32 [len(ids), vocab], every position). Follows transformers' Gemma3TextModel: embeddings times sqrt(width);
RMSNorm(x) * (1 + w); per-head q/k RMSNorm before NeoX RoPE (base 1e6 on global layers, 1e4 on sliding ones);
scores / sqrt(query_pre_attn_scalar); a sliding window of WINDOW keys on layers l % PATTERN != PATTERN - 1;
post-attention and post-MLP norms before the residual adds; gelu_tanh(gate) * up; tied output head.
"""
import json
import os
import sys

import numpy as np

TINY = dict(V=64, C=32, F=48, LAYERS=4, H=4, KVH=2, D=16, WINDOW=3, PATTERN=2, EPS=1e-6, QUERY_SCALAR=24.0,
            GLOBAL_THETA=1_000_000.0, LOCAL_THETA=10_000.0)
IDS = [2, 17, 42, 5, 63, 0, 29, 8, 51, 12, 33, 7]


def weights(rng, cfg):
    V, C, F, LAYERS, D = cfg["V"], cfg["C"], cfg["F"], cfg["LAYERS"], cfg["D"]
    H, KVH = cfg["H"], cfg["KVH"]
    w = {"model.embed_tokens.weight": rng.normal(0, 1, (V, C)), "model.norm.weight": 0.1 * rng.normal(0, 1, C)}
    for l in range(LAYERS):
        p = f"model.layers.{l}."
        for name in ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"]:
            w[p + name + ".weight"] = 0.2 * rng.normal(0, 1, C)
        w[p + "self_attn.q_norm.weight"] = 0.2 * rng.normal(0, 1, D)
        w[p + "self_attn.k_norm.weight"] = 0.2 * rng.normal(0, 1, D)
        w[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.3, (H * D, C))
        w[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.3, (KVH * D, C))
        w[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.3, (KVH * D, C))
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.2, (C, H * D))
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.3, (F, C))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, 0.3, (F, C))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, 0.2, (C, F))
    # The model sees float32 weights; the reference computes in float64 from the same values.
    return {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * (1 + w)


def rope(x, positions, theta):
    # x: [T, heads, D]; NeoX pairs (i, i + D/2)
    D = x.shape[-1]
    half = D // 2
    freq = theta ** (-np.arange(half) * 2.0 / D)
    angle = positions[:, None] * freq[None, :]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w, ids, cfg, window=None):
    """Logits of every position: [len(ids), V]. `window` overrides the sliding window (None: the config's)."""
    C, LAYERS, H, KVH, D, PATTERN = cfg["C"], cfg["LAYERS"], cfg["H"], cfg["KVH"], cfg["D"], cfg["PATTERN"]
    window = window or cfg["WINDOW"]
    eps = cfg["EPS"]
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = w["model.embed_tokens.weight"][ids] * np.sqrt(C)
    for l in range(LAYERS):
        p = f"model.layers.{l}."
        sliding = l % PATTERN != PATTERN - 1
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, D)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, KVH, D)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, KVH, D)
        q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
        k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        theta = cfg["LOCAL_THETA"] if sliding else cfg["GLOBAL_THETA"]
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        i, j = np.arange(T)[:, None], np.arange(T)[None, :]
        visible = (j <= i) & ((i - j < window) if sliding else True)
        out = np.zeros((T, H, D))
        for head in range(H):
            kv = head // (H // KVH)
            scores = q[:, head] @ k[:, kv].T / np.sqrt(cfg["QUERY_SCALAR"])
            scores = np.where(visible, scores, -np.inf)
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            out[:, head] = probs @ v[:, kv]
        attn = out.reshape(T, H * D) @ w[p + "self_attn.o_proj.weight"].T
        x = x + rms_norm(attn, w[p + "post_attention_layernorm.weight"], eps)
        h = rms_norm(x, w[p + "pre_feedforward_layernorm.weight"], eps)
        mlp = gelu_tanh(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
        x = x + rms_norm(mlp @ w[p + "mlp.down_proj.weight"].T, w[p + "post_feedforward_layernorm.weight"], eps)
    return rms_norm(x, w["model.norm.weight"], eps) @ w["model.embed_tokens.weight"].T


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cfg = TINY
    w = weights(np.random.default_rng(270), cfg)
    logits = forward(w, IDS, cfg)
    # The window must change the answer, or the tests could not see a model that ignores it.
    assert np.abs(logits - forward(w, IDS, cfg, window=len(IDS))).max() > 1e-2
    config = dict(architecture="gemma3", vocabularySize=cfg["V"], hiddenSize=cfg["C"], intermediateSize=cfg["F"],
                  layerCount=cfg["LAYERS"], headCount=cfg["H"], keyValueHeadCount=cfg["KVH"], headDimension=cfg["D"],
                  contextLength=64, ropeTheta=cfg["GLOBAL_THETA"], ropePairing="halves", rmsNormEpsilon=cfg["EPS"],
                  tiedEmbeddings=True, attentionBias=False, slidingWindow=cfg["WINDOW"],
                  slidingWindowPattern=cfg["PATTERN"], localRopeTheta=cfg["LOCAL_THETA"],
                  queryPreAttentionScalar=cfg["QUERY_SCALAR"])
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f)
    index, blob = {}, bytearray()
    for name, value in w.items():
        index[name] = {"shape": list(value.shape), "offset": len(blob) // 4}
        blob += value.astype("<f4").tobytes()
    with open(os.path.join(out, "weights.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(out, "ids.json"), "w") as f:
        json.dump(IDS, f)
    with open(os.path.join(out, "logits.bin"), "wb") as f:
        f.write(logits.astype("<f4").tobytes())


if __name__ == "__main__":
    main()
