/*
 * chat.c - a conversation kept in step with the KV cache (see chat.h).
 */
#include "chat/chat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tok/tok.h"

static chord_status oom(chord_err *err)
{
    return err_set(err, CHORD_E_NOMEM, "chat session: out of memory");
}

static const char *tok_str(const chord_model *m, chord_token t)
{
    const char *s = t >= 0 ? chord_token_text(m, t) : NULL;
    return s ? s : "";
}

chord_status chat_render(const chord_chat *s, const chord_chat_msg *v, int n, bool gen_prompt,
                         char **out, chord_err *err)
{
    const char *bos = tok_str(s->model, chord_token_bos(s->model));
    const char *eos = tok_str(s->model, chord_token_eos(s->model));
    if (s->tmpl_family)
        return chord_chat_render_builtin(s->tmpl_family, v, n, gen_prompt, bos, eos, out, err);
    return chord_chat_render_thinking(s->model, s->tmpl_src, v, n, gen_prompt, bos, eos,
                                      s->thinking, out, err);
}

/* ------------------------------------------------------------------------
 * Which bytes of a rendering are message text
 *
 * The rendering is tokenized with the template's control tokens parsed,
 * but a message is always text: a user who types <|im_end|> must get the
 * ids of those characters, not end their own turn. So the conversation is
 * rendered a second time with each message's content replaced by a marker
 * (private-use characters around its index) that templates pass through
 * untouched; between the markers is the template's own text, which must
 * reappear unchanged in the real rendering, and at each marker the real
 * rendering must hold the message's content as the template wrote it
 * (verbatim or trimmed: the ways templates print content). Every byte
 * placed there is literal. A template whose output does not line up so
 * (it branches on the content, or rewrites it) gets every occurrence of
 * each message's text marked literal instead: safe, at worst a template
 * marker that equals a message is read as text.
 * ---------------------------------------------------------------------- */

#define MARK_OPEN "\xee\x80\x80"    /* U+E000 */
#define MARK_CLOSE "\xee\x80\x81"   /* U+E001 */

