/*
 * chat_stop.h - the reply filter of a chat turn: the reply's text grows
 * token by token, and the template's end-of-turn text ("</s>",
 * "<|im_end|>"...) must end it even when a vocabulary without that special
 * token spells it out piece by piece, possibly starting in the middle of a
 * token.
 *
 * So the filter holds back the longest end of the reply that could still
 * begin the stop text, hands out everything before it in order (one piece
 * per token, tied to its id, so a caller can count and frame tokens), and
 * when the stop text completes, cuts the reply just before it: a token that
 * straddles the cut is handed out up to the cut, later ones are dropped.
 * With an empty stop text nothing is ever held back.
 *
 * Plain data, no model: the unit test drives it with made-up pieces.
 */
#ifndef CHORD_CHAT_STOP_H
#define CHORD_CHAT_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "chord.h"

#define CHAT_STOP_MAX 64   /* bytes of stop text, NUL included */

/* One generated piece: its token (-1: text without a token, such as the
 * detokenizer's tail) and where its text ends in the reply. */
typedef struct chat_held {
    chord_token id;
    size_t end;
} chat_held;

typedef struct chat_stop {
    char text[CHAT_STOP_MAX];   /* the stop text; "" = none */
    size_t text_len;

    char *reply;                /* the reply so far (NUL-terminated) */
    size_t len, cap;
    chat_held *held;            /* pieces not handed out yet, in order */
    int head;                   /* held[head..n_ready) may be handed out */
    int n_ready, n_held, cap_held;
    size_t shown;               /* reply bytes handed out */
    size_t released;            /* reply bytes cleared for handing out */
    bool hit;                   /* the stop text was reached */

    char *piece;                /* the piece chat_stop_next() gave last */
    size_t piece_cap;
} chat_stop;

/* Sets up an empty filter for stop text (NULL or "" = none; cut at
 * CHAT_STOP_MAX - 1 bytes). */
void chat_stop_init(chat_stop *f, const char *text);
void chat_stop_free(chat_stop *f);
/* Starts a new reply (keeps the stop text and the buffers). */
void chat_stop_reset(chat_stop *f);

/* Adds one piece of generated text (id < 0: text without a token). Returns
 * true once the reply has reached the stop text (later pushes are ignored).
 * CHORD_E_NOMEM in *st (else CHORD_OK) if memory ran out: the piece is
 * lost, the filter stays usable. */
bool chat_stop_push(chat_stop *f, chord_token id, const char *text, size_t len,
                    chord_status *st);

/* The reply ended for another reason: everything held may be handed out. */
void chat_stop_release_all(chat_stop *f);

/* Hands out the next piece cleared for showing, in order: *id its token
 * (-1 for text without one), *text a NUL-terminated copy valid until the
 * next call (a piece may be empty), *len its bytes. False when none is
 * ready. */
bool chat_stop_next(chat_stop *f, chord_token *id, const char **text, size_t *len);

/* The reply's text: everything generated, cut before the stop text if it
 * was reached. Includes pieces not handed out yet. */
const char *chat_stop_reply(const chat_stop *f, size_t *len);

#endif
