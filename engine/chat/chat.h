/*
 * chat.h - a chat session: one conversation kept in step with a chord_ctx's
 * KV cache (the engine side of chord_chat_* in chord.h).
 *
 * The session owns the message list (user/assistant turns after an optional
 * system prompt) and the template choice. Before each reply, chat_prepare()
 * renders the visible conversation through the template, tokenizes it and
 * keeps the part of the KV cache that still matches (longest common
 * prefix), so a turn prefills only its new tokens. When the conversation no
 * longer fits, the oldest turns leave the window (the system prompt stays).
 *
 * A finished reply re-enters the conversation as text, and its text
 * re-tokenized need not give back the tokens the model sampled (a
 * SentencePiece reply's first token carries a space the detokenizer drops;
 * a sampled split of a word need not be the tokenizer's). So the session
 * remembers the text of the last prompt plus the reply and the tokens the
 * model actually saw for it; when the next rendering starts with that text
 * and its tokenization has a token boundary there, those tokens stand for
 * it and the cache is reused through the reply.
 *
 * While a reply streams, what ends the turn is decided here too: the
 * engine's end-of-generation tokens end the generation itself; the
 * template's own closing control token (when the engine does not treat it
 * as end of generation) and its closing text (chat_stop.h) end the turn.
 *
 * Nothing here prints; errors come back as chord_status with err filled.
 */
#ifndef CHORD_CHAT_H
#define CHORD_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/chat_parts.h"
#include "chat/chat_stop.h"
#include "chord.h"

#define CHAT_MAX_STOP 8

typedef struct chat_msg {
    bool user;            /* else assistant */
    char *text;           /* NUL-terminated, len bytes */
    size_t len;
} chat_msg;

struct chord_chat {
    chord_model *model;
    chord_ctx *ctx;
    char *tmpl_src;              /* Jinja source, or NULL */
    char *tmpl_family;           /* built-in family name, or NULL */
    char *system;                /* NULL = none */
    chord_thinking thinking;     /* the template's enable_thinking */

    chat_msg *msgs;
    int n_msgs, cap_msgs;
    int first;                   /* msgs before this one left the window */

    chord_token *kv;             /* tokens at positions 0..n_kv-1 of ctx */
    int n_kv, cap_kv;
    bool no_shift;               /* re-prefill rather than shift the cache */
    bool shifted;                /* the last prepare shifted the cache */
    int n_dropped_tok;           /* cached tokens the last prepare let go */
    chord_token *feed;           /* rendered conversation + this reply */
    int n_feed, cap_feed;
    char *prompt_text;           /* the rendering feed's prompt came from */
    int n_prompt;                /* feed[0..n_prompt) is that prompt */

    /* the last reply as the model saw it: sp_text (prompt plus reply
     * text) stands for the tokens sp_tok (see above) */
    char *sp_text;
    chord_token *sp_tok;
    int n_sp;

    chord_token stop[CHAT_MAX_STOP]; /* extra end-of-turn tokens */
    int n_stop;
    chat_stop filter;            /* the stop text and the reply */
    chat_parts parts;            /* answer, reasoning and markup */
    int n_out_tok;               /* pieces with a token handed out */
    int last_part;               /* the part of the last piece handed out */
    char *answer, *thought;      /* the parts handed out (NUL-terminated) */
    size_t answer_len, answer_cap, thought_len, thought_cap;
    bool ended;                  /* this reply reached the end of its turn */
};

/* Sets a session up over model and ctx (both borrowed; ctx should be
 * empty, and is used by this session only). Finds what the template ends
 * assistant turns with. */
chord_status chat_new(chord_model *m, chord_ctx *ctx, const chord_chat_params *p,
                      chord_chat **out, chord_err *err);
void chat_free(chord_chat *s);

/* Renders and tokenizes the window into s->feed and truncates the cache to
 * the prefix that still matches (see chord_chat_prepare). */
chord_status chat_prepare(chord_chat *s, int reserve, int *n_dropped, int *n_reuse,
                          chord_err *err);

/* Records a generated token and runs the stop checks; true once the turn
 * has ended. */
bool chat_reply_token(chord_chat *s, chord_token t, const char *text, chord_status *st);

/* After the generation was joined: what the cache holds; keep adds the
 * reply to the conversation, else the turn leaves it. */
chord_status chat_reply_end(chord_chat *s, bool keep, chord_err *err);

/* A saved cache put back (model_kvfile.c): the context already holds
 * n_kv positions whose tokens are kv; sp_text / sp_tok are the last
 * reply as the model saw it (see above; NULL / 0 for none). */
chord_status chat_seed(chord_chat *s, const chord_token *kv, int n_kv, const char *sp_text,
                       const chord_token *sp_tok, int n_sp, chord_err *err);

/* Renders msgs with the session's template choice; *out is malloc'd. */
chord_status chat_render(const chord_chat *s, const chord_chat_msg *v, int n, bool gen_prompt,
                         char **out, chord_err *err);

#endif
