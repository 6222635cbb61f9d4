# The independent reference for the tiny-checkpoint tests (Tests/ModelsTests/TinyCheckpointTests.swift): tiny
# random Llama and Qwen2 checkpoints written as safetensors and GGUF files, and the float64 numpy forward pass of
# each, run with the interpreter of TORL_PYTHON. Usage: tiny_checkpoint_reference.py OUTPUT_DIR
import json, os, struct, sys
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(1234)
IDS = [3, 17, 42, 5, 63, 0, 29, 8, 51, 12, 33]

def config(arch, tied, theta):
    return dict(model_type=arch, vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rope_theta=theta,
                rms_norm_eps=1e-6, tie_word_embeddings=tied)

def make_weights(cfg, bias):
    C, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KVH = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = C // H
    W = {"model.embed_tokens.weight": rng.normal(0, 1, (V, C)), "model.norm.weight": 1 + 0.1 * rng.normal(0, 1, C)}
    if not cfg["tie_word_embeddings"]:
        W["lm_head.weight"] = rng.normal(0, 0.2, (V, C))
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        W[p + "input_layernorm.weight"] = 1 + 0.1 * rng.normal(0, 1, C)
        W[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.normal(0, 1, C)
        W[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.3, (H * D, C))
        W[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.3, (KVH * D, C))
        W[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.3, (KVH * D, C))
        W[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.2, (C, H * D))
        W[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.2, (F, C))
        W[p + "mlp.up_proj.weight"] = rng.normal(0, 0.2, (F, C))
        W[p + "mlp.down_proj.weight"] = rng.normal(0, 0.2, (C, F))
        if bias:
            W[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.3, H * D)
            W[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.3, KVH * D)
            W[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.3, KVH * D)
    return {k: v.astype(np.float32) for k, v in W.items()}

def bf16_bits(a):
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)

def stored(a, dtype):
    """The bytes of a in dtype, and the f32 values a reader gets back from them."""
    if dtype == "F32": return a.astype("<f4").tobytes(), a.astype(np.float32)
    if dtype == "F16": h = a.astype("<f2"); return h.tobytes(), h.astype(np.float32)
    b = bf16_bits(a); return b.astype("<u2").tobytes(), (b.astype(np.uint32) << 16).view(np.float32)

def write_safetensors(path, tensors):
    """tensors: name -> (dtype, array). Returns name -> f32 values as stored."""
    header, blobs, offset, back = {}, [], 0, {}
    for name, (dtype, a) in tensors.items():
        raw, back[name] = stored(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw); offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text))); f.write(text)
        for b in blobs: f.write(b)
    return back

def rmsnorm(x, w, eps): return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

