// int8 linear layers. Weights: unsigned 8-bit codes with a step and a minimum per output row and block of
// TORL_Q8_BLOCK inputs (w ≈ min + step · q, q in 0...255). Activations: signed 8-bit codes with one scale per token
// and block (x ≈ scale · q, q in −127...127). Per block the code products are summed exactly in int32
// (AVX512_VNNI `vpdpbusd`: 64 multiply-adds per instruction, twice `vdpbf16ps`), then
//   Σ_k w_k x_k = step · scale · Σ q_w q_x + min · (scale · Σ q_x)
// in f32. The weight grid is chosen per block so that GGUF sources come back (see torl_pack_q8). Symmetric codes
// per 32 weights alone moved SmolLM2's logits by up to 1.03 against the f32 oracle (bf16: 0.21; see docs/ENGINE.md).
// Non-finite values propagate as in f32: a weight block or an activation block holding NaN or ±inf gets a NaN
// step (scale) and zero codes, so every output it touches is NaN rather than a finite guess.
#include "CKernels.h"
#include "kernels_avx2.h"
#include "kernels_neon.h"
#include "q8_common.h"
#include "kernel_dispatch.h"
#include <math.h>
#include <string.h>

long torl_q8_padded_columns(long K) { return (K + TORL_Q8_BLOCK - 1) / TORL_Q8_BLOCK * TORL_Q8_BLOCK; }
long torl_q8_packed_bytes(long N, long K) { return ((N + 15) / 16) * torl_q8_padded_columns(K) * 16; }
long torl_q8_block_count(long N, long K) { return ((N + 15) / 16) * (torl_q8_padded_columns(K) / TORL_Q8_BLOCK) * 16; }

static int all_finite(const float *v, long n) {
    for (long i = 0; i < n; i++) if (!isfinite(v[i])) return 0;
    return 1;
}

// Codes for one block of n finite weights on the grid minimum + step · q, q in 0...255; returns the largest
// reconstruction error, NaN when the grid cannot represent the block (a step that overflowed).
static float encode_block(const float *w, long n, float step, float minimum, uint8_t *codes) {
    float inverse = torl_q8_reciprocal_or_zero(1.0f, step), largest = 0;
    for (long k = 0; k < n; k++) {
        float q = nearbyintf((w[k] - minimum) * inverse);
        codes[k] = (uint8_t)(q > 255 ? 255 : (q < 0 ? 0 : q));
        float error = fabsf(step * (float)codes[k] + minimum - w[k]);
        if (isnan(error)) return NAN;
        largest = fmaxf(largest, error);
    }
    return largest;
}

// Each block takes the better of two grids: the block's own range in 255 steps, and the symmetric grid
// max|w| / 127 · (−128...127). A Q8_0 block (d · q8) is exactly on the symmetric grid. A Q4_1 block (m + d · q4)
// that uses both q4 = 0 and q4 = 15 is on the range grid up to the f32 rounding of its step d / 17 (measured: within
// 1e-6 · d).
void torl_pack_q8(const float *w, long N, long K, long panel_begin, long panel_end, uint8_t *packed, float *steps,
                  float *minimums) {
    long Kpad = torl_q8_padded_columns(K), Kq = Kpad / 4, blocks = Kpad / TORL_Q8_BLOCK;
    long panels = panel_end - panel_begin;
    memset(packed + panel_begin * Kpad * 16, 0, (size_t)(panels * Kpad * 16));
    memset(steps + panel_begin * blocks * 16, 0, sizeof(float) * (size_t)(panels * blocks * 16));
    memset(minimums + panel_begin * blocks * 16, 0, sizeof(float) * (size_t)(panels * blocks * 16));
    uint8_t ranged[TORL_Q8_BLOCK], symmetric[TORL_Q8_BLOCK];
    for (long n = panel_begin * 16; n < panel_end * 16 && n < N; n++) {
        long p = n / 16, r = n % 16;
        for (long b = 0; b < blocks; b++) {
            long k0 = b * TORL_Q8_BLOCK, count = K - k0 < TORL_Q8_BLOCK ? K - k0 : TORL_Q8_BLOCK;
            const float *src = w + n * K + k0;
            if (!all_finite(src, count)) {
                steps[(p * blocks + b) * 16 + r] = NAN;
                minimums[(p * blocks + b) * 16 + r] = NAN;
                continue;
            }
            float lo = src[0], hi = src[0];
            for (long k = 0; k < count; k++) { lo = fminf(lo, src[k]); hi = fmaxf(hi, src[k]); }
            float rangeStep = (hi - lo) / 255.0f, symmetricStep = fmaxf(hi, -lo) / 127.0f;
            float rangeError = encode_block(src, count, rangeStep, lo, ranged);
            float symmetricError = encode_block(src, count, symmetricStep, -128 * symmetricStep, symmetric);
            int useRange = !isnan(rangeError) && (isnan(symmetricError) || rangeError <= symmetricError);
            steps[(p * blocks + b) * 16 + r] = useRange ? rangeStep : symmetricStep;
            minimums[(p * blocks + b) * 16 + r] = useRange ? lo : -128 * symmetricStep;
            for (long k = 0; k < count; k++)
                packed[((p * Kq + (k0 + k) / 4) * 16 + r) * 4 + (k0 + k) % 4] = useRange ? ranged[k] : symmetric[k];
        }
    }
}

