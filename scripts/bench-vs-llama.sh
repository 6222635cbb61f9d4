#!/usr/bin/env bash
# torl's engine beside llama.cpp on this machine, at matching weight precision (f32 vs F32, bf16 vs BF16, int8 vs
# Q8_0): prefill and batch-1 decode, 2 threads. The llama.cpp GGUFs are made from the default Q4_1 model with
# llama-quantize --allow-requantize (so both engines run the same dequantized weights).
#   LLAMA_CPP_BIN=/path/to/llama.cpp/build/bin scripts/bench-vs-llama.sh [kernel path ...]
# Kernel paths: the torl kernels to measure (TORL_KERNELS values; default: the best this CPU has).
# Environment: PROMPT_TOKENS (default 128), NEW_TOKENS (16), PRECISIONS (f32,bf16,int8), THREADS (2), BATCHES (torl's
# decode batch sizes, default 1; llama-bench decodes one sequence), TORL_MODEL (default the SmolLM2 Q4_1 file; llama.cpp
# also runs that file as it is, e.g. Gemma 3's Q4_K_M).
# To compare the AVX2 paths on a CPU that has more (as the README's AVX2 table does), build llama.cpp without AVX-512
# and force torl's AVX2 path:
#   cmake -B build-avx2 -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
#         -DLLAMA_CURL=OFF && cmake --build build-avx2 --target llama-bench llama-quantize
#   OPENBLAS_CORETYPE=Haswell LLAMA_CPP_BIN=build-avx2/bin scripts/bench-vs-llama.sh avx2
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${LLAMA_CPP_BIN:-}
if [[ -z "$bin" || ! -x "$bin/llama-bench" || ! -x "$bin/llama-quantize" ]]; then
    echo "bench-vs-llama: set LLAMA_CPP_BIN to a llama.cpp build/bin holding llama-bench and llama-quantize" >&2
    echo "  (build one: cmake -B build -DGGML_NATIVE=ON && cmake --build build --target llama-bench llama-quantize)" >&2
    exit 2
fi
model=${TORL_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
[[ -f "$model" ]] || { echo "bench-vs-llama: model $model is missing (run make setup)" >&2; exit 2; }
torl=.build/release/torl
[[ -x "$torl" ]] || { echo "bench-vs-llama: build torl first (swift build -c release)" >&2; exit 2; }
prompt=${PROMPT_TOKENS:-128} new=${NEW_TOKENS:-16} threads=${THREADS:-2} precisions=${PRECISIONS:-f32,bf16,int8}
batches=${BATCHES:-1}
work=.build/bench-vs-llama
mkdir -p "$work"
declare -A ggml_type=([f32]=F32 [bf16]=BF16 [int8]=Q8_0)
for precision in ${precisions//,/ }; do
    type=${ggml_type[$precision]}
    gguf="$work/$(basename "$model" .gguf).$type.gguf"
    [[ -f "$gguf" ]] || "$bin/llama-quantize" --allow-requantize "$model" "$gguf" "$type" "$threads" >/dev/null 2>&1
    echo "== llama.cpp $type: llama-bench -t $threads -p $prompt -n $new -r 2"
    "$bin/llama-bench" -m "$gguf" -t "$threads" -p "$prompt" -n "$new" -r 2 -o md 2>/dev/null | grep -E "^\| (model|.*pp|.*tg)"
done
echo "== llama.cpp on $model as it is: llama-bench -t $threads -p $prompt -n $new -r 2"
"$bin/llama-bench" -m "$model" -t "$threads" -p "$prompt" -n "$new" -r 2 -o md 2>/dev/null | grep -E "^\| (model|.*pp|.*tg)"
paths=("$@")
[[ ${#paths[@]} -gt 0 ]] || paths=("")
for path in "${paths[@]}"; do
    echo "== torl ${path:-default} kernels: bench model --prompt-tokens $prompt --new-tokens $new --batches $batches --precision $precisions"
    TORL_KERNELS=$path TORL_THREADS=$threads "$torl" bench model --model "$model" --precision "$precisions" \
        --prompt-tokens "$prompt" --new-tokens "$new" --batches "$batches"
done
