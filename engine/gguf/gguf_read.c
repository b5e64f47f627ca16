/*
 * gguf_read.c - the GGUF parser (see gguf.h).
 *
 * Layout of a file (v2/v3, little-endian):
 *   magic u32, version u32, n_tensors u64, n_kv u64,
 *   n_kv x { key: str, type: u32, value },
 *   n_tensors x { name: str, n_dims: u32, ne: u64[n_dims], type: u32, offset: u64 },
 *   padding to the alignment, then the data section (tensor offsets are
 *   relative to its start).
 * A str is a u64 byte length then the bytes; an array value is an element
 * type u32, a count u64, then the elements.
 *
 * Every count read from the file is checked against the bytes that remain
 * before anything is allocated for it, and the arrays that grow with the
 * number of entries grow only as entries are actually read, so what the
 * parser allocates stays within a small multiple of the file's size.
 */
#include "gguf/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "quant/quant_types.h"

#define RD_BUF_SIZE (1u << 20)
#define GGUF_MAX_KEY 65535u      /* the format's limit for key lengths */
#define GGUF_MAX_NAME 65535u     /* our limit for tensor names */
#define MIN_KV_BYTES 13u         /* key length + 1 key byte + type + 1 value byte */
#define MIN_TENSOR_BYTES 33u     /* name length + 1 byte + n_dims + 1 dim + type + offset */

/* The buffered reader and the parse state: where we are and what we are
 * reading, so every error can say "(key 'x') at offset N". */
typedef struct rd {
    int fd;
    const char *path;
    uint64_t size;
    uint64_t pos;          /* logical position of the next read */
    uint8_t *buf;
    size_t buf_cap;        /* RD_BUF_SIZE, or less for a small file */
    uint64_t buf_start;    /* file offset of buf[0] */
    size_t buf_len;        /* valid bytes in buf */
    chord_err *err;
    const char *what;      /* "key" / "tensor" / NULL */
    const char *name;      /* its name, once known */
} rd;

/* Fails with "<path>: <message> (key 'x') at offset off". */
static chord_status __attribute__((format(printf, 4, 5)))
rd_fail(rd *r, chord_status st, uint64_t off, const char *fmt, ...)
{
    char what[320], ctx[120] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (r->what && r->name)
        snprintf(ctx, sizeof ctx, " (%s '%.80s%s')", r->what, r->name,
                 strlen(r->name) > 80 ? "..." : "");
    else if (r->what)
        snprintf(ctx, sizeof ctx, " (%s)", r->what);
    return err_set(r->err, st, "%s: %s%s at offset %" PRIu64, r->path, what, ctx, off);
}

static uint64_t rd_left(const rd *r)
{
    return r->pos <= r->size ? r->size - r->pos : 0;
}

/* Checks that n more bytes exist; `what` names the field for the message. */
static chord_status rd_need(rd *r, uint64_t n, const char *what)
{
    if (n > rd_left(r))
        return rd_fail(r, CHORD_E_FORMAT, r->pos,
                       "truncated file: %s needs %" PRIu64 " bytes, %" PRIu64 " left",
                       what, n, rd_left(r));
    return CHORD_OK;
}

/* pread() exactly n bytes at off (a file that shrinks under us is an I/O
 * error, not a format error: the header said otherwise a moment ago). */
