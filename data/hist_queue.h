/*
 * hist_queue.h - history writes off the caller's thread: an ordered queue
 * and one writer thread with its own connection (hist.h), so a database
 * that another process keeps locked never stalls the UI.
 *
 * Every call here copies its arguments, appends one operation and returns
 * at once; none touches the database or waits for the writer. The writer
 * applies the operations in order. A lock (another process holding the
 * write lock past the connection's short busy timeout) is not a failure:
 * the operation waits at the head and is tried again every retry_ms, the
 * ones behind it keep queueing, and the state says "locked" until a write
 * goes through. Any other failure (read-only, disk full, corrupt, not
 * chord's file, cannot open) stops the recording: the state says why, and
 * later operations are counted as lost and dropped.
 *
 * Conversation ids: hist_queue_conv_create returns a reference (a negative
 * number) that later operations may use before the row exists; the writer
 * maps it to the real id, which hist_queue_conv_id reports once written.
 * A positive reference is a real id (a conversation being resumed).
 *
 * Threads: the functions may be called from any one thread (the owner)
 * and hist_queue_state_get / hist_queue_conv_id from any thread. The
 * queue's mutex is held by the caller only to link an operation or copy
 * the state, and by the writer only to take or retire one, never across a
 * SQLite call (see hist_queue.c).
 */
#ifndef CHORD_DATA_HIST_QUEUE_H
#define CHORD_DATA_HIST_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

typedef struct hist_queue hist_queue;

typedef struct hist_queue_params {
    int busy_timeout_ms;   /* one attempt's wait for a lock; 0 = 200 */
    int retry_ms;          /* pause between attempts; 0 = HIST_RETRY_MS */
    int64_t max_pages;     /* as hist_open_params (tests: a full disk) */
} hist_queue_params;

typedef struct hist_queue_state {
    int n_waiting;         /* operations (and streamed text) not yet written */
    bool opened;           /* the writer's connection is open: the file
                              exists with the current schema (readers may
                              open it now) */
    bool locked;           /* the writer waits for another process's lock
                              (to open the file, while !opened) */
    bool failed;           /* recording stopped; msg says why */
    long long n_written;   /* operations written so far */
    long long n_lost;      /* operations dropped since the failure */
    char msg[512];         /* the problem in one line, "" when none */
} hist_queue_state;

/* Starts the writer thread, which opens path (NULL = the default path)
 * read-write on its own: creating it, upgrading its schema and marking dead
 * writers' rows, all of which may wait for another process's lock, so the
 * caller never does (a lock is retried every retry_ms, the operations
 * queued meanwhile wait for the open). Fails only when the thread cannot
 * start or memory runs out; a database that cannot be opened shows up in
 * the state. */
chord_status hist_queue_start(const char *path, const hist_queue_params *p,
                              hist_queue **out, chord_err *err);

/* Waits up to timeout_ms for every queued operation to be written (or
 * dropped after a failure), then stops the writer and closes its
 * connection (an unfinished stream is ended as interrupted, if the lock
 * allows). *final (may be NULL) gets the last state: n_waiting counts what
 * was left unwritten. NULL q is allowed. */
void hist_queue_close(hist_queue *q, int timeout_ms, hist_queue_state *final);

/* Waits up to timeout_ms until nothing is waiting; true if so. */
bool hist_queue_flush(hist_queue *q, int timeout_ms);

void hist_queue_state_get(hist_queue *q, hist_queue_state *st);

/* The operations (see hist.h for what each writes). */
int64_t hist_queue_conv_create(hist_queue *q, const hist_conv_params *p);
void hist_queue_set_title(hist_queue *q, int64_t conv, const char *text);
void hist_queue_msg_add(hist_queue *q, int64_t conv, const char *role, const char *content,
                        size_t len, const hist_counts *counts);
void hist_queue_stream_begin(hist_queue *q, int64_t conv);
void hist_queue_stream_add(hist_queue *q, const char *text, size_t len, int n_tokens,
                           bool reasoning);
void hist_queue_stream_end(hist_queue *q, hist_msg_status status, const hist_counts *counts);
void hist_queue_turn_mark(hist_queue *q, int64_t conv, bool with_user, hist_mark mark);

/* The real id of a conversation reference: ref itself when positive, the
 * written row's id, or 0 while it is not written (or never will be). */
int64_t hist_queue_conv_id(hist_queue *q, int64_t ref);

/* The database path the writer opened. */
const char *hist_queue_path(const hist_queue *q);

#endif
