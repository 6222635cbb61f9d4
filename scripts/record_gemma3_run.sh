#!/usr/bin/env bash
# The recorded TORL run on Gemma 3 270M base (docs/runs/2026-12-04-gemma3-torl/README.md): GRPO with the Python tool
# (C=1) and without it (C=0), on the published prompt alone (P0) and with one worked tool-integrated example in
# front of it (P1); same data, seeds and settings in every arm. Held-out accuracy greedy before, every
# EVAL_EVERY steps, and after; sampled responses at the start and the end.
#
# Usage: scripts/record_gemma3_run.sh STATE_DIR [ARM ...]     (arms: p1-c1 p1-c0 p0-c1 p0-c0; default all four)
# Resumable: run it again with the same STATE_DIR and it continues each unfinished arm from its last checkpoint
# (metrics lines past that checkpoint are dropped first, so every step is recorded once); a finished arm is
# skipped. Settings below can be overridden from the environment and are written to STATE_DIR/settings.json.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${1:?usage: scripts/record_gemma3_run.sh STATE_DIR [ARM ...]}
shift
ARMS=("$@")
[ ${#ARMS[@]} -gt 0 ] || ARMS=(p1-c1 p1-c0 p0-c1 p0-c0)
TORL=${TORL:-.build/release/torl}
MODEL=${GEMMA_MODEL:-models/gemma-3-270m-q4_k_m.gguf}
PYTHON=${PLOT_PYTHON:-.venv-dev/bin/python}
STEPS=${STEPS:-50}
BATCH=${BATCH:-4}
GROUP=${GROUP:-8}
MAX_TOKENS=${MAX_TOKENS:-256}
TEMPERATURE=${TEMPERATURE:-0.7}
LR=${LR:-5e-6}
SEED=${SEED:-0}
WEIGHTS=${WEIGHTS:-f32}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-5}
EVAL_EVERY=${EVAL_EVERY:-10}
SAMPLE_PROBLEMS=${SAMPLE_PROBLEMS:-4}
STOP=$'\nUser:'
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)

# Data: word problems from the project's GSM8K file and generated products, half and half (scripts/gemma3_run_data.py).
if [ ! -s "$STATE/train.jsonl" ]; then
    "$TORL" synthetic --difficulty 1 --families product --count 1024 --seed 0 --id-prefix train-product \
        --output "$STATE/synthetic-train.jsonl"
    "$TORL" synthetic --difficulty 1 --families product --count 32 --seed 1000 --id-prefix heldout-product \
        --output "$STATE/synthetic-heldout.jsonl"
    "$PYTHON" scripts/gemma3_run_data.py data/gsm8k_test.jsonl "$STATE/synthetic-train.jsonl" \
        "$STATE/synthetic-heldout.jsonl" "$STATE"
fi
head -n "$SAMPLE_PROBLEMS" "$STATE/train.jsonl" > "$STATE/sample-problems.jsonl"

instruction_for() { # arm -> the --instruction arguments (none: the published prompt)
    case "$1" in
        p1-*) printf '%s\0' --instruction "$(cat scripts/gemma3_worked_example.txt)" ;;
        p0-*) ;;
        *) echo "unknown arm $1 (p1-c1, p1-c0, p0-c1, p0-c0)" >&2; exit 2 ;;
    esac
}
newest_checkpoint_step() { # arm -> the step of its newest checkpoint, or nothing
    if [ -d "$STATE/checkpoints-$1" ]; then
        ls "$STATE/checkpoints-$1" | sed -n 's/^step-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1
    fi
}
tool_calls_for() { case "$1" in *-c1) echo 1 ;; *-c0) echo 0 ;; esac; }

cat > "$STATE/settings.json" <<JSON
{"model": "$(basename "$MODEL")", "steps": $STEPS, "batch": $BATCH, "group_size": $GROUP, "max_tokens": $MAX_TOKENS,
 "temperature": $TEMPERATURE, "lr": "$LR", "seed": $SEED, "weights": "$WEIGHTS", "template": "torl",
 "stop": "\\nUser:", "require_evaluated_answers": true, "eval_every": $EVAL_EVERY, "arms": ["p1-c1", "p1-c0", "p0-c1", "p0-c0"],
 "worked_example": "scripts/gemma3_worked_example.txt", "training": "full fine-tuning (every weight, f32)"}
