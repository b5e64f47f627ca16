/*
 * model_load_errors.c - chord_model_load refuses what it cannot run, with
 * one line naming the file and the key or tensor: a missing tensor, a
 * tensor whose shape disagrees with the metadata, a missing
 * hyperparameter, an unsupported RoPE scaling, an embedding table smaller
 * than the vocabulary. The files are built here: the vocabulary of
 * ref/tokenizer/ggml-vocab-llama-spm.gguf plus a one-layer llama.
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "gguf/gguf.h"
#include "quant/quant_types.h"
#include "t.h"

enum { DIM = 64, FF = 128, HEADS = 2 };

typedef enum variant {
    V_OK, V_MISSING_TENSOR, V_BAD_SHAPE, V_MISSING_KEY, V_ROPE_UNKNOWN, V_SMALL_EMBD,
} variant;

/* Writes a model; returns its path (static buffer per variant). */
static const char *make_model(variant v, int n_vocab)
{
    static char paths[8][4200];
    char *path = paths[v];
    snprintf(path, 4200, "%s/m%d.gguf", t_tmpdir(), (int)v);
    gguf_file *voc = NULL;
    chord_err err = {{0}};
    if (gguf_open(t_shared("ref/tokenizer/ggml-vocab-llama-spm.gguf"), &voc, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return NULL;
    }
    gguf_writer *w = NULL;
    if (gguf_writer_open(path, &w, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        gguf_close(voc);
        return NULL;
    }
    for (uint64_t i = 0; i < voc->n_kv; i++)
        if (!strncmp(voc->kv[i].key, "tokenizer.", 10))
            gguf_writer_kv_copy(w, &voc->kv[i]);
    gguf_close(voc);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_kv_u32(w, "llama.embedding_length", DIM);
    gguf_writer_kv_u32(w, "llama.block_count", 1);
    if (v != V_MISSING_KEY)
        gguf_writer_kv_u32(w, "llama.feed_forward_length", FF);
    gguf_writer_kv_u32(w, "llama.attention.head_count", HEADS);
    gguf_writer_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_kv_u32(w, "llama.context_length", 256);
    if (v == V_ROPE_UNKNOWN)
        gguf_writer_kv_str(w, "llama.rope.scaling.type", "longrope");

    int emb_rows = v == V_SMALL_EMBD ? n_vocab - 1 : n_vocab;
    struct { const char *name; int64_t ne0, ne1; } t[] = {
        {"token_embd.weight", DIM, emb_rows}, {"output_norm.weight", DIM, 1},
        {"blk.0.attn_norm.weight", DIM, 1}, {"blk.0.attn_q.weight", DIM, v == V_BAD_SHAPE ? DIM + 32 : DIM},
        {"blk.0.attn_k.weight", DIM, DIM}, {"blk.0.attn_v.weight", DIM, DIM},
        {"blk.0.attn_output.weight", DIM, DIM}, {"blk.0.ffn_norm.weight", DIM, 1},
        {"blk.0.ffn_gate.weight", DIM, FF}, {"blk.0.ffn_up.weight", DIM, FF},
        {"blk.0.ffn_down.weight", FF, DIM},
    };
    int nt = (int)(sizeof t / sizeof t[0]);
    for (int i = 0; i < nt; i++) {
        if (v == V_MISSING_TENSOR && !strcmp(t[i].name, "blk.0.ffn_up.weight"))
            continue;
        int64_t ne[2] = {t[i].ne0, t[i].ne1};
        gguf_writer_tensor(w, t[i].name, t[i].ne1 > 1 ? QT_F16 : QT_F32, t[i].ne1 > 1 ? 2 : 1, ne);
    }
    if (gguf_writer_begin_data(w, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        gguf_writer_abort(w);
        return NULL;
    }
    size_t cap = (size_t)DIM * emb_rows * 4;
    char *zero = calloc(1, cap);
    for (int i = 0; i < nt && zero; i++) {
        if (v == V_MISSING_TENSOR && !strcmp(t[i].name, "blk.0.ffn_up.weight"))
            continue;
        size_t n = (size_t)(t[i].ne0 * t[i].ne1) * (t[i].ne1 > 1 ? 2 : 4);
        if (gguf_writer_write(w, zero, n, &err) != CHORD_OK) {
            t_fail_at(__FILE__, __LINE__, "%s", err.msg);
            break;
        }
    }
    free(zero);
    if (gguf_writer_close(w, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return NULL;
    }
    return path;
}

static void expect_error(variant v, int n_vocab, chord_status want, const char *what)
{
    const char *path = make_model(v, n_vocab);
    if (!path)
        return;
    chord_model_params mp = chord_model_default_params();
    chord_model *m = NULL;
    chord_err err = {{0}};
    chord_status st = chord_model_load(path, &mp, &m, &err);
    T_EQ_INT(st, want);
    T_CHECK(m == NULL, "variant %d: no model on failure", (int)v);
    T_CHECK(strstr(err.msg, path) && strstr(err.msg, what) && !strchr(err.msg, '\n'),
            "variant %d: message '%s' should name '%s' and the file", (int)v, err.msg, what);
    chord_model_free(m);
}

int main(void)
{
    /* The vocabulary size, from the vocab-only file itself. */
    chord_model_params vp = chord_model_default_params();
    vp.vocab_only = true;
    chord_model *vm = NULL;
    chord_err err = {{0}};
    T_REQUIRE(chord_model_load(t_shared("ref/tokenizer/ggml-vocab-llama-spm.gguf"), &vp, &vm, &err) == CHORD_OK,
              "%s", err.msg);
    chord_model_info vi;
    chord_model_get_info(vm, &vi);
    int n_vocab = vi.n_vocab;
    T_EQ_INT(n_vocab, 32000);
    chord_model_free(vm);

    /* The well-formed one loads and runs (all-zero weights: zero logits). */
    const char *ok = make_model(V_OK, n_vocab);
    T_REQUIRE(ok, "model");
    chord_model *m = NULL;
    chord_model_params mp = chord_model_default_params();
    T_REQUIRE(chord_model_load(ok, &mp, &m, &err) == CHORD_OK, "%s", err.msg);
    chord_ctx *c = NULL;
    T_REQUIRE(chord_ctx_new(m, NULL, &c, &err) == CHORD_OK, "%s", err.msg);
    T_EQ_INT(chord_ctx_n_ctx(c), 256); /* min(context_length, 4096) */
    float *lg = malloc((size_t)n_vocab * sizeof *lg);
    chord_token t[2] = {1, 100};
    T_EQ_INT(chord_ctx_eval(c, t, 2, lg, false, &err), CHORD_OK);
    T_CHECK(lg[0] == 0.0f && lg[n_vocab - 1] == 0.0f, "zero weights give zero logits");
    free(lg);
    chord_ctx_free(c);
    chord_model_free(m);

    expect_error(V_MISSING_TENSOR, n_vocab, CHORD_E_FORMAT, "blk.0.ffn_up.weight");
    expect_error(V_BAD_SHAPE, n_vocab, CHORD_E_FORMAT, "blk.0.attn_q.weight");
    expect_error(V_MISSING_KEY, n_vocab, CHORD_E_FORMAT, "llama.feed_forward_length");
    expect_error(V_ROPE_UNKNOWN, n_vocab, CHORD_E_UNSUPPORTED, "llama.rope.scaling.type");
    expect_error(V_SMALL_EMBD, n_vocab, CHORD_E_FORMAT, "token_embd.weight");
    return t_done();
}
