// Private to CKernels: the loop over panels and tokens shared by the AVX2 and NEON panel kernels.
#ifndef TORL_PANEL_DRIVER_H
#define TORL_PANEL_DRIVER_H

// Runs a kernel's register blocks over panels [p0, p1) and T tokens: token blocks of TB over every panel (the
// tokens stay in L1 while the panels stream), then the remaining tokens one at a time over groups of PB panels.
// NAME: the exported function (its declaration is in the path's header); ATTR: its target attribute; `steps` is the kernel's K-loop length and PANEL the elements of one panel
// per step.
#define DEFINE_PANEL_DRIVER(NAME, ATTR, XTYPE, WTYPE, PANEL, TB, BIG, PB, SMALL, ONE)                         \
ATTR void NAME(const XTYPE *x, long ldx, long T, long steps, const WTYPE *packed, long N, long p0,     \
                      long p1, float *y, long ldy, int acc) {                                                 \
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

#endif
