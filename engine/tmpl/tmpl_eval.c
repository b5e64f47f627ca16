/*
 * tmpl_eval.c - walks the AST and writes the output.
 *
 * Scoping follows Jinja: the template has one scope; each for-loop
 * iteration and each macro call gets a fresh one on top, so a {% set %}
 * inside a loop is gone at the next iteration (hence namespace()).
 * Undefined names give an Undefined value that renders empty and is
 * falsy; using it in arithmetic or looking inside it is an error, as in
 * Jinja.
 */
#include "core/err.h"
#include "tmpl/tmpl_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MACRO_DEPTH 64
#define MAX_STEPS 500000L        /* loop iterations per render */
#define MAX_MEMORY (256u << 20)  /* bytes of values per render */

static long now_override;

void tmpl_set_now(long unix_time) { now_override = unix_time; }
long tmpl_now_override(void) { return now_override; }

arena *rc_arena(rctx *rc) { return &rc->ar; }

bool rc_fail(rctx *rc, const node *n, chord_status st, const char *fmt, ...)
{
    if (rc->failed)
        return false;
    rc->failed = true;
    rc->st = st;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        err_set(rc->err, st, "%sline %d:%d: %s", rc->t->name, n->line, n->col, msg);
    else
        err_set(rc->err, st, "%s", msg);
    return false;
}

bool rc_oom(rctx *rc, const node *n)
{
    if (rc->ar.over_limit)
        return rc_fail(rc, n, CHORD_E_NOMEM, "the render needs more than %u MiB", MAX_MEMORY >> 20);
    return rc_fail(rc, n, CHORD_E_NOMEM, "out of memory");
}

/* An Undefined carrying the message its misuse will give. */
tv rc_undef(rctx *rc, const char *fmt, const char *a, const char *b)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, a, b);
    tv v = tv_undef(ar_strndup(&rc->ar, msg, strlen(msg)));
    return v;
}

bool rc_undef_error(rctx *rc, const node *n, tv v)
{
    return rc_fail(rc, n, CHORD_E_TEMPLATE, "%s", v.hint ? v.hint : "value is undefined");
}

/* Opens a fresh innermost scope (for a macro call or a loop filter). */
static bool push_scope(rctx *rc, const node *n)
{
    if (rc->nscopes == MAX_SCOPES)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "scopes nested too deeply");
    tv d = tv_new_dict(&rc->ar);
    if (d.k != TV_DICT)
        return rc_oom(rc, n);
    rc->scopes[rc->nscopes++] = d.u.d;
    return true;
}

/* A name's value: innermost scope first, then the globals; else an
 * Undefined that remembers the name for its error message. */
static tv lookup(rctx *rc, const char *name)
{
    tv key = tv_str(name, strlen(name));
    for (int i = rc->nscopes - 1; i >= 0; i--) {
        tv *v = tv_dict_get(rc->scopes[i], key);
        if (v)
            return *v;
    }
    tv g = bi_lookup_global(name);
    if (g.k != TV_UNDEF)
        return g;
    return rc_undef(rc, "'%s' is undefined", name, "");
}

/* {% set %} and loop variables bind in the innermost scope only. */
static bool assign(rctx *rc, const node *n, const char *name, tv v)
{
    if (!tv_dict_set(&rc->ar, rc->scopes[rc->nscopes - 1], tv_str(name, strlen(name)), v))
        return rc_oom(rc, n);
    return true;
}

/* Evaluates an expression node into *out; false (error recorded) on
 * failure. */
static bool eval(rctx *rc, const node *n, tv *out);
static bool exec_list(rctx *rc, const node *n);

/* ---------------------------------------------------------------- slices */

static bool eval_slice(rctx *rc, const node *n, tv *out)
{
    tv obj, parts[3];
    const node *pn[3] = {n->b, n->c, n->els};
    if (!eval(rc, n->a, &obj))
        return false;
    for (int i = 0; i < 3; i++) {
        parts[i] = tv_none();
        if (pn[i] && !eval(rc, pn[i], &parts[i]))
            return false;
        if (parts[i].k != TV_NONE && parts[i].k != TV_INT)
            return rc_fail(rc, n, CHORD_E_TEMPLATE, "slice indices must be integers");
    }
    return ops_slice(rc, n, obj, parts, out);
}

