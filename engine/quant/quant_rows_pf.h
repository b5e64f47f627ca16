/*
 * quant_rows_pf.h - the software prefetch of the decode kernels that read
 * a group of weight rows side by side (four rows: the k-quants', IQ4_XS's
 * and the IQ2/IQ3 rows kernels; four or eight: the ternary and IQ1 ones;
 * x86 only).
 *
 * Four rows read block by block are four streams. Long rows are long
 * enough streams for the hardware prefetchers, and asking, at each block,
 * for the same block of the next group's four rows is then enough (a
 * 2048-row of Q4_K from DRAM at 87-95 ns without it, 66 with, on an
 * Emerald Rapids Xeon). Short rows are not: a 2048-element Q4_K row is 18
 * cache lines, too few for a stream to be trained before it ends, and on
 * a Zen 4 EPYC the four-stream request left two threads at 18-21 GB/s of
 * 55. Requesting the next group's bytes in address order instead, as far
 * into them as this group has come, reads them at 27-47 GB/s (median
 * 38); rows of 4096 and 5632 elements gain less (28-32 -> 30-47 and
 * 27-35 -> 18-41), rows of 11008 and 14336 lose (33-39 -> 19-30), so
 * rows longer than ROWS_PF_LINEAR_MAX bytes keep the four streams.
 * Prefetches past the matrix do not fault; nothing depends on them.
 */
#ifndef CHORD_QUANT_ROWS_PF_H
#define CHORD_QUANT_ROWS_PF_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define ROWS_PF_LINEAR_MAX 4096

/* Called once per block i (of bs bytes) of a group of g rows whose first
 * row starts at row0, rows row_bytes apart (g a constant where inlined).
 * Always inlined: as a call, GCC finds a function of prefetches alone
 * free of side effects and drops the call. */
static inline __attribute__((always_inline)) void rows_prefetch(int g, const void *row0, size_t row_bytes,
                                                                int64_t i, size_t bs)
{
    const char *next = (const char *)row0 + (size_t)g * row_bytes;
    if (row_bytes <= ROWS_PF_LINEAR_MAX) {
        /* g bs bytes a block: the whole next group over this one */
        const char *pf = next + (size_t)i * g * bs;
        for (size_t o = 0; o < (size_t)g * bs; o += 64)
            _mm_prefetch(pf + o, _MM_HINT_T0);
        return;
    }
    /* block i of each next row: its first bytes' lines (the next
     * block's request covers a straddled last line) */
    for (int k = 0; k < g; k++) {
        const char *pf = next + (size_t)k * row_bytes + (size_t)i * bs;
        for (size_t o = 0; o < bs; o += 64)
            _mm_prefetch(pf + o, _MM_HINT_T0);
    }
}

static inline __attribute__((always_inline)) void rows4_prefetch(const void *row0, size_t row_bytes, int64_t i,
                                                                 size_t bs)
{
    rows_prefetch(4, row0, row_bytes, i, bs);
}

#endif
