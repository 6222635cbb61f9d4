#include "CKernels.h"
#include <string.h>

// ---------------------------------------------------------------------------------------------------------------
// Portable implementations (also the reference the AVX-512 paths are tested against).

static inline float bf16_bits_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float dot_portable(const float *a, const float *b, long n) {
    // Four partial sums: lets the compiler use SIMD lanes and shortens the dependency chain.
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static void linear_f32_portable(const float *x, long T, long K, const float *w, long n0, long n1,
                                float *y, long ldy, int acc) {
    for (long t = 0; t < T; t++)
        for (long n = n0; n < n1; n++) {
            float s = dot_portable(x + t * K, w + n * K, K);
            y[t * ldy + n] = acc ? y[t * ldy + n] + s : s;
        }
}

static void linear_bf16_portable(const float *x, long T, long K, const uint16_t *w, long n0, long n1,
                                 float *y, long ldy, int acc) {
    for (long t = 0; t < T; t++)
        for (long n = n0; n < n1; n++) {
            const uint16_t *row = w + n * K;
            const float *xr = x + t * K;
            float s0 = 0, s1 = 0;
            long k = 0;
            for (; k + 2 <= K; k += 2) { s0 += xr[k] * bf16_bits_to_f32(row[k]); s1 += xr[k + 1] * bf16_bits_to_f32(row[k + 1]); }
            for (; k < K; k++) s0 += xr[k] * bf16_bits_to_f32(row[k]);
            float s = s0 + s1;
            y[t * ldy + n] = acc ? y[t * ldy + n] + s : s;
        }
}

// ---------------------------------------------------------------------------------------------------------------
// AVX-512 implementations. Compiled for AVX-512 through target attributes only, and called only when the CPU
// reports avx512f, so the rest of the binary stays baseline x86-64.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define TORL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define TORL_HAVE_AVX512_PATH 1

TORL_AVX512 static inline __m512 load_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
TORL_AVX512 static inline __m512 load_bf16(const uint16_t *p, __mmask16 m) {
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// One block: ROWS weight rows against TOKENS activation rows, K in 16-lane steps with a masked tail.
// The weight vectors are loaded once per step and reused across the tokens: at TOKENS = 1 this is the
// bandwidth-bound GEMV of decode, at 4 it reuses each weight load four times for batched decode.
#define DEFINE_BLOCK(NAME, WTYPE, LOADW, ROWS, TOKENS)                                                        \
TORL_AVX512 static void NAME(const float *x, long K, const WTYPE *w, float *y, long ldy, int acc) {           \
    __m512 s[ROWS][TOKENS];                                                                                   \
    for (int r = 0; r < ROWS; r++) for (int t = 0; t < TOKENS; t++) s[r][t] = _mm512_setzero_ps();            \
    for (long k = 0; k < K; k += 16) {                                                                        \
        __mmask16 m = (K - k >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);                   \
        __m512 wv[ROWS];                                                                                      \
        for (int r = 0; r < ROWS; r++) wv[r] = LOADW(w + r * K + k, m);                                       \
        for (int t = 0; t < TOKENS; t++) {                                                                    \
            __m512 xv = load_f32(x + t * K + k, m);                                                           \
            for (int r = 0; r < ROWS; r++) s[r][t] = _mm512_fmadd_ps(wv[r], xv, s[r][t]);                     \
        }                                                                                                     \
    }                                                                                                         \
    for (int t = 0; t < TOKENS; t++)                                                                          \
        for (int r = 0; r < ROWS; r++) {                                                                      \
            float v = _mm512_reduce_add_ps(s[r][t]);                                                          \
            y[t * ldy + r] = acc ? y[t * ldy + r] + v : v;                                                    \
        }                                                                                                     \
}

DEFINE_BLOCK(block_f32_4x4, float, load_f32, 4, 4)
DEFINE_BLOCK(block_f32_4x1, float, load_f32, 4, 1)
DEFINE_BLOCK(block_f32_1x1, float, load_f32, 1, 1)
DEFINE_BLOCK(block_bf16_4x4, uint16_t, load_bf16, 4, 4)
DEFINE_BLOCK(block_bf16_4x1, uint16_t, load_bf16, 4, 1)
DEFINE_BLOCK(block_bf16_1x1, uint16_t, load_bf16, 1, 1)

// Token blocks of 4 run inside each group of 4 weight rows, so those rows (4 x K) stay in L1 while every token
// of the batch passes over them.
#define DEFINE_LINEAR(NAME, WTYPE, B44, B41, B11)                                                             \
TORL_AVX512 static void NAME(const float *x, long T, long K, const WTYPE *w, long n0, long n1,                 \
                             float *y, long ldy, int acc) {                                                   \
    long n = n0;                                                                                              \
    for (; n + 4 <= n1; n += 4) {                                                                             \
        long t = 0;                                                                                           \
        for (; t + 4 <= T; t += 4) B44(x + t * K, K, w + n * K, y + t * ldy + n, ldy, acc);                   \
        for (; t < T; t++) B41(x + t * K, K, w + n * K, y + t * ldy + n, ldy, acc);                           \
    }                                                                                                         \
    for (; n < n1; n++)                                                                                       \
        for (long t = 0; t < T; t++) B11(x + t * K, K, w + n * K, y + t * ldy + n, ldy, acc);                 \
}

DEFINE_LINEAR(linear_f32_avx512, float, block_f32_4x4, block_f32_4x1, block_f32_1x1)
DEFINE_LINEAR(linear_bf16_avx512, uint16_t, block_bf16_4x4, block_bf16_4x1, block_bf16_1x1)

TORL_AVX512 static float dot_avx512(const float *a, const float *b, long n) {
    __m512 s = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        s = _mm512_fmadd_ps(load_f32(a + i, m), load_f32(b + i, m), s);
    }
    return _mm512_reduce_add_ps(s);
}

TORL_AVX512 static void axpy_avx512(float alpha, const float *x, float *y, long n) {
    __m512 a = _mm512_set1_ps(alpha);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(a, load_f32(x + i, m), load_f32(y + i, m)));
    }
}

