/*
 * chat_api.c - chord_chat_*: the public face of chat sessions (chat.h), and
 * the message list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/err.h"

chord_status chord_chat_new(chord_model *m, chord_ctx *ctx, const chord_chat_params *p,
                            chord_chat **out, chord_err *err)
{
    return chat_new(m, ctx, p, out, err);
}

void chord_chat_free(chord_chat *s)
{
    chat_free(s);
}

const char *chord_chat_stop_text(const chord_chat *s)
{
    return s->filter.text;
}

int chord_chat_stop_tokens(const chord_chat *s, const chord_token **out)
{
    if (out)
        *out = s->stop;
    return s->n_stop;
}

void chord_chat_describe_template(const chord_chat *s, char *out, size_t cap)
{
    if (s->tmpl_family) {
        snprintf(out, cap, "chat template: built-in family %s (--chat-template)", s->tmpl_family);
        return;
    }
    if (s->tmpl_src) {
        snprintf(out, cap, "chat template: from the --chat-template file");
        return;
    }
    const char *fam = chord_chat_detect_family(s->model);
    const char *own = chord_model_meta_str(s->model, "tokenizer.chat_template");
    if (!own) {
        snprintf(out, cap, "chat template: built-in family %s (the model has no tokenizer.chat_template%s)",
                 fam ? fam : "chatml", fam ? "; the family its vocabulary looks like" : "; chatml by default");
        return;
    }
    /* an explicit source never falls back, so this shows whether the
     * engine can run the model's own template */
    chord_chat_msg v[1] = {{"user", "hi"}};
    char *text = NULL;
    chord_err err;
    chord_token bos = chord_token_bos(s->model), eos = chord_token_eos(s->model);
    const char *bos_s = bos >= 0 ? chord_token_text(s->model, bos) : NULL;
    const char *eos_s = eos >= 0 ? chord_token_text(s->model, eos) : NULL;
    if (chord_chat_render(s->model, own, v, 1, true, bos_s ? bos_s : "", eos_s ? eos_s : "", &text,
                          &err) == CHORD_OK)
        snprintf(out, cap, "chat template: the model's own (tokenizer.chat_template%s%s)",
                 fam ? ", looks like " : "", fam ? fam : "");
    else
        snprintf(out, cap, "chat template: built-in family %s (the model's own cannot be used: %s)",
                 fam ? fam : "chatml", err.msg);
    free(text);
}

/* ------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------- */

chord_status chord_chat_set_system(chord_chat *s, const char *text, chord_err *err)
{
    char *copy = NULL;
    if (text && *text && !(copy = strdup(text)))
        return err_set(err, CHORD_E_NOMEM, "chat session: out of memory for the system prompt");
    free(s->system);
    s->system = copy;
    return CHORD_OK;
}

const char *chord_chat_system(const chord_chat *s)
{
    return s->system;
}

