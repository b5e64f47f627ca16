/*
 * test_roundtrip.c - what gguf_writer writes, gguf_open reads back exactly:
 * every value type, numeric and string arrays (with NULs and empty
 * strings), tensors of several types with their bytes at the announced
 * offsets; and the writer's bytes match the format as the independent test
 * builder spells it. Also: a vocabulary-sized file parses fast.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf_build.h"
#include "quant/quant_types.h"
#include "t.h"

#define T_REQUIRE_OK(call) \
    do { if ((call) != CHORD_OK) { t_fail_at(__FILE__, __LINE__, "%s: %s", #call, err.msg); return; } } while (0)

static char *tmp_path(const char *name)
{
    static char buf[8][4200];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 4200, "%s/%s", t_tmpdir(), name);
    return p;
}

typedef struct tdesc {
    const char *name;
    int type, n_dims;
    int64_t ne[4];
} tdesc;

static const tdesc tensors[] = {
    {"token_embd.weight", QT_Q8_0, 2, {64, 10, 1, 1}},
    {"blk.0.attn_norm.weight", QT_F32, 1, {64, 1, 1, 1}},
    {"blk.0.ffn_up.weight", QT_Q4_K, 2, {256, 3, 1, 1}},
    {"blk.1.attn_q.weight", QT_F16, 3, {8, 3, 2, 1}},
    {"blk.12.x", QT_Q6_K, 4, {256, 1, 2, 1}},
    {"output.weight", QT_BF16, 2, {2, 5, 1, 1}},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

static uint8_t data_byte(size_t t, uint64_t i) { return (uint8_t)(t * 31 + i * 7 + (i >> 8)); }

static void write_all(const char *path, uint32_t alignment)
{
    gguf_writer *w;
    chord_err err;
    if (gguf_writer_open(path, &w, &err) != CHORD_OK) {
        T_CHECK(0, "gguf_writer_open: %s", err.msg);
        return;
    }
    if (alignment != 32)
        gguf_writer_kv_u32(w, "general.alignment", alignment);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_kv_u32(w, "t.u32", 4000000000u);
    gguf_writer_kv_i32(w, "t.i32", -123456);
    gguf_writer_kv_u64(w, "t.u64", 0xfedcba9876543210ull);
    gguf_writer_kv_f32(w, "t.f32", 1e-5f);
    gguf_writer_kv_bool(w, "t.bool", true);
    gguf_writer_kv_strn(w, "t.str_nul", "a\0b", 3);
    gguf_writer_kv_str(w, "t.empty", "");
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 65000; int16_t i16 = -32000;
    int64_t i64 = INT64_MIN + 5; double f64 = -2.5e300;
    gguf_writer_kv_scalar(w, "t.u8", GGUF_UINT8, &u8);
    gguf_writer_kv_scalar(w, "t.i8", GGUF_INT8, &i8);
    gguf_writer_kv_scalar(w, "t.u16", GGUF_UINT16, &u16);
    gguf_writer_kv_scalar(w, "t.i16", GGUF_INT16, &i16);
    gguf_writer_kv_scalar(w, "t.i64", GGUF_INT64, &i64);
    gguf_writer_kv_scalar(w, "t.f64", GGUF_FLOAT64, &f64);
    const char *strs[] = {"<unk>", "", "\xe2\x96\x81hello", "x"};
    gguf_writer_kv_arr_str(w, "t.arr_str", strs, 4);
    float fa[5] = {0.5f, -1.0f, 3.25f, 1e30f, -0.0f};
    gguf_writer_kv_arr(w, "t.arr_f32", GGUF_FLOAT32, fa, 5);
    int32_t ia[3] = {-1, 0, 2147483647};
    gguf_writer_kv_arr(w, "t.arr_i32", GGUF_INT32, ia, 3);
    uint8_t ba[3] = {1, 0, 1};
    gguf_writer_kv_arr(w, "t.arr_bool", GGUF_BOOL, ba, 3);
    uint64_t ua[2] = {1, UINT64_MAX};
    gguf_writer_kv_arr(w, "t.arr_u64", GGUF_UINT64, ua, 2);
    gguf_writer_kv_arr(w, "t.arr_empty", GGUF_INT16, NULL, 0);
    for (size_t t = 0; t < N_TENSORS; t++)
        gguf_writer_tensor(w, tensors[t].name, tensors[t].type, tensors[t].n_dims, tensors[t].ne);
    chord_status st = gguf_writer_begin_data(w, &err);
    T_CHECK(st == CHORD_OK, "begin_data: %s", err.msg);
    for (size_t t = 0; t < N_TENSORS && !st; t++) {
        uint64_t n = quant_row_bytes(tensors[t].type, tensors[t].ne[0]) *
                     (uint64_t)(tensors[t].ne[1] * tensors[t].ne[2] * tensors[t].ne[3]);
        uint8_t *buf = malloc(n);
        for (uint64_t i = 0; i < n; i++)
            buf[i] = data_byte(t, i);
        /* in two pieces: the writer must accept a tensor in parts */
        st = gguf_writer_write(w, buf, n / 3, &err);
        if (!st)
            st = gguf_writer_write(w, buf + n / 3, n - n / 3, &err);
        T_CHECK(st == CHORD_OK, "write %s: %s", tensors[t].name, err.msg);
        free(buf);
    }
    st = gguf_writer_close(w, &err);
    T_CHECK(st == CHORD_OK, "close: %s", err.msg);
}

