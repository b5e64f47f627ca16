/*
 * chat_parts.h - which part of a reply each generated token belongs to:
 * the answer, the model's reasoning, or markup that is neither.
 *
 * Reasoning models write their thinking before the answer, in one of two
 * shapes, and the shape is a property of the vocabulary, not of the text:
 *
 *   think tags  (Qwen3, DeepSeek-R1 distills, QwQ): "<think>" ... "</think>"
 *               then the answer. The tags are single tokens; a template
 *               may open the block itself at the end of the generation
 *               prompt, so the reply then starts inside it.
 *   harmony     (gpt-oss): a reply is a run of messages, each
 *               "<|channel|>NAME<|message|>TEXT" closed by "<|end|>" (and
 *               the next opened by "<|start|>assistant"); the channel named
 *               "final" is the answer, "analysis" and "commentary" are the
 *               reasoning; "<|return|>" closes the last one.
 *
 * Everything is decided on token ids as they are generated, so the part of
 * a token is known before its text is shown. For harmony that also decides
 * the end of the turn: "<|end|>" after an analysis message is not the end
 * (the answer follows), "<|end|>" after the final one is.
 *
 * Plain data over a model's vocabulary; the unit test drives it with
 * made-up ids.
 */
#ifndef CHORD_CHAT_PARTS_H
#define CHORD_CHAT_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"

typedef enum chat_fmt {
    CHAT_FMT_PLAIN = 0,   /* the whole reply is the answer */
    CHAT_FMT_THINK,
    CHAT_FMT_HARMONY,
} chat_fmt;

/* the marker tokens of a format (-1: absent) */
enum {
    CP_THINK_OPEN, CP_THINK_CLOSE,
    CP_H_CHANNEL, CP_H_MESSAGE, CP_H_START, CP_H_END, CP_H_RETURN, CP_H_CALL, CP_H_CONSTRAIN,
    CP_N_MARKS
};

typedef struct chat_parts {
    chat_fmt fmt;
    chord_token mark[CP_N_MARKS];

    /* per reply */
    int state;               /* harmony: where in a message we are */
    bool reasoning;          /* the current body is reasoning */
    bool after_close;        /* think: just past "</think>" */
    char channel[24];        /* harmony: the header's channel name so far */
    size_t channel_len;
    int header_tokens;       /* harmony: tokens in the current header */
    uint8_t *kind;           /* the part of each token pushed, in order */
    int n, cap;
} chat_parts;

/* Finds the format from the vocabulary: harmony if every harmony marker is
 * a single token, else think tags if both are, else plain. */
void chat_parts_init(chat_parts *p, const chord_model *m);
void chat_parts_free(chat_parts *p);

/* Starts a reply that follows the rendered prompt `prompt` (its text
 * decides whether the reply starts inside a think block, or in a harmony
 * header). */
void chat_parts_reset(chat_parts *p, const char *prompt);

/* Classifies generated token t (its text as shown without special tokens
 * is `text`). Returns its part (CHORD_PART_*); *ends_turn is set when the
 * token closes the turn (harmony's "<|end|>" after the final message).
 * The part is also kept: chat_parts_kind(p, i) for the i-th token pushed.
 * Memory running out only loses the kept kinds (the answer then shows
 * as answer). */
int chat_parts_push(chat_parts *p, chord_token t, const char *text, bool *ends_turn);
int chat_parts_kind(const chat_parts *p, int i);

#endif
