// Every vector kernel path this CPU has (AVX2, AVX-VNNI, AVX-512 on x86-64; NEON, NEON dot-product on aarch64)
// against the portable kernels, on pseudo-random inputs of the real layer shapes (SmolLM2-135M, Gemma 3 270M) and of
// odd sizes that reach every register block and tail. Plain C, linked straight against Sources/CKernels, so it runs
// on a machine without Swift: `make test-ckernels` natively, `make test-neon` cross-compiled for aarch64 under
// qemu-aarch64 (there is no ARM machine in CI).
//
// What must be bit-identical (the vector code does the portable arithmetic in the portable order): the f32, bf16
// and int8 linears (except bf16 on AVX-512 with AVX512_BF16, whose `vdpbf16ps` rounds its pair sums its own way),
// the int8 activation quantizer, the f32 → bf16 and f32 ↔ f16 conversions (NaN only as NaN: hardware keeps
// payload bits) and argmax. What sums in another order, within a stated tolerance:
// - attention: 1e-5 absolute on outputs that are convex combinations of values in [-1, 1] (scores differ by a few
//   ulps of a D-term dot product; softmax and the weighted sum keep that relative size);
// - RMSNorm: 2e-7 relative (the double sum of squares differs in its last bits, which can move the f32 scale by
//   one ulp, 6e-8, and each output by that plus its own rounding);
// - SwiGLU and GeGLU: 1e-6 relative to max(1, |out|) (a degree-6 polynomial exp, relative error about 1e-7, against
//   libm's expf and tanhf);
// - bf16 linear on AVX-512 BF16: 4 K ε Σ|w x| (any summation order of K terms is within γ_K of the exact sum).
// Exit status 0 when every check passes; failed checks print one line each (every check with -v), then a summary.
#include "CKernels.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0, checks = 0, verbose = 0;

static void report(int ok, const char *path, const char *what, double deviation) {
    checks++;
    if (!ok) failures++;
    if (ok && !verbose) return;
    printf("%s %-8s %-60s max deviation %.3g\n", ok ? "ok  " : "FAIL", path, what, deviation);
}

static uint64_t state = 0x9E3779B97F4A7C15ull;
static float uniform(void) {  // [-1, 1)
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((int64_t)(state >> 11) % 2000000) / 1000000.0f - 1.0f;
}
static float *random_floats(long n, float scale) {
    float *v = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) v[i] = scale * uniform();
    return v;
}

static void use_path(int path) {
    if (torl_kernels_select_path(path) != 0) { fprintf(stderr, "cannot select %s\n", torl_kernels_path_name(path)); exit(2); }
}

