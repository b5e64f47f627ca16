/*
 * probe.c - the machine's limits, measured in the same run as a benchmark
 * so that the speeds can be read as fractions of what the machine allows
 * under the same load: memory read and copy bandwidth, OpenBLAS sgemm at
 * the model's shapes (run the way kern runs it: one single-threaded sgemm
 * per thread over its share of the weight rows), the int8 multiply-add
 * peak of the SIMD level in use, and the disk's sequential read rate.
 */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chord.h"
#include "core/err.h"
#include "pool/pool.h"
#include "probe/probe.h"
#include "quant/quant.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The level the quant kernels use, so the probes measure what the engine
 * can reach and CHORD_SIMD forces both alike. */
static int simd_level(void)
{
    chord_init();
    const char *s = quant_simd_name();
    return !strcmp(s, "avx512") ? 2 : !strcmp(s, "avx2") ? 1 : 0;
}

static uint64_t read_scalar(const void *p, size_t n)
{
    const uint64_t *v = p;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n / 8; i += 4) {
        a0 += v[i];
        a1 += v[i + 1];
        a2 += v[i + 2];
        a3 += v[i + 3];
    }
    return a0 + a1 + a2 + a3;
}

typedef struct bw_job {
    uint8_t *src, *dst;  /* dst NULL: read only */
    size_t bytes;        /* multiple of 256 * nth */
    int level;
    uint64_t sink[64];
} bw_job;

static void bw_fn(void *arg, int ith, int nth)
{
    bw_job *j = arg;
    size_t chunk = j->bytes / (size_t)nth / 256 * 256;
    size_t off = chunk * (size_t)ith;
    if (j->dst) {
        memcpy(j->dst + off, j->src + off, chunk);
        return;
    }
    const uint8_t *p = j->src + off;
    uint64_t s = j->level == 2 ? probe_read_avx512(p, chunk)
               : j->level == 1 ? probe_read_avx2(p, chunk) : read_scalar(p, chunk);
    j->sink[ith & 63] += s;
}

/* Best of reps passes of bw_fn over a buffer touched beforehand (page
 * faults are not bandwidth). bytes counts what one pass reads. */
static chord_status bandwidth(int n_threads, size_t bytes, int reps, bool copy,
                              double *gb_s, chord_err *err)
{
    *gb_s = 0;
    if (n_threads < 1 || n_threads > 64 || reps < 1 || bytes < (1u << 16))
        return err_set(err, CHORD_E_INVALID, "memory probe: bad arguments (threads %d, %zu bytes, %d passes)",
                       n_threads, bytes, reps);
    bytes = bytes / (256u * (unsigned)n_threads) * 256u * (unsigned)n_threads;
    pool *p = NULL;
    chord_status st = pool_new(n_threads, &p, err);
    if (st != CHORD_OK)
        return st;
    bw_job j = {.bytes = bytes, .level = simd_level()};
    j.src = aligned_alloc(64, bytes);
    if (copy)
        j.dst = aligned_alloc(64, bytes);
    if (!j.src || (copy && !j.dst)) {
        st = err_set(err, CHORD_E_NOMEM, "memory probe: cannot allocate %zu MiB", bytes >> 20);
        goto done;
    }
    /* Distinct values, written by the threads that will read them. */
    /* bytes is a multiple of 256 * n_threads, not of the page: the last
     * page may be partial */
    for (size_t i = 0; i < bytes; i += 4096)
        memset(j.src + i, (int)(i >> 12), bytes - i < 4096 ? bytes - i : 4096);
    if (copy)
        memset(j.dst, 1, bytes);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        pool_run(p, bw_fn, &j);
        double dt = now_s() - t0;
        double rate = (double)bytes / dt / 1e9;
        if (rate > *gb_s)
            *gb_s = rate;
    }
done:
    free(j.src);
    free(j.dst);
    pool_free(p);
    return st;
}

chord_status chord_probe_mem_read(int n_threads, size_t bytes, int reps, double *gb_s,
                                  chord_err *err)
{
    return bandwidth(n_threads, bytes, reps, false, gb_s, err);
}

