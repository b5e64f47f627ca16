/*
 * tok_pre.c - BPE pre-tokenizers: the regex splits of each model family,
 * written as small hand-made matchers.
 *
 * A rule set is a list of rules applied in turn: each rule scans every piece
 * left by the previous rules, and both its matches and the gaps between them
 * become pieces (the reference's semantics). A piece's ends are the text's
 * ends for the next rule: lookaheads and `$` do not see past them.
 *
 * Each matcher answers "how long is the match starting exactly at p" with
 * ordered alternation and greedy, backtracking quantifiers, as the
 * ECMAScript-style engines that define these splits do; the driver scans
 * left to right, so the leftmost match wins.
 *
 * Character classes follow the reference: white space (Unicode White_Space)
 * wins over every category, \p{L}/\p{N}/\p{P} come from the generated table,
 * and invalid UTF-8 has already become U+FFFD.
 */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

enum { K_O = TOK_CLS_OTHER, K_L = TOK_CLS_L, K_N = TOK_CLS_N, K_P = TOK_CLS_P, K_WS = 4 };

/* A piece of text: code points and their classes (K_*), n long. */
typedef struct seg {
    const uint32_t *cp;
    const uint8_t *k;
    size_t n;
} seg;

typedef size_t (*match_fn)(const seg *s, size_t p);

/* ---- small predicates ---------------------------------------------------- */

static inline bool is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
/* [^\s\p{L}\p{N}] */
static inline bool is_x(const seg *s, size_t p) { return s->k[p] == K_O || s->k[p] == K_P; }

static inline size_t run_of(const seg *s, size_t p, int k)
{
    size_t q = p;
    while (q < s->n && s->k[q] == k)
        q++;
    return q - p;
}

static inline size_t run_x(const seg *s, size_t p)
{
    size_t q = p;
    while (q < s->n && is_x(s, q))
        q++;
    return q - p;
}