static bool is_ws(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Content as a template may print it: verbatim, trimmed, trimmed on one
 * side: c[*start .. *start + *len). */
static void content_form(const char *c, int form, size_t *start, size_t *len)
{
    size_t a = 0, b = strlen(c);
    if (form == 1 || form == 2)
        while (a < b && is_ws(c[a]))
            a++;
    if (form == 1 || form == 3)
        while (b > a && is_ws(c[b - 1]))
            b--;
    *start = a;
    *len = b - a;
}

/* Lines the real rendering R up with the marker rendering W (see above),
 * flagging lit[] for the message bytes; false if they do not line up. */
static bool align_marked(const char *R, const char *W, const chord_chat_msg *v, int n,
                         uint8_t *lit)
{
    size_t r = 0, rl = strlen(R);
    const char *w = W;
    for (;;) {
        const char *m = strstr(w, MARK_OPEN);
        size_t t = m ? (size_t)(m - w) : strlen(w);
        /* the template's own text */
        if (t > rl - r || memcmp(R + r, w, t))
            return false;
        r += t;
        if (!m)
            return r == rl;
        char *end;
        long i = strtol(m + 3, &end, 10);
        if (end == m + 3 || i < 0 || i >= n || strncmp(end, MARK_CLOSE, 3))
            return false;
        w = end + 3;
        /* what follows the marker in W, up to the next marker: R must
         * continue with it after the content */
        const char *m2 = strstr(w, MARK_OPEN);
        size_t next = m2 ? (size_t)(m2 - w) : strlen(w);
        int form = 0;
        size_t cs = 0, cl = 0;
        for (; form < 4; form++) {
            content_form(v[i].content, form, &cs, &cl);
            if (cl <= rl - r && !memcmp(R + r, v[i].content + cs, cl) &&
                next <= rl - r - cl && !memcmp(R + r + cl, w, next))
                break;
        }
        if (form == 4)
            return false;
        memset(lit + r, 1, cl);
        r += cl;
    }
}

/* The fallback: every occurrence of each message's text (and of it
 * trimmed) is literal. */
static void mark_occurrences(const char *R, const chord_chat_msg *v, int n, uint8_t *lit)
{
    for (int i = 0; i < n; i++)
        for (int form = 0; form < 2; form++) {
            size_t cs, cl;
            content_form(v[i].content, form, &cs, &cl);
            if (!cl)
                continue;
            for (const char *p = R; (p = memmem(p, strlen(p), v[i].content + cs, cl)) != NULL; p++)
                memset(lit + (p - R), 1, cl);
        }
}

/* Renders msgs and flags which bytes of the result are message text:
 * *out and *lit (strlen(*out) bytes) are malloc'd. */
static chord_status render_marked(const chord_chat *s, const chord_chat_msg *v, int n,
                                  bool gen_prompt, char **out, uint8_t **lit, chord_err *err)
{
    *lit = NULL;
    chord_status st = chat_render(s, v, n, gen_prompt, out, err);
    if (st != CHORD_OK)
        return st;
    size_t len = strlen(*out);
    uint8_t *flags = calloc(len + 1, 1);
    chord_chat_msg *mv = malloc((size_t)(n ? n : 1) * sizeof *mv);
    char (*marks)[24] = malloc((size_t)(n ? n : 1) * sizeof *marks);
    if (!flags || !mv || !marks) {
        free(flags);
        free(mv);
        free(marks);
        free(*out);
        *out = NULL;
        return oom(err);
    }
    for (int i = 0; i < n; i++) {
        snprintf(marks[i], sizeof marks[i], MARK_OPEN "%d" MARK_CLOSE, i);
        mv[i] = (chord_chat_msg){v[i].role, marks[i]};
    }
    char *w = NULL;
    chord_err e2;
    if (chat_render(s, mv, n, gen_prompt, &w, &e2) != CHORD_OK || !align_marked(*out, w, v, n, flags)) {
        memset(flags, 0, len);
        mark_occurrences(*out, v, n, flags);
    }
    free(w);
    free(mv);
    free(marks);
    *lit = flags;
    return CHORD_OK;
}

/* Tokenizes text (the template's control tokens parsed; bytes flagged in
 * lit, if not NULL, are message text) into a malloc'd array; BOS is added
 * when the model asks for it and the template did not write it already. */
static chord_status tokenize(const chord_model *m, const char *text, const uint8_t *lit,
                             bool bos_ok, chord_token **out, int *n_out, chord_err *err)
{
    const tok_vocab *voc = model_vocab(m);
    if (!voc)
        return err_set(err, CHORD_E_INVALID, "tokenize: the model has no vocabulary");
    const char *bos_s = tok_str(m, chord_token_bos(m));
    bool add_bos = bos_ok && chord_model_add_bos(m) &&
                   !(*bos_s && !strncmp(text, bos_s, strlen(bos_s)));
    size_t len = strlen(text);
    int n = tok_encode_marked(voc, text, len, lit, add_bos, false, NULL, 0, err);
    if (n < 0)
        return CHORD_E_INVALID;
    chord_token *t = malloc((size_t)(n ? n : 1) * sizeof *t);
    if (!t)
        return oom(err);
    if (n && tok_encode_marked(voc, text, len, lit, add_bos, false, t, n, err) != n) {
        free(t);
        return CHORD_E_INVALID;
    }
    *out = t;
    *n_out = n;
    return CHORD_OK;
}

/* What follows an assistant message in a probe render. Its first word is
 * the stop text ("</s>", "<|im_end|>", "<end_of_turn>"...) unless it
 * starts with whitespace (then the template closes turns with nothing a
 * reply could spell out, or only with a newline, which replies use). Its
 * first token, if a control token (no text of its own) that the engine
 * does not already treat as end of generation, ends the reply too. Best
 * effort: a template that cannot render the probe adds nothing. */
static void find_stops(chord_chat *s)
{
    static const char mark[] = "q7Zx9w";
    chord_chat_msg v[2] = {{"user", "hi"}, {"assistant", mark}};
    char *text = NULL;
    char stop_text[CHAT_STOP_MAX] = "";
    chord_err err;
    if (chat_render(s, v, 2, false, &text, &err) != CHORD_OK)
        return;
    const char *p = strstr(text, mark);
    if (p && p[strlen(mark)] && !strchr(" \t\r\n", p[strlen(mark)])) {
        const char *w = p + strlen(mark);
        size_t n = strcspn(w, " \t\r\n");
        if (n < sizeof stop_text) {
            memcpy(stop_text, w, n);
            stop_text[n] = 0;
        }
    }
    chat_stop_init(&s->filter, stop_text);
    chord_token *t = NULL;
    int n = 0;
    if (p && tokenize(s->model, p + strlen(mark), NULL, false, &t, &n, &err) == CHORD_OK && n > 0) {
        char buf[8];
        bool control = chord_token_to_bytes(s->model, t[0], false, buf, (int)sizeof buf) == 0 &&
                       chord_token_to_bytes(s->model, t[0], true, buf, (int)sizeof buf) > 0;
        if (control && !chord_token_is_eog(s->model, t[0]) && s->n_stop < CHAT_MAX_STOP)
            s->stop[s->n_stop++] = t[0];
    }
    free(t);
    free(text);
}

chord_status chat_new(chord_model *m, chord_ctx *ctx, const chord_chat_params *p,
                      chord_chat **out, chord_err *err)
{
    *out = NULL;
    if (!m || !ctx)
        return err_set(err, CHORD_E_INVALID, "chord_chat_new: no model or context");
    chord_chat *s = calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    s->model = m;
    s->ctx = ctx;
    if (p && p->template_src && !(s->tmpl_src = strdup(p->template_src)))
        goto nomem;
    if (p && p->template_family && !(s->tmpl_family = strdup(p->template_family)))
        goto nomem;
    if (p && p->system && *p->system && !(s->system = strdup(p->system)))
        goto nomem;
    s->no_shift = p && p->no_ctx_shift;
    if (p)
        s->thinking = (chord_thinking)p->thinking;
    find_stops(s);
    chat_parts_init(&s->parts, m);
    if (s->parts.fmt == CHAT_FMT_HARMONY) {
        /* "<|end|>" closes every harmony message, the analysis ones too:
         * the parts decide which one ends the turn */
        chat_stop_init(&s->filter, "");
        s->n_stop = 0;
    }
    *out = s;
    return CHORD_OK;
nomem:
    chat_free(s);
    return oom(err);
}

void chat_free(chord_chat *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_msgs; i++)
        free(s->msgs[i].text);
    free(s->msgs);
    free(s->kv);
    free(s->feed);
    free(s->prompt_text);
    free(s->sp_text);
    free(s->sp_tok);
    free(s->system);
    free(s->tmpl_src);
    free(s->tmpl_family);
    chat_stop_free(&s->filter);
    chat_parts_free(&s->parts);
    free(s->answer);
    free(s->thought);
    free(s);
}