// Largest |a - b| over n floats; NaN where only one side is NaN counts as infinite.
static double max_difference(const float *a, const float *b, long n) {
    double worst = 0;
    for (long i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) { if (isnan(a[i]) != isnan(b[i])) return INFINITY; continue; }
        if (a[i] == b[i]) continue;  // also equal infinities
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

// Real layer shapes (T tokens, K inputs, N outputs) and odd ones. T reaches the batched blocks and the single-token
// ones; N and K reach partial panels and k tails.
typedef struct { long T, K, N; const char *name; } Shape;
static const Shape shapes[] = {
    {1, 576, 1536, "SmolLM2 up, decode"},    {7, 576, 192, "SmolLM2 k/v, 7 tokens"},
    {5, 1536, 576, "SmolLM2 down, 5 tokens"}, {1, 640, 1024, "Gemma 3 q, decode"},
    {3, 2048, 640, "Gemma 3 down, 3 tokens"}, {1, 37, 7, "odd 1x37x7"},
    {6, 70, 33, "odd 6x70x33"},              {13, 33, 130, "odd 13x33x130"},
    {2, 5, 17, "odd 2x5x17"},
};
enum { SHAPE_COUNT = sizeof(shapes) / sizeof(shapes[0]) };

// y over panels [1, panels) after panel 0 (two calls, as the parallel loops split the panels), with acc = 0, then the
// same call with acc = 1 over values already in y.
typedef void (*linear_call)(const void *context, long p0, long p1, float *y, int acc);
static void run_linear(linear_call call, const void *context, long T, long N, long ldy, float *y, float *yAcc) {
    long panels = (N + 15) / 16;
    for (long i = 0; i < T * ldy; i++) { y[i] = -7; yAcc[i] = 0.5f; }
    call(context, 0, 1, y, 0);
    call(context, 1, panels, y, 0);
    call(context, 0, panels, yAcc, 1);
}

typedef struct { const float *x; long ldx, T, K, N; const float *packed; } F32Linear;
static void call_f32(const void *c, long p0, long p1, float *y, int acc) {
    const F32Linear *l = c;
    torl_linear_f32_packed(l->x, l->ldx, l->T, l->K, l->packed, l->N, p0, p1, y, l->N + 3, acc);
}
typedef struct { const uint16_t *x; long ldx, T, K, N; const uint16_t *packed; } BF16Linear;
static void call_bf16(const void *c, long p0, long p1, float *y, int acc) {
    const BF16Linear *l = c;
    torl_linear_bf16_packed(l->x, l->ldx, l->T, l->K, l->packed, l->N, p0, p1, y, l->N + 3, acc);
}
typedef struct { const int8_t *xq; long ldq; const float *xs, *xsum; long T, N; const uint8_t *packed; const float *steps, *minimums; } Q8Linear;
static void call_q8(const void *c, long p0, long p1, float *y, int acc) {
    const Q8Linear *l = c;
    torl_linear_q8(l->xq, l->ldq, l->xs, l->xsum, l->T, l->packed, l->steps, l->minimums, l->N, p0, p1, y, l->N + 3, acc);
}

// Runs `call` on the portable path and on `path` and compares all outputs: bit for bit, or within `tolerance`
// (per output, tolerance[i]) when tolerance is given.
static void compare_linear(int path, const char *what, linear_call call, const void *context, long T, long N,
                           const float *tolerance) {
    long ldy = N + 3, count = T * ldy;
    float *y0 = malloc(sizeof(float) * (size_t)count), *a0 = malloc(sizeof(float) * (size_t)count);
    float *y1 = malloc(sizeof(float) * (size_t)count), *a1 = malloc(sizeof(float) * (size_t)count);
    use_path(TORL_KERNELS_PORTABLE);
    run_linear(call, context, T, N, ldy, y0, a0);
    use_path(path);
    run_linear(call, context, T, N, ldy, y1, a1);
    double deviation = fmax(max_difference(y0, y1, count), max_difference(a0, a1, count));
    int ok;
    if (tolerance) {
        ok = 1;
        for (long t = 0; t < T; t++)
            for (long n = 0; n < N; n++) {
                long i = t * ldy + n;
                if (!(fabs((double)y0[i] - y1[i]) <= tolerance[t * N + n]) || !(fabs((double)a0[i] - a1[i]) <= tolerance[t * N + n])) ok = 0;
            }
        for (long t = 0; t < T; t++)  // the padding columns stay untouched
            for (long n = N; n < ldy; n++) if (y1[t * ldy + n] != -7 || a1[t * ldy + n] != 0.5f) ok = 0;
    } else {
        ok = same_bits(y0, y1, sizeof(float) * (size_t)count) && same_bits(a0, a1, sizeof(float) * (size_t)count);
    }
    report(ok, torl_kernels_path_name(path), what, deviation);
    free(y0); free(a0); free(y1); free(a1);
}

static void check_linears(int path) {
    char what[128];
    for (int s = 0; s < SHAPE_COUNT; s++) {
        const Shape sh = shapes[s];
        float *x = random_floats(sh.T * (sh.K + 1), 1.0f), *w = random_floats(sh.N * sh.K, 0.1f);
        const long ldx = sh.K + 1;

        float *packed = malloc(sizeof(float) * (size_t)torl_f32_packed_count(sh.N, sh.K));
        torl_pack_f32(w, sh.N, sh.K, packed);
        F32Linear f32 = {x, ldx, sh.T, sh.K, sh.N, packed};
        snprintf(what, sizeof(what), "f32 linear %s (T=%ld K=%ld N=%ld)", sh.name, sh.T, sh.K, sh.N);
        compare_linear(path, what, call_f32, &f32, sh.T, sh.N, NULL);

        // bf16: activations rounded by the portable conversion, row stride 2·ceil(K/2) + 2, zero in column K.
        long ldb = 2 * ((sh.K + 1) / 2) + 2;
        uint16_t *xb = calloc((size_t)(sh.T * ldb), sizeof(uint16_t)), *wb = malloc(sizeof(uint16_t) * (size_t)(sh.N * sh.K));
        use_path(TORL_KERNELS_PORTABLE);
        for (long t = 0; t < sh.T; t++) torl_f32_to_bf16(x + t * ldx, xb + t * ldb, sh.K);
        torl_f32_to_bf16(w, wb, sh.N * sh.K);
        uint16_t *packedB = malloc(sizeof(uint16_t) * (size_t)torl_bf16_packed_count(sh.N, sh.K));
        torl_pack_bf16(wb, sh.N, sh.K, packedB);
        BF16Linear bf16 = {xb, ldb, sh.T, sh.K, sh.N, packedB};
        use_path(path);
        float *bound = NULL;
        if (torl_kernels_use_avx512_bf16()) {
            bound = malloc(sizeof(float) * (size_t)(sh.T * sh.N));
            for (long t = 0; t < sh.T; t++)
                for (long n = 0; n < sh.N; n++) {
                    double magnitude = 0;
                    for (long k = 0; k < sh.K; k++) {
                        uint32_t xbits = (uint32_t)xb[t * ldb + k] << 16, wbits = (uint32_t)wb[n * sh.K + k] << 16;
                        float xf, wf;
                        memcpy(&xf, &xbits, 4);
                        memcpy(&wf, &wbits, 4);
                        magnitude += fabs((double)xf * wf);
                    }
                    // 0.5 of the accumulated start value too (the acc = 1 run adds to 0.5).
                    bound[t * sh.N + n] = (float)(4.0 * sh.K * FLT_EPSILON * magnitude + 2 * FLT_EPSILON);
                }
        }
        snprintf(what, sizeof(what), "bf16 linear %s", sh.name);
        compare_linear(path, what, call_bf16, &bf16, sh.T, sh.N, bound);
        free(bound);

        // int8: the same quantized activations on both paths (the quantizer is checked on its own below).
        long ldq = torl_q8_padded_columns(sh.K), blocks = ldq / TORL_Q8_BLOCK;
        uint8_t *packedQ = malloc((size_t)torl_q8_packed_bytes(sh.N, sh.K));
        float *steps = malloc(sizeof(float) * (size_t)torl_q8_block_count(sh.N, sh.K));
        float *minimums = malloc(sizeof(float) * (size_t)torl_q8_block_count(sh.N, sh.K));
        torl_pack_q8(w, sh.N, sh.K, 0, (sh.N + 15) / 16, packedQ, steps, minimums);
        int8_t *xq = malloc((size_t)(sh.T * ldq));
        float *xs = malloc(sizeof(float) * (size_t)(sh.T * blocks)), *xsum = malloc(sizeof(float) * (size_t)(sh.T * blocks));
        use_path(TORL_KERNELS_PORTABLE);
        torl_quantize_q8(x, sh.T, sh.K, ldx, xq, ldq, xs, xsum);
        Q8Linear q8 = {xq, ldq, xs, xsum, sh.T, sh.N, packedQ, steps, minimums};
        snprintf(what, sizeof(what), "int8 linear %s", sh.name);
        compare_linear(path, what, call_q8, &q8, sh.T, sh.N, NULL);

        free(x); free(w); free(packed); free(xb); free(wb); free(packedB); free(packedQ); free(steps); free(minimums);
        free(xq); free(xs); free(xsum);
    }
}

static void check_quantizer(int path) {
    const long T = 4, K = 1000, ldx = 1003, ldq = torl_q8_padded_columns(K), blocks = ldq / TORL_Q8_BLOCK;
    float *x = random_floats(T * ldx, 3.0f);
    x[ldx + 40] = NAN;                     // token 1, block 1: NaN scale, zero codes
    x[2 * ldx + 100] = INFINITY;           // token 2, block 3
    for (long k = 0; k < 32; k++) x[3 * ldx + k] = 1e-39f * (float)(k % 3);  // subnormal block: no reciprocal
    for (long k = 32; k < 64; k++) x[3 * ldx + k] = (float)(k - 48) * 0.5f;  // exact halves: ties to even
    int8_t *q0 = malloc((size_t)(T * ldq)), *q1 = malloc((size_t)(T * ldq));
    float *s0 = malloc(sizeof(float) * (size_t)(2 * T * blocks)), *s1 = malloc(sizeof(float) * (size_t)(2 * T * blocks));
    use_path(TORL_KERNELS_PORTABLE);
    torl_quantize_q8(x, T, K, ldx, q0, ldq, s0, s0 + T * blocks);
    use_path(path);
    memset(q1, 0x55, (size_t)(T * ldq));
    torl_quantize_q8(x, T, K, ldx, q1, ldq, s1, s1 + T * blocks);
    int ok = same_bits(q0, q1, (size_t)(T * ldq));
    for (long i = 0; i < 2 * T * blocks; i++) ok &= same_bits(&s0[i], &s1[i], 4) || (isnan(s0[i]) && isnan(s1[i]));
    report(ok, torl_kernels_path_name(path), "int8 quantizer (NaN, inf, subnormal, ties, K tail)", max_difference(s0, s1, 2 * T * blocks));
    free(x); free(q0); free(q1); free(s0); free(s1);
}

static void check_conversions(int path) {
    const long n = 1003;
    float *src = random_floats(n, 70000.0f);
    const uint32_t specials[] = {0x7FC00000u, 0xFFC00001u, 0x7F800000u, 0xFF800000u, 0x00000001u, 0x33800000u,
                                 0x33000000u, 0x387FC000u, 0x477FEFFFu, 0x477FF000u, 0x3F808000u, 0x3F818000u,
                                 0x80000000u, 0x7F7FFFFFu, 0x3A000800u, 0x7FA00000u};
    for (int i = 0; i < 16; i++) memcpy(&src[i * 37], &specials[i], 4);
    for (long i = 600; i < n; i++) src[i] *= 1e-9f;  // f16 subnormals
    uint16_t *h0 = malloc(2 * (size_t)n), *h1 = malloc(2 * (size_t)n);
    float *f0 = malloc(4 * (size_t)n), *f1 = malloc(4 * (size_t)n);
    const char *name = torl_kernels_path_name(path);

    use_path(TORL_KERNELS_PORTABLE);
    torl_f32_to_f16(src, h0, n);
    torl_f16_to_f32(h0, f0, n);
    use_path(path);
    torl_f32_to_f16(src, h1, n);
    torl_f16_to_f32(h0, f1, n);
    int ok = 1;
    for (long i = 0; i < n; i++) {
        int nan0 = (h0[i] & 0x7C00) == 0x7C00 && (h0[i] & 0x3FF), nan1 = (h1[i] & 0x7C00) == 0x7C00 && (h1[i] & 0x3FF);
        ok &= nan0 ? nan1 : h0[i] == h1[i];
        ok &= same_bits(&f0[i], &f1[i], 4) || (isnan(f0[i]) && isnan(f1[i]));
    }
    report(ok, name, "f32 <-> f16 conversions (ties, subnormals, overflow, NaN)", max_difference(f0, f1, n));

    use_path(TORL_KERNELS_PORTABLE);
    torl_f32_to_bf16(src, h0, n);
    use_path(path);
    torl_f32_to_bf16(src, h1, n);
    ok = 1;
    for (long i = 0; i < n; i++) {
        int nan0 = (h0[i] & 0x7F80) == 0x7F80 && (h0[i] & 0x7F);
        ok &= nan0 ? ((h1[i] & 0x7F80) == 0x7F80 && (h1[i] & 0x7F)) : h0[i] == h1[i];
    }
    report(ok, name, "f32 -> bf16 rounding (ties, NaN, infinities)", ok ? 0 : INFINITY);
    free(src); free(h0); free(h1); free(f0); free(f1);
}

// A gated MLP activation (SwiGLU, GeGLU) across the range of exp, its clamp edges and a tail: within 1e-6 of the
// portable result relative to max(1, |out|).
static void check_gated_unit(int path, void (*unit)(const float *, const float *, float *, long), const char *what) {
    const long n = 1539;
    float *gate = random_floats(n, 95.0f), *up = random_floats(n, 3.0f);
    for (long i = 0; i < 200; i++) gate[i] *= 0.05f;
    float *y0 = malloc(4 * (size_t)n), *y1 = malloc(4 * (size_t)n);
    use_path(TORL_KERNELS_PORTABLE);
    unit(gate, up, y0, n);
    use_path(path);
    unit(gate, up, y1, n);
    double worst = 0;
    int ok = 1;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)y0[i] - y1[i]);
        worst = fmax(worst, d);
        if (!(d <= 1e-6 * fmax(1.0, fabs(y0[i])))) ok = 0;
    }
    report(ok, torl_kernels_path_name(path), what, worst);
    free(gate); free(up); free(y0); free(y1);
}

