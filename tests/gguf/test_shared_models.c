/*
 * test_shared_models.c - every shared model and vocabulary file parses, and
 * what it says matches the table in ../shared/README.md.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "quant/quant_types.h"
#include "t.h"

typedef struct model_fact {
    const char *file, *arch;
    int embd_type;               /* token_embd.weight */
    int64_t dim, vocab;
    int layers, heads, kv_heads, ffn, n_tensors;
} model_fact;

static const model_fact models[] = {
    {"a-spm-f16.gguf", "llama", QT_F16, 128, 32000, 3, 4, 2, 384, 30},
    {"a-spm-q8_0.gguf", "llama", QT_Q8_0, 128, 32000, 3, 4, 2, 384, 30},
    {"a-spm-q4_0.gguf", "llama", QT_Q4_0, 128, 32000, 3, 4, 2, 384, 30},
    {"b-spm-q4_k_m.gguf", "llama", QT_Q4_K, 256, 32000, 4, 8, 4, 768, 39},
    {"b-spm-q6_k.gguf", "llama", QT_Q6_K, 256, 32000, 4, 8, 4, 768, 39},
    {"c-qwen2-q8_0.gguf", "qwen2", QT_Q8_0, 128, 50257, 2, 4, 2, 256, 27},
    {"llama-2-tiny-random.gguf", "llama", QT_F16, 8, 32000, 1, 2, 2, 32, 12},
};

static int64_t get_int(const gguf_file *f, const char *arch, const char *suffix)
{
    char key[128];
    int64_t v = -1;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    T_CHECK(gguf_get_int(f, key, &v), "%s: %s missing or not an integer", f->path, key);
    return v;
}

/* The layer-cache view: every tensor is global or in a layer < n_layer,
 * each layer has the same tensor count, and data ranges tile the data
 * section in order without gaps beyond the alignment. */
static void check_layout(const gguf_file *f, int n_layer)
{
    int per_layer[64] = {0};
    uint64_t end = f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        int l = gguf_tensor_layer(t->name);
        T_CHECK(l < n_layer, "%s: tensor %s in layer %d of %d", f->path, t->name, l, n_layer);
        if (l >= 0 && l < 64)
            per_layer[l]++;
        T_CHECK(t->offset % f->alignment == 0, "%s: %s offset %llu unaligned", f->path, t->name,
                (unsigned long long)t->offset);
        T_CHECK(t->offset + t->nbytes <= f->file_size, "%s: %s past EOF", f->path, t->name);
        uint64_t want = quant_row_bytes(t->type, t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        T_EQ_INT(t->nbytes, want);
        if (t->offset >= end)
            T_CHECK(t->offset - end < f->alignment, "%s: gap before %s", f->path, t->name);
        end = t->offset + t->nbytes;
        T_CHECK(gguf_find_tensor(f, t->name) == t, "%s: lookup of %s", f->path, t->name);
    }
    for (int l = 1; l < n_layer && l < 64; l++)
        T_EQ_INT(per_layer[l], per_layer[0]);
}

