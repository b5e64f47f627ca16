/*
 * tmpl_builtins.c - Jinja tests (is defined, is string...), the Python
 * string and dict methods templates call (.strip(), .split(), .get()...),
 * the globals (range, namespace, dict, raise_exception, strftime_now), and
 * the string helpers the filters share. Behaviour follows Jinja2 and Python
 * wherever a chat template can see the difference.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, localtime_r */
#endif
#include "tmpl/tmpl_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

const tv *bi_arg(const targs *a, int i, const char *name)
{
    if (i < a->npos)
        return &a->pos[i];
    for (int k = 0; k < a->nkw; k++)
        if (name && strcmp(a->kwn[k], name) == 0)
            return &a->kwv[k];
    return NULL;
}

bool bi_need_str(rctx *rc, const node *at, tv v, const char *what)
{
    if (v.k == TV_STR)
        return true;
    return rc_fail(rc, at, CHORD_E_TEMPLATE, "%s expects a string, got %s", what, tv_type_name(v));
}

tv bi_mkstr(rctx *rc, const char *p, size_t n)
{
    char *s = ar_strndup(rc_arena(rc), p, n);
    return s ? tv_str(s, n) : tv_none();
}

bool bi_ret_str(rctx *rc, const node *at, sbuf *b, tv *out)
{
    bool ok = !b->oom;
    if (ok) {
        *out = bi_mkstr(rc, b->p ? b->p : "", b->n);
        ok = out->k == TV_STR;
    }
    free(b->p);
    return ok || rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
}

/* Strips chars (NULL = Unicode whitespace) from the left and/or right. */
tv bi_strip(tv s, const tv *chars, bool left, bool right)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, k;
    bool ws = !chars || chars->k != TV_STR;
    if (left) {
        for (;;) {
            if (ws) {
                if ((k = u8_space(p, n)) == 0)
                    break;
            } else {
                k = n ? u8_offset(p, n, 1) : 0;
                if (!k || !memmem(chars->u.s.p, chars->u.s.n, p, k))
                    break;
            }
            p += k;
            n -= k;
        }
    }
    if (right) {
        for (;;) {
            if (ws) {
                if ((k = u8_space_back(p, n)) == 0)
                    break;
            } else {
                size_t st = n;
                while (st > 0 && ((unsigned char)p[st - 1] & 0xc0) == 0x80)
                    st--;
                if (st > 0)
                    st--;
                k = n - st;
                if (!k || !memmem(chars->u.s.p, chars->u.s.n, p + st, k))
                    break;
            }
            n -= k;
        }
    }
    return tv_str(p, n);
}

/* ASCII case mapping; mode 'u' upper, 'l' lower, 't' title, 'c' capitalize. */
bool bi_recase(rctx *rc, const node *at, tv s, char mode, tv *out)
{
    char *p = ar_strndup(rc_arena(rc), s.u.s.p, s.u.s.n);
    if (!p)
        return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    bool word_start = true;
    for (size_t i = 0; i < s.u.s.n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (mode) {
        case 'u': p[i] = (char)toupper(c); break;
        case 'l': p[i] = (char)tolower(c); break;
        case 'c': p[i] = (char)(i == 0 ? toupper(c) : tolower(c)); break;
        case 't':
            p[i] = (char)(word_start ? toupper(c) : tolower(c));
            word_start = !isalnum(c) && c < 0x80;
            break;
        }
    }
    *out = tv_str(p, s.u.s.n);
    return true;
}

bool bi_replace(rctx *rc, const node *at, tv s, tv old, tv new, int64_t count, tv *out)
{
    if (!bi_need_str(rc, at, old, "replace") || !bi_need_str(rc, at, new, "replace"))
        return false;
    sbuf b = {0};
    sb_put(&b, "", 0);
    size_t i = 0;
    int64_t done = 0;
    if (old.u.s.n == 0) {
        /* Python inserts new between every character */
        for (size_t k = 0; k <= s.u.s.n; k++) {
            if (count < 0 || done < count) {
                sb_put(&b, new.u.s.p, new.u.s.n);
                done++;
            }
            if (k < s.u.s.n) {
                size_t c = u8_offset(s.u.s.p + k, s.u.s.n - k, 1);
                sb_put(&b, s.u.s.p + k, c);
                k += c - 1;
            }
        }
        return bi_ret_str(rc, at, &b, out);
    }
    while (i < s.u.s.n) {
        if ((count < 0 || done < count) && i + old.u.s.n <= s.u.s.n &&
            memcmp(s.u.s.p + i, old.u.s.p, old.u.s.n) == 0) {
            sb_put(&b, new.u.s.p, new.u.s.n);
            i += old.u.s.n;
            done++;
        } else {
            sb_putc(&b, s.u.s.p[i++]);
        }
    }
    return bi_ret_str(rc, at, &b, out);
}

