/*
 * bench_quant.c - micro-benchmark of the quant kernels: nanoseconds per
 * row of 4096 elements for vec_dot, dequant and quantize, at each SIMD
 * level this CPU runs. Not a test (timings prove nothing on a shared
 * machine); built as quant_bench for reports: quant_bench [rows]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord.h"
#include "quant/quant.h"

#define N 4096

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    chord_init();
    const int rows = argc > 1 ? atoi(argv[1]) : 256; /* 256 rows: weights stay in L2 */
    static const int types[] = {QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q8_0,
                                QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_Q8_K};
    static const char *const levels[] = {"scalar", "avx2", "avx512"};
    float *f = malloc(N * sizeof *f), *out = malloc(N * sizeof *out);
    for (int i = 0; i < N; i++)
        f[i] = sinf((float)i * 0.37f) * 2.0f + cosf((float)i * 0.011f);
    uint8_t *w = malloc((size_t)rows * N * 4), *act = malloc(N * 4);
    printf("ns per row of %d (%d rows)     vec_dot                  dequant                  quantize\n", N, rows);
    printf("type   %8s %8s %8s   %8s %8s %8s   %8s %8s %8s\n", "scalar", "avx2", "avx512", "scalar", "avx2",
           "avx512", "scalar", "avx2", "avx512");
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const int type = types[t];
        const size_t rb = quant_row_bytes(type, N);
        double res[3][3] = {{0}};
        for (int l = 0; l < 3; l++) {
            const quant_kernels *k = quant_kernels_for(type, levels[l]);
            if (!quant_cpu_has(levels[l]) || !k)
                continue;
            for (int r = 0; r < rows; r++)
                k->quantize(f, w + (size_t)r * rb, N);
            float sum = 0, s;
            if (k->vec_dot) {
                const int at = quant_act_type(type);
                quant_kernels_for(at, levels[l])->quantize(f, act, N);
                double best = 1e30;
                for (int rep = 0; rep < 5; rep++) {
                    const double t0 = now_ns();
                    for (int r = 0; r < rows; r++) {
                        k->vec_dot(N, &s, w + (size_t)r * rb, act);
                        sum += s;
                    }
                    const double dt = (now_ns() - t0) / rows;
                    best = dt < best ? dt : best;
                }
                res[0][l] = best;
            }
            double best = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                const double t0 = now_ns();
                for (int r = 0; r < rows; r++)
                    k->dequant(w + (size_t)r * rb, out, N);
                const double dt = (now_ns() - t0) / rows;
                best = dt < best ? dt : best;
            }
            res[1][l] = best;
            best = 1e30;
            for (int rep = 0; rep < 3; rep++) {
                const int qr = rows < 32 ? rows : 32;
                const double t0 = now_ns();
                for (int r = 0; r < qr; r++)
                    k->quantize(f, w + (size_t)r * rb, N);
                const double dt = (now_ns() - t0) / qr;
                best = dt < best ? dt : best;
            }
            res[2][l] = best;
            if (sum == 12345.678f)
                printf(" ");
        }
        printf("%-5s ", quant_traits_of(type)->name);
        for (int op = 0; op < 3; op++) {
            for (int l = 0; l < 3; l++)
                if (res[op][l] > 0) printf(" %8.0f", res[op][l]); else printf(" %8s", "-");
            printf("  ");
        }
        printf("\n");
    }
    free(f);
    free(out);
    free(w);
    free(act);
    return 0;
}