/* ------------------------------------------------------------------------
 * Rendering the window
 * ---------------------------------------------------------------------- */

/* The tokens for text: the tokenizer's, except that when text starts with
 * the last reply's text (s->sp_text) and the tokenizer cuts a token
 * boundary right there, the tokens the model saw for that part stand for
 * it. *out is malloc'd. */
static chord_status tokenize_window(chord_chat *s, const char *text, const uint8_t *lit,
                                    chord_token **out, int *n_out, chord_err *err)
{
    chord_token *t = NULL;
    int n = 0;
    chord_status st = tokenize(s->model, text, lit, true, &t, &n, err);
    if (st != CHORD_OK || !s->sp_text || strncmp(text, s->sp_text, strlen(s->sp_text)))
        goto done;
    chord_token *a = NULL;
    int na = 0;
    chord_err e2;
    /* sp_text is a prefix of text: the same bytes are message text */
    if (tokenize(s->model, s->sp_text, lit, true, &a, &na, &e2) != CHORD_OK)
        goto done;     /* only a missed reuse */
    bool boundary = na <= n && !memcmp(a, t, (size_t)na * sizeof *t);
    free(a);
    if (!boundary)
        goto done;
    int nn = s->n_sp + (n - na);
    chord_token *v = malloc((size_t)(nn ? nn : 1) * sizeof *v);
    if (!v)
        goto done;
    memcpy(v, s->sp_tok, (size_t)s->n_sp * sizeof *v);
    memcpy(v + s->n_sp, t + na, (size_t)(n - na) * sizeof *v);
    free(t);
    t = v;
    n = nn;
done:
    if (st != CHORD_OK) {
        free(t);
        return st;
    }
    *out = t;
    *n_out = n;
    return CHORD_OK;
}

