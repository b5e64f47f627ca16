/*
 * tmpl_int.h - the inside of the template module: values, arenas, the AST,
 * and the functions the lexer/parser, evaluator and builtins share.
 *
 * Only the files of engine/tmpl include this; everyone else uses tmpl.h.
 *
 * Memory: a parsed template owns one arena (its tokens, AST and literal
 * strings); a render owns another (every value it makes). Nothing inside a
 * render is freed one by one, so values are plain structs copied by value,
 * and lists/dicts are shared by pointer like Python objects.
 */
#ifndef CHORD_TMPL_INT_H
#define CHORD_TMPL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"
#include "tmpl/tmpl.h"

/* ---------------------------------------------------------------- arena */

typedef struct ar_blk ar_blk;
typedef struct arena {
    ar_blk *head;
    bool oom;          /* an allocation failed: the caller reports NOMEM */
    size_t used;       /* bytes taken from malloc so far */
    size_t limit;      /* 0 = none; past it allocations fail */
    bool over_limit;   /* an allocation failed because of limit */
} arena;

void *ar_alloc(arena *a, size_t n);              /* zeroed; NULL on failure */
char *ar_strndup(arena *a, const char *s, size_t n);
void ar_free(arena *a);

/* A growable byte buffer (malloc'd, not in an arena). */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_putc(sbuf *b, char c);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- values */

typedef enum tv_kind {
    TV_UNDEF, TV_NONE, TV_BOOL, TV_INT, TV_FLOAT, TV_STR, TV_LIST, TV_DICT, TV_FUNC,
} tv_kind;

typedef struct tv_list tv_list;
typedef struct tv_dict tv_dict;
typedef struct tv_func tv_func;

typedef struct tv {
    tv_kind k;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;
        tv_list *l;
        tv_dict *d;
        const tv_func *fn;
    } u;
    const char *hint;  /* UNDEF: the name that was missing, for messages */
} tv;

struct tv_list {
    tv *v;
    size_t n, cap;
    bool tuple;        /* prints as (a, b) */
};

struct tv_dict {
    tv *keys, *vals;
    size_t n, cap;
    bool ns;           /* a namespace(): attributes may be assigned */
};

struct node;
struct tv_func {
    int builtin;               /* TF_* below, or TF_MACRO */
    const struct node *macro;  /* TF_MACRO */
};

enum { TF_MACRO, TF_RANGE, TF_NAMESPACE, TF_RAISE, TF_STRFTIME, TF_DICT };

static inline tv tv_undef(const char *hint) { tv v = {0}; v.k = TV_UNDEF; v.hint = hint; return v; }
static inline tv tv_none(void) { tv v = {0}; v.k = TV_NONE; return v; }
static inline tv tv_bool(bool b) { tv v = {0}; v.k = TV_BOOL; v.u.b = b; return v; }
static inline tv tv_int(int64_t i) { tv v = {0}; v.k = TV_INT; v.u.i = i; return v; }
static inline tv tv_float(double f) { tv v = {0}; v.k = TV_FLOAT; v.u.f = f; return v; }
static inline tv tv_str(const char *p, size_t n) { tv v = {0}; v.k = TV_STR; v.u.s.p = p; v.u.s.n = n; return v; }

tv tv_new_list(arena *a, size_t cap);
tv tv_new_dict(arena *a);
bool tv_list_push(arena *a, tv_list *l, tv v);
/* Sets (or replaces) key in d. */
bool tv_dict_set(arena *a, tv_dict *d, tv key, tv val);
/* The value under key, or NULL. */
tv *tv_dict_get(const tv_dict *d, tv key);
tv *tv_dict_gets(const tv_dict *d, const char *key);
tv tv_cstr(arena *a, const char *s);

bool tv_truthy(tv v);
bool tv_equal(tv a, tv b);
const char *tv_type_name(tv v);
/* Appends str(v) as Python prints it (None, True, 1.0, ['a']). */
void tv_to_str(sbuf *b, tv v);
/* Appends repr(v). */
void tv_repr(sbuf *b, tv v);
/* json.dumps options, as transformers' tojson passes them. */
typedef struct json_opts {
    bool pretty;             /* indent given: newlines between members */
    const char *indent;      /* one level of indentation */
    size_t indent_len;
    const char *item_sep, *key_sep;
    bool sort_keys, ascii;   /* ascii = ensure_ascii */
} json_opts;

