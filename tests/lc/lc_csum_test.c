/*
 * lc_csum_test.c - the read checksum's AVX2 loop gives exactly the portable
 * loop's state, whatever the split into pieces (multiples of 64 bytes, then
 * a tail), and a changed byte or two swapped words change the state.
 */
#include <stdlib.h>
#include <string.h>

#include "lc/lc_impl.h"
#include "t.h"

typedef void (*csum_fn)(uint64_t h[LC_CSUM_WORDS], const uint8_t *p, uint64_t n);

/* The state after feeding p[0..n) in pieces of `piece` bytes (a multiple
 * of 64) and the remainder as the last call, as lc_read_group does. */
static void feed(csum_fn f, const uint8_t *p, uint64_t n, uint64_t piece, uint64_t h[LC_CSUM_WORDS])
{
    for (int i = 0; i < LC_CSUM_WORDS; i++)
        h[i] = (uint64_t)i + 1;
    uint64_t done = 0;
    while (done < n) {
        uint64_t k = n - done < piece ? n - done : piece;
        f(h, p + done, k);
        done += k;
    }
}

int main(void)
{
    uint64_t n = 3 * 4096 + 77;
    uint8_t *p = malloc(n + 1);
    T_REQUIRE(p != NULL, "malloc");
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (uint64_t i = 0; i < n + 1; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    uint64_t ref[LC_CSUM_WORDS], h[LC_CSUM_WORDS];
    feed(lc_csum_portable, p, n, n, ref);
    uint64_t pieces[] = {64, 128, 4096, 64 * 97};
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
        feed(lc_csum_portable, p, n, pieces[k], h);
        T_CHECK(memcmp(h, ref, sizeof h) == 0, "portable, pieces of %llu: state differs",
                (unsigned long long)pieces[k]);
        if (__builtin_cpu_supports("avx2")) {
            feed(lc_csum_avx2, p, n, pieces[k], h);
            T_CHECK(memcmp(h, ref, sizeof h) == 0, "avx2, pieces of %llu: state differs",
                    (unsigned long long)pieces[k]);
            /* unaligned start */
            uint64_t r2[LC_CSUM_WORDS];
            feed(lc_csum_portable, p + 1, n, pieces[k], r2);
            feed(lc_csum_avx2, p + 1, n, pieces[k], h);
            T_CHECK(memcmp(h, r2, sizeof h) == 0, "avx2 unaligned, pieces of %llu: state differs",
                    (unsigned long long)pieces[k]);
        }
    }
    /* a flipped byte anywhere, and two swapped words, change the state */
    uint64_t spots[] = {0, 63, 64, 5000, n - 1};
    for (size_t k = 0; k < sizeof spots / sizeof *spots; k++) {
        p[spots[k]] ^= 0x10;
        feed(lc_csum_portable, p, n, 4096, h);
        T_CHECK(memcmp(h, ref, sizeof h) != 0, "byte %llu flipped: same state",
                (unsigned long long)spots[k]);
        p[spots[k]] ^= 0x10;
    }
    uint64_t w0, w1;
    memcpy(&w0, p + 128, 8);
    memcpy(&w1, p + 192, 8);
    memcpy(p + 128, &w1, 8);
    memcpy(p + 192, &w0, 8);
    feed(lc_csum_portable, p, n, 4096, h);
    T_CHECK(memcmp(h, ref, sizeof h) != 0, "words swapped: same state");
    free(p);
    return t_done();
}
