/*
 * tmpl_filters.c - Jinja's filters ({{ x | trim }}): the string ones, the
 * sequence ones (join, first, last, sort, select/reject, map...) and
 * tojson as transformers defines it (json.dumps, ensure_ascii=False, no
 * HTML escaping, optional indent).
 */
#include "tmpl/tmpl_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Looks up name.sub.sub in nested dicts, as Jinja's attribute= does. */
static bool get_attr_path(tv obj, tv name, tv *out)
{
    if (obj.k != TV_DICT || name.k != TV_STR)
        return false;
    /* "a.b" walks nested dicts, as Jinja's attribute= does */
    const char *p = name.u.s.p, *end = p + name.u.s.n;
    tv cur = obj;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (cur.k != TV_DICT)
            return false;
        tv *v = tv_dict_get(cur.u.d, tv_str(p, n));
        if (!v)
            return false;
        cur = *v;
        if (!dot)
            break;
        p = dot + 1;
    }
    *out = cur;
    return true;
}

/* select/reject/selectattr/rejectattr: keep items whose test (default:
 * truthiness) is want; attr picks the tested attribute. */
static bool select_items(rctx *rc, const node *at, tv seq, const targs *a, bool attr, bool want, tv *out)
{
    tv items;
    if (!bi_to_list(rc, at, seq, &items))
        return false;
    int first = attr ? 1 : 0;
    if (attr && a->npos < 1)
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "selectattr/rejectattr need an attribute name");
    const char *test = NULL;
    if (a->npos > first) {
        if (a->pos[first].k != TV_STR)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "test name must be a string");
        test = ar_strndup(rc_arena(rc), a->pos[first].u.s.p, a->pos[first].u.s.n);
    }
    targs rest = {a->pos + first + 1, a->npos > first + 1 ? a->npos - first - 1 : 0, NULL, NULL, 0};
    arena *ar = rc_arena(rc);
    tv l = tv_new_list(ar, 0);
    if (l.k != TV_LIST)
        return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    for (size_t i = 0; i < items.u.l->n; i++) {
        tv v = items.u.l->v[i];
        if (attr && !get_attr_path(v, a->pos[0], &v))
            v = tv_undef("attribute is undefined");
        bool r;
        if (test) {
            if (!bi_test(rc, at, test, v, &rest, &r))
                return false;
        } else {
            r = tv_truthy(v);
        }
        if (r == want)
            tv_list_push(ar, l.u.l, items.u.l->v[i]);
    }
    *out = l;
    return true;
}

/* tojson(ensure_ascii=False, indent=None, separators=None,
 * sort_keys=False), the filter transformers installs: json.dumps with no
 * HTML escaping. */
static bool json_filter(rctx *rc, const node *at, tv v, const targs *a, tv *out)
{
    const tv *asc = bi_arg(a, 0, "ensure_ascii"), *ind = bi_arg(a, 1, "indent");
    const tv *sep = bi_arg(a, 2, "separators"), *sk = bi_arg(a, 3, "sort_keys");
    char spaces[64];
    json_opts o = {.item_sep = ", ", .key_sep = ": ", .ascii = asc && tv_truthy(*asc),
                   .sort_keys = sk && tv_truthy(*sk)};
    if (ind && ind->k == TV_INT) {
        int64_t k = ind->u.i < 0 ? 0 : ind->u.i > 63 ? 63 : ind->u.i;
        memset(spaces, ' ', (size_t)k);
        o.pretty = true;
        o.indent = spaces;
        o.indent_len = (size_t)k;
    } else if (ind && ind->k == TV_STR) {
        o.pretty = true;
        o.indent = ind->u.s.p;
        o.indent_len = ind->u.s.n;
    }
    if (o.pretty)
        o.item_sep = ",";
    if (sep && sep->k != TV_NONE) {
        if (sep->k != TV_LIST || sep->u.l->n != 2 || sep->u.l->v[0].k != TV_STR || sep->u.l->v[1].k != TV_STR)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "tojson separators must be two strings");
        tv s0 = tv_stringify(rc_arena(rc), sep->u.l->v[0]), s1 = tv_stringify(rc_arena(rc), sep->u.l->v[1]);
        /* the arena copies are NUL-terminated */
        char *p0 = ar_strndup(rc_arena(rc), s0.u.s.p, s0.u.s.n), *p1 = ar_strndup(rc_arena(rc), s1.u.s.p, s1.u.s.n);
        if (!p0 || !p1)
            return rc_oom(rc, at);
        o.item_sep = p0;
        o.key_sep = p1;
    }
    sbuf b = {0};
    sb_put(&b, "", 0);
    if (!tv_to_json(&b, v, &o, 0)) {
        free(b.p);
        if (v.k == TV_UNDEF)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "%s", v.hint ? v.hint : "value is undefined");
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "object of type %s is not JSON serializable", tv_type_name(v));
    }
    return bi_ret_str(rc, at, &b, out);
}