static void check_read(const char *path, uint32_t alignment)
{
    gguf_file *f;
    chord_err err;
    chord_status st = gguf_open(path, &f, &err);
    if (st) {
        T_CHECK(0, "gguf_open(%s): %s", path, err.msg);
        return;
    }
    T_EQ_INT(f->version, 3);
    T_EQ_INT(f->alignment, alignment);
    T_EQ_INT(f->n_kv, alignment != 32 ? 21 : 20);
    T_EQ_INT(f->data_offset % alignment, 0);
    T_EQ_STR(gguf_get_str(f, "general.architecture"), "llama");
    int64_t i;
    double d;
    T_CHECK(gguf_get_int(f, "t.u32", &i) && i == 4000000000LL, "u32 %lld", (long long)i);
    T_CHECK(gguf_get_int(f, "t.i32", &i) && i == -123456, "i32 %lld", (long long)i);
    T_CHECK(!gguf_get_int(f, "t.u64", &i), "u64 above INT64_MAX must not convert");
    T_EQ_INT(gguf_find(f, "t.u64")->num.u == 0xfedcba9876543210ull, 1);
    T_CHECK(gguf_get_float(f, "t.f32", &d) && d == (double)1e-5f, "f32 %g", d);
    T_CHECK(gguf_get_int(f, "t.bool", &i) && i == 1, "bool");
    T_CHECK(gguf_find(f, "t.bool")->type == GGUF_BOOL && gguf_find(f, "t.bool")->num.b, "bool kv");
    const gguf_kv *kv = gguf_find(f, "t.str_nul");
    T_CHECK(kv && kv->type == GGUF_STRING && kv->str_len == 3 && !memcmp(kv->str, "a\0b", 4), "str with NUL");
    T_EQ_STR(gguf_get_str(f, "t.empty"), "");
    T_CHECK(gguf_get_str(f, "t.u32") == NULL, "get_str on a u32");
    T_CHECK(gguf_get_int(f, "t.u8", &i) && i == 200, "u8");
    T_CHECK(gguf_get_int(f, "t.i8", &i) && i == -100, "i8");
    T_CHECK(gguf_get_int(f, "t.u16", &i) && i == 65000, "u16");
    T_CHECK(gguf_get_int(f, "t.i16", &i) && i == -32000, "i16");
    T_CHECK(gguf_get_int(f, "t.i64", &i) && i == INT64_MIN + 5, "i64");
    T_CHECK(gguf_get_float(f, "t.f64", &d) && d == -2.5e300, "f64");
    T_CHECK(gguf_get_float(f, "t.i16", &d) && d == -32000.0, "int as float");
    T_CHECK(!gguf_get_int(f, "t.f64", &i), "float as int");
    T_CHECK(!gguf_get_int(f, "missing", &i) && gguf_find(f, "missing") == NULL, "missing key");
    kv = gguf_find_array(f, "t.arr_str", GGUF_STRING);
    T_CHECK(kv && kv->arr_n == 4, "string array");
    if (kv && kv->arr_n == 4) {
        const char *const *s = kv->arr;
        T_EQ_STR(s[0], "<unk>");
        T_EQ_STR(s[1], "");
        T_EQ_STR(s[2], "\xe2\x96\x81hello");
        T_EQ_STR(s[3], "x");
        T_EQ_INT(kv->arr_lens[2], 8);
    }
    kv = gguf_find_array(f, "t.arr_f32", GGUF_FLOAT32);
    T_CHECK(kv && kv->arr_n == 5, "f32 array");
    if (kv && kv->arr_n == 5) {
        const float *a = kv->arr;
        T_CHECK(a[0] == 0.5f && a[1] == -1.0f && a[2] == 3.25f && a[3] == 1e30f &&
                a[4] == 0.0f && signbit(a[4]), "f32 array values");
    }
    kv = gguf_find_array(f, "t.arr_i32", GGUF_INT32);
    T_CHECK(kv && kv->arr_n == 3 && ((const int32_t *)kv->arr)[0] == -1 &&
            ((const int32_t *)kv->arr)[2] == 2147483647, "i32 array");
    kv = gguf_find_array(f, "t.arr_bool", GGUF_BOOL);
    T_CHECK(kv && kv->arr_n == 3 && !memcmp(kv->arr, "\1\0\1", 3), "bool array");
    kv = gguf_find_array(f, "t.arr_u64", GGUF_UINT64);
    T_CHECK(kv && kv->arr_n == 2 && ((const uint64_t *)kv->arr)[1] == UINT64_MAX, "u64 array");
    kv = gguf_find_array(f, "t.arr_empty", GGUF_INT16);
    T_CHECK(kv && kv->arr_n == 0, "empty array");

    T_EQ_INT(f->n_tensors, N_TENSORS);
    size_t len;
    uint8_t *bytes = (uint8_t *)t_read_file(path, &len);
    T_EQ_INT(len, f->file_size);
    uint64_t expect_off = f->data_offset;
    for (size_t t = 0; t < N_TENSORS && t < f->n_tensors; t++) {
        const gguf_tensor *g = &f->tensors[t];
        T_EQ_STR(g->name, tensors[t].name);
        T_CHECK(gguf_find_tensor(f, tensors[t].name) == g, "lookup %s", g->name);
        T_EQ_INT(g->type, tensors[t].type);
        T_EQ_INT(g->n_dims, tensors[t].n_dims);
        for (int dd = 0; dd < 4; dd++)
            T_EQ_INT(g->ne[dd], tensors[t].ne[dd]);
        T_EQ_INT(g->offset, expect_off);
        T_EQ_INT(g->offset % alignment, 0);
        for (uint64_t k = 0; bytes && k < g->nbytes && g->offset + k < len; k++)
            if (bytes[g->offset + k] != data_byte(t, k)) {
                T_CHECK(0, "%s: data byte %llu", g->name, (unsigned long long)k);
                break;
            }
        expect_off = (g->offset + g->nbytes + alignment - 1) / alignment * alignment;
    }
    T_EQ_INT(gguf_tensor_layer(f->tensors[4].name), 12);
    T_EQ_INT(gguf_tensor_layer("blk.x.y"), -1);
    T_EQ_INT(gguf_tensor_layer("blk.3"), -1);
    T_EQ_INT(gguf_tensor_layer("output.weight"), -1);
    T_CHECK(gguf_find_tensor(f, "nope") == NULL, "missing tensor");

    /* the first bytes as the format defines them, spelled independently */
    bb want = {0};
    bb_header(&want, 3, N_TENSORS, f->n_kv);
    if (alignment != 32) {
        bb_key(&want, "general.alignment", GGUF_UINT32);
        bb_u32(&want, alignment);
    }
    bb_key(&want, "general.architecture", GGUF_STRING);
    bb_str(&want, "llama");
    bb_key(&want, "t.u32", GGUF_UINT32);
    bb_u32(&want, 4000000000u);
    T_CHECK(bytes && want.n <= len && !memcmp(bytes, want.p, want.n), "header bytes differ from the format");
    bb_free(&want);
    free(bytes);
    gguf_close(f);
}