static void check_small_ops(int path) {
    const char *name = torl_kernels_path_name(path);
    // RMSNorm over the real widths and an odd one, in place and out of place.
    const long widths[] = {576, 640, 37};
    double worst = 0;
    int ok = 1;
    for (int w = 0; w < 3; w++) {
        const long T = 3, C = widths[w];
        float *x = random_floats(T * C, 4.0f), *weight = random_floats(C, 2.0f);
        float *y0 = malloc(4 * (size_t)(T * C)), *y1 = malloc(4 * (size_t)(T * C));
        use_path(TORL_KERNELS_PORTABLE);
        torl_rmsnorm(x, weight, y0, T, C, 1e-5f);
        use_path(path);
        memcpy(y1, x, 4 * (size_t)(T * C));
        torl_rmsnorm(y1, weight, y1, T, C, 1e-5f);
        for (long i = 0; i < T * C; i++) {
            double d = fabs((double)y0[i] - y1[i]);
            worst = fmax(worst, d);
            if (!(d <= 2e-7 * fabs(y0[i]) + 1e-30)) ok = 0;
        }
        free(x); free(weight); free(y0); free(y1);
    }
    report(ok, name, "rmsnorm C = 576, 640, 37 (in place)", worst);

    check_gated_unit(path, torl_swiglu, "swiglu |gate| < 95");
    check_gated_unit(path, torl_geglu, "geglu |gate| < 95");

    // argmax: ties take the first, NaN never wins, all-NaN gives -1; lengths hit every lane and tail.
    ok = 1;
    for (long len = 0; len < 70; len++) {
        float *v = random_floats(len, 1.0f);
        for (long i = 0; i < len; i++) if (i % 7 == 3) v[i] = NAN;
        if (len > 10) { v[len - 2] = 5; v[5] = 5; }
        if (len > 20) v[len - 1] = NAN;
        use_path(TORL_KERNELS_PORTABLE);
        long expected = torl_argmax(v, len);
        use_path(path);
        ok &= torl_argmax(v, len) == expected;
        for (long i = 0; i < len; i++) v[i] = i % 2 ? NAN : -INFINITY;
        use_path(TORL_KERNELS_PORTABLE);
        expected = torl_argmax(v, len);
        use_path(path);
        ok &= torl_argmax(v, len) == expected;
        for (long i = 0; i < len; i++) v[i] = NAN;
        ok &= torl_argmax(v, len) == -1;
        free(v);
    }
    report(ok, name, "argmax n = 0..69 (ties, NaN, -inf)", ok ? 0 : INFINITY);
}

