/*
 * tmpl_expr.c - the expression grammar, by recursive descent, with Jinja2's
 * operator precedence (lowest first): a if c else b, or, and, not,
 * comparisons and in, + -, ~, * / // %, **, unary - +, then primaries
 * with their postfixes (.attr [i] [a:b] (args)) and filters/tests
 * (|f(args), is [not] t).
 */
#include "core/err.h"
#include "tmpl/tmpl_int.h"

#include <stdlib.h>
#include <string.h>

tok *tp_cur(parser *P) { return &P->toks[P->i < P->n ? P->i : P->n - 1]; }
tok *tp_peek(parser *P, size_t k) { return &P->toks[P->i + k < P->n ? P->i + k : P->n - 1]; }

static const char *tok_desc(const tok *t)
{
    switch (t->k) {
    case T_TEXT: return "text";
    case T_VAR_BEGIN: return "'{{'";
    case T_VAR_END: return "'}}'";
    case T_BLOCK_BEGIN: return "'{%'";
    case T_BLOCK_END: return "'%}'";
    case T_STR: return "a string";
    case T_INT: case T_FLOAT: return "a number";
    case T_EOF: return "end of template";
    default: return NULL;
    }
}

/* Records a syntax error at token t; returns NULL so callers can return it. */
void *tp_pfail(parser *P, const tok *t, const char *fmt, const char *arg)
{
    if (!P->failed) {
        char what[200];
        snprintf(what, sizeof what, fmt, arg);
        err_set(P->err, CHORD_E_TEMPLATE, "%sline %d:%d: %s", P->t->name, t->line, t->col, what);
        P->failed = true;
    }
    return NULL;
}

void *tp_unexpected(parser *P, const char *expected)
{
    tok *t = tp_cur(P);
    char got[80];
    const char *d = tok_desc(t);
    if (d)
        snprintf(got, sizeof got, "%s", d);
    else
        snprintf(got, sizeof got, "'%.60s'", t->s);
    char msg[200];
    snprintf(msg, sizeof msg, "expected %s, got %s", expected, got);
    return tp_pfail(P, t, "%s", msg);
}

bool tp_is_op(parser *P, const char *op) { tok *t = tp_cur(P); return t->k == T_OP && strcmp(t->s, op) == 0; }
bool tp_is_name(parser *P, const char *nm) { tok *t = tp_cur(P); return t->k == T_NAME && strcmp(t->s, nm) == 0; }

bool tp_accept_op(parser *P, const char *op)
{
    if (!tp_is_op(P, op))
        return false;
    P->i++;
    return true;
}

bool tp_accept_name(parser *P, const char *nm)
{
    if (!tp_is_name(P, nm))
        return false;
    P->i++;
    return true;
}

bool tp_expect_op(parser *P, const char *op)
{
    if (tp_accept_op(P, op))
        return true;
    char what[16];
    snprintf(what, sizeof what, "'%s'", op);
    tp_unexpected(P, what);
    return false;
}

node *tp_mk(parser *P, node_kind k, const tok *at)
{
    node *n = ar_alloc(&P->t->ar, sizeof *n);
    if (!n)
        return tp_pfail(P, at, "%s", "out of memory");
    n->kind = k;
    n->line = at->line;
    n->col = at->col;
    return n;
}

/* -x and +x, then postfixes; as in Jinja the filters apply to the
 * negated value: -x | abs is (-x) | abs. */
static node *parse_unary(parser *P, bool with_filter);
/* Literals, names, (expr) or tuples, [lists] and {dicts}. */
static node *parse_primary(parser *P);

/* (args) after a callee, filter or test: positional expressions, then
 * name=value keywords. */
