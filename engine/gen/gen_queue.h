/*
 * gen_queue.h - the event queue between a generation thread and its reader.
 *
 * A FIFO of chord_event guarded by one mutex, with a condition variable for
 * blocking readers and an eventfd for poll()-driven ones. The invariant, kept
 * under the mutex: the eventfd counter is non-zero exactly while the queue
 * holds at least one event, so poll() on it never reports a stale wake-up
 * for long and never misses one.
 */
#ifndef CHORD_GEN_QUEUE_H
#define CHORD_GEN_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

#include "chord.h"

typedef struct gen_queue {
    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t cv;      /* signalled on every push */
    chord_event *ev;        /* ring buffer of cap events */
    int cap, head, count;
    int efd;                /* eventfd: readable while count > 0 */
} gen_queue;

/* Sets up an empty queue. Fails with CHORD_E_NOMEM or CHORD_E_IO. */
chord_status gen_queue_init(gen_queue *q, chord_err *err);
/* Frees the queue; no thread may use it any more. */
void gen_queue_destroy(gen_queue *q);
/* Appends a copy of *ev. Returns false only if memory ran out (the event is
 * then lost; the writer should stop). */
bool gen_queue_push(gen_queue *q, const chord_event *ev);
/* Removes the oldest event into *ev, waiting up to timeout_ms (-1 forever,
 * 0 not at all). Returns false on timeout. */
bool gen_queue_pop(gen_queue *q, chord_event *ev, int timeout_ms);

#endif
