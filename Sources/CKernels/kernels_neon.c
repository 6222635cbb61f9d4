// The NEON path of aarch64: Advanced SIMD (mandatory on every aarch64 CPU), with the dot-product extension (`sdot`,
// Armv8.2 and later: Cortex-A55/A75 on, Graviton 2+, Ampere Altra, Apple M1+) for the int8 code sums where the CPU
// reports it. The dot-product kernels are compiled through a target attribute only and called only when
// HWCAP_ASIMDDP says so, so the package still builds and runs for plain armv8-a.
// As on the AVX2 path, the linear layers do the portable arithmetic in the portable order (per output: FMAs in k
// order; bf16: exact products, one rounding per k-pair; int8: exact int32 code sums, then the same f32 epilogue), and
// the int8 quantizer, the bf16 and f16 conversions and argmax are exact, so all of them give the portable bits.
// Attention, RMSNorm and SwiGLU sum or evaluate exp in another order than the portable loops: within a stated
// tolerance of them (Tests/CKernelsNative/kernel_paths_test.c).
#include "kernels_neon.h"
#if TORL_HAVE_NEON_PATH
#include <arm_neon.h>
#include <math.h>
#include <string.h>
#include "panel_driver.h"
#include "q8_common.h"
#include "kernel_dispatch.h"
#include "exp_polynomial.h"
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

// The plain kernels need nothing beyond the armv8-a baseline; the int8 dot-product ones the dotprod extension.
#define TORL_NEON
#if defined(__clang__)
#define TORL_NEON_DOT __attribute__((target("dotprod")))
#else
#define TORL_NEON_DOT __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

int torl_neon_detect(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
    return 1;
#endif
}

int torl_neon_dot_detect(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    int value = 0;
    size_t size = sizeof(value);
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) == 0 && value != 0;
#else
    return 0;
#endif
}

// One panel's 16 output rows of one token (four 4-lane registers) into dst, the first `rows` of them; with acc
// added to what dst holds (dst + s, as the portable code).
static inline void store_panel_rows(float *dst, const float32x4_t s[4], long rows, int acc) {
    if (rows >= 16) {
        for (int h = 0; h < 4; h++) vst1q_f32(dst + 4 * h, acc ? vaddq_f32(vld1q_f32(dst + 4 * h), s[h]) : s[h]);
        return;
    }
    float lanes[16];
    for (int h = 0; h < 4; h++) vst1q_f32(lanes + 4 * h, s[h]);
    for (long r = 0; r < rows; r++) dst[r] = acc ? dst[r] + lanes[r] : lanes[r];
}

#define STORE_BLOCK(P, TT, S)                                                                                 \
    for (int p = 0; p < P; p++) {                                                                             \
        long rows = rowsLeft - 16 * p;                                                                        \
        if (rows <= 0) break;                                                                                 \
        for (int t = 0; t < TT; t++) store_panel_rows(y + t * ldy + 16 * p, S[p][t], rows, acc);             \
    }

// f32 panels (torl_pack_f32): one k of a panel is four 4-row registers; each token's activations are loaded four k
// at a time and multiplied in by lane (`fmla v.4s, v.4s, v.s[lane]`), k still in order. P panels × TT tokens of
// accumulators: 1 × 4 and 4 × 1 use 16 of the 32 registers.
#define F32_LANE_STEP(P, TT, LANE)                                                                                 \
    for (int p = 0; p < P; p++) {                                                                             \
        const float *panel = panels + (long)p * K * 16 + (k + LANE) * 16;                                     \
        float32x4_t w[4];                                                                                     \
        for (int h = 0; h < 4; h++) w[h] = vld1q_f32(panel + 4 * h);                                          \
        for (int t = 0; t < TT; t++)                                                                          \
            for (int h = 0; h < 4; h++) s[p][t][h] = vfmaq_laneq_f32(s[p][t][h], w[h], xv[t], LANE);          \
    }
