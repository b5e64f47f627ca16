/*
 * synth_moe_test.c - `chord synth` mixtures of experts:
 *
 *  - at the shapes of the shared MoE fixtures (qwen3moe, Mixtral's llama
 *    layout, gpt-oss in MXFP4_MOE), the tensor names, types and 3-D shapes
 *    are exactly the fixture's and the "<arch>.*" keys the same set; each
 *    file loads and a forward pass gives finite, spread logits;
 *  - --fast writes a valid MoE file (random blocks for the experts too);
 *  - --router-skew: the routers' choices over gaussian router inputs
 *    (computed here from the file's own router weights and biases) are
 *    near uniform at skew 0 and follow rank^-S at skew 1.2 (log-log slope
 *    of the unclamped ranks), with a different ranking per layer, the same
 *    file for the same seed;
 *  - bad uses (experts on a dense-only family, a MoE family without them,
 *    a skew out of range) are usage errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "synth/synth.h"
#include "synth_common.h"
#include "t.h"

static void check_runs(const char *what, const char *path)
{
    chord_token toks[12] = {1, 450, 996, 1735, 1701, 432, 2074, 310, 278, 1736, 1203, 29};
    int nv = 0;
    float *l = sy_logits(path, toks, 12, &nv);
    if (!l)
        return;
    int bad = 0, changes = 0, prev = -1;
    double sq = 0;
    for (int p = 0; p < 12; p++) {
        int best = 0;
        for (int v = 0; v < nv; v++) {
            float x = l[(size_t)p * nv + v];
            bad += !isfinite(x);
            sq += (double)x * x;
            if (x > l[(size_t)p * nv + best])
                best = v;
        }
        changes += prev >= 0 && best != prev;
        prev = best;
    }
    double rms = sqrt(sq / (12.0 * nv));
    printf("%s: logit rms %.2f, argmax changed %d times in 12\n", what, rms, changes);
    T_CHECK(bad == 0, "%s: %d non-finite logits", what, bad);
    T_CHECK(rms > 0.5, "%s: logits hardly spread (rms %.3g)", what, rms);
    T_CHECK(changes >= 3, "%s: argmax barely depends on the input", what);
    free(l);
}

static const struct moe_case {
    const char *arch, *ref, *args;
} cases[] = {
    {"qwen3moe", "models/l-qwen3moe-q8_0.gguf",
     "--dim 128 --layers 3 --heads 4 --kv-heads 2 --head-dim 64 --ffn 512 --experts 8 "
     "--experts-used 2 --expert-ffn 128 --ctx 2048 --type Q8_0"},
    {"llama", "models/m-mixtral-q8_0.gguf",
     "--dim 128 --layers 3 --heads 4 --kv-heads 2 --ffn 256 --experts 4 --experts-used 2 "
     "--ctx 2048 --type Q8_0"},
    {"gpt-oss", "models/n-gptoss-mxfp4.gguf",
     "--dim 128 --layers 4 --heads 4 --kv-heads 2 --head-dim 64 --ffn 128 --experts 4 "
     "--experts-used 2 --window 8 --type MXFP4_MOE"},
};

static void test_fixture_shapes(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct moe_case *c = &cases[i];
        const char *ref = t_shared(c->ref);
        char args[4800], name[32];
        snprintf(args, sizeof args, "--arch %s %s --vocab-from '%s' --seed %zu --router-skew 0.8",
                 c->arch, c->args, ref, i + 3);
        snprintf(name, sizeof name, "moe-%s", c->arch);
        const char *path = sy_synth(name, args);
        if (!path)
            continue;
        T_EQ_INT(sy_same_layout(path, ref), 0);
        T_EQ_INT(sy_same_arch_keys(path, ref, c->arch), 0);
        check_runs(c->arch, path);
    }
}

static void test_fast(void)
{
    const char *path = sy_synth("moe-fast", "--arch qwen3moe --dim 256 --layers 2 --heads 4 --kv-heads 2 "
                                         "--head-dim 64 --ffn 512 --experts 16 --experts-used 4 "
                                         "--expert-ffn 256 --vocab 4096 --type Q4_K_M --fast --seed 5");
    if (!path)
        return;
    gguf_file *f = NULL;
    chord_err err;
    T_CHECK(gguf_open(path, &f, &err) == CHORD_OK, "%s", err.msg);
    const gguf_tensor *t = f ? gguf_find_tensor(f, "blk.1.ffn_down_exps.weight") : NULL;
    /* llama.cpp's Q4_K_M gives the last eighth's ffn_down (the experts'
     * too) Q6_K */
    T_CHECK(t && t->n_dims == 3 && t->ne[0] == 256 && t->ne[1] == 256 && t->ne[2] == 16 &&
            t->type == 14 /* Q6_K */, "blk.1.ffn_down_exps.weight: wrong shape or type");
    gguf_close(f);
    check_runs("qwen3moe --fast Q4_K_M", path);
}