void torl_unpack_q8_row(const uint8_t *packed, const float *steps, const float *minimums, long K, long n, float *out) {
    long Kq = torl_q8_padded_columns(K) / 4, blocks = Kq * 4 / TORL_Q8_BLOCK, p = n / 16, r = n % 16;
    for (long k = 0; k < K; k++) {
        long block = (p * blocks + k / TORL_Q8_BLOCK) * 16 + r;
        out[k] = steps[block] * (float)packed[((p * Kq + k / 4) * 16 + r) * 4 + k % 4] + minimums[block];
    }
}

// One token's block: codes q = nearbyint(x · 127 / max|x|), the scale max|x| / 127 and scale · Σ q. A block
// below 127 / FLT_MAX in magnitude (its reciprocal overflows) gets zero codes; a non-finite one a NaN scale.
static void quantize_block_portable(const float *x, long n, int8_t *q, float *scale, float *scaledSum) {
    float maxAbs = 0;
    for (long i = 0; i < n; i++) maxAbs = fmaxf(maxAbs, fabsf(x[i]));
    int finite = all_finite(x, n);
    float inverse = finite ? torl_q8_reciprocal_or_zero(127.0f, maxAbs) : 0;
    int32_t sum = 0;
    for (long i = 0; i < TORL_Q8_BLOCK; i++) {
        float v = i < n && finite ? nearbyintf(x[i] * inverse) : 0;
        q[i] = (int8_t)(v > 127 ? 127 : (v < -127 ? -127 : v));
        sum += q[i];
    }
    *scale = finite ? maxAbs / 127.0f : NAN;
    *scaledSum = *scale * (float)sum;
}

static void quantize_q8_portable(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs, float *xsum) {
    long blocks = ldq / TORL_Q8_BLOCK;
    for (long t = 0; t < T; t++)
        for (long b = 0; b < blocks; b++) {
            long k0 = b * TORL_Q8_BLOCK, n = K - k0 < TORL_Q8_BLOCK ? K - k0 : TORL_Q8_BLOCK;
            quantize_block_portable(x + t * ldx + k0, n, xq + t * ldq + k0, xs + t * blocks + b, xsum + t * blocks + b);
        }
}

