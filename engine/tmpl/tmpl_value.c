/*
 * tmpl_value.c - template values: arenas, buffers, and the Python-like
 * conversions (str, repr, json.dumps) that decide the exact bytes a
 * template prints.
 */
#include "tmpl/tmpl_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

struct ar_blk {
    ar_blk *next;
    size_t used, cap;
    max_align_t data[];
};

#define AR_BLOCK (64 * 1024)

void *ar_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    ar_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > AR_BLOCK ? n : AR_BLOCK;
        if (a->limit && a->used + cap > a->limit) {
            a->oom = a->over_limit = true;
            return NULL;
        }
        ar_blk *nb = malloc(sizeof *nb + cap);
        if (!nb) {
            a->oom = true;
            return NULL;
        }
        a->used += cap;
        nb->used = 0;
        nb->cap = cap;
        /* a big one-off block goes behind the current one so the current
         * block's free space stays in use */
        if (b && cap > AR_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *ar_strndup(arena *a, const char *s, size_t n)
{
    char *p = ar_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

void ar_free(arena *a)
{
    ar_blk *b = a->head;
    while (b) {
        ar_blk *nx = b->next;
        free(b);
        b = nx;
    }
    a->head = NULL;
    a->used = 0;
}

/* ---------------------------------------------------------------- sbuf */

void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap - b->n < n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
void sb_putc(sbuf *b, char c) { sb_put(b, &c, 1); }

void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---------------------------------------------------------------- lists, dicts */

tv tv_new_list(arena *a, size_t cap)
{
    tv v = tv_none();
    tv_list *l = ar_alloc(a, sizeof *l);
    if (!l)
        return v;
    if (cap) {
        l->v = ar_alloc(a, cap * sizeof *l->v);
        if (!l->v)
            return v;
        l->cap = cap;
    }
    v.k = TV_LIST;
    v.u.l = l;
    return v;
}

tv tv_new_dict(arena *a)
{
    tv v = tv_none();
    tv_dict *d = ar_alloc(a, sizeof *d);
    if (!d)
        return v;
    v.k = TV_DICT;
    v.u.d = d;
    return v;
}

bool tv_list_push(arena *a, tv_list *l, tv v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tv *nv = ar_alloc(a, cap * sizeof *nv);
        if (!nv)
            return false;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return true;
}

tv *tv_dict_get(const tv_dict *d, tv key)
{
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(d->keys[i], key))
            return &d->vals[i];
    return NULL;
}

tv *tv_dict_gets(const tv_dict *d, const char *key)
{
    return tv_dict_get(d, tv_str(key, strlen(key)));
}

bool tv_dict_set(arena *a, tv_dict *d, tv key, tv val)
{
    tv *old = tv_dict_get(d, key);
    if (old) {
        *old = val;
        return true;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        tv *nk = ar_alloc(a, cap * sizeof *nk), *nv = ar_alloc(a, cap * sizeof *nv);
        if (!nk || !nv)
            return false;
        if (d->n) {
            memcpy(nk, d->keys, d->n * sizeof *nk);
            memcpy(nv, d->vals, d->n * sizeof *nv);
        }
        d->keys = nk;
        d->vals = nv;
        d->cap = cap;
    }
    d->keys[d->n] = key;
    d->vals[d->n] = val;
    d->n++;
    return true;
}

tv tv_cstr(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *p = ar_strndup(a, s, n);
    return p ? tv_str(p, n) : tv_none();
}

/* ---------------------------------------------------------------- semantics */

bool tv_truthy(tv v)
{
    switch (v.k) {
    case TV_UNDEF: case TV_NONE: return false;
    case TV_BOOL: return v.u.b;
    case TV_INT: return v.u.i != 0;
    case TV_FLOAT: return v.u.f != 0.0;
    case TV_STR: return v.u.s.n != 0;
    case TV_LIST: return v.u.l->n != 0;
    case TV_DICT: return v.u.d->n != 0;
    case TV_FUNC: return true;
    }
    return false;
}

static bool is_num(tv v) { return v.k == TV_INT || v.k == TV_FLOAT || v.k == TV_BOOL; }
static double num(tv v) { return v.k == TV_FLOAT ? v.u.f : v.k == TV_INT ? (double)v.u.i : v.u.b; }

static bool equal_at(tv a, tv b, int depth);

/* Python ==: numbers across int/float/bool, deep for containers. */
bool tv_equal(tv a, tv b)
{
    return equal_at(a, b, 0);
}

/* Containers nested deeper than TMPL_MAX_DEPTH (a loop can build them)
 * compare unequal rather than recurse off the C stack. */
static bool equal_at(tv a, tv b, int depth)
{
    if (depth > TMPL_MAX_DEPTH)
        return false;
    if (is_num(a) && is_num(b)) {
        if (a.k != TV_FLOAT && b.k != TV_FLOAT)
            return (a.k == TV_INT ? a.u.i : a.u.b) == (b.k == TV_INT ? b.u.i : b.u.b);
        return num(a) == num(b);
    }
    if (a.k != b.k)
        return false;
    switch (a.k) {
    case TV_UNDEF: case TV_NONE: return true;
    case TV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case TV_LIST:
        if (a.u.l == b.u.l)
            return true;
        if (a.u.l->n != b.u.l->n)
            return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!equal_at(a.u.l->v[i], b.u.l->v[i], depth + 1))
                return false;
        return true;
    case TV_DICT:
        if (a.u.d == b.u.d)
            return true;
        if (a.u.d->n != b.u.d->n)
            return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            tv *o = tv_dict_get(b.u.d, a.u.d->keys[i]);
            if (!o || !equal_at(a.u.d->vals[i], *o, depth + 1))
                return false;
        }
        return true;
    case TV_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

const char *tv_type_name(tv v)
{
    switch (v.k) {
    case TV_UNDEF: return "undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return v.u.l->tuple ? "tuple" : "list";
    case TV_DICT: return v.u.d->ns ? "Namespace" : "dict";
    case TV_FUNC: return "function";
    }
    return "?";
}

/* Python's repr(float): the shortest %.Ng that reads back exactly, written
 * positionally when the exponent is in [-4, 16) and with "e+XX" otherwise. */
void fmt_float(sbuf *b, double f)
{
    if (isnan(f)) { sb_puts(b, "nan"); return; }
    if (isinf(f)) { sb_puts(b, f < 0 ? "-inf" : "inf"); return; }
    char e[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int exp = atoi(p + 1);
    if (neg)
        sb_putc(b, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            sb_puts(b, "0.");
            for (int i = 0; i < -exp - 1; i++)
                sb_putc(b, '0');
            sb_put(b, digits, (size_t)nd);
        } else {
            for (int i = 0; i <= exp; i++)
                sb_putc(b, i < nd ? digits[i] : '0');
            sb_putc(b, '.');
            if (nd > exp + 1)
                sb_put(b, digits + exp + 1, (size_t)(nd - exp - 1));
            else
                sb_putc(b, '0');
        }
    } else {
        sb_putc(b, digits[0]);
        if (nd > 1) {
            sb_putc(b, '.');
            sb_put(b, digits + 1, (size_t)(nd - 1));
        }
        sb_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

static uint32_t u8_decode(const char *s, size_t n, size_t *len);

static void repr_str(sbuf *b, const char *s, size_t n)
{
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    sb_putc(b, q);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)q || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
        } else if (c == '\n') sb_puts(b, "\\n");
        else if (c == '\r') sb_puts(b, "\\r");
        else if (c == '\t') sb_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f) sb_printf(b, "\\x%02x", c);
        else sb_putc(b, (char)c);
    }
    sb_putc(b, q);
}

