/*
 * tmpl_parse.c - statements: the text/{{ }}/{% %} structure of a template
 * (if/elif/else, for/else, set and block set, macro, break/continue,
 * generation) over the expression parser of tmpl_expr.c.
 */
#include "core/err.h"
#include "tmpl/tmpl_int.h"

#include <stdlib.h>
#include <string.h>

static node *parse_body(parser *P, const char *const *stops, const char **found);

static bool end_tag(parser *P)
{
    if (tp_cur(P)->k == T_BLOCK_END) {
        P->i++;
        return true;
    }
    tp_unexpected(P, "'%}'");
    return false;
}

/* Names separated by commas (for targets, set a, b = ...). */
static bool parse_targets(parser *P, node *n)
{
    const char *names[8];
    int k = 0;
    do {
        if (tp_cur(P)->k != T_NAME || k == 8) {
            tp_unexpected(P, "a variable name");
            return false;
        }
        names[k++] = tp_cur(P)->s;
        P->i++;
    } while (tp_accept_op(P, ","));
    n->targets = ar_alloc(&P->t->ar, (size_t)k * sizeof *n->targets);
    if (!n->targets) {
        tp_pfail(P, tp_cur(P), "%s", "out of memory");
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
    node *n = tp_mk(P, N_IF, at);
    if (!n || !(n->a = tp_expr(P)) || !end_tag(P))
        return NULL;
    const char *found = NULL;
    n->body = parse_body(P, stops, &found);
    if (P->failed)
        return NULL;
    if (strcmp(found, "elif") == 0) {
        tok *e = tp_cur(P);
        P->i++;
        /* each elif nests one level deeper (here and when run) */
        if (P->depth >= TMPL_MAX_DEPTH)
            return tp_pfail(P, e, "too many elif branches%s", "");
        P->depth++;
        n->els = parse_if(P, e);
        P->depth--;
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
    node *n = tp_mk(P, N_FOR, at);
    if (!n || !parse_targets(P, n))
        return NULL;
    if (!tp_accept_name(P, "in"))
        return tp_unexpected(P, "'in'");
    if (!(n->a = tp_or(P)))
        return NULL;
    if (tp_accept_name(P, "if") && !(n->b = tp_expr(P)))
        return NULL;
    if (tp_is_name(P, "recursive"))
        return tp_pfail(P, tp_cur(P), "%s", "recursive loops are not supported");
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
    node *n = tp_mk(P, N_SET, at);
    if (!n || !parse_targets(P, n))
        return NULL;
    if (n->ntargets == 1 && tp_accept_op(P, ".")) {
        if (tp_cur(P)->k != T_NAME)
            return tp_unexpected(P, "an attribute name");
        n->attr = tp_cur(P)->s;
        P->i++;
    }
    if (tp_accept_op(P, "=")) {
        if (!(n->a = tp_expr(P)))
            return NULL;
        if (n->ntargets > 1 && tp_is_op(P, ",")) {
            /* set a, b = x, y: the right side is a tuple */
            node *t = tp_mk(P, E_TUPLE, at);
            node *items[8] = {n->a};
            int k = 1;
            while (t && k < 8 && tp_accept_op(P, ","))
                if (!(items[k++] = tp_expr(P)))
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
        return tp_unexpected(P, "'='");
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
    node *n = tp_mk(P, N_MACRO, at);
    if (!n)
        return NULL;
    if (tp_cur(P)->k != T_NAME)
        return tp_unexpected(P, "a macro name");
    n->name = tp_cur(P)->s;
    P->i++;
    /* parameters: args[i] is the default (or NULL), kw[i] the name */
    node *defs[32];
    const char *names[32];
    int k = 0;
    if (!tp_expect_op(P, "("))
        return NULL;
    while (!tp_is_op(P, ")")) {
        if (tp_cur(P)->k != T_NAME || k == 32)
            return tp_unexpected(P, "a parameter name");
        names[k] = tp_cur(P)->s;
        defs[k] = NULL;
        P->i++;
        if (tp_accept_op(P, "=") && !(defs[k] = tp_expr(P)))
            return NULL;
        k++;
        if (!tp_accept_op(P, ","))
            break;
    }
    if (!tp_expect_op(P, ")") || !end_tag(P))
        return NULL;
    n->args = ar_alloc(&P->t->ar, (size_t)(k + 1) * sizeof *n->args);
    n->kw = ar_alloc(&P->t->ar, (size_t)(k + 1) * sizeof *n->kw);
    if (!n->args || !n->kw)
        return tp_pfail(P, at, "%s", "out of memory");
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
    tok *at = tp_cur(P);
    if (at->k != T_NAME)
        return tp_unexpected(P, "a tag name");
    P->i++;
    const char *w = at->s;
    if (strcmp(w, "if") == 0) return parse_if(P, at);
    if (strcmp(w, "for") == 0) return parse_for(P, at);
    if (strcmp(w, "set") == 0) return parse_set(P, at);
    if (strcmp(w, "macro") == 0) return parse_macro(P, at);
    if (strcmp(w, "break") == 0 || strcmp(w, "continue") == 0) {
        node *n = tp_mk(P, w[0] == 'b' ? N_BREAK : N_CONTINUE, at);
        return n && end_tag(P) ? n : NULL;
    }
    if (strcmp(w, "generation") == 0) {
        /* transformers' assistant-mask marker: renders its body as is */
        static const char *const end[] = {"endgeneration", NULL};
        const char *found;
        node *n = tp_mk(P, N_BLOCK, at);
        if (!n || !end_tag(P))
            return NULL;
        n->body = parse_body(P, end, &found);
        if (P->failed)
            return NULL;
        return close_tag(P) ? n : NULL;
    }
    return tp_pfail(P, at, "unknown or misplaced tag '%s'", w);
}

/* Statements until a {% stop %} tag (left unconsumed, name in *found) or
 * the end of the template (only allowed when stops is NULL). */
static node *parse_body_at(parser *P, const char *const *stops, const char **found);

/* Bodies nest through if/for/macro/set blocks: bounded like expressions. */
static node *parse_body(parser *P, const char *const *stops, const char **found)
{
    if (P->depth >= TMPL_MAX_DEPTH)
        return tp_pfail(P, tp_cur(P), "blocks nested too deeply%s", "");
    P->depth++;
    node *b = parse_body_at(P, stops, found);
    P->depth--;
    return b;
}

static node *parse_body_at(parser *P, const char *const *stops, const char **found)
{
    node *head = NULL, **tail = &head;
    while (!P->failed) {
        tok *t = tp_cur(P);
        node *n = NULL;
        if (t->k == T_EOF) {
            if (stops) {
                int last = 0;
                while (stops[last + 1])
                    last++;
                tp_pfail(P, t, "unexpected end of template: missing '{%% %s %%}'", stops[last]);
            }
            break;
        }
        if (t->k == T_TEXT) {
            P->i++;
            n = tp_mk(P, N_TEXT, t);
            if (n) {
                n->text = t->s;
                n->text_len = t->n;
            }
        } else if (t->k == T_VAR_BEGIN) {
            P->i++;
            n = tp_mk(P, N_OUTPUT, t);
            if (n && (n->a = tp_expr(P)) != NULL && tp_cur(P)->k != T_VAR_END)
                n = tp_unexpected(P, "'}}'");
            else if (n && n->a)
                P->i++;
            else
                n = NULL;
        } else if (t->k == T_BLOCK_BEGIN) {
            P->i++;
            tok *nm = tp_cur(P);
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
            n = tp_unexpected(P, "text or a tag");
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
