/*
 * pool.c - the compute thread pool (see pool.h).
 *
 * A decode step runs a few hundred short jobs (about 7 matmuls and an
 * attention job per layer), each a few tens of microseconds. Waking a
 * worker through a condition variable costs a futex round trip of the
 * same order, paid for every job, so the hand-over is hybrid:
 *
 *   - a worker that finished a job spins on the generation counter, with
 *     a pause instruction, for at most POOL_SPIN_NS; the next job of the
 *     same token almost always starts within that window, and the worker
 *     picks it up in well under a microsecond;
 *   - after the window it sleeps on the condition variable, so an idle
 *     chat (the user typing) costs no CPU beyond that bounded spin.
 *
 * The caller waits for the workers the same way (spin, then sleep).
 * A pool with more threads than the machine has CPUs never spins: a
 * spinning thread would hold the CPU that the thread it waits for needs
 * (measured: 20,000 empty jobs on 4 threads over 2 CPUs took a minute
 * with spinning, a fraction of a second without).
 *
 * Who owns what:
 *   gen       atomic; written by the caller only (release), after fn, arg
 *             and pending are set; workers read it (acquire), which makes
 *             fn and arg visible to them.
 *   fn, arg   plain; written by the caller only while no job runs (all
 *             workers have decremented pending for the previous one).
 *   pending   atomic; set by the caller before publishing gen, decremented
 *             by each worker after its share (the caller's acquire load
 *             of 0 sees every worker's writes of the job).
 *   stop      atomic; set once by pool_free.
 *   mu        guards the two condition variables and the sleeper counts:
 *             a worker increments n_sleep under mu, then re-checks gen
 *             before waiting; the caller bumps gen, then reads n_sleep.
 *             Both are sequentially consistent, so either the worker sees
 *             the new gen or the caller sees the sleeper and broadcasts
 *             under mu (which the worker holds until it is waiting): no
 *             wake-up is lost. caller_sleeps/done work the same way for
 *             the last worker and the caller.
 */
#include "pool/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POOL_PAUSE() _mm_pause()
#else
#define POOL_PAUSE() ((void)0)
#endif

#include "core/err.h"

/* How long an idle thread spins before it sleeps. Long enough to bridge
 * the gaps between the jobs of one decode step (norms, RoPE, activation
 * quantization: a few microseconds) and between steps (sampling,
 * detokenizing); short enough that an idle pool stops burning CPU at
 * once from a human's point of view. */
#ifndef POOL_SPIN_NS
#define POOL_SPIN_NS 50000L
#endif

struct pool {
    int n;                  /* threads including the caller */
    pthread_t *threads;     /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* a new job (or stop) */
    pthread_cond_t done;    /* the running job's workers all finished */
    atomic_ulong gen;       /* job generation: bumped for each job */
    atomic_int pending;     /* workers still running the current job */
    atomic_int n_sleep;     /* workers waiting (or about to) on wake */
    atomic_bool caller_sleeps; /* the caller waits (or is about to) on done */
    atomic_bool stop;
    long spin_ns;           /* POOL_SPIN_NS, or 0 when oversubscribed */
    pool_fn fn;
    void *arg;
};

typedef struct worker_arg {
    pool *p;
    int ith;
} worker_arg;

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Spins until ready(p, v) or POOL_SPIN_NS elapse; returns ready's last
 * answer. The clock is read every 64 pauses only (a pause is tens of
 * cycles, a clock read about as much). */
static bool spin_until(pool *p, bool (*ready)(pool *, unsigned long), unsigned long v)
{
    if (!p->spin_ns)
        return ready(p, v);
    long t0 = 0;
    for (unsigned i = 1;; i++) {
        if (ready(p, v))
            return true;
        POOL_PAUSE();
        if ((i & 63) == 0) {
            long t = now_ns();
            if (!t0)
                t0 = t;
            else if (t - t0 > p->spin_ns)
                return ready(p, v);
        }
    }
}

static bool job_posted(pool *p, unsigned long seen)
{
    return atomic_load_explicit(&p->gen, memory_order_acquire) != seen ||
           atomic_load_explicit(&p->stop, memory_order_relaxed);
}

static bool job_done(pool *p, unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&p->pending, memory_order_acquire) == 0;
}

static void *worker_main(void *v)
{
    worker_arg wa = *(worker_arg *)v;
    free(v);
    pool *p = wa.p;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(p, job_posted, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleep, 1);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->n_sleep, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        p->fn(p->arg, wa.ith, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && /* seq_cst: handshake */
            atomic_load(&p->caller_sleeps)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

chord_status pool_new(int n_threads, pool **out, chord_err *err)
{
    *out = NULL;
    if (n_threads < 1)
        n_threads = 1;
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(err, CHORD_E_NOMEM, "thread pool: out of memory");
    p->n = n_threads;
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    p->spin_ns = n_cpu > 0 && n_threads > n_cpu ? 0 : POOL_SPIN_NS;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->n_sleep, 0);
    atomic_init(&p->caller_sleeps, false);
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            pool_free(p);
            return err_set(err, CHORD_E_NOMEM, "thread pool: out of memory");
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->ith = i;
        }
        int rc = wa ? pthread_create(&p->threads[i - 1], NULL, worker_main, wa) : ENOMEM;
        if (rc) {
            free(wa);
            p->n = i; /* join only the workers that exist */
            pool_free(p);
            return err_errno(err, CHORD_E_NOMEM, rc, "thread pool: cannot start thread %d of %d",
                             i + 1, n_threads);
        }
    }
    *out = p;
    return CHORD_OK;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n && p->threads; i++)
        pthread_join(p->threads[i - 1], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int pool_size(const pool *p)
{
    return p ? p->n : 1;
}

void pool_run(pool *p, pool_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: release for fn/arg, and the
                                     sleeper handshake (see the top) */
    if (atomic_load(&p->n_sleep) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }

    fn(arg, 0, p->n);

    if (spin_until(p, job_done, 0))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeps, true);
    while (atomic_load(&p->pending) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_sleeps, false);
    pthread_mutex_unlock(&p->mu);
}

void pool_split(int n, int ith, int nth, int *lo, int *hi)
{
    int base = n / nth, rem = n % nth;
    *lo = ith * base + (ith < rem ? ith : rem);
    *hi = *lo + base + (ith < rem ? 1 : 0);
}
