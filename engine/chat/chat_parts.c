/*
 * chat_parts.c - the answer, the reasoning and the markup of a reply
 * (see chat_parts.h).
 */
#include "chat/chat_parts.h"

#include <stdlib.h>
#include <string.h>

static const char *const mark_text[CP_N_MARKS] = {
    [CP_THINK_OPEN] = "<think>",       [CP_THINK_CLOSE] = "</think>",
    [CP_H_CHANNEL] = "<|channel|>",    [CP_H_MESSAGE] = "<|message|>",
    [CP_H_START] = "<|start|>",        [CP_H_END] = "<|end|>",
    [CP_H_RETURN] = "<|return|>",      [CP_H_CALL] = "<|call|>",
    [CP_H_CONSTRAIN] = "<|constrain|>",
};

/* harmony states */
enum { H_BODY, H_HEADER, H_CHANNEL, H_BETWEEN };

/* A header longer than this is not a header: the model is not writing
 * harmony, and what follows is shown as the answer rather than hidden. */
#define H_MAX_HEADER_TOKENS 32

/* The id of the single token spelling s exactly (special tokens allowed),
 * else -1. */
static chord_token single_token(const chord_model *m, const char *s)
{
    chord_token t[4];
    chord_err err;
    int n = chord_tokenize(m, s, strlen(s), false, true, t, 4, &err);
    return n == 1 ? t[0] : -1;
}

void chat_parts_init(chat_parts *p, const chord_model *m)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < CP_N_MARKS; i++)
        p->mark[i] = m ? single_token(m, mark_text[i]) : -1;
    bool harmony = true;
    for (int i = CP_H_CHANNEL; i <= CP_H_RETURN; i++)
        harmony = harmony && p->mark[i] >= 0;
    if (harmony)
        p->fmt = CHAT_FMT_HARMONY;
    else if (p->mark[CP_THINK_OPEN] >= 0 && p->mark[CP_THINK_CLOSE] >= 0)
        p->fmt = CHAT_FMT_THINK;
    else
        p->fmt = CHAT_FMT_PLAIN;
}

void chat_parts_free(chat_parts *p)
{
    free(p->kind);
    p->kind = NULL;
    p->n = p->cap = 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void set_channel(chat_parts *p, const char *s, size_t n)
{
    if (n >= sizeof p->channel)
        n = sizeof p->channel - 1;
    memcpy(p->channel, s, n);
    p->channel[n] = 0;
    p->channel_len = n;
}

/* A message's channel decides its part: "final" (or none named) is the
 * answer, every other channel is the model talking to itself. */
static bool channel_is_reasoning(const chat_parts *p)
{
    return p->channel_len && strcmp(p->channel, "final") != 0;
}

void chat_parts_reset(chat_parts *p, const char *prompt)
{
    p->n = 0;
    p->reasoning = false;
    p->after_close = false;
    p->header_tokens = 0;
    set_channel(p, "", 0);
    p->state = H_BODY;
    size_t n = prompt ? strlen(prompt) : 0;
    while (n && is_space(prompt[n - 1]))
        n--;
    if (p->fmt == CHAT_FMT_THINK) {
        /* a template that opens the block itself (R1 distills) */
        p->reasoning = ends_with(prompt ? prompt : "", n, "<think>");
    } else if (p->fmt == CHAT_FMT_HARMONY && prompt) {
        if (ends_with(prompt, n, "<|start|>assistant")) {
            p->state = H_HEADER;
        } else if (ends_with(prompt, n, "<|message|>")) {
            /* the prompt opened the message itself: its channel is the
             * last one it named */
            const char *c = NULL;
            for (const char *q = prompt; (q = strstr(q, "<|channel|>")) && q < prompt + n; q++)
                c = q + strlen("<|channel|>");
            if (c) {
                size_t k = strcspn(c, "< \t\n");
                set_channel(p, c, k);
            }
            p->reasoning = channel_is_reasoning(p);
        }
    }
}

static void keep(chat_parts *p, int kind)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 256;
        uint8_t *k = realloc(p->kind, (size_t)cap);
        if (!k)
            return;
        p->kind = k;
        p->cap = cap;
    }
    p->kind[p->n++] = (uint8_t)kind;
}