static bool parse_args(parser *P, node *n)
{
    node *args[32];
    const char *kw[32];
    int na = 0;
    if (!tp_expect_op(P, "("))
        return false;
    while (!tp_is_op(P, ")")) {
        if (na == 32) {
            tp_pfail(P, tp_cur(P), "%s", "too many arguments");
            return false;
        }
        kw[na] = NULL;
        if (tp_cur(P)->k == T_NAME && tp_peek(P, 1)->k == T_OP && strcmp(tp_peek(P, 1)->s, "=") == 0) {
            kw[na] = tp_cur(P)->s;
            P->i += 2;
        }
        args[na] = tp_expr(P);
        if (!args[na])
            return false;
        na++;
        if (!tp_accept_op(P, ","))
            break;
    }
    if (!tp_expect_op(P, ")"))
        return false;
    n->nargs = na;
    n->args = ar_alloc(&P->t->ar, (size_t)(na + 1) * sizeof *n->args);
    n->kw = ar_alloc(&P->t->ar, (size_t)(na + 1) * sizeof *n->kw);
    if (!n->args || !n->kw) {
        tp_pfail(P, tp_cur(P), "%s", "out of memory");
        return false;
    }
    memcpy(n->args, args, (size_t)na * sizeof *args);
    memcpy(n->kw, kw, (size_t)na * sizeof *kw);
    return true;
}

/* .name, .0, [i], [a:b:c] and (args) after a primary, left to right. */
static node *parse_postfix(parser *P, node *e)
{
    while (e) {
        tok *at = tp_cur(P);
        if (tp_accept_op(P, ".")) {
            tok *nm = tp_cur(P);
            node *n;
            if (nm->k == T_NAME) {
                n = tp_mk(P, E_ATTR, at);
                if (n) {
                    n->name = nm->s;
                    n->a = e;
                }
            } else if (nm->k == T_INT) {
                n = tp_mk(P, E_ITEM, at);
                if (n) {
                    n->a = e;
                    n->b = tp_mk(P, E_LIT, nm);
                    if (n->b)
                        n->b->lit = nm->lit;
                }
            } else {
                return tp_unexpected(P, "an attribute name after '.'");
            }
            P->i++;
            e = n;
        } else if (tp_accept_op(P, "[")) {
            node *parts[3] = {0};
            int k = 0;
            bool slice = false;
            for (;;) {
                if (!tp_is_op(P, ":") && !tp_is_op(P, "]")) {
                    parts[k] = tp_expr(P);
                    if (!parts[k])
                        return NULL;
                }
                if (k < 2 && tp_accept_op(P, ":")) {
                    slice = true;
                    k++;
                    continue;
                }
                break;
            }
            if (!tp_expect_op(P, "]"))
                return NULL;
            if (!slice && !parts[0])
                return tp_pfail(P, at, "%s", "empty subscript");
            node *n = tp_mk(P, slice ? E_SLICE : E_ITEM, at);
            if (!n)
                return NULL;
            n->a = e;
            n->b = parts[0];
            if (slice) {
                n->c = parts[1];
                n->els = parts[2];
            }
            e = n;
        } else if (tp_is_op(P, "(")) {
            node *n = tp_mk(P, E_CALL, at);
            if (!n)
                return NULL;
            n->a = e;
            if (!parse_args(P, n))
                return NULL;
            e = n;
        } else {
            break;
        }
    }
    return e;
}

/* Can the current token start a test's bare argument (is divisibleby 3)? */
static bool starts_test_arg(parser *P)
{
    tok *t = tp_cur(P);
    if (t->k == T_STR || t->k == T_INT || t->k == T_FLOAT)
        return true;
    if (t->k == T_NAME) {
        static const char *const kw[] = {"else", "or", "and", "not", "in", "is", "if", NULL};
        for (int i = 0; kw[i]; i++)
            if (strcmp(t->s, kw[i]) == 0)
                return false;
        return true;
    }
    return t->k == T_OP && (strcmp(t->s, "[") == 0 || strcmp(t->s, "{") == 0);
}

/* |filter(args), is [not] test [arg] and calls, which bind tighter than
 * every binary operator: a + b | trim is a + (b | trim). */
