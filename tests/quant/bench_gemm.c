/*
 * bench_gemm.c - not a test: CPU time of the three ways to multiply a
 * quantized matrix by T tokens on one thread (blocked int8 GEMM,
 * per-token vec_dot, dequantize 64-row tiles + sgemm), for the path
 * table in kern.c. Thread CPU time, so that a busy machine distorts the
 * comparison less than wall time would.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord.h"
#include "quant/quant_impl.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    chord_init();
    openblas_set_num_threads(1);
    const int types[] = {QT_Q4_K, QT_Q6_K, QT_Q8_0, QT_Q4_0};
    const int shapes[][2] = {{2048, 2048}, {5632, 2048}};
    const int toks[] = {2, 4, 8, 16, 64, 512};
    const int max_rows = argc > 1 ? atoi(argv[1]) : 512; /* rows measured (scaled) */
    printf("type  rows x n     T    gemm us/tok   dots us/tok  sgemm us/tok  gemm GOP/s\n");
    for (int ti = 0; ti < 4; ti++)
        for (int si = 0; si < 2; si++) {
            const int type = types[ti], n = shapes[si][1];
            const int rows = shapes[si][0] < max_rows ? shapes[si][0] : max_rows;
            const int at = quant_act_type(type);
            const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(at, n);
            uint8_t *w = malloc(rb * rows), *a = malloc(ab * 512);
            float *f = malloc(sizeof(float) * (size_t)n * 512), *out = malloc(sizeof(float) * rows * 512);
            float *tile = malloc(sizeof(float) * 64 * (size_t)n), *xr = malloc(sizeof(float) * (size_t)n * 512);
            for (size_t i = 0; i < (size_t)n * 512; i++)
                f[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
            for (int r = 0; r < rows; r++)
                quant_quantize_row(type, f + (size_t)(r % 512) * n, w + r * rb, n);
            for (int t = 0; t < 512; t++) {
                quant_quantize_row(at, f + (size_t)t * n, a + t * ab, n);
                quant_dequant_row(at, a + t * ab, xr + (size_t)t * n, n);
            }
            for (int k = 0; k < 6; k++) {
                const int T = toks[k];
                double t0 = cpu_now();
                quant_gemm(type, n, w, rb, 0, rows, a, ab, T, out, rows);
                double t1 = cpu_now();
                for (int r = 0; r < rows; r++)
                    for (int t = 0; t < T && (T < 64 || t < 64); t++)
                        quant_vec_dot(type, n, &out[t * rows + r], w + r * rb, a + t * ab);
                double t2 = cpu_now();
                for (int r0 = 0; r0 < rows; r0 += 64) {
                    const int nr = rows - r0 < 64 ? rows - r0 : 64;
                    for (int r = 0; r < nr; r++)
                        quant_dequant_row(type, w + (size_t)(r0 + r) * rb, tile + (size_t)r * n, n);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nr, n, 1.0f, xr, n, tile,
                                n, 0.0f, out + r0, rows);
                }
                double t3 = cpu_now();
                const double sc = (double)shapes[si][0] / rows * 1e6;
                const int tdots = T < 64 ? T : 64;
                printf("%-5s %4dx%-5d %4d  %11.1f  %12.1f  %12.1f  %9.1f\n", quant_traits_of(type)->name,
                       shapes[si][0], n, T, (t1 - t0) * sc / T, (t2 - t1) * sc / tdots,
                       (t3 - t2) * sc / T, 2.0 * rows * n * T / (t1 - t0) * 1e-9);
                fflush(stdout);
            }
            free(w), free(a), free(f), free(out), free(tile), free(xr);
        }
    return 0;
}
