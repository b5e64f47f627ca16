/*
 * hist.h - conversation history in SQLite: the contract for the modes (batch,
 * TUI, REPL) and for `chord history`.
 *
 * One hist handle is one SQLite connection; use it from one thread at a time
 * and never across fork() (open a new handle in the child). Several
 * processes may write the same file at once: every write is a short
 * IMMEDIATE transaction and waits up to the busy timeout for the lock.
 *
 * Errors: every fallible call returns a chord_status and fills err with one
 * line that names the database file, e.g.
 *   "history /home/u/.local/share/chord/history.db: disk full (while appending a message)"
 * Nothing here prints or exits. A failed call never loses rows that were
 * already committed. After an error the modes are expected to warn once and
 * carry on in memory (stop recording); the handle stays safe to use and to
 * close.
 *
 * Timestamps are Unix time in milliseconds (UTC).
 *
 * Streaming and crashes: an assistant message is written as soon as it
 * starts (status "streaming") and its text is appended as it grows; the
 * buffered text is flushed at least every HIST_FLUSH_MS milliseconds and
 * every HIST_FLUSH_TOKENS tokens, so a crash loses at most about the last
 * second. The row records the writer (pid and process start time). When a
 * handle is opened (read-write), every "streaming" row whose writer process
 * is gone (no such pid, a zombie, or a different process with a reused pid)
 * is marked "interrupted"; rows of live writers are left alone, so two
 * processes can stream into the same file at once.
 */
#ifndef CHORD_DATA_HIST_H
#define CHORD_DATA_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chord.h"

#define HIST_FLUSH_MS 1000
#define HIST_FLUSH_TOKENS 32
#define HIST_TITLE_CHARS 60   /* code points kept by hist_title_from() */

typedef struct hist hist;

/* ---------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------- */

typedef struct hist_open_params {
    int busy_timeout_ms;   /* wait for another writer's lock; 0 = 5000 */
    bool read_only;        /* readers (list/show/search/export/stats): no
                              schema upgrade, no crash recovery, no writes.
                              Works on a file or directory we cannot write
                              (see hist_open) */
    bool must_exist;       /* a missing file is an error, never created
                              (a mistyped --db of `chord history`) */
    int64_t max_pages;     /* 0 = unlimited; caps the file at this many pages
                              (tests use it to simulate a full disk) */
    bool *locked;          /* if not NULL: set to whether a failed open
                              failed on another process's lock (retry later) */
    bool *foreign;         /* if not NULL: set to whether a failed open
                              refused another program's SQLite file */
} hist_open_params;

/* The default database path: $XDG_DATA_HOME/chord/history.db, else
 * ~/.local/share/chord/history.db. Returns a malloc'd string, or NULL with
 * err filled when neither XDG_DATA_HOME nor HOME is set. */
char *hist_default_path(chord_err *err);

/* Opens (creating if needed) a history database. path NULL = the default
 * path, whose directories are created with mode 0700. A new file gets mode
 * 0600. Upgrades the schema to the current version, then marks streaming
 * rows of dead writers as interrupted. p NULL = defaults. A read-only file
 * or directory, a corrupt file, a newer schema than this build knows, or a
 * lock held beyond the timeout while open has to write (upgrade, recovery)
 * are errors naming the file; otherwise a lock shows up as an error from
 * the first write that waits too long.
 *
 * A SQLite file that belongs to another program (it has tables, but not
 * chord's conversations and messages) is refused before anything is
 * written to it, read-only or not: chord never adds its tables there.
 *
 * read_only opens with SQLITE_OPEN_READONLY; when the file or its
 * directory cannot be written and no other process has the file open (no
 * -shm), it is opened as immutable, so no -wal or -shm is created. It never
 * creates a file. */
chord_status hist_open(const char *path, const hist_open_params *p, hist **out,
                       chord_err *err);

/* Changes how long calls on h wait for another process's lock (ms > 0),
 * e.g. a connection opened to write, then kept for reads on a thread that
 * must not wait long. */
void hist_set_busy_timeout(hist *h, int ms);

/* Finishes an open stream as "interrupted" (flushing its text; errors are
 * ignored), then closes the connection. NULL is allowed. */
void hist_close(hist *h);

/* The database file's path (as opened). */
const char *hist_path(const hist *h);

/* The schema version this build writes (PRAGMA user_version). */
int hist_schema_version(void);

/* Whether the last call on h that failed did so because another process
 * held the write lock past the busy timeout. Such a call changed nothing
 * and may be made again later (streams included: see hist_stream_end). */
bool hist_locked(const hist *h);

/* Milliseconds between retries of a stream's flush after a lock. */
#define HIST_RETRY_MS 250

/* ---------------------------------------------------------------------------
 * Writing a conversation
 * ------------------------------------------------------------------------- */

