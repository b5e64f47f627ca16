/*
 * gen_queue.c - the generation event queue (see gen_queue.h).
 */
#include "gen/gen_queue.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

chord_status gen_queue_init(gen_queue *q, chord_err *err)
{
    memset(q, 0, sizeof *q);
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0)
        return err_errno(err, CHORD_E_IO, errno, "generation: eventfd");
    q->cap = 64;
    q->ev = malloc((size_t)q->cap * sizeof *q->ev);
    if (!q->ev) {
        close(q->efd);
        return err_set(err, CHORD_E_NOMEM, "generation: cannot allocate the event queue");
    }
    /* The condvar waits on CLOCK_MONOTONIC so a wall-clock jump cannot
     * stretch or cut a reader's timeout. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->mu, NULL);
    return CHORD_OK;
}

void gen_queue_destroy(gen_queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    if (q->efd >= 0)
        close(q->efd);
    free(q->ev);
    q->ev = NULL;
    q->efd = -1;
}

/* Doubles the ring, unrolling it so head becomes 0. Called with mu held. */
static bool queue_grow(gen_queue *q)
{
    int ncap = q->cap * 2;
    chord_event *n = malloc((size_t)ncap * sizeof *n);
    if (!n)
        return false;
    for (int i = 0; i < q->count; i++)
        n[i] = q->ev[(q->head + i) % q->cap];
    free(q->ev);
    q->ev = n;
    q->cap = ncap;
    q->head = 0;
    return true;
}

bool gen_queue_push(gen_queue *q, const chord_event *ev)
{
    pthread_mutex_lock(&q->mu);
    if (q->count == q->cap && !queue_grow(q)) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    q->ev[(q->head + q->count) % q->cap] = *ev;
    if (q->count++ == 0) {
        uint64_t one = 1;
        /* Cannot fail short of a counter overflow, which the invariant
         * (counter is 0 or 1) rules out. */
        ssize_t w = write(q->efd, &one, sizeof one);
        (void)w;
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return true;
}

bool gen_queue_pop(gen_queue *q, chord_event *ev, int timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    if (q->count == 0 && timeout_ms != 0) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        if (timeout_ms > 0) {
            dl.tv_sec += timeout_ms / 1000;
            dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
        }
        while (q->count == 0) {
            if (timeout_ms < 0) {
                pthread_cond_wait(&q->cv, &q->mu);
            } else if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) {
                break;
            }
        }
    }
    if (q->count == 0) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    *ev = q->ev[q->head];
    q->head = (q->head + 1) % q->cap;
    if (--q->count == 0) {
        uint64_t v;
        ssize_t r = read(q->efd, &v, sizeof v); /* drain: not readable now */
        (void)r;
    }
    pthread_mutex_unlock(&q->mu);
    return true;
}
