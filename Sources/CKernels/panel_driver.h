// Private to CKernels: the loop over panels and tokens shared by the AVX2 and NEON panel kernels.
#ifndef TORL_PANEL_DRIVER_H
#define TORL_PANEL_DRIVER_H

// Runs a kernel's register blocks over panels [p0, p1) and T tokens: chunks of TORL_PANEL_CHUNK_BLOCKS token blocks
// of TB, each chunk over every panel and each panel over the chunk's blocks (the panel stays in L1/L2 while the
// chunk's activations, a few hundred KB, stay in L2); then the remaining tokens one at a time over groups of PB
// panels. Token blocks outside (every panel streamed from L3 or DRAM again for each block) ran the AVX2 f32 linear
// at 61 GFLOP/s on 128 tokens and 41 on 512 (576 → 1536, one core, best of 5), chunks of 24 blocks at 75 and 59, and
// the bf16 one at 23 → 31 on 512 (2026-12-04, this Xeon under load, clang). The order of independent outputs
// changes nothing in their bits.
// NAME: the exported function (its declaration is in the path's header); ATTR: its target attribute; `steps` is the kernel's K-loop length and PANEL the elements of one panel
// per step.
#define TORL_PANEL_CHUNK_BLOCKS 24

#define DEFINE_PANEL_DRIVER(NAME, ATTR, XTYPE, WTYPE, PANEL, TB, BIG, PB, SMALL, ONE)                         \
ATTR void NAME(const XTYPE *x, long ldx, long T, long steps, const WTYPE *packed, long N, long p0,     \
                      long p1, float *y, long ldy, int acc) {                                                 \
    const long batched = T / TB * TB, chunk = TB * TORL_PANEL_CHUNK_BLOCKS;                                   \
    for (long t0 = 0; t0 < batched; t0 += chunk)                                                              \
        for (long p = p0; p < p1; p++)                                                                        \
            for (long t = t0; t < batched && t < t0 + chunk; t += TB)                                         \
                BIG(x + t * ldx, ldx, steps, packed + p * steps * PANEL, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
    for (long t = batched; t < T; t++) {                                                                      \
        long p = p0;                                                                                          \
        for (; p + PB <= p1; p += PB)                                                                         \
            SMALL(x + t * ldx, ldx, steps, packed + p * steps * PANEL, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
        for (; p < p1; p++)                                                                                   \
            ONE(x + t * ldx, ldx, steps, packed + p * steps * PANEL, y + t * ldy + 16 * p, ldy, N - 16 * p, acc); \
    }                                                                                                         \
}

#endif
