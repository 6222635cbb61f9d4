// Private to CKernels: which family of kernels the chosen path runs (kernels.c and linear_int8.c dispatch on it), and
// the scalar pieces the vector paths share.
#ifndef TORL_KERNEL_DISPATCH_H
#define TORL_KERNEL_DISPATCH_H
#include "CKernels.h"
#include <stdint.h>

// The avxvnni path is the avx2 one with AVX-VNNI int8 code sums.
static inline int use_avx2(void) {
    int path = torl_kernels_path();
    return path == TORL_KERNELS_AVX2 || path == TORL_KERNELS_AVX_VNNI;
}

// The neondot path is the neon one with `sdot` int8 code sums.
static inline int use_neon(void) {
    int path = torl_kernels_path();
    return path == TORL_KERNELS_NEON || path == TORL_KERNELS_NEON_DOT;
}

// GELU's tanh approximation: u = sqrt(2/π) · g · (1 + 0.044715 g²).
#define TORL_GELU_SQRT_2_OVER_PI 0.7978845608028654f
#define TORL_GELU_CUBIC 0.044715f

// The end of a vector argmax: per-lane maxima `values` at `indices` (-1 for a lane that saw only NaN) reduced to the
// best, the lowest index among equal maxima, then the scalar tail x[from..<n]. The first maximum wins; NaN never.
static inline long torl_argmax_finish(const float *values, const int32_t *indices, int lanes, const float *x,
                                      long from, long n) {
    long result = -1;
    for (int lane = 0; lane < lanes; lane++) {
        if (indices[lane] < 0) continue;
        if (result < 0 || values[lane] > x[result] || (values[lane] == x[result] && indices[lane] < result)) result = indices[lane];
    }
    for (long i = from; i < n; i++)
        if (x[i] == x[i] && (result < 0 || x[i] > x[result])) result = i;
    return result;
}

#endif
