// Private to CKernels: scalar pieces of the int8 format (linear_int8.c) that the vector quantizers repeat exactly.
#ifndef TORL_Q8_COMMON_H
#define TORL_Q8_COMMON_H
#include <math.h>
#include <string.h>
#include "CKernels.h"

#define Q8_QUADS_PER_BLOCK (TORL_Q8_BLOCK / 4)

// numerator / denominator, or 0 when that does not exist as a float (denominator 0, subnormal or not finite): every
// code is then 0.
static inline float torl_q8_reciprocal_or_zero(float numerator, float denominator) {
    float inverse = numerator / denominator;
    return denominator > 0 && isfinite(inverse) ? inverse : 0;
}

// The TORL_Q8_BLOCK inputs of the block starting at column k0 of a row of K: the row itself, or for a partial last
// block a copy in `padded` filled up with zeros (zeros change neither the block's max nor its codes), so the vector
// quantizers always read whole blocks.
static inline const float *torl_q8_whole_block(const float *row, long K, long k0, float padded[TORL_Q8_BLOCK]) {
    const long n = K - k0;
    if (n >= TORL_Q8_BLOCK) return row + k0;
    memset(padded, 0, sizeof(float) * TORL_Q8_BLOCK);
    memcpy(padded, row + k0, sizeof(float) * (size_t)n);
    return padded;
}

#endif
