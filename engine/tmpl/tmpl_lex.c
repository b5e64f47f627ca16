/*
 * tmpl_lex.c - splits a template into tokens, applying Jinja's whitespace
 * rules as Hugging Face configures them (trim_blocks, lstrip_blocks,
 * keep_trailing_newline off) plus the explicit {%- -%} {{- -}} {#- -#}
 * and {%+ +%} markers, so the parser only ever sees final text.
 */
#include "core/err.h"
#include "tmpl/tmpl_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    tmpl *t;
    const char *s;        /* normalized source */
    size_t n, pos;
    tok *toks;
    size_t ntok, cap;
    chord_err *err;
    bool failed;
    size_t at_off;        /* where() resumes from here: tokens come in order */
    int at_line, at_col;
} lexer;

/* Line and column (in characters) of byte offset off, both from 1. */
static void where(lexer *L, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    size_t i = 0;
    if (off >= L->at_off && L->at_line) {
        i = L->at_off;
        l = L->at_line;
        c = L->at_col;
    }
    for (; i < off && i < L->n; i++) {
        if (L->s[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)L->s[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
    L->at_off = i;
    L->at_line = l;
    L->at_col = c;
}

static bool lfail(lexer *L, size_t off, const char *what)
{
    if (!L->failed) {
        int line, col;
        where(L, off, &line, &col);
        err_set(L->err, CHORD_E_TEMPLATE, "%sline %d:%d: %s", L->t->name, line, col, what);
        L->failed = true;
    }
    return false;
}

static tok *emit(lexer *L, tok_kind k, size_t off)
{
    if (L->ntok == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        tok *nt = ar_alloc(&L->t->ar, cap * sizeof *nt);
        if (!nt) {
            lfail(L, off, "out of memory");
            return NULL;
        }
        if (L->ntok)
            memcpy(nt, L->toks, L->ntok * sizeof *nt);
        L->toks = nt;
        L->cap = cap;
    }
    tok *t = &L->toks[L->ntok++];
    memset(t, 0, sizeof *t);
    t->k = k;
    where(L, off, &t->line, &t->col);
    return t;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_cp(sbuf *b, uint32_t cp)
{
    char u[4];
    if (cp < 0x80) { u[0] = (char)cp; sb_put(b, u, 1); }
    else if (cp < 0x800) { u[0] = (char)(0xc0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3f)); sb_put(b, u, 2); }
    else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)); sb_put(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); sb_put(b, u, 4);
    }
}

/* A quoted string literal with Python's unicode-escape rules (\n \t \xhh
 * \uXXXX \UXXXXXXXX, octal; an unknown escape keeps its backslash). */