static chord_status rd_pread(rd *r, void *dst, size_t n, uint64_t off)
{
    uint8_t *p = dst;
    while (n) {
        ssize_t got = pread(r->fd, p, n, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return err_errno(r->err, CHORD_E_IO, errno, "%s: read failed at offset %" PRIu64,
                             r->path, off);
        }
        if (got == 0)
            return err_set(r->err, CHORD_E_IO, "%s: file shrank while reading at offset %" PRIu64,
                           r->path, off);
        p += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return CHORD_OK;
}

/* Copies n bytes at the current position into dst and advances. The caller
 * has checked rd_need(). Large reads bypass the buffer. */
static chord_status rd_read(rd *r, void *dst, uint64_t n)
{
    uint8_t *out = dst;
    while (n) {
        if (r->pos >= r->buf_start && r->pos < r->buf_start + r->buf_len) {
            size_t at = (size_t)(r->pos - r->buf_start);
            size_t k = r->buf_len - at;
            if (k > n)
                k = (size_t)n;
            memcpy(out, r->buf + at, k);
            out += k;
            r->pos += k;
            n -= k;
            continue;
        }
        if (n >= r->buf_cap) {
            chord_status st = rd_pread(r, out, (size_t)n, r->pos);
            if (st)
                return st;
            r->pos += n;
            return CHORD_OK;
        }
        uint64_t k = r->size - r->pos;
        if (k > r->buf_cap)
            k = r->buf_cap;
        chord_status st = rd_pread(r, r->buf, (size_t)k, r->pos);
        if (st)
            return st;
        r->buf_start = r->pos;
        r->buf_len = (size_t)k;
    }
    return CHORD_OK;
}

static chord_status rd_u32(rd *r, uint32_t *v, const char *what)
{
    uint8_t b[4];
    chord_status st = rd_need(r, 4, what);
    if (!st)
        st = rd_read(r, b, 4);
    if (!st)
        *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return st;
}

static chord_status rd_u64(rd *r, uint64_t *v, const char *what)
{
    uint8_t b[8];
    chord_status st = rd_need(r, 8, what);
    if (!st)
        st = rd_read(r, b, 8);
    if (!st) {
        *v = 0;
        for (int i = 7; i >= 0; i--)
            *v = *v << 8 | b[i];
    }
    return st;
}

static bool utf8_valid(const unsigned char *s, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || (len == 2 && c < 0xC2) || (c == 0xF4 && i + 1 < n && s[i + 1] > 0x8F) ||
            c > 0xF4 || n - i < (uint64_t)len)
            return false;
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xED && s[i + 1] > 0x9F))
            return false;
        i += (uint64_t)len;
    }
    return true;
}

/* Reads a str into a fresh NUL-terminated buffer. max bounds the length
 * (0 = only the file size does). */
static chord_status rd_str(rd *r, char **out, uint64_t *len_out, uint64_t max, const char *what)
{
    uint64_t at = r->pos, len;
    chord_status st = rd_u64(r, &len, what);
    if (st)
        return st;
    if (len > rd_left(r))
        return rd_fail(r, CHORD_E_FORMAT, at,
                       "%s length %" PRIu64 " runs past end of file (%" PRIu64 " bytes left)",
                       what, len, rd_left(r));
    if (max && len > max)
        return rd_fail(r, CHORD_E_FORMAT, at, "%s length %" PRIu64 " exceeds %" PRIu64,
                       what, len, max);
    char *s = malloc((size_t)len + 1);
    if (!s)
        return rd_fail(r, CHORD_E_NOMEM, at, "out of memory for %s of %" PRIu64 " bytes",
                       what, len);
    st = rd_read(r, s, len);
    if (st) {
        free(s);
        return st;
    }
    s[len] = 0;
    *out = s;
    if (len_out)
        *len_out = len;
    return CHORD_OK;
}

/* Reads a key or tensor name: non-empty, no NUL, valid UTF-8. */
static chord_status rd_name(rd *r, char **out, uint64_t max, const char *what)
{
    uint64_t at = r->pos, len = 0;
    char *s = NULL;
    chord_status st = rd_str(r, &s, &len, max, what);
    if (st)
        return st;
    if (len == 0 || memchr(s, 0, (size_t)len) || !utf8_valid((unsigned char *)s, len)) {
        free(s);
        return rd_fail(r, CHORD_E_FORMAT, at, "%s is empty, contains NUL or is not UTF-8", what);
    }
    *out = s;
    return CHORD_OK;
}

size_t gguf_vtype_size(gguf_vtype t)
{
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Decodes one little-endian scalar of type t from b into kv->num. */
static void decode_scalar(gguf_kv *kv, gguf_vtype t, const uint8_t *b)
{
    uint64_t u = 0;
    size_t n = gguf_vtype_size(t);
    for (size_t i = n; i-- > 0;)
        u = u << 8 | b[i];
    switch (t) {
    case GGUF_INT8: kv->num.i = (int8_t)u; break;
    case GGUF_INT16: kv->num.i = (int16_t)u; break;
    case GGUF_INT32: kv->num.i = (int32_t)u; break;
    case GGUF_INT64: kv->num.i = (int64_t)u; break;
    case GGUF_FLOAT32: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); kv->num.f = f; break; }
    case GGUF_FLOAT64: memcpy(&kv->num.f, &u, 8); break;
    case GGUF_BOOL: kv->num.u = u; kv->num.b = u != 0; break;
    default: kv->num.u = u; break;
    }
}