/* ---------------------------------------------------------------- calls */

/* Evaluates a node's arguments into arena arrays. */
static bool eval_args(rctx *rc, const node *n, targs *a)
{
    tv *pos = ar_alloc(&rc->ar, (size_t)(n->nargs + 1) * sizeof *pos);
    tv *kwv = ar_alloc(&rc->ar, (size_t)(n->nargs + 1) * sizeof *kwv);
    const char **kwn = ar_alloc(&rc->ar, (size_t)(n->nargs + 1) * sizeof *kwn);
    if (!pos || !kwv || !kwn)
        return rc_oom(rc, n);
    memset(a, 0, sizeof *a);
    for (int i = 0; i < n->nargs; i++) {
        tv v;
        if (!eval(rc, n->args[i], &v))
            return false;
        if (n->kw && n->kw[i]) {
            kwn[a->nkw] = n->kw[i];
            kwv[a->nkw++] = v;
        } else {
            pos[a->npos++] = v;
        }
    }
    a->pos = pos;
    a->kwv = kwv;
    a->kwn = kwn;
    return true;
}

bool rc_call_macro(rctx *rc, const node *at, const tv_func *fn, const tv *pos, int npos,
                   const char **kwn, const tv *kwv, int nkw, tv *out)
{
    const node *m = fn->macro;
    if (rc->macro_depth >= MAX_MACRO_DEPTH)
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "macro '%s' recursed too deeply", m->name);
    if (npos > m->nargs)
        return rc_fail(rc, at, CHORD_E_TEMPLATE, "macro '%s' takes %d arguments, got %d", m->name, m->nargs, npos);
    if (!push_scope(rc, at))
        return false;
    for (int i = 0; i < m->nargs; i++) {
        tv v = tv_undef(NULL);
        bool have = false;
        if (i < npos) {
            v = pos[i];
            have = true;
        }
        for (int k = 0; k < nkw && !have; k++)
            if (strcmp(kwn[k], m->kw[i]) == 0) {
                v = kwv[k];
                have = true;
            }
        if (!have && m->args[i] && !eval(rc, m->args[i], &v))
            return false;
        if (!have && !m->args[i])
            v = rc_undef(rc, "'%s' is undefined", m->kw[i], "");
        if (!assign(rc, at, m->kw[i], v))
            return false;
    }
    sbuf buf = {0}, *saved = rc->out;
    sb_put(&buf, "", 0);
    rc->out = &buf;
    rc->macro_depth++;
    bool ok = exec_list(rc, m->body);
    rc->macro_depth--;
    rc->out = saved;
    rc->nscopes--;
    rc->brk = 0;
    if (ok) {
        char *p = buf.oom ? NULL : ar_strndup(&rc->ar, buf.p, buf.n);
        if (!p)
            ok = rc_oom(rc, at);
        else
            *out = tv_str(p, buf.n);
    }
    free(buf.p);
    return ok;
}

/* f(args): x.m(args) is a method call unless x is a dict holding a
 * callable under m (a namespace holding a macro); otherwise the callee
 * must be a macro or a global function. */
static bool eval_call(rctx *rc, const node *n, tv *out)
{
    targs a;
    if (n->a->kind == E_ATTR) {
        tv obj;
        if (!eval(rc, n->a->a, &obj))
            return false;
        if (obj.k == TV_UNDEF)
            return rc_undef_error(rc, n, obj);
        tv *member = obj.k == TV_DICT ? tv_dict_gets(obj.u.d, n->a->name) : NULL;
        if (!member || member->k != TV_FUNC) {
            if (!eval_args(rc, n, &a))
                return false;
            return bi_method(rc, n->a, obj, n->a->name, &a, out);
        }
    }
    tv f;
    if (!eval(rc, n->a, &f))
        return false;
    if (f.k == TV_UNDEF)
        return rc_undef_error(rc, n, f);
    if (f.k != TV_FUNC)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "'%s' object is not callable", tv_type_name(f));
    if (!eval_args(rc, n, &a))
        return false;
    if (f.u.fn->builtin == TF_MACRO)
        return rc_call_macro(rc, n, f.u.fn, a.pos, a.npos, a.kwn, a.kwv, a.nkw, out);
    return bi_global(rc, n, f.u.fn, &a, out);
}

