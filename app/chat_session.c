/*
 * chat_session.c - a conversation kept in step with the KV cache (see
 * chat_session.h).
 */
#include "chat_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static chord_status oom(chord_err *err)
{
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return CHORD_E_NOMEM;
}

static bool is_family(const char *name)
{
    for (const char *const *f = chord_chat_families(); f && *f; f++)
        if (!strcmp(*f, name))
            return true;
    return false;
}

/* Reads a whole text file into a malloc'd string. */
static chord_status slurp(const char *path, char **out, chord_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg,
                 "--chat-template %s: not a built-in family and not a readable file (%m)", path);
        return CHORD_E_IO;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(buf, cap);
            if (!t) {
                free(buf);
                fclose(f);
                return oom(err);
            }
            buf = t;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err->msg, sizeof err->msg, "--chat-template %s: read error", path);
        return CHORD_E_IO;
    }
    buf[len] = 0;
    *out = buf;
    return CHORD_OK;
}

chord_status chs_template_arg(const char *arg, char **src, const char **family,
                              chord_err *err)
{
    *src = NULL;
    *family = NULL;
    if (!arg)
        return CHORD_OK;
    if (is_family(arg)) {
        *family = arg;
        return CHORD_OK;
    }
    return slurp(arg, src, err);
}

static const char *tok_text(const chord_model *m, chord_token t)
{
    const char *s = t >= 0 ? chord_token_text(m, t) : NULL;
    return s ? s : "";
}

/* Renders msgs with the session's template choice; *out is malloc'd. */
static chord_status render(const chat_session *s, const chord_chat_msg *v, int n, bool gen_prompt,
                           char **out, chord_err *err)
{
    const char *bos = tok_text(s->model, chord_token_bos(s->model));
    const char *eos = tok_text(s->model, chord_token_eos(s->model));
    if (s->tmpl_family)
        return chord_chat_render_builtin(s->tmpl_family, v, n, gen_prompt, bos, eos, out, err);
    return chord_chat_render(s->model, s->tmpl_src, v, n, gen_prompt, bos, eos, out, err);
}

/* Tokenizes text (specials parsed) into a malloc'd array; BOS is added when
 * the model asks for it and the template did not write it already. */
static chord_status tokenize(const chord_model *m, const char *text, bool bos_ok,
                             chord_token **out, int *n_out, chord_err *err)
{
    const char *bos_s = tok_text(m, chord_token_bos(m));
    bool add_bos = bos_ok && chord_model_add_bos(m) &&
                   !(*bos_s && !strncmp(text, bos_s, strlen(bos_s)));
    size_t len = strlen(text);
    int n = chord_tokenize(m, text, len, add_bos, true, NULL, 0, err);
    if (n < 0)
        return CHORD_E_INVALID;
    chord_token *t = malloc((size_t)(n ? n : 1) * sizeof *t);
    if (!t)
        return oom(err);
    if (n && chord_tokenize(m, text, len, add_bos, true, t, n, err) != n) {
        free(t);
        return CHORD_E_INVALID;
    }
    *out = t;
    *n_out = n;
    return CHORD_OK;
}

/* What follows an assistant message in a probe render. Its first word is
 * the stop text ("</s>", "<|im_end|>", "<end_of_turn>"...) unless it
 * starts with whitespace (then the template closes turns with nothing
 * a reply could spell out, or only with a newline, which replies use). Its first
 * token, if a control token (no text of its own) that the engine does not
 * already treat as end of generation, ends the reply too. Best effort: a
 * template that cannot render the probe adds nothing. */
