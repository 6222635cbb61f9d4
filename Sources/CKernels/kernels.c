#include "CKernels.h"
#include "kernels_avx2.h"
#include "kernels_neon.h"
#include "kernel_dispatch.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------------------------
// Portable implementations (also the reference the vector paths are tested against).

static inline float bf16_bits_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// y[t, 16 p + r] (+)= Σ_k x[t, k] · panel_p[k][r], k in order (the AVX-512 kernel's order per output).
static void linear_f32_packed_portable(const float *x, long ldx, long T, long K, const float *packed, long N,
                                       long p0, long p1, float *y, long ldy, int acc) {
    for (long p = p0; p < p1; p++)
        for (long r = 0; r < 16 && 16 * p + r < N; r++)
            for (long t = 0; t < T; t++) {
                float s = 0;
                for (long k = 0; k < K; k++) s = fmaf(packed[(p * K + k) * 16 + r], x[t * ldx + k], s);
                float *dst = y + t * ldy + 16 * p + r;
                *dst = acc ? *dst + s : s;
            }
}

// ---------------------------------------------------------------------------------------------------------------
// AVX-512 implementations. Compiled for AVX-512 through target attributes only, and called only when the CPU
// reports avx512f, so the rest of the binary stays baseline x86-64.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "panel_store.h"
#include "exp_polynomial.h"
#define TORL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define TORL_HAVE_AVX512_PATH 1

TORL_AVX512 static inline __m512 load_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

// f32 weights in panels of 16 rows (torl_pack_f32): one 64-byte load holds one k of 16 rows, one broadcast the
// same k of a token, one FMA per (panel, token) and k, and each accumulator lane is one output row. A block is
// P panels × TT tokens (4 × 6: 24 accumulators). At TT = 1 this streams the weights for decode: measured on one
// core from DRAM 25-27 GB/s against 17-19 for the row-major 4-row kernel it replaced; at 60-504 tokens 112-114
// GFLOP/s against OpenBLAS sgemm's 84-100 on the layer shapes.
#define DEFINE_F32_PANEL_BLOCK(NAME, P, TT)                                                                   \
TORL_AVX512 static void NAME(const float *x, long ldx, long K, const float *panels, float *y, long ldy,        \
                             long rowsLeft, int acc) {                                                        \
    __m512 s[P][TT];                                                                                          \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) s[p][t] = _mm512_setzero_ps();                   \
    for (long k = 0; k < K; k++) {                                                                            \
        __m512 wv[P];                                                                                         \
        for (int p = 0; p < P; p++) {                                                                         \
            const float *panel = panels + (long)p * K * 16;                                                   \
            _mm_prefetch((const char *)(panel + (k + 8) * 16), _MM_HINT_T0);                                  \
            wv[p] = _mm512_loadu_ps(panel + k * 16);                                                          \
        }                                                                                                     \
        for (int t = 0; t < TT; t++) {                                                                        \
            __m512 xv = _mm512_set1_ps(x[t * ldx + k]);                                                       \
            for (int p = 0; p < P; p++) s[p][t] = _mm512_fmadd_ps(wv[p], xv, s[p][t]);                        \
        }                                                                                                     \
    }                                                                                                         \
    TORL_STORE_PANEL_BLOCK(P, TT, s, y, ldy, rowsLeft, acc)                                                   \
}

