// Inner loops of the engine that Swift cannot vectorize to AVX-512, AVX2 or NEON on a baseline build.
// Each entry point picks an AVX-512, an AVX2 (+FMA, F16C, AVX-VNNI where present), a NEON (aarch64, with the
// dot-product extension where present) or a portable implementation at run time (CPU dispatch), so the binary builds
// and runs on any x86-64 or aarch64 (and any other architecture through the portable code).
#ifndef TORL_CKERNELS_H
#define TORL_CKERNELS_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel paths, one dispatch table per instruction set. The best one the CPU has is chosen at the first kernel call,
/// unless TORL_KERNELS names one (portable, avx2, avxvnni, avx512, neon, neondot); avxvnni is the avx2 path with
/// AVX-VNNI int8 code sums, neondot the neon path with `sdot` int8 code sums (the Armv8.2 dot-product extension).
/// A name that is unknown or that this CPU lacks stops the process with a message on stderr (the torl command checks
/// it first and reports it as an error).
enum {
    TORL_KERNELS_PORTABLE = 0,
    TORL_KERNELS_AVX2 = 1,
    TORL_KERNELS_AVX_VNNI = 2,
    TORL_KERNELS_AVX512 = 3,
    TORL_KERNELS_NEON = 4,
    TORL_KERNELS_NEON_DOT = 5,
    TORL_KERNELS_PATH_COUNT = 6
};
/// The path in use.
int torl_kernels_path(void);
/// 1 when this CPU (and this build) can run `path`.
int torl_kernels_path_available(int path);
/// Switches to `path`: 0 on success, -1 (nothing changed) when the CPU lacks it. Tests compare paths this way.
int torl_kernels_select_path(int path);
/// "portable", "avx2", "avxvnni", "avx512", "neon", "neondot"; NULL for an unknown path.
const char *torl_kernels_path_name(int path);
/// The path of a TORL_KERNELS value, -1 when there is none of that name.
int torl_kernels_path_named(const char *name);
/// The path TORL_KERNELS asks for (-1 when unset or empty, -2 when it names no path).
int torl_kernels_requested_path(void);

/// 1 when the AVX-512 paths are in use, 0 otherwise.
int torl_kernels_use_avx512(void);

/// f32 weights in panels of 16 rows: [ceil(N/16)][K][16 rows], zero-padded (one 64-byte vector per k).
long torl_f32_packed_count(long N, long K);
void torl_pack_f32(const float *w, long N, long K, float *packed);
/// y[t, n] (+)= Σ_k x[t, k] · W[n, k] for the rows n < N of panels [panel_begin, panel_end), summed in k order with
/// fused multiply-adds. x: [T, ldx] f32; packed: torl_pack_f32 layout; y: row stride ldy; accumulate = 0
/// overwrites y, 1 adds to it (residual connections).
void torl_linear_f32_packed(const float *x, long ldx, long T, long K, const float *packed, long N, long panel_begin,
                            long panel_end, float *y, long ldy, int accumulate);

/// bf16 weights in panels of 16 rows: [ceil(N/16)][ceil(K/2)][16 rows][2 consecutive k], zero-padded. This is
/// the layout `vdpbf16ps` consumes directly. torl_bf16_packed_count gives the number of uint16 elements.
long torl_bf16_packed_count(long N, long K);
void torl_pack_bf16(const uint16_t *w, long N, long K, uint16_t *packed);
/// y[t, n] (+)= Σ_k x[t, k] · W[n, k] for the rows n < N of panels [panel_begin, panel_end), products of bf16
/// operands accumulated in f32 (AVX512_BF16 where the CPU has it). x: [T, ldx] bf16 with ldx ≥ 2·ceil(K/2) and
/// zero in column K when K is odd; packed: torl_pack_bf16 layout; y: row stride ldy.
void torl_linear_bf16_packed(const uint16_t *x, long ldx, long T, long K, const uint16_t *packed, long N,
                             long panel_begin, long panel_end, float *y, long ldy, int accumulate);
/// 1 when torl_linear_bf16_packed uses AVX512_BF16 instructions.
int torl_kernels_use_avx512_bf16(void);