static void test_models(void)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const model_fact *m = &models[i];
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s", m->file);
        const char *path = t_shared(rel);
        gguf_file *f = NULL;
        chord_err err;
        chord_status st = gguf_open(path, &f, &err);
        T_CHECK(st == CHORD_OK, "gguf_open(%s): %s", path, err.msg);
        if (st)
            continue;
        T_EQ_INT(f->version, 3);
        T_EQ_INT(f->alignment, 32);
        T_EQ_STR(gguf_get_str(f, "general.architecture"), m->arch);
        T_EQ_INT(f->n_tensors, m->n_tensors);
        T_EQ_INT(get_int(f, m->arch, "embedding_length"), m->dim);
        T_EQ_INT(get_int(f, m->arch, "block_count"), m->layers);
        T_EQ_INT(get_int(f, m->arch, "attention.head_count"), m->heads);
        T_EQ_INT(get_int(f, m->arch, "attention.head_count_kv"), m->kv_heads);
        T_EQ_INT(get_int(f, m->arch, "feed_forward_length"), m->ffn);
        const gguf_tensor *e = gguf_find_tensor(f, "token_embd.weight");
        T_CHECK(e != NULL, "%s: no token_embd.weight", path);
        if (e) {
            T_EQ_INT(e->type, m->embd_type);
            T_EQ_INT(e->n_dims, 2);
            T_EQ_INT(e->ne[0], m->dim);
            T_EQ_INT(e->ne[1], m->vocab);
            T_EQ_INT(gguf_tensor_layer(e->name), -1);
        }
        const gguf_kv *tok = gguf_find_array(f, "tokenizer.ggml.tokens", GGUF_STRING);
        T_CHECK(tok && tok->arr_n == (uint64_t)m->vocab, "%s: token array", path);
        T_CHECK(gguf_find_array(f, "tokenizer.ggml.tokens", GGUF_INT32) == NULL, "%s: wrong elem type", path);
        double eps;
        T_CHECK(gguf_get_float(f, "llama.attention.layer_norm_rms_epsilon", &eps) ||
                gguf_get_float(f, "qwen2.attention.layer_norm_rms_epsilon", &eps), "%s: rms eps", path);
        T_CHECK(eps > 0 && eps < 1e-3, "%s: rms eps %g", path, eps);
        check_layout(f, m->layers);
        gguf_close(f);
    }
}

typedef struct vocab_fact {
    const char *name, *model;
    uint64_t n_vocab;
    int id;                      /* a token whose text we know */
    const char *text;
} vocab_fact;

static const vocab_fact vocabs[] = {
    {"llama-spm", "llama", 32000, 1, "<s>"},
    {"phi-3", "llama", 32064, 2, "</s>"},
    {"gpt-2", "gpt2", 50257, 50256, "<|endoftext|>"},
    {"starcoder", "gpt2", 49152, 0, "<|endoftext|>"},
    {"deepseek-coder", "gpt2", 32256, 32013, "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"},
    {"deepseek-llm", "gpt2", 102400, 100000, "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"},
    {"falcon", "gpt2", 65024, 11, "<|endoftext|>"},
    {"mpt", "gpt2", 50432, 0, "<|endoftext|>"},
    {"refact", "gpt2", 49216, 0, "<|endoftext|>"},
    {"gpt-neox", "gpt2", 50432, 0, "<|endoftext|>"},
};

static void test_vocabs(void)
{
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        const vocab_fact *v = &vocabs[i];
        char rel[256];
        snprintf(rel, sizeof rel, "ref/tokenizer/ggml-vocab-%s.gguf", v->name);
        const char *path = t_shared(rel);
        gguf_file *f = NULL;
        chord_err err;
        chord_status st = gguf_open(path, &f, &err);
        T_CHECK(st == CHORD_OK, "gguf_open(%s): %s", path, err.msg);
        if (st)
            continue;
        T_EQ_INT(f->n_tensors, 0);
        T_EQ_STR(gguf_get_str(f, "tokenizer.ggml.model"), v->model);
        const gguf_kv *tok = gguf_find_array(f, "tokenizer.ggml.tokens", GGUF_STRING);
        T_CHECK(tok != NULL, "%s: no token array", path);
        if (tok) {
            T_EQ_INT(tok->arr_n, v->n_vocab);
            const char *const *s = tok->arr;
            if ((uint64_t)v->id < tok->arr_n) {
                T_EQ_STR(s[v->id], v->text);
                T_EQ_INT(tok->arr_lens[v->id], strlen(v->text));
            }
            for (uint64_t k = 0; k < tok->arr_n; k++)
                if (strlen(s[k]) != tok->arr_lens[k] && !memchr(s[k], 0, tok->arr_lens[k])) {
                    T_CHECK(0, "%s: token %llu length", path, (unsigned long long)k);
                    break;
                }
        }
        const gguf_kv *types = gguf_find_array(f, "tokenizer.ggml.token_type", GGUF_INT32);
        if (types && tok)
            T_EQ_INT(types->arr_n, tok->arr_n);
        gguf_close(f);
    }
}

int main(void)
{
    test_models();
    test_vocabs();
    return t_done();
}
