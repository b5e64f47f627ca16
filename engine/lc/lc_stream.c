/*
 * lc_stream.c - the streaming half of the layer cache: slot assignment
 * (which layer goes into which slot, and which one it evicts), the
 * prefetch workers, and lc_acquire/lc_release. The policy is explained at
 * the top of lc.c; the locking in lc_impl.h.
 *
 * Slot life: EMPTY -> QUEUED (assigned, waiting) -> LOADING (a worker, or
 * the acquirer itself, is reading) -> READY -> IN_USE -> READY (released;
 * the copy stays valid until the slot is reassigned: an eviction). A failed
 * worker read leaves FAILED; the acquirer then retries synchronously.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#endif

#include "core/err.h"
#include "lc/lc_impl.h"

#define DIST_NONE 0x7fffffff

/* Position of group g in the streaming cycle (0..M-1). */
static int stream_idx(const lc_cache *lc, int g) { return lc->g[g].sidx; }

/* How many streamed acquisitions from now group g is needed, in the
 * cyclic order, counting from the last acquired layer: the next layer is
 * 1, the one just acquired is M. Before any acquisition, layer R is 1. */
static int dist(const lc_cache *lc, int g)
{
    int m = lc->n_stream;
    int d = (stream_idx(lc, g) - lc->cursor - 1) % m;
    if (d < 0)
        d += m;
    return d + 1;
}

/* The slot to reuse for a layer needed at distance `need`: the one not in
 * use nor being read whose layer is needed furthest away, and only if that
 * is later than `need` (an empty slot is "never"). -1 if none. [mu] */
static int pick_victim(const lc_cache *lc, int need)
{
    int best = -1, best_d = need;
    for (int s = 0; s < lc->n_slots; s++) {
        const lc_slot *sl = &lc->slots[s];
        if (sl->st == LC_SLOT_IN_USE || sl->st == LC_SLOT_LOADING)
            continue;
        int d = sl->st == LC_SLOT_EMPTY ? DIST_NONE : dist(lc, sl->g);
        if (d > best_d) {
            best = s;
            best_d = d;
        }
    }
    return best;
}

/* Gives slot s to group g in state st, detaching its previous layer. [mu] */
static void assign(lc_cache *lc, int s, int g, lc_slot_state st)
{
    lc_slot *sl = &lc->slots[s];
    if (sl->g >= 0) {
        if (sl->st == LC_SLOT_READY)
            lc->evictions++;
        lc->g[sl->g].slot = -1;
    }
    sl->g = g;
    sl->st = st;
    lc->g[g].slot = s;
}

/* Queues the next `prefetch` layers after the cursor that are not in a
 * slot yet, as far as slots can be freed without evicting anything needed
 * sooner. Called after every acquire and release, so the workers always
 * run as far ahead as the slots allow. [mu] */
static void schedule_ahead(lc_cache *lc)
{
    bool queued = false;
    for (int d = 1; d <= lc->prefetch; d++) {
        int g = lc->stream_g[(lc->cursor + d + lc->n_stream) % lc->n_stream];
        if (lc->g[g].slot >= 0)
            continue;  /* on its way, ready, or failed (left to the acquirer) */
        int s = pick_victim(lc, d);
        if (s < 0)
            break;
        assign(lc, s, g, LC_SLOT_QUEUED);
        queued = true;
    }
    if (queued)
        pthread_cond_broadcast(&lc->work_cv);
}

/* Takes one injected fault for a read of g (test hook). A checksum fault
 * waits until there is a checksum to mismatch. [mu] */
static int take_fault(lc_cache *lc, int g)
{
    lc_grp *gr = &lc->g[g];
    if (gr->fault_count <= 0)
        return LC_FAULT_NONE;
    if (gr->fault_kind == LC_FAULT_CHECKSUM && !gr->csum_set)
        return LC_FAULT_NONE;
    gr->fault_count--;
    return gr->fault_kind;
}