/* ---------------------------------------------------------------- expressions */

static bool eval_seq(rctx *rc, const node *n, tv *out)
{
    if (n->kind == E_DICT) {
        tv d = tv_new_dict(&rc->ar);
        if (d.k != TV_DICT)
            return rc_oom(rc, n);
        for (int i = 0; i + 1 < n->nargs; i += 2) {
            tv k, v;
            if (!eval(rc, n->args[i], &k) || !eval(rc, n->args[i + 1], &v))
                return false;
            if (!tv_dict_set(&rc->ar, d.u.d, k, v))
                return rc_oom(rc, n);
        }
        *out = d;
        return true;
    }
    tv l = tv_new_list(&rc->ar, (size_t)n->nargs);
    if (l.k != TV_LIST)
        return rc_oom(rc, n);
    l.u.l->tuple = n->kind == E_TUPLE;
    for (int i = 0; i < n->nargs; i++) {
        tv v;
        if (!eval(rc, n->args[i], &v))
            return false;
        tv_list_push(&rc->ar, l.u.l, v);
    }
    *out = l;
    return true;
}

static bool eval_node(rctx *rc, const node *n, tv *out);

/* Every evaluation goes through here so that a left-deep chain such as
 * 1+1+...+1 (built by the parser's loops, not its recursion) cannot run
 * the C stack out. */
static bool eval(rctx *rc, const node *n, tv *out)
{
    if (rc->depth >= TMPL_MAX_DEPTH)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "expression nested too deeply (over %d levels)", TMPL_MAX_DEPTH);
    rc->depth++;
    bool ok = eval_node(rc, n, out);
    rc->depth--;
    return ok;
}

static bool eval_node(rctx *rc, const node *n, tv *out)
{
    tv a, b;
    targs args;
    switch (n->kind) {
    case E_LIT: *out = n->lit; return true;
    case E_NAME: *out = lookup(rc, n->name); return true;
    case E_ATTR:
        return eval(rc, n->a, &a) && ops_get_attr(rc, n, a, n->name, out);
    case E_ITEM:
        return eval(rc, n->a, &a) && eval(rc, n->b, &b) && ops_get_item(rc, n, a, b, out);
    case E_SLICE: return eval_slice(rc, n, out);
    case E_CALL: return eval_call(rc, n, out);
    case E_FILTER:
        return eval(rc, n->a, &a) && eval_args(rc, n, &args) && bi_filter(rc, n, n->name, a, &args, out);
    case E_TEST: {
        bool r;
        if (!eval(rc, n->a, &a) || !eval_args(rc, n, &args) || !bi_test(rc, n, n->name, a, &args, &r))
            return false;
        *out = tv_bool(n->neg ? !r : r);
        return true;
    }
    case E_NOT:
        if (!eval(rc, n->a, &a))
            return false;
        *out = tv_bool(!tv_truthy(a));
        return true;
    case E_NEG:
    case E_POS:
        if (!eval(rc, n->a, &a))
            return false;
        if (a.k == TV_INT && n->kind == E_NEG && a.u.i == INT64_MIN)
            return rc_fail(rc, n, CHORD_E_TEMPLATE, "integer overflow (chord's integers are 64-bit)");
        if (a.k == TV_INT) *out = tv_int(n->kind == E_NEG ? -a.u.i : a.u.i);
        else if (a.k == TV_FLOAT) *out = tv_float(n->kind == E_NEG ? -a.u.f : a.u.f);
        else if (a.k == TV_BOOL) *out = tv_int(n->kind == E_NEG ? -(int)a.u.b : a.u.b);
        else if (a.k == TV_UNDEF) return rc_undef_error(rc, n, a);
        else return rc_fail(rc, n, CHORD_E_TEMPLATE, "bad operand type for unary %c: '%s'", n->kind == E_NEG ? '-' : '+', tv_type_name(a));
        return true;
    case E_BIN:
        return eval(rc, n->a, &a) && eval(rc, n->b, &b) && ops_binop(rc, n, a, b, out);
    case E_AND:
    case E_OR:
        if (!eval(rc, n->a, &a))
            return false;
        if (tv_truthy(a) == (n->kind == E_OR)) {
            *out = a;
            return true;
        }
        return eval(rc, n->b, out);
    case E_COND:
        if (!eval(rc, n->b, &a))
            return false;
        if (tv_truthy(a))
            return eval(rc, n->a, out);
        if (n->c)
            return eval(rc, n->c, out);
        *out = tv_undef("the inline if expression had no else branch");
        return true;
    case E_LIST:
    case E_TUPLE:
    case E_DICT:
        return eval_seq(rc, n, out);
    default:
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "internal error: statement used as expression");
    }
}