static void repr_at(sbuf *b, tv v, int depth);

void tv_repr(sbuf *b, tv v)
{
    repr_at(b, v, 0);
}

/* Past TMPL_MAX_DEPTH a container prints as Python prints a list that
 * contains itself, instead of recursing off the C stack. */
static void repr_at(sbuf *b, tv v, int depth)
{
    if ((v.k == TV_LIST || v.k == TV_DICT) && depth > TMPL_MAX_DEPTH) {
        sb_puts(b, v.k == TV_LIST ? "[...]" : "{...}");
        return;
    }
    switch (v.k) {
    case TV_STR: repr_str(b, v.u.s.p, v.u.s.n); return;
    case TV_LIST:
        sb_putc(b, v.u.l->tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i)
                sb_puts(b, ", ");
            repr_at(b, v.u.l->v[i], depth + 1);
        }
        if (v.u.l->tuple && v.u.l->n == 1)
            sb_putc(b, ',');
        sb_putc(b, v.u.l->tuple ? ')' : ']');
        return;
    case TV_DICT:
        if (v.u.d->ns) {
            sb_puts(b, "<Namespace>");
            return;
        }
        sb_putc(b, '{');
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i)
                sb_puts(b, ", ");
            repr_at(b, v.u.d->keys[i], depth + 1);
            sb_puts(b, ": ");
            repr_at(b, v.u.d->vals[i], depth + 1);
        }
        sb_putc(b, '}');
        return;
    default:
        tv_to_str(b, v);
    }
}