static void find_stop_tokens(chat_session *s)
{
    static const char mark[] = "q7Zx9w";
    chord_chat_msg v[2] = {{"user", "hi"}, {"assistant", mark}};
    char *text = NULL;
    chord_err err;
    if (render(s, v, 2, false, &text, &err) != CHORD_OK)
        return;
    const char *p = strstr(text, mark);
    if (p && p[strlen(mark)] && !strchr(" \t\r\n", p[strlen(mark)])) {
        const char *w = p + strlen(mark);
        size_t n = strcspn(w, " \t\r\n");
        if (n < sizeof s->stop_text) {
            memcpy(s->stop_text, w, n);
            s->stop_text[n] = 0;
        }
    }
    chord_token *t = NULL;
    int n = 0;
    if (p && tokenize(s->model, p + strlen(mark), false, &t, &n, &err) == CHORD_OK && n > 0) {
        char buf[8];
        bool control = chord_token_to_bytes(s->model, t[0], false, buf, (int)sizeof buf) == 0 &&
                       chord_token_to_bytes(s->model, t[0], true, buf, (int)sizeof buf) > 0;
        if (control && !chord_token_is_eog(s->model, t[0]) && s->n_stop < CHS_MAX_STOP)
            s->stop[s->n_stop++] = t[0];
    }
    free(t);
    free(text);
}

chord_status chs_init(chat_session *s, chord_model *model, chord_ctx *ctx,
                      char *tmpl_src, const char *tmpl_family, const char *system,
                      chord_err *err)
{
    memset(s, 0, sizeof *s);
    s->model = model;
    s->ctx = ctx;
    s->tmpl_src = tmpl_src;
    s->tmpl_family = tmpl_family;
    if (system && *system && !(s->system = strdup(system)))
        return oom(err);
    find_stop_tokens(s);
    return CHORD_OK;
}

void chs_free(chat_session *s)
{
    for (int i = 0; i < s->n_msgs; i++)
        free(s->msgs[i].text);
    free(s->msgs);
    free(s->kv);
    free(s->feed);
    free(s->system);
    free(s->tmpl_src);
    memset(s, 0, sizeof *s);
}

void chs_describe_template(const chat_session *s, char *out, size_t cap)
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
    if (chord_chat_render(s->model, own, v, 1, true, tok_text(s->model, chord_token_bos(s->model)),
                          tok_text(s->model, chord_token_eos(s->model)), &text, &err) == CHORD_OK)
        snprintf(out, cap, "chat template: the model's own (tokenizer.chat_template%s%s)",
                 fam ? ", looks like " : "", fam ? fam : "");
    else
        snprintf(out, cap, "chat template: built-in family %s (the model's own cannot be used: %s)",
                 fam ? fam : "chatml", err.msg);
    free(text);
}