def rope(x, theta, pairing):  # x: [T, heads, D]
    T, _, D = x.shape
    inv = theta ** (-np.arange(0, D, 2) / D)
    ang = np.arange(T)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if pairing == "halves":
        a, b = x[..., : D // 2], x[..., D // 2 :]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], -1)
    a, b = x[..., 0::2], x[..., 1::2]
    y = np.empty_like(x); y[..., 0::2] = a * cos - b * sin; y[..., 1::2] = a * sin + b * cos
    return y

def forward(W, cfg, ids, pairing="halves"):
    W = {k: v.astype(np.float64) for k, v in W.items()}
    C, H, KVH = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D, eps, theta, T = C // H, cfg["rms_norm_eps"], cfg["rope_theta"], len(ids)
    x = W["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        def proj(name, h):
            y = h @ W[p + name + ".weight"].T
            return y + W[p + name + ".bias"] if p + name + ".bias" in W else y
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        q = rope(proj("self_attn.q_proj", h).reshape(T, H, D), theta, pairing)
        k = rope(proj("self_attn.k_proj", h).reshape(T, KVH, D), theta, pairing)
        v = proj("self_attn.v_proj", h).reshape(T, KVH, D)
        att = np.zeros((T, H, D))
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for head in range(H):
            g = head // (H // KVH)
            s = q[:, head] @ k[:, g].T / np.sqrt(D) + mask
            s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
            att[:, head] = s @ v[:, g]
        x = x + att.reshape(T, H * D) @ W[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        g, u = h @ W[p + "mlp.gate_proj.weight"].T, h @ W[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return x @ head.T

# Qwen2: q/k/v biases, untied head, GQA 4:2, Hugging Face (halves) RoPE.
qcfg = config("qwen2", False, 1e6)
qw = make_weights(qcfg, bias=True)

d = os.path.join(out, "qwen2"); os.makedirs(d, exist_ok=True)
json.dump(qcfg, open(os.path.join(d, "config.json"), "w"))
back = write_safetensors(os.path.join(d, "model.safetensors"), {k: ("F32", v) for k, v in qw.items()})
forward(back, qcfg, IDS).astype("<f4").tofile(os.path.join(d, "reference_logits.bin"))

d = os.path.join(out, "qwen2_sharded"); os.makedirs(d, exist_ok=True)
json.dump(qcfg, open(os.path.join(d, "config.json"), "w"))
names = sorted(qw); half = len(names) // 2
shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
back = {}
for fname, group in shards.items():
    back.update(write_safetensors(os.path.join(d, fname), {k: ("F32", qw[k]) for k in group}))
json.dump({"metadata": {}, "weight_map": {k: f for f, g in shards.items() for k in g}}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
forward(back, qcfg, IDS).astype("<f4").tofile(os.path.join(d, "reference_logits.bin"))

d = os.path.join(out, "qwen2_half"); os.makedirs(d, exist_ok=True)
json.dump(qcfg, open(os.path.join(d, "config.json"), "w"))
dtypes = {k: ("BF16" if i % 2 else "F16") for i, k in enumerate(sorted(qw))}
back = write_safetensors(os.path.join(d, "model.safetensors"), {k: (dtypes[k], v) for k, v in qw.items()})
forward(back, qcfg, IDS).astype("<f4").tofile(os.path.join(d, "reference_logits.bin"))

# Llama GGUF: tied head, no biases; q/k rows permuted the way llama.cpp's converter does, so the GGUF file
# needs adjacent-pair RoPE. The reference runs the unpermuted (Hugging Face) weights with halves RoPE.
lcfg = config("llama", True, 10000.0)
lw = make_weights(lcfg, bias=False)
def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
gguf_names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
for l in range(lcfg["num_hidden_layers"]):
    for hf, gg in [("input_layernorm.weight", "attn_norm.weight"), ("self_attn.q_proj.weight", "attn_q.weight"),
                   ("self_attn.k_proj.weight", "attn_k.weight"), ("self_attn.v_proj.weight", "attn_v.weight"),
                   ("self_attn.o_proj.weight", "attn_output.weight"), ("post_attention_layernorm.weight", "ffn_norm.weight"),
                   ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"),
                   ("mlp.down_proj.weight", "ffn_down.weight")]:
        gguf_names[f"model.layers.{l}.{hf}"] = f"blk.{l}.{gg}"

def gguf_string(s):
    b = s.encode(); return struct.pack("<Q", len(b)) + b

def write_gguf(path, meta, tensors):
    """meta: key -> (type id, value); tensors: name -> f32 array (PyTorch shape)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for key, (t, v) in meta.items():
        head += gguf_string(key) + struct.pack("<I", t)
        head += gguf_string(v) if t == 8 else struct.pack({4: "<I", 6: "<f"}[t], v)
    data, offset = b"", 0
    for name, a in tensors.items():
        head += gguf_string(name) + struct.pack("<I", a.ndim) + b"".join(struct.pack("<Q", n) for n in reversed(a.shape))
        head += struct.pack("<IQ", 0, offset)
        raw = a.astype("<f4").tobytes(); raw += b"\0" * (-len(raw) % 32)
        data += raw; offset += len(raw)
    head += b"\0" * (-len(head) % 32)
    open(path, "wb").write(head + data)

H, KVH = lcfg["num_attention_heads"], lcfg["num_key_value_heads"]
gguf_tensors = {}
for hf, gg in gguf_names.items():
    w = lw[hf]
    if hf.endswith("q_proj.weight"): w = permute(w, H)
    if hf.endswith("k_proj.weight"): w = permute(w, KVH)
    gguf_tensors[gg] = w
meta = {"general.architecture": (8, "llama"), "llama.context_length": (4, 128), "llama.embedding_length": (4, 32),
        "llama.feed_forward_length": (4, 48), "llama.block_count": (4, 2), "llama.attention.head_count": (4, H),
        "llama.attention.head_count_kv": (4, KVH), "llama.rope.freq_base": (6, 10000.0),
        "llama.attention.layer_norm_rms_epsilon": (6, 1e-6)}
d = os.path.join(out, "llama_gguf"); os.makedirs(d, exist_ok=True)
write_gguf(os.path.join(d, "model.gguf"), meta, gguf_tensors)
forward(lw, lcfg, IDS).astype("<f4").tofile(os.path.join(d, "reference_logits.bin"))
d = os.path.join(out, "llama_hf"); os.makedirs(d, exist_ok=True)
json.dump(lcfg, open(os.path.join(d, "config.json"), "w"))
write_safetensors(os.path.join(d, "model.safetensors"), {k: ("F32", v) for k, v in lw.items()})
forward(lw, lcfg, IDS).astype("<f4").tofile(os.path.join(d, "reference_logits.bin"))

# Qwen2 GGUF: llama.cpp keeps Qwen2's q/k rows unpermuted (halves RoPE); biases and the untied head as tensors.
qwen_gguf = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
for hf, gg in gguf_names.items():
    if hf.startswith("model.layers."): qwen_gguf[hf] = gg
for l in range(qcfg["num_hidden_layers"]):
    for proj, gg in [("q", "attn_q"), ("k", "attn_k"), ("v", "attn_v")]:
        qwen_gguf[f"model.layers.{l}.self_attn.{proj}_proj.bias"] = f"blk.{l}.{gg}.bias"
qmeta = {"general.architecture": (8, "qwen2"), "qwen2.context_length": (4, 128), "qwen2.embedding_length": (4, 32),
         "qwen2.feed_forward_length": (4, 48), "qwen2.block_count": (4, 2), "qwen2.attention.head_count": (4, 4),
         "qwen2.attention.head_count_kv": (4, 2), "qwen2.rope.freq_base": (6, 1e6),
         "qwen2.attention.layer_norm_rms_epsilon": (6, 1e-6)}
d = os.path.join(out, "qwen2_gguf"); os.makedirs(d, exist_ok=True)
write_gguf(os.path.join(d, "model.gguf"), qmeta, {gg: qw[hf] for hf, gg in qwen_gguf.items()})
forward(qw, qcfg, IDS).astype("<f4").tofile(os.path.join(d, "reference_logits.bin"))
json.dump(IDS, open(os.path.join(out, "ids.json"), "w"))