#define DEFINE_F32_BLOCK(NAME, P, TT)                                                                         \
TORL_NEON static void NAME(const float *x, long ldx, long K, const float *panels, float *y, long ldy,          \
                           long rowsLeft, int acc) {                                                          \
    float32x4_t s[P][TT][4];                                                                                  \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) for (int h = 0; h < 4; h++) s[p][t][h] = vdupq_n_f32(0); \
    long k = 0;                                                                                               \
    for (; k + 4 <= K; k += 4) {                                                                              \
        float32x4_t xv[TT];                                                                                   \
        for (int t = 0; t < TT; t++) xv[t] = vld1q_f32(x + t * ldx + k);                                      \
        F32_LANE_STEP(P, TT, 0) F32_LANE_STEP(P, TT, 1) F32_LANE_STEP(P, TT, 2) F32_LANE_STEP(P, TT, 3)                          \
    }                                                                                                         \
    for (; k < K; k++)                                                                                        \
        for (int p = 0; p < P; p++) {                                                                         \
            const float *panel = panels + (long)p * K * 16 + k * 16;                                          \
            for (int t = 0; t < TT; t++)                                                                      \
                for (int h = 0; h < 4; h++)                                                                   \
                    s[p][t][h] = vfmaq_n_f32(s[p][t][h], vld1q_f32(panel + 4 * h), x[t * ldx + k]);          \
        }                                                                                                     \
    STORE_BLOCK(P, TT, s)                                                                                     \
}

// bf16 panels (torl_pack_bf16): a k-pair of 4 rows is one register of 32-bit (even k, odd k) pairs; shifting and
// masking widen them to f32 exactly. Per pair the portable code adds s + (w0·x0 + w1·x1): the bf16 products are
// exact in f32, so mul then fma rounds the pair sum once, as it does.
#define DEFINE_BF16_BLOCK(NAME, P, TT)                                                                        \
TORL_NEON static void NAME(const uint16_t *x, long ldx, long Kp, const uint16_t *panels, float *y, long ldy,  \
                           long rowsLeft, int acc) {                                                          \
    const uint32x4_t high = vdupq_n_u32(0xFFFF0000u);                                                         \
    float32x4_t s[P][TT][4];                                                                                  \
    for (int p = 0; p < P; p++) for (int t = 0; t < TT; t++) for (int h = 0; h < 4; h++) s[p][t][h] = vdupq_n_f32(0); \
    for (long kp = 0; kp < Kp; kp++) {                                                                        \
        float32x4_t even[P][4], odd[P][4];                                                                    \
        for (int p = 0; p < P; p++) {                                                                         \
            const uint16_t *panel = panels + (long)p * Kp * 32 + kp * 32;                                     \
            for (int h = 0; h < 4; h++) {                                                                     \
                uint32x4_t v = vld1q_u32((const uint32_t *)(panel + 8 * h));                                  \
                even[p][h] = vreinterpretq_f32_u32(vshlq_n_u32(v, 16));                                       \
                odd[p][h] = vreinterpretq_f32_u32(vandq_u32(v, high));                                        \
            }                                                                                                 \
        }                                                                                                     \
        for (int t = 0; t < TT; t++) {                                                                        \
            const uint16_t *pair = x + t * ldx + 2 * kp;                                                      \
            float32x4_t x0 = vreinterpretq_f32_u32(vdupq_n_u32((uint32_t)pair[0] << 16));                     \
            float32x4_t x1 = vreinterpretq_f32_u32(vdupq_n_u32((uint32_t)pair[1] << 16));                     \
            for (int p = 0; p < P; p++)                                                                       \
                for (int h = 0; h < 4; h++)                                                                   \
                    s[p][t][h] = vaddq_f32(s[p][t][h], vfmaq_f32(vmulq_f32(even[p][h], x0), odd[p][h], x1));  \
        }                                                                                                     \
    }                                                                                                         \
    STORE_BLOCK(P, TT, s)                                                                                     \
}

DEFINE_F32_BLOCK(f32_block_1x4, 1, 4)
DEFINE_F32_BLOCK(f32_block_4x1, 4, 1)
DEFINE_F32_BLOCK(f32_block_1x1, 1, 1)
DEFINE_BF16_BLOCK(bf16_block_1x3, 1, 3)
DEFINE_BF16_BLOCK(bf16_block_2x1, 2, 1)
DEFINE_BF16_BLOCK(bf16_block_1x1, 1, 1)