bool bi_split(rctx *rc, const node *at, tv s, const tv *sep, const tv *maxsplit, tv *out)
{
    arena *ar = rc_arena(rc);
    tv l = tv_new_list(ar, 0);
    if (l.k != TV_LIST)
        return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    int64_t max = maxsplit && maxsplit->k == TV_INT ? maxsplit->u.i : -1;
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (!sep || sep->k == TV_NONE) {
        /* runs of whitespace separate; no empty pieces */
        size_t i = 0, k;
        int64_t done = 0;
        while (i < n) {
            while (i < n && (k = u8_space(p + i, n - i)) != 0)
                i += k;
            if (i >= n)
                break;
            size_t st = i;
            if (max >= 0 && done >= max) {
                tv rest = bi_strip(tv_str(p + st, n - st), NULL, false, true);
                tv_list_push(ar, l.u.l, rest);
                break;
            }
            while (i < n && u8_space(p + i, n - i) == 0)
                i++;
            tv_list_push(ar, l.u.l, tv_str(p + st, i - st));
            done++;
        }
    } else {
        if (!bi_need_str(rc, at, *sep, "split"))
            return false;
        if (sep->u.s.n == 0)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "empty separator");
        size_t st = 0;
        int64_t done = 0;
        for (size_t i = 0; i + sep->u.s.n <= n;) {
            if ((max < 0 || done < max) && memcmp(p + i, sep->u.s.p, sep->u.s.n) == 0) {
                tv_list_push(ar, l.u.l, tv_str(p + st, i - st));
                i += sep->u.s.n;
                st = i;
                done++;
            } else {
                i++;
            }
        }
        tv_list_push(ar, l.u.l, tv_str(p + st, n - st));
    }
    *out = l;
    return true;
}

/* str.startswith / str.endswith, with a string or a tuple of them. */
static bool affix(rctx *rc, const node *at, tv s, const tv *x, bool start, tv *out)
{
    if (!x)
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "%s needs an argument", start ? "startswith" : "endswith");
    if (x->k == TV_LIST) {
        for (size_t i = 0; i < x->u.l->n; i++) {
            if (!affix(rc, at, s, &x->u.l->v[i], start, out))
                return false;
            if (out->u.b)
                return true;
        }
        *out = tv_bool(false);
        return true;
    }
    if (!bi_need_str(rc, at, *x, start ? "startswith" : "endswith"))
        return false;
    size_t k = x->u.s.n;
    bool r = k <= s.u.s.n && memcmp(start ? s.u.s.p : s.u.s.p + s.u.s.n - k, x->u.s.p, k) == 0;
    *out = tv_bool(r);
    return true;
}

tv bi_dict_items(rctx *rc, tv d)
{
    arena *ar = rc_arena(rc);
    tv l = tv_new_list(ar, d.u.d->n);
    if (l.k != TV_LIST)
        return l;
    for (size_t i = 0; i < d.u.d->n; i++) {
        tv pair = tv_new_list(ar, 2);
        if (pair.k != TV_LIST)
            return tv_none();
        pair.u.l->tuple = true;
        tv_list_push(ar, pair.u.l, d.u.d->keys[i]);
        tv_list_push(ar, pair.u.l, d.u.d->vals[i]);
        tv_list_push(ar, l.u.l, pair);
    }
    return l;
}

/* list(v): list items, dict keys, string characters. */
bool bi_to_list(rctx *rc, const node *at, tv v, tv *out)
{
    arena *ar = rc_arena(rc);
    if (v.k == TV_LIST) {
        *out = v;
        return true;
    }
    tv l = tv_new_list(ar, 0);
    if (l.k != TV_LIST)
        return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    if (v.k == TV_DICT) {
        for (size_t i = 0; i < v.u.d->n; i++)
            tv_list_push(ar, l.u.l, v.u.d->keys[i]);
    } else if (v.k == TV_STR) {
        for (size_t i = 0; i < v.u.s.n;) {
            size_t k = u8_offset(v.u.s.p + i, v.u.s.n - i, 1);
            tv_list_push(ar, l.u.l, tv_str(v.u.s.p + i, k));
            i += k;
        }
    } else if (v.k != TV_UNDEF) {
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "'%s' object is not iterable", tv_type_name(v));
    }
    *out = l;
    return true;
}

/* Orders numbers and strings (sort, min, max, lt/gt tests); other types
 * order by kind. */