typedef enum hist_msg_status {
    HIST_COMPLETE = 0,
    HIST_STREAMING,
    HIST_INTERRUPTED,   /* cancelled, or the writer died */
    HIST_ERROR,         /* generation failed */
} hist_msg_status;

/* "complete", "streaming", "interrupted", "error". */
const char *hist_status_name(hist_msg_status st);

typedef struct hist_conv_params {
    const char *model;         /* model file's base name, e.g. "qwen2-0.5b.gguf" */
    const char *arch;          /* "llama", "qwen2"; NULL = unknown */
    const char *system_prompt; /* NULL = none */
    const char *params_json;   /* sampling parameters as a JSON object;
                                  NULL = "{}"; must parse */
} hist_conv_params;

/* Creates an empty conversation (title NULL until the first user message);
 * stores its id in *id. */
chord_status hist_conv_create(hist *h, const hist_conv_params *p, int64_t *id,
                              chord_err *err);

/* Sets a conversation's title from text via hist_title_from(). */
chord_status hist_conv_set_title(hist *h, int64_t conv, const char *text,
                                 chord_err *err);

/* Makes a title: the text with runs of whitespace folded to one space and
 * the ends trimmed, cut to at most HIST_TITLE_CHARS code points on a UTF-8
 * boundary ("..." appended when cut). Writes at most cap bytes including the
 * NUL (cap >= 4 * HIST_TITLE_CHARS + 4 never truncates further); returns the
 * length written. */
size_t hist_title_from(const char *text, char *out, size_t cap);

typedef struct hist_counts {
    int n_prompt, n_gen;       /* tokens */
    double prompt_ms, gen_ms;
} hist_counts;

/* Appends a complete message (role "system", "user" or "assistant"; content
 * of len bytes, may be empty or contain any UTF-8). counts NULL = zeros.
 * The first "user" message of an untitled conversation also sets the title.
 * *msg_id (may be NULL) receives the new message's id. */
chord_status hist_msg_add(hist *h, int64_t conv, const char *role,
                          const char *content, size_t len,
                          const hist_counts *counts, int64_t *msg_id,
                          chord_err *err);

/* Streaming an assistant message: begin, add pieces, end. One stream per
 * handle at a time. begin inserts the row (status "streaming", empty) at
 * once. add buffers text (n_tokens = tokens it stands for, may be 0) and
 * flushes when HIST_FLUSH_TOKENS tokens or HIST_FLUSH_MS ms have gathered
 * since the last flush. poll flushes if buffered text is older than
 * HIST_FLUSH_MS (for event loops where tokens may pause). end flushes the
 * rest and sets the final status and counts (status must not be
 * HIST_STREAMING). If a flush fails, the error is returned and later add/
 * poll calls return at once with CHORD_E_IO without touching the file; end
 * still tries one final write, and the stream is over after end whatever it
 * returns (a row it could not finish stays "streaming" until this process
 * exits; the next open elsewhere then marks it interrupted).
 *
 * A lock is not a failure of the stream: when a flush waits out the busy
 * timeout (hist_locked), the text stays buffered, add and poll return that
 * lock error without touching the file until HIST_RETRY_MS have passed,
 * then flush again; end leaves the stream open after a lock, so it can be
 * called again (hist_close still ends it as interrupted). */
chord_status hist_stream_begin(hist *h, int64_t conv, int64_t *msg_id,
                               chord_err *err);
chord_status hist_stream_add(hist *h, const char *text, int n_tokens,
                             chord_err *err);
/* The same for either part of a reasoning model's reply: with reasoning
 * the text goes to the message's reasoning, kept beside its content. */
chord_status hist_stream_add_part(hist *h, const char *text, int n_tokens, bool reasoning,
                                  chord_err *err);
chord_status hist_stream_poll(hist *h, chord_err *err);
chord_status hist_stream_end(hist *h, hist_msg_status status,
                             const hist_counts *counts, chord_err *err);
/* True between begin and end. */
bool hist_stream_active(const hist *h);

/* The span [*a, *b) of text without the blank lines and spaces around it;
 * false when nothing is left (a reasoning part is stored as generated and
 * shown trimmed). */
bool hist_trim(const char *text, size_t len, size_t *a, size_t *b);

/* A turn the chat took back: /retry and /edit keep the old reply (and
 * question) as an alternative, /undo marks its turn removed. Marked rows
 * stay in the file and in `chord history show`; resuming leaves them out. */
typedef enum hist_mark { HIST_LIVE = 0, HIST_ALTERNATIVE = 1, HIST_REMOVED = 2 } hist_mark;

/* Marks the conversation's last turn: the last unmarked user message and
 * every unmarked message after it, or (with_user false) only the messages
 * after it (the reply /retry replaces). */
