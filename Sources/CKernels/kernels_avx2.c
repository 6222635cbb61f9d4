// The AVX2 path: AVX2 + FMA + F16C (every x86-64 since 2013), with AVX-VNNI for the int8 code sums where the CPU
// has it. Compiled through target attributes only and called only when the CPU reports the features, so the
// package still builds for baseline x86-64. Every kernel here does the arithmetic of the portable one in the same
// order (per output: FMAs in k order; int8: exact int32 code sums, then the same f32 epilogue), so both paths give
// bit-identical results.
#include "kernels_avx2.h"
#if TORL_HAVE_AVX2_PATH
#include <immintrin.h>
#include "panel_driver.h"
#include "q8_common.h"
#include "kernel_dispatch.h"
#include "exp_polynomial.h"
#include <math.h>
#include <string.h>

#define TORL_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TORL_AVX2_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

int torl_avx2_detect(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

int torl_avx_vnni_detect(void) {
    __builtin_cpu_init();
    return torl_avx2_detect() && __builtin_cpu_supports("avxvnni");
}

// One panel's 16 output rows of one token (two 8-lane registers) into dst, the first `rows` of them; with acc
// added to what dst holds (dst + s, as the portable code).
TORL_AVX2 static inline void store_panel_rows(float *dst, __m256 lo, __m256 hi, long rows, int acc) {
    if (rows >= 16) {
        if (acc) { lo = _mm256_add_ps(_mm256_loadu_ps(dst), lo); hi = _mm256_add_ps(_mm256_loadu_ps(dst + 8), hi); }
        _mm256_storeu_ps(dst, lo);
        _mm256_storeu_ps(dst + 8, hi);
        return;
    }
    float lanes[16];
    _mm256_storeu_ps(lanes, lo);
    _mm256_storeu_ps(lanes + 8, hi);
    for (long r = 0; r < rows; r++) dst[r] = acc ? dst[r] + lanes[r] : lanes[r];
}

#define STORE_BLOCK(P, TT, S)                                                                                 \
    for (int p = 0; p < P; p++) {                                                                             \
        long rows = rowsLeft - 16 * p;                                                                        \
        if (rows <= 0) break;                                                                                 \
        for (int t = 0; t < TT; t++) store_panel_rows(y + t * ldy + 16 * p, S[p][t][0], S[p][t][1], rows, acc); \
    }

// f32 panels (torl_pack_f32): one k of a panel is two 8-row registers; P panels × TT tokens of accumulators. The
// batched block is 1 panel × 5 tokens: 10 accumulators, 2 weight registers and a broadcast leave room, where 1 × 6
// (12 + 2 + 1 of the 16 registers) made clang spill an accumulator inside the k loop (best of 5 on the 576 → 1536
// layer, 128 tokens, one core: 68 GFLOP/s against 52; 2026-12-04, this Xeon under load).
#define DEFINE_F32_BLOCK(NAME, P, TT)                                                                         \
TORL_AVX2 static void NAME(const float *x, long ldx, long K, const float *panels, float *y, long ldy,          \
                           long rowsLeft, int acc) {                                                          \
    __m256 s[P][TT][2];                                                                                       \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) s[p][t][0] = s[p][t][1] = _mm256_setzero_ps();   \
    for (long k = 0; k < K; k++) {                                                                            \
        __m256 w[P][2];                                                                                       \
        for (int p = 0; p < P; p++) {                                                                         \
            const float *panel = panels + (long)p * K * 16 + k * 16;                                          \
            _mm_prefetch((const char *)(panel + 8 * 16), _MM_HINT_T0);                                        \
            w[p][0] = _mm256_loadu_ps(panel);                                                                 \
            w[p][1] = _mm256_loadu_ps(panel + 8);                                                             \
        }                                                                                                     \
        for (int t = 0; t < TT; t++) {                                                                        \
            __m256 xv = _mm256_broadcast_ss(x + t * ldx + k);                                                 \
            for (int p = 0; p < P; p++) {                                                                     \
                s[p][t][0] = _mm256_fmadd_ps(w[p][0], xv, s[p][t][0]);                                        \
                s[p][t][1] = _mm256_fmadd_ps(w[p][1], xv, s[p][t][1]);                                        \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    STORE_BLOCK(P, TT, s)                                                                                     \
}

// bf16 panels (torl_pack_bf16): a k-pair of 8 rows is one register of 32-bit (even k, odd k) pairs; shifting and
// masking widen them to f32 exactly. Per pair the portable code adds s + (w0·x0 + w1·x1): the bf16 products are
// exact in f32, so mul then fmadd rounds the pair sum once, as it does.
#define DEFINE_BF16_BLOCK(NAME, P, TT)                                                                        \
TORL_AVX2 static void NAME(const uint16_t *x, long ldx, long Kp, const uint16_t *panels, float *y, long ldy,  \
                           long rowsLeft, int acc) {                                                          \
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);                                                 \
    __m256 s[P][TT][2];                                                                                       \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) s[p][t][0] = s[p][t][1] = _mm256_setzero_ps();   \
    for (long kp = 0; kp < Kp; kp++) {                                                                        \
        __m256 even[P][2], odd[P][2];                                                                         \
        for (int p = 0; p < P; p++) {                                                                         \
            const uint16_t *panel = panels + (long)p * Kp * 32 + kp * 32;                                     \
            _mm_prefetch((const char *)(panel + 8 * 32), _MM_HINT_T0);                                        \
            for (int h = 0; h < 2; h++) {                                                                     \
                __m256i v = _mm256_loadu_si256((const __m256i *)(panel + 16 * h));                            \
                even[p][h] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));                                   \
                odd[p][h] = _mm256_castsi256_ps(_mm256_and_si256(v, high));                                   \
            }                                                                                                 \
        }                                                                                                     \
        for (int t = 0; t < TT; t++) {                                                                        \
            const uint16_t *pair = x + t * ldx + 2 * kp;                                                      \
            __m256 x0 = _mm256_castsi256_ps(_mm256_set1_epi32((int)((uint32_t)pair[0] << 16)));               \
            __m256 x1 = _mm256_castsi256_ps(_mm256_set1_epi32((int)((uint32_t)pair[1] << 16)));               \
            for (int p = 0; p < P; p++)                                                                       \
                for (int h = 0; h < 2; h++)                                                                   \
                    s[p][t][h] = _mm256_add_ps(s[p][t][h],                                                    \
                                               _mm256_fmadd_ps(odd[p][h], x1, _mm256_mul_ps(even[p][h], x0))); \
        }                                                                                                     \
    }                                                                                                         \
    STORE_BLOCK(P, TT, s)                                                                                     \
}