int bi_cmp(const void *x, const void *y)
{
    const tv *a = x, *b = y;
    if ((a->k == TV_INT || a->k == TV_FLOAT) && (b->k == TV_INT || b->k == TV_FLOAT)) {
        double fa = a->k == TV_INT ? (double)a->u.i : a->u.f, fb = b->k == TV_INT ? (double)b->u.i : b->u.f;
        return fa < fb ? -1 : fa > fb;
    }
    if (a->k == TV_STR && b->k == TV_STR) {
        size_t m = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = memcmp(a->u.s.p, b->u.s.p, m);
        return r ? r : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
    }
    return (int)a->k - (int)b->k;
}

/* ---------------------------------------------------------------- tests */

bool bi_test(rctx *rc, const node *at, const char *t, tv v, const targs *a, bool *out)
{
    const tv *a0 = bi_arg(a, 0, NULL);
    int c;
    if (!strcmp(t, "defined")) *out = v.k != TV_UNDEF;
    else if (!strcmp(t, "undefined")) *out = v.k == TV_UNDEF;
    else if (!strcmp(t, "none")) *out = v.k == TV_NONE;
    else if (!strcmp(t, "boolean")) *out = v.k == TV_BOOL;
    else if (!strcmp(t, "true")) *out = v.k == TV_BOOL && v.u.b;
    else if (!strcmp(t, "false")) *out = v.k == TV_BOOL && !v.u.b;
    else if (!strcmp(t, "integer")) *out = v.k == TV_INT;
    else if (!strcmp(t, "float")) *out = v.k == TV_FLOAT;
    else if (!strcmp(t, "number")) *out = v.k == TV_INT || v.k == TV_FLOAT || v.k == TV_BOOL;
    else if (!strcmp(t, "string")) *out = v.k == TV_STR;
    else if (!strcmp(t, "mapping")) *out = v.k == TV_DICT;
    else if (!strcmp(t, "iterable")) *out = v.k == TV_STR || v.k == TV_LIST || v.k == TV_DICT || v.k == TV_UNDEF;
    else if (!strcmp(t, "sequence")) *out = v.k == TV_STR || v.k == TV_LIST || v.k == TV_DICT;
    else if (!strcmp(t, "callable")) *out = v.k == TV_FUNC;
    else if (!strcmp(t, "lower") || !strcmp(t, "upper")) {
        bool lo = t[0] == 'l', any = false, ok = v.k == TV_STR;
        for (size_t i = 0; ok && i < v.u.s.n; i++) {
            unsigned char ch = (unsigned char)v.u.s.p[i];
            if (isalpha(ch)) {
                any = true;
                ok = lo ? islower(ch) : isupper(ch);
            }
        }
        *out = ok && any;
    } else if (!strcmp(t, "odd") || !strcmp(t, "even") || !strcmp(t, "divisibleby")) {
        if (v.k != TV_INT)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "test '%s' needs an integer", t);
        int64_t d = t[0] == 'd' ? (a0 && a0->k == TV_INT ? a0->u.i : 0) : 2;
        if (d == 0)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "divisibleby needs a non-zero integer");
        int64_t r = ((v.u.i % d) + d) % d;
        *out = t[0] == 'o' ? r == 1 : r == 0;
    } else {
        static const char *const with_arg[] = {"equalto", "eq", "==", "ne", "!=", "sameas", "in", "lt", "le",
                                               "gt", "ge", "lessthan", "greaterthan", NULL};
        bool known = false;
        for (int i = 0; with_arg[i]; i++)
            known |= strcmp(t, with_arg[i]) == 0;
        if (!known)
            return rc_fail(rc, at, CHORD_E_UNSUPPORTED, "no test named '%s'", t);
        if (!a0)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "test '%s' needs an argument", t);
        if (!strcmp(t, "equalto") || !strcmp(t, "eq") || !strcmp(t, "==")) *out = tv_equal(v, *a0);
        else if (!strcmp(t, "ne") || !strcmp(t, "!=")) *out = !tv_equal(v, *a0);
        else if (!strcmp(t, "sameas")) *out = tv_equal(v, *a0) && v.k == a0->k;
        else if (!strcmp(t, "in")) {
            *out = false;
            if (a0->k == TV_LIST)
                for (size_t i = 0; i < a0->u.l->n && !*out; i++)
                    *out = tv_equal(a0->u.l->v[i], v);
            else if (a0->k == TV_DICT)
                *out = tv_dict_get(a0->u.d, v) != NULL;
            else if (a0->k == TV_STR && v.k == TV_STR)
                *out = v.u.s.n == 0 || memmem(a0->u.s.p, a0->u.s.n, v.u.s.p, v.u.s.n) != NULL;
        } else if (!strcmp(t, "lt") || !strcmp(t, "le") || !strcmp(t, "gt") || !strcmp(t, "ge") ||
                   !strcmp(t, "lessthan") || !strcmp(t, "greaterthan")) {
            tv x[2] = {v, *a0};
            c = bi_cmp(&x[0], &x[1]);
            *out = t[0] == 'l' ? (t[1] == 'e' && t[2] == 0 ? c <= 0 : c < 0) : (t[1] == 'e' && t[2] == 0 ? c >= 0 : c > 0);
        }
    }
    return true;
}