DEFINE_PANEL_DRIVER(torl_neon_linear_f32_packed, TORL_NEON, float, float, 16, 4, f32_block_1x4, 4, f32_block_4x1, f32_block_1x1)
DEFINE_PANEL_DRIVER(torl_neon_linear_bf16_packed, TORL_NEON, uint16_t, uint16_t, 32, 3, bf16_block_1x3, 2, bf16_block_2x1,
                    bf16_block_1x1)

// int8 panels (torl_pack_q8): a k-quad of 4 rows is one 16-byte register of 4 unsigned codes per row. `sdot` only
// multiplies signed bytes, so the weight codes are flipped to q - 128 (xor 0x80) and 128 · Σ q_x of the block is
// added back: Σ q_w q_x = Σ (q_w - 128) q_x + 128 Σ q_x, exact in int32. Without the extension the codes are
// widened to 16 bits, multiplied (255 · 127 fits in int16) and pairwise added into int32 lanes (`sadalp`), two
// k per lane, the halves of a row summed at the end of the block. Either way the int32 sums are exact, so the f32
// epilogue (the portable one's two FMAs per block) gives the portable result bit for bit.
#define Q8_EPILOGUE(TT, S)                                                                                    \
    for (int h = 0; h < 4; h++) {                                                                             \
        float32x4_t step = vld1q_f32(steps + b * 16 + 4 * h), minimum = vld1q_f32(minimums + b * 16 + 4 * h); \
        for (int t = 0; t < TT; t++) {                                                                        \
            float32x4_t scale = vmulq_f32(step, vdupq_n_f32(xs[t * blocks + b]));                             \
            f[0][t][h] = vfmaq_f32(f[0][t][h], vcvtq_f32_s32(S[t][h]), scale);                                \
            f[0][t][h] = vfmaq_f32(f[0][t][h], minimum, vdupq_n_f32(xsum[t * blocks + b]));                   \
        }                                                                                                     \
    }

#define Q8_DOT_LANE_STEP(TT, LANE, HALF)                                                                      \
    {                                                                                                         \
        const long kq = b * Q8_QUADS_PER_BLOCK + 4 * (HALF) + (LANE);                                         \
        int8x16_t w[4];                                                                                       \
        for (int h = 0; h < 4; h++) w[h] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(panel + kq * 64 + 16 * h), flip)); \
        for (int t = 0; t < TT; t++)                                                                          \
            for (int h = 0; h < 4; h++) s[t][h] = vdotq_laneq_s32(s[t][h], w[h], xv[t][HALF], LANE);          \
    }
#define DEFINE_Q8_DOT_BLOCK(NAME, TT)                                                                         \
TORL_NEON_DOT static void NAME(const int8_t *xq, long ldq, const float *xs, const float *xsum, long blocks,   \
                               const uint8_t *panel, const float *steps, const float *minimums, float *y,     \
                               long ldy, long rowsLeft, int acc) {                                            \
    const uint8x16_t flip = vdupq_n_u8(0x80);                                                                 \
    float32x4_t f[1][TT][4];                                                                                  \
    for (int t = 0; t < TT; t++) for (int h = 0; h < 4; h++) f[0][t][h] = vdupq_n_f32(0);                     \
    for (long b = 0; b < blocks; b++) {                                                                       \
        int8x16_t xv[TT][2];                                                                                  \
        int32x4_t s[TT][4];                                                                                   \
        for (int t = 0; t < TT; t++) {                                                                        \
            xv[t][0] = vld1q_s8(xq + t * ldq + b * TORL_Q8_BLOCK);                                            \
            xv[t][1] = vld1q_s8(xq + t * ldq + b * TORL_Q8_BLOCK + 16);                                       \
            int32_t codeSum = vaddlvq_s8(xv[t][0]) + vaddlvq_s8(xv[t][1]);                                    \
            for (int h = 0; h < 4; h++) s[t][h] = vdupq_n_s32(128 * codeSum);                                 \
        }                                                                                                     \
        Q8_DOT_LANE_STEP(TT, 0, 0) Q8_DOT_LANE_STEP(TT, 1, 0) Q8_DOT_LANE_STEP(TT, 2, 0) Q8_DOT_LANE_STEP(TT, 3, 0) \
        Q8_DOT_LANE_STEP(TT, 0, 1) Q8_DOT_LANE_STEP(TT, 1, 1) Q8_DOT_LANE_STEP(TT, 2, 1) Q8_DOT_LANE_STEP(TT, 3, 1) \
        Q8_EPILOGUE(TT, s)                                                                                    \
    }                                                                                                         \
    STORE_BLOCK(1, TT, f)                                                                                     \
}