/* Declaration mistakes surface at begin_data / close, and the file is gone. */
static void test_writer_errors(void)
{
    const char *path = tmp_path("bad.gguf");
    gguf_writer *w;
    chord_err err;
    T_REQUIRE_OK(gguf_writer_open(path, &w, &err));
    gguf_writer_kv_u32(w, "k", 1);
    gguf_writer_kv_u32(w, "k", 2);
    T_EQ_INT(gguf_writer_begin_data(w, &err), CHORD_E_INVALID);
    T_CHECK(strstr(err.msg, "duplicate key"), "%s", err.msg);
    T_CHECK(gguf_writer_close(w, &err) != CHORD_OK, "close after a bad declaration");
    T_CHECK(access(path, F_OK) != 0, "partial file left behind");

    int64_t ne[2] = {33, 2};
    T_REQUIRE_OK(gguf_writer_open(path, &w, &err));
    gguf_writer_tensor(w, "t", QT_Q8_0, 2, ne); /* 33 is not a multiple of 32 */
    T_EQ_INT(gguf_writer_begin_data(w, &err), CHORD_E_INVALID);
    gguf_writer_abort(w);

    ne[0] = 32;
    T_REQUIRE_OK(gguf_writer_open(path, &w, &err));
    gguf_writer_tensor(w, "t", QT_Q8_0, 2, ne);
    T_EQ_INT(gguf_writer_begin_data(w, &err), CHORD_OK);
    uint8_t buf[100] = {0};
    T_EQ_INT(gguf_writer_write(w, buf, 69, &err), CHORD_E_INVALID); /* 68 expected */
    T_EQ_INT(gguf_writer_write(w, buf, 60, &err), CHORD_OK);
    T_EQ_INT(gguf_writer_close(w, &err), CHORD_E_INVALID);           /* 8 bytes short */
    T_CHECK(strstr(err.msg, "'t'"), "%s", err.msg);
    T_CHECK(access(path, F_OK) != 0, "partial file left behind");
}

