/*
 * hist_int.h - what the hist_*.c files share: the handle and the helpers
 * that turn SQLite results into chord_err lines naming the database file.
 * Not part of the contract (that is hist.h).
 */
#ifndef CHORD_DATA_HIST_INT_H
#define CHORD_DATA_HIST_INT_H

#include <sqlite3.h>

#include "hist.h"

struct hist {
    sqlite3 *db;
    char *path;
    bool read_only;
    int version;            /* the schema version the file is at */
    int busy_ms;
    bool locked;            /* the last failure was another process's lock */
    bool foreign;           /* open refused another program's file */

    /* The open stream (hist_stream_*), if any. */
    bool s_active;
    bool s_broken;          /* a flush failed: stop touching the file */
    chord_err s_err;        /* why it broke */
    int64_t s_conv, s_msg;
    char *s_buf;            /* text not yet flushed */
    size_t s_len, s_cap;
    char *s_rbuf;           /* reasoning not yet flushed */
    size_t s_rlen, s_rcap;
    int s_tokens;           /* tokens of the whole message so far */
    int s_pending_tokens;   /* tokens added since the last flush */
    int64_t s_last_flush;   /* monotonic ms */
    int64_t s_retry_at;     /* a flush met a lock: not again before this
                               (monotonic ms; 0 = no retry pending) */
};

/* Fills err (if not NULL) with "history PATH: " + the formatted text and
 * returns st. Clears h->locked (hist_sqlerr sets it for a lock). */
chord_status hist_err(const hist *h, chord_err *err, chord_status st,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fills err from a failed SQLite call (rc is its result) while doing
 * `doing` ("appending a message"): a plain description of the cause (locked,
 * disk full, read-only, corrupt...) plus SQLite's own message. Returns the
 * matching chord_status. */
chord_status hist_sqlerr(const hist *h, chord_err *err, int rc, const char *doing);

/* Prepares sql into *st; on failure fills err (*st = NULL). */
chord_status hist_prep(hist *h, const char *sql, sqlite3_stmt **st,
                       const char *doing, chord_err *err);

/* BEGIN IMMEDIATE (the write lock up front, waiting up to the busy
 * timeout), COMMIT, ROLLBACK. begin/commit fill err on failure; rollback
 * never fails visibly (it is the cleanup path). */
chord_status hist_tx_begin(hist *h, const char *doing, chord_err *err);
chord_status hist_tx_commit(hist *h, const char *doing, chord_err *err);
void hist_tx_rollback(hist *h);

/* Refuses writes on a handle opened read_only. */
chord_status hist_check_writable(const hist *h, chord_err *err);

/* A malloc'd copy of column i (text, may contain NULs), or NULL if the
 * column is NULL. *len (may be NULL) gets its length. Sets *oom when the
 * allocation fails. */
char *hist_col_dup(sqlite3_stmt *st, int i, size_t *len, bool *oom);

/* Clocks in milliseconds: wall time (for rows) and monotonic (for flushes). */
int64_t hist_now_ms(void);
int64_t hist_mono_ms(void);

/* Status name <-> enum; unknown names read as HIST_ERROR. */
hist_msg_status hist_status_parse(const char *s);

/* The identity recorded in a streaming row: our pid and start time. */
void hist_writer_self(long *pid, long long *start);

/* Whether a conversation exists (within the current transaction, if any). */
chord_status hist_conv_check(hist *h, int64_t conv, const char *doing,
                             chord_err *err);

/* Writes the stream buffer to the row (content appended, n_gen updated) and,
 * when final is true, the final status and counts, in one transaction. */
chord_status hist_stream_write(hist *h, bool final, hist_msg_status status,
                               const hist_counts *counts, chord_err *err);

#endif
