/*
 * tmpl_ops.c - what the evaluator does to values: attribute and item
 * access, slicing, and the binary operators, with Python's semantics
 * (int/float arithmetic, floor division and modulo signs, str and list
 * concatenation, deep ==, ordered comparisons only between like types).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "tmpl/tmpl_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- access */

bool ops_get_item(rctx *rc, const node *n, tv obj, tv key, tv *out)
{
    switch (obj.k) {
    case TV_DICT: {
        tv *v = tv_dict_get(obj.u.d, key);
        if (v) {
            *out = *v;
        } else {
            sbuf b = {0};
            tv_repr(&b, key);
            *out = rc_undef(rc, "'dict object' has no attribute %s%s", b.p ? b.p : "?", "");
            free(b.p);
        }
        return true;
    }
    case TV_LIST:
    case TV_STR: {
        if (key.k != TV_INT && key.k != TV_BOOL) {
            *out = rc_undef(rc, "%s index must be an integer, not %s", tv_type_name(obj), tv_type_name(key));
            return true;
        }
        int64_t i = key.k == TV_INT ? key.u.i : key.u.b;
        int64_t len = obj.k == TV_LIST ? (int64_t)obj.u.l->n : (int64_t)u8_len(obj.u.s.p, obj.u.s.n);
        if (i < 0)
            i += len;
        if (i < 0 || i >= len) {
            *out = rc_undef(rc, "%s index out of range%s", tv_type_name(obj), "");
        } else if (obj.k == TV_LIST) {
            *out = obj.u.l->v[i];
        } else {
            size_t a = u8_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
            size_t b = u8_offset(obj.u.s.p, obj.u.s.n, (size_t)i + 1);
            *out = tv_str(obj.u.s.p + a, b - a);
        }
        return true;
    }
    case TV_UNDEF:
        return rc_undef_error(rc, n, obj);
    default:
        *out = rc_undef(rc, "'%s object' has no item%s", tv_type_name(obj), "");
        return true;
    }
}

bool ops_get_attr(rctx *rc, const node *n, tv obj, const char *name, tv *out)
{
    if (obj.k == TV_UNDEF)
        return rc_undef_error(rc, n, obj);
    if (obj.k == TV_DICT) {
        tv *v = tv_dict_gets(obj.u.d, name);
        if (v) {
            *out = *v;
            return true;
        }
    }
    *out = rc_undef(rc, "'%s object' has no attribute '%s'", tv_type_name(obj), name);
    return true;
}

/* Python slice bounds for a sequence of len items. */
static void slice_bounds(int64_t len, const tv *lo, const tv *hi, int64_t step, int64_t *start, int64_t *stop)
{
    int64_t s, e;
    if (step > 0) {
        s = lo ? lo->u.i : 0;
        e = hi ? hi->u.i : len;
        if (s < 0) s += len;
        if (e < 0) e += len;
        s = s < 0 ? 0 : s > len ? len : s;
        e = e < 0 ? 0 : e > len ? len : e;
    } else {
        s = lo ? lo->u.i : len - 1;
        e = hi ? hi->u.i : -len - 1;
        if (s < 0) s += len;
        if (e < 0) e += len;
        s = s < -1 ? -1 : s >= len ? len - 1 : s;
        e = e < -1 ? -1 : e >= len ? len - 1 : e;
    }
    *start = s;
    *stop = e;
}