// The register blocks DEFINE_PANEL_LINEAR runs (P panels × TT tokens), named PREFIX_PxTT.
#define DEFINE_PANEL_BLOCK_SHAPES(DEFINE, PREFIX)                                                             \
    DEFINE(PREFIX##_4x6, 4, 6) DEFINE(PREFIX##_4x4, 4, 4) DEFINE(PREFIX##_4x2, 4, 2)                         \
    DEFINE(PREFIX##_4x1, 4, 1) DEFINE(PREFIX##_1x6, 1, 6) DEFINE(PREFIX##_1x1, 1, 1)

DEFINE_PANEL_BLOCK_SHAPES(DEFINE_F32_PANEL_BLOCK, f32_block)

// Runs a panel kernel's register blocks over panels [p0, p1) and T tokens: 4 panels at a time, tokens in blocks of
// 6 and the rest in the largest blocks that fit (each block streams its panels once). `steps` is the kernel's
// K-loop length and PANEL the elements of one panel per step.
#define DEFINE_PANEL_LINEAR(NAME, ATTR, XTYPE, WTYPE, PANEL, B46, B44, B42, B41, B16, B11)                    \
ATTR static void NAME(const XTYPE *x, long ldx, long T, long steps, const WTYPE *packed, long N, long p0,    \
                      long p1, float *y, long ldy, int acc) {                                                 \
    long p = p0;                                                                                              \
    for (; p + 4 <= p1; p += 4) {                                                                             \
        const WTYPE *panels = packed + p * steps * PANEL;                                                     \
        long t = 0;                                                                                           \
        for (; t + 6 <= T; t += 6) B46(x + t * ldx, ldx, steps, panels, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
        if (t + 4 <= T) { B44(x + t * ldx, ldx, steps, panels, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); t += 4; } \
        if (t + 2 <= T) { B42(x + t * ldx, ldx, steps, panels, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); t += 2; } \
        for (; t < T; t++) B41(x + t * ldx, ldx, steps, panels, y + t * ldy + 16 * p, ldy, N - 16 * p, acc);    \
    }                                                                                                         \
    for (; p < p1; p++) {                                                                                     \
        const WTYPE *panels = packed + p * steps * PANEL;                                                     \
        long t = 0;                                                                                           \
        for (; t + 6 <= T; t += 6) B16(x + t * ldx, ldx, steps, panels, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
        for (; t < T; t++) B11(x + t * ldx, ldx, steps, panels, y + t * ldy + 16 * p, ldy, N - 16 * p, acc);    \
    }                                                                                                         \
}

DEFINE_PANEL_LINEAR(linear_f32_packed_avx512, TORL_AVX512, float, float, 16, f32_block_4x6, f32_block_4x4,
                    f32_block_4x2, f32_block_4x1, f32_block_1x6, f32_block_1x1)

// bf16 × bf16 products accumulated in f32 with AVX512_BF16 `vdpbf16ps` (32 multiply-adds per instruction, twice
// the f32 FMA rate) over weights packed in panels (see torl_pack_bf16): one 64-byte load holds a k-pair of 16
// rows, one 32-bit broadcast holds the same k-pair of a token, and each accumulator lane is one output row, so
// no horizontal sums are needed. A block is P panels (16 P rows) × TT tokens: 4 × 6 uses 24 accumulators.
#define TORL_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define DEFINE_PANEL_BLOCK(NAME, P, TT)                                                                       \
TORL_AVX512BF16 static void NAME(const uint16_t *x, long ldx, long Kp, const uint16_t *panels, float *y,     \
                                 long ldy, long rowsLeft, int acc) {                                          \
    __m512 s[P][TT];                                                                                          \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) s[p][t] = _mm512_setzero_ps();                   \
    for (long kp = 0; kp < Kp; kp++) {                                                                        \
        __m512bh wv[P];                                                                                       \
        for (int p = 0; p < P; p++) {                                                                         \
            const uint16_t *panel = panels + (long)p * Kp * 32;                                               \
            _mm_prefetch((const char *)(panel + (kp + 8) * 32), _MM_HINT_T0);                                 \
            wv[p] = (__m512bh)_mm512_loadu_si512(panel + kp * 32);                                            \
        }                                                                                                     \
        for (int t = 0; t < TT; t++) {                                                                        \
            int32_t pair;                                                                                     \
            memcpy(&pair, x + t * ldx + 2 * kp, 4);                                                           \
            __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);                                                  \
            for (int p = 0; p < P; p++) s[p][t] = _mm512_dpbf16_ps(s[p][t], wv[p], xv);                       \
        }                                                                                                     \
    }                                                                                                         \
    TORL_STORE_PANEL_BLOCK(P, TT, s, y, ldy, rowsLeft, acc)                                                   \
}

DEFINE_PANEL_BLOCK_SHAPES(DEFINE_PANEL_BLOCK, panel_block)

DEFINE_PANEL_LINEAR(linear_bf16_packed_avx512, TORL_AVX512BF16, uint16_t, uint16_t, 32, panel_block_4x6,
                    panel_block_4x4, panel_block_4x2, panel_block_4x1, panel_block_1x6, panel_block_1x1)

// exp(x) for the SwiGLU and GeGLU activations: x = n ln2 + r with ln2 split in two parts, Cephes' degree-6 polynomial
// for exp(r) (relative error about 1e-7), scaled by 2^n.
TORL_AVX512 static inline __m512 exp_avx512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(TORL_EXP_HIGHEST)), _mm512_set1_ps(TORL_EXP_LOWEST));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(TORL_EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(TORL_EXP_LN2_HIGH), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(TORL_EXP_LN2_LOW), r);
    __m512 p = _mm512_set1_ps(TORL_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TORL_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TORL_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TORL_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TORL_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TORL_EXP_P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// out = gate · up / (1 + exp(-a)): SwiGLU with a = gate, GeGLU (gelu = 1) with a = 2u, since
// g/2 · (1 + tanh u) = g / (1 + exp(-2u)).
TORL_AVX512 static void gated_unit_avx512(const float *gate, const float *up, float *out, long n, int gelu) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 g = load_f32(gate + i, m), u = load_f32(up + i, m), a = g;
        if (gelu) {
            __m512 cubic = _mm512_fmadd_ps(_mm512_mul_ps(g, g), _mm512_set1_ps(TORL_GELU_CUBIC), _mm512_set1_ps(1.0f));
            a = _mm512_mul_ps(_mm512_mul_ps(g, _mm512_set1_ps(2 * TORL_GELU_SQRT_2_OVER_PI)), cubic);
        }
        __m512 denominator = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), a)));
        _mm512_mask_storeu_ps(out + i, m, _mm512_div_ps(_mm512_mul_ps(g, u), denominator));
    }
}

