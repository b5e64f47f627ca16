/*
 * tok_api.c - the tokenizer half of chord.h: thin wrappers that find the
 * model's vocabulary (model_vocab) and call the tok_* functions.
 */
#include <string.h>

#include "core/err.h"
#include "tok/tok.h"

static const tok_vocab *vocab_of(const chord_model *m)
{
    return m ? model_vocab(m) : NULL;
}

int chord_tokenize(const chord_model *m, const char *text, size_t len,
                   bool add_bos, bool parse_special,
                   chord_token *out, int max, chord_err *err)
{
    const tok_vocab *v = vocab_of(m);
    if (!v) {
        err_set(err, CHORD_E_INVALID, "tokenize: the model has no vocabulary");
        return -1;
    }
    if (max < 0 || (max > 0 && !out)) {
        err_set(err, CHORD_E_INVALID, "tokenize: bad output buffer (max %d)", max);
        return -1;
    }
    /* chord's contract is BOS only: an EOS at the end of a prompt would
     * end the turn before the model spoke */
    return tok_encode(v, text, len, add_bos, false, parse_special, out, max, err);
}

int chord_token_to_bytes(const chord_model *m, chord_token t, bool show_special,
                         char *buf, int cap)
{
    const tok_vocab *v = vocab_of(m);
    if (!v)
        return -1;
    return tok_token_bytes(v, t, show_special, buf, cap < 0 ? 0 : cap);
}

chord_token chord_token_bos(const chord_model *m)
{
    const tok_vocab *v = vocab_of(m);
    return v ? tok_bos(v) : -1;
}

chord_token chord_token_eos(const chord_model *m)
{
    const tok_vocab *v = vocab_of(m);
    return v ? tok_eos(v) : -1;
}

bool chord_token_is_eog(const chord_model *m, chord_token t)
{
    const tok_vocab *v = vocab_of(m);
    return v ? tok_is_eog(v, t) : false;
}

bool chord_model_add_bos(const chord_model *m)
{
    const tok_vocab *v = vocab_of(m);
    return v ? tok_add_bos(v) : false;
}

const char *chord_token_text(const chord_model *m, chord_token t)
{
    const tok_vocab *v = vocab_of(m);
    return v ? tok_text(v, t, NULL) : NULL;
}

void chord_detok_init(chord_detok *d)
{
    tok_detok_init(d);
}

int chord_detok_push(chord_detok *d, const chord_model *m, chord_token t,
                     char *out, int cap)
{
    const tok_vocab *v = vocab_of(m);
    if (!v) {
        if (cap > 0)
            out[0] = 0;
        return 0;
    }
    return tok_detok_push(d, v, t, out, cap);
}

int chord_detok_flush(chord_detok *d, char *out, int cap)
{
    return tok_detok_flush(d, out, cap);
}

const char *chord_tokenizer_name(const chord_model *m, bool *known)
{
    const tok_vocab *v = vocab_of(m);
    if (known)
        *known = v ? tok_pre_known(v) : false;
    return v ? tok_pre_name(v) : "none";
}

chord_status chord_tokenizer_bench(const chord_model *m, size_t bytes,
                                   int *n_tokens, double *seconds, chord_err *err)
{
    const tok_vocab *v = vocab_of(m);
    if (!v)
        return err_set(err, CHORD_E_INVALID, "tokenizer bench: the model has no vocabulary");
    tok_bench_result r;
    chord_status st = tok_bench(v, bytes, &r, err);
    if (st == CHORD_OK) {
        if (n_tokens)
            *n_tokens = r.n_tokens;
        if (seconds)
            *seconds = r.seconds;
    }
    return st;
}
