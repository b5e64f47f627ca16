/*
 * pool.c - the compute thread pool (see pool.h).
 *
 * Workers sleep on a condition variable and wake when the job generation
 * counter moves; the last one to finish signals the caller. Condition
 * variables rather than spinning because chord often shares the machine
 * (and the small models here give short jobs, where a spin would burn more
 * than it saves).
 */
#include "pool/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"

struct pool {
    int n;                  /* threads including the caller */
    pthread_t *threads;     /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* a new job (or stop) */
    pthread_cond_t done;    /* the running job's workers all finished */
    unsigned long gen;      /* job generation: bumped for each job */
    int pending;            /* workers still running the current job */
    bool stop;
    pool_fn fn;
    void *arg;
};

typedef struct worker_arg {
    pool *p;
    int ith;
} worker_arg;

static void *worker_main(void *v)
{
    worker_arg wa = *(worker_arg *)v;
    free(v);
    pool *p = wa.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        pool_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, wa.ith, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_lock(&p->mu);
    p->stop = true;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    fn(arg, 0, p->n);

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void pool_split(int n, int ith, int nth, int *lo, int *hi)
{
    int base = n / nth, rem = n % nth;
    *lo = ith * base + (ith < rem ? ith : rem);
    *hi = *lo + base + (ith < rem ? 1 : 0);
}