/* ---------------------------------------------------------------- methods */

bool bi_method(rctx *rc, const node *at, tv obj, const char *m, const targs *a, tv *out)
{
    const tv *a0 = bi_arg(a, 0, NULL), *a1 = bi_arg(a, 1, NULL);
    if (obj.k == TV_STR) {
        if (!strcmp(m, "strip")) { *out = bi_strip(obj, a0, true, true); return true; }
        if (!strcmp(m, "lstrip")) { *out = bi_strip(obj, a0, true, false); return true; }
        if (!strcmp(m, "rstrip")) { *out = bi_strip(obj, a0, false, true); return true; }
        if (!strcmp(m, "upper")) return bi_recase(rc, at, obj, 'u', out);
        if (!strcmp(m, "lower")) return bi_recase(rc, at, obj, 'l', out);
        if (!strcmp(m, "title")) return bi_recase(rc, at, obj, 't', out);
        if (!strcmp(m, "capitalize")) return bi_recase(rc, at, obj, 'c', out);
        if (!strcmp(m, "startswith")) return affix(rc, at, obj, a0, true, out);
        if (!strcmp(m, "endswith")) return affix(rc, at, obj, a0, false, out);
        if (!strcmp(m, "split")) return bi_split(rc, at, obj, bi_arg(a, 0, "sep"), bi_arg(a, 1, "maxsplit"), out);
        if (!strcmp(m, "replace")) {
            if (!a0 || !a1)
                return rc_fail(rc, at, CHORD_E_TEMPLATE, "replace needs two arguments");
            const tv *c = bi_arg(a, 2, "count");
            return bi_replace(rc, at, obj, *a0, *a1, c && c->k == TV_INT ? c->u.i : -1, out);
        }
        if (!strcmp(m, "find") || !strcmp(m, "count")) {
            if (!a0 || !bi_need_str(rc, at, *a0, m))
                return a0 ? false : rc_fail(rc, at, CHORD_E_TEMPLATE, "%s needs an argument", m);
            int64_t found = -1, count = 0;
            for (size_t i = 0; i + a0->u.s.n <= obj.u.s.n;) {
                if (memcmp(obj.u.s.p + i, a0->u.s.p, a0->u.s.n) == 0) {
                    if (found < 0)
                        found = (int64_t)u8_len(obj.u.s.p, i);
                    count++;
                    i += a0->u.s.n ? a0->u.s.n : 1;
                } else {
                    i++;
                }
            }
            *out = tv_int(m[0] == 'f' ? found : count);
            return true;
        }
        if (!strcmp(m, "join")) {
            tv l;
            if (!a0 || !bi_to_list(rc, at, *a0, &l))
                return a0 ? false : rc_fail(rc, at, CHORD_E_TEMPLATE, "join needs an argument");
            sbuf b = {0};
            sb_put(&b, "", 0);
            for (size_t i = 0; i < l.u.l->n; i++) {
                if (i)
                    sb_put(&b, obj.u.s.p, obj.u.s.n);
                tv_to_str(&b, l.u.l->v[i]);
            }
            return bi_ret_str(rc, at, &b, out);
        }
    } else if (obj.k == TV_DICT) {
        if (!strcmp(m, "get")) {
            if (!a0)
                return rc_fail(rc, at, CHORD_E_TEMPLATE, "get needs a key");
            tv *v = tv_dict_get(obj.u.d, *a0);
            *out = v ? *v : a1 ? *a1 : tv_none();
            return true;
        }
        if (!strcmp(m, "items")) {
            *out = bi_dict_items(rc, obj);
            return out->k == TV_LIST || rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        }
        if (!strcmp(m, "keys") || !strcmp(m, "values")) {
            tv l = tv_new_list(rc_arena(rc), obj.u.d->n);
            if (l.k != TV_LIST)
                return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
            for (size_t i = 0; i < obj.u.d->n; i++)
                tv_list_push(rc_arena(rc), l.u.l, m[0] == 'k' ? obj.u.d->keys[i] : obj.u.d->vals[i]);
            *out = l;
            return true;
        }
    }
    return rc_fail(rc, at, CHORD_E_UNSUPPORTED, "'%s object' has no method '%s' here", tv_type_name(obj), m);
}

