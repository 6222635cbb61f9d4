// The int8 multiply-add rate one core can reach on 256-bit registers, per instruction mix, with the data in L1:
// the ceiling for torl's int8 panel kernels on the avx2 and avxvnni paths (README, "int8 on each x86 path").
// Each loop iteration is what the panel kernel does for one k-quad of a 16-row panel and 3 tokens (192 exact
// int8 multiply-adds into int32):
//   widen16  unsigned weight codes widened to 16 bits (even/odd bytes), vpmaddwd + vpaddd: torl's avx2 kernel
//   sign8    signed weight and activation codes, llama.cpp's AVX2 Q8_0 way: vpsignb, vpmaddubsw, vpmaddwd(1), vpaddd
//   vnni     unsigned weight codes, vpdpbusd (AVX-VNNI): torl's avxvnni kernel
// Build and run: make bench-int8-ceiling (JSON: multiply-adds per CPU-second of each mix; built by the Swift
// toolchain's clang, the compiler of Sources/CKernels, whose code for these loops is the kernels' instruction mix).
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TOKENS 3
#define ITERATIONS 200000000L

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);  // CPU time: a busy machine shares the core
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

// w: [2][32] codes of one quad (16 rows x 4 k), x: [TOKENS] int32 words of 4 activation codes (or 2 int16 pairs)
static uint8_t weights[64] __attribute__((aligned(64)));
static int32_t activations[2 * TOKENS] __attribute__((aligned(64)));

__attribute__((target("avx2"), noinline)) static int32_t widen16(long iterations) {
    const __m256i lowBytes = _mm256_set1_epi16(0x00FF);
    __m256i s[TOKENS][2];
    memset(s, 0, sizeof s);
    for (long i = 0; i < iterations; i++) {
        __m256i w[2], wEven[2], wOdd[2];
        for (int h = 0; h < 2; h++) {
            w[h] = _mm256_load_si256((const __m256i *)(weights + 32 * h));
            __asm__ volatile("" : "+x"(w[h]));  // opaque: the kernel loads new codes every quad, nothing may be hoisted
            wEven[h] = _mm256_and_si256(w[h], lowBytes);
            wOdd[h] = _mm256_srli_epi16(w[h], 8);
        }
        for (int t = 0; t < TOKENS; t++) {
            __m256i xEven = _mm256_set1_epi32(activations[2 * t]), xOdd = _mm256_set1_epi32(activations[2 * t + 1]);
            for (int h = 0; h < 2; h++)
                s[t][h] = _mm256_add_epi32(s[t][h], _mm256_add_epi32(_mm256_madd_epi16(wEven[h], xEven),
                                                                     _mm256_madd_epi16(wOdd[h], xOdd)));
        }
    }
    __m256i total = _mm256_setzero_si256();
    for (int t = 0; t < TOKENS; t++) total = _mm256_add_epi32(total, _mm256_add_epi32(s[t][0], s[t][1]));
    return _mm256_extract_epi32(total, 0);
}

__attribute__((target("avx2"), noinline)) static int32_t sign8(long iterations) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s[TOKENS][2];
    memset(s, 0, sizeof s);
    for (long i = 0; i < iterations; i++) {
        __m256i w[2], magnitude[2];
        for (int h = 0; h < 2; h++) {
            w[h] = _mm256_load_si256((const __m256i *)(weights + 32 * h));
            __asm__ volatile("" : "+x"(w[h]));
            magnitude[h] = _mm256_sign_epi8(w[h], w[h]);
        }
        for (int t = 0; t < TOKENS; t++) {
            __m256i x = _mm256_set1_epi32(activations[t]);
            for (int h = 0; h < 2; h++) {
                __m256i products = _mm256_maddubs_epi16(magnitude[h], _mm256_sign_epi8(x, w[h]));
                s[t][h] = _mm256_add_epi32(s[t][h], _mm256_madd_epi16(products, ones));
            }
        }
    }
    __m256i total = _mm256_setzero_si256();
    for (int t = 0; t < TOKENS; t++) total = _mm256_add_epi32(total, _mm256_add_epi32(s[t][0], s[t][1]));
    return _mm256_extract_epi32(total, 0);
}

__attribute__((target("avx2,avxvnni"), noinline)) static int32_t vnni(long iterations) {
    __m256i s[TOKENS][2];
    memset(s, 0, sizeof s);
    for (long i = 0; i < iterations; i++) {
        __m256i w[2];
        for (int h = 0; h < 2; h++) {
            w[h] = _mm256_load_si256((const __m256i *)(weights + 32 * h));
            __asm__ volatile("" : "+x"(w[h]));
        }
        for (int t = 0; t < TOKENS; t++) {
            __m256i x = _mm256_set1_epi32(activations[t]);
            for (int h = 0; h < 2; h++) s[t][h] = _mm256_dpbusd_avx_epi32(s[t][h], w[h], x);
        }
    }
    __m256i total = _mm256_setzero_si256();
    for (int t = 0; t < TOKENS; t++) total = _mm256_add_epi32(total, _mm256_add_epi32(s[t][0], s[t][1]));
    return _mm256_extract_epi32(total, 0);
}

static void measure(const char *name, int32_t (*loop)(long), int last) {
    loop(ITERATIONS / 10);  // warm up (clock, caches)
    double start = seconds();
    int32_t checksum = loop(ITERATIONS);
    double elapsed = seconds() - start;
    double macs = (double)ITERATIONS * 16 * 4 * TOKENS;
    printf("  {\"mix\": \"%s\", \"gmac_per_second\": %.1f, \"seconds\": %.3f, \"checksum\": %d}%s\n", name,
           macs / elapsed * 1e-9, elapsed, checksum, last ? "" : ",");
}

int main(void) {
    for (int i = 0; i < 64; i++) weights[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < 2 * TOKENS; i++) activations[i] = 0x01020304 * (i + 1);
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "int8_ceiling: this CPU has no AVX2, so none of the measured mixes can run\n");
        return 2;
    }
    int hasVNNI = __builtin_cpu_supports("avxvnni");
    printf("[\n");
    measure("widen16", widen16, 0);
    measure("sign8", sign8, !hasVNNI);
    if (hasVNNI) measure("vnni", vnni, 1);
    printf("]\n");
    return 0;
}