// Cached keys and values are f32, or f16 (half the bytes that decode attention streams from memory; F16C widens
// 16 of them per instruction).
TORL_AVX512 static inline __m512 load_f16(const uint16_t *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

// scores: [L] ← exp(scores - max); returns 1 / Σ of them.
TORL_AVX512 static inline float softmax_unnormalized_avx512(float *scores, long L) {
    __m512 maxima = _mm512_set1_ps(-INFINITY);
    for (long j = 0; j < L; j += 16) {
        __mmask16 m = (L - j >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (L - j)) - 1);
        maxima = _mm512_mask_max_ps(maxima, m, maxima, _mm512_maskz_loadu_ps(m, scores + j));
    }
    __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(maxima));
    __m512 sum = _mm512_setzero_ps();
    for (long j = 0; j < L; j += 16) {
        __mmask16 m = (L - j >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (L - j)) - 1);
        __m512 e = _mm512_maskz_mov_ps(m, exp_avx512(_mm512_sub_ps(load_f32(scores + j, m), shift)));
        _mm512_mask_storeu_ps(scores + j, m, e);
        sum = _mm512_add_ps(sum, e);
    }
    return 1.0f / _mm512_reduce_add_ps(sum);
}

// Cached rows are short (D elements) and a stride apart, so the hardware prefetcher ramps up late and the loops
// stall on each row's load (perf: half of the attention samples on the first use of a key). The loops prefetch the
// row this many keys ahead; prefetches never fault, so reading past the last row is harmless.
#define KV_PREFETCH_ROWS 8
TORL_AVX512 static inline void prefetch_row(const char *row, long bytes) {
    for (long b = 0; b < bytes; b += 64) _mm_prefetch(row + b, _MM_HINT_T0);
}

