/*
 * gemm_f16_test.c - the F16 weight GEMM behind kern_matmul's batches: the
 * AVX-512 twin gives the scalar twin's bits (one fmaf chain per element)
 * over row strips with missing rows, k lengths across and between the
 * packed slices, every token tail, strided rows, and writes nothing
 * outside its block; kern_matmul on F16 weights gives those bits with 1,
 * 2 and 3 threads taking the strips.
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "kern/kern.h"
#include "pool/pool.h"
#include "quant/quant.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x6a09e667f3bcc909ull;

/* Values spread over a few binades, so a different summation order would
 * change the last bits. */
static float spread(void)
{
    return t_sym(&rng) * (float)(1 << (t_rand(&rng) % 6));
}

static void check_twins(int n_rows, int n_in, int n_tok, float *pack)
{
    size_t ldw = (size_t)n_in + 3, ldx = (size_t)n_in + 5, ldy = (size_t)n_rows + 9;
    uint16_t *w = malloc((size_t)n_rows * ldw * sizeof *w);
    float *x = malloc((size_t)n_tok * ldx * sizeof *x);
    float *y1 = malloc((size_t)n_tok * ldy * sizeof *y1), *y2 = malloc((size_t)n_tok * ldy * sizeof *y2);
    for (size_t i = 0; i < (size_t)n_rows * ldw; i++)
        w[i] = quant_f32_to_f16(spread());
    for (size_t i = 0; i < (size_t)n_tok * ldx; i++)
        x[i] = spread();
    memset(y1, 0x7f, (size_t)n_tok * ldy * sizeof *y1);
    memset(y2, 0x7f, (size_t)n_tok * ldy * sizeof *y2);
    kern_gemm_f16_scalar(w, ldw, n_rows, n_in, x, ldx, n_tok, y1, ldy, pack);
    kern_gemm_f16_avx512(w, ldw, n_rows, n_in, x, ldx, n_tok, y2, ldy, pack);
    int bad = -1;
    for (size_t i = 0; i < (size_t)n_tok * ldy && bad < 0; i++)
        if (memcmp(&y1[i], &y2[i], sizeof *y1))
            bad = (int)i;
    T_CHECK(bad < 0, "rows %d, k %d, tokens %d: AVX-512 twin differs at t %d o %d: %.9g vs %.9g",
            n_rows, n_in, n_tok, bad < 0 ? 0 : bad / (int)ldy, bad < 0 ? 0 : bad % (int)ldy,
            bad < 0 ? 0 : y1[bad], bad < 0 ? 0 : y2[bad]);
    free(w);
    free(x);
    free(y1);
    free(y2);
}

/* kern_matmul on an F16 matrix whose row count is no multiple of the
 * strip: each element the scalar twin's bits on the activations rounded
 * to F16 (the path's activation type), whatever the number of threads. */
static int check_matmul(void)
{
    const int n_out = 200, n_in = 300, n_tok = 37;
    size_t rb = quant_row_bytes(QT_F16, n_in);
    uint16_t *w = malloc((size_t)n_out * rb);
    float *x = malloc((size_t)n_tok * n_in * sizeof *x), *xr = malloc((size_t)n_tok * n_in * sizeof *xr);
    float *want = malloc((size_t)n_tok * n_out * sizeof *want);
    float *got = malloc((size_t)n_tok * n_out * sizeof *got);
    uint16_t *h = malloc((size_t)n_in * sizeof *h);
    for (size_t i = 0; i < (size_t)n_out * n_in; i++)
        w[i] = quant_f32_to_f16(spread());
    for (int t = 0; t < n_tok; t++) {
        for (int i = 0; i < n_in; i++)
            x[(size_t)t * n_in + i] = spread();
        quant_quantize_row(QT_F16, x + (size_t)t * n_in, h, n_in);
        quant_dequant_row(QT_F16, h, xr + (size_t)t * n_in, n_in);
    }
    kern_gemm_f16_scalar(w, (size_t)n_in, n_out, n_in, xr, (size_t)n_in, n_tok, want,
                         (size_t)n_out, NULL);
    kern_mat m = {.data = w, .type = QT_F16, .n_in = n_in, .n_out = n_out, .row_bytes = rb};
    for (int nth = 1; nth <= 3; nth++) {
        pool *p = NULL;
        kern_ws *ws = NULL;
        chord_err err;
        T_REQUIRE(pool_new(nth, &p, &err) == CHORD_OK, "%s", err.msg);
        T_REQUIRE(kern_ws_new(nth, n_tok, n_in, &ws, &err) == CHORD_OK, "%s", err.msg);
        memset(got, 0xff, (size_t)n_tok * n_out * sizeof *got);
        kern_matmul(p, ws, &m, x, n_tok, got, n_out);
        int bad = 0;
        for (size_t i = 0; i < (size_t)n_tok * n_out; i++)
            bad += memcmp(&got[i], &want[i], sizeof *got) != 0;
        T_CHECK(!bad, "%d thread(s): %d of %d elements off the scalar twin's bits", nth, bad,
                n_tok * n_out);
        kern_ws_free(ws);
        pool_free(p);
    }
    free(w);
    free(x);
    free(xr);
    free(want);
    free(got);
    free(h);
    return 0;
}

int main(void)
{
    chord_init();
    if (!quant_cpu_has("avx512") || strcmp(chord_simd_level(), "avx512") != 0) {
        printf("no AVX-512 (or CHORD_SIMD below it): kern_matmul keeps sgemm, nothing to compare\n");
        return t_done();
    }
    float *pack = aligned_alloc(64, KERN_GEMM_PACK_FLOATS * sizeof(float));
    T_REQUIRE(pack, "out of memory");
    static const int rows[] = {1, 15, 16, 17, 50, 63, 64};
    static const int ks[] = {1, 7, 16, 33, KERN_GEMM_KC, KERN_GEMM_KC + 1, 2 * KERN_GEMM_KC + 45};
    for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (int n_tok = 1; n_tok <= 13; n_tok++)
                check_twins(rows[ri], ks[ki], n_tok, pack);
    free(pack);
    check_matmul();
    return t_done();
}
