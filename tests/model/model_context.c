/*
 * model_context.c - contexts around the forward pass: a full cache is an
 * error without side effects, truncation forgets exactly the dropped
 * positions, a batch equals the same tokens fed one at a time, long
 * batches are cut into pieces transparently, vocab-only loads, stats,
 * and unsupported models are refused with a message naming the key.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "gguf/gguf.h"
#include "t.h"

static chord_model *load(const char *rel, bool vocab_only)
{
    chord_model_params mp = chord_model_default_params();
    mp.vocab_only = vocab_only;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(t_shared(rel), &mp, &m, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
    return m;
}

static chord_ctx *new_ctx(chord_model *m, int n_ctx, int threads)
{
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = threads;
    chord_ctx *c = NULL;
    chord_err err;
    if (chord_ctx_new(m, &cp, &c, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
    return c;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

static void test_ctx_full_has_no_side_effects(chord_model *m, int nv)
{
    chord_ctx *c = new_ctx(m, 8, 1);
    if (!c)
        return;
    chord_token t[8] = {1, 450, 4996, 17354, 1701, 432, 17204, 975};
    float *lg = malloc((size_t)nv * sizeof *lg);
    chord_err err = {{0}};
    T_EQ_INT(chord_ctx_n_ctx(c), 8);
    T_EQ_INT(chord_ctx_eval(c, t, 6, lg, false, &err), CHORD_OK);
    T_EQ_INT(chord_ctx_eval(c, t + 6, 3, lg, false, &err), CHORD_E_CTX_FULL);
    T_CHECK(strstr(err.msg, "context full"), "message: %s", err.msg);
    T_EQ_INT(chord_ctx_pos(c), 6);
    T_EQ_INT(chord_ctx_eval(c, t + 6, 2, lg, false, &err), CHORD_OK);
    T_EQ_INT(chord_ctx_pos(c), 8);
    T_EQ_INT(chord_ctx_eval(c, t, 1, lg, false, &err), CHORD_E_CTX_FULL);

    chord_stats s;
    chord_stats_get(m, &s);
    T_EQ_INT(s.ctx_used, 8);
    T_EQ_INT(s.ctx_size, 8);
    T_CHECK(s.n_prompt_tokens >= 8, "prompt tokens counted: %llu", (unsigned long long)s.n_prompt_tokens);
    T_EQ_INT(s.n_layer, 3);

    /* A bad token id is refused before anything runs. */
    chord_token bad = nv;
    chord_ctx_truncate(c, 0);
    T_EQ_INT(chord_ctx_eval(c, &bad, 1, lg, false, &err), CHORD_E_INVALID);
    T_EQ_INT(chord_ctx_pos(c), 0);
    free(lg);
    chord_ctx_free(c);
}

/* Truncating and re-feeding gives the logits of a fresh run, and a batch
 * gives (within float noise) the logits of one token at a time. */
static void test_truncate_and_decode_match_batch(chord_model *m, int nv)
{
    enum { N = 12 };
    chord_token t[N] = {1, 450, 4996, 17354, 1701, 432, 17204, 975, 278, 17366, 11203, 29889};
    chord_ctx *c = new_ctx(m, 64, 2);
    if (!c)
        return;
    float *all = malloc((size_t)N * nv * sizeof(float)), *one = malloc((size_t)nv * sizeof(float));
    chord_err err = {{0}};
    T_EQ_INT(chord_ctx_eval(c, t, N, all, true, &err), CHORD_OK);

    chord_ctx_truncate(c, 0);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        T_EQ_INT(chord_ctx_eval(c, &t[i], 1, one, false, &err), CHORD_OK);
        worst = fmax(worst, max_abs_diff(one, all + (size_t)i * nv, (size_t)nv));
    }
    /* F16 model: 12 tokens take the dot products like single tokens do,
     * so this is exact in practice; the bound is the F16 protocol's. */
    T_CHECK(worst < 0.02, "decode vs batch logits differ by %g", worst);
    printf("decode vs batch: max abs diff %.5f\n", worst);

    chord_ctx_truncate(c, 5);
    T_EQ_INT(chord_ctx_pos(c), 5);
    T_EQ_INT(chord_ctx_eval(c, t + 5, N - 5, one, false, &err), CHORD_OK);
    float *fresh = malloc((size_t)nv * sizeof(float));
    chord_ctx *c2 = new_ctx(m, 64, 1);
    T_EQ_INT(chord_ctx_eval(c2, t, 5, NULL, false, &err), CHORD_OK);
    T_EQ_INT(chord_ctx_eval(c2, t + 5, N - 5, fresh, false, &err), CHORD_OK);
    T_CHECK(!memcmp(one, fresh, (size_t)nv * sizeof(float)), "truncate + re-eval equals a fresh run");

    /* Cancel before an eval is cleared by the next eval. */
    chord_ctx_cancel(c2);
    chord_ctx_truncate(c2, 0);
    T_EQ_INT(chord_ctx_eval(c2, t, 2, fresh, false, &err), CHORD_OK);
    free(fresh);
    chord_ctx_free(c2);
    free(all);
    free(one);
    chord_ctx_free(c);
}

/* 300 tokens run as pieces of the internal batch size: same logits as two
 * evals split elsewhere. */