// G query heads that share one key/value head (grouped-query attention) against L cached rows: each cached row is
// loaded (and widened, for f16) once for all G heads. Scores are independent per key (the out-of-order core
// overlaps them); the weighted sum of values is accumulated in registers 64 dimensions at a time, one chain per
// head and 16 dimensions in key order. Every group size does exactly the same arithmetic per head, so a head's
// output does not depend on which heads share its call (decode splits heads across tasks by batch size and thread
// count: issue 11). q, out: [G, D]; scores: scratch [G, L]. KVTYPE/LOADKV: the cache element type.
#define DEFINE_ATTENTION_GROUP(NAME, KVTYPE, LOADKV, G)                                                       \
TORL_AVX512 static void NAME(const float *q, const KVTYPE *keys, const KVTYPE *values, long L, long D,        \
                             long stride, float scale, float *out, float *scores) {                           \
    for (long j = 0; j < L; j++) {                                                                            \
        const KVTYPE *k = keys + j * stride;                                                                  \
        prefetch_row((const char *)(k + KV_PREFETCH_ROWS * stride), D * (long)sizeof(KVTYPE));                \
        __m512 s[G];                                                                                          \
        for (int g = 0; g < G; g++) s[g] = _mm512_setzero_ps();                                               \
        for (long d = 0; d < D; d += 16) {                                                                    \
            __mmask16 m = (D - d >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (D - d)) - 1);               \
            __m512 kv = LOADKV(k + d, m);                                                                     \
            for (int g = 0; g < G; g++) s[g] = _mm512_fmadd_ps(load_f32(q + g * D + d, m), kv, s[g]);         \
        }                                                                                                     \
        for (int g = 0; g < G; g++) scores[g * L + j] = _mm512_reduce_add_ps(s[g]) * scale;                   \
    }                                                                                                         \
    __m512 inverse[G];                                                                                        \
    for (int g = 0; g < G; g++) inverse[g] = _mm512_set1_ps(softmax_unnormalized_avx512(scores + g * L, L));  \
    for (long d0 = 0; d0 < D; d0 += 64) {                                                                     \
        __m512 a[G][4];                                                                                       \
        __mmask16 m[4];                                                                                       \
        for (int c = 0; c < 4; c++) {                                                                         \
            long d = d0 + 16 * c;                                                                             \
            m[c] = d >= D ? 0 : (D - d >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (D - d)) - 1);         \
            for (int g = 0; g < G; g++) a[g][c] = _mm512_setzero_ps();                                        \
        }                                                                                                     \
        for (long j = 0; j < L; j++) {                                                                        \
            const KVTYPE *v = values + j * stride + d0;                                                       \
            prefetch_row((const char *)(v + KV_PREFETCH_ROWS * stride), 64 * (long)sizeof(KVTYPE));           \
            __m512 vv[4];                                                                                     \
            for (int c = 0; c < 4; c++) vv[c] = LOADKV(v + 16 * c, m[c]);                                     \
            for (int g = 0; g < G; g++) {                                                                     \
                __m512 p = _mm512_set1_ps(scores[g * L + j]);                                                 \
                for (int c = 0; c < 4; c++) a[g][c] = _mm512_fmadd_ps(p, vv[c], a[g][c]);                     \
            }                                                                                                 \
        }                                                                                                     \
        for (int g = 0; g < G; g++)                                                                           \
            for (int c = 0; c < 4; c++)                                                                       \
                _mm512_mask_storeu_ps(out + g * D + d0 + 16 * c, m[c], _mm512_mul_ps(a[g][c], inverse[g]));   \
    }                                                                                                         \
}

DEFINE_ATTENTION_GROUP(attention_1_f32_avx512, float, load_f32, 1)
DEFINE_ATTENTION_GROUP(attention_2_f32_avx512, float, load_f32, 2)
DEFINE_ATTENTION_GROUP(attention_3_f32_avx512, float, load_f32, 3)
DEFINE_ATTENTION_GROUP(attention_4_f32_avx512, float, load_f32, 4)
DEFINE_ATTENTION_GROUP(attention_1_f16_avx512, uint16_t, load_f16, 1)
DEFINE_ATTENTION_GROUP(attention_2_f16_avx512, uint16_t, load_f16, 2)
DEFINE_ATTENTION_GROUP(attention_3_f16_avx512, uint16_t, load_f16, 3)
DEFINE_ATTENTION_GROUP(attention_4_f16_avx512, uint16_t, load_f16, 4)

typedef void (*attention_group_f32)(const float *, const float *, const float *, long, long, long, float, float *, float *);
typedef void (*attention_group_f16)(const float *, const uint16_t *, const uint16_t *, long, long, long, float, float *, float *);
static const attention_group_f32 attention_groups_f32[TORL_ATTENTION_MAX_GROUP] = {
    attention_1_f32_avx512, attention_2_f32_avx512, attention_3_f32_avx512, attention_4_f32_avx512};
static const attention_group_f16 attention_groups_f16[TORL_ATTENTION_MAX_GROUP] = {
    attention_1_f16_avx512, attention_2_f16_avx512, attention_3_f16_avx512, attention_4_f16_avx512};

