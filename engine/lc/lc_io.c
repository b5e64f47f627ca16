/*
 * lc_io.c - how the layer cache reads a group: its layout in a buffer, the
 * reads themselves (buffered + fadvise, or O_DIRECT), and checksums.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "lc/lc_impl.h"

/* Tensors of a layer are usually adjacent in the file, separated only by
 * alignment padding; gaps up to this size are read through rather than
 * split into separate reads. */
#define LC_MERGE_GAP 4096

static uint64_t align_down(uint64_t x, uint64_t a) { return x - x % a; }
static uint64_t align_up(uint64_t x, uint64_t a) { return align_down(x + a - 1, a); }

static const lc_grp *sort_grp;
static int cmp_ext(const void *a, const void *b)
{
    const lc_extent *x = &sort_grp->ext[*(const int *)a], *y = &sort_grp->ext[*(const int *)b];
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Runs are built over the extents sorted by file and offset (a run never
 * spans two files: a layer of a split model may); each run starts and
 * ends on `align` in the file and in the buffer, so an extent keeps its
 * file offset modulo `align` in memory (GGUF's 32-byte tensor alignment
 * survives) and O_DIRECT gets aligned offsets, lengths and addresses. */
bool lc_layout(lc_grp *gr, size_t align)
{
    free(gr->runs);
    free(gr->pos);
    gr->runs = NULL;
    gr->n_runs = 0;
    gr->cost = 0;
    gr->pos = calloc(gr->n > 0 ? (size_t)gr->n : 1, sizeof *gr->pos);
    int *order = malloc((gr->n > 0 ? (size_t)gr->n : 1) * sizeof *order);
    gr->runs = malloc((gr->n > 0 ? (size_t)gr->n : 1) * sizeof *gr->runs);
    if (!gr->pos || !order || !gr->runs) {
        free(order);
        return false;
    }
    int m = 0;
    for (int k = 0; k < gr->n; k++)
        if (gr->ext[k].size > 0)
            order[m++] = k;
    /* qsort has no context argument; lc_open runs single-threaded per
     * cache, but two caches may open at once, so guard the static */
    static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&sort_mu);
    sort_grp = gr;
    qsort(order, (size_t)m, sizeof *order, cmp_ext);
    pthread_mutex_unlock(&sort_mu);

    size_t buf_end = 0;
    lc_run *cur = NULL;
    uint64_t cur_end = 0;  /* end of the payload covered by cur */
    for (int i = 0; i < m; i++) {
        const lc_extent *e = &gr->ext[order[i]];
        uint64_t end = e->offset + e->size;
        if (!cur || e->file != cur->file || e->offset > cur_end + LC_MERGE_GAP) {
            cur = &gr->runs[gr->n_runs++];
            cur->file = e->file;
            cur->file_lo = align_down(e->offset, align);
            cur->buf_pos = buf_end;
            cur_end = end;
        } else if (end > cur_end) {
            cur_end = end;
        }
        cur->need = cur_end - cur->file_lo;
        cur->len = align_up(cur_end, align) - cur->file_lo;
        buf_end = cur->buf_pos + cur->len;
        gr->pos[order[i]] = cur->buf_pos + (size_t)(e->offset - cur->file_lo);
    }
    gr->cost = buf_end;
    free(order);
    return true;
}

/* Reads are issued in pieces of this size and each piece is checksummed as
 * soon as it has arrived, while it is still in the CPU's caches: a
 * checksum pass over a whole layer afterwards would read it from DRAM a
 * second time, which cost as much as the read itself (half of a loader's
 * time in a profile). 512 KiB: the piece and its page-cache source fit the
 * 1 MiB L2 together, so the checksum reads it from L2 (4 MiB pieces were
 * read back from L3 or DRAM); 800 preads per 400 MiB cost well under a
 * millisecond, and the disk still gets large requests through readahead. */
#define LC_READ_PIECE ((uint64_t)512 << 10) /* PROBE_READ_PIECE in engine/probe/probe.c must match */

static const uint64_t CSUM_P = 0x9e3779b97f4a7c15ull;

/* A Fletcher-style sum over 8-byte words in eight lanes (a 64-byte block
 * per step): per lane a sum of the words and a sum of those running sums,
 * so any changed word changes the first and a moved one the second. Adds
 * only, and two independent 32-byte chains per block: the AVX2 version
 * lc_csum_avx2 (same result) runs at about 100 GB/s on a piece still in
 * L2, against about 50 with one four-lane chain, which was a fifth of the
 * page-cache copy's time. h holds LC_CSUM_WORDS words; n is a multiple of
 * 64 except on a run's last call. */