static node *parse_filters(parser *P, node *e)
{
    while (e) {
        tok *at = tp_cur(P);
        if (tp_accept_op(P, "|")) {
            if (tp_cur(P)->k != T_NAME)
                return tp_unexpected(P, "a filter name");
            node *n = tp_mk(P, E_FILTER, at);
            if (!n)
                return NULL;
            n->name = tp_cur(P)->s;
            n->a = e;
            P->i++;
            /* dotted filter names do not exist here; args are optional */
            if (tp_is_op(P, "(") && !parse_args(P, n))
                return NULL;
            e = n;
        } else if (tp_accept_name(P, "is")) {
            node *n = tp_mk(P, E_TEST, at);
            if (!n)
                return NULL;
            n->neg = tp_accept_name(P, "not");
            if (tp_cur(P)->k != T_NAME)
                return tp_unexpected(P, "a test name");
            n->name = tp_cur(P)->s;
            n->a = e;
            P->i++;
            if (tp_is_op(P, "(")) {
                if (!parse_args(P, n))
                    return NULL;
            } else if (starts_test_arg(P)) {
                node *arg = parse_postfix(P, parse_primary(P));
                if (!arg)
                    return NULL;
                n->args = ar_alloc(&P->t->ar, sizeof *n->args);
                n->kw = ar_alloc(&P->t->ar, sizeof *n->kw);
                if (!n->args || !n->kw)
                    return tp_pfail(P, at, "%s", "out of memory");
                n->args[0] = arg;
                n->nargs = 1;
            }
            e = n;
        } else if (tp_is_op(P, "(")) {
            e = parse_postfix(P, e);
        } else {
            break;
        }
    }
    return e;
}

/* [a, b], {k: v}, (a) or (a, b): items go to n->args (dict: k, v, k, v). */
static node *parse_seq(parser *P, node_kind k, const char *close, const tok *at)
{
    node *items[256];
    int na = 0;
    node *n = tp_mk(P, k, at);
    if (!n)
        return NULL;
    while (!tp_is_op(P, close)) {
        if (na >= 254)
            return tp_pfail(P, tp_cur(P), "%s", "literal too long");
        items[na] = tp_expr(P);
        if (!items[na++])
            return NULL;
        if (k == E_DICT) {
            if (!tp_expect_op(P, ":"))
                return NULL;
            items[na] = tp_expr(P);
            if (!items[na++])
                return NULL;
        }
        if (!tp_accept_op(P, ","))
            break;
    }
    if (!tp_expect_op(P, close))
        return NULL;
    n->args = ar_alloc(&P->t->ar, (size_t)(na + 1) * sizeof *n->args);
    if (!n->args)
        return tp_pfail(P, at, "%s", "out of memory");
    memcpy(n->args, items, (size_t)na * sizeof *items);
    n->nargs = na;
    return n;
}