TORL_AVX512 static void f32_to_f16_avx512(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(dst + i, m, h);
    }
}

TORL_AVX512 static void f16_to_f32_avx512(const uint16_t *src, float *dst, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, load_f16(src + i, m));
    }
}

// RMSNorm of one row with the sum of squares in double precision (eight double lanes per half-vector), like the
// portable version, so both paths agree to rounding of the final products.
TORL_AVX512 static void rmsnorm_avx512(const float *x, const float *weight, float *out, long C, float epsilon) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (long c = 0; c < C; c += 16) {
        __mmask16 m = (C - c >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
        __m512 v = load_f32(x + c, m);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        s0 = _mm512_fmadd_pd(lo, lo, s0);
        s1 = _mm512_fmadd_pd(hi, hi, s1);
    }
    double sumOfSquares = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    __m512 scale = _mm512_set1_ps((float)(1.0 / sqrt(sumOfSquares / (double)C + (double)epsilon)));
    for (long c = 0; c < C; c += 16) {
        __mmask16 m = (C - c >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
        _mm512_mask_storeu_ps(out + c, m, _mm512_mul_ps(_mm512_mul_ps(load_f32(x + c, m), scale), load_f32(weight + c, m)));
    }
}

// Index of the largest value (the first on ties; NaN never wins): per-lane maxima and their indices, then the
// best lane, preferring the lowest index among equal maxima.
TORL_AVX512 static long argmax_avx512(const float *x, long n) {
    __m512 best = _mm512_set1_ps(-INFINITY);
    __m512i bestIndex = _mm512_set1_epi32(-1), index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        // Strictly greater keeps each lane's first maximum; the first value of a lane also replaces -inf.
        __mmask16 better = _mm512_mask_cmp_ps_mask(m, v, best, _CMP_GT_OQ) |
                           (_mm512_cmpeq_epi32_mask(bestIndex, _mm512_set1_epi32(-1)) & m & _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q));
        best = _mm512_mask_mov_ps(best, better, v);
        bestIndex = _mm512_mask_mov_epi32(bestIndex, better, index);
        index = _mm512_add_epi32(index, step);
    }
    float values[16];
    int32_t indices[16];
    _mm512_storeu_ps(values, best);
    _mm512_storeu_si512(indices, bestIndex);
    return torl_argmax_finish(values, indices, 16, x, n, n);
}

TORL_AVX512BF16 static void f32_to_bf16_avx512(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, h);
    }
}

static int detect_avx512_bf16(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

static int detect_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}
#else
#define TORL_HAVE_AVX512_PATH 0
static int detect_avx512(void) { return 0; }
static int detect_avx512_bf16(void) { return 0; }
#endif

// ---------------------------------------------------------------------------------------------------------------
// Dispatch. The path is a cached integer; -1 means not yet chosen (a benign race: every thread computes the same
// answer).

static int kernel_path = -1;
static int avx512_bf16_capable = -1;

static const char *const path_names[TORL_KERNELS_PATH_COUNT] = {"portable", "avx2", "avxvnni", "avx512", "neon", "neondot"};

const char *torl_kernels_path_name(int path) {
    return path >= 0 && path < TORL_KERNELS_PATH_COUNT ? path_names[path] : NULL;
}

int torl_kernels_path_named(const char *name) {
    for (int path = 0; path < TORL_KERNELS_PATH_COUNT; path++)
        if (name && strcmp(name, path_names[path]) == 0) return path;
    return -1;
}

int torl_kernels_path_available(int path) {
    switch (path) {
    case TORL_KERNELS_PORTABLE: return 1;
    case TORL_KERNELS_AVX2: return torl_avx2_detect();
    case TORL_KERNELS_AVX_VNNI: return torl_avx_vnni_detect();
    case TORL_KERNELS_AVX512: return detect_avx512();
    case TORL_KERNELS_NEON: return torl_neon_detect();
    case TORL_KERNELS_NEON_DOT: return torl_neon_detect() && torl_neon_dot_detect();
    default: return 0;
    }
}

int torl_kernels_requested_path(void) {
    const char *name = getenv("TORL_KERNELS");
    if (!name || !*name) return -1;
    int path = torl_kernels_path_named(name);
    return path < 0 ? -2 : path;
}

