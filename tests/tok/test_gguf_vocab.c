/*
 * test_gguf_vocab.c - tok_load_gguf on small GGUF files written here: a
 * well-formed BPE vocabulary loads and tokenizes through its merges, and
 * each malformed tokenizer key fails with CHORD_E_FORMAT and a message
 * naming the file, the key and its offset.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "t.h"
#include "tok/tok.h"

enum { GOOD, NO_MODEL, BAD_MODEL_TYPE, TOKENS_NOT_ARRAY, SCORES_SHORT, TYPES_FLOAT,
       MERGE_NO_SPACE, UNKNOWN_MODEL, BAD_TYPE_VALUE };

/* Writes a vocabulary of 256 byte symbols + "he", "hello"... variant v. */
static const char *write_vocab(int variant)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/vocab-%d.gguf", t_tmpdir(), variant);
    gguf_writer *w = NULL;
    chord_err err = {{0}};
    T_CHECK(gguf_writer_open(path, &w, &err) == CHORD_OK, "writer: %s", err.msg);
    if (!w)
        return path;
    static char sym[256][4];
    const char *tok[260];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        unsigned cp = (unsigned)b;
        if (b <= 0x20) cp = 0x100u + (unsigned)b;
        else if (b >= 0x7F && b <= 0xA0) cp = 0x100u + 33 + (unsigned)(b - 0x7F);
        else if (b == 0xAD) cp = 0x100u + 67;
        if (cp < 0x80) { sym[b][0] = (char)cp; sym[b][1] = 0; }
        else { sym[b][0] = (char)(0xC0 | (cp >> 6)); sym[b][1] = (char)(0x80 | (cp & 0x3F)); sym[b][2] = 0; }
        tok[n++] = sym[b];
    }
    tok[n++] = "he";
    tok[n++] = "ll";
    tok[n++] = "hello";
    tok[n++] = "<|endoftext|>";
    int32_t types[260];
    float scores[260];
    for (int i = 0; i < n; i++) {
        types[i] = i == n - 1 ? TOK_TYPE_CONTROL : TOK_TYPE_NORMAL;
        scores[i] = 0;
    }
    if (variant == BAD_TYPE_VALUE)
        types[5] = 42;
    const char *merges[] = {"h e", "l l", "he ll", "hell o", "hello"};
    int n_merges = variant == MERGE_NO_SPACE ? 5 : 3;

    if (variant == BAD_MODEL_TYPE)
        gguf_writer_kv_u32(w, "tokenizer.ggml.model", 2);
    else if (variant != NO_MODEL)
        gguf_writer_kv_str(w, "tokenizer.ggml.model", variant == UNKNOWN_MODEL ? "bert" : "gpt2");
    gguf_writer_kv_str(w, "tokenizer.ggml.pre", "gpt-2");
    if (variant == TOKENS_NOT_ARRAY)
        gguf_writer_kv_str(w, "tokenizer.ggml.tokens", "oops");
    else
        gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", tok, (uint64_t)n);
    gguf_writer_kv_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores,
                       (uint64_t)(variant == SCORES_SHORT ? n - 1 : n));
    if (variant == TYPES_FLOAT)
        gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", GGUF_FLOAT32, scores, (uint64_t)n);
    else
        gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)n);
    gguf_writer_kv_arr_str(w, "tokenizer.ggml.merges", merges, (uint64_t)n_merges);
    gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)(n - 1));
    gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)(n - 1));
    T_CHECK(gguf_writer_begin_data(w, &err) == CHORD_OK, "begin_data: %s", err.msg);
    T_CHECK(gguf_writer_close(w, &err) == CHORD_OK, "close: %s", err.msg);
    return path;
}

static chord_status load(const char *path, tok_vocab **v, chord_err *err)
{
    gguf_file *f = NULL;
    *v = NULL;
    chord_status st = gguf_open(path, &f, err);
    T_CHECK(st == CHORD_OK, "gguf_open %s: %s", path, err->msg);
    if (st != CHORD_OK)
        return st;
    st = tok_load_gguf(f, v, err);
    gguf_close(f);
    return st;
}

static void expect_error(int variant, chord_status want, const char *key)
{
    const char *path = write_vocab(variant);
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    chord_status st = load(path, &v, &err);
    T_CHECK(st == want, "variant %d: status %d, want %d (%s)", variant, st, want, err.msg);
    T_CHECK(v == NULL, "variant %d: no vocabulary on failure", variant);
    T_CHECK(strstr(err.msg, path) != NULL, "variant %d: message names the file: %s", variant, err.msg);
    T_CHECK(strstr(err.msg, key) != NULL, "variant %d: message names '%s': %s", variant, key, err.msg);
    T_CHECK(strchr(err.msg, '\n') == NULL, "variant %d: one line", variant);
    tok_vocab_free(v);
}

int main(void)
{
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    const char *good = write_vocab(GOOD);
    T_REQUIRE(load(good, &v, &err) == CHORD_OK, "good vocabulary: %s", err.msg);
    T_EQ_INT(tok_n_vocab(v), 260);
    T_EQ_INT(tok_eos(v), 259);
    T_CHECK(tok_pre_known(v), "gpt-2 is known");
    chord_token ids[16];
    /* "hello": h e -> he, l l -> ll, he ll -> "hell", which is no token;
     * "hell o" is not loaded (3 merges), so the pieces are "hell" and "o"
     * and a piece that is no token falls back to its single bytes, as the
     * reference does */
    int n = tok_encode(v, "hello", 5, false, false, false, ids, 16, &err);
    chord_token want[] = {'h', 'e', 'l', 'l', 'o'};
    T_CHECK(n == 5 && memcmp(ids, want, sizeof want) == 0, "hello: %d ids", n);
    n = tok_encode(v, "he", 2, false, false, false, ids, 16, &err);
    T_CHECK(n == 1 && ids[0] == 256, "he: %d ids, first %d", n, ids[0]);
    /* BOS is only added when the file asks for it (gpt2 default: no) */
    n = tok_encode(v, "he", 2, true, true, false, ids, 16, &err);
    T_CHECK(n == 1 && ids[0] == 256, "he with add_bos/add_eos: %d ids", n);
    tok_vocab_free(v);

    expect_error(NO_MODEL, CHORD_E_FORMAT, "tokenizer.ggml.model");
    expect_error(BAD_MODEL_TYPE, CHORD_E_FORMAT, "tokenizer.ggml.model");
    expect_error(TOKENS_NOT_ARRAY, CHORD_E_FORMAT, "tokenizer.ggml.tokens");
    expect_error(SCORES_SHORT, CHORD_E_FORMAT, "tokenizer.ggml.scores");
    expect_error(TYPES_FLOAT, CHORD_E_FORMAT, "tokenizer.ggml.token_type");
    expect_error(MERGE_NO_SPACE, CHORD_E_FORMAT, "merge 4");
    expect_error(UNKNOWN_MODEL, CHORD_E_UNSUPPORTED, "bert");
    expect_error(BAD_TYPE_VALUE, CHORD_E_FORMAT, "token 5");
    return t_done();
}