#define DEFINE_Q8_WIDENING_BLOCK(NAME, TT)                                                                    \
TORL_NEON static void NAME(const int8_t *xq, long ldq, const float *xs, const float *xsum, long blocks,       \
                           const uint8_t *panel, const float *steps, const float *minimums, float *y,         \
                           long ldy, long rowsLeft, int acc) {                                                \
    float32x4_t f[1][TT][4];                                                                                  \
    for (int t = 0; t < TT; t++) for (int h = 0; h < 4; h++) f[0][t][h] = vdupq_n_f32(0);                     \
    for (long b = 0; b < blocks; b++) {                                                                       \
        /* halves[t][h][0]: rows 4h, 4h+1 as (k0+k1, k2+k3) pairs; [1]: rows 4h+2, 4h+3. */                   \
        int32x4_t halves[TT][4][2];                                                                           \
        for (int t = 0; t < TT; t++)                                                                          \
            for (int h = 0; h < 4; h++) halves[t][h][0] = halves[t][h][1] = vdupq_n_s32(0);                   \
        for (long kq = b * Q8_QUADS_PER_BLOCK; kq < (b + 1) * Q8_QUADS_PER_BLOCK; kq++) {                     \
            int16x8_t w[4][2];                                                                                \
            for (int h = 0; h < 4; h++) {                                                                     \
                uint8x16_t v = vld1q_u8(panel + kq * 64 + 16 * h);                                            \
                w[h][0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));                                    \
                w[h][1] = vreinterpretq_s16_u16(vmovl_high_u8(v));                                            \
            }                                                                                                 \
            for (int t = 0; t < TT; t++) {                                                                    \
                int32_t quad;                                                                                 \
                memcpy(&quad, xq + t * ldq + 4 * kq, 4);                                                      \
                int16x8_t xw = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(quad)));                               \
                for (int h = 0; h < 4; h++)                                                                   \
                    for (int j = 0; j < 2; j++) halves[t][h][j] = vpadalq_s16(halves[t][h][j], vmulq_s16(w[h][j], xw)); \
            }                                                                                                 \
        }                                                                                                     \
        int32x4_t s[TT][4];                                                                                   \
        for (int t = 0; t < TT; t++)                                                                          \
            for (int h = 0; h < 4; h++) s[t][h] = vpaddq_s32(halves[t][h][0], halves[t][h][1]);               \
        Q8_EPILOGUE(TT, s)                                                                                    \
    }                                                                                                         \
    STORE_BLOCK(1, TT, f)                                                                                     \
}

DEFINE_Q8_DOT_BLOCK(q8_dot_block_2, 2)
DEFINE_Q8_DOT_BLOCK(q8_dot_block_1, 1)
DEFINE_Q8_WIDENING_BLOCK(q8_block_1, 1)

void torl_neon_linear_q8(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T,
                         const uint8_t *packed, const float *steps, const float *minimums, long N, long p0, long p1,
                         float *y, long ldy, int acc, int dot) {
    const long Kq = ldq / 4, blocks = ldq / TORL_Q8_BLOCK;
#define Q8_ARGS(P, T0) xq + (T0) * ldq, ldq, xs + (T0) * blocks, xsum + (T0) * blocks, blocks, packed + (P) * Kq * 64, \
                       steps + (P) * blocks * 16, minimums + (P) * blocks * 16, y + (T0) * ldy + 16 * (P), ldy,     \
                       N - 16 * (P), acc
    for (long p = p0; p < p1; p++) {
        long t = 0;
        if (dot) {
            for (; t + 2 <= T; t += 2) q8_dot_block_2(Q8_ARGS(p, t));
            for (; t < T; t++) q8_dot_block_1(Q8_ARGS(p, t));
        } else {
            for (; t < T; t++) q8_block_1(Q8_ARGS(p, t));
        }
    }
#undef Q8_ARGS
}