static node *parse_primary(parser *P)
{
    tok *t = tp_cur(P);
    node *n;
    switch (t->k) {
    case T_NAME: {
        static const struct { const char *w; int v; } lits[] = {
            {"true", 1}, {"True", 1}, {"false", 0}, {"False", 0}, {"none", 2}, {"None", 2},
        };
        P->i++;
        for (size_t i = 0; i < sizeof lits / sizeof *lits; i++) {
            if (strcmp(t->s, lits[i].w) == 0) {
                n = tp_mk(P, E_LIT, t);
                if (n)
                    n->lit = lits[i].v == 2 ? tv_none() : tv_bool(lits[i].v);
                return n;
            }
        }
        n = tp_mk(P, E_NAME, t);
        if (n)
            n->name = t->s;
        return n;
    }
    case T_STR: {
        P->i++;
        n = tp_mk(P, E_LIT, t);
        if (!n)
            return NULL;
        n->lit = t->lit;
        /* adjacent literals concatenate: "a" "b" */
        while (tp_cur(P)->k == T_STR) {
            tv b = tp_cur(P)->lit;
            char *p = ar_alloc(&P->t->ar, n->lit.u.s.n + b.u.s.n + 1);
            if (!p)
                return tp_pfail(P, t, "%s", "out of memory");
            memcpy(p, n->lit.u.s.p, n->lit.u.s.n);
            memcpy(p + n->lit.u.s.n, b.u.s.p, b.u.s.n);
            n->lit = tv_str(p, n->lit.u.s.n + b.u.s.n);
            P->i++;
        }
        return n;
    }
    case T_INT:
    case T_FLOAT:
        P->i++;
        n = tp_mk(P, E_LIT, t);
        if (n)
            n->lit = t->lit;
        return n;
    case T_OP:
        if (tp_accept_op(P, "(")) {
            if (tp_accept_op(P, ")"))
                return tp_mk(P, E_TUPLE, t);
            node *e = tp_expr(P);
            if (!e)
                return NULL;
            if (tp_accept_op(P, ",")) {
                /* a tuple: collect the rest */
                node *rest = parse_seq(P, E_TUPLE, ")", t);
                if (!rest)
                    return NULL;
                node **all = ar_alloc(&P->t->ar, (size_t)(rest->nargs + 2) * sizeof *all);
                if (!all)
                    return tp_pfail(P, t, "%s", "out of memory");
                all[0] = e;
                memcpy(all + 1, rest->args, (size_t)rest->nargs * sizeof *all);
                rest->args = all;
                rest->nargs++;
                return rest;
            }
            if (!tp_expect_op(P, ")"))
                return NULL;
            return e;
        }
        if (tp_accept_op(P, "["))
            return parse_seq(P, E_LIST, "]", t);
        if (tp_accept_op(P, "{"))
            return parse_seq(P, E_DICT, "}", t);
        break;
    default:
        break;
    }
    return tp_unexpected(P, "an expression");
}

static node *parse_unary_at(parser *P, bool with_filter);

/* The recursive entry points (unary operators, parentheses, list and dict
 * literals, arguments all come back through here or tp_expr) count their
 * depth so hostile input cannot exhaust the C stack. */
static node *parse_unary(parser *P, bool with_filter)
{
    if (P->depth >= TMPL_MAX_DEPTH)
        return tp_pfail(P, tp_cur(P), "expression nested too deeply%s", "");
    P->depth++;
    node *e = parse_unary_at(P, with_filter);
    P->depth--;
    return e;
}

static node *parse_unary_at(parser *P, bool with_filter)
{
    tok *at = tp_cur(P);
    node *e;
    if (tp_accept_op(P, "-") || tp_accept_op(P, "+")) {
        e = tp_mk(P, strcmp(at->s, "-") == 0 ? E_NEG : E_POS, at);
        if (!e)
            return NULL;
        e->a = parse_unary(P, false);
        if (!e->a)
            return NULL;
    } else {
        e = parse_primary(P);
    }
    e = parse_postfix(P, e);
    return with_filter ? parse_filters(P, e) : e;
}

static node *mk_bin(parser *P, const tok *at, int op, node *l, node *r)
{
    if (!l || !r)
        return NULL;
    node *n = tp_mk(P, E_BIN, at);
    if (n) {
        n->op = op;
        n->a = l;
        n->b = r;
    }
    return n;
}

static node *parse_pow(parser *P)
{
    node *e = parse_unary(P, true);
    while (e && tp_is_op(P, "**")) {
        tok *at = tp_cur(P);
        P->i++;
        e = mk_bin(P, at, OP_POW, e, parse_unary(P, true));
    }
    return e;
}

static node *parse_math2(parser *P)
{
    node *e = parse_pow(P);
    for (;;) {
        tok *at = tp_cur(P);
        int op = tp_is_op(P, "*") ? OP_MUL : tp_is_op(P, "/") ? OP_DIV : tp_is_op(P, "//") ? OP_FLOORDIV
               : tp_is_op(P, "%") ? OP_MOD : -1;
        if (!e || op < 0)
            return e;
        P->i++;
        e = mk_bin(P, at, op, e, parse_pow(P));
    }
}

