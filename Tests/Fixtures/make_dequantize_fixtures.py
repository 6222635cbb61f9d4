"""Makes Tests/Fixtures/dequantize_reference.json: ggml weight blocks and what the `gguf` PyPI package's
`gguf.quants.dequantize` (a NumPy port of ggml's dequantizers) makes of them.

    .venv-dev/bin/python Tests/Fixtures/make_dequantize_fixtures.py models/gemma-3-270m-q4_k_m.gguf

Two kinds of cases:
- "random": 4 blocks of random bytes per type (scale fields set to finite f16 values, so every other bit pattern
  of the quants and packed sub-block scales is exercised);
- "real": one tensor of each type the Gemma 3 270M file holds: its first and last 256 elements and the float64
  sum of all its elements (DequantizeTests recomputes all three from the model file).
"""
import json
import sys

import numpy as np
from importlib.metadata import version
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader
from gguf.quants import dequantize

BLOCKS = 4
# (type, bytes per block, byte offsets of the f16 scale fields)
LAYOUTS = [
    (T.Q4_0, 18, [0]), (T.Q4_1, 20, [0, 2]), (T.Q5_0, 22, [0]), (T.Q5_1, 24, [0, 2]), (T.Q8_0, 34, [0]),
    (T.Q2_K, 84, [80, 82]), (T.Q3_K, 110, [108]), (T.Q4_K, 144, [0, 2]), (T.Q5_K, 176, [0, 2]),
    (T.Q6_K, 210, [208]),
]


def random_cases(rng):
    cases = []
    values = rng.standard_normal(64).astype(np.float32)
    for type_, raw in [(T.F32, values.tobytes()), (T.F16, values.astype(np.float16).tobytes()),
                       (T.BF16, (values.view(np.uint32) >> 16).astype(np.uint16).tobytes())]:
        cases.append(case(type_, raw, 64))
    for type_, size, scale_offsets in LAYOUTS:
        raw = bytearray(rng.integers(0, 256, BLOCKS * size, dtype=np.uint8).tobytes())
        for block in range(BLOCKS):
            for offset in scale_offsets:
                scale = np.float16(rng.uniform(-2, 2)).tobytes()
                raw[block * size + offset:block * size + offset + 2] = scale
        elements = BLOCKS * (32 if size < 40 else 256)
        cases.append(case(type_, bytes(raw), elements))
    return cases


def case(type_, raw, elements):
    expected = dequantize(np.frombuffer(raw, dtype=np.uint8), type_).astype(np.float32).reshape(-1)
    assert expected.size == elements and np.isfinite(expected).all()
    return {"type": type_.name, "count": elements, "bytes_hex": raw.hex(), "expected": [float(v) for v in expected]}


def real_cases(path):
    reader = GGUFReader(path)
    cases, seen = [], set()
    for tensor in reader.tensors:
        if tensor.tensor_type in seen:
            continue
        seen.add(tensor.tensor_type)
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32).reshape(-1)
        cases.append({"tensor": tensor.name, "type": tensor.tensor_type.name, "count": int(values.size),
                      "first": [float(v) for v in values[:256]], "last": [float(v) for v in values[-256:]],
                      "sum": float(values.astype(np.float64).sum())})
    return cases


def main():
    rng = np.random.default_rng(18)
    out = {"made_by": f"Tests/Fixtures/make_dequantize_fixtures.py {sys.argv[1]} with gguf {version('gguf')}",
           "random": random_cases(rng), "real": real_cases(sys.argv[1])}
    with open("Tests/Fixtures/dequantize_reference.json", "w") as f:
        json.dump(out, f, indent=0)


if __name__ == "__main__":
    main()
