/*
 * test_dequant_ref.c - quant_dequant_matches_reference: every tensor listed
 * by every JSON file in ../shared/ref/dequant dequantizes bit for bit to the
 * reference floats, at every SIMD level this CPU runs, and the dot
 * products on those rows agree with the reference floats. The directory is
 * scanned, so fixtures added later are checked without touching this file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord.h"
#include "gguf/gguf.h"
#include "quant/quant_impl.h"
#include "t.h"

static const char *const levels[] = {"scalar", "avx2", "avx512"};

/* dir + "/" + name into buf (4096 bytes); false if it does not fit. */
static bool join(char *buf, const char *dir, const char *name)
{
    int len = snprintf(buf, 4096, "%s/%s", dir, name);
    return len >= 0 && len < 4096;
}

/* The dot products on the file's own rows: with an activation row (fixed
 * pseudo-random floats quantized by the scalar quantizer of the activation
 * type), every level's vec_dot must equal the dot of the reference floats
 * with the dequantized activation, within float summation error (2e-6 of
 * the sum of |w * a|). Q8_1's min term is m * s, not m * its dequantized
 * sum: that difference is added to the expected value. */
static void check_dots(const char *what, int type, const unsigned char *raw, size_t row_bytes,
                       const float *ref, int64_t rows, int64_t n)
{
    const int at = quant_act_type(type);
    const quant_kernels *ka = quant_kernels_for(at, "scalar");
    T_CHECK(at >= 0 && ka, "%s: no activation type", what);
    if (at < 0 || !ka)
        return;
    float *x = malloc((size_t)n * sizeof *x), *xd = malloc((size_t)n * sizeof *xd);
    unsigned char *act = malloc((size_t)n * 4 + 64);
    uint32_t seed = 12345;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)(seed >> 8) - (1 << 23)) / (float)(1 << 23);
    }
    ka->quantize(x, act, n);
    ka->dequant(act, xd, n);
    for (int64_t r = 0; r < rows; r++) {
        const unsigned char *w = raw + (size_t)r * row_bytes;
        double want = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            want += (double)ref[r * n + i] * xd[i];
            mag += fabs((double)ref[r * n + i] * xd[i]);
        }
        if (at == QT_Q8_1) {
            const size_t wb = (size_t)quant_traits_of(type)->bytes;
            for (int64_t b = 0; b < n / 32; b++) {
                const block_q8_1 *yb = (const block_q8_1 *)act + b;
                uint16_t m;
                memcpy(&m, w + b * wb + 2, 2); /* Q4_1 and Q5_1 blocks open with d, m */
                int sum = 0;
                for (int j = 0; j < 32; j++)
                    sum += yb->qs[j];
                want += (double)quant_f16_to_f32(m) *
                        (quant_f16_to_f32(yb->s) - (double)quant_f16_to_f32(yb->d) * sum);
            }
        }
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
            if (!quant_cpu_has(levels[l]))
                continue;
            float got = 0;
            quant_kernels_for(type, levels[l])->vec_dot(n, &got, w, act);
            T_CHECK(fabs(got - want) <= 2e-6 * mag, "%s row %lld [%s]: dot %.9g, dequantized dot %.9g",
                    what, (long long)r, levels[l], got, want);
        }
    }
    free(x);
    free(xd);
    free(act);
}