static bool lex_string(lexer *L)
{
    size_t start = L->pos;
    char q = L->s[L->pos++];
    sbuf b = {0};
    sb_put(&b, "", 0);
    for (;;) {
        if (L->pos >= L->n) {
            free(b.p);
            return lfail(L, start, "unterminated string literal");
        }
        char c = L->s[L->pos++];
        if (c == q)
            break;
        if (c != '\\' || L->pos >= L->n) {
            sb_putc(&b, c);
            continue;
        }
        char e = L->s[L->pos++];
        int hex = 0;
        switch (e) {
        case 'n': sb_putc(&b, '\n'); break;
        case 't': sb_putc(&b, '\t'); break;
        case 'r': sb_putc(&b, '\r'); break;
        case 'a': sb_putc(&b, '\a'); break;
        case 'b': sb_putc(&b, '\b'); break;
        case 'f': sb_putc(&b, '\f'); break;
        case 'v': sb_putc(&b, '\v'); break;
        case '\\': sb_putc(&b, '\\'); break;
        case '\'': sb_putc(&b, '\''); break;
        case '"': sb_putc(&b, '"'); break;
        case '\n': break;
        case 'x': hex = 2; break;
        case 'u': hex = 4; break;
        case 'U': hex = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t v = (uint32_t)(e - '0');
                for (int i = 0; i < 2 && L->pos < L->n && L->s[L->pos] >= '0' && L->s[L->pos] <= '7'; i++)
                    v = v * 8 + (uint32_t)(L->s[L->pos++] - '0');
                put_cp(&b, v);
            } else {
                sb_putc(&b, '\\');
                sb_putc(&b, e);
            }
        }
        if (hex) {
            uint32_t v = 0;
            for (int i = 0; i < hex; i++) {
                int h = L->pos < L->n ? hexval(L->s[L->pos]) : -1;
                if (h < 0) {
                    free(b.p);
                    return lfail(L, L->pos, "truncated \\x/\\u escape in string literal");
                }
                v = v * 16 + (uint32_t)h;
                L->pos++;
            }
            if (v > 0x10ffff) {
                free(b.p);
                return lfail(L, L->pos, "escape outside the Unicode range");
            }
            put_cp(&b, v);
        }
    }
    tok *t = emit(L, T_STR, start);
    if (!t || b.oom) {
        free(b.p);
        return lfail(L, start, "out of memory");
    }
    char *p = ar_strndup(&L->t->ar, b.p, b.n);
    size_t n = b.n;
    free(b.p);
    if (!p)
        return lfail(L, start, "out of memory");
    t->lit = tv_str(p, n);
    return true;
}

static bool lex_number(lexer *L)
{
    size_t start = L->pos;
    char buf[64];
    size_t k = 0;
    bool is_float = false;
    /* room for two more characters (an exponent's 'e' and sign) and the NUL */
    while (L->pos < L->n && k < sizeof buf - 2) {
        char c = L->s[L->pos];
        if (isdigit((unsigned char)c)) {
            buf[k++] = c;
        } else if (c == '_') {
            /* digit separator */
        } else if (c == '.' && !is_float && L->pos + 1 < L->n && isdigit((unsigned char)L->s[L->pos + 1])) {
            is_float = true;
            buf[k++] = c;
        } else if ((c == 'e' || c == 'E') && L->pos + 1 < L->n &&
                   (isdigit((unsigned char)L->s[L->pos + 1]) ||
                    ((L->s[L->pos + 1] == '+' || L->s[L->pos + 1] == '-') && L->pos + 2 < L->n &&
                     isdigit((unsigned char)L->s[L->pos + 2])))) {
            is_float = true;
            buf[k++] = c;
            buf[k++] = L->s[++L->pos];
        } else {
            break;
        }
        L->pos++;
    }
    buf[k] = 0;
    if (L->pos < L->n && isdigit((unsigned char)L->s[L->pos]))
        return lfail(L, start, "number literal too long");
    tok *t = emit(L, is_float ? T_FLOAT : T_INT, start);
    if (!t)
        return false;
    t->lit = is_float ? tv_float(strtod(buf, NULL)) : tv_int(strtoll(buf, NULL, 10));
    return true;
}

static const char *const ops2[] = {"==", "!=", "<=", ">=", "//", "**"};

/* Tokens of one {{ }} or {% %} tag, up to and including its end marker.
 * Returns the end's whitespace flag: '-' (strip), '+' (keep) or 0. */
