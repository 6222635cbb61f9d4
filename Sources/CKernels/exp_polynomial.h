// The one exp polynomial of the C kernels (SwiGLU, GeGLU; AVX-512 decode attention), written per instruction set
// with these constants: Cephes expf. x is clamped to [EXP_LOWEST, EXP_HIGHEST], split as x = n·ln2 + r with
// n = round(x·log2 e) and ln2 in two parts (EXP_LN2_HIGH is exact in a few bits, so n·EXP_LN2_HIGH is exact),
// exp(r) ≈ 1 + r + r²·P(r) with P of degree 5 (relative error about 1e-7), then scaled by 2^n.
#ifndef TORL_EXP_POLYNOMIAL_H
#define TORL_EXP_POLYNOMIAL_H

#define TORL_EXP_HIGHEST 88.37f
#define TORL_EXP_LOWEST (-87.33f)
#define TORL_EXP_LOG2E 1.44269504088896341f
#define TORL_EXP_LN2_HIGH 0.693359375f
#define TORL_EXP_LN2_LOW (-2.12194440e-4f)
#define TORL_EXP_P0 1.9875691500e-4f
#define TORL_EXP_P1 1.3981999507e-3f
#define TORL_EXP_P2 8.3334519073e-3f
#define TORL_EXP_P3 4.1665795894e-2f
#define TORL_EXP_P4 1.6666665459e-1f
#define TORL_EXP_P5 5.0000001201e-1f

#endif
