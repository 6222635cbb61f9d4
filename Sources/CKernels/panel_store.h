// Private to CKernels: the epilogue shared by the panel kernels (bf16 and int8).
#ifndef TORL_PANEL_STORE_H
#define TORL_PANEL_STORE_H

// Stores a register block of P panels (16 output rows each) × TT tokens, ACC[p][t] (__m512, one lane per row), into
// y at row stride ldy, masking the rows past rowsLeft; with acc the block is added to what y holds.
#define TORL_STORE_PANEL_BLOCK(P, TT, ACC, y, ldy, rowsLeft, acc)                                              \
    for (int p = 0; p < P; p++) {                                                                             \
        long rows = (rowsLeft) - 16 * p;                                                                      \
        if (rows <= 0) break;                                                                                 \
        __mmask16 m = rows >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1);                         \
        for (int t = 0; t < TT; t++) {                                                                        \
            float *dst = (y) + t * (ldy) + 16 * p;                                                            \
            __m512 v = (acc) ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), ACC[p][t]) : ACC[p][t];           \
            _mm512_mask_storeu_ps(dst, m, v);                                                                 \
        }                                                                                                     \
    }

#endif