// y[t, n] = Σ_b (step[n, b] · xs[t, b]) · Σ_{k ∈ b} q_w[n, k] q_x[t, k] + min[n, b] · xsum[t, b], in this order.
static void linear_q8_portable(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T,
                               const uint8_t *packed, const float *steps, const float *minimums, long N, long p0,
                               long p1, float *y, long ldy, int acc) {
    long Kq = ldq / 4, blocks = ldq / TORL_Q8_BLOCK;
    for (long p = p0; p < p1; p++)
        for (long r = 0; r < 16 && 16 * p + r < N; r++)
            for (long t = 0; t < T; t++) {
                float s = 0;
                for (long b = 0; b < blocks; b++) {
                    int32_t codes = 0;
                    for (long kq = b * Q8_QUADS_PER_BLOCK; kq < (b + 1) * Q8_QUADS_PER_BLOCK; kq++)
                        for (long j = 0; j < 4; j++)
                            codes += (int32_t)packed[((p * Kq + kq) * 16 + r) * 4 + j] * xq[t * ldq + 4 * kq + j];
                    long block = (p * blocks + b) * 16 + r;
                    s = fmaf((float)codes, steps[block] * xs[t * blocks + b], s);
                    s = fmaf(minimums[block], xsum[t * blocks + b], s);
                }
                float *dst = y + t * ldy + 16 * p + r;
                *dst = acc ? *dst + s : s;
            }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "panel_store.h"
#define TORL_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))
#define TORL_HAVE_VNNI_PATH 1

// A block of P panels (16 P output rows) × TT tokens: P·TT int32 accumulators for the current input block and
// P·TT f32 accumulators for the finished ones (4 × 3 uses 24 of the 32 registers). One 64-byte load holds a
// k-quad of 16 rows, one 32-bit broadcast the same k-quad of a token, and each lane is one output row, so no
// horizontal sums are needed.
#define DEFINE_Q8_BLOCK(NAME, P, TT)                                                                          \
TORL_AVX512VNNI static void NAME(const int8_t *xq, long ldq, const float *xs, const float *xsum, long blocks, \
                                 const uint8_t *panels, const float *steps, const float *minimums,            \
                                 float *y, long ldy, long rowsLeft, int acc) {                                \
    const long Kq = ldq / 4;                                                                                  \
    __m512 f[P][TT];                                                                                          \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) f[p][t] = _mm512_setzero_ps();                   \
    for (long b = 0; b < blocks; b++) {                                                                       \
        __m512i s[P][TT];                                                                                     \
        for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) s[p][t] = _mm512_setzero_si512();            \
        for (long kq = b * Q8_QUADS_PER_BLOCK; kq < (b + 1) * Q8_QUADS_PER_BLOCK; kq++) {                     \
            __m512i wv[P];                                                                                    \
            for (int p = 0; p < P; p++) {                                                                     \
                const uint8_t *panel = panels + (long)p * Kq * 64;                                            \
                _mm_prefetch((const char *)(panel + (kq + 8) * 64), _MM_HINT_T0);                             \
                wv[p] = _mm512_loadu_si512(panel + kq * 64);                                                  \
            }                                                                                                 \
            for (int t = 0; t < TT; t++) {                                                                    \
                int32_t quad;                                                                                 \
                memcpy(&quad, xq + t * ldq + 4 * kq, 4);                                                      \
                __m512i xv = _mm512_set1_epi32(quad);                                                         \
                for (int p = 0; p < P; p++) s[p][t] = _mm512_dpbusd_epi32(s[p][t], wv[p], xv);                \
            }                                                                                                 \
        }                                                                                                     \
        for (int p = 0; p < P; p++) {                                                                         \
            long block = ((long)p * blocks + b) * 16;                                                         \
            __m512 step = _mm512_loadu_ps(steps + block), minimum = _mm512_loadu_ps(minimums + block);        \
            for (int t = 0; t < TT; t++) {                                                                    \
                __m512 scale = _mm512_mul_ps(step, _mm512_set1_ps(xs[t * blocks + b]));                       \
                f[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[p][t]), scale, f[p][t]);                       \
                f[p][t] = _mm512_fmadd_ps(minimum, _mm512_set1_ps(xsum[t * blocks + b]), f[p][t]);            \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    TORL_STORE_PANEL_BLOCK(P, TT, f, y, ldy, rowsLeft, acc)                                                   \
}

DEFINE_Q8_BLOCK(q8_block_4x3, 4, 3)
DEFINE_Q8_BLOCK(q8_block_4x2, 4, 2)
DEFINE_Q8_BLOCK(q8_block_4x1, 4, 1)
DEFINE_Q8_BLOCK(q8_block_1x3, 1, 3)
DEFINE_Q8_BLOCK(q8_block_1x1, 1, 1)

TORL_AVX512VNNI static void linear_q8_avx512(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T,
                                             const uint8_t *packed, const float *steps, const float *minimums, long N,
                                             long p0, long p1, float *y, long ldy, int acc) {
    const long Kq = ldq / 4, blocks = ldq / TORL_Q8_BLOCK;
#define Q8_ARGS(P0, T0) xq + (T0) * ldq, ldq, xs + (T0) * blocks, xsum + (T0) * blocks, blocks,                   \
                        packed + (P0) * Kq * 64, steps + (P0) * blocks * 16, minimums + (P0) * blocks * 16,        \
                        y + (T0) * ldy + 16 * (P0), ldy, N - 16 * (P0), acc
    long p = p0;
    for (; p + 4 <= p1; p += 4) {
        long t = 0;
        for (; t + 3 <= T; t += 3) q8_block_4x3(Q8_ARGS(p, t));
        if (t + 2 <= T) { q8_block_4x2(Q8_ARGS(p, t)); t += 2; }
        for (; t < T; t++) q8_block_4x1(Q8_ARGS(p, t));
    }
    for (; p < p1; p++) {
        long t = 0;
        for (; t + 3 <= T; t += 3) q8_block_1x3(Q8_ARGS(p, t));
        for (; t < T; t++) q8_block_1x1(Q8_ARGS(p, t));
    }
#undef Q8_ARGS
}

// The arithmetic of quantize_block_portable 16 lanes at a time: the max is exact in any order, the reciprocal is
// the same division, the conversion rounds to nearest even like nearbyintf and the integer sum is exact.
TORL_AVX512VNNI static void quantize_q8_avx512(const float *x, long T, long K, long ldx, int8_t *xq, long ldq,
                                               float *xs, float *xsum) {
    long blocks = ldq / TORL_Q8_BLOCK;
    for (long t = 0; t < T; t++)
        for (long b = 0; b < blocks; b++) {
            long k0 = b * TORL_Q8_BLOCK;
            const float *src = x + t * ldx + k0;
            __m512 v[TORL_Q8_BLOCK / 16];
            __m512 maxv = _mm512_setzero_ps();
            __mmask16 nonFinite = 0;
            for (int i = 0; i < TORL_Q8_BLOCK / 16; i++) {
                long left = K - k0 - 16 * i;
                __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (left > 0 ? (__mmask16)((1u << left) - 1) : 0);
                v[i] = _mm512_maskz_loadu_ps(m, src + 16 * i);
                maxv = _mm512_max_ps(maxv, _mm512_abs_ps(v[i]));
                // x · 0 is NaN exactly where x is NaN or ±inf.
                __m512 zeroed = _mm512_mul_ps(v[i], _mm512_setzero_ps());
                nonFinite |= _mm512_cmp_ps_mask(zeroed, zeroed, _CMP_UNORD_Q);
            }
            float maxAbs = _mm512_reduce_max_ps(maxv);
            int finite = nonFinite == 0;
            if (!finite) for (int i = 0; i < TORL_Q8_BLOCK / 16; i++) v[i] = _mm512_setzero_ps();
            __m512 inverse = _mm512_set1_ps(finite ? torl_q8_reciprocal_or_zero(127.0f, maxAbs) : 0);
            __m512i sum = _mm512_setzero_si512();
            for (int i = 0; i < TORL_Q8_BLOCK / 16; i++) {
                __m512i q = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v[i], inverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q = _mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
                sum = _mm512_add_epi32(sum, q);
                _mm_storeu_si128((__m128i *)(xq + t * ldq + k0 + 16 * i), _mm512_cvtepi32_epi8(q));
            }
            float scale = finite ? maxAbs / 127.0f : NAN;
            xs[t * blocks + b] = scale;
            xsum[t * blocks + b] = scale * (float)_mm512_reduce_add_epi32(sum);
        }
}

static int detect_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni");
}
#else
#define TORL_HAVE_VNNI_PATH 0
static int detect_avx512_vnni(void) { return 0; }
#endif