chord_status hist_turn_mark(hist *h, int64_t conv, bool with_user, hist_mark mark,
                            chord_err *err);
/* "alternative", "removed", "" for HIST_LIVE. */
const char *hist_mark_name(hist_mark m);

/* ---------------------------------------------------------------------------
 * Reading (for resume, the CLI and the TUI)
 * ------------------------------------------------------------------------- */

typedef struct hist_msg {
    int64_t id;
    int seq;                   /* 1, 2, ... within the conversation */
    char *role;
    char *content;             /* NUL-terminated; len bytes */
    size_t len;
    char *reasoning;           /* a reasoning model's thinking; "" if none */
    size_t reasoning_len;
    hist_msg_status status;
    hist_counts counts;
    int64_t created_at;
    int superseded;            /* a hist_mark: 0 = part of the conversation */
} hist_msg;

typedef struct hist_conv {
    int64_t id;
    char *title;               /* may be NULL */
    char *model, *arch;        /* arch may be NULL */
    char *system_prompt;       /* may be NULL */
    char *params_json;
    int64_t created_at, updated_at;
    int n_msgs;
    hist_msg *msgs;            /* in seq order */
} hist_conv;

/* Loads a conversation and all its messages. To resume, render
 * system_prompt (if any) followed by msgs through the chat template.
 * CHORD_E_INVALID if there is no such conversation. */
chord_status hist_conv_load(hist *h, int64_t id, hist_conv **out, chord_err *err);
void hist_conv_free(hist_conv *c);

/* The most recently updated conversation's id, or 0 if there is none. */
chord_status hist_conv_last(hist *h, int64_t *id, chord_err *err);

/* Whether a conversation exists. */
chord_status hist_conv_exists(hist *h, int64_t id, bool *exists, chord_err *err);

typedef struct hist_conv_row {
    int64_t id;
    char *title;               /* may be NULL */
    char *model;
    int n_msgs;
    int64_t created_at, updated_at;  /* updated_at = last activity */
} hist_conv_row;

/* Conversations, newest activity first; limit <= 0 = all. */
chord_status hist_list(hist *h, int limit, hist_conv_row **rows, int *n,
                       chord_err *err);
void hist_rows_free(hist_conv_row *rows, int n);

typedef struct hist_hit {
    int64_t conv_id, msg_id;
    int seq;
    char *role;
    char *title;               /* the conversation's; may be NULL */
    char *snippet;             /* matched terms wrapped in hl_open/hl_close */
    double rank;               /* bm25: lower is better */
} hist_hit;

/* Full-text search over message content, best match first. A message
 * enters the index when it stops streaming (ends or is recovered). The query is
 * plain words (all must match); a word ending in '*' is a prefix
 * ("lightho*"). Quotes and FTS operators in the text are taken literally,
 * never as syntax. CHORD_E_INVALID for a query with no searchable word.
 * hl_open/hl_close NULL = "[" and "]". */
chord_status hist_search(hist *h, const char *query, int limit,
                         const char *hl_open, const char *hl_close,
                         hist_hit **hits, int *n, chord_err *err);
void hist_hits_free(hist_hit *hits, int n);

/* Deletes a conversation with its messages (and their search entries).
 * CHORD_E_INVALID if there is no such conversation. */
chord_status hist_conv_delete(hist *h, int64_t id, chord_err *err);

/* Past user prompts, oldest first (newest last), at most limit (the most
 * recent ones), for seeding readline's history. Free with
 * hist_strings_free. */
chord_status hist_prompts(hist *h, int limit, char ***out, int *n,
                          chord_err *err);
void hist_strings_free(char **v, int n);

typedef struct hist_model_stat {
    char *model;
    int64_t n_convs, n_msgs, n_tokens;   /* n_tokens = prompt + generated */
} hist_model_stat;

typedef struct hist_stats {
    int64_t n_convs, n_msgs;
    int64_t n_prompt_tokens, n_gen_tokens;
    double gen_ms;
    int64_t db_bytes;          /* the file plus its -wal */
    int n_models;
    hist_model_stat *models;   /* most conversations first */
} hist_stats;

chord_status hist_stats_get(hist *h, hist_stats *out, chord_err *err);
void hist_stats_free(hist_stats *s);

/* ---------------------------------------------------------------------------
 * Export (the CLI's show and export print exactly this)
 * ------------------------------------------------------------------------- */

/* Writes a conversation as one JSON object (id, title, model, arch,
 * system_prompt, params, created_at, updated_at, messages[...]) followed by
 * a newline. */
chord_status hist_export_json(hist *h, int64_t id, FILE *f, chord_err *err);
/* Writes a conversation as Markdown (a title heading, a metadata list, one
 * section per message). */
chord_status hist_export_md(hist *h, int64_t id, FILE *f, chord_err *err);

#endif