/* Reads a numeric array's payload: n elements of t, converted to host
 * order in place. The caller checked n * size fits in the file. */
static chord_status rd_num_array(rd *r, gguf_kv *kv, uint64_t at)
{
    size_t esz = gguf_vtype_size(kv->arr_type);
    uint64_t bytes = kv->arr_n * esz;
    kv->arr = malloc(bytes ? (size_t)bytes : 1);
    if (!kv->arr)
        return rd_fail(r, CHORD_E_NOMEM, at, "out of memory for an array of %" PRIu64 " bytes", bytes);
    uint64_t data_at = r->pos;
    chord_status st = rd_read(r, kv->arr, bytes);
    if (st)
        return st;
    if (kv->arr_type == GGUF_BOOL) {
        const uint8_t *b = kv->arr;
        for (uint64_t i = 0; i < kv->arr_n; i++)
            if (b[i] > 1)
                return rd_fail(r, CHORD_E_FORMAT, data_at + i, "bool array element %" PRIu64
                               " is %u (must be 0 or 1)", i, b[i]);
    }
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t *p = kv->arr;
    for (uint64_t i = 0; i < kv->arr_n; i++, p += esz)
        for (size_t a = 0, b = esz - 1; a < b; a++, b--) {
            uint8_t t = p[a]; p[a] = p[b]; p[b] = t;
        }
#endif
    return CHORD_OK;
}

/* Reads a string array in two passes: the first checks every length and
 * sums them, the second copies the bytes into one block holding the
 * pointer table followed by the strings, so a 150k-entry vocabulary costs
 * two allocations, not 150k. */
static chord_status rd_str_array(rd *r, gguf_kv *kv, uint64_t at)
{
    uint64_t n = kv->arr_n, start = r->pos, total = 0;
    kv->arr_lens = malloc(n ? (size_t)n * sizeof(uint64_t) : 1);
    if (!kv->arr_lens)
        return rd_fail(r, CHORD_E_NOMEM, at, "out of memory for %" PRIu64 " strings", n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len_at = r->pos, len;
        chord_status st = rd_u64(r, &len, "string array element");
        if (st)
            return st;
        if (len > rd_left(r))
            return rd_fail(r, CHORD_E_FORMAT, len_at, "string array element %" PRIu64 " length %"
                           PRIu64 " runs past end of file (%" PRIu64 " bytes left)",
                           i, len, rd_left(r));
        kv->arr_lens[i] = len;
        total += len;
        r->pos += len;
    }
    /* n pointers + total bytes + n NULs: all bounded by the file size */
    size_t block = (size_t)n * sizeof(char *) + (size_t)total + (size_t)n;
    char **ptrs = malloc(block ? block : 1);
    if (!ptrs)
        return rd_fail(r, CHORD_E_NOMEM, at, "out of memory for %" PRIu64 " strings", n);
    kv->arr = ptrs;
    char *s = (char *)(ptrs + n);
    r->pos = start;
    for (uint64_t i = 0; i < n; i++) {
        r->pos += 8;
        chord_status st = rd_read(r, s, kv->arr_lens[i]);
        if (st)
            return st;
        ptrs[i] = s;
        s += kv->arr_lens[i];
        *s++ = 0;
    }
    return CHORD_OK;
}