/* Sorts (key, value) pairs by key or value, strings case-folded (ASCII)
 * unless case_sensitive, as dictsort does. Insertion sort: dicts in chat
 * templates are small, and it is stable like Python's sort. */
static void sort_pairs(rctx *rc, tv_list *l, bool by_value, bool case_sensitive, bool reverse)
{
    tv *keys = ar_alloc(rc_arena(rc), (l->n + 1) * sizeof *keys);
    if (!keys)
        return;
    for (size_t i = 0; i < l->n; i++) {
        keys[i] = l->v[i].u.l->v[by_value ? 1 : 0];
        if (!case_sensitive && keys[i].k == TV_STR)
            bi_recase(rc, NULL, keys[i], 'l', &keys[i]);
    }
    for (size_t i = 1; i < l->n; i++) {
        tv k = keys[i], item = l->v[i];
        size_t j = i;
        while (j > 0 && (reverse ? bi_cmp(&keys[j - 1], &k) < 0 : bi_cmp(&keys[j - 1], &k) > 0)) {
            keys[j] = keys[j - 1];
            l->v[j] = l->v[j - 1];
            j--;
        }
        keys[j] = k;
        l->v[j] = item;
    }
}

/* Jinja's indent(width=4, first=False, blank=False): every line but the
 * first gets width spaces (or the width string); blank lines only with
 * blank=True. */
static bool indent(rctx *rc, const node *at, tv s, const targs *a, tv *out)
{
    const tv *w = bi_arg(a, 0, "width"), *first = bi_arg(a, 1, "first"), *blank = bi_arg(a, 2, "blank");
    sbuf pad = {0}, b = {0};
    if (w && w->k == TV_STR)
        sb_put(&pad, w->u.s.p, w->u.s.n);
    else
        for (int64_t i = 0; i < (w && w->k == TV_INT ? w->u.i : 4) && i < 256; i++)
            sb_putc(&pad, ' ');
    sb_put(&b, "", 0);
    const char *p = s.u.s.p, *end = p + s.u.s.n;
    bool first_line = true;
    for (;;) {
        const char *nl = p;
        while (nl < end && *nl != '\n' && *nl != '\r')
            nl++;
        bool empty = nl == p;
        if (!first_line)
            sb_putc(&b, '\n');
        if (first_line ? first && tv_truthy(*first) : !empty || (blank && tv_truthy(*blank)))
            sb_put(&b, pad.p ? pad.p : "", pad.n);
        sb_put(&b, p, (size_t)(nl - p));
        first_line = false;
        if (nl >= end)
            break;
        /* a final newline leaves one more (empty) line, as splitlines on
         * s + "\n" does */
        p = nl + (nl[0] == '\r' && nl + 1 < end && nl[1] == '\n' ? 2 : 1);
    }
    free(pad.p);
    return bi_ret_str(rc, at, &b, out);
}

/* ---------------------------------------------------------------- filters */

/* int() of a float, truncating like Python; false for NaN, infinities and
 * values beyond 64 bits (casting those is undefined behaviour in C). */
static bool float_to_int(double d, tv *out)
{
    if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
        return false;
    *out = tv_int((int64_t)d);
    return true;
}

