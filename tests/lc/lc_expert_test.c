/*
 * lc_expert_test.c - the expert cache changes where a mixture of experts'
 * weights come from, never the arithmetic: on the shared MoE models, logits
 * with budgets that force experts out of memory, down to the smallest
 * budget the engine accepts, are BIT-IDENTICAL to the fully resident run;
 * below that budget the load is refused with a message that names the
 * minimum; the counters add up (every expert a token needs is a hit or a
 * miss, predictions are counted and some are right, bytes are read); the
 * least-recently-used policy gives the same bits too.
 *
 *  - one batch (teacher forcing: each expert is read once per layer for
 *    all the tokens that chose it) with each budget;
 *  - token by token (a pass per token: the cache turns over many times,
 *    the prefetcher reads on predictions) with a small budget, 2 threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "gguf/gguf.h"
#include "t.h"

#define N_TOK 40

static const char *const models[] = {"l-qwen3moe-q8_0", "m-mixtral-q8_0", "n-gptoss-mxfp4",
                                     "l-qwen3moe-mxfp4"};

/* Logits of every position of toks (one batch, or one token at a time),
 * under a budget; NULL with *st set when the model does not load. */
static float *run(const char *path, int64_t budget, bool lru, bool steps, const chord_token *toks,
                  int n, int n_vocab, chord_status *st, chord_err *err, chord_stats *stats)
{
    chord_model_params mp = chord_model_default_params();
    mp.mem_budget = budget;
    mp.expert_lru = lru;
    chord_model *m = NULL;
    if ((*st = chord_model_load(path, &mp, &m, err)) != CHORD_OK)
        return NULL;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 2;
    chord_ctx *c = NULL;
    float *lg = malloc((size_t)n * n_vocab * sizeof *lg);
    *st = chord_ctx_new(m, &cp, &c, err);
    for (int i = 0; *st == CHORD_OK && i < n; i += steps ? 1 : n)
        *st = chord_ctx_eval(c, toks + i, steps ? 1 : n, lg + (size_t)i * n_vocab, !steps, err);
    if (stats)
        chord_stats_get(m, stats);
    chord_ctx_free(c);
    chord_model_free(m);
    if (*st != CHORD_OK) {
        free(lg);
        return NULL;
    }
    return lg;
}