static node *parse_concat(parser *P)
{
    node *e = parse_math2(P);
    while (e && tp_is_op(P, "~")) {
        tok *at = tp_cur(P);
        P->i++;
        e = mk_bin(P, at, OP_CONCAT, e, parse_math2(P));
    }
    return e;
}

static node *parse_math1(parser *P)
{
    node *e = parse_concat(P);
    for (;;) {
        tok *at = tp_cur(P);
        int op = tp_is_op(P, "+") ? OP_ADD : tp_is_op(P, "-") ? OP_SUB : -1;
        if (!e || op < 0)
            return e;
        P->i++;
        e = mk_bin(P, at, op, e, parse_concat(P));
    }
}

/* Comparisons chain as in Python: a < b < c means a < b and b < c (b is
 * an expression without side effects here, so evaluating it twice is
 * harmless). */
static node *parse_compare(parser *P)
{
    node *e = parse_math1(P), *last = NULL;
    for (;;) {
        tok *at = tp_cur(P);
        int op = tp_is_op(P, "==") ? OP_EQ : tp_is_op(P, "!=") ? OP_NE : tp_is_op(P, "<") ? OP_LT
               : tp_is_op(P, "<=") ? OP_LE : tp_is_op(P, ">") ? OP_GT : tp_is_op(P, ">=") ? OP_GE
               : tp_is_name(P, "in") ? OP_IN : -1;
        if (op < 0 && tp_is_name(P, "not") && tp_peek(P, 1)->k == T_NAME && strcmp(tp_peek(P, 1)->s, "in") == 0) {
            op = OP_NOTIN;
            P->i++;
        }
        if (!e || op < 0)
            return e;
        P->i++;
        node *rhs = parse_math1(P);
        if (!last) {
            e = last = mk_bin(P, at, op, e, rhs);
            continue;
        }
        node *next = mk_bin(P, at, op, last->b, rhs);
        node *both = next ? tp_mk(P, E_AND, at) : NULL;
        if (!both)
            return NULL;
        both->a = e;
        both->b = next;
        e = both;
        last = next;
    }
}

static node *parse_not(parser *P)
{
    tok *at = tp_cur(P);
    if (tp_accept_name(P, "not")) {
        node *n = tp_mk(P, E_NOT, at);
        if (!n)
            return NULL;
        if (P->depth >= TMPL_MAX_DEPTH)
            return tp_pfail(P, at, "expression nested too deeply%s", "");
        P->depth++;
        n->a = parse_not(P);
        P->depth--;
        return n->a ? n : NULL;
    }
    return parse_compare(P);
}

static node *parse_and(parser *P)
{
    node *e = parse_not(P);
    while (e && tp_is_name(P, "and")) {
        tok *at = tp_cur(P);
        P->i++;
        node *r = parse_not(P);
        node *n = r ? tp_mk(P, E_AND, at) : NULL;
        if (!n)
            return NULL;
        n->a = e;
        n->b = r;
        e = n;
    }
    return e;
}

node *tp_or(parser *P)
{
    node *e = parse_and(P);
    while (e && tp_is_name(P, "or")) {
        tok *at = tp_cur(P);
        P->i++;
        node *r = parse_and(P);
        node *n = r ? tp_mk(P, E_OR, at) : NULL;
        if (!n)
            return NULL;
        n->a = e;
        n->b = r;
        e = n;
    }
    return e;
}

/* A full expression, with the a if c else b form. */
node *tp_expr(parser *P)
{
    node *e = tp_or(P);
    while (e && tp_is_name(P, "if")) {
        tok *at = tp_cur(P);
        P->i++;
        node *n = tp_mk(P, E_COND, at);
        if (!n)
            return NULL;
        n->a = e;
        n->b = tp_or(P);
        if (!n->b)
            return NULL;
        if (tp_accept_name(P, "else")) {
            n->c = tp_expr(P);
            if (!n->c)
                return NULL;
        }
        e = n;
    }
    return e;
}

