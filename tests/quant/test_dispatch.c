/*
 * test_dispatch.c - quant_dispatch: the level picked at start (the best the
 * CPU has, lowered but never raised by CHORD_SIMD), the table lookups, the
 * activation type of every weight type, the type table against the block
 * layouts, and entry points that work even before chord_init().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_impl.h"
#include "t.h"

int main(void)
{
    unsetenv("CHORD_SIMD");
    /* a caller that forgot chord_init() still gets working kernels */
    float x[32], y[32];
    block_q8_0 q;
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i - 16);
    quant_quantize_row(QT_Q8_0, x, &q, 32);
    quant_dequant_row(QT_Q8_0, &q, y, 32);
    for (int i = 0; i < 32; i++) /* within half a step of d = 16/127 */
        T_CHECK(fabsf(y[i] - x[i]) <= 0.064f, "uninitialized use: x[%d] = %g came back %g", i, x[i], y[i]);
    chord_init();
    const char *best = quant_cpu_has("avx512") ? "avx512" : quant_cpu_has("avx2") ? "avx2" : "scalar";
    T_EQ_STR(quant_simd_name(), best);
    T_EQ_STR(chord_simd_level(), best);
    printf("best level on this CPU: %s\n", best);

    /* forcing: a level at or below the best is taken, above it is capped,
     * nonsense is ignored */
    static const char *const levels[] = {"scalar", "avx2", "avx512"};
    for (int l = 0; l < 3; l++) {
        setenv("CHORD_SIMD", levels[l], 1);
        quant_init();
        const char *want = quant_cpu_has(levels[l]) ? levels[l] : best;
        T_EQ_STR(quant_simd_name(), want);
        T_CHECK(quant_kernels_for(QT_Q4_K, NULL) == quant_kernels_for(QT_Q4_K, want),
                "active table is not the %s one", want);
    }
    setenv("CHORD_SIMD", "bogus", 1);
    quant_init();
    T_EQ_STR(quant_simd_name(), best);
    unsetenv("CHORD_SIMD");
    quant_init();

    T_CHECK(quant_kernels_for(QT_Q2_K + 100, "scalar") == NULL, "id out of range");
    T_CHECK(quant_kernels_for(QT_Q4_0, "sse9") == NULL, "unknown level");
    T_CHECK(quant_kernels_for(999, "scalar") == NULL, "unknown type");
    const quant_kernels *k8 = quant_kernels_for(QT_Q8_K, "scalar");
    T_CHECK(k8 && k8->quantize && k8->dequant && !k8->vec_dot, "Q8_K: quantize and dequant only");
    const quant_kernels *k81 = quant_kernels_for(QT_Q8_1, "scalar");
    T_CHECK(k81 && k81->quantize && k81->dequant && !k81->vec_dot, "Q8_1: quantize and dequant only");

    static const struct { int type, act; size_t block_bytes; } map[] = {
        {QT_F32, QT_F32, 4}, {QT_F16, QT_F16, 2}, {QT_BF16, QT_BF16, 2},
        {QT_Q4_0, QT_Q8_0, sizeof(block_q4_0)}, {QT_Q4_1, QT_Q8_1, sizeof(block_q4_1)},
        {QT_Q5_0, QT_Q8_0, sizeof(block_q5_0)}, {QT_Q5_1, QT_Q8_1, sizeof(block_q5_1)},
        {QT_Q8_0, QT_Q8_0, sizeof(block_q8_0)}, {QT_Q2_K, QT_Q8_K, sizeof(block_q2_K)},
        {QT_Q3_K, QT_Q8_K, sizeof(block_q3_K)}, {QT_Q4_K, QT_Q8_K, sizeof(block_q4_K)},
        {QT_Q5_K, QT_Q8_K, sizeof(block_q5_K)}, {QT_Q6_K, QT_Q8_K, sizeof(block_q6_K)},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        const quant_traits *t = quant_traits_of(map[i].type);
        T_CHECK(t && t->supported, "type %d supported", map[i].type);
        T_EQ_INT(quant_act_type(map[i].type), map[i].act);
        if (t)
            T_EQ_INT(t->bytes, map[i].block_bytes);
        for (int l = 0; l < 3; l++) {
            const quant_kernels *k = quant_kernels_for(map[i].type, levels[l]);
            T_CHECK(k && k->dequant && k->quantize && k->vec_dot, "%s: %s kernels incomplete",
                    t ? t->name : "?", levels[l]);
        }
    }
    T_EQ_INT(quant_traits_of(QT_Q8_K)->bytes, sizeof(block_q8_K));
    T_EQ_INT(quant_traits_of(QT_Q8_1)->bytes, sizeof(block_q8_1));
    T_EQ_INT(quant_act_type(QT_Q8_1), -1);
    T_EQ_INT(quant_act_type(QT_Q8_K), -1);
    return t_done();
}