static void test_long_batch(chord_model *m, int nv)
{
    enum { N = 300 };
    chord_token t[N];
    for (int i = 0; i < N; i++)
        t[i] = i ? 100 + (i * 7919) % 20000 : 1;
    chord_ctx *a = new_ctx(m, 512, 2), *b = new_ctx(m, 512, 2);
    if (!a || !b)
        return;
    float *la = malloc((size_t)N * nv * sizeof(float)), *lb = malloc((size_t)N * nv * sizeof(float));
    chord_err err = {{0}};
    T_EQ_INT(chord_ctx_eval(a, t, N, la, true, &err), CHORD_OK);
    T_EQ_INT(chord_ctx_eval(b, t, 100, lb, true, &err), CHORD_OK);
    T_EQ_INT(chord_ctx_eval(b, t + 100, N - 100, lb + (size_t)100 * nv, true, &err), CHORD_OK);
    /* Other piece sizes give sgemm other shapes, which may move the last
     * bit of a sum and then an F16 rounding: equal within the F16 bound. */
    double d = max_abs_diff(la, lb, (size_t)N * nv);
    T_CHECK(d < 0.02, "long batch split differently: max abs diff %g", d);
    printf("long batch in other pieces: max abs diff %.5f\n", d);
    T_EQ_INT(chord_ctx_pos(a), N);
    free(la);
    free(lb);
    chord_ctx_free(a);
    chord_ctx_free(b);
}

typedef struct cancel_arg {
    chord_ctx *c;
    atomic_int done;
} cancel_arg;

/* Keeps asking the eval to stop until it has returned. */
static void *canceller(void *v)
{
    cancel_arg *a = v;
    struct timespec ts = {0, 200000};
    while (!atomic_load(&a->done)) {
        chord_ctx_cancel(a->c);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* A cancelled eval stops at a layer boundary and rolls the cache back. */
static void test_cancel_rolls_back(chord_model *m)
{
    enum { N = 400 };
    chord_ctx *c = new_ctx(m, 512, 1);
    if (!c)
        return;
    chord_token t[N];
    for (int i = 0; i < N; i++)
        t[i] = 1 + (i * 7919) % 30000;
    chord_err err = {{0}};
    T_EQ_INT(chord_ctx_eval(c, t, 3, NULL, false, &err), CHORD_OK);
    cancel_arg a = {c, 0};
    pthread_t th;
    pthread_create(&th, NULL, canceller, &a);
    chord_status st = chord_ctx_eval(c, t, N, NULL, false, &err);
    atomic_store(&a.done, 1);
    pthread_join(th, NULL);
    T_EQ_INT(st, CHORD_E_CANCELLED);
    T_CHECK(strstr(err.msg, "cancelled"), "message: %s", err.msg);
    T_EQ_INT(chord_ctx_pos(c), 3);
    T_EQ_INT(chord_ctx_eval(c, t, 2, NULL, false, &err), CHORD_OK); /* the flag was cleared */
    T_EQ_INT(chord_ctx_pos(c), 5);
    chord_ctx_free(c);
}

static void test_vocab_only(void)
{
    chord_model *m = load("ref/tokenizer/ggml-vocab-llama-spm.gguf", true);
    if (!m)
        return;
    chord_ctx *c = NULL;
    chord_err err = {{0}};
    T_EQ_INT(chord_ctx_new(m, NULL, &c, &err), CHORD_E_INVALID);
    T_CHECK(c == NULL, "no context without weights");
    T_CHECK(strstr(chord_model_plan(m), "vocabulary"), "plan: %s", chord_model_plan(m));
    chord_model_free(m);
}

/* A GGUF whose architecture chord does not run is refused, naming the key. */
static void test_unsupported_arch(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/gpt2.gguf", t_tmpdir());
    gguf_writer *w = NULL;
    chord_err err = {{0}};
    if (gguf_writer_open(path, &w, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    gguf_writer_kv_str(w, "general.architecture", "gpt2");
    T_CHECK(gguf_writer_begin_data(w, &err) == CHORD_OK, "%s", err.msg);
    T_CHECK(gguf_writer_close(w, &err) == CHORD_OK, "%s", err.msg);
    chord_model *m = NULL;
    chord_model_params mp = chord_model_default_params();
    T_EQ_INT(chord_model_load(path, &mp, &m, &err), CHORD_E_UNSUPPORTED);
    T_CHECK(strstr(err.msg, "general.architecture") && strstr(err.msg, "gpt2") && strstr(err.msg, path),
            "message: %s", err.msg);
    T_CHECK(m == NULL, "no model");
}

int main(void)
{
    chord_model *m = load("models/a-spm-f16.gguf", false);
    T_REQUIRE(m, "model");
    chord_model_info info;
    chord_model_get_info(m, &info);
    T_EQ_INT(info.n_vocab, 32000);
    T_EQ_INT(info.n_embd, 128);
    T_EQ_INT(info.n_layer, 3);
    T_EQ_INT(info.n_head, 4);
    T_EQ_INT(info.n_head_kv, 2);
    T_EQ_INT(info.n_ff, 384);
    T_EQ_STR(info.arch, "llama");
    T_EQ_STR(info.type_name, "F16");
    test_ctx_full_has_no_side_effects(m, info.n_vocab);
    test_truncate_and_decode_match_batch(m, info.n_vocab);
    test_long_batch(m, info.n_vocab);
    test_cancel_rolls_back(m);
    chord_model_free(m);
    test_vocab_only();
    test_unsupported_arch();
    return t_done();
}