// The arithmetic of the portable quantizer 4 lanes at a time: the max is exact in any order, the reciprocal is the
// same division, `fcvtns` rounds to nearest even like nearbyintf and the integer sum is exact.
void torl_neon_quantize_q8(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs, float *xsum) {
    const long blocks = ldq / TORL_Q8_BLOCK;
    for (long t = 0; t < T; t++)
        for (long b = 0; b < blocks; b++) {
            const long k0 = b * TORL_Q8_BLOCK;
            float padded[TORL_Q8_BLOCK];
            const float *src = torl_q8_whole_block(x + t * ldx, K, k0, padded);
            float32x4_t v[TORL_Q8_BLOCK / 4], maxv = vdupq_n_f32(0);
            uint32x4_t finiteLanes = vdupq_n_u32(0xFFFFFFFFu);
            for (int i = 0; i < TORL_Q8_BLOCK / 4; i++) {
                v[i] = vld1q_f32(src + 4 * i);
                maxv = vmaxq_f32(maxv, vabsq_f32(v[i]));
                // x · 0 is NaN exactly where x is NaN or ±inf.
                float32x4_t zeroed = vmulq_f32(v[i], vdupq_n_f32(0));
                finiteLanes = vandq_u32(finiteLanes, vceqq_f32(zeroed, zeroed));
            }
            const int finite = vminvq_u32(finiteLanes) != 0;
            const float maxAbs = vmaxvq_f32(maxv);
            const float32x4_t inverse = vdupq_n_f32(finite ? torl_q8_reciprocal_or_zero(127.0f, maxAbs) : 0);
            int32x4_t sum = vdupq_n_s32(0);
            int8_t *codes = xq + t * ldq + k0;
            for (int i = 0; i < TORL_Q8_BLOCK / 4; i++) {
                int32x4_t q = finite ? vcvtnq_s32_f32(vmulq_f32(v[i], inverse)) : vdupq_n_s32(0);
                q = vmaxq_s32(vminq_s32(q, vdupq_n_s32(127)), vdupq_n_s32(-127));
                sum = vaddq_s32(sum, q);
                int8x8_t narrow = vmovn_s16(vcombine_s16(vmovn_s32(q), vdup_n_s16(0)));
                int32_t four = vget_lane_s32(vreinterpret_s32_s8(narrow), 0);
                memcpy(codes + 4 * i, &four, 4);
            }
            const float scale = finite ? maxAbs / 127.0f : NAN;
            xs[t * blocks + b] = scale;
            xsum[t * blocks + b] = scale * (float)vaddvq_s32(sum);
        }
}

// IEEE half conversions in hardware (`fcvtn`/`fcvtl`, part of the armv8-a baseline), rounding to nearest even like
// the portable code.
long torl_neon_f32_to_f16(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    return i;
}

long torl_neon_f16_to_f32(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
    return i;
}

// bf16 rounding to nearest even in integer arithmetic, as the portable loop: NaN becomes a quiet NaN of its sign.
long torl_neon_f32_to_bf16(const float *src, uint16_t *dst, long n) {
    long i = 0;
    const uint32x4_t exponent = vdupq_n_u32(0x7F800000u), mantissa = vdupq_n_u32(0x007FFFFFu);
    for (; i + 4 <= n; i += 4) {
        uint32x4_t bits = vld1q_u32((const uint32_t *)(src + i));
        uint32x4_t rounding = vaddq_u32(vdupq_n_u32(0x7FFFu), vandq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(1)));
        uint32x4_t rounded = vshrq_n_u32(vaddq_u32(bits, rounding), 16);
        uint32x4_t quietNaN = vorrq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(0x0040u));
        uint32x4_t isNaN = vandq_u32(vceqq_u32(vandq_u32(bits, exponent), exponent),
                                     vtstq_u32(bits, mantissa));
        vst1_u16(dst + i, vmovn_u32(vbslq_u32(isNaN, quietNaN, rounded)));
    }
    return i;
}

