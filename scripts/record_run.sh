#!/usr/bin/env bash
# The recorded run of the README: GRPO on synthetic products with the Python tool (C=1) and, at equal steps and
# settings, without it (C=0); greedy held-out accuracy before and after each; curves plotted to one PNG.
# Usage: scripts/record_run.sh [OUT_DIR]   (settings below can be overridden from the environment; TRAIN_ARGS adds
# flags to `torl train`, e.g. TRAIN_ARGS="--lora-rank 32 --lora-alpha 32" LR=1e-4 for the LoRA repeat; ARMS="1"
# runs the C=1 arm only)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/recorded}
TORL=${TORL:-.build/release/torl}
MODEL=${TORL_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
STEPS=${STEPS:-16}
BATCH=${BATCH:-4}
GROUP=${GROUP:-8}
MAX_TOKENS=${MAX_TOKENS:-160}
TEMPERATURE=${TEMPERATURE:-0.5}
LR=${LR:-1e-5}
DIFFICULTY=${DIFFICULTY:-1}
FAMILIES=${FAMILIES:-product}
EVAL_COUNT=${EVAL_COUNT:-64}
read -r -a TRAIN_EXTRA <<< "${TRAIN_ARGS:-}"
read -r -a ARM_LIST <<< "${ARMS:-1 0}"
INSTRUCTION=${INSTRUCTION:-'Use Python to solve the problem: write a ```python code block that prints the answer, then put your final answer within \boxed{}.'}
mkdir -p "$OUT"

"$TORL" synthetic --count "$EVAL_COUNT" --difficulty "$DIFFICULTY" --families "$FAMILIES" --seed 1000 \
    --id-prefix heldout --output "$OUT/heldout.jsonl"
common=(--template chat --instruction "$INSTRUCTION" --accept-unboxed-answers --require-evaluated-answers --max-tokens "$MAX_TOKENS")

evaluate() { # model, C, name
    "$TORL" eval --model "$1" --dataset "$OUT/heldout.jsonl" --max-tool-calls "$2" "${common[@]}" \
        --json --output "$OUT/$3.records.jsonl" > "$OUT/$3.json"
}

for C in "${ARM_LIST[@]}"; do evaluate "$MODEL" "$C" "eval-before-c$C"; done
for C in "${ARM_LIST[@]}"; do
    rm -f "$OUT/metrics-c$C.jsonl"
    start=$(date +%s)
    "$TORL" train --model "$MODEL" --synthetic --difficulty "$DIFFICULTY" --families "$FAMILIES" --count 1024 \
        --seed 0 --steps "$STEPS" --batch "$BATCH" --group-size "$GROUP" --temperature "$TEMPERATURE" --lr "$LR" \
        --max-tool-calls "$C" "${common[@]}" --metrics "$OUT/metrics-c$C.jsonl" --export "$OUT/model-c$C" \
        ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"} 2> "$OUT/train-c$C.log"
    echo "{\"max_tool_calls\": $C, \"wall_seconds\": $(( $(date +%s) - start ))}" > "$OUT/train-c$C.wall.json"
    evaluate "$OUT/model-c$C" "$C" "eval-after-c$C"
done
json_string() { printf '%s' "$1" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))'; }
cat > "$OUT/settings.json" <<JSON
{"model": "$(basename "$MODEL")", "steps": $STEPS, "batch": $BATCH, "group_size": $GROUP, "max_tokens": $MAX_TOKENS,
 "temperature": $TEMPERATURE, "lr": "$LR", "difficulty": $DIFFICULTY, "families": "$FAMILIES", "eval_problems": $EVAL_COUNT,
 "template": "chat", "accept_unboxed_answers": true, "require_evaluated_answers": true, "train_args": $(json_string "${TRAIN_ARGS:-}"), "instruction": $(json_string "$INSTRUCTION")}
JSON
PLOT_PYTHON=${PLOT_PYTHON:-.venv-dev/bin/python}
"$PLOT_PYTHON" scripts/plot_run.py "$OUT"
