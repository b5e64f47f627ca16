/*
 * model_kvq.c - a context with a quantized KV cache (--cache-type-k/-v):
 * each type pair runs and says so (chord_ctx_describe: the types, bytes a
 * position as the blocks make them), a batch gives the bits of the same
 * tokens at 1 and 2 threads, the logits stay near the F16 cache's, and
 * what it cannot do is refused without side effects: the unfused
 * numerics, and the context shift (chord_ctx_drop leaves the cache as it
 * was, so the chat re-prefills).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "t.h"

static chord_ctx *ctx(chord_model *m, chord_kv_type tk, chord_kv_type tv, int threads,
                      bool unfused, chord_status *st, chord_err *err)
{
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 128;
    cp.n_threads = threads;
    cp.type_k = tk;
    cp.type_v = tv;
    cp.unfused_attn = unfused;
    chord_ctx *c = NULL;
    *st = chord_ctx_new(m, &cp, &c, err);
    return c;
}

int main(void)
{
    chord_init();
    const char *path = t_shared("models/a-spm-q8_0.gguf");
    chord_model_params mp = chord_model_default_params();
    chord_model *m = NULL;
    chord_err err;
    T_REQUIRE(chord_model_load(path, &mp, &m, &err) == CHORD_OK, "%s", err.msg);
    chord_model_info info;
    chord_model_get_info(m, &info);
    int nv = info.n_vocab, n = 40;
    chord_token toks[40];
    for (int i = 0; i < n; i++)
        toks[i] = (chord_token)(1 + (i * 7919) % (nv - 1));
    float *ref = malloc((size_t)nv * sizeof(float)), *a = malloc((size_t)nv * sizeof(float)),
          *b = malloc((size_t)nv * sizeof(float));
    chord_status st;
    chord_ctx *c = ctx(m, CHORD_KV_F16, CHORD_KV_F16, 2, false, &st, &err);
    T_REQUIRE(c && chord_ctx_eval(c, toks, n, ref, false, &err) == CHORD_OK, "%s", err.msg);
    chord_ctx_free(c);
    double rr = 0;
    for (int i = 0; i < nv; i++)
        rr += (double)ref[i] * ref[i];

    static const char *const tn[3] = {"F16", "Q8_0", "Q4_0"};
    for (int tk = 0; tk < 3; tk++)
        for (int tv = 0; tv < 3; tv++) {
            if (!tk && !tv)
                continue;
            c = ctx(m, (chord_kv_type)tk, (chord_kv_type)tv, 2, false, &st, &err);
            T_CHECK(st == CHORD_OK, "K %s V %s: %s", tn[tk], tn[tv], err.msg);
            if (!c)
                continue;
            /* a copy: the context (and its text) is freed before the
             * line below prints it */
            char d[512];
            snprintf(d, sizeof d, "%s", chord_ctx_describe(c));
            char want[64];
            if (tk == tv)
                snprintf(want, sizeof want, "KV cache %s,", tn[tk]);
            else
                snprintf(want, sizeof want, "KV cache K %s, V %s,", tn[tk], tn[tv]);
            T_CHECK(strstr(d, want) != NULL, "describe: '%s' lacks '%s'", d, want);
            T_CHECK(chord_ctx_eval(c, toks, n, a, false, &err) == CHORD_OK, "%s", err.msg);
            /* the shift is refused and changes nothing */
            int pos = chord_ctx_pos(c);
            T_CHECK(chord_ctx_drop(c, 4, 12, &err) == CHORD_E_UNSUPPORTED, "K %s V %s: drop not refused",
                    tn[tk], tn[tv]);
            T_EQ_INT(chord_ctx_pos(c), pos);
            chord_token next = toks[0];
            T_CHECK(chord_ctx_eval(c, &next, 1, b, false, &err) == CHORD_OK, "%s", err.msg);
            chord_ctx_free(c);
            /* one thread: the same bits */
            c = ctx(m, (chord_kv_type)tk, (chord_kv_type)tv, 1, false, &st, &err);
            float *a1 = malloc((size_t)nv * sizeof(float));
            T_CHECK(c && chord_ctx_eval(c, toks, n, a1, false, &err) == CHORD_OK, "%s", err.msg);
            T_CHECK(!memcmp(a, a1, (size_t)nv * sizeof(float)), "K %s V %s: 1 and 2 threads differ", tn[tk],
                    tn[tv]);
            free(a1);
            chord_ctx_free(c);
            /* near the F16 cache's logits: Q4_0 is coarse (an NRMSE of a
             * few percent), Q8_0 within one */
            double se = 0;
            for (int i = 0; i < nv; i++)
                se += (double)(a[i] - ref[i]) * (a[i] - ref[i]);
            double nrmse = sqrt(se / rr), bound = (tk == 2 || tv == 2) ? 0.1 : 0.02;
            T_CHECK(nrmse <= bound, "K %s V %s: NRMSE %.3g against the F16 cache (bound %.2g)", tn[tk], tn[tv],
                    nrmse, bound);
            printf("K %-4s V %-4s NRMSE %.2e against the F16 cache; %s\n", tn[tk], tn[tv], nrmse, d);
        }
    c = ctx(m, CHORD_KV_Q8_0, CHORD_KV_Q8_0, 2, true, &st, &err);
    T_CHECK(st == CHORD_E_UNSUPPORTED && !c, "a quantized cache with the unfused numerics: %d", (int)st);
    chord_ctx_params cp = chord_ctx_default_params();
    cp.type_k = (chord_kv_type)7;
    T_CHECK(chord_ctx_new(m, &cp, &c, &err) == CHORD_E_INVALID, "an unknown type accepted");
    T_EQ_INT(chord_kv_type_parse("Q8_0"), CHORD_KV_Q8_0);
    T_EQ_INT(chord_kv_type_parse("q4_0"), CHORD_KV_Q4_0);
    T_EQ_INT(chord_kv_type_parse("f16"), CHORD_KV_F16);
    T_EQ_INT(chord_kv_type_parse("q5_0"), -1);
    free(ref);
    free(a);
    free(b);
    chord_model_free(m);
    return t_done();
}