static bool lex_tag(lexer *L, bool block, char *end_flag)
{
    int depth = 0;
    for (;;) {
        while (L->pos < L->n && isspace((unsigned char)L->s[L->pos]))
            L->pos++;
        if (L->pos >= L->n)
            return lfail(L, L->pos, block ? "unexpected end of template: missing '%}'"
                                          : "unexpected end of template: missing '}}'");
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        char ec = block ? '%' : '}';
        /* "%}" cannot occur inside a block's expression, but "}}" can close
         * two dict literals inside {{ }}: that one counts brackets */
        if (block || depth == 0) {
            char flag = 0;
            size_t skip = 0;
            if ((p[0] == '-' || p[0] == '+') && left >= 3 && p[1] == ec && p[2] == '}') {
                flag = p[0];
                skip = 3;
            } else if (left >= 2 && p[0] == ec && p[1] == '}') {
                skip = 2;
            }
            if (skip) {
                if (!emit(L, block ? T_BLOCK_END : T_VAR_END, L->pos))
                    return false;
                L->pos += skip;
                *end_flag = flag;
                return true;
            }
        }
        char c = p[0];
        if (c == '\'' || c == '"') {
            if (!lex_string(L))
                return false;
        } else if (isdigit((unsigned char)c)) {
            if (!lex_number(L))
                return false;
        } else if (isalpha((unsigned char)c) || c == '_') {
            size_t s = L->pos;
            while (L->pos < L->n && (isalnum((unsigned char)L->s[L->pos]) || L->s[L->pos] == '_'))
                L->pos++;
            tok *t = emit(L, T_NAME, s);
            if (!t)
                return false;
            t->s = ar_strndup(&L->t->ar, L->s + s, L->pos - s);
            if (!t->s)
                return lfail(L, s, "out of memory");
        } else {
            size_t len = 0;
            for (size_t i = 0; i < sizeof ops2 / sizeof *ops2; i++)
                if (left >= 2 && p[0] == ops2[i][0] && p[1] == ops2[i][1])
                    len = 2;
            if (!len && c && strchr("+-*/%~|.,:()[]{}<>=", c))
                len = 1;
            if (!len) {
                char msg[64];
                if (c >= 0x20 && c < 0x7f)
                    snprintf(msg, sizeof msg, "unexpected character '%c'", c);
                else
                    snprintf(msg, sizeof msg, "unexpected byte 0x%02x", (unsigned char)c);
                return lfail(L, L->pos, msg);
            }
            if (c == '(' || c == '[' || c == '{')
                depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0)
                depth--;
            tok *t = emit(L, T_OP, L->pos);
            if (!t)
                return false;
            t->s = len == 2 ? (p[0] == '=' ? "==" : p[0] == '!' ? "!=" : p[0] == '<' ? "<=" : p[0] == '>' ? ">=" : p[0] == '/' ? "//" : "**")
                            : ar_strndup(&L->t->ar, p, 1);
            if (!t->s)
                return lfail(L, L->pos, "out of memory");
            L->pos += len;
        }
    }
}

/* Emits the text [a, b) after the whitespace rules: lead says what the
 * previous tag's end asks ('-' strip all, 'n' drop one newline), open is
 * the next tag ("{{", "{%", "{#" with its flag char, or NULL at the end). */
static bool emit_text(lexer *L, size_t a, size_t b, char lead, const char *open)
{
    if (lead == '-')
        while (a < b && isspace((unsigned char)L->s[a]))
            a++;
    else if (lead == 'n' && a < b && L->s[a] == '\n')
        a++;
    if (open) {
        char kind = open[1], flag = open[2];
        if (flag == '-') {
            while (b > a && isspace((unsigned char)L->s[b - 1]))
                b--;
        } else if (kind != '{' && flag != '+') {
            /* lstrip_blocks: spaces and tabs between a line start and a
             * block or comment tag go */
            size_t ls = b;
            while (ls > a && (L->s[ls - 1] == ' ' || L->s[ls - 1] == '\t'))
                ls--;
            if ((ls > a && L->s[ls - 1] == '\n') || (ls == a && (a == 0 || L->s[a - 1] == '\n')))
                b = ls;
        }
    }
    if (b <= a)
        return true;
    tok *t = emit(L, T_TEXT, a);
    if (!t)
        return false;
    t->s = L->s + a;
    t->n = b - a;
    return true;
}

/* After {% raw %}: everything up to {% endraw %} is text, tags included.
 * The whitespace rules apply at both ends as for any block tag, except
 * that a newline right after {% raw %} stays. */
