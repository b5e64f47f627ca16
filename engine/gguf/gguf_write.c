/*
 * gguf_write.c - the streaming GGUF writer (see gguf.h).
 *
 * Metadata is serialized into memory as it is declared (it is small: even a
 * 150k-entry vocabulary is a few MB); tensor infos are kept as a list so
 * their data offsets can be laid out once the alignment is final. Tensor
 * bytes go straight from the caller's buffer to the file.
 */
#include "gguf/gguf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "quant/quant_types.h"

#define WR_BUF_SIZE (1u << 20)

typedef struct wr_tensor {
    char *name;
    int type, n_dims;
    int64_t ne[4];
    uint64_t nbytes, rel;  /* size and offset within the data section */
} wr_tensor;

struct gguf_writer {
    char *path;
    FILE *fp;
    char *iobuf;
    uint8_t *meta;         /* serialized key/value pairs */
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    char **keys;           /* for rejecting duplicates */
    wr_tensor *t;
    uint64_t n_t, cap_t;
    uint32_t alignment;
    chord_status fail_st;  /* first declaration error, reported later */
    char fail_msg[400];
    bool begun;
    uint64_t cur, cur_done; /* tensor being written and its bytes so far */
    uint64_t pos;           /* bytes written to the file */
};

static void __attribute__((format(printf, 3, 4)))
wr_fail(gguf_writer *w, chord_status st, const char *fmt, ...)
{
    if (w->fail_st)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_msg, sizeof w->fail_msg, fmt, ap);
    va_end(ap);
    w->fail_st = st;
}

chord_status gguf_writer_open(const char *path, gguf_writer **out, chord_err *err)
{
    *out = NULL;
    gguf_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path)) || !(w->iobuf = malloc(WR_BUF_SIZE))) {
        if (w)
            free(w->path);
        free(w);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", path);
    }
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        chord_status st = err_errno(err, CHORD_E_IO, errno, "%s: cannot create", path);
        free(w->iobuf);
        free(w->path);
        free(w);
        return st;
    }
    setvbuf(w->fp, w->iobuf, _IOFBF, WR_BUF_SIZE);
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return CHORD_OK;
}

static void meta_put(gguf_writer *w, const void *p, size_t n)
{
    if (w->fail_st)
        return;
    if (w->meta_len + n > w->meta_cap) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap < w->meta_len + n)
            cap *= 2;
        uint8_t *m = realloc(w->meta, cap);
        if (!m) {
            wr_fail(w, CHORD_E_NOMEM, "out of memory for metadata");
            return;
        }
        w->meta = m;
        w->meta_cap = cap;
    }
    memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
}

static void meta_le(gguf_writer *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    meta_put(w, b, n);
}

static void meta_str(gguf_writer *w, const char *s, uint64_t len)
{
    meta_le(w, len, 8);
    meta_put(w, s, (size_t)len);
}

/* Starts a key/value pair: checks the key is new and writes key and type. */
static bool kv_begin(gguf_writer *w, const char *key, gguf_vtype t)
{
    if (w->fail_st)
        return false;
    if (w->begun) {
        wr_fail(w, CHORD_E_INVALID, "key '%.80s' declared after the header was written", key);
        return false;
    }
    if (!key || !*key) {
        wr_fail(w, CHORD_E_INVALID, "empty key");
        return false;
    }
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) {
            wr_fail(w, CHORD_E_INVALID, "duplicate key '%.80s'", key);
            return false;
        }
    char **k = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *k);
    if (!k || !(k[w->n_kv] = strdup(key))) {
        if (k)
            w->keys = k;
        wr_fail(w, CHORD_E_NOMEM, "out of memory for key '%.80s'", key);
        return false;
    }
    w->keys = k;
    w->n_kv++;
    meta_str(w, key, strlen(key));
    meta_le(w, (uint64_t)t, 4);
    return true;
}

/* Serializes one numeric value of type t from its host-order bytes (v
 * need not be aligned). */