static inline uint32_t lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* 's|'t|'re|'ve|'m|'ll|'d, case-insensitive if icase. */
static size_t contraction(const seg *s, size_t p, bool icase)
{
    if (s->cp[p] != '\'' || p + 1 >= s->n)
        return 0;
    uint32_t a = icase ? lower(s->cp[p + 1]) : s->cp[p + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (p + 2 >= s->n)
        return 0;
    uint32_t b = icase ? lower(s->cp[p + 2]) : s->cp[p + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S): a white-space run, less its last character when something
 * other than white space follows. */
static size_t ws_not_before_nonws(const seg *s, size_t p)
{
    size_t k = run_of(s, p, K_WS);
    if (k == 0 || p + k == s->n)
        return k;
    return k - 1;
}

/* ---- the rules ----------------------------------------------------------- */

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
static size_t m_gpt2(const seg *s, size_t p)
{
    size_t m = contraction(s, p, false);
    if (m)
        return m;
    size_t sp = (s->cp[p] == ' ' && p + 1 < s->n) ? 1 : 0;
    int k = s->k[p + sp];
    if (k == K_L || k == K_N) {
        if (sp || s->k[p] == k)
            return sp + run_of(s, p + sp, k);
    }
    if (is_x(s, p + sp))
        return sp + run_x(s, p + sp);
    return ws_not_before_nonws(s, p);
}

/* Llama 3 (max_digits 3) and Qwen2 (1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}
 * | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Seed-Coder is Qwen2's without the [\r\n]* after punctuation (nl_tail). */
static size_t m_llama3_like(const seg *s, size_t p, size_t max_digits, bool nl_tail)
{
    size_t m = contraction(s, p, true);
    if (m)
        return m;
    uint32_t c = s->cp[p];
    int k = s->k[p];
    if (k == K_L)
        return run_of(s, p, K_L);
    if (!is_nl(c) && k != K_N && p + 1 < s->n && s->k[p + 1] == K_L)
        return 1 + run_of(s, p + 1, K_L);
    if (k == K_N) {
        size_t r = run_of(s, p, K_N);
        return r < max_digits ? r : max_digits;
    }
    size_t sp = (c == ' ' && p + 1 < s->n && is_x(s, p + 1)) ? 1 : 0;
    if (sp || is_x(s, p)) {
        size_t q = p + sp + run_x(s, p + sp);
        while (nl_tail && q < s->n && is_nl(s->cp[q]))
            q++;
        return q - p;
    }
    /* here cp[p] is white space */
    size_t w = run_of(s, p, K_WS), last_nl = 0;
    for (size_t q = p; q < p + w; q++)
        if (is_nl(s->cp[q]))
            last_nl = q + 1;
    if (last_nl)
        return last_nl - p;
    if (w > 1 && p + w < s->n)
        return w - 1;
    return w;
}

static size_t m_llama3(const seg *s, size_t p) { return m_llama3_like(s, p, 3, true); }
static size_t m_qwen2(const seg *s, size_t p) { return m_llama3_like(s, p, 1, true); }
static size_t m_seed_coder(const seg *s, size_t p) { return m_llama3_like(s, p, 1, false); }

/* GPT-4o (o200k; also llama4, kanana2, minimax-m2):
 *   X?U*W+C?|X?U+W*C?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with X = [^\r\n\p{L}\p{N}] and C the case-insensitive contractions. The
 * reference runs its lookahead form of the pattern, U = (?=\p{L})[^a-z] and
 * W = (?=\p{L})[^A-Z], over text where every non-ASCII letter is one and the
 * same stand-in: so a non-ASCII letter is both U and W (there is no case
 * outside ASCII), and marks are not letters at all. */
static inline bool is_up(const seg *s, size_t q)
{
    return s->k[q] == K_L && !(s->cp[q] >= 'a' && s->cp[q] <= 'z');
}

static inline bool is_lo(const seg *s, size_t q)
{
    return s->k[q] == K_L && !(s->cp[q] >= 'A' && s->cp[q] <= 'Z');
}

static size_t run_lo(const seg *s, size_t q)
{
    size_t e = q;
    while (e < s->n && is_lo(s, e))
        e++;
    return e - q;
}

static size_t m_gpt4o(const seg *s, size_t p)
{
    uint32_t c = s->cp[p];
    int k = s->k[p];
    /* X? is taken only when a letter follows: without it the letter
     * alternatives would start on a non-letter and fail anyway */
    size_t q = p;
    if (!is_nl(c) && k != K_L && k != K_N && p + 1 < s->n && s->k[p + 1] == K_L)
        q = p + 1;
    if (s->k[q] == K_L) {
        size_t u = 0;
        while (q + u < s->n && is_up(s, q + u))
            u++;
        /* U*W+: U* backs off one character at a time until W+ can start;
         * once U* has given back something, W+ stops at the character
         * U* gave back before (it is U, and only non-ASCII letters are both) */
        size_t end = 0;
        for (size_t i = u + 1; i-- > 0;) {
            size_t w = run_lo(s, q + i);
            if (w) {
                end = q + i + w;
                break;
            }
        }
        /* U+W*: the whole U run, then whatever W follows (none, since
         * U*W+ failed with the whole run). One of the two always matches
         * at a letter. */
        if (!end)
            end = q + u;
        return end - p + (end < s->n ? contraction(s, end, true) : 0);
    }
    if (k == K_N) {
        size_t r = run_of(s, p, K_N);
        return r < 3 ? r : 3;
    }
    size_t sp = (c == ' ' && p + 1 < s->n && is_x(s, p + 1)) ? 1 : 0;
    if (sp || is_x(s, p)) {
        size_t e = p + sp + run_x(s, p + sp);
        while (e < s->n && (is_nl(s->cp[e]) || s->cp[e] == '/'))
            e++;
        return e - p;
    }
    /* here cp[p] is white space: \s*[\r\n]+, \s+(?!\S), \s+ as for llama3 */
    size_t w = run_of(s, p, K_WS), last_nl = 0;
    for (size_t e = p; e < p + w; e++)
        if (is_nl(s->cp[e]))
            last_nl = e + 1;
    if (last_nl)
        return last_nl - p;
    if (w > 1 && p + w < s->n)
        return w - 1;
    return w;
}

/* [\p{P}\$\+<=>\^~\|]+ and, for Falcon, the same with the backtick */
static bool punct_sym(const seg *s, size_t q, bool backtick)
{
    uint32_t c = s->cp[q];
    return s->k[q] == K_P || c == '$' || c == '+' || c == '<' || c == '=' ||
           c == '>' || c == '^' || c == '~' || c == '|' || (backtick && c == '`');
}

static size_t m_punct_default(const seg *s, size_t p)
{
    size_t q = p;
    while (q < s->n && punct_sym(s, q, false))
        q++;
    return q - p;
}

static size_t m_punct_falcon(const seg *s, size_t p)
{
    size_t q = p;
    while (q < s->n && punct_sym(s, q, true))
        q++;
    return q - p;
}

static size_t m_num_run(const seg *s, size_t p) { return run_of(s, p, K_N); }
static size_t m_num_one(const seg *s, size_t p) { return s->k[p] == K_N; }
static size_t m_newline(const seg *s, size_t p) { return is_nl(s->cp[p]); }

/* [0-9][0-9][0-9] */
static size_t m_digit3(const seg *s, size_t p)
{
    for (size_t q = p; q < p + 3; q++)
        if (q >= s->n || s->cp[q] < '0' || s->cp[q] > '9')
            return 0;
    return 3;
}

/* \s?C+ for a class C: the optional white space is taken only when C follows. */
static size_t ws_opt_run(const seg *s, size_t p, bool (*in)(const seg *, size_t))
{
    size_t sp = (s->k[p] == K_WS && p + 1 < s->n && in(s, p + 1)) ? 1 : 0;
    size_t q = p + sp;
    while (q < s->n && in(s, q))
        q++;
    return q - p == sp ? 0 : q - p;
}

static bool in_letter(const seg *s, size_t q) { return s->k[q] == K_L; }
static bool in_punct(const seg *s, size_t q) { return s->k[q] == K_P; }

/* The literal classes below come from regexes without \p{..}, where the
 * reference first turns non-ASCII white space into U+000B: so no white
 * space code point is ever in them. */
static bool in_ds_letter(const seg *s, size_t q)
{
    uint32_t c = s->cp[q];
    if (c < 0x80)
        return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return s->k[q] != K_WS && tok_is_deepseek_letter(c);
}

/* [!-/:-~！-／：-～‘-‟　-。] */
static bool in_ds_punct(const seg *s, size_t q)
{
    uint32_t c = s->cp[q];
    if (s->k[q] == K_WS)
        return false;
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) ||
           (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF5E) ||
           (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002);
}

/* [一-龥ࠀ-一가-퟿]: U+4E00-9FA5, U+0800-4E00, U+AC00-D7FF */
static bool in_cjk(const seg *s, size_t q)
{
    uint32_t c = s->cp[q];
    if (s->k[q] == K_WS)
        return false;
    return (c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF);
}

static size_t m_ws_letters(const seg *s, size_t p) { return ws_opt_run(s, p, in_letter); }
static size_t m_ws_punct(const seg *s, size_t p) { return ws_opt_run(s, p, in_punct); }
static size_t m_ds_letters(const seg *s, size_t p) { return ws_opt_run(s, p, in_ds_letter); }
static size_t m_ds_punct(const seg *s, size_t p) { return ws_opt_run(s, p, in_ds_punct); }

static size_t m_cjk(const seg *s, size_t p)
{
    size_t q = p;
    while (q < s->n && in_cjk(s, q))
        q++;
    return q - p;
}

/* \s+$ : only the white space that runs to the end of the piece. */
static size_t m_trailing_ws(const seg *s, size_t p)
{
    if (s->k[p] != K_WS || (p > 0 && s->k[p - 1] == K_WS))
        return 0; /* a match starts at the beginning of the trailing run */
    size_t w = run_of(s, p, K_WS);
    return p + w == s->n ? w : 0;
}

/* Bloom, Poro, GPT-3 Finnish:  ?[^(\s|.,!?…。，、।۔،)]+ */
static bool in_bloom(const seg *s, size_t q)
{
    uint32_t c = s->cp[q];
    if (s->k[q] == K_WS)
        return false;
    switch (c) {
    case '(': case '|': case ')': case '.': case ',': case '!': case '?':
    case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964:
    case 0x06D4: case 0x060C:
        return false;
    default:
        return true;
    }
}

static size_t m_bloom(const seg *s, size_t p)
{
    size_t sp = (s->cp[p] == ' ' && p + 1 < s->n && in_bloom(s, p + 1)) ? 1 : 0;
    size_t q = p + sp;
    while (q < s->n && in_bloom(s, q))
        q++;
    return q - p == sp ? 0 : q - p;
}

/* Chameleon: <sentinel:[0-9]+> */
static size_t m_sentinel(const seg *s, size_t p)
{
    static const char pre[] = "<sentinel:";
    size_t q = p;
    for (const char *c = pre; *c; c++, q++)
        if (q >= s->n || s->cp[q] != (uint32_t)*c)
            return 0;
    size_t d = q;
    while (q < s->n && s->cp[q] >= '0' && s->cp[q] <= '9')
        q++;
    if (q == d || q >= s->n || s->cp[q] != '>')
        return 0;
    return q + 1 - p;
}

/* Chameleon: (IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z. Backing off the {1,4}
 * never helps: the letter it gives back is not a Z. */
static size_t m_image(const seg *s, size_t p)
{
    static const char pre[] = "IMGIMG";
    size_t q = p;
    for (const char *c = pre; *c; c++, q++)
        if (q >= s->n || s->cp[q] != (uint32_t)*c)
            return 0;
    size_t d = q;
    while (q < s->n && q - d < 4 && s->cp[q] >= 'A' && s->cp[q] <= 'I')
        q++;
    if (q == d || q >= s->n || s->cp[q] != 'Z')
        return 0;
    return q + 1 - p;
}

/* Chameleon: ([\t\n]|    |  ) */
static size_t m_tab_nl_spaces(const seg *s, size_t p)
{
    if (s->cp[p] == '\t' || s->cp[p] == '\n')
        return 1;
    size_t w = 0;
    while (w < 4 && p + w < s->n && s->cp[p + w] == ' ')
        w++;
    return w == 4 ? 4 : (w >= 2 ? 2 : 0);
}

/* Chameleon: [\p{P}!-/:-@\[-`{-~], one character */
static size_t m_punct_one(const seg *s, size_t p)
{
    uint32_t c = s->cp[p];
    return s->k[p] == K_P || (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
           (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

/* ---- rule sets ----------------------------------------------------------- */

#define MAX_RULES 6

static const struct rule_set {
    const char *label;
    match_fn rules[MAX_RULES];
} rule_sets[] = {
    [TOK_PRE_DEFAULT] = {"default", {m_punct_default, m_gpt2, m_num_run, m_digit3}},
    [TOK_PRE_GPT2] = {"gpt-2", {m_gpt2}},
    [TOK_PRE_LLAMA3] = {"llama3", {m_llama3}},
    [TOK_PRE_DBRX] = {"dbrx", {m_llama3}},
    [TOK_PRE_QWEN2] = {"qwen2", {m_qwen2}},
    [TOK_PRE_STARCODER] = {"starcoder", {m_num_one, m_gpt2}},
    [TOK_PRE_FALCON] = {"falcon", {m_punct_falcon, m_gpt2, m_digit3}},
    [TOK_PRE_DEEPSEEK_LLM] = {"deepseek-llm",
                              {m_newline, m_ds_letters, m_ds_punct, m_trailing_ws, m_cjk, m_num_run}},
    [TOK_PRE_DEEPSEEK_CODER] = {"deepseek-coder", {m_newline, m_ws_letters, m_ws_punct, m_cjk, m_num_one}},
    [TOK_PRE_BLOOM] = {"bloom", {m_bloom}},
    [TOK_PRE_VIKING] = {"viking", {m_bloom, m_num_one}},
    [TOK_PRE_SEED_CODER] = {"seed-coder", {m_seed_coder}},
    [TOK_PRE_CHAMELEON] = {"chameleon",
                           {m_sentinel, m_image, m_tab_nl_spaces, m_num_one, m_punct_one, m_gpt2}},
    [TOK_PRE_GPT4O] = {"gpt-4o", {m_gpt4o}},
};

static const struct pre_name {
    const char *name;
    enum tok_pre pre;
} pre_names[] = {
    {"default", TOK_PRE_DEFAULT},
    {"gpt-2", TOK_PRE_GPT2}, {"gpt2", TOK_PRE_GPT2}, {"mpt", TOK_PRE_GPT2},
    {"olmo", TOK_PRE_GPT2}, {"jais", TOK_PRE_GPT2}, {"phi-2", TOK_PRE_GPT2},
    {"roberta-bpe", TOK_PRE_GPT2}, {"gigachat", TOK_PRE_GPT2}, {"trillion", TOK_PRE_GPT2},
    {"jina-es", TOK_PRE_GPT2}, {"jina-de", TOK_PRE_GPT2}, {"jina-v1-en", TOK_PRE_GPT2},
    {"jina-v2-es", TOK_PRE_GPT2}, {"jina-v2-de", TOK_PRE_GPT2}, {"jina-v2-code", TOK_PRE_GPT2},
    {"gpt-neox", TOK_PRE_DEFAULT},
    {"llama3", TOK_PRE_LLAMA3}, {"llama-v3", TOK_PRE_LLAMA3}, {"llama-bpe", TOK_PRE_LLAMA3},
    {"falcon3", TOK_PRE_LLAMA3},
    {"dbrx", TOK_PRE_DBRX}, {"smaug-bpe", TOK_PRE_DBRX}, {"chatglm-bpe", TOK_PRE_DBRX},
    {"qwen2", TOK_PRE_QWEN2}, {"stablelm2", TOK_PRE_QWEN2}, {"deepseek-r1-qwen", TOK_PRE_QWEN2},
    {"starcoder", TOK_PRE_STARCODER}, {"refact", TOK_PRE_STARCODER}, {"smollm", TOK_PRE_STARCODER},
    {"command-r", TOK_PRE_STARCODER}, {"codeshell", TOK_PRE_STARCODER},
    {"exaone", TOK_PRE_STARCODER}, {"minerva-7b", TOK_PRE_STARCODER},
    {"falcon", TOK_PRE_FALCON},
    {"deepseek-llm", TOK_PRE_DEEPSEEK_LLM},
    {"deepseek-coder", TOK_PRE_DEEPSEEK_CODER},
    {"bloom", TOK_PRE_BLOOM}, {"poro-chat", TOK_PRE_BLOOM}, {"gpt3-finnish", TOK_PRE_BLOOM},
    {"viking", TOK_PRE_VIKING},
    {"seed-coder", TOK_PRE_SEED_CODER},
    {"chameleon", TOK_PRE_CHAMELEON},
    {"bailingmoe", TOK_PRE_QWEN2}, /* its \s*[\r\n] ends where \s*[\r\n]+ does */
    {"grok-2", TOK_PRE_QWEN2}, {"hunyuan", TOK_PRE_QWEN2},
    {"granite-docling", TOK_PRE_GPT2},
    {"gpt-4o", TOK_PRE_GPT4O}, {"llama4", TOK_PRE_GPT4O}, {"kanana2", TOK_PRE_GPT4O},
    {"minimax-m2", TOK_PRE_GPT4O},
};

enum tok_pre tok_pre_from_name(const char *name, bool *known)
{
    *known = true;
    if (!name)
        return TOK_PRE_DEFAULT;
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++)
        if (strcmp(name, pre_names[i].name) == 0)
            return pre_names[i].pre;
    *known = false;
    return TOK_PRE_GPT2;
}

const char *tok_pre_label(enum tok_pre pre)
{
    return rule_sets[pre].label;
}

/* ---- the driver ---------------------------------------------------------- */

typedef struct lens {
    uint32_t *a;
    size_t n, cap;
} lens;

static bool lens_push(lens *l, size_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        uint32_t *a = realloc(l->a, cap * sizeof *a);
        if (!a)
            return false;
        l->a = a;
        l->cap = cap;
    }
    l->a[l->n++] = (uint32_t)x;
    return true;
}

/* Applies one rule to every piece of in, writing the new pieces to out. */
static bool apply_rule(match_fn m, const uint32_t *cp, const uint8_t *k,
                       const lens *in, lens *out)
{
    size_t base = 0;
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        seg s = {cp + base, k + base, in->a[i]};
        size_t gap = 0, p = 0;
        while (p < s.n) {
            size_t len = m(&s, p);
            if (len == 0) {
                p++;
                gap++;
                continue;
            }
            if ((gap && !lens_push(out, gap)) || !lens_push(out, len))
                return false;
            gap = 0;
            p += len;
        }
        if (gap && !lens_push(out, gap))
            return false;
        base += s.n;
    }
    return true;
}

long tok_pre_split(enum tok_pre pre, const uint32_t *cp, size_t n, uint32_t **out)
{
    *out = NULL;
    uint8_t *k = malloc(n ? n : 1);
    lens a = {0}, b = {0};
    bool ok = k != NULL && lens_push(&a, n);
    for (size_t i = 0; ok && i < n; i++)
        k[i] = tok_is_space(cp[i]) ? K_WS : (uint8_t)tok_cls(cp[i]);
    const struct rule_set *rs = &rule_sets[pre];
    for (int r = 0; ok && r < MAX_RULES && rs->rules[r]; r++) {
        ok = apply_rule(rs->rules[r], cp, k, &a, &b);
        lens t = a;
        a = b;
        b = t;
    }
    free(k);
    free(b.a);
    if (!ok || n == 0) {
        free(a.a);
        return ok ? 0 : -1;
    }
    *out = a.a;
    return (long)a.n;
}
