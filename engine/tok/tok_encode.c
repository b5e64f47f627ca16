/*
 * tok_encode.c - the encoder's front: BOS/EOS, cutting special tokens out of
 * the text when asked, and handing each run of plain text to SentencePiece
 * (with its space prefix and U+2581 escaping) or to byte-level BPE.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tok/tok_impl.h"

void tok_ids_push(tok_ids *o, chord_token t)
{
    if (o->oom)
        return;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 256;
        chord_token *a = realloc(o->ids, cap * sizeof *a);
        if (!a) {
            o->oom = true;
            return;
        }
        o->ids = a;
        o->cap = cap;
    }
    o->ids[o->n++] = t;
}

/* ---- cutting special tokens out of the text --------------------------- */

/* One occurrence of a special token in the text. */
typedef struct sp_hit {
    size_t pos;
    int32_t id;
} sp_hit;

typedef struct sp_hits {
    sp_hit *a;
    size_t n, cap;
} sp_hits;

static bool hits_push(sp_hits *h, size_t pos, int32_t id)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        sp_hit *a = realloc(h->a, cap * sizeof *a);
        if (!a)
            return false;
        h->a = a;
        h->cap = cap;
    }
    h->a[h->n].pos = pos;
    h->a[h->n++].id = id;
    return true;
}

static int cmp_by_pos(const void *a, const void *b)
{
    const sp_hit *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Whether any of text[pos .. pos+n) is literal (never a control token). */
static bool hits_literal(const uint8_t *literal, size_t pos, size_t n)
{
    if (!literal)
        return false;
    for (size_t i = 0; i < n; i++)
        if (literal[pos + i])
            return true;
    return false;
}

/* Finds the special tokens to cut out of text, in text order, into *out;
 * mark[i] becomes 1 for bytes of a chosen token and 2 for white space an
 * rstrip token swallowed (both arrays are the caller's to free). Matches
 * the reference: each token, longest first, takes its occurrences left to
 * right in what earlier tokens left of the text. USER_DEFINED tokens are
 * pieces the model added to its vocabulary (space runs, extra characters)
 * and always count; CONTROL and UNKNOWN ones only with parse_special,
 * and not where they would take a byte flagged in literal (if not NULL).
 *
 * A first pass notes which tokens occur at all (by rank in that order);
 * then each of those searches the text with memmem, jumping over the
 * spans already taken, so the work is linear in the text per token that
 * occurs rather than per (position, token) pair. */
static bool find_specials(const tok_vocab *v, const char *text, size_t len,
                          bool parse_special, const uint8_t *literal, sp_hits *out,
                          uint8_t **mark)
{
    int32_t n_rank = v->special_at[256];
    uint8_t *seen = NULL;
    bool any = false;
    *mark = NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)text[i];
        for (int32_t k = v->special_at[b]; k < v->special_at[b + 1]; k++) {
            int32_t id = v->special[k];
            uint32_t n = v->len[id];
            if (n > len - i || (n > 1 && v->text[id][1] != text[i + 1]) ||
                (!parse_special && v->type[id] != TOK_TYPE_USER_DEFINED) ||
                memcmp(v->text[id], text + i, n) != 0 ||
                (v->type[id] != TOK_TYPE_USER_DEFINED && hits_literal(literal, i, n)))
                continue;
            if (!seen && !(seen = calloc((size_t)n_rank, 1)))
                return false;
            seen[v->sp_rank[id]] = 1;
            any = true;
        }
    }
    if (!any)
        return true;
    *mark = calloc(len, 1);
    if (!*mark) {
        free(seen);
        return false;
    }
    uint8_t *m = *mark;
    bool ok = true;
    for (int32_t r = 0; ok && r < n_rank; r++) {
        if (!seen[r])
            continue;
        int32_t id = v->sp_order[r];
        size_t n = v->len[id];
        bool user_defined = v->type[id] == TOK_TYPE_USER_DEFINED;
        for (size_t p = 0; p + n <= len;) {
            const char *q = memmem(text + p, len - p, v->text[id], n);
            if (!q)
                break;
            size_t pos = (size_t)(q - text), j = pos;
            if (!user_defined && hits_literal(literal, pos, n)) {
                /* user text spelling it: text, but a later one may count */
                p = pos + 1;
                continue;
            }
            while (j < pos + n && m[j] == 0)
                j++;
            if (j < pos + n) {
                /* overlaps a taken span: resume after it */
                while (j < len && m[j] != 0)
                    j++;
                p = j;
                continue;
            }
            memset(m + pos, 1, n);
            if (!(ok = hits_push(out, pos, id)))
                break;
            p = pos + n;
            if (v->rstrip[id])
                for (; p < len && m[p] == 0 && is_ascii_space(text[p]); p++)
                    m[p] = 2;
        }
    }
    free(seen);
    if (!ok)
        return false;
    qsort(out->a, out->n, sizeof *out->a, cmp_by_pos);
    return true;
}