static void put_scalar(gguf_writer *w, gguf_vtype t, const void *v)
{
    size_t n = gguf_vtype_size(t);
    const unsigned char *p = v;
    uint64_t u = 0;
    /* byte by byte in host order: gcc cannot see that n matches the size
     * of the caller's variable and warns about a fixed-size memcpy */
    unsigned char b[8] = {0};
    for (size_t i = 0; i < n && i < sizeof b; i++)
        b[i] = p[i];
    uint8_t b8;
    uint16_t b16;
    uint32_t b32;
    switch (n) {
    case 1: memcpy(&b8, b, 1); u = b8; break;
    case 2: memcpy(&b16, b, 2); u = b16; break;
    case 4: memcpy(&b32, b, 4); u = b32; break;
    case 8: memcpy(&u, b, 8); break;
    }
    meta_le(w, u, n);
}

void gguf_writer_kv_scalar(gguf_writer *w, const char *key, gguf_vtype t, const void *v)
{
    if (!gguf_vtype_size(t)) {
        wr_fail(w, CHORD_E_INVALID, "key '%.80s': %s is not a scalar type", key, gguf_vtype_name(t));
        return;
    }
    if (!strcmp(key ? key : "", "general.alignment")) {
        uint32_t a = 0;
        if (t == GGUF_UINT32)
            memcpy(&a, v, 4);
        if (!a || (a & (a - 1))) {
            wr_fail(w, CHORD_E_INVALID, "general.alignment must be a u32 power of two");
            return;
        }
        w->alignment = a;
    }
    if (kv_begin(w, key, t))
        put_scalar(w, t, v);
}

void gguf_writer_kv_u32(gguf_writer *w, const char *key, uint32_t v) { gguf_writer_kv_scalar(w, key, GGUF_UINT32, &v); }
void gguf_writer_kv_i32(gguf_writer *w, const char *key, int32_t v) { gguf_writer_kv_scalar(w, key, GGUF_INT32, &v); }
void gguf_writer_kv_u64(gguf_writer *w, const char *key, uint64_t v) { gguf_writer_kv_scalar(w, key, GGUF_UINT64, &v); }
void gguf_writer_kv_f32(gguf_writer *w, const char *key, float v) { gguf_writer_kv_scalar(w, key, GGUF_FLOAT32, &v); }

void gguf_writer_kv_bool(gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v;
    gguf_writer_kv_scalar(w, key, GGUF_BOOL, &b);
}

void gguf_writer_kv_strn(gguf_writer *w, const char *key, const char *v, uint64_t len)
{
    if (kv_begin(w, key, GGUF_STRING))
        meta_str(w, v, len);
}

void gguf_writer_kv_str(gguf_writer *w, const char *key, const char *v)
{
    gguf_writer_kv_strn(w, key, v, strlen(v));
}

/* A string array; lens NULL = NUL-terminated strings. */
static void kv_arr_str(gguf_writer *w, const char *key, const char *const *v,
                       const uint64_t *lens, uint64_t n)
{
    if (!kv_begin(w, key, GGUF_ARRAY))
        return;
    meta_le(w, GGUF_STRING, 4);
    meta_le(w, n, 8);
    for (uint64_t i = 0; i < n && !w->fail_st; i++)
        meta_str(w, v[i], lens ? lens[i] : strlen(v[i]));
}

void gguf_writer_kv_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    kv_arr_str(w, key, v, NULL, n);
}

void gguf_writer_kv_arr(gguf_writer *w, const char *key, gguf_vtype t, const void *v, uint64_t n)
{
    size_t esz = gguf_vtype_size(t);
    if (!esz) {
        wr_fail(w, CHORD_E_INVALID, "key '%.80s': arrays of %s are not numeric", key, gguf_vtype_name(t));
        return;
    }
    if (!kv_begin(w, key, GGUF_ARRAY))
        return;
    meta_le(w, t, 4);
    meta_le(w, n, 8);
    for (uint64_t i = 0; i < n && !w->fail_st; i++)
        put_scalar(w, t, (const uint8_t *)v + i * esz);
}

