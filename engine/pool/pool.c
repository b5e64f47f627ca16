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
 * The spins do not sched_yield: a waiter that yields stays runnable, so
 * when the other task on its CPU is an unrelated busy process, that
 * process keeps the CPU until the scheduler's next tick, while a waiter
 * that sleeps is woken (and preempts it) as soon as the job is posted.
 * Measured (TinyLlama-shaped Q4_K_M decode, 2 threads, `yes` beside on 2
 * CPUs, alternated): yielding after 5 us of spinning gave no gain and one
 * run in three at 70% of the busy speed; spin windows of 0, 5, 15 and 50
 * us were within the noise of each other.
 *
 * Joining a job. With another process busy beside chord (a shared 2-core
 * machine), one of the pool's threads is off its CPU for a few
 * milliseconds at a time, several jobs' worth. A job that splits its work
 * statically (pool_run) must wait for that thread's share, so every such
 * job waits for the scheduler. A job that takes its work from a shared
 * counter (pool_run_dyn) need not: the threads that run do all of it, and
 * the caller waits only for the workers that joined the job before it
 * finished its own call; a worker that arrives later finds the job closed
 * and skips it. Joining and closing are one word (ticket), so that a
 * worker that saw a job's generation and then lost its CPU can never join
 * a later job by mistake.
 *
 * Who owns what:
 *   gen       atomic; written by the caller only (seq_cst), after fn, arg,
 *             finished and ticket are set; workers read it (acquire).
 *             Only wakes and releases workers: joining goes by ticket.
 *   ticket    atomic 64-bit: the job's generation (low 32 bits of gen) in
 *             the high half, TICKET_CLOSED, and the number of workers
 *             that joined in the low bits. The caller stores it (release,
 *             after fn and arg) before bumping gen, and for a pool_run_dyn
 *             job sets TICKET_CLOSED once its own call returns (the count
 *             it reads then is the number of workers to wait for). A
 *             worker joins by a compare-and-swap that adds one while the
 *             generation is the one it saw and the job is open (acquire:
 *             fn and arg are visible to it); a pool_run job is never
 *             closed, and cannot end before each worker joined.
 *   fn, arg   plain; written by the caller only between jobs (every worker
 *             that joined the last job has counted itself in finished);
 *             read by a worker only after it joined.
 *   finished  atomic; reset by the caller before publishing the job,
 *             incremented by each worker that joined, after its call
 *             (seq_cst; the caller's acquire load of the count it waits
 *             for sees every such worker's writes). Workers that did not
 *             join never touch it.
 *   stop      atomic; set once by pool_free.
 *   mu        guards the two condition variables and the sleeper counts:
 *             a worker increments n_sleep under mu, then re-checks gen
 *             before waiting; the caller bumps gen, then reads n_sleep.
 *             Both are sequentially consistent, so either the worker sees
 *             the new gen or the caller sees the sleeper and broadcasts
 *             under mu (which the worker holds until it is waiting): no
 *             wake-up is lost. caller_sleeps and finished work the same
 *             way between a finishing worker and the caller.
 */
#include "pool/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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

/* ticket: the job's generation above bit 32, this flag, and the count of
 * workers that joined below it. */
#define TICKET_CLOSED (1ULL << 31)
#define TICKET_JOINED (TICKET_CLOSED - 1)

struct pool {
    int n;                  /* threads including the caller */
    pthread_t *threads;     /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* a new job (or stop) */
    pthread_cond_t done;    /* a worker finished its call (the caller sleeps) */
    atomic_ulong gen;       /* job generation: bumped for each job */
    _Atomic uint64_t ticket; /* generation, closed flag, workers joined */
    atomic_int finished;    /* workers that joined the job and finished */
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

/* Whether the want workers that joined the job have all finished. */
static bool job_done(pool *p, unsigned long want)
{
    return (unsigned long)atomic_load_explicit(&p->finished, memory_order_acquire) == want;
}

/* Joins the job of generation seen if it is still open. */
static bool job_join(pool *p, unsigned long seen)
{
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != (uint32_t)seen || (t & TICKET_CLOSED))
            return false;
        if (atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return true;
    }
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
        if (!job_join(p, seen))
            continue; /* a pool_run_dyn job that ended without us */
        p->fn(p->arg, wa.ith, p->n);
        atomic_fetch_add(&p->finished, 1); /* seq_cst: handshake */
        if (atomic_load(&p->caller_sleeps)) {
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
    atomic_init(&p->ticket, TICKET_CLOSED);
    atomic_init(&p->finished, 0);
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

static void run(pool *p, pool_fn fn, void *arg, bool dyn)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    unsigned long g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&p->ticket, (uint64_t)(uint32_t)g << 32, memory_order_release);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: the sleeper handshake (see the top) */
    if (atomic_load(&p->n_sleep) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }

    fn(arg, 0, p->n);

    unsigned long want = (unsigned long)p->n - 1;
    if (dyn)
        want = atomic_fetch_or_explicit(&p->ticket, TICKET_CLOSED, memory_order_acq_rel) &
               TICKET_JOINED;
    if (spin_until(p, job_done, want))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeps, true);
    while ((unsigned long)atomic_load(&p->finished) != want)
        pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_sleeps, false);
    pthread_mutex_unlock(&p->mu);
}

void pool_run(pool *p, pool_fn fn, void *arg)
{
    run(p, fn, arg, false);
}

void pool_run_dyn(pool *p, pool_fn fn, void *arg)
{
    run(p, fn, arg, true);
}

void pool_split(int n, int ith, int nth, int *lo, int *hi)
{
    int base = n / nth, rem = n % nth;
    *lo = ith * base + (ith < rem ? ith : rem);
    *hi = *lo + base + (ith < rem ? 1 : 0);
}