/* Renders and tokenizes the window msgs[first..] into s->feed. */
static chord_status render_window(chord_chat *s, chord_err *err)
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
    uint8_t *lit = NULL;
    chord_status st = render_marked(s, v, n, true, &text, &lit, err);
    free(v);
    if (st != CHORD_OK)
        return st;
    chord_token *t = NULL;
    int nt = 0;
    st = tokenize_window(s, text, lit, &t, &nt, err);
    free(lit);
    if (st != CHORD_OK) {
        free(text);
        return st;
    }
    free(s->feed);
    s->feed = t;
    s->n_feed = s->cap_feed = nt;
    free(s->prompt_text);
    s->prompt_text = text;
    s->n_prompt = nt;
    return CHORD_OK;
}

/* Context shift: turns left the window, and the cache holds, after the
 * prefix p that still matches, the tokens they occupied and then the rest
 * of the conversation. When the template renders turns independently,
 * the new rendering goes on at p with what the cache holds from some q
 * on: drop cache positions p..q-1 (chord_ctx_drop moves the rest down)
 * and only what follows that run is prefilled. The run is found by
 * comparing tokens, so a template whose rendering of the remaining turns
 * changed (a turn's position in its text, numbering) just matches less.
 * Returns the cache positions kept (p if nothing was shifted: the caller
 * truncates to it as always). */
#define CHAT_SHIFT_MIN_RUN 16
static int shift_window(chord_chat *s, int p, int lim)
{
    int best_q = -1, best_l = 0;
    for (int q = p + 1; q < lim; q++) {
        if (s->kv[q] != s->feed[p])
            continue;
        int l = 0;
        while (q + l < lim && p + l < s->n_feed - 1 && s->kv[q + l] == s->feed[p + l])
            l++;
        if (l > best_l) {
            best_l = l;
            best_q = q;
        }
    }
    /* a short run saves less than moving the cache costs, and may be a
     * chance match (a turn's first tokens) rather than the conversation */
    if (best_l < CHAT_SHIFT_MIN_RUN)
        return p;
    /* forget what follows the run, then drop the turns in front of it; a
     * sliding-window model whose rings lost what the next window needs
     * refuses the drop and is prefilled again */
    chord_ctx_truncate(s->ctx, best_q + best_l);
    chord_err e2;
    if (chord_ctx_pos(s->ctx) != best_q + best_l ||
        chord_ctx_drop(s->ctx, p, best_q, &e2) != CHORD_OK)
        return p;
    memmove(s->kv + p, s->kv + best_q, (size_t)best_l * sizeof *s->kv);
    s->n_kv = p + best_l;
    s->shifted = true;
    return p + best_l;
}