void gguf_writer_kv_copy(gguf_writer *w, const gguf_kv *kv)
{
    switch (kv->type) {
    case GGUF_STRING:
        gguf_writer_kv_strn(w, kv->key, kv->str, kv->str_len);
        return;
    case GGUF_ARRAY:
        if (kv->arr_type == GGUF_STRING)
            kv_arr_str(w, kv->key, (const char *const *)kv->arr, kv->arr_lens, kv->arr_n);
        else
            gguf_writer_kv_arr(w, kv->key, kv->arr_type, kv->arr, kv->arr_n);
        return;
    default: {
        /* num holds the value widened: narrow it back to the stored type */
        uint8_t b[8];
        switch (kv->type) {
        case GGUF_UINT8: case GGUF_INT8: b[0] = (uint8_t)kv->num.u; break;
        case GGUF_BOOL: b[0] = kv->num.b; break;
        case GGUF_UINT16: case GGUF_INT16: { uint16_t x = (uint16_t)kv->num.u; memcpy(b, &x, 2); break; }
        case GGUF_UINT32: case GGUF_INT32: { uint32_t x = (uint32_t)kv->num.u; memcpy(b, &x, 4); break; }
        case GGUF_FLOAT32: { float x = (float)kv->num.f; memcpy(b, &x, 4); break; }
        default: memcpy(b, &kv->num, 8); break;
        }
        gguf_writer_kv_scalar(w, kv->key, kv->type, b);
    }
    }
}

void gguf_writer_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne)
{
    if (w->fail_st)
        return;
    if (w->begun || !name || !*name || n_dims < 1 || n_dims > 4) {
        wr_fail(w, CHORD_E_INVALID, "tensor '%.80s': bad declaration (n_dims %d%s)",
                name ? name : "", n_dims, w->begun ? ", after the header" : "");
        return;
    }
    for (uint64_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) {
            wr_fail(w, CHORD_E_INVALID, "duplicate tensor '%.80s'", name);
            return;
        }
    wr_tensor t = {.type = type, .n_dims = n_dims, .ne = {1, 1, 1, 1}};
    int64_t rows = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || (d > 0 && __builtin_mul_overflow(rows, ne[d], &rows))) {
            wr_fail(w, CHORD_E_INVALID, "tensor '%.80s': bad dimension %d", name, d);
            return;
        }
        t.ne[d] = ne[d];
    }
    size_t row = quant_row_bytes(type, ne[0]);
    if (!row || __builtin_mul_overflow((uint64_t)row, (uint64_t)rows, &t.nbytes)) {
        wr_fail(w, CHORD_E_INVALID, "tensor '%.80s': type %d cannot hold rows of %" PRId64,
                name, type, ne[0]);
        return;
    }
    if (w->n_t == w->cap_t) {
        uint64_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wr_tensor *p = realloc(w->t, (size_t)cap * sizeof *p);
        if (!p) {
            wr_fail(w, CHORD_E_NOMEM, "out of memory for tensor '%.80s'", name);
            return;
        }
        w->t = p;
        w->cap_t = cap;
    }
    if (!(t.name = strdup(name))) {
        wr_fail(w, CHORD_E_NOMEM, "out of memory for tensor '%.80s'", name);
        return;
    }
    w->t[w->n_t++] = t;
}

static chord_status wr_bytes(gguf_writer *w, const void *p, size_t n, chord_err *err)
{
    if (n && fwrite(p, 1, n, w->fp) != n)
        return err_errno(err, CHORD_E_IO, errno, "%s: write failed at offset %" PRIu64, w->path, w->pos);
    w->pos += n;
    return CHORD_OK;
}

static chord_status wr_le(gguf_writer *w, uint64_t v, size_t n, chord_err *err)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return wr_bytes(w, b, n, err);
}

/* Zero bytes up to the next multiple of the alignment. */
static chord_status wr_pad(gguf_writer *w, chord_err *err)
{
    static const uint8_t zeros[256];
    chord_status st = CHORD_OK;
    while (!st && w->pos % w->alignment) {
        uint64_t k = w->alignment - w->pos % w->alignment;
        st = wr_bytes(w, zeros, k > sizeof zeros ? sizeof zeros : (size_t)k, err);
    }
    return st;
}