/* Reads one key/value pair at the current position into kv. */
static chord_status rd_kv(rd *r, gguf_kv *kv)
{
    kv->offset = r->pos;
    r->what = "key";
    r->name = NULL;
    chord_status st = rd_name(r, &kv->key, GGUF_MAX_KEY, "key");
    if (st)
        return st;
    r->name = kv->key;
    uint64_t type_at = r->pos;
    uint32_t type;
    if ((st = rd_u32(r, &type, "value type")))
        return st;
    if (type >= GGUF_VTYPE_COUNT)
        return rd_fail(r, CHORD_E_FORMAT, type_at, "unknown value type %" PRIu32, type);
    kv->type = (gguf_vtype)type;
    if (kv->type == GGUF_STRING)
        return rd_str(r, &kv->str, &kv->str_len, 0, "string");
    if (kv->type != GGUF_ARRAY) {
        uint8_t b[8];
        size_t n = gguf_vtype_size(kv->type);
        uint64_t val_at = r->pos;
        if ((st = rd_need(r, n, gguf_vtype_name(kv->type))) || (st = rd_read(r, b, n)))
            return st;
        if (kv->type == GGUF_BOOL && b[0] > 1)
            return rd_fail(r, CHORD_E_FORMAT, val_at, "bool value is %u (must be 0 or 1)", b[0]);
        decode_scalar(kv, kv->type, b);
        return CHORD_OK;
    }
    uint64_t arr_at = r->pos, n;
    if ((st = rd_u32(r, &type, "array element type")))
        return st;
    if (type == GGUF_ARRAY)
        return rd_fail(r, CHORD_E_UNSUPPORTED, arr_at, "nested arrays are not supported");
    if (type >= GGUF_VTYPE_COUNT)
        return rd_fail(r, CHORD_E_FORMAT, arr_at, "unknown array element type %" PRIu32, type);
    kv->arr_type = (gguf_vtype)type;
    uint64_t count_at = r->pos;
    if ((st = rd_u64(r, &n, "array count")))
        return st;
    size_t min = kv->arr_type == GGUF_STRING ? 8 : gguf_vtype_size(kv->arr_type);
    if (n > rd_left(r) / min)
        return rd_fail(r, CHORD_E_FORMAT, count_at, "array count %" PRIu64 " of %s needs more than"
                       " the %" PRIu64 " bytes left", n, gguf_vtype_name(kv->arr_type), rd_left(r));
    kv->arr_n = n;
    return kv->arr_type == GGUF_STRING ? rd_str_array(r, kv, arr_at) : rd_num_array(r, kv, arr_at);
}

/* Reads one tensor info; checks its shape and type (offsets are checked
 * once the data section's start is known). */
static chord_status rd_tensor(rd *r, gguf_tensor *t, uint64_t *info_at)
{
    *info_at = r->pos;
    r->what = "tensor";
    r->name = NULL;
    chord_status st = rd_name(r, &t->name, GGUF_MAX_NAME, "tensor name");
    if (st)
        return st;
    r->name = t->name;
    uint64_t at = r->pos;
    uint32_t n_dims;
    if ((st = rd_u32(r, &n_dims, "n_dims")))
        return st;
    if (n_dims < 1 || n_dims > 4)
        return rd_fail(r, CHORD_E_FORMAT, at, "n_dims %" PRIu32 " (must be 1..4)", n_dims);
    t->n_dims = (int)n_dims;
    int64_t nelem = 1;
    for (int d = 0; d < 4; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        uint64_t v;
        at = r->pos;
        if ((st = rd_u64(r, &v, "dimension")))
            return st;
        if (v == 0 || v > INT64_MAX)
            return rd_fail(r, CHORD_E_FORMAT, at, "dimension %d is %" PRIu64, d, v);
        t->ne[d] = (int64_t)v;
        if (__builtin_mul_overflow(nelem, t->ne[d], &nelem))
            return rd_fail(r, CHORD_E_FORMAT, at, "dimension product overflows");
    }
    uint32_t type;
    at = r->pos;
    if ((st = rd_u32(r, &type, "tensor type")))
        return st;
    const quant_traits *qt = quant_traits_of((int)type);
    if (type >= QT_COUNT)
        return rd_fail(r, CHORD_E_FORMAT, at, "invalid tensor type %" PRIu32, type);
    if (!qt || !qt->supported)
        return rd_fail(r, CHORD_E_UNSUPPORTED, at, "unsupported tensor type %" PRIu32 "%s%s",
                       type, qt ? " " : "", qt ? qt->name : "");
    t->type = (int)type;
    if (t->ne[0] % qt->block)
        return rd_fail(r, CHORD_E_FORMAT, at, "row length %" PRId64 " is not a multiple of %s's"
                       " block of %d", t->ne[0], qt->name, qt->block);
    uint64_t rows = (uint64_t)(nelem / t->ne[0]);
    uint64_t row_bytes = (uint64_t)(t->ne[0] / qt->block) * (uint64_t)qt->bytes;
    if (__builtin_mul_overflow(rows, row_bytes, &t->nbytes))
        return rd_fail(r, CHORD_E_FORMAT, at, "data size overflows");
    return rd_u64(r, &t->offset, "tensor data offset");
}

/* Grows an array of elements of size esz so that index n fits. Capacity
 * grows with what was really read, never with what the header claims. */