static int choose_path(void) {
    int requested = torl_kernels_requested_path();
    if (requested == -1) {
        for (int path = TORL_KERNELS_PATH_COUNT - 1; path > 0; path--)
            if (torl_kernels_path_available(path)) return path;
        return TORL_KERNELS_PORTABLE;
    }
    // Running other kernels than the ones asked for would make a comparison between paths silently wrong.
    if (requested == -2) {
        fprintf(stderr, "torl: TORL_KERNELS=%s names no kernel path (portable, avx2, avxvnni, avx512, neon, neondot)\n", getenv("TORL_KERNELS"));
        exit(2);
    }
    if (!torl_kernels_path_available(requested)) {
        fprintf(stderr, "torl: TORL_KERNELS=%s: this CPU lacks the instructions of that kernel path\n", path_names[requested]);
        exit(2);
    }
    return requested;
}

int torl_kernels_path(void) {
    if (kernel_path < 0) kernel_path = choose_path();
    return kernel_path;
}

int torl_kernels_select_path(int path) {
    if (!torl_kernels_path_available(path)) return -1;
    kernel_path = path;
    return 0;
}

int torl_kernels_use_avx512(void) { return torl_kernels_path() == TORL_KERNELS_AVX512; }

int torl_kernels_use_avx512_bf16(void) {
    if (avx512_bf16_capable < 0) avx512_bf16_capable = detect_avx512_bf16();
    return avx512_bf16_capable && torl_kernels_use_avx512();
}


long torl_bf16_packed_count(long N, long K) { return ((N + 15) / 16) * ((K + 1) / 2) * 32; }

void torl_pack_bf16(const uint16_t *w, long N, long K, uint16_t *packed) {
    long Kp = (K + 1) / 2, panels = (N + 15) / 16;
    for (long p = 0; p < panels; p++)
        for (long kp = 0; kp < Kp; kp++)
            for (long r = 0; r < 16; r++)
                for (long j = 0; j < 2; j++) {
                    long n = 16 * p + r, k = 2 * kp + j;
                    packed[((p * Kp + kp) * 16 + r) * 2 + j] = (n < N && k < K) ? w[n * K + k] : 0;
                }
}

static void linear_bf16_packed_portable(const uint16_t *x, long ldx, long T, long Kp, const uint16_t *packed,
                                        long N, long p0, long p1, float *y, long ldy, int acc) {
    for (long p = p0; p < p1; p++)
        for (long r = 0; r < 16 && 16 * p + r < N; r++)
            for (long t = 0; t < T; t++) {
                float s = 0;
                for (long kp = 0; kp < Kp; kp++) {
                    const uint16_t *pair = packed + ((p * Kp + kp) * 16 + r) * 2;
                    s += bf16_bits_to_f32(pair[0]) * bf16_bits_to_f32(x[t * ldx + 2 * kp]) +
                         bf16_bits_to_f32(pair[1]) * bf16_bits_to_f32(x[t * ldx + 2 * kp + 1]);
                }
                float *dst = y + t * ldy + 16 * p + r;
                *dst = acc ? *dst + s : s;
            }
}

void torl_linear_bf16_packed(const uint16_t *x, long ldx, long T, long K, const uint16_t *packed, long N,
                             long panel_begin, long panel_end, float *y, long ldy, int acc) {
    long Kp = (K + 1) / 2;
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512_bf16()) {
        linear_bf16_packed_avx512(x, ldx, T, Kp, packed, N, panel_begin, panel_end, y, ldy, acc);
        return;
    }
#endif
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) { torl_avx2_linear_bf16_packed(x, ldx, T, Kp, packed, N, panel_begin, panel_end, y, ldy, acc); return; }
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) { torl_neon_linear_bf16_packed(x, ldx, T, Kp, packed, N, panel_begin, panel_end, y, ldy, acc); return; }
#endif
    linear_bf16_packed_portable(x, ldx, T, Kp, packed, N, panel_begin, panel_end, y, ldy, acc);
}

long torl_f32_packed_count(long N, long K) { return ((N + 15) / 16) * K * 16; }

void torl_pack_f32(const float *w, long N, long K, float *packed) {
    long panels = (N + 15) / 16;
    for (long p = 0; p < panels; p++)
        for (long k = 0; k < K; k++)
            for (long r = 0; r < 16; r++) {
                long n = 16 * p + r;
                packed[(p * K + k) * 16 + r] = n < N ? w[n * K + k] : 0;
            }
}

