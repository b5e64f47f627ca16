/*
 * quant.c - the dispatch tables: one row of kernels per type for each SIMD
 * level, filled once by quant_init(), and the public entry points that
 * index the table of the level in use.
 *
 * The scalar table is complete; the avx2 table starts as a copy of it and
 * the avx512 table as a copy of the avx2 one, and each SIMD file overwrites
 * the kernels it has a twin for: a missing twin means the level below.
 */
#include "chord.h"
#include "quant/quant_impl.h"

#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { LVL_SCALAR, LVL_AVX2, LVL_AVX512, LVL_COUNT };
static const char *const level_names[LVL_COUNT] = {"scalar", "avx2", "avx512"};

static quant_kernels tables[LVL_COUNT][QT_COUNT];
static const quant_kernels *active = tables[LVL_SCALAR];
static int active_level = LVL_SCALAR;
static int tables_ready;
static atomic_int initialized; /* quant_init has picked the active table */

static void fill_scalar(quant_kernels *t)
{
#define K(type, name) t[type] = (quant_kernels){.dequant = quant_dequant_##name, .quantize = quant_quantize_##name, .vec_dot = quant_vec_dot_##name}
    K(QT_F32, f32);
    K(QT_F16, f16);
    K(QT_BF16, bf16);
    K(QT_Q4_0, q4_0);
    K(QT_Q4_1, q4_1);
    K(QT_Q5_0, q5_0);
    K(QT_Q5_1, q5_1);
    K(QT_Q8_0, q8_0);
    K(QT_Q2_K, q2_K);
    K(QT_Q3_K, q3_K);
    K(QT_Q4_K, q4_K);
    K(QT_Q5_K, q5_K);
    K(QT_Q6_K, q6_K);
#undef K
    /* activation-only formats: no dot product of their own */
    t[QT_Q8_1] = (quant_kernels){.dequant = quant_dequant_q8_1, .quantize = quant_quantize_q8_1};
    t[QT_Q8_K] = (quant_kernels){.dequant = quant_dequant_q8_K, .quantize = quant_quantize_q8_K};
    quant_register_iq4(t);
    quant_register_iq23(t);
    quant_register_iq1tq(t);
}

static void build_tables(void)
{
    if (tables_ready)
        return;
    fill_scalar(tables[LVL_SCALAR]);
    memcpy(tables[LVL_AVX2], tables[LVL_SCALAR], sizeof tables[LVL_AVX2]);
    quant_register_float_avx2(tables[LVL_AVX2]);
    quant_register_legacy_avx2(tables[LVL_AVX2]);
    quant_register_kquants_avx2(tables[LVL_AVX2]);
    quant_register_iq4_avx2(tables[LVL_AVX2]);
    quant_register_iq23_avx2(tables[LVL_AVX2]);
    quant_register_iq1tq_avx2(tables[LVL_AVX2]);
    memcpy(tables[LVL_AVX512], tables[LVL_AVX2], sizeof tables[LVL_AVX512]);
    quant_register_float_avx512(tables[LVL_AVX512]);
    quant_register_legacy_avx512(tables[LVL_AVX512]);
    quant_register_kquants_avx512(tables[LVL_AVX512]);
    quant_register_iq4_avx512(tables[LVL_AVX512]);
    quant_register_iq23_avx512(tables[LVL_AVX512]);
    quant_register_iq1tq_avx512(tables[LVL_AVX512]);
    tables_ready = 1;
}

/* CPUID leaf 7 / leaf 1 bits, plus XGETBV: the OS must save the YMM (and
 * for AVX-512 the ZMM and mask) registers, or using them faults. */
static unsigned cpu_features(void)
{
    enum { F_AVX2 = 1, F_AVX512 = 2 };
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
              f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6) /* XMM and YMM state */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    unsigned f = 0;
    if (((b >> 5) & 1) && fma && f16c)
        f |= F_AVX2;
    const int avx512f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1,
              vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    const int bf16 = (a1 >> 5) & 1;
    if ((f & F_AVX2) && avx512f && dq && bw && vl && vnni && bf16 && (xlo & 0xe6) == 0xe6)
        f |= F_AVX512;
    return f;
}

int quant_cpu_has(const char *level)
{
    if (!strcmp(level, "scalar"))
        return 1;
    const unsigned f = cpu_features();
    if (!strcmp(level, "avx2"))
        return (f & 1) != 0;
    if (!strcmp(level, "avx512"))
        return (f & 2) != 0;
    return 0;
}

void quant_init(void)
{
    build_tables();
    int lvl = LVL_SCALAR;
    for (int l = LVL_COUNT - 1; l > LVL_SCALAR; l--) {
        if (quant_cpu_has(level_names[l])) {
            lvl = l;
            break;
        }
    }
    /* A forced level is honoured only as far as the CPU goes: asking for
     * avx512 on an avx2 machine must not crash with SIGILL. */
    const char *force = getenv("CHORD_SIMD");
    if (force) {
        for (int l = 0; l < LVL_COUNT; l++)
            if (!strcmp(force, level_names[l]) && l < lvl)
                lvl = l;
    }
    active_level = lvl;
    active = tables[lvl];
    atomic_store_explicit(&initialized, 1, memory_order_release);
}

/* The entry points below need the table: a caller that skipped
 * chord_init() gets it here (chord_init is once-only and thread-safe)
 * instead of a NULL kernel. */
static inline const quant_kernels *table(void)
{
    if (!atomic_load_explicit(&initialized, memory_order_acquire))
        chord_init();
    return active;
}

const char *quant_simd_name(void)
{
    return level_names[active_level];
}

const quant_kernels *quant_kernels_for(int type, const char *level)
{
    build_tables();
    const quant_traits *t = quant_traits_of(type);
    if (!t || (!t->supported && type != QT_Q8_K && type != QT_Q8_1))
        return NULL;
    if (!level)
        return &active[type];
    for (int l = 0; l < LVL_COUNT; l++)
        if (!strcmp(level, level_names[l]))
            return &tables[l][type];
    return NULL;
}

void quant_dequant_row(int type, const void *src, float *dst, int64_t n)
{
    table()[type].dequant(src, dst, n);
}

void quant_quantize_row(int type, const float *src, void *dst, int64_t n)
{
    table()[type].quantize(src, dst, n);
}

int quant_act_type(int type)
{
    switch (type) {
    case QT_F32: case QT_F16: case QT_BF16:
        return type;
    case QT_Q4_0: case QT_Q5_0: case QT_Q8_0: case QT_IQ4_NL: case QT_MXFP4:
        return QT_Q8_0;
    case QT_Q4_1: case QT_Q5_1:
        return QT_Q8_1;
    case QT_Q2_K: case QT_Q3_K: case QT_Q4_K: case QT_Q5_K: case QT_Q6_K:
    case QT_IQ2_XXS: case QT_IQ2_XS: case QT_IQ2_S: case QT_IQ3_XXS: case QT_IQ3_S:
    case QT_IQ1_S: case QT_IQ1_M: case QT_IQ4_XS: case QT_TQ1_0: case QT_TQ2_0:
        return QT_Q8_K;
    default:
        return -1;
    }
}

void quant_vec_dot(int type, int64_t n, float *out, const void *w_row, const void *act_row)
{
    table()[type].vec_dot(n, out, w_row, act_row);
}
