/*
 * tok_gguf.c - a tok_desc from a GGUF file's tokenizer.ggml.* keys.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "gguf/gguf.h"
#include "tok/tok_impl.h"

/* An optional array key of one of two element types: NULL if absent; an
 * error if present with another type or the wrong length (want > 0). */
static chord_status opt_array(const gguf_file *f, const char *key, gguf_vtype t1,
                              gguf_vtype t2, uint64_t want, const gguf_kv **out,
                              chord_err *err)
{
    *out = NULL;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv)
        return CHORD_OK;
    if (kv->type != GGUF_ARRAY || (kv->arr_type != t1 && kv->arr_type != t2))
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %llu: expected an array of %s",
                       f->path, key, (unsigned long long)kv->offset, gguf_vtype_name(t1));
    if (want && kv->arr_n != want)
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %llu: %llu entries for %llu tokens",
                       f->path, key, (unsigned long long)kv->offset,
                       (unsigned long long)kv->arr_n, (unsigned long long)want);
    *out = kv;
    return CHORD_OK;
}

/* An optional id key: TOK_DEFAULT if absent; -1 for "none" written as
 * -1 or 0xFFFFFFFF. */
static chord_status opt_id(const gguf_file *f, const char *key, int32_t *out, chord_err *err)
{
    *out = TOK_DEFAULT;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv)
        return CHORD_OK;
    int64_t x;
    if (!gguf_get_int(f, key, &x))
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %llu: expected an integer",
                       f->path, key, (unsigned long long)kv->offset);
    if (x < 0 || x == 0xFFFFFFFFll)
        *out = -1;
    else if (x > INT32_MAX)
        *out = INT32_MAX; /* out of any vocabulary: falls back to the default */
    else
        *out = (int32_t)x;
    return CHORD_OK;
}

static chord_status opt_flag(const gguf_file *f, const char *key, int *out, chord_err *err)
{
    *out = TOK_DEFAULT;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv)
        return CHORD_OK;
    int64_t x;
    if (!gguf_get_int(f, key, &x))
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %llu: expected a bool",
                       f->path, key, (unsigned long long)kv->offset);
    *out = x != 0;
    return CHORD_OK;
}

chord_status tok_load_gguf(const struct gguf_file *f, tok_vocab **out, chord_err *err)
{
    *out = NULL;
    tok_desc d;
    tok_desc_init(&d);
    d.source = f->path;

    const gguf_kv *model = gguf_find(f, "tokenizer.ggml.model");
    if (!model)
        return err_set(err, CHORD_E_FORMAT, "%s: no key 'tokenizer.ggml.model' (no vocabulary)", f->path);
    if (model->type != GGUF_STRING)
        return err_set(err, CHORD_E_FORMAT, "%s: key 'tokenizer.ggml.model' at offset %llu: expected a string",
                       f->path, (unsigned long long)model->offset);
    d.model = model->str;
    const gguf_kv *pre = gguf_find(f, "tokenizer.ggml.pre");
    if (pre && pre->type != GGUF_STRING)
        return err_set(err, CHORD_E_FORMAT, "%s: key 'tokenizer.ggml.pre' at offset %llu: expected a string",
                       f->path, (unsigned long long)pre->offset);
    d.pre = pre ? pre->str : NULL;
    d.name = gguf_get_str(f, "general.name");

    const gguf_kv *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    if (!tokens)
        return err_set(err, CHORD_E_FORMAT, "%s: no key 'tokenizer.ggml.tokens'", f->path);
    if (tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING || tokens->arr_n == 0 ||
        tokens->arr_n > INT32_MAX)
        return err_set(err, CHORD_E_FORMAT, "%s: key 'tokenizer.ggml.tokens' at offset %llu: expected a non-empty string array",
                       f->path, (unsigned long long)tokens->offset);
    uint64_t n = tokens->arr_n;
    d.n_tokens = (int32_t)n;
    d.tokens = (const char *const *)tokens->arr;
    d.token_lens = tokens->arr_lens;

    const gguf_kv *scores, *types, *merges;
    chord_status st;
    if ((st = opt_array(f, "tokenizer.ggml.scores", GGUF_FLOAT32, GGUF_FLOAT32, n, &scores, err)) ||
        (st = opt_array(f, "tokenizer.ggml.token_type", GGUF_INT32, GGUF_UINT32, n, &types, err)) ||
        (st = opt_array(f, "tokenizer.ggml.merges", GGUF_STRING, GGUF_STRING, 0, &merges, err)))
        return st;
    d.scores = scores ? (const float *)scores->arr : NULL;
    d.types = types ? (const int32_t *)types->arr : NULL;
    if (merges) {
        if (merges->arr_n > INT32_MAX)
            return err_set(err, CHORD_E_FORMAT, "%s: key 'tokenizer.ggml.merges' at offset %llu: too many merges",
                           f->path, (unsigned long long)merges->offset);
        d.n_merges = (int32_t)merges->arr_n;
        d.merges = (const char *const *)merges->arr;
        d.merge_lens = merges->arr_lens;
    }

    if ((st = opt_id(f, "tokenizer.ggml.bos_token_id", &d.bos, err)) ||
        (st = opt_id(f, "tokenizer.ggml.eos_token_id", &d.eos, err)) ||
        (st = opt_id(f, "tokenizer.ggml.eot_token_id", &d.eot, err)) ||
        (st = opt_id(f, "tokenizer.ggml.eom_token_id", &d.eom, err)) ||
        (st = opt_id(f, "tokenizer.ggml.unknown_token_id", &d.unk, err)) ||
        (st = opt_id(f, "tokenizer.ggml.padding_token_id", &d.pad, err)) ||
        (st = opt_id(f, "tokenizer.ggml.fim_pre_token_id", &d.fim_pre, err)) ||
        (st = opt_id(f, "tokenizer.ggml.fim_suf_token_id", &d.fim_suf, err)) ||
        (st = opt_id(f, "tokenizer.ggml.fim_mid_token_id", &d.fim_mid, err)) ||
        (st = opt_id(f, "tokenizer.ggml.fim_pad_token_id", &d.fim_pad, err)) ||
        (st = opt_id(f, "tokenizer.ggml.fim_rep_token_id", &d.fim_rep, err)) ||
        (st = opt_id(f, "tokenizer.ggml.fim_sep_token_id", &d.fim_sep, err)) ||
        (st = opt_flag(f, "tokenizer.ggml.add_bos_token", &d.add_bos, err)) ||
        (st = opt_flag(f, "tokenizer.ggml.add_eos_token", &d.add_eos, err)) ||
        (st = opt_flag(f, "tokenizer.ggml.add_space_prefix", &d.add_space_prefix, err)))
        return st;
    return tok_vocab_build(&d, out, err);
}
