/*
 * model_attn_twins.c - the attention kernel's AVX2 twin gives the scalar
 * reference's bits exactly (random heads, sizes and context lengths,
 * including rescaling of the accumulator when the maximum moves), and the
 * scalar kernel agrees with a plain double-precision softmax attention
 * within F16 rounding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "kern/kern.h"
#include "quant/quant.h"
#include "t.h"

static uint64_t rng = 88172645463325252ull;

int main(void)
{
    chord_init();
    bool simd = quant_cpu_has("avx2");
    const int hds[] = {32, 64, 128};
    const int lens[] = {1, 2, 3, 17, 200};
    uint16_t tmp[2 * 128];
    float q[128], a[128], b[128];
    for (int hi = 0; hi < 3; hi++) {
        for (int li = 0; li < 5; li++) {
            int hd = hds[hi], n = lens[li];
            size_t ld = (size_t)hd * 3; /* a row holds other heads too */
            uint16_t *k = malloc((size_t)n * ld * sizeof *k), *v = malloc((size_t)n * ld * sizeof *v);
            for (size_t i = 0; i < (size_t)n * ld; i++) {
                k[i] = quant_f32_to_f16(t_sym(&rng) * 3.0f);
                v[i] = quant_f32_to_f16(t_sym(&rng));
            }
            for (int d = 0; d < hd; d++)
                q[d] = t_sym(&rng) * 2.0f;
            float scale = 1.0f / sqrtf((float)hd);
            kern_attn_head_scalar(q, k, v, ld, n, hd, scale, tmp, a);

            /* Plain attention in double over the same F16 inputs. */
            double *sc = malloc((size_t)n * sizeof *sc), mx = -INFINITY, sum = 0, worst = 0;
            for (int p = 0; p < n; p++) {
                double s = 0;
                for (int d = 0; d < hd; d++)
                    s += (double)quant_f16_to_f32(k[p * ld + d]) * quant_f16_to_f32(quant_f32_to_f16(q[d]));
                sc[p] = s * scale;
                mx = fmax(mx, sc[p]);
            }
            for (int p = 0; p < n; p++)
                sum += (sc[p] = exp(sc[p] - mx));
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int p = 0; p < n; p++)
                    o += sc[p] / sum * quant_f16_to_f32(v[p * ld + d]);
                worst = fmax(worst, fabs(o - a[d]));
            }
            T_CHECK(worst < 4e-3, "hd %d n %d: scalar vs double attention differ by %g", hd, n, worst);

            if (simd) {
                kern_attn_head_avx2(q, k, v, ld, n, hd, scale, tmp, b);
                T_CHECK(!memcmp(a, b, (size_t)hd * sizeof *a), "hd %d n %d: AVX2 twin differs from scalar", hd, n);
            }
            free(sc);
            free(k);
            free(v);
        }
    }
    if (!simd)
        printf("no AVX2 here: only the scalar kernel was checked\n");
    return t_done();
}