chord_status chord_chat_add(chord_chat *s, bool user, const char *text, size_t len,
                            chord_err *err)
{
    if (s->n_msgs == s->cap_msgs) {
        int cap = s->cap_msgs ? s->cap_msgs * 2 : 16;
        chat_msg *t = realloc(s->msgs, (size_t)cap * sizeof *t);
        if (!t)
            return err_set(err, CHORD_E_NOMEM, "chat session: out of memory for message %d", s->n_msgs);
        s->msgs = t;
        s->cap_msgs = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return err_set(err, CHORD_E_NOMEM, "chat session: out of memory for a %zu-byte message", len);
    if (len)
        memcpy(copy, text, len);
    copy[len] = 0;
    s->msgs[s->n_msgs++] = (chat_msg){user, copy, len};
    return CHORD_OK;
}

bool chord_chat_too_long(const chord_chat *s, const char *text, size_t len, chord_err *err)
{
    int n_ctx = chord_ctx_n_ctx(s->ctx);
    size_t cap = (size_t)n_ctx * 8;
    if (len <= cap)
        return false;
    size_t p = cap;
    while (p > 0 && ((unsigned char)text[p] & 0xC0) == 0x80)
        p--;   /* not inside a UTF-8 character */
    chord_err e;
    int n = chord_tokenize(s->model, text, p, false, false, NULL, 0, &e);
    if (n <= n_ctx)
        return false;
    snprintf(err->msg, sizeof err->msg,
             "message not sent: %zu bytes, and its first %zu already make %d tokens but the "
             "context holds %d (--ctx)", len, p, n, n_ctx);
    return true;
}

void chord_chat_pop(chord_chat *s)
{
    if (s->n_msgs > 0) {
        free(s->msgs[--s->n_msgs].text);
        if (s->first > s->n_msgs)
            s->first = s->n_msgs;
    }
}

void chord_chat_clear(chord_chat *s)
{
    while (s->n_msgs > 0)
        chord_chat_pop(s);
    s->first = 0;
}

int chord_chat_n_msgs(const chord_chat *s)
{
    return s->n_msgs;
}

const char *chord_chat_msg_text(const chord_chat *s, int i, bool *user)
{
    if (i < 0 || i >= s->n_msgs)
        return NULL;
    if (user)
        *user = s->msgs[i].user;
    return s->msgs[i].text;
}

int chord_chat_window_start(const chord_chat *s)
{
    return s->first;
}

/* ------------------------------------------------------------------------
 * A reply
 * ---------------------------------------------------------------------- */

chord_status chord_chat_prepare(chord_chat *s, int reserve, const chord_token **prompt,
                                int *n_prompt, int *n_reuse, int *n_dropped, chord_err *err)
{
    *prompt = NULL;
    *n_prompt = 0;
    chord_status st = chat_prepare(s, reserve, n_dropped, n_reuse, err);
    if (st != CHORD_OK)
        return st;
    *prompt = s->feed + *n_reuse;
    *n_prompt = s->n_feed - *n_reuse;
    return CHORD_OK;
}

bool chord_chat_reply_push(chord_chat *s, chord_token t, const char *text, chord_status *st)
{
    return chat_reply_token(s, t, text ? text : "", st);
}

void chord_chat_reply_flush(chord_chat *s)
{
    chat_stop_release_all(&s->filter);
}

/* Appends n bytes to a part's buffer; false when memory ran out (the part
 * then misses the piece, the reply goes on). */
static bool part_append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return false;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = 0;
    return true;
}

bool chord_chat_reply_next(chord_chat *s, chord_chat_piece *out)
{
    if (!chat_stop_next(&s->filter, &out->token, &out->text, &out->len))
        return false;
    /* pieces come out in the order their tokens went in, one per token:
     * the k-th with a token is the k-th token the parts classified; text
     * without one (the detokenizer's tail) continues the part before it */
    out->part = out->token >= 0 ? chat_parts_kind(&s->parts, s->n_out_tok++) : s->last_part;
    s->last_part = out->part;
    if (out->part == CHORD_PART_MARKUP) {
        out->text = "";
        out->len = 0;
    } else if (out->part == CHORD_PART_REASONING) {
        part_append(&s->thought, &s->thought_len, &s->thought_cap, out->text, out->len);
    } else {
        part_append(&s->answer, &s->answer_len, &s->answer_cap, out->text, out->len);
    }
    return true;
}

const char *chord_chat_reply_text(const chord_chat *s, size_t *len)
{
    if (s->parts.fmt == CHAT_FMT_PLAIN)
        return chat_stop_reply(&s->filter, len);
    *len = s->answer_len;
    return s->answer ? s->answer : "";
}

const char *chord_chat_reply_reasoning(const chord_chat *s, size_t *len)
{
    const char *t = s->thought ? s->thought : "";
    size_t a = 0, b = s->thought_len;
    while (a < b && strchr(" \t\r\n", t[a]))
        a++;
    while (b > a && strchr(" \t\r\n", t[b - 1]))
        b--;
    *len = b - a;
    return t + a;
}

const char *chord_chat_reasoning_format(const chord_chat *s)
{
    switch (s->parts.fmt) {
    case CHAT_FMT_THINK: return "think";
    case CHAT_FMT_HARMONY: return "harmony";
    default: return NULL;
    }
}

bool chord_chat_thinking_switch(const chord_chat *s)
{
    if (s->tmpl_family)
        return false;
    const char *src = s->tmpl_src ? s->tmpl_src
                                  : chord_model_meta_str(s->model, "tokenizer.chat_template");
    return src && strstr(src, "enable_thinking");
}

void chord_chat_set_thinking(chord_chat *s, chord_thinking t)
{
    s->thinking = t;
}

chord_thinking chord_chat_get_thinking(const chord_chat *s)
{
    return s->thinking;
}

chord_status chord_chat_reply_end(chord_chat *s, bool keep, chord_err *err)
{
    return chat_reply_end(s, keep, err);
}