// RMSNorm of one row with the sum of squares in double precision (two double lanes per half-register), like the
// portable version, so both paths agree to the rounding of the final scale (the sums differ in order only).
void torl_neon_rmsnorm_row(const float *x, const float *weight, float *out, long C, float epsilon) {
    float64x2_t s0 = vdupq_n_f64(0), s1 = vdupq_n_f64(0);
    long c = 0;
    for (; c + 4 <= C; c += 4) {
        float32x4_t v = vld1q_f32(x + c);
        float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
        s0 = vfmaq_f64(s0, lo, lo);
        s1 = vfmaq_f64(s1, hi, hi);
    }
    double sumOfSquares = vaddvq_f64(vaddq_f64(s0, s1));
    for (; c < C; c++) sumOfSquares += (double)x[c] * (double)x[c];
    const float scale = (float)(1.0 / sqrt(sumOfSquares / (double)C + (double)epsilon));
    c = 0;
    for (; c + 4 <= C; c += 4)
        vst1q_f32(out + c, vmulq_f32(vmulq_n_f32(vld1q_f32(x + c), scale), vld1q_f32(weight + c)));
    for (; c < C; c++) out[c] = x[c] * scale * weight[c];
}

// Index of the largest value (the first on ties; NaN never wins): per-lane maxima and their indices, then the best
// lane, preferring the lowest index among equal maxima, then the tail.
long torl_neon_argmax(const float *x, long n) {
    float32x4_t best = vdupq_n_f32(-INFINITY);
    int32x4_t bestIndex = vdupq_n_s32(-1);
    const int32_t firstIndices[4] = {0, 1, 2, 3};
    int32x4_t index = vld1q_s32(firstIndices);
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        // Strictly greater keeps each lane's first maximum; the first ordered value of a lane also replaces -inf.
        uint32x4_t better = vorrq_u32(vcgtq_f32(v, best),
                                      vandq_u32(vceqq_s32(bestIndex, vdupq_n_s32(-1)), vceqq_f32(v, v)));
        best = vbslq_f32(better, v, best);
        bestIndex = vbslq_s32(better, index, bestIndex);
        index = vaddq_s32(index, vdupq_n_s32(4));
    }
    float values[4];
    int32_t indices[4];
    vst1q_f32(values, best);
    vst1q_s32(indices, bestIndex);
    return torl_argmax_finish(values, indices, 4, x, i, n);
}

// exp(x) for the SwiGLU and GeGLU activations, as on AVX-512: x = n ln2 + r with ln2 split in two parts, Cephes' degree-6
// polynomial for exp(r) (relative error about 1e-7), scaled by 2^n through the exponent bits (n in -126...127).
static inline float32x4_t exp_neon(float32x4_t x) {
    x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(TORL_EXP_HIGHEST)), vdupq_n_f32(TORL_EXP_LOWEST));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(TORL_EXP_LOG2E)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(TORL_EXP_LN2_HIGH));
    r = vfmsq_f32(r, n, vdupq_n_f32(TORL_EXP_LN2_LOW));
    float32x4_t p = vdupq_n_f32(TORL_EXP_P0);
    p = vfmaq_f32(vdupq_n_f32(TORL_EXP_P1), p, r);
    p = vfmaq_f32(vdupq_n_f32(TORL_EXP_P2), p, r);
    p = vfmaq_f32(vdupq_n_f32(TORL_EXP_P3), p, r);
    p = vfmaq_f32(vdupq_n_f32(TORL_EXP_P4), p, r);
    p = vfmaq_f32(vdupq_n_f32(TORL_EXP_P5), p, r);
    p = vfmaq_f32(r, p, vmulq_f32(r, r));
    p = vaddq_f32(p, vdupq_n_f32(1.0f));
    int32x4_t twoToN = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(twoToN));
}