int chat_parts_kind(const chat_parts *p, int i)
{
    return i >= 0 && i < p->n ? p->kind[i] : CHORD_PART_ANSWER;
}

static int think_push(chat_parts *p, chord_token t, const char *text)
{
    if (t == p->mark[CP_THINK_OPEN]) {
        p->reasoning = true;
        return CHORD_PART_MARKUP;
    }
    if (t == p->mark[CP_THINK_CLOSE]) {
        p->reasoning = false;
        p->after_close = true;
        return CHORD_PART_MARKUP;
    }
    if (p->reasoning)
        return CHORD_PART_REASONING;
    if (p->after_close) {
        /* the blank lines between the block and the answer belong to
         * neither */
        const char *c = text;
        while (*c && is_space(*c))
            c++;
        if (!*c)
            return CHORD_PART_MARKUP;
        p->after_close = false;
    }
    return CHORD_PART_ANSWER;
}

static int harmony_push(chat_parts *p, chord_token t, const char *text, bool *ends_turn)
{
    const chord_token *mk = p->mark;
    if (t == mk[CP_H_RETURN] || t == mk[CP_H_CALL]) {
        p->state = H_BETWEEN;
        return CHORD_PART_MARKUP;
    }
    if (t == mk[CP_H_START]) {
        p->state = H_HEADER;
        p->header_tokens = 0;
        set_channel(p, "", 0);
        return CHORD_PART_MARKUP;
    }
    if (t == mk[CP_H_CHANNEL]) {
        if (p->state != H_HEADER)
            p->header_tokens = 0;
        p->state = H_CHANNEL;
        set_channel(p, "", 0);
        return CHORD_PART_MARKUP;
    }
    switch (p->state) {
    case H_BODY:
        if (t == mk[CP_H_END]) {
            p->state = H_BETWEEN;
            /* the answer's message closed: the turn is over */
            if (!p->reasoning)
                *ends_turn = true;
            return CHORD_PART_MARKUP;
        }
        return p->reasoning ? CHORD_PART_REASONING : CHORD_PART_ANSWER;
    case H_HEADER:
    case H_CHANNEL:
        if (t == mk[CP_H_MESSAGE]) {
            p->state = H_BODY;
            p->reasoning = channel_is_reasoning(p);
            return CHORD_PART_MARKUP;
        }
        if (t == mk[CP_H_CONSTRAIN]) {
            p->state = H_HEADER;
            return CHORD_PART_MARKUP;
        }
        if (++p->header_tokens > H_MAX_HEADER_TOKENS) {
            p->state = H_BODY;
            p->reasoning = false;
            return CHORD_PART_ANSWER;
        }
        if (p->state == H_CHANNEL) {
            /* the name runs to a space (" to=functions.x") or a marker */
            size_t k = strcspn(text, " \t\n<");
            if (p->channel_len + k < sizeof p->channel) {
                memcpy(p->channel + p->channel_len, text, k);
                p->channel_len += k;
                p->channel[p->channel_len] = 0;
            }
            if (text[k])
                p->state = H_HEADER;
        }
        return CHORD_PART_MARKUP;
    default: /* H_BETWEEN: a message should start; text here is shown */
        if (t == mk[CP_H_END])
            return CHORD_PART_MARKUP;
        p->state = H_BODY;
        p->reasoning = false;
        return CHORD_PART_ANSWER;
    }
}

int chat_parts_push(chat_parts *p, chord_token t, const char *text, bool *ends_turn)
{
    *ends_turn = false;
    int kind = CHORD_PART_ANSWER;
    if (p->fmt == CHAT_FMT_THINK)
        kind = think_push(p, t, text ? text : "");
    else if (p->fmt == CHAT_FMT_HARMONY)
        kind = harmony_push(p, t, text ? text : "", ends_turn);
    keep(p, kind);
    return kind;
}
