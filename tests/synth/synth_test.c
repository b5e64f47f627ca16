/*
 * synth_test.c - `chord synth` writes a model the engine runs:
 *
 *  - with the shapes of the shared models and their vocabularies, the
 *    tensor names, types and shapes are exactly those llama.cpp wrote
 *    (b-spm-q4_k_m: the Q4_K_M mix; a-spm-f16/q4_0; c-qwen2-q8_0 with its
 *    q/k/v biases);
 *  - its logits are finite and spread (per position: deviation across
 *    the vocabulary above 1, a top-1 margin, argmax varying with position);
 *  - the same seed gives the same bytes, another seed other weights;
 *  - a generated vocabulary tokenizes and detokenizes text losslessly;
 *  - memory stays far below the file size (written tensor by tensor);
 *  - bad shapes and types are usage errors (exit 2).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "synth_common.h"
#include "t.h"

static char out_path[4200];

static const char *synth(const char *name, const char *args)
{
    static char path[4200];
    char cmd[9000];
    snprintf(path, sizeof path, "%s/%s.gguf", t_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "synth %s -o '%s'", args, path);
    int rc = sy_chord(cmd);
    if (rc != 0) {
        t_fail_at(__FILE__, __LINE__, "chord %s exited %d", cmd, rc);
        return NULL;
    }
    return path;
}

static void test_layouts_match_llama_cpp(void)
{
    struct { const char *ref, *args; } cases[] = {
        {"models/b-spm-q4_k_m.gguf", "--arch llama --dim 256 --layers 4 --heads 8 --kv-heads 4 --ffn 768 --type Q4_K_M"},
        {"models/a-spm-f16.gguf", "--arch llama --dim 128 --layers 3 --heads 4 --kv-heads 2 --ffn 384 --type F16"},
        {"models/a-spm-q4_0.gguf", "--arch llama --dim 128 --layers 3 --heads 4 --kv-heads 2 --ffn 384 --type Q4_0"},
        {"models/c-qwen2-q8_0.gguf", "--arch qwen2 --dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 256 --type Q8_0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ref = t_shared(cases[i].ref);
        char args[4096];
        snprintf(args, sizeof args, "%s --vocab-from '%s' --seed %zu", cases[i].args, ref, i);
        char name[32];
        snprintf(name, sizeof name, "layout%zu", i);
        const char *path = synth(name, args);
        if (!path)
            continue;
        T_EQ_INT(sy_same_layout(path, ref), 0);
        /* and it runs: logits finite and spread */
        chord_token toks[12] = {1, 450, 4996, 17354, 1701, 432, 2074, 310, 278, 17366, 11203, 29889};
        int nv = 0;
        float *l = sy_logits(path, toks, 12, &nv);
        if (!l)
            continue;
        int argmax_changes = 0, prev = -1;
        for (int p = 0; p < 12; p++) {
            const float *r = l + (size_t)p * (size_t)nv;
            double sum = 0, sq = 0;
            int best = 0, second = -1;
            bool finite = true;
            for (int v = 0; v < nv; v++) {
                finite &= isfinite(r[v]);
                sum += r[v];
                sq += (double)r[v] * r[v];
                if (r[v] > r[best]) {
                    second = best;
                    best = v;
                } else if (v != best && (second < 0 || r[v] > r[second])) {
                    second = v;
                }
            }
            double sd = sqrt(sq / nv - (sum / nv) * (sum / nv));
            T_CHECK(finite, "%s: non-finite logits at position %d", cases[i].ref, p);
            T_CHECK(sd > 1.0, "%s: logits at position %d hardly spread (deviation %.3g)", cases[i].ref, p, sd);
            T_CHECK(second >= 0 && r[best] - r[second] > 1e-4, "%s: no clear argmax at position %d",
                    cases[i].ref, p);
            argmax_changes += prev >= 0 && best != prev;
            prev = best;
        }
        T_CHECK(argmax_changes >= 3, "%s: argmax barely depends on the input (%d changes)", cases[i].ref,
                argmax_changes);
        free(l);
    }
}