bool bi_filter(rctx *rc, const node *at, const char *f, tv v, const targs *a, tv *out)
{
    arena *ar = rc_arena(rc);
    const tv *a0 = bi_arg(a, 0, NULL);
    if (!strcmp(f, "default") || !strcmp(f, "d")) {
        const tv *bo = bi_arg(a, 1, "boolean");
        bool use_default = v.k == TV_UNDEF || (bo && tv_truthy(*bo) && !tv_truthy(v));
        *out = use_default ? (a0 ? *a0 : tv_str("", 0)) : v;
        return true;
    }
    if (!strcmp(f, "tojson"))
        return json_filter(rc, at, v, a, out);
    if (!strcmp(f, "safe") || !strcmp(f, "e") || !strcmp(f, "escape")) {
        /* no autoescaping in chat templates: both are the identity on text */
        *out = v.k == TV_STR ? v : tv_stringify(ar, v);
        return true;
    }
    if (!strcmp(f, "string")) {
        *out = v.k == TV_UNDEF ? tv_str("", 0) : tv_stringify(ar, v);
        return true;
    }
    if (!strcmp(f, "length") || !strcmp(f, "count")) {
        switch (v.k) {
        case TV_STR: *out = tv_int((int64_t)u8_len(v.u.s.p, v.u.s.n)); return true;
        case TV_LIST: *out = tv_int((int64_t)v.u.l->n); return true;
        case TV_DICT: *out = tv_int((int64_t)v.u.d->n); return true;
        case TV_UNDEF: *out = tv_int(0); return true;
        default: return rc_fail(rc, at, CHORD_E_TEMPLATE, "object of type '%s' has no len()", tv_type_name(v));
        }
    }
    if (!strcmp(f, "list"))
        return bi_to_list(rc, at, v, out);
    if (!strcmp(f, "items")) {
        if (v.k == TV_UNDEF) {
            *out = tv_new_list(ar, 0);
            return true;
        }
        if (v.k != TV_DICT)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "items expects a mapping, got %s", tv_type_name(v));
        *out = bi_dict_items(rc, v);
        return out->k == TV_LIST || rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    }
    if (!strcmp(f, "first") || !strcmp(f, "last")) {
        tv l;
        if (!bi_to_list(rc, at, v, &l))
            return false;
        *out = l.u.l->n ? l.u.l->v[f[0] == 'f' ? 0 : l.u.l->n - 1] : tv_undef("no first/last item of an empty sequence");
        return true;
    }
    if (!strcmp(f, "reverse")) {
        if (v.k == TV_STR) {
            sbuf b = {0};
            sb_put(&b, "", 0);
            size_t n = u8_len(v.u.s.p, v.u.s.n);
            for (size_t i = n; i-- > 0;) {
                size_t s = u8_offset(v.u.s.p, v.u.s.n, i), e = u8_offset(v.u.s.p, v.u.s.n, i + 1);
                sb_put(&b, v.u.s.p + s, e - s);
            }
            return bi_ret_str(rc, at, &b, out);
        }
        tv l, r;
        if (!bi_to_list(rc, at, v, &l))
            return false;
        r = tv_new_list(ar, l.u.l->n);
        for (size_t i = l.u.l->n; r.k == TV_LIST && i-- > 0;)
            tv_list_push(ar, r.u.l, l.u.l->v[i]);
        *out = r;
        return r.k == TV_LIST || rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    }
    if (!strcmp(f, "join")) {
        tv l;
        if (!bi_to_list(rc, at, v, &l))
            return false;
        const tv *sep = bi_arg(a, 0, "d");
        const tv *attr = bi_arg(a, 1, "attribute");
        sbuf b = {0};
        sb_put(&b, "", 0);
        for (size_t i = 0; i < l.u.l->n; i++) {
            if (i && sep)
                tv_to_str(&b, *sep);
            tv item = l.u.l->v[i];
            if (attr && !get_attr_path(item, *attr, &item))
                item = tv_undef(NULL);
            tv_to_str(&b, item);
        }
        return bi_ret_str(rc, at, &b, out);
    }
    if (!strcmp(f, "int")) {
        const tv *def = bi_arg(a, 0, "default");
        switch (v.k) {
        case TV_INT: *out = v; return true;
        case TV_BOOL: *out = tv_int(v.u.b); return true;
        case TV_FLOAT:
            if (!float_to_int(v.u.f, out))
                break;
            return true;
        case TV_STR: {
            char tmp[64];
            tv t = bi_strip(v, NULL, true, true);
            size_t n = t.u.s.n < sizeof tmp - 1 ? t.u.s.n : sizeof tmp - 1;
            memcpy(tmp, t.u.s.p, n);
            tmp[n] = 0;
            char *end;
            long long x = strtoll(tmp, &end, 10);
            if (n && !*end) {
                *out = tv_int(x);
                return true;
            }
            double d = strtod(tmp, &end);
            if (n && !*end && float_to_int(d, out))
                return true;
            break;
        }
        default: break;
        }
        *out = def ? *def : tv_int(0);
        return true;
    }
    if (!strcmp(f, "float")) {
        if (v.k == TV_INT || v.k == TV_BOOL) *out = tv_float(v.k == TV_INT ? (double)v.u.i : v.u.b);
        else if (v.k == TV_FLOAT) *out = v;
        else if (v.k == TV_STR) {
            char tmp[64], *end;
            size_t n = v.u.s.n < sizeof tmp - 1 ? v.u.s.n : sizeof tmp - 1;
            memcpy(tmp, v.u.s.p, n);
            tmp[n] = 0;
            double d = strtod(tmp, &end);
            *out = n && !*end ? tv_float(d) : tv_float(0);
        } else *out = tv_float(0);
        return true;
    }
    if (!strcmp(f, "round")) {
        const tv *pr = bi_arg(a, 0, "precision"), *me = bi_arg(a, 1, "method");
        double x = v.k == TV_INT ? (double)v.u.i : v.k == TV_FLOAT ? v.u.f : NAN;
        if (isnan(x) && v.k != TV_FLOAT)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "round expects a number, got %s", tv_type_name(v));
        double scale = pow(10.0, pr && pr->k == TV_INT ? (double)pr->u.i : 0.0);
        char m = me && me->k == TV_STR && me->u.s.n ? me->u.s.p[0] : 'c';
        if (v.k == TV_INT && m == 'c' && !(me && me->u.s.n > 1 && me->u.s.p[1] == 'e') && (!pr || pr->k != TV_INT || pr->u.i >= 0)) {
            *out = v;   /* Python's round() keeps an int an int */
            return true;
        }
        /* common = Python's round(): halves go to the even neighbour */
        double r = m == 'f' ? floor(x * scale) : m == 'c' && me && me->u.s.n > 1 && me->u.s.p[1] == 'e'
                 ? ceil(x * scale) : nearbyint(x * scale);
        *out = tv_float(r / scale);
        return true;
    }
    if (!strcmp(f, "dictsort")) {
        if (v.k != TV_DICT)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "dictsort expects a mapping, got %s", tv_type_name(v));
        const tv *cs = bi_arg(a, 0, "case_sensitive"), *by = bi_arg(a, 1, "by"), *rev = bi_arg(a, 2, "reverse");
        tv items = bi_dict_items(rc, v);
        if (items.k != TV_LIST)
            return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        sort_pairs(rc, items.u.l, by && by->k == TV_STR && by->u.s.n && by->u.s.p[0] == 'v',
                   cs && tv_truthy(*cs), rev && tv_truthy(*rev));
        *out = items;
        return true;
    }
    if (!strcmp(f, "abs")) {
        if (v.k == TV_INT && v.u.i == INT64_MIN)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "integer overflow (chord's integers are 64-bit)");
        if (v.k == TV_INT) *out = tv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        else if (v.k == TV_FLOAT) *out = tv_float(fabs(v.u.f));
        else return rc_fail(rc, at, CHORD_E_TEMPLATE, "bad operand type for abs(): '%s'", tv_type_name(v));
        return true;
    }
    if (!strcmp(f, "select") || !strcmp(f, "reject"))
        return select_items(rc, at, v, a, false, f[0] == 's', out);
    if (!strcmp(f, "selectattr") || !strcmp(f, "rejectattr"))
        return select_items(rc, at, v, a, true, f[0] == 's', out);
    if (!strcmp(f, "map")) {
        tv l;
        if (!bi_to_list(rc, at, v, &l))
            return false;
        const tv *attr = bi_arg(a, 99, "attribute");
        const tv *def = bi_arg(a, 99, "default");
        tv r = tv_new_list(ar, l.u.l->n);
        if (r.k != TV_LIST)
            return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        for (size_t i = 0; i < l.u.l->n; i++) {
            tv item = l.u.l->v[i], m;
            if (attr) {
                if (!get_attr_path(item, *attr, &m))
                    m = def ? *def : tv_undef("attribute is undefined");
            } else {
                if (!a0 || a0->k != TV_STR)
                    return rc_fail(rc, at, CHORD_E_TEMPLATE, "map needs a filter name or attribute=");
                targs rest = {a->pos + 1, a->npos - 1, NULL, NULL, 0};
                char *fname = ar_strndup(ar, a0->u.s.p, a0->u.s.n);
                if (!fname || !bi_filter(rc, at, fname, item, &rest, &m))
                    return false;
            }
            tv_list_push(ar, r.u.l, m);
        }
        *out = r;
        return true;
    }
    if (!strcmp(f, "sort") || !strcmp(f, "unique") || !strcmp(f, "min") || !strcmp(f, "max") || !strcmp(f, "sum")) {
        tv l;
        if (!bi_to_list(rc, at, v, &l))
            return false;
        size_t n = l.u.l->n;
        tv r = tv_new_list(ar, n ? n : 1);
        if (r.k != TV_LIST)
            return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
        if (!strcmp(f, "sum")) {
            tv acc = tv_int(0);
            for (size_t i = 0; i < n; i++) {
                tv x = l.u.l->v[i];
                int64_t total;
                if (x.k == TV_INT && acc.k == TV_INT) {
                    if (__builtin_add_overflow(acc.u.i, x.u.i, &total))
                        return rc_fail(rc, at, CHORD_E_TEMPLATE, "integer overflow (chord's integers are 64-bit)");
                    acc = tv_int(total);
                }
                else if (x.k == TV_INT || x.k == TV_FLOAT)
                    acc = tv_float((acc.k == TV_INT ? (double)acc.u.i : acc.u.f) + (x.k == TV_INT ? (double)x.u.i : x.u.f));
                else return rc_fail(rc, at, CHORD_E_TEMPLATE, "sum of non-numbers");
            }
            *out = acc;
            return true;
        }
        for (size_t i = 0; i < n; i++) {
            bool dup = false;
            for (size_t k = 0; f[0] == 'u' && k < r.u.l->n && !dup; k++)
                dup = tv_equal(r.u.l->v[k], l.u.l->v[i]);
            if (!dup)
                tv_list_push(ar, r.u.l, l.u.l->v[i]);
        }
        if (f[0] == 's' || f[0] == 'm')
            qsort(r.u.l->v, r.u.l->n, sizeof *r.u.l->v, bi_cmp);
        const tv *rev = bi_arg(a, 0, "reverse");
        if (f[0] == 's' && rev && tv_truthy(*rev))
            for (size_t i = 0; i < r.u.l->n / 2; i++) {
                tv t = r.u.l->v[i];
                r.u.l->v[i] = r.u.l->v[r.u.l->n - 1 - i];
                r.u.l->v[r.u.l->n - 1 - i] = t;
            }
        if (!strcmp(f, "min") || !strcmp(f, "max"))
            *out = r.u.l->n ? r.u.l->v[f[1] == 'i' ? 0 : r.u.l->n - 1] : tv_undef("empty sequence");
        else
            *out = r;
        return true;
    }
    /* the string filters */
    if (v.k == TV_UNDEF)
        v = tv_str("", 0);
    tv s = tv_stringify(ar, v);
    if (s.k != TV_STR)
        return rc_fail(rc, at, CHORD_E_NOMEM, "out of memory");
    if (!strcmp(f, "trim")) {
        *out = bi_strip(s, bi_arg(a, 0, "chars"), true, true);
        return true;
    }
    if (!strcmp(f, "upper")) return bi_recase(rc, at, s, 'u', out);
    if (!strcmp(f, "lower")) return bi_recase(rc, at, s, 'l', out);
    if (!strcmp(f, "title")) return bi_recase(rc, at, s, 't', out);
    if (!strcmp(f, "capitalize")) return bi_recase(rc, at, s, 'c', out);
    if (!strcmp(f, "replace")) {
        const tv *o = bi_arg(a, 0, "old"), *nw = bi_arg(a, 1, "new"), *c = bi_arg(a, 2, "count");
        if (!o || !nw)
            return rc_fail(rc, at, CHORD_E_TEMPLATE, "replace needs two arguments");
        return bi_replace(rc, at, s, *o, *nw, c && c->k == TV_INT ? c->u.i : -1, out);
    }
    if (!strcmp(f, "indent"))
        return indent(rc, at, s, a, out);
    if (!strcmp(f, "wordcount")) {
        tv parts;
        if (!bi_split(rc, at, s, NULL, NULL, &parts))
            return false;
        *out = tv_int((int64_t)parts.u.l->n);
        return true;
    }
    return rc_fail(rc, at, CHORD_E_UNSUPPORTED, "no filter named '%s'", f);
}
