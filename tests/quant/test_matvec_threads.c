/*
 * test_matvec_threads.c - decode's matrix-vector product (kern_matmul_multi
 * with one token) gives every output element the bits of the vec_dot of
 * the level in use, whatever the number of threads taking its pieces of
 * rows (1, 2, 3), for the types with a rows kernel and one without, over
 * shapes whose row counts do not divide into whole pieces; and so does a
 * short batch (3 tokens: the dots, strips of rows taken from a counter).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "kern/kern.h"
#include "pool/pool.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

int main(void)
{
    chord_init();
    static const int types[] = {QT_Q8_0, QT_F16, QT_Q4_K, QT_F32};
    static const int n_out[3] = {2053, 61, 700}; /* q / k / v-like, not piece multiples */
    const int n_in = 2048;
    float *x = malloc(n_in * sizeof *x), *src = malloc(n_in * sizeof *src);
    T_REQUIRE(x && src, "out of memory");
    for (int i = 0; i < n_in; i++)
        x[i] = t_sym(&rng) * 4.0f;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int type = types[ti], at = quant_act_type(type);
        kern_mat w[3];
        float *want[3], *got[3];
        for (int m = 0; m < 3; m++) {
            w[m] = (kern_mat){.type = type, .n_in = n_in, .n_out = n_out[m],
                              .row_bytes = quant_row_bytes(type, n_in)};
            uint8_t *d = malloc(w[m].row_bytes * (size_t)n_out[m]);
            want[m] = malloc((size_t)n_out[m] * sizeof(float));
            got[m] = malloc((size_t)n_out[m] * sizeof(float));
            T_REQUIRE(d && want[m] && got[m], "out of memory");
            for (int r = 0; r < n_out[m]; r++) {
                for (int i = 0; i < n_in; i++)
                    src[i] = t_sym(&rng) * (float)(r % 13 + 1);
                quant_quantize_row(type, src, d + (size_t)r * w[m].row_bytes, n_in);
            }
            w[m].data = d;
        }
        uint8_t *act = malloc(quant_row_bytes(at, n_in));
        T_REQUIRE(act, "out of memory");
        quant_quantize_row(at, x, act, n_in);
        for (int m = 0; m < 3; m++)
            for (int r = 0; r < n_out[m]; r++)
                quant_vec_dot(type, n_in, &want[m][r],
                              (const uint8_t *)w[m].data + (size_t)r * w[m].row_bytes, act);
        for (int nth = 1; nth <= 3; nth++) {
            pool *p = NULL;
            kern_ws *ws = NULL;
            chord_err err;
            T_REQUIRE(pool_new(nth, &p, &err) == CHORD_OK, "%s", err.msg);
            T_REQUIRE(kern_ws_new(nth, 3, n_in, &ws, &err) == CHORD_OK, "%s", err.msg);
            for (int n_mat = 1; n_mat <= 3; n_mat++) {
                for (int m = 0; m < 3; m++)
                    memset(got[m], 0xff, (size_t)n_out[m] * sizeof(float));
                kern_matmul_multi(p, ws, w, n_mat, x, 1, got);
                for (int m = 0; m < n_mat; m++) {
                    int bad = 0;
                    for (int r = 0; r < n_out[m]; r++)
                        bad += memcmp(&got[m][r], &want[m][r], sizeof(float)) != 0;
                    T_CHECK(!bad, "%s, %d thread(s), %d matrices: matrix %d has %d of %d rows off the vec_dot bits",
                            quant_traits_of(type)->name, nth, n_mat, m, bad, n_out[m]);
                }
            }
            /* three copies of x as a batch: each token's row is want[0] */
            float *x3 = malloc(3 * (size_t)n_in * sizeof *x3), *y3 = malloc(3 * (size_t)n_out[0] * sizeof *y3);
            T_REQUIRE(x3 && y3, "out of memory");
            for (int t = 0; t < 3; t++)
                memcpy(x3 + (size_t)t * n_in, x, (size_t)n_in * sizeof *x);
            memset(y3, 0xff, 3 * (size_t)n_out[0] * sizeof *y3);
            kern_matmul(p, ws, &w[0], x3, 3, y3, n_out[0]);
            int bad = 0;
            for (int t = 0; t < 3; t++)
                for (int r = 0; r < n_out[0]; r++)
                    bad += memcmp(&y3[(size_t)t * n_out[0] + r], &want[0][r], sizeof(float)) != 0;
            T_CHECK(!bad, "%s, %d thread(s), 3 tokens: %d of %d outputs off the vec_dot bits",
                    quant_traits_of(type)->name, nth, bad, 3 * n_out[0]);
            free(x3);
            free(y3);
            kern_ws_free(ws);
            pool_free(p);
        }
        free(act);
        for (int m = 0; m < 3; m++) {
            free((void *)w[m].data);
            free(want[m]);
            free(got[m]);
        }
    }
    free(x);
    free(src);
    return t_done();
}