static void test_seed_decides_the_bytes(void)
{
    const char *shape = "--arch llama --dim 256 --layers 2 --heads 4 --ffn 512 --vocab 600 --type Q4_K_M";
    char args[1024];
    snprintf(args, sizeof args, "%s --seed 42", shape);
    size_t la = 0, lb = 0, lc = 0;
    char *a = NULL, *b = NULL, *c = NULL;
    const char *p = synth("seed-a", args);
    if (p)
        a = t_read_file(p, &la);
    p = synth("seed-b", args);
    if (p)
        b = t_read_file(p, &lb);
    snprintf(args, sizeof args, "%s --seed 43", shape);
    p = synth("seed-c", args);
    if (p)
        c = t_read_file(p, &lc);
    T_CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "same seed, different files");
    T_CHECK(a && c && la == lc && memcmp(a, c, la) != 0, "another seed, same file");
    free(a);
    free(b);
    free(c);
}

static void test_generated_vocabulary_round_trips(void)
{
    const char *p = synth("vocab", "--arch qwen2 --dim 64 --layers 1 --heads 2 --ffn 128 --vocab 3000 --type F32");
    if (!p)
        return;
    chord_model_params mp = chord_model_default_params();
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(p, &mp, &m, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    chord_model_info info;
    chord_model_get_info(m, &info);
    T_EQ_INT(info.n_vocab, 3000);
    T_EQ_STR(info.arch, "qwen2");
    const char *text = "the quick brown fox, 42 times! caf\xc3\xa9 \xe2\x9c\x93";
    chord_token toks[256];
    int n = chord_tokenize(m, text, strlen(text), false, false, toks, 256, &err);
    T_CHECK(n > 0 && n <= 256, "tokenize: %d (%s)", n, err.msg);
    char back[1024] = "";
    int len = 0;
    chord_detok d;
    chord_detok_init(&d);
    for (int i = 0; i < n && n <= 256; i++)
        len += chord_detok_push(&d, m, toks[i], back + len, (int)sizeof back - len);
    len += chord_detok_flush(&d, back + len, (int)sizeof back - len);
    T_EQ_STR(back, text);
    chord_model_free(m);
}

/* Sanitizers keep shadow memory for every byte touched: RSS means nothing
 * there, so the check runs in plain builds only. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SY_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SY_SANITIZED 1
#endif
#endif

static void test_memory_stays_small(void)
{
#ifdef SY_SANITIZED
    printf("peak-memory check skipped: sanitizer build\n");
    return;
#endif
    /* about 130 MB of F16 weights; the process must stay under half that */
    chord_synth_params sp = {.arch = "llama", .dim = 1024, .layers = 2, .heads = 8, .kv_heads = 8,
                             .ffn = 4096, .vocab = 16000, .type = "F16", .seed = 1};
    snprintf(out_path, sizeof out_path, "%s/big.gguf", t_tmpdir());
    chord_err err;
    if (chord_synth(&sp, out_path, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    size_t len = 0;
    FILE *f = fopen(out_path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fclose(f);
    }
    T_CHECK(len > 120u << 20, "big model only %zu bytes", len);
    T_CHECK((size_t)ru.ru_maxrss * 1024 < len / 2, "peak memory %ld KiB while writing %zu bytes",
            ru.ru_maxrss, len);
    printf("wrote %zu MiB with a peak RSS of %ld MiB\n", len >> 20, ru.ru_maxrss >> 10);
    remove(out_path);
}

static void test_usage_errors(void)
{
    char args[4096];
    const char *bad[] = {
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --type Q4_K_M",        /* no -o */
        "--arch gpt2 --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 -o x.gguf",
        "--arch llama --dim 64 --layers 1 --heads 3 --ffn 128 --type F16 -o x.gguf",
        "--arch llama --dim 64 --layers 1 --heads 4 --kv-heads 3 --ffn 128 --type F16 -o x.gguf",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --type Q7_K -o x.gguf",
        "--arch llama --dim 64 --layers 0 --heads 2 --ffn 128 --type F16 -o x.gguf",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 --vocab 10 -o x.gguf",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 --bogus 1 -o x.gguf",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "synth %s", bad[i]);
        T_CHECK(sy_chord(args) == 2, "chord %s: want exit 2", args);
    }
    snprintf(args, sizeof args, "synth --arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 --vocab-from '%s/none.gguf' -o '%s/x.gguf'",
             t_tmpdir(), t_tmpdir());
    T_EQ_INT(sy_chord(args), 1);
}

int main(void)
{
    test_layouts_match_llama_cpp();
    test_seed_decides_the_bytes();
    test_generated_vocabulary_round_trips();
    test_memory_stays_small();
    test_usage_errors();
    return t_done();
}