static bool grow(void **arr, uint64_t *cap, uint64_t n, size_t esz)
{
    if (n < *cap)
        return true;
    uint64_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)nc * esz);
    if (!p)
        return false;
    memset((char *)p + *cap * esz, 0, (size_t)(nc - *cap) * esz);
    *arr = p;
    *cap = nc;
    return true;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(gguf_tensor *const *)a, *y = *(gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Checks general.alignment, places the data section and checks every
 * tensor's data range: aligned, inside the file, not overlapping another. */
static chord_status check_layout(rd *r, gguf_file *f, const uint64_t *info_at)
{
    r->what = "key";
    r->name = "general.alignment";
    const gguf_kv *al = gguf_find(f, "general.alignment");
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (al) {
        int64_t v;
        if (!gguf_get_int(f, "general.alignment", &v) || al->type == GGUF_BOOL)
            return rd_fail(r, CHORD_E_FORMAT, al->offset, "alignment is not an integer");
        if (v <= 0 || v > (1 << 30) || (v & (v - 1)))
            return rd_fail(r, CHORD_E_FORMAT, al->offset,
                           "alignment %" PRId64 " is not a power of two in 1..2^30", v);
        f->alignment = (uint32_t)v;
    }
    uint64_t end = r->pos, a = f->alignment;
    f->data_offset = (end + a - 1) / a * a;
    if (!f->n_tensors)
        return CHORD_OK;
    r->what = "tensor";
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        r->name = t->name;
        uint64_t rel = t->offset;
        if (rel % a)
            return rd_fail(r, CHORD_E_FORMAT, info_at[i], "data offset %" PRIu64
                           " is not a multiple of the alignment %" PRIu64, rel, a);
        if (rel > f->file_size || f->data_offset > f->file_size - rel ||
            t->nbytes > f->file_size - f->data_offset - rel)
            return rd_fail(r, CHORD_E_FORMAT, info_at[i], "data [%" PRIu64 ", +%" PRIu64
                           ") runs past end of file (%" PRIu64 " bytes, data section at %" PRIu64 ")",
                           rel, t->nbytes, f->file_size, f->data_offset);
        t->offset = f->data_offset + rel;
    }
    gguf_tensor **by = malloc((size_t)f->n_tensors * sizeof *by);
    if (!by)
        return rd_fail(r, CHORD_E_NOMEM, 0, "out of memory sorting %" PRIu64 " tensors", f->n_tensors);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        by[i] = &f->tensors[i];
    qsort(by, (size_t)f->n_tensors, sizeof *by, cmp_by_offset);
    chord_status st = CHORD_OK;
    for (uint64_t i = 1; i < f->n_tensors && !st; i++)
        if (by[i - 1]->offset + by[i - 1]->nbytes > by[i]->offset) {
            r->name = by[i]->name;
            st = rd_fail(r, CHORD_E_FORMAT, info_at[by[i] - f->tensors], "data at %" PRIu64
                         " overlaps tensor '%.80s' [%" PRIu64 ", +%" PRIu64 ")", by[i]->offset,
                         by[i - 1]->name, by[i - 1]->offset, by[i - 1]->nbytes);
        }
    free(by);
    return st;
}

/* Reads the fixed header: magic, version, counts (bounded by the file). */
static chord_status rd_header(rd *r, gguf_file *f, uint64_t *n_tensors, uint64_t *n_kv)
{
    uint32_t magic, version;
    chord_status st = rd_u32(r, &magic, "magic");
    if (st)
        return st;
    if (magic != GGUF_MAGIC)
        return rd_fail(r, CHORD_E_FORMAT, 0, "not a GGUF file (bad magic 0x%08" PRIx32 ")", magic);
    if ((st = rd_u32(r, &version, "version")))
        return st;
    if (version == 1)
        return rd_fail(r, CHORD_E_UNSUPPORTED, 4, "GGUF version 1 is not supported (only 2 and 3)");
    if (version == 0x02000000 || version == 0x03000000)
        return rd_fail(r, CHORD_E_UNSUPPORTED, 4, "big-endian GGUF is not supported");
    if (version < 2 || version > 3)
        return rd_fail(r, CHORD_E_UNSUPPORTED, 4, "GGUF version %" PRIu32
                       " is not supported (only 2 and 3)", version);
    f->version = version;
    if ((st = rd_u64(r, n_tensors, "tensor count")) || (st = rd_u64(r, n_kv, "key count")))
        return st;
    uint64_t left = rd_left(r);
    if (*n_kv > left / MIN_KV_BYTES)
        return rd_fail(r, CHORD_E_FORMAT, 16, "key count %" PRIu64 " cannot fit in the %"
                       PRIu64 " bytes left", *n_kv, left);
    if (*n_tensors > left / MIN_TENSOR_BYTES ||
        *n_kv * MIN_KV_BYTES + *n_tensors * MIN_TENSOR_BYTES > left)
        return rd_fail(r, CHORD_E_FORMAT, 8, "tensor count %" PRIu64 " cannot fit in the %"
                       PRIu64 " bytes left", *n_tensors, left);
    return CHORD_OK;
}