/* ---------------------------------------------------------------- globals */

static const tv_func g_range = {TF_RANGE, NULL}, g_ns = {TF_NAMESPACE, NULL},
                     g_raise = {TF_RAISE, NULL}, g_strftime = {TF_STRFTIME, NULL},
                     g_dict = {TF_DICT, NULL};

tv bi_lookup_global(const char *name)
{
    static const struct { const char *name; const tv_func *fn; } globals[] = {
        {"range", &g_range}, {"namespace", &g_ns}, {"raise_exception", &g_raise},
        {"strftime_now", &g_strftime}, {"dict", &g_dict},
    };
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++) {
        if (strcmp(globals[i].name, name) == 0) {
            tv v = tv_none();
            v.k = TV_FUNC;
            v.u.fn = globals[i].fn;
            return v;
        }
    }
    return tv_undef(NULL);
}

/* Calls range(), namespace(), dict(), raise_exception() (an error with
 * exactly the template's message, no position) or strftime_now(). */
bool bi_global(rctx *rc, const node *at, const tv_func *fn, const targs *a, tv *out)
{
    arena *ar = rc_arena(rc);
    switch (fn->builtin) {
    case TF_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "range expects 1 to 3 integers");
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].k != TV_INT)
                return rc_fail(rc, at, CHORD_E_TEMPLATE, "range expects integers, got %s", tv_type_name(a->pos[i]));
        }
        if (a->npos == 1) {
            v[1] = a->pos[0].u.i;
        } else {
            v[0] = a->pos[0].u.i;
            v[1] = a->pos[1].u.i;
            if (a->npos == 3)
                v[2] = a->pos[2].u.i;
        }
        if (v[2] == 0)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "range step must not be zero");
        tv l = tv_new_list(ar, 0);
        if (l.k != TV_LIST)
            return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
            if (l.u.l->n >= 1000000)
                return rc_fail(rc, at, CHORD_E_TEMPLATE, "range too large");
            if (!tv_list_push(ar, l.u.l, tv_int(i)))
                return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        }
        *out = l;
        return true;
    }
    case TF_NAMESPACE:
    case TF_DICT: {
        tv d = tv_new_dict(ar);
        if (d.k != TV_DICT)
            return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        d.u.d->ns = fn->builtin == TF_NAMESPACE;
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].k != TV_DICT)
                return rc_fail(rc, at, CHORD_E_TEMPLATE, "namespace()/dict() take a mapping or keywords");
            for (size_t k = 0; k < a->pos[i].u.d->n; k++)
                tv_dict_set(ar, d.u.d, a->pos[i].u.d->keys[k], a->pos[i].u.d->vals[k]);
        }
        for (int i = 0; i < a->nkw; i++)
            tv_dict_set(ar, d.u.d, tv_str(a->kwn[i], strlen(a->kwn[i])), a->kwv[i]);
        *out = d;
        return true;
    }
    case TF_RAISE: {
        sbuf b = {0};
        sb_put(&b, "", 0);
        if (a->npos > 0)
            tv_to_str(&b, a->pos[0]);
        /* the template's own words, but a NUL would cut the message short
         * (or empty it): show it as a space, as err_set shows newlines */
        for (size_t i = 0; b.p && i < b.n; i++)
            if (!b.p[i])
                b.p[i] = ' ';
        rc_fail(rc, NULL, CHORD_E_TEMPLATE, "%s", b.p && b.n && strspn(b.p, " ") < b.n
                                                   ? b.p : "raise_exception() with an empty message");
        free(b.p);
        return false;
    }
    case TF_STRFTIME: {
        if (a->npos < 1 || a->pos[0].k != TV_STR)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "strftime_now expects a format string");
        char fmt[128], buf[256];
        size_t n = a->pos[0].u.s.n < sizeof fmt - 1 ? a->pos[0].u.s.n : sizeof fmt - 1;
        memcpy(fmt, a->pos[0].u.s.p, n);
        fmt[n] = 0;
        time_t now = tmpl_now_override() ? (time_t)tmpl_now_override() : time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t k = strftime(buf, sizeof buf, fmt, &tm);
        *out = bi_mkstr(rc, buf, k);
        return out->k == TV_STR || rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    }
    default:
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "not callable");
    }
}