static bool lex_raw(lexer *L, size_t raw_at, char *lead)
{
    for (size_t k = L->pos; k + 1 < L->n; k++) {
        if (L->s[k] != '{' || L->s[k + 1] != '%')
            continue;
        size_t p = k + 2;
        char flag = p < L->n && (L->s[p] == '-' || L->s[p] == '+') ? L->s[p++] : 0;
        while (p < L->n && isspace((unsigned char)L->s[p]))
            p++;
        if (L->n - p < 6 || memcmp(L->s + p, "endraw", 6) != 0)
            continue;
        p += 6;
        while (p < L->n && isspace((unsigned char)L->s[p]))
            p++;
        char eflag = 0;
        if (p < L->n && (L->s[p] == '-' || L->s[p] == '+'))
            eflag = L->s[p++];
        if (L->n - p < 2 || L->s[p] != '%' || L->s[p + 1] != '}')
            continue;
        /* Jinja keeps the newline after {% raw %} (no trim_blocks there) */
        char open[4] = {'{', '%', flag, 0};
        if (!emit_text(L, L->pos, k, *lead == '-' ? '-' : 0, open))
            return false;
        L->pos = p + 2;
        *lead = eflag == '-' ? '-' : eflag == '+' ? 0 : 'n';
        return true;
    }
    return lfail(L, raw_at, "unexpected end of template: missing '{% endraw %}'");
}

chord_status tmpl_lex(tmpl *t, const char *src, size_t len, tok **out, size_t *ntok, chord_err *err)
{
    lexer L = {.t = t, .err = err};
    /* newlines are normalized to \n and one trailing newline is dropped,
     * as Jinja does by default */
    char *s = ar_alloc(&t->ar, len + 1);
    if (!s)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", t->name);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n && s[n - 1] == '\n')
        n--;
    s[n] = 0;
    L.s = s;
    L.n = n;

    char lead = 0;
    while (!L.failed) {
        size_t at = L.pos;
        const char *open = NULL;
        while (at + 1 < L.n) {
            if (L.s[at] == '{' && (L.s[at + 1] == '{' || L.s[at + 1] == '%' || L.s[at + 1] == '#')) {
                open = L.s + at;
                break;
            }
            at++;
        }
        if (!open) {
            emit_text(&L, L.pos, L.n, lead, NULL);
            break;
        }
        char kind = open[1];
        char flag = at + 2 < L.n ? open[2] : 0;
        char oflag[4] = {'{', kind, (flag == '-' || flag == '+') ? flag : 0, 0};
        if (!emit_text(&L, L.pos, at, lead, oflag))
            break;
        L.pos = at + 2 + (oflag[2] ? 1 : 0);
        if (kind == '#') {
            const char *e = NULL;
            for (size_t k = L.pos; k + 1 < L.n && !e; k++)
                if (L.s[k] == '#' && L.s[k + 1] == '}')
                    e = L.s + k;
            if (!e) {
                lfail(&L, at, "unterminated comment");
                break;
            }
            lead = (e > L.s + L.pos && e[-1] == '-') ? '-' : 'n';
            L.pos = (size_t)(e - L.s) + 2;
            continue;
        }
        bool block = kind == '%';
        if (!emit(&L, block ? T_BLOCK_BEGIN : T_VAR_BEGIN, at))
            break;
        char ef = 0;
        if (!lex_tag(&L, block, &ef))
            break;
        lead = ef == '-' ? '-' : (block && ef != '+') ? 'n' : 0;
        if (block && L.ntok >= 3 && L.toks[L.ntok - 2].k == T_NAME && L.toks[L.ntok - 3].k == T_BLOCK_BEGIN &&
            strcmp(L.toks[L.ntok - 2].s, "raw") == 0) {
            L.ntok -= 3;
            if (!lex_raw(&L, at, &lead))
                break;
        }
    }
    if (!L.failed)
        emit(&L, T_EOF, L.n);
    if (L.failed)
        return CHORD_E_TEMPLATE;
    *out = L.toks;
    *ntok = L.ntok;
    return CHORD_OK;
}