chord_status chs_add(chat_session *s, bool user, const char *text, size_t len, chord_err *err)
{
    if (s->n_msgs == s->cap_msgs) {
        int cap = s->cap_msgs ? s->cap_msgs * 2 : 16;
        chs_msg *t = realloc(s->msgs, (size_t)cap * sizeof *t);
        if (!t)
            return oom(err);
        s->msgs = t;
        s->cap_msgs = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return oom(err);
    memcpy(copy, text, len);
    copy[len] = 0;
    s->msgs[s->n_msgs++] = (chs_msg){user, copy, len};
    return CHORD_OK;
}

void chs_pop(chat_session *s)
{
    if (s->n_msgs > 0) {
        free(s->msgs[--s->n_msgs].text);
        if (s->first > s->n_msgs)
            s->first = s->n_msgs;
    }
}

/* Renders and tokenizes the window msgs[first..] into s->feed. */
static chord_status render_window(chat_session *s, chord_err *err)
{
    chord_chat_msg *v = malloc((size_t)(s->n_msgs - s->first + 1) * sizeof *v);
    if (!v)
        return oom(err);
    int n = 0;
    if (s->system)
        v[n++] = (chord_chat_msg){"system", s->system};
    for (int i = s->first; i < s->n_msgs; i++)
        v[n++] = (chord_chat_msg){s->msgs[i].user ? "user" : "assistant", s->msgs[i].text};
    char *text = NULL;
    chord_status st = render(s, v, n, true, &text, err);
    free(v);
    if (st != CHORD_OK)
        return st;
    chord_token *t = NULL;
    int nt = 0;
    st = tokenize(s->model, text, true, &t, &nt, err);
    free(text);
    if (st != CHORD_OK)
        return st;
    free(s->feed);
    s->feed = t;
    s->n_feed = s->cap_feed = nt;
    return CHORD_OK;
}

/* The index of the last user message at or after `from`, or -1. */
static int last_user(const chat_session *s)
{
    for (int i = s->n_msgs - 1; i >= s->first; i--)
        if (s->msgs[i].user)
            return i;
    return -1;
}

chord_status chs_prepare(chat_session *s, int reserve, int *n_dropped, int *n_reuse,
                         chord_err *err)
{
    *n_dropped = 0;
    *n_reuse = 0;
    int n_ctx = chord_ctx_n_ctx(s->ctx);
    int lu = last_user(s);
    for (;;) {
        chord_status st = render_window(s, err);
        if (st != CHORD_OK)
            return st;
        if (s->n_feed + reserve <= n_ctx || s->first >= lu)
            break;
        /* drop one turn: the oldest message and the replies that follow it
         * up to the next user message */
        int i = s->first + 1;
        while (i < lu && !s->msgs[i].user)
            i++;
        s->first = i;
        ++*n_dropped;
    }
    if (s->n_feed >= n_ctx) {
        snprintf(err->msg, sizeof err->msg,
                 "this turn needs %d tokens with the chat template but the context holds %d (--ctx)",
                 s->n_feed, n_ctx);
        return CHORD_E_CTX_FULL;
    }
    if (s->n_feed == 0) {
        snprintf(err->msg, sizeof err->msg, "the chat template rendered an empty prompt");
        return CHORD_E_TEMPLATE;
    }
    /* keep the cached positions that still match; at least one token is
     * evaluated so the reply has logits to start from */
    int pos = chord_ctx_pos(s->ctx);
    int lim = s->n_kv < pos ? s->n_kv : pos;
    int p = 0;
    while (p < lim && p < s->n_feed && s->kv[p] == s->feed[p])
        p++;
    if (p >= s->n_feed)
        p = s->n_feed - 1;
    chord_ctx_truncate(s->ctx, p);
    s->n_kv = p;
    s->n_reply_start = s->n_feed;
    *n_reuse = p;
    return CHORD_OK;
}

chord_status chs_push_token(chat_session *s, chord_token t, chord_err *err)
{
    if (s->n_feed == s->cap_feed) {
        int cap = s->cap_feed ? s->cap_feed * 2 : 256;
        chord_token *p = realloc(s->feed, (size_t)cap * sizeof *p);
        if (!p)
            return oom(err);
        s->feed = p;
        s->cap_feed = cap;
    }
    s->feed[s->n_feed++] = t;
    return CHORD_OK;
}

void chs_after_reply(chat_session *s)
{
    /* the cache holds the first pos tokens of prompt + reply (the last
     * sampled token is not evaluated at a limit or an end of turn) */
    int pos = chord_ctx_pos(s->ctx);
    if (pos > s->n_feed)
        pos = s->n_feed;
    if (pos > s->cap_kv) {
        chord_token *p = realloc(s->kv, (size_t)pos * sizeof *p);
        if (!p) {
            /* forgetting the cache only costs a re-prefill */
            s->n_kv = 0;
            return;
        }
        s->kv = p;
        s->cap_kv = pos;
    }
    if (pos > 0)   /* a reply cut before any evaluation: kv may still be NULL */
        memcpy(s->kv, s->feed, (size_t)pos * sizeof *s->kv);
    s->n_kv = pos;
}

bool chs_is_stop(const chat_session *s, chord_token t)
{
    for (int i = 0; i < s->n_stop; i++)
        if (s->stop[i] == t)
            return true;
    return false;
}