/* The index of the last user message in the window, or -1. */
static int last_user(const chord_chat *s)
{
    for (int i = s->n_msgs - 1; i >= s->first; i--)
        if (s->msgs[i].user)
            return i;
    return -1;
}

chord_status chat_prepare(chord_chat *s, int reserve, int *n_dropped, int *n_reuse,
                          chord_err *err)
{
    *n_dropped = 0;
    *n_reuse = 0;
    chat_stop_reset(&s->filter);
    s->ended = false;
    s->n_out_tok = 0;
    s->last_part = CHORD_PART_ANSWER;
    s->answer_len = s->thought_len = 0;
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
    if (s->n_feed >= n_ctx)
        return err_set(err, CHORD_E_CTX_FULL,
                       "this turn needs %d tokens with the chat template but the context holds %d (--ctx)",
                       s->n_feed, n_ctx);
    if (s->n_feed == 0)
        return err_set(err, CHORD_E_TEMPLATE, "the chat template rendered an empty prompt");
    /* keep the cached positions that still match; at least one token is
     * evaluated so the reply has logits to start from */
    int pos = chord_ctx_pos(s->ctx);
    int lim = s->n_kv < pos ? s->n_kv : pos;
    int p = 0;
    while (p < lim && p < s->n_feed && s->kv[p] == s->feed[p])
        p++;
    if (p >= s->n_feed)
        p = s->n_feed - 1;
    chat_parts_reset(&s->parts, s->prompt_text);
    s->shifted = false;
    if (*n_dropped && !s->no_shift && p < lim)
        p = shift_window(s, p, lim);
    chord_ctx_truncate(s->ctx, p);
    p = chord_ctx_pos(s->ctx); /* a windowed model may have to start over */
    s->n_kv = p;
    *n_reuse = p;
    s->n_dropped_tok = pos - p;
    return CHORD_OK;
}

int chord_chat_dropped_tokens(const chord_chat *s, bool *shifted)
{
    if (shifted)
        *shifted = s->shifted;
    return s->n_dropped_tok;
}

/* ------------------------------------------------------------------------
 * The reply
 * ---------------------------------------------------------------------- */