/* Records the end of a read of g into slot s (ok = read succeeded with
 * checksum sum) and returns whether the slot now holds a good copy. The
 * first good read of a layer sets its checksum; later reads must match. [mu] */
static bool finish_load(lc_cache *lc, int s, int g, bool ok, uint64_t sum,
                        double sec, lc_fail *why)
{
    lc_grp *gr = &lc->g[g];
    if (ok && gr->csum_set && gr->csum != sum) {
        ok = false;
        *why = (lc_fail){0, gr->n_runs ? gr->runs[0].file_lo : 0, "checksum mismatch",
                         gr->n_runs ? gr->runs[0].file : 0};
    }
    if (ok) {
        if (!gr->csum_set) {
            gr->csum = sum;
            gr->csum_set = true;
        }
        gr->loads++;
        lc->bytes_read += gr->bytes;
        lc->rate_sec[lc->rate_i] = sec;
        lc->rate_bytes[lc->rate_i] = gr->bytes;
        lc->rate_i = (lc->rate_i + 1) % LC_RATE_N;
        if (lc->rate_n < LC_RATE_N)
            lc->rate_n++;
    }
    lc->slots[s].st = ok ? LC_SLOT_READY : LC_SLOT_FAILED;
    pthread_cond_broadcast(&lc->done_cv);
    return ok;
}

/* The queued slot whose layer is needed soonest, or -1. [mu] */
static int next_queued(const lc_cache *lc)
{
    int best = -1, best_d = DIST_NONE;
    for (int s = 0; s < lc->n_slots; s++)
        if (lc->slots[s].st == LC_SLOT_QUEUED) {
            int d = dist(lc, lc->slots[s].g);
            if (d < best_d) {
                best = s;
                best_d = d;
            }
        }
    return best;
}

/* Makes the calling prefetch worker yield the CPU to the compute: on a
 * machine with as many compute threads as cores, reading from the page
 * cache is CPU work (a copy) that competes with the matmuls. At equal
 * priority the scheduler preempts compute threads in the middle of a
 * parallel job, and their partners spin or sleep at the job's end waiting
 * for them; at nice 19 a reader runs when a compute thread waits (a stall,
 * the end of a job), which is when its copy is needed anyway. Measured on
 * 2 cores, 1.1B Q4_K_M, budget 320 MiB, warm: 17.3 -> 21.6 t/s; cold
 * (disk) reads were not slower: an I/O-bound reader needs little CPU.
 * Advisory: a failure only leaves the reader at the process's priority. */
static void lower_priority(void)
{
#ifdef __linux__
    /* Linux: nice is per thread, addressed by the thread id */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
}

typedef struct worker_arg {
    lc_cache *lc;
    const int *fds;
} worker_arg;

static void *worker_main(void *arg)
{
    lc_cache *lc = ((worker_arg *)arg)->lc;
    const int *fds = ((worker_arg *)arg)->fds;
    free(arg);
    lower_priority();
    pthread_mutex_lock(&lc->mu);
    while (!lc->stop) {
        int s = next_queued(lc);
        if (s < 0) {
            pthread_cond_wait(&lc->work_cv, &lc->mu);
            continue;
        }
        int g = lc->slots[s].g;
        lc->slots[s].st = LC_SLOT_LOADING;
        int fault = take_fault(lc, g);
        int delay = lc->delay_us > 0 ? (int)(rand_r(&lc->delay_seed) % (unsigned)lc->delay_us) : 0;
        pthread_mutex_unlock(&lc->mu);

        if (delay > 0)
            nanosleep(&(struct timespec){delay / 1000000, (long)(delay % 1000000) * 1000}, NULL);
        double t0 = lc_now();
        lc_fail why;
        /* the slot is LOADING: nobody else touches its buffer or layer */
        uint64_t sum = 0;
        bool ok = lc_read_group(&lc->g[g], fds, lc->release, lc->slots[s].buf, fault, &sum, &why);
        double sec = lc_now() - t0;

        pthread_mutex_lock(&lc->mu);
        finish_load(lc, s, g, ok, sum, sec, &why);
    }
    pthread_mutex_unlock(&lc->mu);
    return NULL;
}