chord_status gguf_writer_begin_data(gguf_writer *w, chord_err *err)
{
    if (w->fail_st)
        return err_set(err, w->fail_st, "%s: %s", w->path, w->fail_msg);
    if (w->begun)
        return err_set(err, CHORD_E_INVALID, "%s: header already written", w->path);
    w->begun = true;
    uint64_t rel = 0, a = w->alignment;
    for (uint64_t i = 0; i < w->n_t; i++) {
        w->t[i].rel = rel;
        rel = (rel + w->t[i].nbytes + a - 1) / a * a;
    }
    chord_status st = CHORD_OK;
    if (!st) st = wr_le(w, GGUF_MAGIC, 4, err);
    if (!st) st = wr_le(w, 3, 4, err);
    if (!st) st = wr_le(w, w->n_t, 8, err);
    if (!st) st = wr_le(w, w->n_kv, 8, err);
    if (!st) st = wr_bytes(w, w->meta, w->meta_len, err);
    for (uint64_t i = 0; i < w->n_t && !st; i++) {
        const wr_tensor *t = &w->t[i];
        size_t len = strlen(t->name);
        st = wr_le(w, len, 8, err);
        if (!st) st = wr_bytes(w, t->name, len, err);
        if (!st) st = wr_le(w, (uint64_t)t->n_dims, 4, err);
        for (int d = 0; d < t->n_dims && !st; d++)
            st = wr_le(w, (uint64_t)t->ne[d], 8, err);
        if (!st) st = wr_le(w, (uint64_t)t->type, 4, err);
        if (!st) st = wr_le(w, t->rel, 8, err);
    }
    if (!st)
        st = wr_pad(w, err);
    return st;
}

chord_status gguf_writer_write(gguf_writer *w, const void *data, size_t n, chord_err *err)
{
    if (!w->begun)
        return err_set(err, CHORD_E_INVALID, "%s: tensor data before gguf_writer_begin_data", w->path);
    if (w->cur >= w->n_t)
        return err_set(err, CHORD_E_INVALID, "%s: more tensor data than declared at offset %"
                       PRIu64, w->path, w->pos);
    wr_tensor *t = &w->t[w->cur];
    if (n > t->nbytes - w->cur_done)
        return err_set(err, CHORD_E_INVALID, "%s: tensor '%.80s': %zu bytes given, %" PRIu64
                       " expected at offset %" PRIu64, w->path, t->name, n,
                       t->nbytes - w->cur_done, w->pos);
    chord_status st = wr_bytes(w, data, n, err);
    if (st)
        return st;
    w->cur_done += n;
    if (w->cur_done == t->nbytes) {
        w->cur++;
        w->cur_done = 0;
        st = wr_pad(w, err);
    }
    return st;
}

static void wr_free(gguf_writer *w)
{
    for (uint64_t i = 0; i < w->n_kv; i++)
        free(w->keys[i]);
    for (uint64_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->keys);
    free(w->t);
    free(w->meta);
    free(w->iobuf);
    free(w->path);
    free(w);
}

chord_status gguf_writer_close(gguf_writer *w, chord_err *err)
{
    chord_status st = CHORD_OK;
    if (!w->begun)
        st = gguf_writer_begin_data(w, err);
    if (!st && w->cur < w->n_t)
        st = err_set(err, CHORD_E_INVALID, "%s: tensor '%.80s' got %" PRIu64 " of its %" PRIu64
                     " bytes at offset %" PRIu64, w->path, w->t[w->cur].name, w->cur_done,
                     w->t[w->cur].nbytes, w->pos);
    if (!st && (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0))
        st = err_errno(err, CHORD_E_IO, errno, "%s: write failed at offset %" PRIu64, w->path, w->pos);
    if (fclose(w->fp) != 0 && !st)
        st = err_errno(err, CHORD_E_IO, errno, "%s: close failed", w->path);
    if (st)
        unlink(w->path);
    wr_free(w);
    return st;
}

void gguf_writer_abort(gguf_writer *w)
{
    if (!w)
        return;
    fclose(w->fp);
    unlink(w->path);
    wr_free(w);
}