/* n floats of tensor t of the file at path. */
static bool read_f32(const char *path, const gguf_tensor *t, float *dst, size_t n)
{
    FILE *fp = fopen(path, "rb");
    bool ok = fp && fseek(fp, (long)t->offset, SEEK_SET) == 0 && fread(dst, sizeof *dst, n, fp) == n;
    if (fp)
        fclose(fp);
    return ok;
}

/* The router of layer il as floats: w (n_expert rows of dim), b (n_expert,
 * zeros when the file has no router bias). */
static bool read_router(const char *path, int il, int dim, int ne, float *w, float *b)
{
    gguf_file *f = NULL;
    chord_err err;
    if (gguf_open(path, &f, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return false;
    }
    char name[64];
    snprintf(name, sizeof name, "blk.%d.ffn_gate_inp.weight", il);
    const gguf_tensor *t = gguf_find_tensor(f, name);
    bool ok = t && t->type == 0 && t->ne[0] == dim && t->ne[1] == ne;
    if (ok)
        ok = read_f32(path, t, w, (size_t)dim * (size_t)ne);
    snprintf(name, sizeof name, "blk.%d.ffn_gate_inp.bias", il);
    t = gguf_find_tensor(f, name);
    if (t && t->type == 0 && t->ne[0] == ne)
        ok = ok && read_f32(path, t, b, (size_t)ne);
    else
        memset(b, 0, (size_t)ne * sizeof *b);
    gguf_close(f);
    T_CHECK(ok, "%s: no F32 router %d x %d in layer %d", path, dim, ne, il);
    return ok;
}

static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        u[i] = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Share of each expert in the top-k choices over n gaussian inputs of unit
 * RMS (what the FFN norm feeds the router). */
static void shares(const float *w, const float *b, int dim, int ne, int k, int n, double *f)
{
    uint64_t s = 42;
    float *x = malloc((size_t)dim * sizeof *x);
    double *lg = malloc((size_t)ne * sizeof *lg);
    int sel[16];
    for (int e = 0; e < ne; e++)
        f[e] = 0;
    for (int i = 0; i < n; i++) {
        double sq = 0;
        for (int d = 0; d < dim; d++) {
            x[d] = (float)gauss(&s);
            sq += (double)x[d] * x[d];
        }
        for (int d = 0; d < dim; d++)
            x[d] = (float)(x[d] / sqrt(sq / dim));
        for (int e = 0; e < ne; e++) {
            double acc = b[e];
            for (int d = 0; d < dim; d++)
                acc += (double)w[(size_t)e * dim + d] * x[d];
            lg[e] = acc;
        }
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < ne; e++) {
                bool taken = false;
                for (int q = 0; q < j && !taken; q++)
                    taken = sel[q] == e;
                if (!taken && (best < 0 || lg[e] > lg[best]))
                    best = e;
            }
            sel[j] = best;
            f[best] += 1.0 / n;
        }
    }
    free(x);
    free(lg);
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Least-squares slope of log share against log rank over ranks [r0, r1). */
static double zipf_slope(const double *sorted, int r0, int r1)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (int r = r0; r < r1; r++) {
        if (sorted[r] <= 0)
            continue;
        double x = log(r + 1.0), y = log(sorted[r]);
        sx += x, sy += y, sxx += x * x, sxy += x * y;
        n++;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

static void check_skew(const char *arch, const char *extra, float skew, bool bias)
{
    enum { DIM = 128, NE = 64, K = 2, N = 20000 };
    char args[512], name[64];
    snprintf(args, sizeof args, "--arch %s --dim %d --layers 2 --heads 4 --kv-heads 2 --head-dim 32 "
             "--ffn 128 --experts %d --experts-used %d --vocab 1024 --type Q8_0 --seed 9 "
             "--router-skew %g %s", arch, DIM, NE, K, (double)skew, extra);
    snprintf(name, sizeof name, "skew-%s-%g", arch, (double)skew);
    const char *path = sy_synth(name, args);
    if (!path)
        return;
    static float w[NE * DIM], b[NE];
    double f[2][NE];
    for (int il = 0; il < 2; il++) {
        if (!read_router(path, il, DIM, NE, w, b))
            return;
        shares(w, b, DIM, NE, K, N, f[il]);
    }
    int top0 = 0, top1 = 0;
    for (int e = 0; e < NE; e++) {
        top0 = f[0][e] > f[0][top0] ? e : top0;
        top1 = f[1][e] > f[1][top1] ? e : top1;
    }
    double sorted[NE];
    memcpy(sorted, f[0], sizeof sorted);
    qsort(sorted, NE, sizeof *sorted, cmp_desc);
    double top10 = 0; /* the top tenth's share of the selections */
    for (int r = 0; r < NE / 10; r++)
        top10 += sorted[r] / K;
    if (skew == 0) {
        /* a uniform draw: every share near K / NE, top tenth near 1/10 */
        double lo = sorted[NE - 1] / K * NE, hi = sorted[0] / K * NE;
        printf("%s skew 0: shares from %.2f to %.2f of uniform, top tenth %.3f\n", arch, lo, hi, top10);
        T_CHECK(lo > 0.6 && hi < 1.5, "%s skew 0: shares from %.2f to %.2f of uniform", arch, lo, hi);
        T_CHECK(top10 < 0.14, "%s skew 0: top tenth takes %.3f", arch, top10);
        return;
    }
    /* the ranks the cap leaves alone follow rank^-S; the ranks far down the
     * tail are too rare to count well in N draws */
    double target[NE];
    synth_router_targets(NE, K, skew, bias, target);
    int r0 = 0;
    while (r0 < NE && target[r0] >= target[0] - 1e-9)
        r0++;
    double slope = zipf_slope(sorted, r0, NE / 2);
    printf("%s skew %.2f: log-log slope %.3f over ranks %d..%d, top share %.3f (target %.3f), top tenth %.3f\n",
           arch, (double)skew, slope, r0 + 1, NE / 2, sorted[0], target[0], top10);
    T_NEAR(slope, -skew, 0.2);
    T_NEAR(sorted[0], target[0], 0.06);
    T_CHECK(top10 > 0.3, "%s skew %.2f: top tenth takes only %.3f", arch, (double)skew, top10);
    T_CHECK(top0 != top1, "%s: layers 0 and 1 have the same hottest expert %d", arch, top0);
}

static void test_router_skew(void)
{
    check_skew("qwen3moe", "--expert-ffn 64", 0.0f, false);
    check_skew("qwen3moe", "--expert-ffn 64", 1.2f, false);
    /* gpt-oss skews through its router bias: no cap near one half */
    check_skew("gpt-oss", "--expert-ffn 64 --window 8", 1.2f, true);
    check_skew("gpt-oss", "--expert-ffn 64 --window 8", 0.0f, true);

    /* the same seed, the same bytes */
    const char *a = sy_synth("same-a", "--arch llama --dim 64 --layers 2 --heads 2 --ffn 64 --experts 8 "
                                    "--experts-used 2 --vocab 512 --type Q8_0 --router-skew 1 --seed 4");
    const char *b = sy_synth("same-b", "--arch llama --dim 64 --layers 2 --heads 2 --ffn 64 --experts 8 "
                                    "--experts-used 2 --vocab 512 --type Q8_0 --router-skew 1 --seed 4");
    char cmd[9000];
    if (a && b) {
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
        T_EQ_INT(t_run(cmd, NULL), 0);
    }
}

static void test_usage_errors(void)
{
    const char *bad[] = {
        "--arch qwen3 --dim 64 --layers 1 --heads 2 --ffn 64 --experts 4 --experts-used 2",
        "--arch qwen3moe --dim 64 --layers 1 --heads 2 --ffn 64",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 64 --experts 4 --experts-used 5",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 64 --experts 4",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 64 --experts 4 --experts-used 2 --router-skew 9",
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 64 --router-skew 1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "synth %s --vocab 512 --type Q8_0 -o '%s/bad.gguf'", bad[i], t_tmpdir());
        T_CHECK(sy_chord(cmd) == 2, "not a usage error: %s", bad[i]);
    }
}

int main(void)
{
    test_fixture_shapes();
    test_fast();
    test_router_skew();
    test_usage_errors();
    return t_done();
}
