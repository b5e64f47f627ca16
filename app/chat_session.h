/*
 * chat_session.h - one conversation held in memory and kept in step with a
 * chord_ctx's KV cache (used by `chord --batch` chat mode).
 *
 * The session owns the message list (user/assistant turns after an optional
 * system prompt). Before each reply, chs_prepare() renders the whole visible
 * conversation through the chat template, tokenizes it, and keeps the part
 * of the KV cache that still matches (longest common prefix), so a new turn
 * prefills only its new tokens. When the rendered conversation no longer
 * fits, the oldest turns leave the window (the system prompt stays) and the
 * rest is re-rendered and re-prefilled.
 *
 * Nothing here prints; errors come back as chord_status with err filled.
 */
#ifndef CHORD_APP_CHAT_SESSION_H
#define CHORD_APP_CHAT_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "chord.h"

#define CHS_MAX_STOP 8

typedef struct chs_msg {
    bool user;            /* else assistant */
    char *text;           /* NUL-terminated, len bytes */
    size_t len;
} chs_msg;

typedef struct chat_session {
    chord_model *model;
    chord_ctx *ctx;
    char *tmpl_src;              /* --chat-template file contents, or NULL */
    const char *tmpl_family;     /* --chat-template family name, or NULL */
    char *system;                /* NULL = none */

    chs_msg *msgs;
    int n_msgs, cap_msgs;
    int first;                   /* msgs before this one left the window */

    chord_token *kv;             /* tokens at positions 0..n_kv-1 of ctx */
    int n_kv, cap_kv;
    chord_token *feed;           /* rendered conversation + this reply */
    int n_feed, cap_feed;
    int n_reply_start;           /* where this reply's tokens start in feed */

    chord_token stop[CHS_MAX_STOP]; /* extra end-of-turn tokens of the template */
    int n_stop;
    /* The text the template closes assistant turns with ("</s>",
     * "<|im_end|>"...), empty if none: a vocabulary without that special
     * token can still spell it out piece by piece. */
    char stop_text[64];
} chat_session;

/* Resolves --chat-template: a built-in family name is kept as *family; any
 * other value is read as a Jinja file into *src (malloc'd). arg NULL leaves
 * both NULL (the model's own template). */
chord_status chs_template_arg(const char *arg, char **src, const char **family,
                              chord_err *err);

/* Sets a session up over model and ctx (both borrowed; ctx should be
 * empty). Takes ownership of tmpl_src. system NULL or "" = none. Also
 * finds what the template ends assistant turns with: the text, and the
 * token if it is a control token the engine's end-of-generation set
 * lacks. */
chord_status chs_init(chat_session *s, chord_model *model, chord_ctx *ctx,
                      char *tmpl_src, const char *tmpl_family, const char *system,
                      chord_err *err);
void chs_free(chat_session *s);

/* One line for -v: which template renders the conversation and why. */
void chs_describe_template(const chat_session *s, char *out, size_t cap);

/* Appends a message to the conversation. */
chord_status chs_add(chat_session *s, bool user, const char *text, size_t len,
                     chord_err *err);
/* Removes the last message (a user turn that could not be answered). */
void chs_pop(chat_session *s);

/* Renders and tokenizes the conversation with the generation prompt,
 * dropping the oldest turns while the tokens plus `reserve` (room for the
 * reply) exceed the context; *n_dropped counts the turns dropped now. Then
 * truncates the KV cache to the prefix that still matches. On success the
 * tokens to prefill are s->feed[*n_reuse .. s->n_feed). CHORD_E_CTX_FULL
 * when even the last user turn alone leaves no room for one token. */
chord_status chs_prepare(chat_session *s, int reserve, int *n_dropped, int *n_reuse,
                         chord_err *err);

/* Records a generated token (it follows the prompt in the cache). */
chord_status chs_push_token(chat_session *s, chord_token t, chord_err *err);
/* After the generation has been joined: remembers what the KV cache holds. */
void chs_after_reply(chat_session *s);

/* Whether t ends an assistant turn under this template without being an
 * engine end-of-generation token (the caller must stop there; the reply
 * must also stop where its text reaches s->stop_text). */
bool chs_is_stop(const chat_session *s, chord_token t);

#endif
