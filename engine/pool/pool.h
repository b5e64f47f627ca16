/*
 * pool.h - a persistent pthread pool for the compute (matmul rows, heads).
 *
 * The threads are created once (per context) and sleep between jobs, so a
 * matmul costs a wake-up, never a thread creation. A job is one function run
 * by every thread at once with its index ith in [0, nth): the function splits
 * its own work by ith (pool_run), or its threads take work from a shared
 * counter and the threads that do not show up in time are not waited for
 * (pool_run_dyn). The caller's thread is thread 0, so a pool of one thread
 * runs jobs inline.
 *
 * Determinism is the job's affair: chord's jobs give each output element to
 * exactly one thread and reduce in a fixed order, so results do not depend
 * on nth.
 */
#ifndef CHORD_POOL_H
#define CHORD_POOL_H

#include "chord.h"

typedef struct pool pool;

typedef void (*pool_fn)(void *arg, int ith, int nth);

/* Starts n_threads - 1 workers (n_threads >= 1). */
chord_status pool_new(int n_threads, pool **out, chord_err *err);
/* Stops and joins the workers. NULL is fine. */
void pool_free(pool *p);
int pool_size(const pool *p);

/* Runs fn(arg, ith, nth) on every thread and returns when all are done.
 * Not reentrant: one job at a time, from the thread that owns the pool. */
void pool_run(pool *p, pool_fn fn, void *arg);

/* As pool_run, for a job whose threads take their work from a shared
 * counter until none is left, so that one call of fn, by any thread, does
 * the whole job if the others never show up. The caller runs fn and then
 * waits only for the workers that had started it by then: a worker that
 * has not (it lost its CPU to another process, or is still waking up)
 * skips the job instead of holding the caller up. fn is called at most
 * once per thread, maybe fewer than nth times; nth is the pool's size. */
void pool_run_dyn(pool *p, pool_fn fn, void *arg);

/* The range [*lo, *hi) of n items that thread ith of nth handles: equal
 * contiguous chunks, the remainder spread over the first threads. */
void pool_split(int n, int ith, int nth, int *lo, int *hi);

#endif