/* Appends json.dumps(v, ...) with options o; returns false for a value
 * JSON cannot hold (undefined, callable). */
bool tv_to_json(sbuf *b, tv v, const json_opts *o, int depth);
/* str(v) as a value in the arena (strings are returned as they are). */
tv tv_stringify(arena *a, tv v);
/* Python float repr: shortest text that reads back as the same double. */
void fmt_float(sbuf *b, double f);

/* UTF-8 helpers: code points in s, and the byte offset of code point i. */
size_t u8_len(const char *s, size_t n);
size_t u8_offset(const char *s, size_t n, size_t i);
/* Length of the Unicode whitespace character at s (0 if none). */
size_t u8_space(const char *s, size_t n);
/* Length of the Unicode whitespace character that ends at s+n (0 if none). */
size_t u8_space_back(const char *s, size_t n);

/* ---------------------------------------------------------------- AST */

typedef enum node_kind {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_BREAK, N_CONTINUE,
    N_BLOCK,      /* a transparent body ({% generation %}) */
    /* expressions */
    E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST,
    E_NOT, E_NEG, E_POS, E_BIN, E_AND, E_OR, E_COND, E_LIST, E_TUPLE, E_DICT,
} node_kind;

typedef enum bin_op {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
} bin_op;

typedef struct node node;
struct node {
    node_kind kind;
    int line, col;
    int op;                 /* E_BIN: bin_op */
    bool neg;               /* E_TEST: "is not" */
    const char *name;       /* E_NAME/E_ATTR/E_FILTER/E_TEST/N_MACRO, N_SET target */
    const char *attr;       /* N_SET: "ns.attr" target */
    const char *text;       /* N_TEXT */
    size_t text_len;
    tv lit;                 /* E_LIT */
    node *a, *b, *c;        /* operands: cond/iter/value, slice parts... */
    node **args;            /* call/filter/test arguments, list items, dict pairs */
    const char **kw;        /* parallel to args: keyword name or NULL */
    int nargs;
    const char **targets;   /* N_FOR / N_SET: names to bind */
    int ntargets;
    node *body, *els;       /* statement lists */
    node *next;             /* next statement */
};

struct tmpl {
    arena ar;
    node *root;
    char name[80];     /* "NAME: " prefix for messages, or "" */
};

/* tmpl_lex.c: tokens; text tokens already carry the whitespace rules */
typedef enum tok_kind {
    T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF,
} tok_kind;

typedef struct tok {
    tok_kind k;
    int line, col;
    const char *s;     /* TEXT: bytes (n of them); NAME/OP: NUL-terminated */
    size_t n;
    tv lit;            /* STR/INT/FLOAT */
} tok;

chord_status tmpl_lex(tmpl *t, const char *src, size_t len, tok **out, size_t *ntok,
                      chord_err *err);

/* tmpl_expr.c: the parser state and the expression grammar */
/* How deep expressions, blocks and values may nest. The parser, the
 * evaluator and the value walkers (==, <, repr) recurse on the C stack;
 * Jinja2 itself stops at Python's recursion limit (~1000), and no real
 * chat template nests more than a dozen levels. */
#define TMPL_MAX_DEPTH 500

typedef struct parser {
    tmpl *t;
    int depth;               /* expression/block nesting, bounded by TMPL_MAX_DEPTH */
    tok *toks;
    size_t n, i;
    chord_err *err;
    bool failed;
} parser;

tok *tp_cur(parser *P);
tok *tp_peek(parser *P, size_t k);
/* Records a syntax error at t (first one wins); returns NULL. */
void *tp_pfail(parser *P, const tok *t, const char *fmt, const char *arg);
/* "expected X, got Y" at the current token; returns NULL. */
void *tp_unexpected(parser *P, const char *expected);
bool tp_is_op(parser *P, const char *op);
bool tp_is_name(parser *P, const char *nm);
bool tp_accept_op(parser *P, const char *op);
bool tp_accept_name(parser *P, const char *nm);
bool tp_expect_op(parser *P, const char *op);
node *tp_mk(parser *P, node_kind k, const tok *at);
/* A full expression (with a if c else b); tp_or stops before "if". */
node *tp_expr(parser *P);
node *tp_or(parser *P);