/* SentencePiece on one run of plain text: the optional leading space, then
 * every ' ' written as U+2581 (the "lower one eighth block" SentencePiece
 * uses as its visible space). */
static bool spm_run(const tok_vocab *v, const char *s, size_t n, bool prefix, tok_ids *out)
{
    size_t spaces = prefix ? 1 : 0;
    for (size_t i = 0; i < n; i++)
        spaces += s[i] == ' ';
    char *buf = malloc(n + 2 * spaces + 1);
    if (!buf)
        return false;
    size_t k = 0;
    if (prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(buf + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            buf[k++] = s[i];
        }
    }
    bool ok = tok_spm_encode(v, buf, k, out);
    free(buf);
    return ok;
}

static bool plain_run(const tok_vocab *v, const char *s, size_t n, bool after_special, tok_ids *out)
{
    if (n == 0)
        return true;
    if (v->kind == TOK_KIND_SPM)
        return spm_run(v, s, n, v->add_space_prefix && after_special, out);
    return tok_bpe_encode(v, s, n, out);
}

static int encode(const tok_vocab *v, const char *text, size_t len, const uint8_t *literal,
                  bool add_bos, bool add_eos, bool parse_special, chord_token *out, int max,
                  chord_err *err)
{
    tok_ids ids = {0};
    bool ok = true;
    if (!text && len > 0) {
        err_set(err, CHORD_E_INVALID, "tokenize: NULL text");
        return -1;
    }
    /* symbol offsets are 32-bit and the result count is an int */
    if (len > ((size_t)1 << 30)) {
        err_set(err, CHORD_E_INVALID, "tokenize: text of %zu bytes is too long (1 GiB at most)", len);
        return -1;
    }
    if (add_bos && v->add_bos)
        tok_ids_push(&ids, v->bos);

    /* The start of the text counts as "after a special token" for the
     * SentencePiece space prefix, with or without BOS (the reference). */
    bool after_special = true;
    size_t start = 0;
    sp_hits hits = {0};
    uint8_t *mark = NULL;
    if (parse_special || v->n_user_defined > 0)
        ok = find_specials(v, text, len, parse_special, literal, &hits, &mark);
    for (size_t h = 0; ok && h < hits.n; h++) {
        size_t pos = hits.a[h].pos;
        int32_t id = hits.a[h].id;
        ok = plain_run(v, text + start, pos - start, after_special, &ids);
        tok_ids_push(&ids, id);
        after_special = true;
        start = pos + v->len[id];
        while (start < len && mark[start] == 2)
            start++;
    }
    if (ok)
        ok = plain_run(v, text + start, len - start, after_special, &ids);
    free(hits.a);
    free(mark);
    if (ok && add_eos && v->add_eos)
        tok_ids_push(&ids, v->eos);
    if (!ok || ids.oom) {
        free(ids.ids);
        err_set(err, CHORD_E_NOMEM, "tokenize: out of memory (%zu bytes of text)", len);
        return -1;
    }
    if (ids.n > (size_t)INT32_MAX) {
        free(ids.ids);
        err_set(err, CHORD_E_INVALID, "tokenize: text too long (%zu bytes)", len);
        return -1;
    }
    if (out && max > 0 && ids.n > 0)
        memcpy(out, ids.ids, (ids.n < (size_t)max ? ids.n : (size_t)max) * sizeof *out);
    free(ids.ids);
    return (int)ids.n;
}

int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_bos,
               bool add_eos, bool parse_special, chord_token *out, int max,
               chord_err *err)
{
    return encode(v, text, len, NULL, add_bos, add_eos, parse_special, out, max, err);
}

int tok_encode_marked(const tok_vocab *v, const char *text, size_t len, const uint8_t *literal,
                      bool add_bos, bool add_eos, chord_token *out, int max, chord_err *err)
{
    return encode(v, text, len, literal, add_bos, add_eos, true, out, max, err);
}