/// int8 linear layers (see linear_int8.c). Weights: codes q in 0...255 with a step and a minimum per output row and
/// block of TORL_Q8_BLOCK inputs (w ≈ minimum + step · q), packed in panels of 16 rows × k-quads:
/// [ceil(N/16)][Kpad/4][16 rows][4 consecutive k], Kpad = K rounded up to TORL_Q8_BLOCK, zero-padded; steps and
/// minimums: [ceil(N/16)][Kpad/TORL_Q8_BLOCK][16 rows]. Activations: codes in −127...127 with one scale per token
/// and block (x ≈ scale · q).
#define TORL_Q8_BLOCK 32
long torl_q8_padded_columns(long K);
long torl_q8_packed_bytes(long N, long K);
/// Elements of the steps (and of the minimums) array.
long torl_q8_block_count(long N, long K);
/// w: [N, K] f32 → packed (torl_q8_packed_bytes), steps and minimums (torl_q8_block_count each), for the panels
/// [panel_begin, panel_end) only (disjoint ranges can be packed in parallel).
void torl_pack_q8(const float *w, long N, long K, long panel_begin, long panel_end, uint8_t *packed, float *steps,
                  float *minimums);
/// out: [K] ← row n of a packed int8 matrix, dequantized (minimum + step · q).
void torl_unpack_q8_row(const uint8_t *packed, const float *steps, const float *minimums, long K, long n, float *out);
/// x: [T, K] at row stride ldx → xq: [T, ldq] codes (ldq = torl_q8_padded_columns(K), padding 0); xs: [T, ldq /
/// TORL_Q8_BLOCK] block scales (max|block| / 127) and xsum: [T, ldq / TORL_Q8_BLOCK] = scale · Σ codes.
void torl_quantize_q8(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs, float *xsum);
/// y[t, n] (+)= Σ_b (step[n, b] · xs[t, b]) · Σ_{k ∈ b} q_w[n, k] · q_x[t, k] + minimum[n, b] · xsum[t, b] for the
/// rows n < N of panels [panel_begin, panel_end); the code sums are exact int32 (AVX512_VNNI where the CPU has it).
void torl_linear_q8(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T, const uint8_t *packed,
                    const float *steps, const float *minimums, long N, long panel_begin, long panel_end, float *y,
                    long ldy, int accumulate);
/// 1 when torl_linear_q8 uses AVX512_VNNI instructions.
int torl_kernels_use_avx512_vnni(void);
/// 1 when torl_linear_q8 uses AVX-VNNI instructions (the avxvnni path).
int torl_kernels_use_avx_vnni(void);
/// 1 when torl_linear_q8 uses the NEON dot-product instruction `sdot` (the neondot path).
int torl_kernels_use_neon_dot(void);

/// dst[i] = bf16(src[i]) rounded to nearest even; NaN stays NaN.
void torl_f32_to_bf16(const float *src, uint16_t *dst, long n);

/// Formats of cached keys and values: f32, or IEEE half (f16) bit patterns.
enum { TORL_KV_F32 = 0, TORL_KV_F16 = 1 };

/// Query heads handled by one pass over the cached rows; larger groups are taken this many heads at a time.
#define TORL_ATTENTION_MAX_GROUP 4

/// Causal attention of G query heads sharing one key/value head: out: [G, D], out[g] = softmax(scale · keys · q[g])
/// · values, with q: [G, D], keys and values [L, D] at row stride `stride` (elements) in `kv_format` (TORL_KV_F32
/// or TORL_KV_F16); scores: scratch of min(G, TORL_ATTENTION_MAX_GROUP) · L floats.
void torl_attention_heads(const float *q, long G, const void *keys, const void *values, long L, long D, long stride,
                          int kv_format, float scale, float *out, float *scores);

/// dst[i] = f16(src[i]) rounded to nearest even (overflow to infinity, NaN stays NaN); and the exact widening back.
void torl_f32_to_f16(const float *src, uint16_t *dst, long n);
void torl_f16_to_f32(const uint16_t *src, float *dst, long n);

/// RMSNorm per row: out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + epsilon) · weight, the mean in double precision.
/// x, out: [T, C] (out may alias x); weight: [C].
void torl_rmsnorm(const float *x, const float *weight, float *out, long T, long C, float epsilon);

/// Index of the largest of x[0..<n] (the first on ties; NaN is skipped); -1 when there is none.
long torl_argmax(const float *x, long n);

/// out[i] = silu(gate[i]) * up[i] = gate[i] * up[i] / (1 + exp(-gate[i]))
void torl_swiglu(const float *gate, const float *up, float *out, long n);

/// out[i] = gelu(gate[i]) * up[i] with GELU's tanh approximation (Gemma; ggml's and PyTorch's approximate="tanh"):
/// gelu(g) = g/2 · (1 + tanh(u)), u = sqrt(2/π) · g · (1 + 0.044715 g²). The vector paths use the identity
/// g/2 · (1 + tanh u) = g / (1 + exp(-2u)).
void torl_geglu(const float *gate, const float *up, float *out, long n);

/// A spin-wait hint to the CPU (x86 `pause`, Arm `yield`), for threads polling shared state.
void torl_cpu_relax(void);

#ifdef __cplusplus
}
#endif
#endif