/* obj[lo:hi:step] with Python's rules; parts are NONE when omitted. */
bool ops_slice(rctx *rc, const node *n, tv obj, const tv parts[3], tv *out)
{
    int64_t step = parts[2].k == TV_INT ? parts[2].u.i : 1;
    if (step == 0)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "slice step cannot be zero");
    if (obj.k == TV_UNDEF)
        return rc_undef_error(rc, n, obj);
    if (obj.k != TV_LIST && obj.k != TV_STR)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t len = obj.k == TV_LIST ? (int64_t)obj.u.l->n : (int64_t)u8_len(obj.u.s.p, obj.u.s.n);
    int64_t s, e;
    slice_bounds(len, parts[0].k == TV_INT ? &parts[0] : NULL, parts[1].k == TV_INT ? &parts[1] : NULL, step, &s, &e);
    if (obj.k == TV_LIST) {
        tv r = tv_new_list(&rc->ar, 0);
        if (r.k != TV_LIST)
            return rc_oom(rc, n);
        for (int64_t i = s; step > 0 ? i < e : i > e; i += step)
            if (!tv_list_push(&rc->ar, r.u.l, obj.u.l->v[i]))
                return rc_oom(rc, n);
        *out = r;
        return true;
    }
    if (step == 1) {
        size_t a = u8_offset(obj.u.s.p, obj.u.s.n, (size_t)s);
        size_t b = e > s ? u8_offset(obj.u.s.p, obj.u.s.n, (size_t)e) : a;
        *out = tv_str(obj.u.s.p + a, b - a);
        return true;
    }
    sbuf b = {0};
    sb_put(&b, "", 0);
    for (int64_t i = s; step > 0 ? i < e : i > e; i += step) {
        size_t a = u8_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
        size_t z = u8_offset(obj.u.s.p, obj.u.s.n, (size_t)i + 1);
        sb_put(&b, obj.u.s.p + a, z - a);
    }
    char *p = b.oom ? NULL : ar_strndup(&rc->ar, b.p, b.n);
    size_t len2 = b.n;
    free(b.p);
    if (!p)
        return rc_oom(rc, n);
    *out = tv_str(p, len2);
    return true;
}

/* ---------------------------------------------------------------- operators */

static bool num_of(tv v, double *f, int64_t *i, bool *is_int)
{
    if (v.k == TV_INT) { *i = v.u.i; *f = (double)v.u.i; *is_int = true; return true; }
    if (v.k == TV_BOOL) { *i = v.u.b; *f = v.u.b; *is_int = true; return true; }
    if (v.k == TV_FLOAT) { *f = v.u.f; *is_int = false; return true; }
    return false;
}

static tv concat_str(rctx *rc, tv a, tv b)
{
    char *p = ar_alloc(&rc->ar, a.u.s.n + b.u.s.n + 1);
    if (!p)
        return tv_none();
    memcpy(p, a.u.s.p, a.u.s.n);
    memcpy(p + a.u.s.n, b.u.s.p, b.u.s.n);
    return tv_str(p, a.u.s.n + b.u.s.n);
}

static const char *const op_text[] = {"+", "-", "*", "/", "//", "%", "**", "~",
                                      "==", "!=", "<", "<=", ">", ">=", "in", "not in"};

static bool type_error(rctx *rc, const node *n, tv a, tv b)
{
    if (a.k == TV_UNDEF)
        return rc_undef_error(rc, n, a);
    if (b.k == TV_UNDEF)
        return rc_undef_error(rc, n, b);
    if (n->op == OP_ADD && a.k == TV_STR)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "can only concatenate str (not \"%s\") to str", tv_type_name(b));
    return rc_fail(rc, n, CHORD_E_TEMPLATE, "unsupported operand type(s) for %s: '%s' and '%s'",
                   op_text[n->op], tv_type_name(a), tv_type_name(b));
}

static bool contains(rctx *rc, const node *n, tv hay, tv needle, bool *out)
{
    switch (hay.k) {
    case TV_STR:
        if (needle.k != TV_STR)
            return rc_fail(rc, n, CHORD_E_TEMPLATE, "'in <string>' requires string as left operand, not %s", tv_type_name(needle));
        *out = needle.u.s.n == 0 || memmem(hay.u.s.p, hay.u.s.n, needle.u.s.p, needle.u.s.n) != NULL;
        return true;
    case TV_LIST:
        *out = false;
        for (size_t i = 0; i < hay.u.l->n && !*out; i++)
            *out = tv_equal(hay.u.l->v[i], needle);
        return true;
    case TV_DICT:
        *out = tv_dict_get(hay.u.d, needle) != NULL;
        return true;
    case TV_UNDEF:
        *out = false;   /* Undefined iterates as empty */
        return true;
    default:
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "argument of type '%s' is not iterable", tv_type_name(hay));
    }
}