void lc_csum_portable(uint64_t h[LC_CSUM_WORDS], const uint8_t *p, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int l = 0; l < 8; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] += w;
            h[8 + l] += h[l];
        }
    for (; i < n; i++) {
        h[0] += p[i];
        h[8] += h[0];
    }
}

static void csum_bytes(uint64_t h[LC_CSUM_WORDS], const uint8_t *p, uint64_t n)
{
    if (__builtin_cpu_supports("avx2"))
        lc_csum_avx2(h, p, n);
    else
        lc_csum_portable(h, p, n);
}

chord_status lc_fds_open(const lc_cache *lc, int flags, int *fds, const char *what,
                         chord_err *err)
{
    for (int f = 0; f < lc->n_files; f++)
        fds[f] = -1;
    for (int f = 0; f < lc->n_files; f++) {
        fds[f] = open(lc->paths[f], flags);
        if (fds[f] < 0) {
            int e = errno;
            lc_fds_close(f, fds);
            return err_errno(err, CHORD_E_IO, e, "%s: open for %s", lc->paths[f], what);
        }
    }
    return CHORD_OK;
}

void lc_fds_close(int n, int *fds)
{
    for (int f = 0; fds && f < n; f++)
        if (fds[f] >= 0) {
            close(fds[f]);
            fds[f] = -1;
        }
}

bool lc_read_group(const lc_grp *gr, const int *fds, bool release, uint8_t *buf,
                   int fault, uint64_t *sum, lc_fail *why)
{
    uint64_t h[LC_CSUM_WORDS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    /* the injected checksum fault flips the group's first payload byte as
     * it arrives, before the checksum sees it, as a bad disk would */
    size_t flip = SIZE_MAX;
    if (fault == LC_FAULT_CHECKSUM)
        for (int k = 0; k < gr->n; k++)
            if (gr->ext[k].size > 0) {
                flip = gr->pos[k];
                break;
            }
    for (int r = 0; r < gr->n_runs; r++) {
        const lc_run *run = &gr->runs[r];
        int fd = fds[run->file];
        if (fault == LC_FAULT_EIO) {
            *why = (lc_fail){EIO, run->file_lo, "read", run->file};
            return false;
        }
        uint64_t got = 0, summed = 0;
        uint64_t want = run->len;
        if (fault == LC_FAULT_SHORT && r == gr->n_runs - 1)
            want = run->need / 2;  /* pretend the file ends mid-run */
        uint8_t *dst = buf + run->buf_pos;
        while (got < run->need) {
            if (got >= want) {
                *why = (lc_fail){0, run->file_lo + got, "short read", run->file};
                return false;
            }
            uint64_t piece = want - got < LC_READ_PIECE ? want - got : LC_READ_PIECE;
            ssize_t n = pread(fd, dst + got, (size_t)piece, (off_t)(run->file_lo + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                *why = (lc_fail){errno, run->file_lo + got, "read", run->file};
                return false;
            }
            if (n == 0) {
                *why = (lc_fail){0, run->file_lo + got, "short read", run->file};
                return false;
            }
            got += (uint64_t)n;
            uint64_t end = got >= run->need ? run->need : got / 64 * 64;
            if (flip >= run->buf_pos + summed && flip < run->buf_pos + end) {
                buf[flip] ^= 0x5a;
                flip = SIZE_MAX;
            }
            csum_bytes(h, dst + summed, end - summed);
            summed = end;
        }
        h[1] += run->need;  /* run boundaries matter too */
        /* a stream the page cache cannot hold would only push other
         * files out of it (see keep_cache in lc.c); advisory, so its
         * failure is not an error */
        if (release)
            (void)posix_fadvise(fd, (off_t)run->file_lo, (off_t)run->len,
                                POSIX_FADV_DONTNEED);
    }
    uint64_t x = h[0];
    for (int l = 1; l < LC_CSUM_WORDS; l++)
        x = (x ^ (h[l] >> 29) ^ h[l]) * CSUM_P;
    *sum = x ^ (x >> 32);
    return true;
}

int64_t lc_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : (int64_t)kb * 1024;
}

double lc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t chord_mem_available(void)
{
    return lc_mem_available();
}
