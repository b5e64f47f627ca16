/*
 * test_codebook.c - quant_codebook_kernels: every table of quant_codebook.h
 * pinned down. A codebook is part of its format's definition (a file
 * quantized with one grid decodes only with that grid), so an edit to any
 * value must fail here, and loudly.
 *
 * Three kinds of check per table:
 * - its size, in elements and bytes;
 * - the structure the format definitions give it: the magnitudes each
 *   grid may hold, the parity rule of the sign table, the E2M1 values,
 *   no grid point stored twice;
 * - a 64-bit FNV-1a hash of its bytes, computed once from tables that were
 *   compared element by element with the format's published ones, so a
 *   value that is structurally plausible but wrong is caught too.
 */
#include <stdlib.h>
#include <string.h>

#include "quant/quant_codebook.h"
#include "t.h"

static uint64_t fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Number of points stored more than once among n points. */
static int duplicates(const uint64_t *pts, size_t n)
{
    uint64_t *s = malloc(n * sizeof *s);
    if (!s)
        return -1;
    memcpy(s, pts, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    int dup = 0;
    for (size_t i = 1; i < n; i++)
        dup += s[i] == s[i - 1];
    free(s);
    return dup;
}

/* Every byte of an 8-byte grid point: is it allowed by the predicate? */
typedef int (*byte_ok_fn)(uint8_t b);

static int iq2_mag(uint8_t b) { return b == 8 || b == 25 || b == 43; }
/* IQ3_XXS's eight levels step by 8 from 4, except the top one: 62, not 60
 * (the format's own value, as published) */
static int iq3xxs_mag(uint8_t b)
{
    return b == 62 || (b >= 4 && b <= 52 && b % 8 == 4);
}
static int iq3s_mag(uint8_t b) { return b >= 1 && b <= 15 && b % 2 == 1; }
static int iq1s_val(uint8_t b) { return (int8_t)b >= -1 && (int8_t)b <= 1; }

/* Counts the bytes of a table (bytes of `bytes_per_point` per point) that
 * break the rule, and checks its points are distinct. */
static void check_grid(const char *name, const void *tab, size_t points, size_t bytes_per_point,
                       byte_ok_fn ok)
{
    const uint8_t *b = tab;
    int bad = 0, first = -1;
    for (size_t i = 0; i < points * bytes_per_point; i++) {
        if (!ok(b[i])) {
            if (first < 0)
                first = (int)i;
            bad++;
        }
    }
    T_CHECK(bad == 0, "%s: %d bytes outside the format's values, first at byte %d (%d)", name, bad, first,
            first >= 0 ? b[first] : 0);
    uint64_t *pts = malloc(points * sizeof *pts);
    T_CHECK(pts != NULL, "%s: out of memory", name);
    if (!pts)
        return;
    for (size_t i = 0; i < points; i++) {
        pts[i] = 0;
        memcpy(&pts[i], b + i * bytes_per_point, bytes_per_point);
    }
    T_EQ_INT(duplicates(pts, points), 0);
    free(pts);
}

/* The fixed hashes (FNV-1a 64 of each table's bytes, little-endian). */
#define HASH_KMASK 0x0af7003a53c25e16ull
#define HASH_KSIGNS 0xf19ba8f8c3292ba5ull
#define HASH_IQ2XXS 0xbb4ee025b5ac6e8eull
#define HASH_IQ2XS 0xc9b1ee61e79909bdull
#define HASH_IQ2S 0x123edd38a3b62b90ull
#define HASH_IQ3XXS 0xdfa5dc83d6a155d5ull
#define HASH_IQ3S 0xfa37020c25b44829ull
#define HASH_IQ4NL 0x055d06d2d8fa0f75ull
#define HASH_MXFP4 0x3f0e3c08af1e5eb5ull
#define HASH_IQ1S 0x6703ed863501ae2eull

static void check_hash(const char *name, const void *tab, size_t bytes, uint64_t want)
{
    const uint64_t got = fnv1a64(tab, bytes);
    T_CHECK(got == want, "%s: FNV-1a 0x%016llxull, pinned 0x%016llxull", name, (unsigned long long)got,
            (unsigned long long)want);
}

int main(void)
{
    /* sizes: the header declares the lengths, the definitions must agree */
    T_EQ_INT(sizeof quant_kmask_iq2xs, 8);
    T_EQ_INT(sizeof quant_ksigns_iq2xs, 128);
    T_EQ_INT(sizeof quant_iq2xxs_grid, 256 * 8);
    T_EQ_INT(sizeof quant_iq2xs_grid, 512 * 8);
    T_EQ_INT(sizeof quant_iq2s_grid, 1024 * 8);
    T_EQ_INT(sizeof quant_iq3xxs_grid, 256 * 4);
    T_EQ_INT(sizeof quant_iq3s_grid, 512 * 4);
    T_EQ_INT(sizeof quant_kvalues_iq4nl, 16);
    T_EQ_INT(sizeof quant_kvalues_mxfp4, 16);
    T_EQ_INT(sizeof quant_iq1s_grid, 2048 * 8);

    /* sign tables */
    for (int j = 0; j < 8; j++)
        T_EQ_INT(quant_kmask_iq2xs[j], 1 << j);
    for (int i = 0; i < 128; i++)
        T_EQ_INT(quant_ksigns_iq2xs[i], i | ((__builtin_popcount((unsigned)i) & 1) << 7));

    /* grids: the magnitudes each format may hold, no point twice */
    check_grid("iq2xxs_grid", quant_iq2xxs_grid, 256, 8, iq2_mag);
    check_grid("iq2xs_grid", quant_iq2xs_grid, 512, 8, iq2_mag);
    check_grid("iq2s_grid", quant_iq2s_grid, 1024, 8, iq2_mag);
    check_grid("iq3xxs_grid", quant_iq3xxs_grid, 256, 4, iq3xxs_mag);
    check_grid("iq3s_grid", quant_iq3s_grid, 512, 4, iq3s_mag);
    check_grid("iq1s_grid", quant_iq1s_grid, 2048, 8, iq1s_val);

    /* IQ4_NL: 16 levels, strictly increasing, inside int8 */
    for (int i = 1; i < 16; i++)
        T_CHECK(quant_kvalues_iq4nl[i] > quant_kvalues_iq4nl[i - 1], "kvalues_iq4nl not increasing at %d", i);

    /* MXFP4: code i is E2M1 (sign bit 3, exponent bits 2-1, mantissa bit
     * 0; exponent 0 is subnormal: m * 0.5), stored doubled so it is an
     * integer */
    for (int i = 0; i < 16; i++) {
        const int e = (i >> 1) & 3, m = i & 1;
        const int twice = e == 0 ? m : (2 + m) << (e - 1);
        T_EQ_INT(quant_kvalues_mxfp4[i], i & 8 ? -twice : twice);
    }

    check_hash("kmask_iq2xs", quant_kmask_iq2xs, sizeof quant_kmask_iq2xs, HASH_KMASK);
    check_hash("ksigns_iq2xs", quant_ksigns_iq2xs, sizeof quant_ksigns_iq2xs, HASH_KSIGNS);
    check_hash("iq2xxs_grid", quant_iq2xxs_grid, sizeof quant_iq2xxs_grid, HASH_IQ2XXS);
    check_hash("iq2xs_grid", quant_iq2xs_grid, sizeof quant_iq2xs_grid, HASH_IQ2XS);
    check_hash("iq2s_grid", quant_iq2s_grid, sizeof quant_iq2s_grid, HASH_IQ2S);
    check_hash("iq3xxs_grid", quant_iq3xxs_grid, sizeof quant_iq3xxs_grid, HASH_IQ3XXS);
    check_hash("iq3s_grid", quant_iq3s_grid, sizeof quant_iq3s_grid, HASH_IQ3S);
    check_hash("kvalues_iq4nl", quant_kvalues_iq4nl, sizeof quant_kvalues_iq4nl, HASH_IQ4NL);
    check_hash("kvalues_mxfp4", quant_kvalues_mxfp4, sizeof quant_kvalues_mxfp4, HASH_MXFP4);
    check_hash("iq1s_grid", quant_iq1s_grid, sizeof quant_iq1s_grid, HASH_IQ1S);
    return t_done();
}