static bool compare_at(tv a, tv b, int *c, int depth);

/* -1, 0, 1 for ordered comparisons; false if the types do not order. */
static bool compare(tv a, tv b, int *c)
{
    return compare_at(a, b, c, 0);
}

/* Lists nested past TMPL_MAX_DEPTH do not order (an error for the caller)
 * rather than recurse off the C stack. */
static bool compare_at(tv a, tv b, int *c, int depth)
{
    if (depth > TMPL_MAX_DEPTH)
        return false;
    double fa, fb;
    int64_t ia, ib;
    bool ai, bi;
    if (num_of(a, &fa, &ia, &ai) && num_of(b, &fb, &ib, &bi)) {
        if (ai && bi)
            *c = ia < ib ? -1 : ia > ib;
        else
            *c = fa < fb ? -1 : fa > fb;
        return true;
    }
    if (a.k == TV_STR && b.k == TV_STR) {
        size_t m = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = memcmp(a.u.s.p, b.u.s.p, m);
        *c = r ? (r < 0 ? -1 : 1) : a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
        return true;
    }
    if (a.k == TV_LIST && b.k == TV_LIST) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
            if (tv_equal(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return compare_at(a.u.l->v[i], b.u.l->v[i], c, depth + 1);
        }
        *c = a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
        return true;
    }
    return false;
}

/* Python's integers never overflow; a template needing more than 64 bits
 * is hostile or broken, and silently wrapping (or switching to floats)
 * would render something Jinja2 would not. */
static bool int_overflow(rctx *rc, const node *n)
{
    return rc_fail(rc, n, CHORD_E_TEMPLATE, "integer overflow (chord's integers are 64-bit)");
}