/* tmpl_parse.c */
chord_status tmpl_parse_src(tmpl *t, const char *src, size_t len, chord_err *err);

/* tmpl_eval.c: the render state */
#define MAX_SCOPES 256
#define MAX_OUTPUT (256u << 20)

typedef struct rctx {
    arena ar;
    const tmpl *t;
    sbuf *out;
    tv_dict *scopes[MAX_SCOPES];
    int nscopes;
    int brk;                 /* 1 = break, 2 = continue pending */
    int macro_depth;
    int depth;               /* eval/exec recursion, bounded by TMPL_MAX_DEPTH */
    long steps;
    chord_err *err;
    chord_status st;
    bool failed;
} rctx;

arena *rc_arena(rctx *rc);
/* Records a runtime error at node n (first one wins); returns false. */
bool rc_fail(rctx *rc, const node *n, chord_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool rc_oom(rctx *rc, const node *n);
/* An Undefined whose misuse reports fmt (with a and b filled in). */
tv rc_undef(rctx *rc, const char *fmt, const char *a, const char *b);
/* Fails with the message an Undefined carries. */
bool rc_undef_error(rctx *rc, const node *n, tv v);
/* Calls a macro value with evaluated arguments. */
bool rc_call_macro(rctx *rc, const node *at, const tv_func *fn, const tv *pos, int npos,
                   const char **kwn, const tv *kwv, int nkw, tv *out);
long tmpl_now_override(void);

/* tmpl_ops.c */
bool ops_get_item(rctx *rc, const node *n, tv obj, tv key, tv *out);
bool ops_get_attr(rctx *rc, const node *n, tv obj, const char *name, tv *out);
bool ops_slice(rctx *rc, const node *n, tv obj, const tv parts[3], tv *out);
bool ops_binop(rctx *rc, const node *n, tv a, tv b, tv *out);

/* tmpl_builtins.c: arguments are evaluated before these are called */
typedef struct targs {
    const tv *pos;
    int npos;
    const char **kwn;
    const tv *kwv;
    int nkw;
} targs;

bool bi_filter(rctx *rc, const node *at, const char *name, tv v, const targs *a, tv *out);
bool bi_test(rctx *rc, const node *at, const char *name, tv v, const targs *a, bool *out);
bool bi_method(rctx *rc, const node *at, tv obj, const char *name, const targs *a, tv *out);
bool bi_global(rctx *rc, const node *at, const tv_func *fn, const targs *a, tv *out);

/* Helpers the filters share with the methods (tmpl_builtins.c). */
/* Argument i, or the keyword name, or NULL. */
const tv *bi_arg(const targs *a, int i, const char *name);
bool bi_need_str(rctx *rc, const node *at, tv v, const char *what);
tv bi_mkstr(rctx *rc, const char *p, size_t n);
/* Turns b into a string value in the arena and frees b. */
bool bi_ret_str(rctx *rc, const node *at, sbuf *b, tv *out);
/* Strips chars (NULL = Unicode whitespace) from the left and/or right. */
tv bi_strip(tv s, const tv *chars, bool left, bool right);
/* ASCII case mapping: mode 'u' upper, 'l' lower, 't' title, 'c' capitalize. */
bool bi_recase(rctx *rc, const node *at, tv s, char mode, tv *out);
bool bi_replace(rctx *rc, const node *at, tv s, tv old, tv new, int64_t count, tv *out);
/* str.split(sep=None, maxsplit=-1). */
bool bi_split(rctx *rc, const node *at, tv s, const tv *sep, const tv *maxsplit, tv *out);
/* dict.items(): a list of (key, value) tuples. */
tv bi_dict_items(rctx *rc, tv d);
/* list(v): list items, dict keys, string characters; Undefined = []. */
bool bi_to_list(rctx *rc, const node *at, tv v, tv *out);
int bi_cmp(const void *x, const void *y);

/* The value of a global function name (range, namespace...) or UNDEF. */
tv bi_lookup_global(const char *name);

#endif