static int vnni_capable = -1;

int torl_kernels_use_avx512_vnni(void) {
    if (vnni_capable < 0) vnni_capable = detect_avx512_vnni();
    return vnni_capable && torl_kernels_use_avx512();
}

int torl_kernels_use_avx_vnni(void) { return torl_kernels_path() == TORL_KERNELS_AVX_VNNI; }

int torl_kernels_use_neon_dot(void) { return torl_kernels_path() == TORL_KERNELS_NEON_DOT; }

void torl_quantize_q8(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs, float *xsum) {
#if TORL_HAVE_VNNI_PATH
    if (torl_kernels_use_avx512_vnni()) { quantize_q8_avx512(x, T, K, ldx, xq, ldq, xs, xsum); return; }
#endif
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) { torl_avx2_quantize_q8(x, T, K, ldx, xq, ldq, xs, xsum); return; }
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) { torl_neon_quantize_q8(x, T, K, ldx, xq, ldq, xs, xsum); return; }
#endif
    quantize_q8_portable(x, T, K, ldx, xq, ldq, xs, xsum);
}

void torl_linear_q8(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T, const uint8_t *packed,
                    const float *steps, const float *minimums, long N, long panel_begin, long panel_end, float *y,
                    long ldy, int acc) {
#if TORL_HAVE_VNNI_PATH
    if (torl_kernels_use_avx512_vnni()) {
        linear_q8_avx512(xq, ldq, xs, xsum, T, packed, steps, minimums, N, panel_begin, panel_end, y, ldy, acc);
        return;
    }
#endif
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) {
        torl_avx2_linear_q8(xq, ldq, xs, xsum, T, packed, steps, minimums, N, panel_begin, panel_end, y, ldy, acc,
                            torl_kernels_use_avx_vnni());
        return;
    }
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) {
        torl_neon_linear_q8(xq, ldq, xs, xsum, T, packed, steps, minimums, N, panel_begin, panel_end, y, ldy, acc,
                            torl_kernels_use_neon_dot());
        return;
    }
#endif
    linear_q8_portable(xq, ldq, xs, xsum, T, packed, steps, minimums, N, panel_begin, panel_end, y, ldy, acc);
}