/* A vocabulary-sized file (150k strings, 700 tensors) parses well under a
 * second: the reader must not make a syscall or an allocation per string. */
static void test_speed(void)
{
    const char *path = tmp_path("big.gguf");
    enum { N_STR = 150000, N_T = 700 };
    char **s = malloc(N_STR * sizeof *s);
    float *scores = malloc(N_STR * sizeof *scores);
    for (int i = 0; i < N_STR; i++) {
        s[i] = malloc(16);
        snprintf(s[i], 16, "tok%d", i);
        scores[i] = (float)-i;
    }
    gguf_writer *w;
    chord_err err;
    T_REQUIRE_OK(gguf_writer_open(path, &w, &err));
    gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)s, N_STR);
    gguf_writer_kv_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, N_STR);
    int64_t ne[2] = {32, 1};
    char name[64];
    for (int t = 0; t < N_T; t++) {
        snprintf(name, sizeof name, "blk.%d.w%d", t / 9, t % 9);
        gguf_writer_tensor(w, name, QT_F32, 2, ne);
    }
    chord_status st = gguf_writer_begin_data(w, &err);
    for (int t = 0; t < N_T && !st; t++)
        st = gguf_writer_write(w, scores, 128, &err);
    T_CHECK(st == CHORD_OK, "%s", err.msg);
    T_EQ_INT(gguf_writer_close(w, &err), CHORD_OK);
    for (int i = 0; i < N_STR; i++)
        free(s[i]);
    free(s);
    free(scores);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gguf_file *f;
    st = gguf_open(path, &f, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    T_CHECK(st == CHORD_OK, "%s", err.msg);
    if (st)
        return;
    printf("parsed 150k strings + 700 tensors in %.1f ms\n", ms);
    T_CHECK(ms < 1000, "parse took %.1f ms", ms);
    const gguf_kv *kv = gguf_find_array(f, "tokenizer.ggml.tokens", GGUF_STRING);
    T_CHECK(kv && kv->arr_n == N_STR && !strcmp(((char **)kv->arr)[123456], "tok123456"), "vocab");
    T_CHECK(gguf_find_tensor(f, "blk.77.w5") != NULL, "tensor lookup");
    T_EQ_INT(gguf_tensor_layer("blk.77.w7"), 77);
    gguf_close(f);
}

/* Copying every key and tensor of a file through the writer (what `chord
 * quantize` does for the metadata) reproduces it byte for byte. */
static void test_copy(const char *src, const char *dst)
{
    gguf_file *f;
    gguf_writer *w;
    chord_err err;
    T_REQUIRE_OK(gguf_open(src, &f, &err));
    size_t len;
    char *bytes = t_read_file(src, &len);
    if (gguf_writer_open(dst, &w, &err)) {
        T_CHECK(0, "%s", err.msg);
        gguf_close(f);
        free(bytes);
        return;
    }
    for (uint64_t i = 0; i < f->n_kv; i++)
        gguf_writer_kv_copy(w, &f->kv[i]);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        gguf_writer_tensor(w, f->tensors[i].name, f->tensors[i].type, f->tensors[i].n_dims,
                           f->tensors[i].ne);
    chord_status st = gguf_writer_begin_data(w, &err);
    for (uint64_t i = 0; i < f->n_tensors && !st && bytes; i++)
        st = gguf_writer_write(w, bytes + f->tensors[i].offset, (size_t)f->tensors[i].nbytes, &err);
    T_CHECK(st == CHORD_OK, "copy: %s", err.msg);
    T_EQ_INT(gguf_writer_close(w, &err), CHORD_OK);
    size_t len2;
    char *copy = t_read_file(dst, &len2);
    T_CHECK(bytes && copy && len == len2 && !memcmp(bytes, copy, len),
            "copy of %s differs (%zu vs %zu bytes)", src, len, len2);
    free(copy);
    free(bytes);
    gguf_close(f);
}

int main(void)
{
    const char *p32 = tmp_path("rt32.gguf"), *p64 = tmp_path("rt64.gguf");
    write_all(p32, 32);
    check_read(p32, 32);
    write_all(p64, 64);
    check_read(p64, 64);
    test_copy(p32, tmp_path("copy32.gguf"));
    test_copy(p64, tmp_path("copy64.gguf"));
    test_writer_errors();
    test_speed();
    /* a file written by another implementation (llama.cpp's gguf writer)
     * comes out identical too; last, so a missing fixture skips only this */
    if (t_failures)
        return t_done();
    test_copy(t_shared("models/a-spm-q8_0.gguf"), tmp_path("copy-a.gguf"));
    test_copy(t_shared("models/c-qwen2-q8_0.gguf"), tmp_path("copy-c.gguf"));
    return t_done();
}