static void check_model(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    char path[4096];
    snprintf(path, sizeof path, "%s", t_shared(rel));
    chord_status st;
    chord_err err;
    chord_model_params mp = chord_model_default_params();
    mp.vocab_only = true;
    chord_model *vm = NULL;
    if (chord_model_load(path, &mp, &vm, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    chord_model_info info;
    chord_model_get_info(vm, &info);
    chord_model_free(vm);
    int nv = info.n_vocab;
    chord_token toks[N_TOK];
    uint64_t r = 0x9e3779b97f4a7c15ull ^ (uint64_t)strlen(name);
    for (int i = 0; i < N_TOK; i++)
        toks[i] = (chord_token)(t_rand(&r) % (uint64_t)(nv > 4000 ? 4000 : nv));

    chord_stats rs;
    float *ref = run(path, -1, false, false, toks, N_TOK, nv, &st, &err, &rs);
    T_CHECK(ref, "%s resident: %s", name, err.msg);
    if (!ref)
        return;
    T_CHECK(rs.n_expert > 0 && rs.expert_slots == 0 && rs.expert_misses == 0,
            "%s resident: %d experts, %d slots, %llu misses", name, rs.n_expert, rs.expert_slots,
            (unsigned long long)rs.expert_misses);

    /* Budgets down from the file size in steps of 1/16 of it, then the
     * minimum the refusal names. */
    int64_t size = (int64_t)info.file_bytes, minimum = -1;
    int n_streamed = 0;
    for (int64_t b = size; b > 0; b -= size / 16) {
        float *lg = run(path, b, false, false, toks, N_TOK, nv, &st, &err, NULL);
        if (!lg) {
            T_CHECK(st == CHORD_E_NOMEM, "%s budget %lld: status %d: %s", name, (long long)b, st, err.msg);
            const char *at = strstr(err.msg, "at least ");
            T_CHECK(at != NULL, "%s budget %lld: the refusal names no minimum: %s", name, (long long)b, err.msg);
            if (at)
                minimum = strtoll(at + 9, NULL, 10);
            break;
        }
        n_streamed++;
        T_CHECK(!memcmp(lg, ref, (size_t)N_TOK * nv * sizeof *lg), "%s budget %lld: logits differ from resident",
                name, (long long)b);
        free(lg);
    }
    T_CHECK(minimum > 0 && n_streamed > 2, "%s: minimum %lld after %d budgets", name, (long long)minimum,
            n_streamed);
    if (minimum > 0) {
        for (int lru = 0; lru < 2; lru++) {
            float *lg = run(path, minimum, lru, false, toks, N_TOK, nv, &st, &err, NULL);
            T_CHECK(lg && !memcmp(lg, ref, (size_t)N_TOK * nv * sizeof *lg),
                    "%s at its minimum budget %lld (%s): %s", name, (long long)minimum,
                    lru ? "LRU" : "decayed counts", lg ? "logits differ" : err.msg);
            free(lg);
        }
        float *lg = run(path, minimum - 1, false, false, toks, N_TOK, nv, &st, &err, NULL);
        T_CHECK(!lg && st == CHORD_E_NOMEM, "%s: a budget 1 byte under the minimum %lld was accepted", name,
                (long long)minimum);
        free(lg);
    }

    /* Token by token (2 threads) at the minimum, where even the dense
     * layers stream, and with room for everything but half the experts,
     * where the dense layers are held and the prefetcher predicts: the
     * logits of a resident token-by-token run, and counters that add up. */
    uint64_t ex_bytes = 0;
    gguf_file *gf = NULL;
    if (gguf_open(path, &gf, &err) == CHORD_OK) {
        for (uint64_t i = 0; i < gf->n_tensors; i++)
            if (strstr(gf->tensors[i].name, "_exps.weight"))
                ex_bytes += gf->tensors[i].nbytes;
        gguf_close(gf);
    }
    T_CHECK(ex_bytes > 0, "%s: no expert tensors", name);
    float *step_ref = run(path, -1, false, true, toks, N_TOK, nv, &st, &err, NULL);
    int64_t budgets[2] = {minimum > 0 ? minimum : size / 2, size - (int64_t)ex_bytes / 2};
    for (int bi = 0; bi < 2 && step_ref; bi++) {
        chord_stats s;
        float *steps = run(path, budgets[bi], false, true, toks, N_TOK, nv, &st, &err, &s);
        T_CHECK(steps && !memcmp(steps, step_ref, (size_t)N_TOK * nv * sizeof *steps),
                "%s token by token at %lld: %s", name, (long long)budgets[bi],
                steps ? "logits differ from resident" : err.msg);
        free(steps);
        uint64_t needed = (uint64_t)N_TOK * (uint64_t)s.n_moe_layers * (uint64_t)s.n_expert_used;
        T_CHECK(s.expert_slots > 0 && s.expert_hits + s.expert_misses == needed,
                "%s at %lld: %llu hits + %llu misses, want %llu (slots %d)", name, (long long)budgets[bi],
                (unsigned long long)s.expert_hits, (unsigned long long)s.expert_misses,
                (unsigned long long)needed, s.expert_slots);
        T_CHECK(s.expert_misses > 0 && s.expert_bytes_read > 0, "%s at %lld: %llu misses, %llu bytes read",
                name, (long long)budgets[bi], (unsigned long long)s.expert_misses,
                (unsigned long long)s.expert_bytes_read);
        if (bi == 1)
            T_CHECK(s.expert_predicted > 0 && s.expert_predict_right > 0 &&
                        s.expert_predict_right <= s.expert_predicted,
                    "%s at %lld: %llu predictions, %llu right", name, (long long)budgets[bi],
                    (unsigned long long)s.expert_predicted, (unsigned long long)s.expert_predict_right);
        T_CHECK(s.expert_tokens == N_TOK, "%s: %llu tokens counted", name, (unsigned long long)s.expert_tokens);
        int used = 0;
        for (int l = 0; l < s.n_layer; l++)
            for (int j = 0; j < CHORD_MAX_EXPERT_USED; j++)
                used += s.experts_last[l][j] >= 0;
        T_CHECK(used == s.n_moe_layers * s.n_expert_used, "%s: %d last choices recorded", name, used);
        printf("%-18s budget %lld of %lld bytes (minimum %lld, %d budgets checked): token by token %d slots, "
               "hit rate %.2f, %llu of %llu predictions right, %.1f KiB of experts read per token\n",
               name, (long long)budgets[bi], (long long)size, (long long)minimum, n_streamed, s.expert_slots,
               (double)s.expert_hits / (double)needed, (unsigned long long)s.expert_predict_right,
               (unsigned long long)s.expert_predicted, (double)s.expert_bytes_read / N_TOK / 1024.0);
    }
    free(step_ref);
    free(ref);
}

int main(void)
{
    chord_init();
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        check_model(models[i]);
    return t_done();
}