chord_status chord_probe_memcpy(int n_threads, size_t bytes, int reps, double *gb_s,
                                chord_err *err)
{
    return bandwidth(n_threads, bytes, reps, true, gb_s, err);
}

typedef struct gemm_job {
    int m, n_out, n_in;
    const float *x, *w;
    float *y;
} gemm_job;

/* y[m x n_out] = x[m x n_in] * W^T on this thread's rows of W, as kern's
 * sgemm path does (single-threaded BLAS inside chord's pool). */
static void gemm_fn(void *arg, int ith, int nth)
{
    gemm_job *j = arg;
    int lo, hi;
    pool_split(j->n_out, ith, nth, &lo, &hi);
    if (hi <= lo)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->m, hi - lo, j->n_in, 1.0f, j->x,
                j->n_in, j->w + (size_t)lo * (size_t)j->n_in, j->n_in, 0.0f, j->y + lo, j->n_out);
}

chord_status chord_probe_sgemm(int n_threads, int m, const int *shapes, int n_shapes, int reps,
                               double *gflops, chord_err *err)
{
    *gflops = 0;
    if (n_threads < 1 || m < 1 || n_shapes < 1 || reps < 1)
        return err_set(err, CHORD_E_INVALID, "sgemm probe: bad arguments (threads %d, m %d, %d shapes)",
                       n_threads, m, n_shapes);
    size_t max_w = 0, max_in = 0, max_out = 0;
    for (int s = 0; s < n_shapes; s++) {
        int n_out = shapes[2 * s], n_in = shapes[2 * s + 1];
        if (n_out < 1 || n_in < 1)
            return err_set(err, CHORD_E_INVALID, "sgemm probe: shape %d is %d x %d", s, n_out, n_in);
        if ((size_t)n_out * (size_t)n_in > max_w)
            max_w = (size_t)n_out * (size_t)n_in;
        if ((size_t)n_in > max_in)
            max_in = (size_t)n_in;
        if ((size_t)n_out > max_out)
            max_out = (size_t)n_out;
    }
    chord_init(); /* BLAS single-threaded: chord's pool splits the rows */
    pool *p = NULL;
    chord_status st = pool_new(n_threads, &p, err);
    if (st != CHORD_OK)
        return st;
    float *w = malloc(max_w * sizeof(float));
    float *x = malloc((size_t)m * max_in * sizeof(float));
    float *y = malloc((size_t)m * max_out * sizeof(float));
    if (!w || !x || !y) {
        st = err_set(err, CHORD_E_NOMEM, "sgemm probe: cannot allocate %zu MiB",
                     (max_w + (size_t)m * (max_in + max_out)) * sizeof(float) >> 20);
        goto done;
    }
    /* Small values of both signs: no denormals, no overflow. */
    for (size_t i = 0; i < max_w; i++)
        w[i] = (float)((int)(i % 61) - 30) * 0.001f;
    for (size_t i = 0; i < (size_t)m * max_in; i++)
        x[i] = (float)((int)(i % 37) - 18) * 0.01f;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double flops = 0, t0 = now_s();
        for (int s = 0; s < n_shapes; s++) {
            gemm_job j = {m, shapes[2 * s], shapes[2 * s + 1], x, w, y};
            pool_run(p, gemm_fn, &j);
            flops += 2.0 * m * shapes[2 * s] * (double)shapes[2 * s + 1];
        }
        double rate = flops / (now_s() - t0) / 1e9;
        if (rate > best)
            best = rate;
    }
    *gflops = best;
done:
    free(w);
    free(x);
    free(y);
    pool_free(p);
    return st;
}

/* The arithmetic peaks: every thread runs the same register-bound loop;
 * the rate counts all threads' operations over the wall time. */
typedef struct peak_job {
    const void *buf;
    int64_t iters;
    int kind;            /* 2 AVX-512, 1 AVX2, 0 scalar */
    bool fma;            /* float multiply-adds, else int8 dot products */
    float sink[64];      /* results, so the loops are not optimised away */
} peak_job;