/* The whole parse, filling f; on error the caller frees f. */
static chord_status parse(rd *r, gguf_file *f)
{
    uint64_t n_tensors = 0, n_kv = 0, cap = 0;
    chord_status st = rd_header(r, f, &n_tensors, &n_kv);
    if (st)
        return st;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!grow((void **)&f->kv, &cap, i, sizeof *f->kv))
            return rd_fail(r, CHORD_E_NOMEM, r->pos, "out of memory for %" PRIu64 " keys", i + 1);
        f->n_kv = i + 1;
        if ((st = rd_kv(r, &f->kv[i])))
            return st;
    }
    uint64_t dup;
    r->what = "key";
    if ((st = gguf_index_build(f, false, &dup))) {
        if (st == CHORD_E_NOMEM)
            return rd_fail(r, st, r->pos, "out of memory");
        r->name = f->kv[dup].key;
        return rd_fail(r, st, f->kv[dup].offset, "duplicate key");
    }
    uint64_t *info_at = NULL, info_cap = 0;
    cap = 0;
    for (uint64_t i = 0; i < n_tensors && !st; i++) {
        if (!grow((void **)&f->tensors, &cap, i, sizeof *f->tensors) ||
            !grow((void **)&info_at, &info_cap, i, sizeof *info_at)) {
            st = rd_fail(r, CHORD_E_NOMEM, r->pos, "out of memory for %" PRIu64 " tensors", i + 1);
            break;
        }
        f->n_tensors = i + 1;
        st = rd_tensor(r, &f->tensors[i], &info_at[i]);
    }
    if (!st) {
        r->what = "tensor";
        if ((st = gguf_index_build(f, true, &dup)) == CHORD_E_NOMEM)
            st = rd_fail(r, st, r->pos, "out of memory");
        else if (st) {
            r->name = f->tensors[dup].name;
            st = rd_fail(r, st, info_at[dup], "duplicate tensor name");
        }
    }
    if (!st)
        st = check_layout(r, f, info_at);
    free(info_at);
    return st;
}

chord_status gguf_open_file(const char *path, gguf_file **out, chord_err *err)
{
    *out = NULL;
    rd r = {.fd = -1, .path = path, .err = err};
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0)
        return err_errno(err, CHORD_E_IO, errno, "%s: cannot open", path);
    struct stat sb;
    if (fstat(r.fd, &sb) != 0) {
        chord_status st = err_errno(err, CHORD_E_IO, errno, "%s: cannot stat", path);
        close(r.fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(r.fd);
        return err_set(err, CHORD_E_IO, "%s: not a regular file at offset 0", path);
    }
    r.size = (uint64_t)sb.st_size;
    gguf_file *f = gguf_file_new(path);
    r.buf_cap = r.size < RD_BUF_SIZE ? (size_t)r.size + 1 : RD_BUF_SIZE;
    r.buf = malloc(r.buf_cap);
    chord_status st;
    if (!f || !r.buf)
        st = err_set(err, CHORD_E_NOMEM, "%s: out of memory at offset 0", path);
    else {
        f->file_size = r.size;
        st = parse(&r, f);
    }
    /* a file is a set of one part; gguf_open gathers a split model's others */
    if (!st && !(f->parts = calloc(1, sizeof *f->parts)))
        st = err_set(err, CHORD_E_NOMEM, "%s: out of memory at offset 0", path);
    if (!st) {
        f->n_parts = 1;
        f->parts[0] = (gguf_part){f->path, f->file_size, f->data_offset, f->n_tensors};
    }
    free(r.buf);
    close(r.fd);
    if (st) {
        gguf_close(f);
        return st;
    }
    *out = f;
    return CHORD_OK;
}