void tv_to_str(sbuf *b, tv v)
{
    switch (v.k) {
    case TV_UNDEF: return;
    case TV_NONE: sb_puts(b, "None"); return;
    case TV_BOOL: sb_puts(b, v.u.b ? "True" : "False"); return;
    case TV_INT: sb_printf(b, "%lld", (long long)v.u.i); return;
    case TV_FLOAT: fmt_float(b, v.u.f); return;
    case TV_STR: sb_put(b, v.u.s.p, v.u.s.n); return;
    case TV_FUNC: sb_puts(b, "<function>"); return;
    default: tv_repr(b, v);
    }
}

tv tv_stringify(arena *a, tv v)
{
    if (v.k == TV_STR)
        return v;
    sbuf b = {0};
    tv_to_str(&b, v);
    tv r = b.oom ? tv_none() : tv_str(b.n ? ar_strndup(a, b.p, b.n) : "", b.n);
    if (b.n && !r.u.s.p)
        r = tv_none();
    free(b.p);
    return r;
}

/* json.dumps string escaping: quotes, backslashes and control characters;
 * with ascii (ensure_ascii=True) also everything past U+007F as \uXXXX,
 * astral characters as a surrogate pair. */
static void json_str(sbuf *b, const char *s, size_t n, bool ascii)
{
    sb_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\b': sb_puts(b, "\\b"); break;
        case '\f': sb_puts(b, "\\f"); break;
        default:
            if (c < 0x20) {
                sb_printf(b, "\\u%04x", c);
            } else if (c >= 0x80 && ascii) {
                size_t k;
                uint32_t cp = u8_decode(s + i, n - i, &k);
                if (cp >= 0x10000)
                    sb_printf(b, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
                else
                    sb_printf(b, "\\u%04x", cp);
                i += k - 1;
            } else {
                sb_putc(b, (char)c);
            }
        }
    }
    sb_putc(b, '"');
}

static void json_nl(sbuf *b, const json_opts *o, int depth)
{
    sb_putc(b, '\n');
    for (int i = 0; i < depth; i++)
        sb_put(b, o->indent, o->indent_len);
}

/* Dict member order for sort_keys: indexes sorted by key (strings by code
 * point, which UTF-8 byte order gives; other keys by their text). */