JSON

for ARM in "${ARMS[@]}"; do
    mapfile -d '' PROMPT < <(instruction_for "$ARM")
    C=$(tool_calls_for "$ARM")
    common=(--template torl --stop "$STOP" --require-evaluated-answers --max-tokens "$MAX_TOKENS" --max-tool-calls "$C" --weights "$WEIGHTS" "${PROMPT[@]}")
    if [ -s "$STATE/eval-after-$ARM.json" ]; then echo "$ARM: finished" >&2; continue; fi

    if [ ! -s "$STATE/eval-before-$ARM.json" ]; then
        "$TORL" eval --model "$MODEL" --dataset "$STATE/heldout.jsonl" "${common[@]}" \
            --json --output "$STATE/eval-before-$ARM.records.jsonl" > "$STATE/eval-before-$ARM.json"
        "$TORL" eval --model "$MODEL" --dataset "$STATE/sample-problems.jsonl" "${common[@]}" --samples 4 \
            --temperature "$TEMPERATURE" --seed "$SEED" \
            --json --output "$STATE/samples-start-$ARM.records.jsonl" > "$STATE/samples-start-$ARM.json"
    fi

    # Resume from the newest checkpoint, dropping what was recorded after it.
    resume=()
    last=$(newest_checkpoint_step "$ARM")
    if [ -n "$last" ]; then
        resume=(--resume "$STATE/checkpoints-$ARM/step-$last.safetensors")
        for file in "$STATE/metrics-$ARM.jsonl" "$STATE/eval-during-$ARM.jsonl"; do
            if [ -f "$file" ]; then "$PYTHON" scripts/plot_run.py --truncate "$file" "$last" > /dev/null; fi
        done
    else
        rm -f "$STATE/metrics-$ARM.jsonl" "$STATE/eval-during-$ARM.jsonl"
    fi
    start=$(date +%s)
    "$TORL" train --model "$MODEL" --dataset "$STATE/train.jsonl" --seed "$SEED" --steps "$STEPS" \
        --batch "$BATCH" --group-size "$GROUP" --temperature "$TEMPERATURE" --lr "$LR" "${common[@]}" \
        --checkpoint-every "$CHECKPOINT_EVERY" --checkpoint-dir "$STATE/checkpoints-$ARM" --keep-checkpoints 1 "${resume[@]}" \
        --eval-every "$EVAL_EVERY" --eval-dataset "$STATE/heldout.jsonl" --eval-metrics "$STATE/eval-during-$ARM.jsonl" \
        --metrics "$STATE/metrics-$ARM.jsonl" --export "$STATE/model-$ARM" 2>> "$STATE/train-$ARM.log"
    echo "{\"arm\": \"$ARM\", \"from_step\": ${last:-0}, \"wall_seconds\": $(( $(date +%s) - start ))}" \
        >> "$STATE/wall-$ARM.jsonl"
    # Only the newest checkpoint is needed to resume (each holds the policy and both AdamW moments, 3.2 GB); the
    # one this invocation resumed from is older than the ones it saved.
    newest=$(newest_checkpoint_step "$ARM")
    for file in "$STATE/checkpoints-$ARM"/step-*.safetensors; do
        if [ -e "$file" ] && [ "$file" != "$STATE/checkpoints-$ARM/step-$newest.safetensors" ]; then rm -f "$file"; fi
    done

    "$TORL" eval --model "$STATE/model-$ARM" --dataset "$STATE/sample-problems.jsonl" "${common[@]}" --samples 4 \
        --temperature "$TEMPERATURE" --seed "$SEED" \
        --json --output "$STATE/samples-end-$ARM.records.jsonl" > "$STATE/samples-end-$ARM.json"
    "$TORL" eval --model "$STATE/model-$ARM" --dataset "$STATE/heldout.jsonl" "${common[@]}" \
        --json --output "$STATE/eval-after-$ARM.records.jsonl" > "$STATE/eval-after-$ARM.json"
done
"$PYTHON" scripts/plot_run.py "$STATE"