long torl_neon_gated_unit(const float *gate, const float *up, float *out, long n, int gelu) {
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate + i), u = vld1q_f32(up + i), a = g;
        if (gelu) {
            float32x4_t cubic = vfmaq_f32(vdupq_n_f32(1.0f), vmulq_f32(g, g), vdupq_n_f32(TORL_GELU_CUBIC));
            a = vmulq_f32(vmulq_n_f32(g, 2 * TORL_GELU_SQRT_2_OVER_PI), cubic);
        }
        float32x4_t denominator = vaddq_f32(vdupq_n_f32(1.0f), exp_neon(vnegq_f32(a)));
        vst1q_f32(out + i, vdivq_f32(vmulq_f32(g, u), denominator));
    }
    return i;
}

static inline float32x4_t load4_f32(const float *p) { return vld1q_f32(p); }
static inline float32x4_t load4_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline float element_f32(const float *p, long i) { return p[i]; }
static inline float element_f16(const uint16_t *p, long i) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(p[i]))), 0);
}

// Decode attention, one head at a time (a head's bits never depend on the heads that share the call), as on the
// AVX2 path with 4 lanes: scores with 4-lane FMAs over the head dimension, softmax with expf as the portable loop,
// then the weighted values summed in registers 64 dimensions at a time, keys in order; dimensions past a multiple of
// 4 in scalar FMAs. q, out: [G, D]; keys, values: [L, D] at row stride `stride`; scores: scratch of L floats.
#define DEFINE_ATTENTION(NAME, KVTYPE, LOAD4, ELEMENT)                                                        \
void NAME(const float *q, long G, const KVTYPE *keys, const KVTYPE *values, long L, long D, long stride,       \
          float scale, float *out, float *scores) {                                                           \
    const long D4 = D / 4 * 4;                                                                                \
    for (long h = 0; h < G; h++) {                                                                            \
        const float *qh = q + h * D;                                                                          \
        float *oh = out + h * D, maximum = -INFINITY;                                                         \
        for (long j = 0; j < L; j++) {                                                                        \
            const KVTYPE *k = keys + j * stride;                                                              \
            float32x4_t s = vdupq_n_f32(0);                                                                   \
            for (long d = 0; d < D4; d += 4) s = vfmaq_f32(s, vld1q_f32(qh + d), LOAD4(k + d));               \
            float dot = vaddvq_f32(s);                                                                        \
            for (long d = D4; d < D; d++) dot = fmaf(qh[d], ELEMENT(k, d), dot);                              \
            scores[j] = dot * scale;                                                                          \
            if (scores[j] > maximum) maximum = scores[j];                                                     \
        }                                                                                                     \
        float sum = 0;                                                                                        \
        for (long j = 0; j < L; j++) { scores[j] = expf(scores[j] - maximum); sum += scores[j]; }             \
        const float inverse = 1.0f / sum;                                                                     \
        for (long d0 = 0; d0 < D4; d0 += 64) {                                                                \
            const int chunks = D4 - d0 >= 64 ? 16 : (int)((D4 - d0) / 4);                                     \
            float32x4_t a[16];                                                                                \
            for (int c = 0; c < 16; c++) a[c] = vdupq_n_f32(0);                                               \
            for (long j = 0; j < L; j++) {                                                                    \
                const KVTYPE *v = values + j * stride + d0;                                                   \
                for (int c = 0; c < chunks; c++) a[c] = vfmaq_n_f32(a[c], LOAD4(v + 4 * c), scores[j]);       \
            }                                                                                                 \
            for (int c = 0; c < chunks; c++) vst1q_f32(oh + d0 + 4 * c, vmulq_n_f32(a[c], inverse));          \
        }                                                                                                     \
        for (long d = D4; d < D; d++) {                                                                       \
            float total = 0;                                                                                  \
            for (long j = 0; j < L; j++) total = fmaf(scores[j], ELEMENT(values, j * stride + d), total);     \
            oh[d] = total * inverse;                                                                          \
        }                                                                                                     \
    }                                                                                                         \
}

DEFINE_ATTENTION(torl_neon_attention_f32, float, load4_f32, element_f32)
DEFINE_ATTENTION(torl_neon_attention_f16, uint16_t, load4_f16, element_f16)
#endif