static bool feed_push(chord_chat *s, chord_token t)
{
    if (s->n_feed == s->cap_feed) {
        int cap = s->cap_feed ? s->cap_feed * 2 : 256;
        chord_token *p = realloc(s->feed, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        s->feed = p;
        s->cap_feed = cap;
    }
    s->feed[s->n_feed++] = t;
    return true;
}

bool chat_reply_token(chord_chat *s, chord_token t, const char *text, chord_status *st)
{
    *st = CHORD_OK;
    if (s->ended)
        return true;
    if (t >= 0 && !feed_push(s, t))
        *st = CHORD_E_NOMEM;
    bool part_ends = false;
    if (t >= 0)
        chat_parts_push(&s->parts, t, text, &part_ends);
    for (int i = 0; t >= 0 && i < s->n_stop; i++)
        if (s->stop[i] == t) {
            /* the template's end of turn as a token: the reply is complete */
            chat_stop_release_all(&s->filter);
            s->ended = true;
            return true;
        }
    chord_status st2;
    s->ended = chat_stop_push(&s->filter, t, text, strlen(text), &st2);
    if (st2 != CHORD_OK)
        *st = st2;
    if (part_ends && !s->ended) {
        chat_stop_release_all(&s->filter);
        s->ended = true;
    }
    return s->ended;
}

/* Remembers the tokens the model saw for the prompt and the reply kept
 * (sp_tok) and the text they stand for (sp_text): the generated tokens
 * whose text, detokenized as the generation did, spells a prefix of the
 * reply. A reply cut inside a token keeps the tokens before it. */
static void remember_reply(chord_chat *s, const char *reply, size_t reply_len)
{
    free(s->sp_text);
    free(s->sp_tok);
    s->sp_text = NULL;
    s->sp_tok = NULL;
    s->n_sp = 0;
    size_t plen = strlen(s->prompt_text ? s->prompt_text : "");
    char *text = malloc(plen + reply_len + 1);
    chord_token *tok = malloc((size_t)(s->n_feed ? s->n_feed : 1) * sizeof *tok);
    if (!text || !tok || !s->prompt_text) {
        free(text);
        free(tok);
        return;
    }
    memcpy(text, s->prompt_text, plen);
    memcpy(tok, s->feed, (size_t)s->n_feed * sizeof *tok);
    /* k: the tokens so far whose text is exactly reply[0..at_k); a token
     * with no text (a control token) only counts once text follows it */
    int k = s->n_prompt;
    size_t at_k = 0, done = 0;
    chord_detok d;
    chord_detok_init(&d);
    char buf[256];
    for (int i = s->n_prompt; i < s->n_feed; i++) {
        int n = chord_detok_push(&d, s->model, s->feed[i], buf, (int)sizeof buf);
        if (n < 0 || done + (size_t)n > reply_len || memcmp(reply + done, buf, (size_t)n))
            break;
        done += (size_t)n;
        if (n > 0 && !d.n_pending) {
            k = i + 1;
            at_k = done;
        }
    }
    memcpy(text + plen, reply, at_k);
    text[plen + at_k] = 0;
    s->sp_text = text;
    s->sp_tok = tok;
    s->n_sp = k;
}

chord_status chat_reply_end(chord_chat *s, bool keep, chord_err *err)
{
    /* the cache holds the first pos tokens of prompt + reply (the last
     * sampled token is not evaluated at a limit or an end of turn) */
    int pos = chord_ctx_pos(s->ctx);
    if (pos > s->n_feed)
        pos = s->n_feed;
    s->n_kv = 0;
    if (pos > s->cap_kv) {
        chord_token *p = realloc(s->kv, (size_t)pos * sizeof *p);
        /* else forgetting the cache only costs a re-prefill */
        if (p) {
            s->kv = p;
            s->cap_kv = pos;
        }
    }
    if (pos > 0 && pos <= s->cap_kv) {
        memcpy(s->kv, s->feed, (size_t)pos * sizeof *s->kv);
        s->n_kv = pos;
    }
    if (!keep) {
        chord_chat_pop(s);
        return CHORD_OK;
    }
    /* pieces the caller did not take still belong to their parts */
    chord_chat_piece piece;
    while (chord_chat_reply_next(s, &piece))
        ;
    size_t len = 0;
    const char *reply = chord_chat_reply_text(s, &len);
    chord_status st = chord_chat_add(s, false, reply, len, err);
    if (st != CHORD_OK) {
        chord_chat_pop(s);
        return st;
    }
    remember_reply(s, reply, len);
    return CHORD_OK;
}

chord_status chat_seed(chord_chat *s, const chord_token *kv, int n_kv, const char *sp_text,
                       const chord_token *sp_tok, int n_sp, chord_err *err)
{
    chord_token *k = malloc((size_t)(n_kv ? n_kv : 1) * sizeof *k);
    chord_token *t = malloc((size_t)(n_sp ? n_sp : 1) * sizeof *t);
    char *txt = sp_text ? strdup(sp_text) : NULL;
    if (!k || !t || (sp_text && !txt)) {
        free(k);
        free(t);
        free(txt);
        return oom(err);
    }
    memcpy(k, kv, (size_t)n_kv * sizeof *k);
    memcpy(t, sp_tok, (size_t)n_sp * sizeof *t);
    free(s->kv);
    s->kv = k;
    s->n_kv = s->cap_kv = n_kv;
    free(s->sp_text);
    free(s->sp_tok);
    s->sp_text = txt;
    s->sp_tok = t;
    s->n_sp = txt ? n_sp : 0;
    return CHORD_OK;
}