void torl_linear_f32_packed(const float *x, long ldx, long T, long K, const float *packed, long N, long panel_begin,
                            long panel_end, float *y, long ldy, int acc) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) {
        linear_f32_packed_avx512(x, ldx, T, K, packed, N, panel_begin, panel_end, y, ldy, acc);
        return;
    }
#endif
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) { torl_avx2_linear_f32_packed(x, ldx, T, K, packed, N, panel_begin, panel_end, y, ldy, acc); return; }
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) { torl_neon_linear_f32_packed(x, ldx, T, K, packed, N, panel_begin, panel_end, y, ldy, acc); return; }
#endif
    linear_f32_packed_portable(x, ldx, T, K, packed, N, panel_begin, panel_end, y, ldy, acc);
}

// Portable IEEE half conversions: exact widening (subnormals, infinities, NaN), narrowing rounded to nearest even.
static float f16_bits_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
    if (exponent == 0) {
        float magnitude = (float)mantissa * (1.0f / 16777216.0f);  // mantissa · 2^-24, exact
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) bits = sign | 0x7F800000u | (mantissa << 13);
    else bits = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t f32_to_f16_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude >= 0x7F800000u) return sign | (magnitude > 0x7F800000u ? 0x7E00u : 0x7C00u);  // NaN stays NaN
    if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // rounds past 65504: infinity
    if (magnitude < 0x38800000u) {
        // Below the smallest normal half (2^-14): a subnormal, mantissa · 2^-24 rounded to nearest even.
        float scaled = fabsf(value) * 16777216.0f;
        return sign | (uint16_t)nearbyintf(scaled);
    }
    uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return sign | (uint16_t)((rounded - 0x38000000u) >> 13);
}

static inline float kv_element(const void *base, long index, int format) {
    return format == TORL_KV_F16 ? f16_bits_to_f32(((const uint16_t *)base)[index]) : ((const float *)base)[index];
}

void torl_attention_heads(const float *q, long G, const void *keys, const void *values, long L, long D, long stride,
                          int kv_format, float scale, float *out, float *scores) {
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) {
        if (kv_format == TORL_KV_F16) torl_avx2_attention_f16(q, G, keys, values, L, D, stride, scale, out, scores);
        else torl_avx2_attention_f32(q, G, keys, values, L, D, stride, scale, out, scores);
        return;
    }
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) {
        if (kv_format == TORL_KV_F16) torl_neon_attention_f16(q, G, keys, values, L, D, stride, scale, out, scores);
        else torl_neon_attention_f32(q, G, keys, values, L, D, stride, scale, out, scores);
        return;
    }
#endif
    for (long g0 = 0; g0 < G; g0 += TORL_ATTENTION_MAX_GROUP) {
        long heads = G - g0 < TORL_ATTENTION_MAX_GROUP ? G - g0 : TORL_ATTENTION_MAX_GROUP;
        const float *qg = q + g0 * D;
        float *og = out + g0 * D;
#if TORL_HAVE_AVX512_PATH
        if (torl_kernels_use_avx512()) {
            if (kv_format == TORL_KV_F16)
                attention_groups_f16[heads - 1](qg, keys, values, L, D, stride, scale, og, scores);
            else
                attention_groups_f32[heads - 1](qg, keys, values, L, D, stride, scale, og, scores);
            continue;
        }
#endif
        for (long h = 0; h < heads; h++) {
            const float *qh = qg + h * D;
            float *oh = og + h * D;
            float maximum = -INFINITY;
            for (long j = 0; j < L; j++) {
                float s = 0;
                for (long d = 0; d < D; d++) s += qh[d] * kv_element(keys, j * stride + d, kv_format);
                scores[j] = s * scale;
                if (scores[j] > maximum) maximum = scores[j];
            }
            float sum = 0;
            for (long j = 0; j < L; j++) { scores[j] = expf(scores[j] - maximum); sum += scores[j]; }
            for (long d = 0; d < D; d++) oh[d] = 0;
            for (long j = 0; j < L; j++) {
                float p = scores[j] / sum;
                for (long d = 0; d < D; d++) oh[d] += p * kv_element(values, j * stride + d, kv_format);
            }
        }
    }
}