chord_status lc_stream_start(lc_cache *lc, chord_err *err)
{
    if (lc->n_workers > 0) {
        lc->workers = calloc((size_t)lc->n_workers, sizeof *lc->workers);
        size_t n = (size_t)lc->n_workers * (size_t)lc->n_files;
        lc->worker_fd = malloc(n * sizeof *lc->worker_fd);
        if (!lc->workers || !lc->worker_fd)
            return err_set(err, CHORD_E_NOMEM, "%s: out of memory for prefetch workers", lc->path);
        for (size_t i = 0; i < n; i++)
            lc->worker_fd[i] = -1;
    }
    int flags = O_RDONLY | O_CLOEXEC | (lc->direct ? O_DIRECT : 0);
    for (int w = 0; w < lc->n_workers; w++) {
        /* own fds per worker: no shared file position or readahead state */
        chord_status st = lc_fds_open(lc, flags, lc->worker_fd + (size_t)w * (size_t)lc->n_files,
                                      "a prefetch worker", err);
        if (st != CHORD_OK)
            return st;
    }
    pthread_mutex_lock(&lc->mu);
    schedule_ahead(lc);
    pthread_mutex_unlock(&lc->mu);
    for (int w = 0; w < lc->n_workers; w++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a)
            return err_set(err, CHORD_E_NOMEM, "%s: out of memory for prefetch workers", lc->path);
        *a = (worker_arg){lc, lc->worker_fd + (size_t)w * (size_t)lc->n_files};
        int e = pthread_create(&lc->workers[w], NULL, worker_main, a);
        if (e != 0) {
            free(a);
            return err_errno(err, CHORD_E_IO, e, "%s: cannot start prefetch worker %d", lc->path, w);
        }
        lc->n_started = w + 1;
    }
    return CHORD_OK;
}

void lc_stream_stop(lc_cache *lc)
{
    pthread_mutex_lock(&lc->mu);
    lc->stop = true;
    pthread_cond_broadcast(&lc->work_cv);
    pthread_mutex_unlock(&lc->mu);
    for (int w = 0; w < lc->n_started; w++)
        pthread_join(lc->workers[w], NULL);
    lc->n_started = 0;
    if (lc->worker_fd)
        lc_fds_close(lc->n_workers * lc->n_files, lc->worker_fd);
    free(lc->worker_fd);
    free(lc->workers);
    lc->worker_fd = NULL;
    lc->workers = NULL;
}

/* Reads g into slot s on the caller's thread (the slot is LOADING, owned by
 * the caller), up to `attempts` times. Returns CHORD_OK with the slot
 * READY, or CHORD_E_IO with the layer dropped from the slot. Enters and
 * leaves with the mutex held, drops it around each read. */
static chord_status read_sync(lc_cache *lc, int s, int g, int attempts, chord_err *err)
{
    lc_fail why = {0, 0, "read", 0};
    for (int a = 0; a < attempts; a++) {
        int fault = take_fault(lc, g);
        pthread_mutex_unlock(&lc->mu);
        double t0 = lc_now();
        uint64_t sum = 0;
        bool ok = lc_read_group(&lc->g[g], lc->fd, lc->release, lc->slots[s].buf, fault, &sum,
                                &why);
        double sec = lc_now() - t0;
        pthread_mutex_lock(&lc->mu);
        if (finish_load(lc, s, g, ok, sum, sec, &why))
            return CHORD_OK;
        lc->slots[s].st = LC_SLOT_LOADING;  /* still ours for the retry */
    }
    lc->slots[s].st = LC_SLOT_EMPTY;
    lc->slots[s].g = -1;
    lc->g[g].slot = -1;
    pthread_cond_broadcast(&lc->done_cv);
    if (why.err)
        return err_errno(err, CHORD_E_IO, why.err, "%s: layer %d: %s at offset %llu failed",
                         lc->paths[why.file], g - 1, why.what, (unsigned long long)why.offset);
    return err_set(err, CHORD_E_IO, "%s: layer %d: %s at offset %llu (file changed or truncated?)",
                   lc->paths[why.file], g - 1, why.what, (unsigned long long)why.offset);
}