static void check_attention(int path) {
    // (G query heads per key/value head, L cached rows, D, row stride): SmolLM2 (3 heads of 64 per kv head), Gemma 3
    // (4 of 256), an odd dimension and a group larger than TORL_ATTENTION_MAX_GROUP.
    const long cases[][4] = {{3, 200, 64, 192}, {4, 77, 256, 256}, {1, 1, 64, 64}, {6, 13, 37, 80}, {2, 40, 3, 3}};
    for (int format = TORL_KV_F32; format <= TORL_KV_F16; format++) {
        double worst = 0;
        int ok = 1;
        for (int c = 0; c < 5; c++) {
            const long G = cases[c][0], L = cases[c][1], D = cases[c][2], stride = cases[c][3];
            float *q = random_floats(G * D, 1.0f), *k = random_floats(L * stride, 1.0f), *v = random_floats(L * stride, 1.0f);
            uint16_t *kh = malloc(2 * (size_t)(L * stride)), *vh = malloc(2 * (size_t)(L * stride));
            use_path(TORL_KERNELS_PORTABLE);
            torl_f32_to_f16(k, kh, L * stride);
            torl_f32_to_f16(v, vh, L * stride);
            const void *keys = format == TORL_KV_F16 ? (const void *)kh : k, *values = format == TORL_KV_F16 ? (const void *)vh : v;
            float *o0 = malloc(4 * (size_t)(G * D)), *o1 = malloc(4 * (size_t)(G * D)), *scores = malloc(4 * (size_t)(G * L));
            const float scale = 1.0f / sqrtf((float)D) * 4;  // sharper than the models' softmax
            torl_attention_heads(q, G, keys, values, L, D, stride, format, scale, o0, scores);
            use_path(path);
            torl_attention_heads(q, G, keys, values, L, D, stride, format, scale, o1, scores);
            double d = max_difference(o0, o1, G * D);
            worst = fmax(worst, d);
            if (!(d <= 1e-5)) ok = 0;
            free(q); free(k); free(v); free(kh); free(vh); free(o0); free(o1); free(scores);
        }
        report(ok, torl_kernels_path_name(path), format == TORL_KV_F16 ? "attention, f16 cache" : "attention, f32 cache", worst);
    }
}

int main(int argc, char **argv) {
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    int tested = 0;
    for (int path = 0; path < TORL_KERNELS_PATH_COUNT; path++)
        printf("path %-8s %s\n", torl_kernels_path_name(path), torl_kernels_path_available(path) ? "available" : "not on this CPU");
    for (int path = 1; path < TORL_KERNELS_PATH_COUNT; path++) {
        if (!torl_kernels_path_available(path)) continue;
        tested++;
        check_linears(path);
        check_quantizer(path);
        check_conversions(path);
        check_small_ops(path);
        check_attention(path);
    }
    if (tested == 0) printf("kernel_paths_test: this CPU has only the portable path; nothing to compare\n");
    printf("kernel_paths_test: %d checks on %d paths, %d failed\n", checks, tested, failures);
    return failures ? 1 : 0;
}