static size_t *json_order(const tv_dict *d, bool sort)
{
    size_t *ix = malloc((d->n + 1) * sizeof *ix);
    if (!ix)
        return NULL;
    for (size_t i = 0; i < d->n; i++) {
        size_t j = i;
        while (sort && j > 0) {
            tv x = d->keys[ix[j - 1]], y = d->keys[i];
            size_t m = x.k == TV_STR && y.k == TV_STR ? (x.u.s.n < y.u.s.n ? x.u.s.n : y.u.s.n) : 0;
            int c = x.k == TV_STR && y.k == TV_STR ? memcmp(x.u.s.p, y.u.s.p, m) : 0;
            if (c == 0 && x.k == TV_STR && y.k == TV_STR)
                c = (x.u.s.n > y.u.s.n) - (x.u.s.n < y.u.s.n);
            if (c <= 0)
                break;
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = i;
    }
    return ix;
}

bool tv_to_json(sbuf *b, tv v, const json_opts *o, int depth)
{
    if (depth > 100)
        return false;
    switch (v.k) {
    case TV_NONE: sb_puts(b, "null"); return true;
    case TV_BOOL: sb_puts(b, v.u.b ? "true" : "false"); return true;
    case TV_INT: sb_printf(b, "%lld", (long long)v.u.i); return true;
    case TV_FLOAT:
        if (isnan(v.u.f)) sb_puts(b, "NaN");
        else if (isinf(v.u.f)) sb_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else fmt_float(b, v.u.f);
        return true;
    case TV_STR: json_str(b, v.u.s.p, v.u.s.n, o->ascii); return true;
    case TV_LIST:
    case TV_DICT: {
        bool list = v.k == TV_LIST;
        size_t n = list ? v.u.l->n : v.u.d->n;
        sb_putc(b, list ? '[' : '{');
        if (n == 0) {
            sb_putc(b, list ? ']' : '}');
            return true;
        }
        size_t *ix = list ? NULL : json_order(v.u.d, o->sort_keys);
        if (!list && !ix)
            return false;
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            if (i)
                sb_puts(b, o->item_sep);
            if (o->pretty)
                json_nl(b, o, depth + 1);
            if (!list) {
                tv k = v.u.d->keys[ix[i]];
                if (k.k == TV_STR) {
                    json_str(b, k.u.s.p, k.u.s.n, o->ascii);
                } else {
                    /* json.dumps turns scalar keys into strings */
                    sbuf t = {0};
                    if (k.k == TV_NONE) sb_puts(&t, "null");
                    else if (k.k == TV_BOOL) sb_puts(&t, k.u.b ? "true" : "false");
                    else tv_to_str(&t, k);
                    json_str(b, t.p ? t.p : "", t.n, o->ascii);
                    free(t.p);
                }
                sb_puts(b, o->key_sep);
            }
            ok = tv_to_json(b, list ? v.u.l->v[i] : v.u.d->vals[ix[i]], o, depth + 1);
        }
        free(ix);
        if (!ok)
            return false;
        if (o->pretty)
            json_nl(b, o, depth);
        sb_putc(b, list ? ']' : '}');
        return true;
    }
    default:
        return false;
    }
}

/* ---------------------------------------------------------------- UTF-8 */

static size_t u8_seq(unsigned char c)
{
    return c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

size_t u8_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            k++;
    return k;
}

size_t u8_offset(const char *s, size_t n, size_t i)
{
    size_t off = 0;
    while (i > 0 && off < n) {
        off += u8_seq((unsigned char)s[off]);
        i--;
    }
    return off > n ? n : off;
}

static bool cp_space(uint32_t c)
{
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

static uint32_t u8_decode(const char *s, size_t n, size_t *len)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = u8_seq(c);
    if (k > n)
        k = 1;
    *len = k;
    if (k == 1)
        return c;
    uint32_t cp = c & (0x7f >> k);
    for (size_t i = 1; i < k; i++)
        cp = (cp << 6) | ((unsigned char)s[i] & 0x3f);
    return cp;
}

size_t u8_space(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    size_t k;
    uint32_t c = u8_decode(s, n, &k);
    return cp_space(c) ? k : 0;
}

size_t u8_space_back(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    size_t start = n - 1;
    while (start > 0 && n - start < 4 && ((unsigned char)s[start] & 0xc0) == 0x80)
        start--;
    size_t k;
    uint32_t c = u8_decode(s + start, n - start, &k);
    return start + k == n && cp_space(c) ? k : 0;
}
