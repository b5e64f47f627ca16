/*
 * test_convert.c - quant_half_conversions_exhaustive: every one of the
 * 65536 binary16 and bfloat16 values converts to the float it encodes and
 * back to itself (NaN stays NaN), and float -> half rounds to nearest even
 * exactly at and around every midpoint between neighbouring halves.
 */
#include <math.h>
#include <string.h>

#include "chord.h"
#include "quant/quant.h"
#include "t.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The value of a finite half from its fields, computed independently in
 * double: (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 if e == 0. */
static double half_value(uint16_t h)
{
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    const double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
    return s ? -v : v;
}

static void test_f16(void)
{
    int bad_value = 0, bad_back = 0, bad_mid = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = quant_f16_to_f32((uint16_t)h);
        const int e = (h >> 10) & 31, m = h & 1023;
        if (e == 31) {
            const int want_nan = m != 0;
            if (isnan(f) != want_nan || (!want_nan && f != ((h >> 15) ? -INFINITY : INFINITY)))
                bad_value++;
            const uint16_t back = quant_f32_to_f16(f);
            if (want_nan ? !((back & 0x7c00) == 0x7c00 && (back & 0x3ff) && (back >> 15) == (h >> 15))
                         : back != h)
                bad_back++;
            continue;
        }
        if ((double)f != half_value((uint16_t)h) || !!signbit(f) != (int)(h >> 15))
            bad_value++;
        if (quant_f32_to_f16(f) != h)
            bad_back++;
        /* The midpoint to the next half up in magnitude (exact in float)
         * goes to the even one of the two; one float ulp either side
         * goes to the nearer one. */
        if (e == 30 && m == 1023) {
            const float mid = (h >> 15) ? -65520.0f : 65520.0f; /* ties to even: inf */
            if (quant_f32_to_f16(mid) != (uint16_t)((h & 0x8000) | 0x7c00) ||
                quant_f32_to_f16(nextafterf(mid, 0.0f)) != h)
                bad_mid++;
            continue;
        }
        const uint16_t up = (uint16_t)(h + 1);
        const float fu = quant_f16_to_f32(up);
        const float mid = (float)(((double)f + (double)fu) / 2);
        const uint16_t even = (h & 1) ? up : (uint16_t)h;
        if (quant_f32_to_f16(mid) != even ||
            quant_f32_to_f16(nextafterf(mid, f)) != h ||
            quant_f32_to_f16(nextafterf(mid, fu)) != up)
            bad_mid++;
    }
    T_EQ_INT(bad_value, 0);
    T_EQ_INT(bad_back, 0);
    T_EQ_INT(bad_mid, 0);
    /* Tiny values: below half the smallest subnormal they flush to zero,
     * just above it they round up to it. */
    T_EQ_INT(quant_f32_to_f16(ldexpf(1.0f, -25)), 0);
    T_EQ_INT(quant_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)), 1);
    T_EQ_INT(quant_f32_to_f16(-1e-30f), 0x8000);
    T_EQ_INT(quant_f32_to_f16(1e30f), 0x7c00);
    T_EQ_INT(quant_f32_to_f16(1.0f), 0x3c00);
    T_EQ_INT(quant_f32_to_f16(-2.0f), 0xc000);
    T_EQ_INT(quant_f32_to_f16(0.1f), 0x2e66);
}

static void test_bf16(void)
{
    int bad = 0, bad_mid = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = quant_bf16_to_f32((uint16_t)h);
        if (bits_of(f) != h << 16)
            bad++;
        const uint16_t back = quant_f32_to_bf16(f);
        if (isnan(f) ? !isnan(quant_bf16_to_f32(back)) || (back >> 15) != (h >> 15) : back != h)
            bad++;
        if (isnan(f) || isinf(f) || (h & 0x7fff) == 0x7f7f)
            continue;
        /* midpoint to the next bf16 up in magnitude: ties to even */
        const uint32_t mid = (h << 16) | 0x8000;
        const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (quant_f32_to_bf16(float_of(mid)) != even ||
            quant_f32_to_bf16(float_of(mid - 1)) != h ||
            quant_f32_to_bf16(float_of(mid + 1)) != (uint16_t)(h + 1))
            bad_mid++;
    }
    T_EQ_INT(bad, 0);
    T_EQ_INT(bad_mid, 0);
    /* a NaN whose payload sits only in the dropped bits must not become inf */
    const uint16_t n = quant_f32_to_bf16(float_of(0x7f800001u));
    T_CHECK(isnan(quant_bf16_to_f32(n)), "signalling NaN became 0x%04x", n);
    T_EQ_INT(quant_f32_to_bf16(float_of(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds to inf */
}

int main(void)
{
    chord_init();
    test_f16();
    test_bf16();
    return t_done();
}
