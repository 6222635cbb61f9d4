# torl: `make demo` and `make test` are all a newcomer needs (both run `make setup` first).
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
export PATH := $(dir $(SWIFT)):$(PATH)
export TORL_PYTHON ?= $(CURDIR)/.venv/bin/python
export TORL_MODEL ?= $(CURDIR)/models/SmolLM2-135M-Instruct.Q4_1.gguf
export OPENBLAS_CORETYPE ?= $(shell scripts/coretype.sh)
RELEASE := -c release
TORL := .build/release/torl

.PHONY: setup build demo test test-kernel-paths test-ckernels bench-int8-ceiling test-neon test-python test-clients bench clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build $(RELEASE)

# The main job on the default model: a worked, tool-integrated solution streamed from a daemon started over stdio.
# This 135M model writes code that runs when asked plainly (the published prompt rarely makes it write any), and
# states its result as "The answer is N" rather than in \boxed{}, hence the instruction and the answer fallback.
DEMO_INSTRUCTION := Use Python to solve the problem: write a ```python code block that prints the answer, then put your final answer within \boxed{}.
demo: build
	$(TORL) solve --model $(TORL_MODEL) --template chat --instruction '$(DEMO_INSTRUCTION)' --accept-unboxed-answers \
		--max-tokens 200 --reference 56211 'Compute $$123 \times 457$$.'

# Tests run in release: the oracle and training tests do real numeric work on the real model.
# Then the clients, each against a real daemon started from the freshly built binary.
test: setup
	$(SWIFT) build $(RELEASE) --build-tests -Xswiftc -enable-testing
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing --skip-build --disable-swift-testing
	$(MAKE) --no-print-directory test-kernel-paths
	$(MAKE) --no-print-directory test-ckernels
	$(MAKE) --no-print-directory test-neon
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-clients

# The suite above runs on the best kernel path of this CPU (the kernel tests compare every path it has against the
# portable one). CI machines differ in instruction sets, so the kernel and training tests run again with the portable
# kernels forced, and the oracle, batch-invariance and training tests with the AVX2 kernels and OpenBLAS's Haswell
# kernels (what an AVX2 machine runs: their sgemm bits depend on the row count, SkylakeX's here did not) when the CPU
# has a better path too (the portable f32 linears are scalar: the oracle tests alone take many minutes on them).
KERNEL_TESTS := LayerKernelTests|Int8KernelTests|AttentionHeadSplitTests|LinearTests|RuntimeTests
TRAINING_TESTS := GRPOTrainerTests|GRPOLossTests|TrainingKernelGradientTests|TransformerGradientTests|TrainingLoopTests|ChunkedHeadTests|LoRATrainingTests
MODEL_TESTS := SmolLM2OracleTests|Gemma3OracleTests|BatchInvariantDecodeTests
SWIFT_TEST := $(SWIFT) test $(RELEASE) -Xswiftc -enable-testing --skip-build --disable-swift-testing
test-kernel-paths:
	TORL_KERNELS=portable $(SWIFT_TEST) --filter '$(KERNEL_TESTS)|$(TRAINING_TESTS)'
	@if TORL_KERNELS=avx2 $(TORL) --help >/dev/null 2>&1 && grep -qwE 'avx512f|avx_vnni' /proc/cpuinfo; then \
	    echo "TORL_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell: $(MODEL_TESTS)|$(TRAINING_TESTS)"; \
	    TORL_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell $(SWIFT_TEST) --filter '$(MODEL_TESTS)|$(TRAINING_TESTS)'; \
	else echo "test-kernel-paths: the model tests already ran on this CPU's only vector path"; fi

# The C kernels alone, every vector path of a CPU against the portable one (Tests/CKernelsNative): natively, and
# cross-compiled for aarch64 under qemu-aarch64 (no ARM machine at hand): a plain armv8-a build on a CPU without the
# dot-product extension (the neon path alone) and with it (neon and neondot), an armv8.2-a+dotprod build, and a
# build by the clang of the Swift toolchain (the compiler SwiftPM uses for Sources/CKernels).
CKERNELS_TEST := Tests/CKernelsNative/kernel_paths_test.c
CKERNELS_SOURCES := $(wildcard Sources/CKernels/*.c)
CKERNELS_FLAGS := -O2 -std=gnu11 -Wall -Wextra -ISources/CKernels/include
CKERNELS_OUT := .build/ckernels-native
test-ckernels:
	@mkdir -p $(CKERNELS_OUT)
	$(CC) $(CKERNELS_FLAGS) $(CKERNELS_TEST) $(CKERNELS_SOURCES) -lm -o $(CKERNELS_OUT)/kernel_paths_test
	$(CKERNELS_OUT)/kernel_paths_test
	@if [ "$$(uname -m)" = x86_64 ]; then $(CC) $(CKERNELS_FLAGS) $(INT8_CEILING) -o $(CKERNELS_OUT)/int8_ceiling; fi

# What one core can reach with each int8 instruction mix of the x86 paths (the ceiling of the int8 panel kernels).
INT8_CEILING := Tests/CKernelsNative/int8_ceiling.c
bench-int8-ceiling:
	@mkdir -p $(CKERNELS_OUT)
	$(SWIFT_CLANG) $(CKERNELS_FLAGS) $(INT8_CEILING) -o $(CKERNELS_OUT)/int8_ceiling
	$(CKERNELS_OUT)/int8_ceiling

AARCH64_CC ?= aarch64-linux-gnu-gcc
SWIFT_CLANG := $(dir $(SWIFT))clang
test-neon:
	@if ! command -v $(AARCH64_CC) >/dev/null || ! command -v qemu-aarch64 >/dev/null; then \
	    echo "test-neon: SKIPPED: needs $(AARCH64_CC) and qemu-aarch64 (scripts/setup.sh installs gcc-aarch64-linux-gnu and qemu-user)"; \
	    exit 0; fi; \
	set -e; mkdir -p $(CKERNELS_OUT); \
	for march in armv8-a armv8.2-a+dotprod; do \
	    $(AARCH64_CC) $(CKERNELS_FLAGS) -static -march=$$march $(CKERNELS_TEST) $(CKERNELS_SOURCES) -lm \
	        -o $(CKERNELS_OUT)/kernel_paths_test.$$march; done; \
	for run in "cortex-a53 armv8-a" "max armv8-a" "max armv8.2-a+dotprod"; do set -- $$run; \
	    echo "test-neon: -march=$$2 on qemu-aarch64 -cpu $$1"; \
	    qemu-aarch64 -cpu $$1 $(CKERNELS_OUT)/kernel_paths_test.$$2; done; \
	if [ -x "$(SWIFT_CLANG)" ]; then \
	    $(SWIFT_CLANG) --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu --gcc-toolchain=/usr \
	        -B/usr/bin/aarch64-linux-gnu- -fuse-ld=bfd $(CKERNELS_FLAGS) -static $(CKERNELS_TEST) $(CKERNELS_SOURCES) -lm \
	        -o $(CKERNELS_OUT)/kernel_paths_test.clang; \
	    echo "test-neon: built by Swift's clang (the compiler of the package build), qemu-aarch64 -cpu max"; \
	    qemu-aarch64 -cpu max $(CKERNELS_OUT)/kernel_paths_test.clang; fi

# The repository's own Python, linted (pyflakes' checks and syntax errors) and unit-tested: the sandbox's
# fork-server (embedded in the binary at build time), the numpy reference of the model tests and the run scripts.
test-python:
	.venv-dev/bin/python -m ruff check --no-cache --isolated --select F,E9 Sources/Sandbox/Resources Tests/Fixtures Tests/Python scripts
	.venv-dev/bin/python -m pytest -q Tests/Python

test-clients:
	.venv-dev/bin/python -m mypy --strict clients/python/torl_client
	TORL_BIN=$(CURDIR)/$(TORL) .venv-dev/bin/python -m pytest -q clients/python/tests
	TORL_BIN=$(CURDIR)/$(TORL) .venv-dev/bin/python -m pytest -q -rs clients/cluster/tests
	TORL_BIN=$(CURDIR)/$(TORL) node --test clients/vscode/test/
	TORL_BIN=$(CURDIR)/$(TORL) nvim --headless -u NONE -c "set rtp+=clients/nvim" -c "luafile clients/nvim/tests/run.lua"

bench: build
	$(TORL) bench --model $(TORL_MODEL)

clean:
	rm -rf .build
