/*
 * ui_chat.h - one conversation and its generation: shared by the TUI and
 * the REPL.
 *
 * Owns the messages as shown (with notes and the interrupted / failed
 * marks) and an engine chat session (chord_chat_* in chord.h) that holds
 * the conversation as the model sees it: the session renders it through the
 * chat template, reuses the KV cache prefix that still matches, drops the
 * oldest turns when the context is full, and decides what of a reply may be
 * shown and where the turn ends (end-of-turn token or text), exactly as in
 * batch mode. Runs chord_gen, and records every turn in the history like
 * batch mode does (the assistant row is created at the first shown text
 * and grows with it; an interrupted reply is kept and marked).
 * Front ends call ui_chat_pump() when chord_gen_fd() is readable (or on a
 * timer); nothing here blocks on the engine except ui_chat_free().
 */
#ifndef CHORD_UI_CHAT_H
#define CHORD_UI_CHAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "chord.h"
#include "hist.h"
#include "hist_queue.h"
#include "ui.h"

typedef enum ui_role { UI_ROLE_USER, UI_ROLE_ASSISTANT, UI_ROLE_NOTE } ui_role;

typedef struct ui_msg {
    ui_role role;
    char *text;
    size_t len, cap;
    char *think;                /* a reasoning model's thinking (or NULL) */
    size_t think_len, think_cap;
    bool interrupted, failed;
    int cut_at;                 /* the reply stopped at -n (this many tokens);
                                   0 = it was not cut */
} ui_msg;

typedef struct ui_chat ui_chat;

/* Front-end hooks, all optional: streamed reply text, a note (command
 * output or warning), the end of a reply. */
typedef struct ui_chat_hooks {
    void (*on_text)(void *ud, const char *text, size_t len);
    void (*on_think)(void *ud, const char *text, size_t len); /* reasoning text */
    void (*on_note)(void *ud, const char *text);
    void (*on_done)(void *ud, const chord_event *ev);
    void (*on_warn)(void *ud, const char *text);   /* problems; else on_note */
    void *ud;
} ui_chat_hooks;

struct ui_chat {
    chord_model *model;
    chord_ctx *ctx;
    hist *h;                    /* reads (resume, lists, search, /stats):
                                   see ui_config.hist; NULL until
                                   ui_chat_reader opens it (owned) */
    hist_queue *q;              /* writes, on the queue's own thread (never
                                   this one); NULL when not recording */
    char hist_error[512];       /* why the writer could not be started */
    hist_queue_state hq;        /* the writer's state at the last pump */
    chord_model_info info;
    const char *model_path;
    char model_path_buf[4096];  /* the file after a /model switch */
    const char *tmpl_src, *tmpl_family; /* --chat-template; dropped by a
                                   switch (the new model's own is used) */
    ui_model_load_fn model_load;
    ui_model_list_fn model_list;
    void *model_ud;
    int n_carry;                /* messages carried over by a switch, to be
                                   written first into its new conversation */
    char *switch_req;           /* /model NAME asked for (the front end
                                   calls ui_chat_switch_model) */
    chord_chat *sess;           /* the conversation the model sees */
    chord_sampler_params sp;
    int n_predict;
    chord_model *draft;         /* speculative decoding: --draft (NULL: none) */
    chord_ctx *draft_ctx;
    int draft_max;
    bool lookup;

    int64_t conv_id;            /* 0 until the first message is written */
    int64_t conv_ref;           /* the queue's reference for it, 0 = none */
    int64_t kv_store;           /* --kv-store (0: no saved KV caches) */
    struct kvstore_saver *kv_saver; /* a save on its thread, reading the
                                   context: which waits for it (kv_wait)
                                   before it is evaluated, loaded or freed */
    bool kv_dirty;              /* a turn ended since the last save */
    char title[256];

    ui_msg *msgs;
    int n_msgs, cap_msgs;
    int view_start;             /* /clear hides messages before this one */

    chord_gen *gen;             /* the running reply, or NULL */
    bool turn_ended;            /* the session saw the template's end of turn */
    bool reply_lost;            /* memory ran out keeping the reply */
    int n_shown;                /* tokens of the reply shown */
    bool stream_open;           /* a hist stream is active */
    double t_send_ms;
    /* the last finished (or the running) reply */
    int last_n_prompt, last_n_gen;
    double last_prompt_ms, last_gen_ms, last_ttft_ms;
    int last_n_drafted, last_n_accepted; /* proposed and kept (--draft, --lookup) */

    bool show_thinking;         /* reasoning shown whole, not one line (F3) */
    bool raw_view;              /* replies as raw text, not Markdown (/raw) */
    int code_req;               /* /code N asked for block N (0: the last) */
    char *queued;               /* a message typed while a reply ran */
    int last_n_reuse;           /* tokens of the last prompt the cache kept */
    bool editing;               /* /edit: the next message replaces the last
                                   exchange */
    char *clip;                 /* /copy: text for the front end to copy
                                   (it frees it); NULL = none */
    size_t clip_len;
    uint64_t version;           /* bumped on every visible change */
    ui_chat_hooks hooks;
};

