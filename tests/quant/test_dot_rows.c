/*
 * test_dot_rows.c - every vec_dot_rows kernel (decode's matrix-vector
 * product) against the vec_dot of its own level, bit for bit: kern uses
 * the rows kernel for one token and vec_dot for short batches, and the
 * two must agree (quant.h). Row lengths cover the prepared-activation
 * path, odd block counts and rows too long to prepare (the fallback),
 * element tails for F16; rows are strided with padding between them, and
 * scales include extremes (zero, subnormal, largest half).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* The Q8_0-activation block types whose rows kernels prepare pairs of
 * activation blocks (odd counts and long rows take the fallback). */
static int q8_family(int type)
{
    return type == QT_Q8_0 || type == QT_Q4_0 || type == QT_Q5_0;
}

/* Overwrites some block scales (the leading half of each block) with
 * extremes so the float part of the kernel sees them too. */
static void spike_scales(int type, uint8_t *row, int64_t n)
{
    static const uint16_t extremes[] = {0x0000, 0x0001, 0x7bff, 0xfbff, 0x8001, 0x0400};
    if (!q8_family(type))
        return;
    const size_t bb = quant_row_bytes(type, QK8_0);
    for (int64_t b = 0; b < n / QK8_0; b++)
        if (t_rand(&rng) % 7 == 0) {
            uint16_t h = extremes[t_rand(&rng) % (sizeof extremes / sizeof *extremes)];
            memcpy(row + b * bb, &h, 2);
        }
}

static int check(int type, const char *level, int64_t n, int n_rows)
{
    const quant_kernels *k = quant_kernels_for(type, level);
    const int at = quant_act_type(type);
    const size_t rb = quant_row_bytes(type, n), stride = rb + 6;
    uint8_t *w = malloc(stride * (size_t)(n_rows ? n_rows : 1));
    uint8_t *act = malloc(quant_row_bytes(at, n));
    float *f = malloc((size_t)n * sizeof *f), *got = malloc((n_rows + 1) * sizeof *got);
    int bad = 0;
    if (!w || !act || !f || !got) {
        T_CHECK(0, "out of memory");
        goto out;
    }
    for (int r = 0; r < n_rows; r++) {
        const float scale = (float)(t_rand(&rng) % 64 + 1) / 8.0f;
        for (int64_t i = 0; i < n; i++)
            f[i] = t_gauss(&rng) * scale;
        quant_quantize_row(type, f, w + (size_t)r * stride, n);
        spike_scales(type, w + (size_t)r * stride, n);
        memset(w + (size_t)r * stride + rb, 0xA5, stride - rb);
    }
    for (int64_t i = 0; i < n; i++)
        f[i] = t_gauss(&rng) * 3.0f;
    quant_quantize_row(at, f, act, n);
    got[n_rows] = 12345.0f; /* must stay: the kernel writes n_rows results */
    k->vec_dot_rows(n, got, w, stride, n_rows, act);
    for (int r = 0; r < n_rows; r++) {
        float want;
        k->vec_dot(n, &want, w + (size_t)r * stride, act);
        if (memcmp(&want, &got[r], sizeof want) != 0) {
            if (!bad)
                T_CHECK(0, "%s %s n=%lld row %d of %d: %.9g, vec_dot %.9g", quant_traits_of(type)->name,
                        level, (long long)n, r, n_rows, got[r], want);
            bad++;
        }
    }
    T_CHECK(got[n_rows] == 12345.0f, "%s %s n=%lld: wrote past %d rows", quant_traits_of(type)->name, level,
            (long long)n, n_rows);
out:
    free(w);
    free(act);
    free(f);
    free(got);
    return bad;
}

int main(void)
{
    chord_init();
    static const char *const levels[] = {"scalar", "avx2", "avx512"};
    static const int64_t q8_n[] = {32, 64, 96, 1152, 2048, 5632, 8192, 8256, 16416};
    static const int64_t f16_n[] = {1, 15, 16, 17, 64, 100, 2048, 5632, 8192, 8200};
    static const int rows[] = {0, 1, 7, 33};
    int kernels = 0;
    for (int l = 0; l < 3; l++) {
        if (!quant_cpu_has(levels[l]))
            continue;
        for (int type = 0; type < QT_COUNT; type++) {
            const quant_kernels *k = quant_kernels_for(type, levels[l]);
            if (!k || !k->vec_dot_rows)
                continue;
            T_CHECK(k->vec_dot, "%s %s: vec_dot_rows without vec_dot", quant_traits_of(type)->name, levels[l]);
            /* rows are made by the quantizer: read-only types (IQ1_S,
             * IQ1_M) are checked on raw blocks by their group's test */
            if (!quant_kernels_for(type, "scalar")->quantize)
                continue;
            kernels++;
            const int64_t *ns = q8_family(type) ? q8_n : f16_n;
            const size_t nn = q8_family(type) ? sizeof q8_n / sizeof *q8_n : sizeof f16_n / sizeof *f16_n;
            const int64_t blk = quant_traits_of(type)->block;
            for (size_t i = 0; i < nn; i++)
                for (size_t r = 0; r < sizeof rows / sizeof *rows; r++)
                    if (ns[i] % blk == 0)
                        check(type, levels[l], ns[i], rows[r]);
        }
    }
    /* the AVX-512 level has Q8_0, Q4_0, Q5_0 and F16 rows kernels: a CPU
     * with it that tests fewer means the table lost them */
    if (quant_cpu_has("avx512"))
        T_CHECK(kernels >= 4, "only %d vec_dot_rows kernels at the levels this CPU runs", kernels);
    return t_done();
}