bool ops_binop(rctx *rc, const node *n, tv a, tv b, tv *out)
{
    double fa = 0, fb = 0;
    int64_t ia = 0, ib = 0;
    bool ai = false, bi = false;
    bool nums = num_of(a, &fa, &ia, &ai) && num_of(b, &fb, &ib, &bi);
    bool ints = nums && ai && bi;
    int c = 0;
    bool in = false;
    switch (n->op) {
    case OP_ADD:
        if (nums) {
            int64_t r;
            if (ints && __builtin_add_overflow(ia, ib, &r))
                return int_overflow(rc, n);
            *out = ints ? tv_int(r) : tv_float(fa + fb);
            return true;
        }
        if (a.k == TV_STR && b.k == TV_STR) {
            *out = concat_str(rc, a, b);
            return out->k == TV_STR || rc_oom(rc, n);
        }
        if (a.k == TV_LIST && b.k == TV_LIST) {
            tv r = tv_new_list(&rc->ar, a.u.l->n + b.u.l->n);
            if (r.k != TV_LIST)
                return rc_oom(rc, n);
            for (size_t i = 0; i < a.u.l->n; i++)
                tv_list_push(&rc->ar, r.u.l, a.u.l->v[i]);
            for (size_t i = 0; i < b.u.l->n; i++)
                tv_list_push(&rc->ar, r.u.l, b.u.l->v[i]);
            *out = r;
            return true;
        }
        return type_error(rc, n, a, b);
    case OP_SUB:
        if (!nums) return type_error(rc, n, a, b);
        if (ints) {
            int64_t r;
            if (__builtin_sub_overflow(ia, ib, &r))
                return int_overflow(rc, n);
            *out = tv_int(r);
        } else {
            *out = tv_float(fa - fb);
        }
        return true;
    case OP_MUL:
        if (nums) {
            int64_t r;
            if (ints && __builtin_mul_overflow(ia, ib, &r))
                return int_overflow(rc, n);
            *out = ints ? tv_int(r) : tv_float(fa * fb);
            return true;
        }
        if ((a.k == TV_STR && (b.k == TV_INT || b.k == TV_BOOL)) || (b.k == TV_STR && (a.k == TV_INT || a.k == TV_BOOL))) {
            tv s = a.k == TV_STR ? a : b;
            int64_t k = a.k == TV_STR ? (b.k == TV_INT ? b.u.i : b.u.b) : (a.k == TV_INT ? a.u.i : a.u.b);
            if (k < 0)
                k = 0;
            if ((uint64_t)k * s.u.s.n > MAX_OUTPUT)
                return rc_fail(rc, n, CHORD_E_NOMEM, "string repetition too large");
            char *p = ar_alloc(&rc->ar, (size_t)k * s.u.s.n + 1);
            if (!p)
                return rc_oom(rc, n);
            for (int64_t i = 0; i < k; i++)
                memcpy(p + (size_t)i * s.u.s.n, s.u.s.p, s.u.s.n);
            *out = tv_str(p, (size_t)k * s.u.s.n);
            return true;
        }
        return type_error(rc, n, a, b);
    case OP_DIV:
        if (!nums) return type_error(rc, n, a, b);
        if (fb == 0) return rc_fail(rc, n, CHORD_E_TEMPLATE, "division by zero");
        *out = tv_float(fa / fb);
        return true;
    case OP_FLOORDIV:
    case OP_MOD:
        if (!nums) return type_error(rc, n, a, b);
        if (fb == 0) return rc_fail(rc, n, CHORD_E_TEMPLATE, "integer division or modulo by zero");
        if (ints) {
            if (ia == INT64_MIN && ib == -1)
                return int_overflow(rc, n);
            int64_t q = ia / ib, r = ia % ib;
            if (r != 0 && ((r < 0) != (ib < 0))) {
                q--;
                r += ib;
            }
            *out = tv_int(n->op == OP_MOD ? r : q);
        } else {
            double q = floor(fa / fb);
            *out = tv_float(n->op == OP_MOD ? fa - q * fb : q);
        }
        return true;
    case OP_POW:
        if (!nums) return type_error(rc, n, a, b);
        if (ints && ib >= 0) {
            /* ia of -1, 0 or 1 never overflows, so a huge exponent only
             * needs its parity; any other base overflows within 64 steps */
            int64_t r = 1, e = ib;
            if (ia >= -1 && ia <= 1 && e > 2)
                e = 2 + (e & 1);
            for (int64_t i = 0; i < e; i++)
                if (__builtin_mul_overflow(r, ia, &r))
                    return int_overflow(rc, n);
            *out = tv_int(r);
        } else {
            *out = tv_float(pow(fa, fb));
        }
        return true;
    case OP_CONCAT: {
        tv sa = tv_stringify(&rc->ar, a), sb = tv_stringify(&rc->ar, b);
        if (a.k == TV_UNDEF) sa = tv_str("", 0);
        if (b.k == TV_UNDEF) sb = tv_str("", 0);
        if (sa.k != TV_STR || sb.k != TV_STR)
            return rc_oom(rc, n);
        *out = concat_str(rc, sa, sb);
        return out->k == TV_STR || rc_oom(rc, n);
    }
    case OP_EQ: *out = tv_bool(tv_equal(a, b)); return true;
    case OP_NE: *out = tv_bool(!tv_equal(a, b)); return true;
    case OP_LT: case OP_LE: case OP_GT: case OP_GE:
        if (!compare(a, b, &c)) {
            if (a.k == TV_UNDEF || b.k == TV_UNDEF)
                return type_error(rc, n, a, b);
            return rc_fail(rc, n, CHORD_E_TEMPLATE, "'%s' not supported between instances of '%s' and '%s'",
                           op_text[n->op], tv_type_name(a), tv_type_name(b));
        }
        *out = tv_bool(n->op == OP_LT ? c < 0 : n->op == OP_LE ? c <= 0 : n->op == OP_GT ? c > 0 : c >= 0);
        return true;
    case OP_IN:
    case OP_NOTIN:
        if (!contains(rc, n, b, a, &in))
            return false;
        *out = tv_bool(n->op == OP_IN ? in : !in);
        return true;
    }
    return rc_fail(rc, n, CHORD_E_TEMPLATE, "unknown operator");
}