static int32_t int8_scalar(const uint8_t *buf, int64_t iters)
{
    int32_t acc[16] = {0};
    for (int64_t i = 0; i < iters; i++)
        for (int k = 0; k < 16; k++)
            acc[k] += (int32_t)buf[(i + k) & 255] * (int8_t)buf[256 + k];
    int32_t s = 0;
    for (int k = 0; k < 16; k++)
        s += acc[k];
    return s;
}

static float fma_scalar(const float *buf, int64_t iters)
{
    float c[8];
    for (int k = 0; k < 8; k++)
        c[k] = buf[32 + k];
    for (int64_t i = 0; i < iters; i++)
        for (int k = 0; k < 8; k++)
            c[k] = c[k] * buf[0] + buf[16];
    return c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7];
}

static void peak_fn(void *arg, int ith, int nth)
{
    (void)nth;
    peak_job *j = arg;
    float r;
    if (j->fma)
        r = j->kind == 2 ? probe_fma_avx512(j->buf, j->iters)
          : j->kind == 1 ? probe_fma_avx2(j->buf, j->iters)
                         : fma_scalar(j->buf, j->iters);
    else
        r = (float)(j->kind == 2 ? probe_int8_vnni512(j->buf, j->iters)
                  : j->kind == 1 ? probe_int8_avx2(j->buf, j->iters)
                                 : int8_scalar(j->buf, j->iters));
    j->sink[ith & 63] = r;
}

/* Grows the loop until a pass takes 50 ms (timer noise, frequency
 * ramp-up), then keeps the best rate of the following passes. */
static chord_status peak_measure(int n_threads, peak_job *j, double ops_per_iter, double *rate,
                                 chord_err *err)
{
    pool *p = NULL;
    chord_status st = pool_new(n_threads, &p, err);
    if (st != CHORD_OK)
        return st;
    j->iters = 1 << 16;
    double best = 0;
    for (int pass = 0; pass < 16; pass++) {
        double t0 = now_s();
        pool_run(p, peak_fn, j);
        double dt = now_s() - t0;
        if (dt < 0.05) {
            j->iters *= 4;
            continue;
        }
        double r = ops_per_iter * (double)j->iters * n_threads / dt / 1e9;
        if (r > best)
            best = r;
        if (pass >= 6)
            break;
    }
    *rate = best;
    pool_free(p);
    return CHORD_OK;
}