chord_status lc_acquire(lc_cache *lc, int g, chord_err *err)
{
    if (!lc || g < 0 || g >= lc->n_groups)
        return err_set(err, CHORD_E_INVALID, "lc_acquire: group %d out of range", g);
    pthread_mutex_lock(&lc->mu);
    if (!lc->streaming || lc->g[g].held) {
        lc->g[g].refs++;
        pthread_mutex_unlock(&lc->mu);
        return CHORD_OK;
    }
    lc_grp *gr = &lc->g[g];
    lc->cursor = stream_idx(lc, g);
    bool stalled = false;
    double t0 = 0;
    for (;;) {
        int s = gr->slot;
        int attempts = 2;
        if (s >= 0) {
            lc_slot_state st = lc->slots[s].st;
            if (st == LC_SLOT_READY || st == LC_SLOT_IN_USE)
                break;
            if (!stalled) {
                stalled = true;
                t0 = lc_now();
            }
            if (st == LC_SLOT_LOADING) {
                pthread_cond_wait(&lc->done_cv, &lc->mu);
                continue;
            }
            /* QUEUED: no worker has started it, so read it now rather than
             * wait behind other reads; FAILED: the one synchronous retry */
            if (st == LC_SLOT_FAILED)
                attempts = 1;
            lc->slots[s].st = LC_SLOT_LOADING;
        } else {
            if (!stalled) {
                stalled = true;
                t0 = lc_now();
            }
            s = pick_victim(lc, 0);
            if (s < 0) {
                bool loading = false;
                for (int i = 0; i < lc->n_slots; i++)
                    loading |= lc->slots[i].st == LC_SLOT_LOADING;
                if (loading) {
                    pthread_cond_wait(&lc->done_cv, &lc->mu);
                    continue;
                }
                pthread_mutex_unlock(&lc->mu);
                return err_set(err, CHORD_E_INVALID,
                               "%s: layer %d: all %d streaming slots are in use (release a layer first)",
                               lc->path, g - 1, lc->n_slots);
            }
            assign(lc, s, g, LC_SLOT_LOADING);
        }
        /* let the workers start on the following layers meanwhile */
        schedule_ahead(lc);
        chord_status st = read_sync(lc, s, g, attempts, err);
        if (st != CHORD_OK) {
            lc->stalls++;
            lc->stall_ms += (lc_now() - t0) * 1e3;
            pthread_mutex_unlock(&lc->mu);
            return st;
        }
    }
    if (stalled) {
        lc->stalls++;
        lc->stall_ms += (lc_now() - t0) * 1e3;
    } else {
        lc->hits++;
    }
    lc->slots[gr->slot].st = LC_SLOT_IN_USE;
    gr->refs++;
    schedule_ahead(lc);
    pthread_mutex_unlock(&lc->mu);
    return CHORD_OK;
}

void lc_release(lc_cache *lc, int g)
{
    if (!lc || g < 0 || g >= lc->n_groups)
        return;
    pthread_mutex_lock(&lc->mu);
    lc_grp *gr = &lc->g[g];
    if (gr->refs > 0 && --gr->refs == 0 && lc->streaming && !gr->held && gr->slot >= 0) {
        lc->slots[gr->slot].st = LC_SLOT_READY;
        schedule_ahead(lc);
    }
    pthread_mutex_unlock(&lc->mu);
}