/* ---------------------------------------------------------------- statements */

/* The items a for-loop walks: list items, dict keys, string characters. */
static bool iter_items(rctx *rc, const node *n, tv v, tv *out)
{
    if (v.k == TV_LIST) {
        *out = v;
        return true;
    }
    tv l = tv_new_list(&rc->ar, 0);
    if (l.k != TV_LIST)
        return rc_oom(rc, n);
    if (v.k == TV_DICT) {
        for (size_t i = 0; i < v.u.d->n; i++)
            if (!tv_list_push(&rc->ar, l.u.l, v.u.d->keys[i]))
                return rc_oom(rc, n);
    } else if (v.k == TV_STR) {
        for (size_t i = 0; i < v.u.s.n;) {
            size_t k = u8_offset(v.u.s.p + i, v.u.s.n - i, 1);
            if (!tv_list_push(&rc->ar, l.u.l, tv_str(v.u.s.p + i, k)))
                return rc_oom(rc, n);
            i += k;
        }
    } else if (v.k != TV_UNDEF) {
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "'%s' object is not iterable", tv_type_name(v));
    }
    *out = l;
    return true;
}

/* Binds a loop item to "x" or unpacks it into "k, v". */
static bool bind_targets(rctx *rc, const node *n, tv item)
{
    if (n->ntargets == 1)
        return assign(rc, n, n->targets[0], item);
    if (item.k != TV_LIST || item.u.l->n != (size_t)n->ntargets)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "cannot unpack %s into %d names", tv_type_name(item), n->ntargets);
    for (int i = 0; i < n->ntargets; i++)
        if (!assign(rc, n, n->targets[i], item.u.l->v[i]))
            return false;
    return true;
}

/* {% for %}: filter first (so loop.length counts kept items), the else
 * body when nothing is left, break/continue through rc->brk. */
static bool exec_for(rctx *rc, const node *n)
{
    tv seq, items = tv_none();
    if (!eval(rc, n->a, &seq) || !iter_items(rc, n, seq, &items))
        return false;
    if (n->b) {
        /* the loop filter runs first, so loop.length counts what is left */
        tv kept = tv_new_list(&rc->ar, items.u.l->n);
        if (kept.k != TV_LIST || !push_scope(rc, n))
            return kept.k == TV_LIST ? false : rc_oom(rc, n);
        for (size_t i = 0; i < items.u.l->n; i++) {
            tv c;
            if (!bind_targets(rc, n, items.u.l->v[i]) || !eval(rc, n->b, &c)) {
                rc->nscopes--;
                return false;
            }
            if (tv_truthy(c))
                tv_list_push(&rc->ar, kept.u.l, items.u.l->v[i]);
        }
        rc->nscopes--;
        items = kept;
    }
    size_t len = items.u.l->n;
    if (len == 0)
        return exec_list(rc, n->els);
    /* Per iteration only the loop object's values are new: the iteration
     * scope is one dict emptied each time (nothing can hold on to a scope),
     * and every loop object shares one key array (loop is not a namespace,
     * so its keys never change). Long conversations stay cheap. */
    static const char *const names[] = {"index", "index0", "revindex", "revindex0", "first", "last",
                                        "length", "previtem", "nextitem"};
    enum { N_LOOP_KEYS = sizeof names / sizeof *names };
    tv *keys = ar_alloc(&rc->ar, N_LOOP_KEYS * sizeof *keys);
    if (!keys || !push_scope(rc, n))
        return keys ? false : rc_oom(rc, n);
    tv_dict *scope = rc->scopes[--rc->nscopes];
    for (size_t k = 0; k < N_LOOP_KEYS; k++)
        keys[k] = tv_str(names[k], strlen(names[k]));
    for (size_t i = 0; i < len; i++) {
        if (++rc->steps > MAX_STEPS)
            return rc_fail(rc, n, CHORD_E_TEMPLATE, "template ran too long (more than %ld loop iterations)", MAX_STEPS);
        tv loop = tv_new_dict(&rc->ar);
        tv *vals = ar_alloc(&rc->ar, N_LOOP_KEYS * sizeof *vals);
        if (loop.k != TV_DICT || !vals)
            return rc_oom(rc, n);
        tv v[N_LOOP_KEYS] = {
            tv_int((int64_t)i + 1), tv_int((int64_t)i), tv_int((int64_t)(len - i)), tv_int((int64_t)(len - i - 1)),
            tv_bool(i == 0), tv_bool(i + 1 == len), tv_int((int64_t)len),
            i ? items.u.l->v[i - 1] : tv_undef("'previtem' is undefined"),
            i + 1 < len ? items.u.l->v[i + 1] : tv_undef("'nextitem' is undefined"),
        };
        memcpy(vals, v, sizeof v);
        loop.u.d->keys = keys;
        loop.u.d->vals = vals;
        loop.u.d->n = loop.u.d->cap = N_LOOP_KEYS;
        scope->n = 0;
        rc->scopes[rc->nscopes++] = scope;
        if (!assign(rc, n, "loop", loop) || !bind_targets(rc, n, items.u.l->v[i]))
            return false;
        bool ok = exec_list(rc, n->body);
        rc->nscopes--;
        if (!ok)
            return false;
        int brk = rc->brk;
        rc->brk = 0;
        if (brk == 1)
            break;
    }
    return true;
}

