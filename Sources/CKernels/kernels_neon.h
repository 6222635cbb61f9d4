// Private to CKernels: the NEON path of aarch64 (Advanced SIMD, with the dot-product extension `sdot` for int8 where
// the CPU has it), defined in kernels_neon.c and dispatched from kernels.c and linear_int8.c. Each function has the
// arguments of the portable implementation it replaces.
#ifndef TORL_KERNELS_NEON_H
#define TORL_KERNELS_NEON_H
#include <stdint.h>

#if defined(__aarch64__) && (defined(__clang__) || defined(__GNUC__))
#define TORL_HAVE_NEON_PATH 1
/// 1 when the CPU has Advanced SIMD (every aarch64 Linux machine; the check is for honesty, not for choice).
int torl_neon_detect(void);
/// 1 when the CPU also has the dot-product extension (HWCAP_ASIMDDP: `sdot`).
int torl_neon_dot_detect(void);
void torl_neon_linear_f32_packed(const float *x, long ldx, long T, long K, const float *packed, long N, long p0,
                                 long p1, float *y, long ldy, int acc);
void torl_neon_linear_bf16_packed(const uint16_t *x, long ldx, long T, long Kp, const uint16_t *packed, long N,
                                  long p0, long p1, float *y, long ldy, int acc);
/// dot: 1 for the `sdot` kernels, 0 for the widening multiply-accumulate ones (same exact int32 sums).
void torl_neon_linear_q8(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T,
                         const uint8_t *packed, const float *steps, const float *minimums, long N, long p0, long p1,
                         float *y, long ldy, int acc, int dot);
void torl_neon_quantize_q8(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs, float *xsum);
/// Decode attention of G query heads sharing one key/value head (torl_attention_heads' arguments, the cache as f32
/// or f16); scores: scratch of L floats.
void torl_neon_attention_f32(const float *q, long G, const float *keys, const float *values, long L, long D,
                             long stride, float scale, float *out, float *scores);
void torl_neon_attention_f16(const float *q, long G, const uint16_t *keys, const uint16_t *values, long L, long D,
                             long stride, float scale, float *out, float *scores);
/// Convert the first n - n % 4 elements; return how many were converted (the caller finishes the tail).
long torl_neon_f32_to_f16(const float *src, uint16_t *dst, long n);
long torl_neon_f16_to_f32(const uint16_t *src, float *dst, long n);
long torl_neon_f32_to_bf16(const float *src, uint16_t *dst, long n);
/// One row of torl_rmsnorm.
void torl_neon_rmsnorm_row(const float *x, const float *weight, float *out, long C, float epsilon);
long torl_neon_argmax(const float *x, long n);
/// out = gate · up / (1 + exp(-a)) with a = gate (SwiGLU) or 2 sqrt(2/π) gate (1 + 0.044715 gate²) (GeGLU, gelu =
/// 1); returns how many elements it did (n - n % 4: the caller finishes the tail with the portable formula).
long torl_neon_gated_unit(const float *gate, const float *up, float *out, long n, int gelu);
#else
#define TORL_HAVE_NEON_PATH 0
static inline int torl_neon_detect(void) { return 0; }
static inline int torl_neon_dot_detect(void) { return 0; }
#endif

#endif