/* Checks one json entry: tensor `name` of the open model against `ref`. */
static void check_tensor(const char *json_name, gguf_file *gf, const char *model_path,
                         const chord_json *e, const char *dir)
{
    const chord_json *jt = chord_json_get(e, "tensor"), *jy = chord_json_get(e, "type"),
                     *jf = chord_json_get(e, "file"), *jr = chord_json_get(e, "rows"),
                     *jn = chord_json_get(e, "row_length");
    if (!jt || !jy || !jf || !jr || !jn || jt->type != CHORD_JSON_STRING ||
        jy->type != CHORD_JSON_STRING || jf->type != CHORD_JSON_STRING) {
        t_fail_at(__FILE__, __LINE__, "%s: entry without tensor/type/file/rows/row_length", json_name);
        return;
    }
    const char *name = jt->string;
    const int64_t rows = (int64_t)jr->number, n = (int64_t)jn->number;
    const gguf_tensor *t = gguf_find_tensor(gf, name);
    if (!t) {
        t_fail_at(__FILE__, __LINE__, "%s: tensor %s not in %s", json_name, name, model_path);
        return;
    }
    const int want_type = quant_type_by_name(jy->string);
    T_CHECK(t->type == want_type, "%s: %s has type %d, json says %s", json_name, name, t->type, jy->string);
    T_CHECK(t->ne[0] == n, "%s: %s row length %lld, json says %lld", json_name, name,
            (long long)t->ne[0], (long long)n);
    if (t->type != want_type || t->ne[0] != n)
        return;
    const size_t row_bytes = quant_row_bytes(t->type, n);
    const size_t bytes = row_bytes * (size_t)rows;
    T_CHECK(row_bytes > 0 && bytes <= t->nbytes, "%s: %s: %lld rows do not fit the tensor", json_name,
            name, (long long)rows);
    if (!row_bytes || bytes > t->nbytes)
        return;

    char ref_path[4096];
    if (!join(ref_path, dir, jf->string)) {
        t_fail_at(__FILE__, __LINE__, "path too long: %s", jf->string);
        return;
    }
    size_t ref_len = 0;
    float *ref = (float *)t_read_file(ref_path, &ref_len);
    T_CHECK(ref && ref_len == (size_t)(rows * n) * sizeof(float), "%s: %s: %zu bytes, want %lld",
            json_name, ref_path, ref_len, (long long)(rows * n * 4));
    unsigned char *raw = malloc(bytes);
    float *out = malloc((size_t)(rows * n) * sizeof(float));
    int fd = open(model_path, O_RDONLY);
    T_CHECK(fd >= 0 && raw && out, "open %s", model_path);
    if (ref && ref_len == (size_t)(rows * n) * sizeof(float) && fd >= 0 && raw && out) {
        ssize_t got = pread(fd, raw, bytes, (off_t)t->offset);
        T_CHECK(got == (ssize_t)bytes, "%s: short read of %s", model_path, name);
        for (size_t l = 0; got == (ssize_t)bytes && l < sizeof levels / sizeof *levels; l++) {
            if (!quant_cpu_has(levels[l])) {
                printf("note: CPU lacks %s, level not checked\n", levels[l]);
                continue;
            }
            const quant_kernels *k = quant_kernels_for(t->type, levels[l]);
            T_CHECK(k && k->dequant, "%s: no dequant kernel for %s", levels[l], jy->string);
            if (!k || !k->dequant)
                continue;
            for (int64_t r = 0; r < rows; r++)
                k->dequant(raw + (size_t)r * row_bytes, out + r * n, n);
            int64_t bad = -1, nbad = 0;
            for (int64_t i = 0; i < rows * n; i++) {
                if (memcmp(&out[i], &ref[i], 4) != 0) {
                    if (bad < 0)
                        bad = i;
                    nbad++;
                }
            }
            T_CHECK(nbad == 0, "%s %s %s [%s]: %lld of %lld floats differ; first at %lld: got %.9g want %.9g",
                    json_name, name, jy->string, levels[l], (long long)nbad, (long long)(rows * n),
                    (long long)bad, bad >= 0 ? out[bad] : 0.0, bad >= 0 ? ref[bad] : 0.0);
            if (nbad == 0 && l == 0)
                printf("ok %-28s %-24s %-5s %lld x %lld\n", json_name, name, jy->string,
                       (long long)rows, (long long)n);
        }
        char what[512];
        snprintf(what, sizeof what, "%s %s %s", json_name, name, jy->string);
        if (got == (ssize_t)bytes)
            check_dots(what, t->type, raw, row_bytes, ref, rows, n);
    }
    if (fd >= 0)
        close(fd);
    free(raw);
    free(out);
    free(ref);
}

static void check_json(const char *dir, const char *json_name, const char *models, int *n_checked)
{
    char path[4096];
    T_CHECK(join(path, dir, json_name), "path too long: %s", json_name);
    size_t len = 0;
    char *text = t_read_file(path, &len);
    T_CHECK(text, "cannot read %s", path);
    if (!text)
        return;
    chord_err err = {{0}};
    chord_json *j = chord_json_parse(text, len, &err);
    T_CHECK(j, "%s: %s", path, err.msg);
    const chord_json *jm = j ? chord_json_get(j, "model") : NULL;
    const chord_json *jts = j ? chord_json_get(j, "tensors") : NULL;
    T_CHECK(jm && jm->type == CHORD_JSON_STRING && jts && jts->type == CHORD_JSON_ARRAY,
            "%s: no model/tensors", path);
    if (jm && jm->type == CHORD_JSON_STRING && jts && jts->type == CHORD_JSON_ARRAY) {
        char model_path[4096];
        T_CHECK(join(model_path, models, jm->string), "path too long: %s", jm->string);
        gguf_file *gf = NULL;
        chord_status st = gguf_open(model_path, &gf, &err);
        T_CHECK(st == CHORD_OK, "%s", err.msg);
        for (size_t i = 0; st == CHORD_OK && i < jts->len; i++) {
            check_tensor(json_name, gf, model_path, chord_json_at(jts, i), dir);
            (*n_checked)++;
        }
        gguf_close(gf);
    }
    chord_json_free(j);
    free(text);
}

int main(void)
{
    chord_init();
    const char *dir = t_shared("ref/dequant");
    char dir_copy[4096], models[4096];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    snprintf(models, sizeof models, "%s", t_shared("models"));
    DIR *d = opendir(dir_copy);
    T_REQUIRE(d, "cannot open %s", dir_copy);
    int n_checked = 0, n_json = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
            check_json(dir_copy, de->d_name, models, &n_checked);
            n_json++;
        }
    }
    closedir(d);
    T_CHECK(n_json > 0 && n_checked > 0, "no reference entries found in %s", dir_copy);
    printf("%d tensors from %d json files\n", n_checked, n_json);
    return t_done();
}