/* {% set x = v %}, {% set a, b = v %}, {% set ns.attr = v %} (namespaces
 * only, as in Jinja) and the block form {% set x %}...{% endset %}. */
static bool exec_set(rctx *rc, const node *n)
{
    tv v;
    if (n->kind == N_SETBLOCK) {
        sbuf buf = {0}, *saved = rc->out;
        sb_put(&buf, "", 0);
        rc->out = &buf;
        bool ok = exec_list(rc, n->body);
        rc->out = saved;
        char *p = ok && !buf.oom ? ar_strndup(&rc->ar, buf.p, buf.n) : NULL;
        size_t len = buf.n;
        free(buf.p);
        if (!ok)
            return false;
        if (!p)
            return rc_oom(rc, n);
        return assign(rc, n, n->targets[0], tv_str(p, len));
    }
    if (!eval(rc, n->a, &v))
        return false;
    if (n->attr) {
        tv obj = lookup(rc, n->targets[0]);
        if (obj.k != TV_DICT || !obj.u.d->ns)
            return rc_fail(rc, n, CHORD_E_TEMPLATE, "cannot assign attribute '%s' on '%s': not a namespace",
                           n->attr, n->targets[0]);
        if (!tv_dict_set(&rc->ar, obj.u.d, tv_str(n->attr, strlen(n->attr)), v))
            return rc_oom(rc, n);
        return true;
    }
    return bind_targets(rc, n, v);
}

static bool exec_node(rctx *rc, const node *n);

static bool exec_stmt(rctx *rc, const node *n)
{
    if (rc->depth >= TMPL_MAX_DEPTH)
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "blocks nested too deeply (over %d levels)", TMPL_MAX_DEPTH);
    rc->depth++;
    bool ok = exec_node(rc, n);
    rc->depth--;
    return ok;
}

static bool exec_node(rctx *rc, const node *n)
{
    tv v;
    switch (n->kind) {
    case N_TEXT:
        sb_put(rc->out, n->text, n->text_len);
        break;
    case N_OUTPUT:
        if (!eval(rc, n->a, &v))
            return false;
        tv_to_str(rc->out, v);
        break;
    case N_IF:
        if (!eval(rc, n->a, &v))
            return false;
        return exec_list(rc, tv_truthy(v) ? n->body : n->els);
    case N_FOR:
        return exec_for(rc, n);
    case N_SET:
    case N_SETBLOCK:
        return exec_set(rc, n);
    case N_MACRO: {
        tv_func *f = ar_alloc(&rc->ar, sizeof *f);
        if (!f)
            return rc_oom(rc, n);
        f->builtin = TF_MACRO;
        f->macro = n;
        v = tv_none();
        v.k = TV_FUNC;
        v.u.fn = f;
        return assign(rc, n, n->name, v);
    }
    case N_BREAK:
    case N_CONTINUE:
        rc->brk = n->kind == N_BREAK ? 1 : 2;
        break;
    case N_BLOCK:
        return exec_list(rc, n->body);
    default:
        return rc_fail(rc, n, CHORD_E_TEMPLATE, "internal error: expression used as statement");
    }
    if (rc->out->oom)
        return rc_oom(rc, n);
    if (rc->out->n > MAX_OUTPUT)
        return rc_fail(rc, n, CHORD_E_NOMEM, "output larger than %u bytes", MAX_OUTPUT);
    return true;
}

