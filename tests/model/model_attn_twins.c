/*
 * model_attn_twins.c - the attention kernel's AVX2 twin gives the scalar
 * reference's bits exactly (random heads, sizes and context lengths,
 * including rescaling of the accumulator when the maximum moves), and the
 * scalar kernel agrees with a plain double-precision softmax attention
 * within F16 rounding; likewise for a window of positions, for the same
 * window read from a ring of rows (bit for bit what the flat rows give),
 * and with soft-capped scores; all of it in both numerics (the reference's
 * flash-attention kernel and its unfused graph).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "kern/kern.h"
#include "quant/quant.h"
#include "t.h"

static uint64_t rng = 88172645463325252ull;

/* Plain attention in double over positions lo..hi-1 of flat F16 rows. */
static double double_attn_err(const float *q, const uint16_t *k, const uint16_t *v, size_t ld,
                              int lo, int hi, int hd, float scale, float cap, const float *got)
{
    int n = hi - lo;
    double *sc = malloc((size_t)n * sizeof *sc), mx = -INFINITY, sum = 0, worst = 0;
    for (int p = lo; p < hi; p++) {
        double s = 0;
        for (int d = 0; d < hd; d++)
            s += (double)quant_f16_to_f32(k[p * ld + d]) * quant_f16_to_f32(quant_f32_to_f16(q[d]));
        s *= scale;
        if (cap > 0)
            s = cap * tanh(s / cap);
        sc[p - lo] = s;
        mx = fmax(mx, s);
    }
    for (int i = 0; i < n; i++)
        sum += (sc[i] = exp(sc[i] - mx));
    for (int d = 0; d < hd; d++) {
        double o = 0;
        for (int p = lo; p < hi; p++)
            o += sc[p - lo] / sum * quant_f16_to_f32(v[p * ld + d]);
        worst = fmax(worst, fabs(o - got[d]));
    }
    free(sc);
    return worst;
}

int main(void)
{
    chord_init();
    bool simd = quant_cpu_has("avx2");
    const int hds[] = {32, 64, 128};
    const int lens[] = {1, 2, 3, 17, 200};
    static uint32_t tmp32[1024]; /* kern_attn_tmp_halves(128, 200) halves, 4-byte aligned */
    uint16_t *tmp = (uint16_t *)tmp32;
    float q[128], a[128], b[128], r[128];
    for (int hi = 0; hi < 3; hi++) {
        for (int li = 0; li < 5; li++) {
          /* variant 0: all positions; 1: a window of 7; 2: soft-capped;
           * 3-5: the same, unfused */
          for (int var = 0; var < 6; var++) {
            bool unfused = var >= 3;
            int hd = hds[hi], n = lens[li];
            size_t ld = (size_t)hd * 3; /* a row holds other heads too */
            uint16_t *k = malloc((size_t)n * ld * sizeof *k), *v = malloc((size_t)n * ld * sizeof *v);
            for (size_t i = 0; i < (size_t)n * ld; i++) {
                k[i] = quant_f32_to_f16(t_sym(&rng) * (var % 3 == 2 ? 30.0f : 3.0f));
                v[i] = quant_f32_to_f16(t_sym(&rng));
            }
            for (int d = 0; d < hd; d++)
                q[d] = t_sym(&rng) * 2.0f;
            float scale = 1.0f / sqrtf((float)hd);
            int window = var % 3 == 1 ? 7 : 0;
            kern_attn_span sp = {.k = k, .v = v, .ld = ld, .lo = window && n > window ? n - window : 0,
                                 .hi = n, .scale = scale, .softcap = var % 3 == 2 ? 5.0f : 0.0f,
                                 .unfused = unfused};
            kern_attn_head_scalar(q, &sp, hd, tmp, a);
            double worst = double_attn_err(q, k, v, ld, sp.lo, sp.hi, hd, scale, sp.softcap, a);
            T_CHECK(worst < 4e-3, "hd %d n %d variant %d: scalar vs double attention differ by %g",
                    hd, n, var, worst);

            if (window) {
                /* The same window from a ring of window + 3 rows: position p
                 * in row p % ring, the rows of older positions overwritten. */
                int ring = window + 3;
                uint16_t *rk = calloc((size_t)ring * ld, sizeof *rk), *rv = calloc((size_t)ring * ld, sizeof *rv);
                for (int p = 0; p < n; p++) {
                    memcpy(rk + (size_t)(p % ring) * ld, k + (size_t)p * ld, ld * sizeof *k);
                    memcpy(rv + (size_t)(p % ring) * ld, v + (size_t)p * ld, ld * sizeof *v);
                }
                kern_attn_span rs = sp;
                rs.k = rk;
                rs.v = rv;
                rs.ring = ring;
                kern_attn_head_scalar(q, &rs, hd, tmp, r);
                T_CHECK(!memcmp(a, r, (size_t)hd * sizeof *a), "hd %d n %d: ring differs from flat rows", hd, n);
                if (simd) {
                    kern_attn_head_avx2(q, &rs, hd, tmp, b);
                    T_CHECK(!memcmp(a, b, (size_t)hd * sizeof *a), "hd %d n %d: AVX2 ring differs", hd, n);
                }
                free(rk);
                free(rv);
            }
            if (simd) {
                kern_attn_head_avx2(q, &sp, hd, tmp, b);
                T_CHECK(!memcmp(a, b, (size_t)hd * sizeof *a), "hd %d n %d variant %d: AVX2 twin differs from scalar",
                        hd, n, var);
            }
            free(k);
            free(v);
          }
        }
    }
    if (!simd)
        printf("no AVX2 here: only the scalar kernel was checked\n");
    return t_done();
}