chord_status chord_probe_int8(int n_threads, double *gops, const char **kind, chord_err *err)
{
    *gops = 0;
    if (kind)
        *kind = "scalar";
    if (n_threads < 1 || n_threads > 64)
        return err_set(err, CHORD_E_INVALID, "int8 probe: bad thread count %d", n_threads);
    peak_job j = {0};
    int level = simd_level();
    j.kind = level == 2 && __builtin_cpu_supports("avx512vnni") ? 2 : level >= 1 ? 1 : 0;
    double ops_per_iter = j.kind == 2 ? PROBE_INT8_OPS_VNNI : j.kind == 1 ? PROBE_INT8_OPS_AVX2 : 32;
    if (kind)
        *kind = j.kind == 2 ? "avx512-vnni vpdpbusd" : j.kind == 1 ? "avx2 vpmaddubsw" : "scalar";
    uint8_t *buf = aligned_alloc(64, 1024);
    if (!buf)
        return err_set(err, CHORD_E_NOMEM, "int8 probe: out of memory");
    for (int i = 0; i < 1024; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    j.buf = buf;
    chord_status st = peak_measure(n_threads, &j, ops_per_iter, gops, err);
    free(buf);
    return st;
}

chord_status chord_probe_fma(int n_threads, double *gflops, const char **kind, chord_err *err)
{
    *gflops = 0;
    if (kind)
        *kind = "scalar";
    if (n_threads < 1 || n_threads > 64)
        return err_set(err, CHORD_E_INVALID, "fma probe: bad thread count %d", n_threads);
    peak_job j = {.fma = true};
    j.kind = simd_level();
    double flops_per_iter = j.kind == 2 ? PROBE_FMA_FLOPS_AVX512 : j.kind == 1 ? PROBE_FMA_FLOPS_AVX2 : 16;
    if (kind)
        *kind = j.kind == 2 ? "avx512 vfmadd" : j.kind == 1 ? "avx2 vfmadd" : "scalar";
    float *buf = aligned_alloc(64, 128 * sizeof(float));
    if (!buf)
        return err_set(err, CHORD_E_NOMEM, "fma probe: out of memory");
    /* c = c * 0.5 + 0.5 converges to 1 from any start: no overflow, no
     * subnormals (which some CPUs run slowly) */
    for (int i = 0; i < 128; i++)
        buf[i] = i < 32 ? 0.5f : 1.0f + (float)i / 128;
    j.buf = buf;
    chord_status st = peak_measure(n_threads, &j, flops_per_iter, gflops, err);
    free(buf);
    return st;
}

chord_status chord_file_drop_cache(const char *path, chord_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(err, CHORD_E_IO, errno, "%s: open", path);
    /* Dirty pages (a file just written) are not dropped: write them first. */
    (void)fdatasync(fd);
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (rc != 0)
        return err_errno(err, CHORD_E_IO, rc, "%s: posix_fadvise(DONTNEED)", path);
    return CHORD_OK;
}

chord_status chord_probe_file_read(const char *path, int64_t max_bytes, bool drop_first,
                                   double *mb_s, chord_err *err)
{
    *mb_s = 0;
    if (drop_first) {
        chord_status st = chord_file_drop_cache(path, err);
        if (st != CHORD_OK)
            return st;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(err, CHORD_E_IO, errno, "%s: open", path);
    const size_t chunk = 8u << 20;
    char *buf = malloc(chunk);
    if (!buf) {
        close(fd);
        return err_set(err, CHORD_E_NOMEM, "%s: read probe: out of memory", path);
    }
    int64_t total = 0;
    chord_status st = CHORD_OK;
    double t0 = now_s();
    while (max_bytes <= 0 || total < max_bytes) {
        ssize_t n = pread(fd, buf, chunk, total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = err_errno(err, CHORD_E_IO, errno, "%s: read at offset %lld", path, (long long)total);
            break;
        }
        if (n == 0)
            break;
        total += n;
    }
    double dt = now_s() - t0;
    free(buf);
    close(fd);
    if (st == CHORD_OK && total > 0 && dt > 0)
        *mb_s = (double)total / dt / 1e6;
    return st;
}

/* The layer cache's read size (LC_READ_PIECE in engine/lc/lc_io.c): how
 * big each pread is changes how the kernel's readahead keeps the disk busy. */
#define PROBE_READ_PIECE ((int64_t)512 << 10)

typedef struct disk_reader {
    const char *path;
    int fd;
    int idx, n;              /* this reader takes blocks idx, idx + n, ... */
    int64_t limit, block;
    char *buf;
    int64_t bytes;           /* read this pass */
    bool drop;               /* release each block's pages after it */
    int err;                 /* errno of a failed read, else 0 */
    int64_t err_off;
} disk_reader;

static void *disk_reader_main(void *arg)
{
    disk_reader *r = arg;
    for (int64_t off = (int64_t)r->idx * r->block; off < r->limit;
         off += (int64_t)r->n * r->block) {
        int64_t want = r->limit - off < r->block ? r->limit - off : r->block, got = 0;
        while (got < want) {
            /* in pieces of PROBE_READ_PIECE, as the layer cache issues them */
            int64_t piece = want - got < PROBE_READ_PIECE ? want - got : PROBE_READ_PIECE;
            ssize_t k = pread(r->fd, r->buf + got, (size_t)piece, (off_t)(off + got));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                r->err = k < 0 ? errno : EIO;
                r->err_off = off + got;
                return NULL;
            }
            got += k;
        }
        r->bytes += got;
        if (r->drop)
            (void)posix_fadvise(r->fd, (off_t)off, (off_t)want, POSIX_FADV_DONTNEED);
    }
    return NULL;
}

/* The layer cache reads a layer (a few to hundreds of MiB) per prefetch
 * worker in 512 KiB preads, two workers at once: one stream at a time (the
 * old probe) under-reads a virtual disk that serves requests in parallel.
 * drop: pages dropped before each pass and after each block (the disk's
 * rate); else they stay, and after the untimed first pass every read is
 * served by the page cache (its copy-out rate). */
static chord_status pattern_read(const char *path, int64_t max_bytes, int64_t min_total,
                                 int64_t block_bytes, int n_readers, bool drop, double *mb_s,
                                 chord_err *err)
{
    *mb_s = 0;
    const char *what = drop ? "disk probe" : "page-cache probe";
    if (!path || n_readers < 1 || n_readers > 16 || block_bytes < 4096)
        return err_set(err, CHORD_E_INVALID, "%s: bad arguments (%d readers, %lld-byte blocks)",
                       what, n_readers, (long long)block_bytes);
    struct stat st;
    if (stat(path, &st) != 0)
        return err_errno(err, CHORD_E_IO, errno, "%s: stat", path);
    int64_t limit = max_bytes > 0 && max_bytes < (int64_t)st.st_size ? max_bytes : (int64_t)st.st_size;
    if (limit <= 0)
        return err_set(err, CHORD_E_INVALID, "%s: %s: empty file", path, what);
    disk_reader r[16];
    memset(r, 0, sizeof r);
    chord_status rc = CHORD_OK;
    for (int i = 0; i < n_readers && rc == CHORD_OK; i++) {
        r[i] = (disk_reader){.path = path, .idx = i, .n = n_readers, .limit = limit,
                             .block = block_bytes, .drop = drop, .fd = -1};
        r[i].fd = open(path, O_RDONLY | O_CLOEXEC);
        r[i].buf = malloc((size_t)block_bytes);
        if (r[i].fd < 0)
            rc = err_errno(err, CHORD_E_IO, errno, "%s: open", path);
        else if (!r[i].buf)
            rc = err_set(err, CHORD_E_NOMEM, "%s: %s: out of memory for %lld-byte blocks",
                         path, what, (long long)block_bytes);
    }
    int64_t total = 0;
    double secs = 0;
    /* pass 0 is not timed: the layer cache re-reads the same bytes every
     * token, and a virtual disk serves re-reads from its host's cache, so
     * the rate that bounds the streaming is the re-read one; without drop
     * it brings every page of the span into the page cache */
    for (int pass = 0; rc == CHORD_OK && (pass < 2 || total < min_total); pass++) {
        if (drop && (rc = chord_file_drop_cache(path, err)) != CHORD_OK)
            break;
        pthread_t th[16];
        int started = 0;
        double t0 = now_s();
        for (int i = 0; i < n_readers; i++) {
            r[i].bytes = 0;
            int e = pthread_create(&th[i], NULL, disk_reader_main, &r[i]);
            if (e != 0) {
                rc = err_errno(err, CHORD_E_IO, e, "%s: %s: cannot start reader %d", path, what, i);
                break;
            }
            started++;
        }
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        double dt = now_s() - t0;
        for (int i = 0; i < started && rc == CHORD_OK; i++) {
            if (r[i].err)
                rc = err_errno(err, CHORD_E_IO, r[i].err, "%s: read at offset %lld", path,
                               (long long)r[i].err_off);
            total += pass > 0 ? r[i].bytes : 0;
        }
        secs += pass > 0 ? dt : 0;
    }
    for (int i = 0; i < n_readers; i++) {
        if (r[i].fd >= 0)
            close(r[i].fd);
        free(r[i].buf);
    }
    if (rc == CHORD_OK && secs > 0)
        *mb_s = (double)total / secs / 1e6;
    return rc;
}

chord_status chord_probe_disk_read(const char *path, int64_t max_bytes, int64_t min_total,
                                   int64_t block_bytes, int n_readers, double *mb_s,
                                   chord_err *err)
{
    return pattern_read(path, max_bytes, min_total, block_bytes, n_readers, true, mb_s, err);
}

chord_status chord_probe_pcache_read(const char *path, int64_t max_bytes, int64_t min_total,
                                     int64_t block_bytes, int n_readers, double *mb_s,
                                     chord_err *err)
{
    return pattern_read(path, max_bytes, min_total, block_bytes, n_readers, false, mb_s, err);
}