static bool exec_list(rctx *rc, const node *n)
{
    for (; n && !rc->brk; n = n->next)
        if (!exec_stmt(rc, n))
            return false;
    return true;
}

/* ---------------------------------------------------------------- entry points */

static tv from_json(rctx *rc, const chord_json *j)
{
    switch (j->type) {
    case CHORD_JSON_NULL: return tv_none();
    case CHORD_JSON_FALSE: return tv_bool(false);
    case CHORD_JSON_TRUE: return tv_bool(true);
    case CHORD_JSON_NUMBER:
        if (j->number == floor(j->number) && fabs(j->number) < 9e15)
            return tv_int((int64_t)j->number);
        return tv_float(j->number);
    case CHORD_JSON_STRING: return tv_str(j->string ? j->string : "", j->string ? j->len : 0);
    case CHORD_JSON_ARRAY: {
        tv l = tv_new_list(&rc->ar, j->len);
        if (l.k == TV_LIST)
            for (size_t i = 0; i < j->len; i++)
                tv_list_push(&rc->ar, l.u.l, from_json(rc, &j->items[i]));
        return l;
    }
    case CHORD_JSON_OBJECT: {
        tv d = tv_new_dict(&rc->ar);
        if (d.k == TV_DICT)
            for (size_t i = 0; i < j->len; i++)
                tv_dict_set(&rc->ar, d.u.d, tv_str(j->keys[i], strlen(j->keys[i])), from_json(rc, &j->items[i]));
        return d;
    }
    }
    return tv_none();
}

chord_status tmpl_render(const tmpl *t, const chord_json *ctx, char **out, size_t *out_len,
                         chord_err *err)
{
    if (!t || !out || (ctx && ctx->type != CHORD_JSON_OBJECT))
        return err_set(err, CHORD_E_INVALID, "tmpl_render: bad arguments");
    rctx *rc = calloc(1, sizeof *rc);
    if (!rc)
        return err_set(err, CHORD_E_NOMEM, "out of memory");
    rc->t = t;
    /* a runaway template (huge ranges, string doubling) stops here rather
     * than taking the machine's memory */
    rc->ar.limit = MAX_MEMORY;
    rc->err = err;
    sbuf buf = {0};
    sb_put(&buf, "", 0);
    rc->out = &buf;
    chord_status st = CHORD_OK;
    if (!push_scope(rc, NULL)) {
        st = rc->st;
    } else {
        if (ctx) {
            tv g = from_json(rc, ctx);
            if (g.k == TV_DICT)
                rc->scopes[0] = g.u.d;
        }
        if (rc->ar.oom)
            rc_oom(rc, NULL);
        else
            exec_list(rc, t->root);
        if (!rc->failed && buf.oom)
            rc_oom(rc, NULL);
        st = rc->failed ? rc->st : CHORD_OK;
    }
    ar_free(&rc->ar);
    free(rc);
    if (st != CHORD_OK) {
        free(buf.p);
        return st;
    }
    *out = buf.p;
    if (out_len)
        *out_len = buf.n;
    return CHORD_OK;
}

chord_status tmpl_parse(const char *src, size_t len, const char *name, tmpl **out, chord_err *err)
{
    tmpl *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(err, CHORD_E_NOMEM, "out of memory");
    if (name && *name)
        snprintf(t->name, sizeof t->name, "%s: ", name);
    chord_status st = tmpl_parse_src(t, src ? src : "", src ? len : 0, err);
    if (st != CHORD_OK) {
        tmpl_free(t);
        return st;
    }
    *out = t;
    return CHORD_OK;
}

void tmpl_free(tmpl *t)
{
    if (!t)
        return;
    ar_free(&t->ar);
    free(t);
}
