// Inner loops of the engine that Swift cannot vectorize to AVX-512 on a baseline x86-64 build.
// Each entry point picks an AVX-512 or a portable implementation at run time (CPU dispatch), so the binary
// builds and runs on any x86-64 (and any other architecture through the portable code).
#ifndef TORL_CKERNELS_H
#define TORL_CKERNELS_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the AVX-512 paths are in use on this CPU, 0 for the portable ones.
int torl_kernels_use_avx512(void);
/// Turns the AVX-512 paths off (0) or back on where the CPU has them (1); tests run both implementations.
void torl_kernels_enable_avx512(int enabled);

/// y[t, n] (+)= dot(x[t, :], w[n, :]) for t in [0, T), n in [n_begin, n_end).
/// x: [T, K] f32 row-major; w: [N, K] row-major (f32, or bf16 as raw uint16 bits); y: row stride ldy.
/// accumulate = 0 overwrites y, 1 adds to it (residual connections).
void torl_linear_f32(const float *x, long T, long K, const float *w, long n_begin, long n_end,
                     float *y, long ldy, int accumulate);
void torl_linear_bf16(const float *x, long T, long K, const uint16_t *w, long n_begin, long n_end,
                      float *y, long ldy, int accumulate);

/// dst[i] = float(src[i]) for bf16 bit patterns (exact).
void torl_bf16_to_f32(const uint16_t *src, float *dst, long n);
/// dst[i] = bf16(src[i]) rounded to nearest even; NaN stays NaN.
void torl_f32_to_bf16(const float *src, uint16_t *dst, long n);

/// sum a[i] * b[i]
float torl_dot(const float *a, const float *b, long n);
/// y[i] += alpha * x[i]
void torl_axpy(float alpha, const float *x, float *y, long n);

/// A spin-wait hint to the CPU (x86 `pause`), for threads polling shared state.
void torl_cpu_relax(void);

#ifdef __cplusplus
}
#endif
#endif
