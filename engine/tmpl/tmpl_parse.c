/*
 * tmpl_parse.c - tokens to an AST, by recursive descent, with Jinja2's
 * operator precedence (lowest first): a if c else b, or, and, not,
 * comparisons and in, + -, ~, * / // %, **, unary - +, then primaries
 * with their postfixes (.attr [i] [a:b] (args)) and filters/tests
 * (|f(args), is [not] t).
 */
#include "core/err.h"
#include "tmpl/tmpl_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    tmpl *t;
    tok *toks;
    size_t n, i;
    chord_err *err;
    bool failed;
} parser;

static tok *cur(parser *P) { return &P->toks[P->i < P->n ? P->i : P->n - 1]; }
static tok *peek(parser *P, size_t k) { return &P->toks[P->i + k < P->n ? P->i + k : P->n - 1]; }

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
static void *pfail(parser *P, const tok *t, const char *fmt, const char *arg)
{
    if (!P->failed) {
        char what[200];
        snprintf(what, sizeof what, fmt, arg);
        err_set(P->err, CHORD_E_TEMPLATE, "%sline %d:%d: %s", P->t->name, t->line, t->col, what);
        P->failed = true;
    }
    return NULL;
}

static void *unexpected(parser *P, const char *expected)
{
    tok *t = cur(P);
    char got[80];
    const char *d = tok_desc(t);
    if (d)
        snprintf(got, sizeof got, "%s", d);
    else
        snprintf(got, sizeof got, "'%.60s'", t->s);
    char msg[200];
    snprintf(msg, sizeof msg, "expected %s, got %s", expected, got);
    return pfail(P, t, "%s", msg);
}

static bool is_op(parser *P, const char *op) { tok *t = cur(P); return t->k == T_OP && strcmp(t->s, op) == 0; }
static bool is_name(parser *P, const char *nm) { tok *t = cur(P); return t->k == T_NAME && strcmp(t->s, nm) == 0; }

static bool accept_op(parser *P, const char *op)
{
    if (!is_op(P, op))
        return false;
    P->i++;
    return true;
}

static bool accept_name(parser *P, const char *nm)
{
    if (!is_name(P, nm))
        return false;
    P->i++;
    return true;
}

static bool expect_op(parser *P, const char *op)
{
    if (accept_op(P, op))
        return true;
    char what[16];
    snprintf(what, sizeof what, "'%s'", op);
    unexpected(P, what);
    return false;
}

static node *mk(parser *P, node_kind k, const tok *at)
{
    node *n = ar_alloc(&P->t->ar, sizeof *n);
    if (!n)
        return pfail(P, at, "%s", "out of memory");
    n->kind = k;
    n->line = at->line;
    n->col = at->col;
    return n;
}

static node *parse_expr(parser *P);
static node *parse_or(parser *P);
static node *parse_unary(parser *P, bool with_filter);
static node *parse_primary(parser *P);

/* (args) after a callee, filter or test: positional expressions, then
 * name=value keywords. */
static bool parse_args(parser *P, node *n)
{
    node *args[32];
    const char *kw[32];
    int na = 0;
    if (!expect_op(P, "("))
        return false;
    while (!is_op(P, ")")) {
        if (na == 32) {
            pfail(P, cur(P), "%s", "too many arguments");
            return false;
        }
        kw[na] = NULL;
        if (cur(P)->k == T_NAME && peek(P, 1)->k == T_OP && strcmp(peek(P, 1)->s, "=") == 0) {
            kw[na] = cur(P)->s;
            P->i += 2;
        }
        args[na] = parse_expr(P);
        if (!args[na])
            return false;
        na++;
        if (!accept_op(P, ","))
            break;
    }
    if (!expect_op(P, ")"))
        return false;
    n->nargs = na;
    n->args = ar_alloc(&P->t->ar, (size_t)(na + 1) * sizeof *n->args);
    n->kw = ar_alloc(&P->t->ar, (size_t)(na + 1) * sizeof *n->kw);
    if (!n->args || !n->kw) {
        pfail(P, cur(P), "%s", "out of memory");
        return false;
    }
    memcpy(n->args, args, (size_t)na * sizeof *args);
    memcpy(n->kw, kw, (size_t)na * sizeof *kw);
    return true;
}