void torl_f32_to_f16(const float *src, uint16_t *dst, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { f32_to_f16_avx512(src, dst, n); return; }
#endif
    long i = 0;
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) i = torl_avx2_f32_to_f16(src, dst, n);
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) i = torl_neon_f32_to_f16(src, dst, n);
#endif
    for (; i < n; i++) dst[i] = f32_to_f16_bits(src[i]);
}

void torl_f16_to_f32(const uint16_t *src, float *dst, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { f16_to_f32_avx512(src, dst, n); return; }
#endif
    long i = 0;
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) i = torl_avx2_f16_to_f32(src, dst, n);
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) i = torl_neon_f16_to_f32(src, dst, n);
#endif
    for (; i < n; i++) dst[i] = f16_bits_to_f32(src[i]);
}

void torl_rmsnorm(const float *x, const float *weight, float *out, long T, long C, float epsilon) {
    for (long t = 0; t < T; t++) {
#if TORL_HAVE_AVX512_PATH
        if (torl_kernels_use_avx512()) { rmsnorm_avx512(x + t * C, weight, out + t * C, C, epsilon); continue; }
#endif
#if TORL_HAVE_AVX2_PATH
        if (use_avx2()) { torl_avx2_rmsnorm_row(x + t * C, weight, out + t * C, C, epsilon); continue; }
#endif
#if TORL_HAVE_NEON_PATH
        if (use_neon()) { torl_neon_rmsnorm_row(x + t * C, weight, out + t * C, C, epsilon); continue; }
#endif
        // Double accumulation: C-long sums of squares lose digits in f32.
        double sumOfSquares = 0;
        for (long c = 0; c < C; c++) sumOfSquares += (double)x[t * C + c] * (double)x[t * C + c];
        float scale = (float)(1.0 / sqrt(sumOfSquares / (double)C + (double)epsilon));
        for (long c = 0; c < C; c++) out[t * C + c] = x[t * C + c] * scale * weight[c];
    }
}

long torl_argmax(const float *x, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) return argmax_avx512(x, n);
#endif
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) return torl_avx2_argmax(x, n);
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) return torl_neon_argmax(x, n);
#endif
    return torl_argmax_finish(NULL, NULL, 0, x, 0, n);
}

// The vector gated units (all of n on AVX-512; the multiple of their width on AVX2 and NEON): how many they did.
static long gated_unit_vector(const float *gate, const float *up, float *out, long n, int gelu) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { gated_unit_avx512(gate, up, out, n, gelu); return n; }
#endif
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) return torl_avx2_gated_unit(gate, up, out, n, gelu);
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) return torl_neon_gated_unit(gate, up, out, n, gelu);
#endif
    (void)gate; (void)up; (void)out; (void)n; (void)gelu;
    return 0;
}

void torl_swiglu(const float *gate, const float *up, float *out, long n) {
    for (long i = gated_unit_vector(gate, up, out, n, 0); i < n; i++) out[i] = gate[i] * up[i] / (1.0f + expf(-gate[i]));
}

void torl_geglu(const float *gate, const float *up, float *out, long n) {
    for (long i = gated_unit_vector(gate, up, out, n, 1); i < n; i++) {
        float g = gate[i], u = TORL_GELU_SQRT_2_OVER_PI * g * (1 + TORL_GELU_CUBIC * g * g);
        out[i] = 0.5f * g * (1 + tanhf(u)) * up[i];
    }
}

void torl_f32_to_bf16(const float *src, uint16_t *dst, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512_bf16()) { f32_to_bf16_avx512(src, dst, n); return; }
#endif
    long i = 0;
#if TORL_HAVE_AVX2_PATH
    if (use_avx2()) i = torl_avx2_f32_to_bf16(src, dst, n);
#endif
#if TORL_HAVE_NEON_PATH
    if (use_neon()) i = torl_neon_f32_to_bf16(src, dst, n);
#endif
    for (; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0) {
            dst[i] = (uint16_t)((bits >> 16) | 0x0040u);  // quiet NaN, keeps the sign
        } else {
            uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
            dst[i] = (uint16_t)((bits + rounding) >> 16);
        }
    }
}

void torl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
