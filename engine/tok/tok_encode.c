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

/* The longest special token starting at s[0] (within n bytes), or -1.
 * USER_DEFINED tokens are plain pieces the model added to its vocabulary
 * (runs of spaces, extra characters) and match anywhere, as in the
 * reference; CONTROL and UNKNOWN tokens only when parse_special. */
static int32_t special_at(const tok_vocab *v, const char *s, size_t n, bool parse_special)
{
    unsigned char b = (unsigned char)s[0];
    for (int32_t i = v->special_at[b]; i < v->special_at[b + 1]; i++) {
        int32_t id = v->special[i];
        if (!parse_special && v->type[id] != TOK_TYPE_USER_DEFINED)
            continue;
        if (v->len[id] <= n && memcmp(v->text[id], s, v->len[id]) == 0)
            return id;
    }
    return -1;
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

int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_bos,
               bool add_eos, bool parse_special, chord_token *out, int max,
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
    /* Special tokens are cut out leftmost-longest first; the reference
     * takes the longest token type first, which differs only when two
     * special texts overlap in the input. */
    if (parse_special || v->n_user_defined > 0) {
        for (size_t i = 0; ok && i < len; i++) {
            int32_t id = special_at(v, text + i, len - i, parse_special);
            if (id < 0)
                continue;
            ok = plain_run(v, text + start, i - start, after_special, &ids);
            tok_ids_push(&ids, id);
            after_special = true;
            i += v->len[id];
            if (v->rstrip[id])
                while (i < len && (text[i] == ' ' || (text[i] >= '\t' && text[i] <= '\r')))
                    i++;
            start = i;
            i--; /* the loop's i++ lands on start */
        }
    }
    if (ok)
        ok = plain_run(v, text + start, len - start, after_special, &ids);
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