static node *parse_postfix(parser *P, node *e)
{
    while (e) {
        tok *at = cur(P);
        if (accept_op(P, ".")) {
            tok *nm = cur(P);
            node *n;
            if (nm->k == T_NAME) {
                n = mk(P, E_ATTR, at);
                if (n) {
                    n->name = nm->s;
                    n->a = e;
                }
            } else if (nm->k == T_INT) {
                n = mk(P, E_ITEM, at);
                if (n) {
                    n->a = e;
                    n->b = mk(P, E_LIT, nm);
                    if (n->b)
                        n->b->lit = nm->lit;
                }
            } else {
                return unexpected(P, "an attribute name after '.'");
            }
            P->i++;
            e = n;
        } else if (accept_op(P, "[")) {
            node *parts[3] = {0};
            int k = 0;
            bool slice = false;
            for (;;) {
                if (!is_op(P, ":") && !is_op(P, "]")) {
                    parts[k] = parse_expr(P);
                    if (!parts[k])
                        return NULL;
                }
                if (k < 2 && accept_op(P, ":")) {
                    slice = true;
                    k++;
                    continue;
                }
                break;
            }
            if (!expect_op(P, "]"))
                return NULL;
            if (!slice && !parts[0])
                return pfail(P, at, "%s", "empty subscript");
            node *n = mk(P, slice ? E_SLICE : E_ITEM, at);
            if (!n)
                return NULL;
            n->a = e;
            n->b = parts[0];
            if (slice) {
                n->c = parts[1];
                n->els = parts[2];
            }
            e = n;
        } else if (is_op(P, "(")) {
            node *n = mk(P, E_CALL, at);
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
    tok *t = cur(P);
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

static node *parse_filters(parser *P, node *e)
{
    while (e) {
        tok *at = cur(P);
        if (accept_op(P, "|")) {
            if (cur(P)->k != T_NAME)
                return unexpected(P, "a filter name");
            node *n = mk(P, E_FILTER, at);
            if (!n)
                return NULL;
            n->name = cur(P)->s;
            n->a = e;
            P->i++;
            /* dotted filter names do not exist here; args are optional */
            if (is_op(P, "(") && !parse_args(P, n))
                return NULL;
            e = n;
        } else if (accept_name(P, "is")) {
            node *n = mk(P, E_TEST, at);
            if (!n)
                return NULL;
            n->neg = accept_name(P, "not");
            if (cur(P)->k != T_NAME)
                return unexpected(P, "a test name");
            n->name = cur(P)->s;
            n->a = e;
            P->i++;
            if (is_op(P, "(")) {
                if (!parse_args(P, n))
                    return NULL;
            } else if (starts_test_arg(P)) {
                node *arg = parse_postfix(P, parse_primary(P));
                if (!arg)
                    return NULL;
                n->args = ar_alloc(&P->t->ar, sizeof *n->args);
                n->kw = ar_alloc(&P->t->ar, sizeof *n->kw);
                if (!n->args || !n->kw)
                    return pfail(P, at, "%s", "out of memory");
                n->args[0] = arg;
                n->nargs = 1;
            }
            e = n;
        } else if (is_op(P, "(")) {
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
    node *n = mk(P, k, at);
    if (!n)
        return NULL;
    while (!is_op(P, close)) {
        if (na >= 254)
            return pfail(P, cur(P), "%s", "literal too long");
        items[na] = parse_expr(P);
        if (!items[na++])
            return NULL;
        if (k == E_DICT) {
            if (!expect_op(P, ":"))
                return NULL;
            items[na] = parse_expr(P);
            if (!items[na++])
                return NULL;
        }
        if (!accept_op(P, ","))
            break;
    }
    if (!expect_op(P, close))
        return NULL;
    n->args = ar_alloc(&P->t->ar, (size_t)(na + 1) * sizeof *n->args);
    if (!n->args)
        return pfail(P, at, "%s", "out of memory");
    memcpy(n->args, items, (size_t)na * sizeof *items);
    n->nargs = na;
    return n;
}

static node *parse_primary(parser *P)
{
    tok *t = cur(P);
    node *n;
    switch (t->k) {
    case T_NAME: {
        static const struct { const char *w; int v; } lits[] = {
            {"true", 1}, {"True", 1}, {"false", 0}, {"False", 0}, {"none", 2}, {"None", 2},
        };
        P->i++;
        for (size_t i = 0; i < sizeof lits / sizeof *lits; i++) {
            if (strcmp(t->s, lits[i].w) == 0) {
                n = mk(P, E_LIT, t);
                if (n)
                    n->lit = lits[i].v == 2 ? tv_none() : tv_bool(lits[i].v);
                return n;
            }
        }
        n = mk(P, E_NAME, t);
        if (n)
            n->name = t->s;
        return n;
    }
    case T_STR: {
        P->i++;
        n = mk(P, E_LIT, t);
        if (!n)
            return NULL;
        n->lit = t->lit;
        /* adjacent literals concatenate: "a" "b" */
        while (cur(P)->k == T_STR) {
            tv b = cur(P)->lit;
            char *p = ar_alloc(&P->t->ar, n->lit.u.s.n + b.u.s.n + 1);
            if (!p)
                return pfail(P, t, "%s", "out of memory");
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
        n = mk(P, E_LIT, t);
        if (n)
            n->lit = t->lit;
        return n;
    case T_OP:
        if (accept_op(P, "(")) {
            if (accept_op(P, ")"))
                return mk(P, E_TUPLE, t);
            node *e = parse_expr(P);
            if (!e)
                return NULL;
            if (accept_op(P, ",")) {
                /* a tuple: collect the rest */
                node *rest = parse_seq(P, E_TUPLE, ")", t);
                if (!rest)
                    return NULL;
                node **all = ar_alloc(&P->t->ar, (size_t)(rest->nargs + 2) * sizeof *all);
                if (!all)
                    return pfail(P, t, "%s", "out of memory");
                all[0] = e;
                memcpy(all + 1, rest->args, (size_t)rest->nargs * sizeof *all);
                rest->args = all;
                rest->nargs++;
                return rest;
            }
            if (!expect_op(P, ")"))
                return NULL;
            return e;
        }
        if (accept_op(P, "["))
            return parse_seq(P, E_LIST, "]", t);
        if (accept_op(P, "{"))
            return parse_seq(P, E_DICT, "}", t);
        break;
    default:
        break;
    }
    return unexpected(P, "an expression");
}

static node *parse_unary(parser *P, bool with_filter)
{
    tok *at = cur(P);
    node *e;
    if (accept_op(P, "-") || accept_op(P, "+")) {
        e = mk(P, strcmp(at->s, "-") == 0 ? E_NEG : E_POS, at);
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
    node *n = mk(P, E_BIN, at);
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
    while (e && is_op(P, "**")) {
        tok *at = cur(P);
        P->i++;
        e = mk_bin(P, at, OP_POW, e, parse_unary(P, true));
    }
    return e;
}

static node *parse_math2(parser *P)
{
    node *e = parse_pow(P);
    for (;;) {
        tok *at = cur(P);
        int op = is_op(P, "*") ? OP_MUL : is_op(P, "/") ? OP_DIV : is_op(P, "//") ? OP_FLOORDIV
               : is_op(P, "%") ? OP_MOD : -1;
        if (!e || op < 0)
            return e;
        P->i++;
        e = mk_bin(P, at, op, e, parse_pow(P));
    }
}

static node *parse_concat(parser *P)
{
    node *e = parse_math2(P);
    while (e && is_op(P, "~")) {
        tok *at = cur(P);
        P->i++;
        e = mk_bin(P, at, OP_CONCAT, e, parse_math2(P));
    }
    return e;
}

static node *parse_math1(parser *P)
{
    node *e = parse_concat(P);
    for (;;) {
        tok *at = cur(P);
        int op = is_op(P, "+") ? OP_ADD : is_op(P, "-") ? OP_SUB : -1;
        if (!e || op < 0)
            return e;
        P->i++;
        e = mk_bin(P, at, op, e, parse_concat(P));
    }
}

static node *parse_compare(parser *P)
{
    node *e = parse_math1(P);
    for (;;) {
        tok *at = cur(P);
        int op = is_op(P, "==") ? OP_EQ : is_op(P, "!=") ? OP_NE : is_op(P, "<") ? OP_LT
               : is_op(P, "<=") ? OP_LE : is_op(P, ">") ? OP_GT : is_op(P, ">=") ? OP_GE
               : is_name(P, "in") ? OP_IN : -1;
        if (op < 0 && is_name(P, "not") && peek(P, 1)->k == T_NAME && strcmp(peek(P, 1)->s, "in") == 0) {
            op = OP_NOTIN;
            P->i++;
        }
        if (!e || op < 0)
            return e;
        P->i++;
        e = mk_bin(P, at, op, e, parse_math1(P));
    }
}

static node *parse_not(parser *P)
{
    tok *at = cur(P);
    if (accept_name(P, "not")) {
        node *n = mk(P, E_NOT, at);
        if (!n)
            return NULL;
        n->a = parse_not(P);
        return n->a ? n : NULL;
    }
    return parse_compare(P);
}

static node *parse_and(parser *P)
{
    node *e = parse_not(P);
    while (e && is_name(P, "and")) {
        tok *at = cur(P);
        P->i++;
        node *r = parse_not(P);
        node *n = r ? mk(P, E_AND, at) : NULL;
        if (!n)
            return NULL;
        n->a = e;
        n->b = r;
        e = n;
    }
    return e;
}

static node *parse_or(parser *P)
{
    node *e = parse_and(P);
    while (e && is_name(P, "or")) {
        tok *at = cur(P);
        P->i++;
        node *r = parse_and(P);
        node *n = r ? mk(P, E_OR, at) : NULL;
        if (!n)
            return NULL;
        n->a = e;
        n->b = r;
        e = n;
    }
    return e;
}

/* A full expression, with the a if c else b form. */
static node *parse_expr(parser *P)
{
    node *e = parse_or(P);
    while (e && is_name(P, "if")) {
        tok *at = cur(P);
        P->i++;
        node *n = mk(P, E_COND, at);
        if (!n)
            return NULL;
        n->a = e;
        n->b = parse_or(P);
        if (!n->b)
            return NULL;
        if (accept_name(P, "else")) {
            n->c = parse_expr(P);
            if (!n->c)
                return NULL;
        }
        e = n;
    }
    return e;
}

/* ---------------------------------------------------------------- statements */

static node *parse_body(parser *P, const char *const *stops, const char **found);

static bool end_tag(parser *P)
{
    if (cur(P)->k == T_BLOCK_END) {
        P->i++;
        return true;
    }
    unexpected(P, "'%}'");
    return false;
}

/* Names separated by commas (for targets, set a, b = ...). */
static bool parse_targets(parser *P, node *n)
{
    const char *names[8];
    int k = 0;
    do {
        if (cur(P)->k != T_NAME || k == 8) {
            unexpected(P, "a variable name");
            return false;
        }
        names[k++] = cur(P)->s;
        P->i++;
    } while (accept_op(P, ","));
    n->targets = ar_alloc(&P->t->ar, (size_t)k * sizeof *n->targets);
    if (!n->targets) {
        pfail(P, cur(P), "%s", "out of memory");
        return false;
    }
    memcpy(n->targets, names, (size_t)k * sizeof *names);
    n->ntargets = k;
    return true;
}

/* Consumes "{% endX %}" after parse_body stopped on it. */
static bool close_tag(parser *P)
{
    P->i++;
    return end_tag(P);
}

static node *parse_if(parser *P, tok *at)
{
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    node *n = mk(P, N_IF, at);
    if (!n || !(n->a = parse_expr(P)) || !end_tag(P))
        return NULL;
    const char *found = NULL;
    n->body = parse_body(P, stops, &found);
    if (P->failed)
        return NULL;
    if (strcmp(found, "elif") == 0) {
        tok *e = cur(P);
        P->i++;
        n->els = parse_if(P, e);
        return n->els ? n : NULL;
    }
    if (strcmp(found, "else") == 0) {
        static const char *const end[] = {"endif", NULL};
        if (!close_tag(P))
            return NULL;
        n->els = parse_body(P, end, &found);
        if (P->failed)
            return NULL;
    }
    return close_tag(P) ? n : NULL;
}

static node *parse_for(parser *P, tok *at)
{
    static const char *const stops[] = {"else", "endfor", NULL};
    node *n = mk(P, N_FOR, at);
    if (!n || !parse_targets(P, n))
        return NULL;
    if (!accept_name(P, "in"))
        return unexpected(P, "'in'");
    if (!(n->a = parse_or(P)))
        return NULL;
    if (accept_name(P, "if") && !(n->b = parse_expr(P)))
        return NULL;
    if (is_name(P, "recursive"))
        return pfail(P, cur(P), "%s", "recursive loops are not supported");
    if (!end_tag(P))
        return NULL;
    const char *found = NULL;
    n->body = parse_body(P, stops, &found);
    if (P->failed)
        return NULL;
    if (strcmp(found, "else") == 0) {
        static const char *const end[] = {"endfor", NULL};
        if (!close_tag(P))
            return NULL;
        n->els = parse_body(P, end, &found);
        if (P->failed)
            return NULL;
    }
    return close_tag(P) ? n : NULL;
}

static node *parse_set(parser *P, tok *at)
{
    node *n = mk(P, N_SET, at);
    if (!n || !parse_targets(P, n))
        return NULL;
    if (n->ntargets == 1 && accept_op(P, ".")) {
        if (cur(P)->k != T_NAME)
            return unexpected(P, "an attribute name");
        n->attr = cur(P)->s;
        P->i++;
    }
    if (accept_op(P, "=")) {
        if (!(n->a = parse_expr(P)))
            return NULL;
        if (n->ntargets > 1 && is_op(P, ",")) {
            /* set a, b = x, y: the right side is a tuple */
            node *t = mk(P, E_TUPLE, at);
            node *items[8] = {n->a};
            int k = 1;
            while (t && k < 8 && accept_op(P, ","))
                if (!(items[k++] = parse_expr(P)))
                    return NULL;
            if (!t || !(t->args = ar_alloc(&P->t->ar, (size_t)k * sizeof *items)))
                return NULL;
            memcpy(t->args, items, (size_t)k * sizeof *items);
            t->nargs = k;
            n->a = t;
        }
        return end_tag(P) ? n : NULL;
    }
    if (n->ntargets != 1 || n->attr)
        return unexpected(P, "'='");
    static const char *const end[] = {"endset", NULL};
    const char *found;
    n->kind = N_SETBLOCK;
    if (!end_tag(P))
        return NULL;
    n->body = parse_body(P, end, &found);
    if (P->failed)
        return NULL;
    return close_tag(P) ? n : NULL;
}

static node *parse_macro(parser *P, tok *at)
{
    node *n = mk(P, N_MACRO, at);
    if (!n)
        return NULL;
    if (cur(P)->k != T_NAME)
        return unexpected(P, "a macro name");
    n->name = cur(P)->s;
    P->i++;
    /* parameters: args[i] is the default (or NULL), kw[i] the name */
    node *defs[32];
    const char *names[32];
    int k = 0;
    if (!expect_op(P, "("))
        return NULL;
    while (!is_op(P, ")")) {
        if (cur(P)->k != T_NAME || k == 32)
            return unexpected(P, "a parameter name");
        names[k] = cur(P)->s;
        defs[k] = NULL;
        P->i++;
        if (accept_op(P, "=") && !(defs[k] = parse_expr(P)))
            return NULL;
        k++;
        if (!accept_op(P, ","))
            break;
    }
    if (!expect_op(P, ")") || !end_tag(P))
        return NULL;
    n->args = ar_alloc(&P->t->ar, (size_t)(k + 1) * sizeof *n->args);
    n->kw = ar_alloc(&P->t->ar, (size_t)(k + 1) * sizeof *n->kw);
    if (!n->args || !n->kw)
        return pfail(P, at, "%s", "out of memory");
    memcpy(n->args, defs, (size_t)k * sizeof *defs);
    memcpy(n->kw, names, (size_t)k * sizeof *names);
    n->nargs = k;
    static const char *const end[] = {"endmacro", NULL};
    const char *found;
    n->body = parse_body(P, end, &found);
    if (P->failed)
        return NULL;
    return close_tag(P) ? n : NULL;
}

static node *parse_stmt(parser *P)
{
    tok *at = cur(P);
    if (at->k != T_NAME)
        return unexpected(P, "a tag name");
    P->i++;
    const char *w = at->s;
    if (strcmp(w, "if") == 0) return parse_if(P, at);
    if (strcmp(w, "for") == 0) return parse_for(P, at);
    if (strcmp(w, "set") == 0) return parse_set(P, at);
    if (strcmp(w, "macro") == 0) return parse_macro(P, at);
    if (strcmp(w, "break") == 0 || strcmp(w, "continue") == 0) {
        node *n = mk(P, w[0] == 'b' ? N_BREAK : N_CONTINUE, at);
        return n && end_tag(P) ? n : NULL;
    }
    if (strcmp(w, "generation") == 0) {
        /* transformers' assistant-mask marker: renders its body as is */
        static const char *const end[] = {"endgeneration", NULL};
        const char *found;
        node *n = mk(P, N_BLOCK, at);
        if (!n || !end_tag(P))
            return NULL;
        n->body = parse_body(P, end, &found);
        if (P->failed)
            return NULL;
        return close_tag(P) ? n : NULL;
    }
    return pfail(P, at, "unknown or misplaced tag '%s'", w);
}

/* Statements until a {% stop %} tag (left unconsumed, name in *found) or
 * the end of the template (only allowed when stops is NULL). */
static node *parse_body(parser *P, const char *const *stops, const char **found)
{
    node *head = NULL, **tail = &head;
    while (!P->failed) {
        tok *t = cur(P);
        node *n = NULL;
        if (t->k == T_EOF) {
            if (stops) {
                int last = 0;
                while (stops[last + 1])
                    last++;
                pfail(P, t, "unexpected end of template: missing '{%% %s %%}'", stops[last]);
            }
            break;
        }
        if (t->k == T_TEXT) {
            P->i++;
            n = mk(P, N_TEXT, t);
            if (n) {
                n->text = t->s;
                n->text_len = t->n;
            }
        } else if (t->k == T_VAR_BEGIN) {
            P->i++;
            n = mk(P, N_OUTPUT, t);
            if (n && (n->a = parse_expr(P)) != NULL && cur(P)->k != T_VAR_END)
                n = unexpected(P, "'}}'");
            else if (n && n->a)
                P->i++;
            else
                n = NULL;
        } else if (t->k == T_BLOCK_BEGIN) {
            P->i++;
            tok *nm = cur(P);
            if (nm->k == T_NAME && stops) {
                for (int i = 0; stops[i]; i++) {
                    if (strcmp(nm->s, stops[i]) == 0) {
                        *found = stops[i];
                        return head;
                    }
                }
            }
            n = parse_stmt(P);
        } else {
            n = unexpected(P, "text or a tag");
        }
        if (!n)
            break;
        *tail = n;
        tail = &n->next;
    }
    return head;
}

chord_status tmpl_parse_src(tmpl *t, const char *src, size_t len, chord_err *err)
{
    parser P = {.t = t, .err = err};
    chord_status st = tmpl_lex(t, src, len, &P.toks, &P.n, err);
    if (st != CHORD_OK)
        return st;
    t->root = parse_body(&P, NULL, NULL);
    if (P.failed)
        return t->ar.oom ? CHORD_E_NOMEM : CHORD_E_TEMPLATE;
    return CHORD_OK;
}