DEFINE_F32_BLOCK(f32_block_4x1, 4, 1)
DEFINE_F32_BLOCK(f32_block_1x5, 1, 5)
DEFINE_F32_BLOCK(f32_block_1x1, 1, 1)
DEFINE_BF16_BLOCK(bf16_block_2x1, 2, 1)
DEFINE_BF16_BLOCK(bf16_block_1x4, 1, 4)
DEFINE_BF16_BLOCK(bf16_block_1x1, 1, 1)

DEFINE_PANEL_DRIVER(torl_avx2_linear_f32_packed, TORL_AVX2, float, float, 16, 5, f32_block_1x5, 4, f32_block_4x1, f32_block_1x1)
DEFINE_PANEL_DRIVER(torl_avx2_linear_bf16_packed, TORL_AVX2, uint16_t, uint16_t, 32, 4, bf16_block_1x4, 2, bf16_block_2x1,
                    bf16_block_1x1)

// int8 panels (torl_pack_q8): a k-quad of 8 rows is one register of 4 unsigned codes per row. Without AVX-VNNI
// the codes are widened to 16 bits in place (even and odd bytes) and summed with vpmaddwd: vpmaddubsw would
// saturate (255 · 127 · 2 > 32767) and change the sums. The activation codes of a block are widened once per block
// and token into the int16 pairs (x0, x2), (x1, x3) of each quad, so the k loop only broadcasts them, and a block
// runs 3 tokens (the x registers this frees hold the third token's sums): on the 576 → 1536 layer, 128 tokens, one
// core, built by the Swift toolchain's clang, 47 GMAC/s against 38 for 2 tokens widened per k-quad in registers
// (2026-12-04, this Xeon under load). Either way the int32 sums are exact, so the f32 epilogue (the portable one's
// two FMAs per block) gives the portable result bit for bit.
#define DEFINE_Q8_BLOCK(NAME, ATTR, TT, VNNI)                                                                 \
ATTR static void NAME(const int8_t *xq, long ldq, const float *xs, const float *xsum, long blocks,            \
                      const uint8_t *panel, const float *steps, const float *minimums, float *y, long ldy,    \
                      long rowsLeft, int acc) {                                                               \
    const __m256i lowBytes = _mm256_set1_epi16(0x00FF);                                                       \
    const __m256i pairOrder = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15,          \
                                               0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15);         \
    __m256 f[1][TT][2];                                                                                       \
    for (int t = 0; t < TT; t++) f[0][t][0] = f[0][t][1] = _mm256_setzero_ps();                               \
    for (long b = 0; b < blocks; b++) {                                                                       \
        __m256i s[TT][2];                                                                                     \
        for (int t = 0; t < TT; t++) s[t][0] = s[t][1] = _mm256_setzero_si256();                              \
        /* x codes of this block as int16: per quad (x0, x2, x1, x3) (the widening blocks only) */            \
        int16_t pairs[TT][TORL_Q8_BLOCK];                                                                     \
        for (int t = 0; t < TT && !VNNI; t++)                                                                 \
            for (int half = 0; half < 2; half++) {                                                            \
                __m128i codes = _mm_loadu_si128((const __m128i *)(xq + t * ldq + b * TORL_Q8_BLOCK + 16 * half)); \
                _mm256_storeu_si256((__m256i *)(pairs[t] + 16 * half),                                        \
                                    _mm256_shuffle_epi8(_mm256_cvtepi8_epi16(codes), pairOrder));             \
            }                                                                                                 \
        for (long kq = b * Q8_QUADS_PER_BLOCK; kq < (b + 1) * Q8_QUADS_PER_BLOCK; kq++) {                     \
            __m256i w[2];                                                                                     \
            _mm_prefetch((const char *)(panel + (kq + 8) * 64), _MM_HINT_T0);                                 \
            w[0] = _mm256_loadu_si256((const __m256i *)(panel + kq * 64));                                    \
            w[1] = _mm256_loadu_si256((const __m256i *)(panel + kq * 64 + 32));                               \
            if (VNNI) {                                                                                       \
                for (int t = 0; t < TT; t++) {                                                                \
                    int32_t quad;                                                                             \
                    memcpy(&quad, xq + t * ldq + 4 * kq, 4);                                                  \
                    __m256i xv = _mm256_set1_epi32(quad);                                                     \
                    for (int h = 0; h < 2; h++) s[t][h] = Q8_DPBUSD(s[t][h], w[h], xv);                       \
                }                                                                                             \
            } else {                                                                                          \
                __m256i wEven[2], wOdd[2];                                                                    \
                for (int h = 0; h < 2; h++) {                                                                 \
                    wEven[h] = _mm256_and_si256(w[h], lowBytes);                                              \
                    wOdd[h] = _mm256_srli_epi16(w[h], 8);                                                     \
                }                                                                                             \
                for (int t = 0; t < TT; t++) {                                                                \
                    int32_t even, odd;                                                                        \
                    memcpy(&even, pairs[t] + 4 * (kq - b * Q8_QUADS_PER_BLOCK), 4);                           \
                    memcpy(&odd, pairs[t] + 4 * (kq - b * Q8_QUADS_PER_BLOCK) + 2, 4);                        \
                    __m256i xEven = _mm256_set1_epi32(even), xOdd = _mm256_set1_epi32(odd);                   \
                    for (int h = 0; h < 2; h++)                                                               \
                        s[t][h] = _mm256_add_epi32(s[t][h], _mm256_add_epi32(_mm256_madd_epi16(wEven[h], xEven), \
                                                                             _mm256_madd_epi16(wOdd[h], xOdd))); \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        for (int h = 0; h < 2; h++) {                                                                         \
            __m256 step = _mm256_loadu_ps(steps + b * 16 + 8 * h);                                            \
            __m256 minimum = _mm256_loadu_ps(minimums + b * 16 + 8 * h);                                      \
            for (int t = 0; t < TT; t++) {                                                                    \
                __m256 scale = _mm256_mul_ps(step, _mm256_set1_ps(xs[t * blocks + b]));                       \
                f[0][t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t][h]), scale, f[0][t][h]);                 \
                f[0][t][h] = _mm256_fmadd_ps(minimum, _mm256_set1_ps(xsum[t * blocks + b]), f[0][t][h]);      \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    STORE_BLOCK(1, TT, f)                                                                                     \
}

// _mm256_dpbusd_avx_epi32 exists only under the avxvnni target; the plain blocks never reach it.
#define Q8_DPBUSD(s, w, x) _mm256_dpbusd_avx_epi32(s, w, x)
DEFINE_Q8_BLOCK(q8_vnni_block_3, TORL_AVX2_VNNI, 3, 1)
DEFINE_Q8_BLOCK(q8_vnni_block_1, TORL_AVX2_VNNI, 1, 1)
#undef Q8_DPBUSD
#define Q8_DPBUSD(s, w, x) ((void)(x), (s))
DEFINE_Q8_BLOCK(q8_block_3, TORL_AVX2, 3, 0)
DEFINE_Q8_BLOCK(q8_block_1, TORL_AVX2, 1, 0)
#undef Q8_DPBUSD

void torl_avx2_linear_q8(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T,
                         const uint8_t *packed, const float *steps, const float *minimums, long N, long p0, long p1,
                         float *y, long ldy, int acc, int vnni) {
    const long Kq = ldq / 4, blocks = ldq / 32;
#define Q8_ARGS(P, T0) xq + (T0) * ldq, ldq, xs + (T0) * blocks, xsum + (T0) * blocks, blocks, packed + (P) * Kq * 64, \
                       steps + (P) * blocks * 16, minimums + (P) * blocks * 16, y + (T0) * ldy + 16 * (P), ldy,     \
                       N - 16 * (P), acc
    for (long p = p0; p < p1; p++) {
        long t = 0;
        if (vnni) {
            for (; t + 3 <= T; t += 3) q8_vnni_block_3(Q8_ARGS(p, t));
            for (; t < T; t++) q8_vnni_block_1(Q8_ARGS(p, t));
        } else {
            for (; t + 3 <= T; t += 3) q8_block_3(Q8_ARGS(p, t));
            for (; t < T; t++) q8_block_1(Q8_ARGS(p, t));
        }
    }
#undef Q8_ARGS
}

// F16C conversions, rounding to nearest even like the portable code.
TORL_AVX2 long torl_avx2_f32_to_f16(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    return i;
}

TORL_AVX2 long torl_avx2_f16_to_f32(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    return i;
}

TORL_AVX2 static inline float horizontal_sum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

TORL_AVX2 static inline __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }
TORL_AVX2 static inline __m256 load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
TORL_AVX2 static inline float element_f32(const float *p, long i) { return p[i]; }
TORL_AVX2 static inline float element_f16(const uint16_t *p, long i) { return _cvtsh_ss(p[i]); }

// Decode attention, one head at a time (a head's bits never depend on the heads that share the call): scores with
// 8-lane FMAs over the head dimension, softmax with expf as the portable loop, then the weighted values summed in
// registers 64 dimensions at a time, keys in order; dimensions past a multiple of 8 in scalar FMAs.
// q, out: [G, D]; keys, values: [L, D] at row stride `stride`; scores: scratch of L floats.
#define DEFINE_ATTENTION(NAME, KVTYPE, LOAD8, ELEMENT)                                                        \
TORL_AVX2 void NAME(const float *q, long G, const KVTYPE *keys, const KVTYPE *values, long L, long D,         \
                    long stride, float scale, float *out, float *scores) {                                    \
    const long D8 = D / 8 * 8;                                                                                \
    for (long h = 0; h < G; h++) {                                                                            \
        const float *qh = q + h * D;                                                                          \
        float *oh = out + h * D, maximum = -INFINITY;                                                         \
        for (long j = 0; j < L; j++) {                                                                        \
            const KVTYPE *k = keys + j * stride;                                                              \
            __m256 s = _mm256_setzero_ps();                                                                   \
            for (long d = 0; d < D8; d += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(qh + d), LOAD8(k + d), s);   \
            float dot = horizontal_sum(s);                                                                    \
            for (long d = D8; d < D; d++) dot = fmaf(qh[d], ELEMENT(k, d), dot);                              \
            scores[j] = dot * scale;                                                                          \
            if (scores[j] > maximum) maximum = scores[j];                                                     \
        }                                                                                                     \
        float sum = 0;                                                                                        \
        for (long j = 0; j < L; j++) { scores[j] = expf(scores[j] - maximum); sum += scores[j]; }             \
        const float inverse = 1.0f / sum;                                                                     \
        for (long d0 = 0; d0 < D8; d0 += 64) {                                                                \
            const int chunks = D8 - d0 >= 64 ? 8 : (int)((D8 - d0) / 8);                                      \
            __m256 a[8];                                                                                      \
            for (int c = 0; c < 8; c++) a[c] = _mm256_setzero_ps();                                           \
            for (long j = 0; j < L; j++) {                                                                    \
                const KVTYPE *v = values + j * stride + d0;                                                   \
                __m256 p = _mm256_set1_ps(scores[j]);                                                         \
                for (int c = 0; c < chunks; c++) a[c] = _mm256_fmadd_ps(p, LOAD8(v + 8 * c), a[c]);           \
            }                                                                                                 \
            for (int c = 0; c < chunks; c++) _mm256_storeu_ps(oh + d0 + 8 * c, _mm256_mul_ps(a[c], _mm256_set1_ps(inverse))); \
        }                                                                                                     \
        for (long d = D8; d < D; d++) {                                                                       \
            float total = 0;                                                                                  \
            for (long j = 0; j < L; j++) total = fmaf(scores[j], ELEMENT(values, j * stride + d), total);     \
            oh[d] = total * inverse;                                                                          \
        }                                                                                                     \
    }                                                                                                         \
}

DEFINE_ATTENTION(torl_avx2_attention_f32, float, load8_f32, element_f32)
DEFINE_ATTENTION(torl_avx2_attention_f16, uint16_t, load8_f16, element_f16)

// The small ops. The int8 quantizer, bf16 rounding and argmax are exact, so they give the portable bits; RMSNorm
// sums its squares (in double) in another order, SwiGLU evaluates exp by a polynomial: within the tolerances that
// Tests/CKernelsNative/kernel_paths_test.c states.

// The arithmetic of the portable quantizer 8 lanes at a time: the max is exact in any order, the reciprocal is the
// same division, vcvtps2dq rounds to nearest even (the default MXCSR mode, as nearbyintf) and the integer sum is
// exact.
TORL_AVX2 void torl_avx2_quantize_q8(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs,
                                     float *xsum) {
    const long blocks = ldq / TORL_Q8_BLOCK;
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256i byteOrder = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (long t = 0; t < T; t++)
        for (long b = 0; b < blocks; b++) {
            const long k0 = b * TORL_Q8_BLOCK;
            float padded[TORL_Q8_BLOCK];
            const float *src = torl_q8_whole_block(x + t * ldx, K, k0, padded);
            __m256 v[4], maxv = _mm256_setzero_ps();
            int nonFinite = 0;
            for (int i = 0; i < 4; i++) {
                v[i] = _mm256_loadu_ps(src + 8 * i);
                maxv = _mm256_max_ps(maxv, _mm256_and_ps(v[i], magnitude));
                // x · 0 is NaN exactly where x is NaN or ±inf.
                __m256 zeroed = _mm256_mul_ps(v[i], _mm256_setzero_ps());
                nonFinite |= _mm256_movemask_ps(_mm256_cmp_ps(zeroed, zeroed, _CMP_UNORD_Q));
            }
            float lanes[8];
            _mm256_storeu_ps(lanes, maxv);
            float maxAbs = 0;
            for (int i = 0; i < 8; i++) maxAbs = fmaxf(maxAbs, lanes[i]);
            const int finite = nonFinite == 0;
            const __m256 inverse = _mm256_set1_ps(finite ? torl_q8_reciprocal_or_zero(127.0f, maxAbs) : 0);
            __m256i q[4], sum = _mm256_setzero_si256();
            for (int i = 0; i < 4; i++) {
                q[i] = finite ? _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inverse)) : _mm256_setzero_si256();
                q[i] = _mm256_max_epi32(_mm256_min_epi32(q[i], _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
                sum = _mm256_add_epi32(sum, q[i]);
            }
            // packs interleave the 128-bit halves: dwords come out as q0a q1a q2a q3a | q0b q1b q2b q3b.
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(xq + t * ldq + k0), _mm256_permutevar8x32_epi32(bytes, byteOrder));
            __m128i half = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            half = _mm_add_epi32(half, _mm_shuffle_epi32(half, _MM_SHUFFLE(1, 0, 3, 2)));
            half = _mm_add_epi32(half, _mm_shuffle_epi32(half, _MM_SHUFFLE(2, 3, 0, 1)));
            const float scale = finite ? maxAbs / 127.0f : NAN;
            xs[t * blocks + b] = scale;
            xsum[t * blocks + b] = scale * (float)_mm_cvtsi128_si32(half);
        }
}

// bf16 rounding to nearest even in integer arithmetic, as the portable loop: NaN becomes a quiet NaN of its sign.
TORL_AVX2 static inline __m256i bf16_bits_avx2(__m256i bits) {
    const __m256i exponent = _mm256_set1_epi32(0x7F800000), mantissa = _mm256_set1_epi32(0x007FFFFF);
    __m256i rounding = _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1)));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, rounding), 16);
    __m256i quietNaN = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x0040));
    __m256i isNaN = _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(bits, mantissa), _mm256_setzero_si256()),
                                        _mm256_cmpeq_epi32(_mm256_and_si256(bits, exponent), exponent));
    return _mm256_blendv_epi8(rounded, quietNaN, isNaN);
}

