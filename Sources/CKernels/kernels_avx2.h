// Private to CKernels: the AVX2 path (AVX2 + FMA + F16C, with AVX-VNNI for int8 where the CPU has it), defined in
// kernels_avx2.c and dispatched from kernels.c and linear_int8.c. Each function has the arguments of the portable
// implementation it replaces.
#ifndef TORL_KERNELS_AVX2_H
#define TORL_KERNELS_AVX2_H
#include <stdint.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define TORL_HAVE_AVX2_PATH 1
/// 1 when the CPU (and the OS) has AVX2, FMA and F16C.
int torl_avx2_detect(void);
/// 1 when the CPU also has AVX-VNNI (vpdpbusd on 256-bit registers).
int torl_avx_vnni_detect(void);
void torl_avx2_linear_f32_packed(const float *x, long ldx, long T, long K, const float *packed, long N, long p0,
                                 long p1, float *y, long ldy, int acc);
void torl_avx2_linear_bf16_packed(const uint16_t *x, long ldx, long T, long Kp, const uint16_t *packed, long N,
                                  long p0, long p1, float *y, long ldy, int acc);
void torl_avx2_linear_q8(const int8_t *xq, long ldq, const float *xs, const float *xsum, long T,
                         const uint8_t *packed, const float *steps, const float *minimums, long N, long p0, long p1,
                         float *y, long ldy, int acc, int vnni);
/// Decode attention of G query heads sharing one key/value head (torl_attention_heads' arguments, the cache as f32
/// or f16); scores: scratch of L floats.
void torl_avx2_attention_f32(const float *q, long G, const float *keys, const float *values, long L, long D,
                             long stride, float scale, float *out, float *scores);
void torl_avx2_attention_f16(const float *q, long G, const uint16_t *keys, const uint16_t *values, long L, long D,
                             long stride, float scale, float *out, float *scores);
/// Convert the first n - n % 8 elements; return how many were converted (the caller finishes the tail).
long torl_avx2_f32_to_f16(const float *src, uint16_t *dst, long n);
long torl_avx2_f16_to_f32(const uint16_t *src, float *dst, long n);
/// Convert the first n - n % 16 elements; return how many were converted.
long torl_avx2_f32_to_bf16(const float *src, uint16_t *dst, long n);
void torl_avx2_quantize_q8(const float *x, long T, long K, long ldx, int8_t *xq, long ldq, float *xs, float *xsum);
/// One row of torl_rmsnorm.
void torl_avx2_rmsnorm_row(const float *x, const float *weight, float *out, long C, float epsilon);
long torl_avx2_argmax(const float *x, long n);
/// out = gate · up / (1 + exp(-a)) with a = gate (SwiGLU) or 2 sqrt(2/π) gate (1 + 0.044715 gate²) (GeGLU, gelu =
/// 1); returns how many elements it did (n - n % 8: the caller finishes the tail with the portable formula).
long torl_avx2_gated_unit(const float *gate, const float *up, float *out, long n, int gelu);
#else
#define TORL_HAVE_AVX2_PATH 0
static inline int torl_avx2_detect(void) { return 0; }
static inline int torl_avx_vnni_detect(void) { return 0; }
#endif

#endif
