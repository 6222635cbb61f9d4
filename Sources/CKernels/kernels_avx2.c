// The AVX2 path: AVX2 + FMA + F16C (every x86-64 since 2013), with AVX-VNNI for the int8 code sums where the CPU
// has it. Compiled through target attributes only and called only when the CPU reports the features, so the
// package still builds for baseline x86-64. Every kernel here does the arithmetic of the portable one in the same
// order (per output: FMAs in k order; int8: exact int32 code sums, then the same f32 epilogue), so both paths give
// bit-identical results.
#include "kernels_avx2.h"
#if TORL_HAVE_AVX2_PATH
#include <immintrin.h>
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

// f32 panels (torl_pack_f32): one k of a panel is two 8-row registers; P panels × TT tokens of accumulators
// (at most 12 of the 16 registers).
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
DEFINE_F32_BLOCK(f32_block_1x6, 1, 6)
DEFINE_F32_BLOCK(f32_block_1x1, 1, 1)
DEFINE_BF16_BLOCK(bf16_block_2x1, 2, 1)
DEFINE_BF16_BLOCK(bf16_block_1x4, 1, 4)
DEFINE_BF16_BLOCK(bf16_block_1x1, 1, 1)

// Runs a kernel's register blocks over panels [p0, p1) and T tokens: token blocks of TB over every panel (the
// tokens stay in L1 while the panels stream), then the remaining tokens one at a time over groups of PB panels.
#define DEFINE_PANEL_DRIVER(NAME, XTYPE, WTYPE, PANEL, TB, BIG, PB, SMALL, ONE)                               \
TORL_AVX2 static void NAME(const XTYPE *x, long ldx, long T, long steps, const WTYPE *packed, long N, long p0,  \
                           long p1, float *y, long ldy, int acc) {                                            \
    long t = 0;                                                                                               \
    for (; t + TB <= T; t += TB)                                                                              \
        for (long p = p0; p < p1; p++)                                                                        \
            BIG(x + t * ldx, ldx, steps, packed + p * steps * PANEL, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
    for (; t < T; t++) {                                                                                      \
        long p = p0;                                                                                          \
        for (; p + PB <= p1; p += PB)                                                                         \
            SMALL(x + t * ldx, ldx, steps, packed + p * steps * PANEL, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
        for (; p < p1; p++)                                                                                   \
            ONE(x + t * ldx, ldx, steps, packed + p * steps * PANEL, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
    }                                                                                                         \
}

DEFINE_PANEL_DRIVER(linear_f32, float, float, 16, 6, f32_block_1x6, 4, f32_block_4x1, f32_block_1x1)
DEFINE_PANEL_DRIVER(linear_bf16, uint16_t, uint16_t, 32, 4, bf16_block_1x4, 2, bf16_block_2x1, bf16_block_1x1)

void torl_avx2_linear_f32_packed(const float *x, long ldx, long T, long K, const float *packed, long N, long p0,
                                 long p1, float *y, long ldy, int acc) {
    linear_f32(x, ldx, T, K, packed, N, p0, p1, y, ldy, acc);
}

void torl_avx2_linear_bf16_packed(const uint16_t *x, long ldx, long T, long Kp, const uint16_t *packed, long N,
                                  long p0, long p1, float *y, long ldy, int acc) {
    linear_bf16(x, ldx, T, Kp, packed, N, p0, p1, y, ldy, acc);
}

// int8 panels (torl_pack_q8): a k-quad of 8 rows is one register of 4 unsigned codes per row. Without AVX-VNNI
// the codes are widened to 16 bits in place (even and odd bytes) and summed with vpmaddwd: vpmaddubsw would
// saturate (255 · 127 · 2 > 32767) and change the sums. Either way the int32 sums are exact, so the f32 epilogue
// (the portable one's two FMAs per block) gives the portable result bit for bit.
#define Q8_QUADS_PER_BLOCK 8
#define DEFINE_Q8_BLOCK(NAME, ATTR, TT, VNNI)                                                                 \
ATTR static void NAME(const int8_t *xq, long ldq, const float *xs, const float *xsum, long blocks,            \
                      const uint8_t *panel, const float *steps, const float *minimums, float *y, long ldy,    \
                      long rowsLeft, int acc) {                                                               \
    const __m256i lowBytes = _mm256_set1_epi16(0x00FF);                                                       \
    __m256 f[1][TT][2];                                                                                       \
    for (int t = 0; t < TT; t++) f[0][t][0] = f[0][t][1] = _mm256_setzero_ps();                               \
    for (long b = 0; b < blocks; b++) {                                                                       \
        __m256i s[TT][2];                                                                                     \
        for (int t = 0; t < TT; t++) s[t][0] = s[t][1] = _mm256_setzero_si256();                              \
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
                    int32_t quad;                                                                             \
                    memcpy(&quad, xq + t * ldq + 4 * kq, 4);                                                  \
                    __m256i xv = _mm256_set1_epi32(quad);                                                     \
                    __m256i xEven = _mm256_srai_epi16(_mm256_slli_epi16(xv, 8), 8);                           \
                    __m256i xOdd = _mm256_srai_epi16(xv, 8);                                                  \
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
DEFINE_Q8_BLOCK(q8_block_2, TORL_AVX2, 2, 0)
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
            for (; t + 2 <= T; t += 2) q8_block_2(Q8_ARGS(p, t));
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
#endif
