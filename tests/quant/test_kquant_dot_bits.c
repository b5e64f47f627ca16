/*
 * test_kquant_dot_bits.c - the AVX-512 k-quant dot products give the
 * scalar twin's bits exactly (quant_kquants_avx512.c promises it, and
 * quant_gemm's blocked kernels rely on it), for every count of
 * super-blocks from 1 to 9: even counts take the two-super-block loop,
 * odd ones its one-block tail.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant.h"
#include "quant/quant_types.h"
#include "t.h"

#define MAX_SB 9
#define N_MAX (256 * MAX_SB)

static unsigned long long rng = 0x9E3779B97F4A7C15ull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

int main(void)
{
    chord_init();
    if (!quant_cpu_has("avx512"))
        t_skip("no AVX-512 on this CPU");
    static const int types[] = {QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K};
    static float f[N_MAX], g[N_MAX];
    static uint8_t w[N_MAX * 2], act[N_MAX * 2];
    const quant_kernels *q8k = quant_kernels_for(QT_Q8_K, "scalar");
    T_REQUIRE(q8k != NULL, "no Q8_K kernels");
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const quant_kernels *ks = quant_kernels_for(types[t], "scalar");
        const quant_kernels *kv = quant_kernels_for(types[t], "avx512");
        T_REQUIRE(ks && kv, "kernels of type %d", types[t]);
        int differ = 0, total = 0;
        for (int nsb = 1; nsb <= MAX_SB; nsb++) {
            const int n = 256 * nsb;
            for (int rep = 0; rep < 40; rep++) {
                /* spread the magnitudes per super-block so that the float
                 * order of the per-block terms matters */
                for (int i = 0; i < n; i++) {
                    const float scale = (float)(1 + (i / 256 + rep) % 7) * (i % 97 == 0 ? 40.0f : 1.0f);
                    f[i] = frand() * scale;
                    g[i] = frand() * (rep % 3 ? 1.0f : 1000.0f);
                }
                ks->quantize(f, w, n);
                q8k->quantize(g, act, n);
                float s1, s2;
                ks->vec_dot(n, &s1, w, act);
                kv->vec_dot(n, &s2, w, act);
                differ += memcmp(&s1, &s2, sizeof s1) != 0;
                total++;
            }
        }
        T_CHECK(differ == 0, "type %d: %d of %d avx512 dots differ from the scalar bits", types[t], differ,
                total);
    }
    return t_done();
}