TORL_AVX2 long torl_avx2_f32_to_bf16(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = bf16_bits_avx2(_mm256_loadu_si256((const __m256i *)(src + i)));
        __m256i b = bf16_bits_avx2(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
        // packus interleaves the 128-bit halves (a0-3 b0-3 | a4-7 b4-7); the permute restores the order.
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    return i;
}

// RMSNorm of one row with the sum of squares in double precision (two 4-lane double accumulators), like the
// portable version, so both paths agree to the rounding of the final scale.
TORL_AVX2 void torl_avx2_rmsnorm_row(const float *x, const float *weight, float *out, long C, float epsilon) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    long c = 0;
    for (; c + 8 <= C; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double sumOfSquares = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; c < C; c++) sumOfSquares += (double)x[c] * (double)x[c];
    const float scale = (float)(1.0 / sqrt(sumOfSquares / (double)C + (double)epsilon));
    const __m256 scales = _mm256_set1_ps(scale);
    c = 0;
    for (; c + 8 <= C; c += 8)
        _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), scales), _mm256_loadu_ps(weight + c)));
    for (; c < C; c++) out[c] = x[c] * scale * weight[c];
}

// Index of the largest value (the first on ties; NaN never wins): per-lane maxima and their indices, then the best
// lane, preferring the lowest index among equal maxima, then the tail.
TORL_AVX2 long torl_avx2_argmax(const float *x, long n) {
    __m256 best = _mm256_set1_ps(-INFINITY);
    __m256i bestIndex = _mm256_set1_epi32(-1), index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        // Strictly greater keeps each lane's first maximum; the first ordered value of a lane also replaces -inf.
        __m256 better = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                     _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(bestIndex, _mm256_set1_epi32(-1))),
                                                   _mm256_cmp_ps(v, v, _CMP_ORD_Q)));
        best = _mm256_blendv_ps(best, v, better);
        bestIndex = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bestIndex), _mm256_castsi256_ps(index), better));
        index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
    }
    float values[8];
    int32_t indices[8];
    _mm256_storeu_ps(values, best);
    _mm256_storeu_si256((__m256i *)indices, bestIndex);
    return torl_argmax_finish(values, indices, 8, x, i, n);
}