/* Sets the chat up from cfg (resuming cfg->resume_id if set). On failure
 * err says why; the chat is still safe to free. */
chord_status ui_chat_init(ui_chat *c, const ui_config *cfg, chord_err *err);
/* Stops and joins a running reply, finishes its history row, frees all. */
void ui_chat_free(ui_chat *c);

/* Appends a user message and starts the reply. While a reply runs the text
 * is queued and sent when it ends. */
chord_status ui_chat_send(ui_chat *c, const char *text, chord_err *err);
bool ui_chat_busy(const ui_chat *c);
/* The fd that is readable while generation events wait, or -1. */
int ui_chat_fd(const ui_chat *c);
/* Handles waiting events (waits up to timeout_ms for the first); returns
 * true if anything changed. */
bool ui_chat_pump(ui_chat *c, int timeout_ms);
/* Asks the running reply to stop (it ends with an interrupted message). */
void ui_chat_stop(ui_chat *c);

/* Starts a new, empty conversation (keeps the system prompt). */
void ui_chat_new(ui_chat *c);
/* Replaces the conversation by a stored one. */
chord_status ui_chat_resume(ui_chat *c, int64_t id, chord_err *err);
/* Sets (text non-empty) or clears the system prompt. */
void ui_chat_set_system(ui_chat *c, const char *text);

/* Switches to the model spec names (as -m takes it): the running reply is
 * refused (CHORD_E_INVALID), then the new model and a new context are
 * loaded and the shown conversation goes on through the new model's own
 * chat template (system prompt and /think kept; its KV cache starts
 * empty, the next reply prefills). The history records the rest as a new
 * conversation under the new model, the carried messages written first,
 * so each conversation keeps the one model it names. On failure the old
 * model stays and err says why. */
chord_status ui_chat_switch_model(ui_chat *c, const char *spec, chord_err *err);

/* Taking a turn back, with the KV cache kept in step (the session is
 * rebuilt from the shown messages; the next prompt reuses what still
 * matches). The history keeps the old rows, marked (hist_turn_mark).
 * Refused (CHORD_E_INVALID, err says why) while a reply runs or when there
 * is no exchange.
 *   undo:  the last user message and its reply leave the screen, the
 *          session and the history's conversation (marked removed);
 *   retry: the last reply is generated again (the old one is kept in the
 *          history as an alternative).
 * ui_chat_edit_begin returns the last user message's text (owned by the
 * chat) and arms the chat so the next ui_chat_send replaces that exchange
 * (the old one kept as an alternative); ui_chat_edit_cancel disarms it. */
chord_status ui_chat_undo(ui_chat *c, chord_err *err);
chord_status ui_chat_retry(ui_chat *c, chord_err *err);
const char *ui_chat_edit_begin(ui_chat *c, chord_err *err);
void ui_chat_edit_cancel(ui_chat *c);
/* The last reply with text, or NULL. */
const ui_msg *ui_chat_last_reply(const ui_chat *c);

/* Adds a note (shown, never sent to the model, never recorded). */
void ui_chat_note(ui_chat *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note about a problem (an error, a history failure, turns dropped):
 * the REPL sends these to stderr so stdout stays the conversation. */
void ui_chat_warn(ui_chat *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The history's problem in a few words for the status line ("history
 * locked by another process: 12 writes waiting", "history not recorded:
 * ..."); false when there is none. */
bool ui_chat_hist_problem(const ui_chat *c, char *out, size_t cap);
/* The history's state in one line for /stats: writes waiting or failed, a
 * database that could not be opened. */
void ui_chat_hist_line(const ui_chat *c, char *out, size_t cap);

/* How long a read on the UI's thread (the history overlay, /search,
 * /stats, resuming) may wait for another process's lock before it gives
 * up with "history busy": reads in WAL mode never wait for a writer, so
 * only a database locked whole (rollback mode) gets here. */
#define UI_HIST_READ_MS 150
/* How long /export waits for this session's writes to land. */
#define UI_HIST_SYNC_MS 1000

/* The connection for reads, opened read-only here on first use once the
 * writer thread has opened the file (so it exists with the current
 * schema). NULL with err saying why: history off, not open yet (locked,
 * retrying), failed, or busy. */
hist *ui_chat_reader(ui_chat *c, chord_err *err);
/* A failed read's line: "history busy (...)" when the database was locked,
 * else the error as it is. */
const char *ui_chat_read_error(const ui_chat *c, chord_err *err);
/* Waits up to timeout_ms for the queued writes to land (a command that
 * reads what this session wrote: /export); false with err saying what
 * still waits. */
bool ui_chat_hist_sync(ui_chat *c, int timeout_ms, chord_err *err);
/* The history file's path, or NULL when there is no history. */
const char *ui_chat_db_path(const ui_chat *c);

/* A size in binary units, as chord writes sizes everywhere: "512 B",
 * "12.0 KiB", "468.6 MiB", "4.36 GiB". */
void ui_fmt_bytes(double bytes, char *out, size_t cap);

/* The sampling settings as "temp 0.8 · top-k 40 · ..." for the status line. */
void ui_chat_sampling_str(const ui_chat *c, char *out, size_t cap);

#endif