TORL_AVX512 static void bf16_to_f32_avx512(const uint16_t *src, float *dst, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = (n - i >= 16) ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, load_bf16(src + i, m));
    }
}

static int detect_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}
#else
#define TORL_HAVE_AVX512_PATH 0
static int detect_avx512(void) { return 0; }
#endif

// ---------------------------------------------------------------------------------------------------------------
// Dispatch. The check is a cached integer; -1 means not yet detected (a benign race: every thread computes the
// same answer).

static int avx512_state = -1;

int torl_kernels_use_avx512(void) {
    if (avx512_state < 0) avx512_state = detect_avx512();
    return avx512_state;
}

void torl_kernels_enable_avx512(int enabled) { avx512_state = enabled ? detect_avx512() : 0; }

void torl_linear_f32(const float *x, long T, long K, const float *w, long n0, long n1, float *y, long ldy, int acc) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { linear_f32_avx512(x, T, K, w, n0, n1, y, ldy, acc); return; }
#endif
    linear_f32_portable(x, T, K, w, n0, n1, y, ldy, acc);
}

void torl_linear_bf16(const float *x, long T, long K, const uint16_t *w, long n0, long n1, float *y, long ldy, int acc) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { linear_bf16_avx512(x, T, K, w, n0, n1, y, ldy, acc); return; }
#endif
    linear_bf16_portable(x, T, K, w, n0, n1, y, ldy, acc);
}

float torl_dot(const float *a, const float *b, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) return dot_avx512(a, b, n);
#endif
    return dot_portable(a, b, n);
}

void torl_axpy(float alpha, const float *x, float *y, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { axpy_avx512(alpha, x, y, n); return; }
#endif
    for (long i = 0; i < n; i++) y[i] += alpha * x[i];
}

void torl_bf16_to_f32(const uint16_t *src, float *dst, long n) {
#if TORL_HAVE_AVX512_PATH
    if (torl_kernels_use_avx512()) { bf16_to_f32_avx512(src, dst, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = bf16_bits_to_f32(src[i]);
}

void torl_f32_to_bf16(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i++) {
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
#endif
}