// exp(x) for the SwiGLU and GeGLU activations, as on AVX-512: x = n ln2 + r with ln2 split in two parts, Cephes' degree-6
// polynomial for exp(r) (relative error about 1e-7), scaled by 2^n through the exponent bits (n in -126...127).
TORL_AVX2 static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(TORL_EXP_HIGHEST)), _mm256_set1_ps(TORL_EXP_LOWEST));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(TORL_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(TORL_EXP_LN2_HIGH), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(TORL_EXP_LN2_LOW), r);
    __m256 p = _mm256_set1_ps(TORL_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TORL_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TORL_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TORL_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TORL_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TORL_EXP_P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i twoToN = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(twoToN));
}

TORL_AVX2 long torl_avx2_gated_unit(const float *gate, const float *up, float *out, long n, int gelu) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i), u = _mm256_loadu_ps(up + i), a = g;
        if (gelu) {
            __m256 cubic = _mm256_fmadd_ps(_mm256_mul_ps(g, g), _mm256_set1_ps(TORL_GELU_CUBIC), _mm256_set1_ps(1.0f));
            a = _mm256_mul_ps(_mm256_mul_ps(g, _mm256_set1_ps(2 * TORL_GELU_SQRT_2_OVER_PI)), cubic);
        }
        __m256 denominator = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), a)));
        _mm256_storeu_ps(out + i, _mm256_div_ps(_mm256_mul_ps(g, u), denominator));
    }
    return i;
}
#endif
