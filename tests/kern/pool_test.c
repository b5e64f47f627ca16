/*
 * pool_test.c - the compute pool's hand-over: every job runs on every
 * thread exactly once and the caller sees all of its writes, both when the
 * workers are still spinning from the previous job (jobs back to back)
 * and when they have gone to sleep (pauses longer than the spin window);
 * pool_free stops spinning and sleeping workers alike. pool_run_dyn jobs
 * (work taken from a counter) mixed with pool_run ones: each item done
 * exactly once per job, at most one call per thread, a late worker never
 * running a job it did not join (nor a later one twice). Run under TSan
 * by the threads label.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "pool/pool.h"
#include "t.h"

#define N_ITEMS 1000

typedef struct job {
    int gen;              /* written by the caller before pool_run */
    int item[N_ITEMS];    /* item i = gen once per job, by one thread */
    atomic_int calls;     /* fn calls in this job */
    atomic_int bad_nth;
} job;

static void work(void *arg, int ith, int nth)
{
    job *j = arg;
    int lo, hi;
    pool_split(N_ITEMS, ith, nth, &lo, &hi);
    for (int i = lo; i < hi; i++)
        j->item[i] = j->item[i] + 1 == j->gen ? j->gen : -1000000;
    if (ith < 0 || ith >= nth)
        atomic_fetch_add(&j->bad_nth, 1);
    atomic_fetch_add(&j->calls, 1);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Runs n_jobs jobs on a pool of nth threads, pausing pause_us between
 * them, and checks each item was advanced exactly once per job. */
static void run_jobs(int nth, int n_jobs, long pause_us)
{
    pool *p;
    chord_err err = {0};
    T_CHECK(pool_new(nth, &p, &err) == CHORD_OK, "pool_new(%d)", nth);
    if (!p)
        return;
    T_EQ_INT(pool_size(p), nth);
    job *j = calloc(1, sizeof *j);
    T_CHECK(j != NULL, "calloc");
    if (!j) {
        pool_free(p);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int g = 1; g <= n_jobs; g++) {
        j->gen = g;
        atomic_store(&j->calls, 0);
        pool_run(p, work, j);
        T_EQ_INT(atomic_load(&j->calls), nth);
        if (pause_us)
            sleep_us(pause_us);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%d threads, %5d jobs, %4ld us pauses: %.1f us per job\n", nth, n_jobs, pause_us,
           ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n_jobs);
    int wrong = 0;
    for (int i = 0; i < N_ITEMS; i++)
        wrong += j->item[i] != n_jobs;
    T_EQ_INT(wrong, 0);
    T_EQ_INT(atomic_load(&j->bad_nth), 0);
    free(j);
    pool_free(p);
}

typedef struct djob {
    int gen;
    int item[N_ITEMS];
    atomic_int next;      /* the next item nobody has taken */
    atomic_int called;    /* bit ith: thread ith called fn in this job */
    atomic_int twice;     /* a thread called fn twice in one job */
} djob;

/* Small items (8 at a time) so that workers often arrive after the caller
 * has taken the last one. */
static void dwork(void *arg, int ith, int nth)
{
    djob *j = arg;
    if (atomic_fetch_or(&j->called, 1 << ith) & (1 << ith))
        atomic_fetch_add(&j->twice, 1);
    (void)nth;
    for (;;) {
        int c = atomic_fetch_add_explicit(&j->next, 8, memory_order_relaxed);
        if (c >= N_ITEMS)
            return;
        for (int i = c; i < c + 8 && i < N_ITEMS; i++)
            j->item[i] = j->item[i] + 1 == j->gen ? j->gen : -1000000;
    }
}

/* Alternates pool_run_dyn and pool_run jobs on the same pool; every item
 * of both advances exactly once per job of its kind. */
static void run_mixed(int nth, int n_jobs, long pause_us)
{
    pool *p;
    chord_err err = {0};
    T_CHECK(pool_new(nth, &p, &err) == CHORD_OK, "pool_new(%d)", nth);
    if (!p)
        return;
    job *s = calloc(1, sizeof *s);
    djob *d = calloc(1, sizeof *d);
    T_CHECK(s && d, "calloc");
    int short_jobs = 0;
    for (int g = 1; s && d && g <= n_jobs; g++) {
        d->gen = g;
        atomic_store(&d->next, 0);
        atomic_store(&d->called, 0);
        pool_run_dyn(p, dwork, d);
        int called = atomic_load(&d->called);
        T_CHECK(called & 1, "job %d: the caller ran fn", g);
        short_jobs += called != (1 << nth) - 1;
        s->gen = g;
        atomic_store(&s->calls, 0);
        pool_run(p, work, s);
        T_EQ_INT(atomic_load(&s->calls), nth);
        if (pause_us && g % 7 == 0)
            sleep_us(pause_us);
    }
    int wrong = 0;
    for (int i = 0; s && d && i < N_ITEMS; i++)
        wrong += d->item[i] != n_jobs || s->item[i] != n_jobs;
    T_EQ_INT(wrong, 0);
    T_EQ_INT(d ? atomic_load(&d->twice) : 0, 0);
    printf("%d threads, %5d dyn + static jobs, %4ld us pauses: %d dyn jobs without every worker\n",
           nth, n_jobs, pause_us, short_jobs);
    free(s);
    free(d);
    pool_free(p);
}

int main(void)
{
    for (int nth = 1; nth <= 4; nth++) {
        run_jobs(nth, 5000, 0);    /* back to back: workers spinning */
        run_jobs(nth, 20, 1000);   /* 1 ms pauses: past the spin window */
        run_jobs(nth, 200, 150);   /* around the window's edge */
        run_mixed(nth, 3000, 0);
        run_mixed(nth, 300, 150);
    }
    /* free right after creation (workers never ran a job) */
    pool *p;
    chord_err err = {0};
    T_CHECK(pool_new(3, &p, &err) == CHORD_OK, "pool_new(3)");
    pool_free(p);
    return t_done();
}
