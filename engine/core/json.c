/*
 * json.c - a small JSON reader (to a tree) and string quoting.
 *
 * chord reads JSON in a few places (chat messages, test fixtures, history
 * import) and writes it in a few more (--json events, exports). The inputs
 * are small and the trees short-lived, so a plain recursive-descent parser
 * that builds a DOM is the right tool: no streaming, no arena tricks.
 *
 * Strict RFC 8259: no comments, no trailing commas, no NaN. Strings are
 * decoded to UTF-8, with \u escapes (and surrogate pairs) converted; a lone
 * surrogate becomes U+FFFD rather than an error, as most readers do.
 * Nesting is limited to keep a hostile input from exhausting the stack.
 */
#include "chord.h"
#include "core/err.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

typedef struct parser {
    const char *s;
    size_t len, pos;
    chord_err *err;
    bool failed;
} parser;

/* Records the first error with its line and column; later ones are noise. */
static void fail(parser *p, const char *what)
{
    if (p->failed)
        return;
    p->failed = true;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    err_set(p->err, CHORD_E_FORMAT, "JSON %s at line %zu column %zu", what, line, col);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return true;
    }
    return false;
}

/* A growable byte buffer for decoded strings. */
typedef struct buf {
    char *b;
    size_t n, cap;
} buf;

static bool buf_put(buf *b, const char *src, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *nb = realloc(b->b, cap);
        if (!nb)
            return false;
        b->b = nb;
        b->cap = cap;
    }
    memcpy(b->b + b->n, src, n);
    b->n += n;
    b->b[b->n] = 0;
    return true;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(parser *p, uint32_t *out)
{
    if (p->len - p->pos < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

/* Parses a string at p->pos (which is at the opening quote). */
static char *parse_string(parser *p, size_t *len_out)
{
    buf b = {0};
    p->pos++; /* opening quote */
    if (!buf_put(&b, "", 0))
        goto oom;
    while (p->pos < p->len) {
        /* copy a run of plain bytes at once: strings are mostly plain */
        size_t start = p->pos;
        while (p->pos < p->len) {
            unsigned char c = (unsigned char)p->s[p->pos];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            p->pos++;
        }
        if (p->pos > start && !buf_put(&b, p->s + start, p->pos - start))
            goto oom;
        if (p->pos >= p->len)
            break;
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            *len_out = b.n;
            return b.b;
        }
        if (c < 0x20) {
            fail(p, "control character in string");
            goto fail;
        }
        /* backslash escape */
        p->pos++;
        if (p->pos >= p->len)
            break;
        char e = p->s[p->pos++];
        char tmp[4];
        size_t n = 1;
        switch (e) {
        case '"': tmp[0] = '"'; break;
        case '\\': tmp[0] = '\\'; break;
        case '/': tmp[0] = '/'; break;
        case 'b': tmp[0] = '\b'; break;
        case 'f': tmp[0] = '\f'; break;
        case 'n': tmp[0] = '\n'; break;
        case 'r': tmp[0] = '\r'; break;
        case 't': tmp[0] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (hex4(p, &cp) < 0) {
                fail(p, "bad \\u escape");
                goto fail;
            }
            if (cp >= 0xD800 && cp < 0xDC00) {
                uint32_t lo;
                size_t save = p->pos;
                if (p->len - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
                    p->pos += 2;
                    if (hex4(p, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else {
                        p->pos = save;
                        cp = 0xFFFD;
                    }
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                cp = 0xFFFD;
            }
            n = utf8_encode(cp, tmp);
            break;
        }
        default:
            p->pos--;
            fail(p, "bad escape in string");
            goto fail;
        }
        if (!buf_put(&b, tmp, n))
            goto oom;
    }
    fail(p, "unterminated string");
    goto fail;
oom:
    fail(p, "too large (out of memory)");
fail:
    free(b.b);
    return NULL;
}

static bool parse_value(parser *p, chord_json *out, int depth);

/* Appends a child to an array/object being built. */
static bool push_item(parser *p, chord_json *parent, size_t *cap, chord_json *item, char *key)
{
    if (parent->len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        chord_json *ni = realloc(parent->items, ncap * sizeof *ni);
        if (!ni) {
            fail(p, "too large (out of memory)");
            return false;
        }
        parent->items = ni;
        if (parent->type == CHORD_JSON_OBJECT) {
            char **nk = realloc(parent->keys, ncap * sizeof *nk);
            if (!nk) {
                fail(p, "too large (out of memory)");
                return false;
            }
            parent->keys = nk;
        }
        *cap = ncap;
    }
    parent->items[parent->len] = *item;
    if (parent->type == CHORD_JSON_OBJECT)
        parent->keys[parent->len] = key;
    parent->len++;
    return true;
}

static void free_children(chord_json *j);

static bool parse_container(parser *p, chord_json *out, int depth, bool object)
{
    char close = object ? '}' : ']';
    size_t cap = 0;
    out->type = object ? CHORD_JSON_OBJECT : CHORD_JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return true;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (object) {
            size_t klen;
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                fail(p, "expected a string key");
                return false;
            }
            if (!(key = parse_string(p, &klen)))
                return false;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                fail(p, "expected ':'");
                return false;
            }
            p->pos++;
        }
        chord_json item = {0};
        if (!parse_value(p, &item, depth + 1) || !push_item(p, out, &cap, &item, key)) {
            free(key);
            free_children(&item);
            return false;
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return true;
        }
        fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        return false;
    }
}

static bool parse_number(parser *p, chord_json *out)
{
    size_t start = p->pos;
    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
        fail(p, "unexpected character");
        return false;
    }
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        size_t d = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
        if (p->pos == d) {
            fail(p, "bad number");
            return false;
        }
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        size_t d = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
        if (p->pos == d) {
            fail(p, "bad number");
            return false;
        }
    }
    /* strtod needs a terminated copy: the input need not be NUL-terminated */
    char tmp[64];
    size_t n = p->pos - start;
    if (n >= sizeof tmp) {
        char *big = malloc(n + 1);
        if (!big) {
            fail(p, "too large (out of memory)");
            return false;
        }
        memcpy(big, p->s + start, n);
        big[n] = 0;
        out->number = strtod(big, NULL);
        free(big);
    } else {
        memcpy(tmp, p->s + start, n);
        tmp[n] = 0;
        out->number = strtod(tmp, NULL);
    }
    out->type = CHORD_JSON_NUMBER;
    return true;
}

static bool parse_value(parser *p, chord_json *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (depth > JSON_MAX_DEPTH) {
        fail(p, "nested too deeply");
        return false;
    }
    skip_ws(p);
    if (p->pos >= p->len) {
        fail(p, "unexpected end of input");
        return false;
    }
    switch (p->s[p->pos]) {
    case '{':
        return parse_container(p, out, depth, true);
    case '[':
        return parse_container(p, out, depth, false);
    case '"':
        out->type = CHORD_JSON_STRING;
        out->string = parse_string(p, &out->len);
        return out->string != NULL;
    case 't':
        if (literal(p, "true")) {
            out->type = CHORD_JSON_TRUE;
            return true;
        }
        break;
    case 'f':
        if (literal(p, "false")) {
            out->type = CHORD_JSON_FALSE;
            return true;
        }
        break;
    case 'n':
        if (literal(p, "null")) {
            out->type = CHORD_JSON_NULL;
            return true;
        }
        break;
    default:
        return parse_number(p, out);
    }
    fail(p, "unexpected character");
    return false;
}

static void free_children(chord_json *j)
{
    if (j->type == CHORD_JSON_ARRAY || j->type == CHORD_JSON_OBJECT) {
        for (size_t i = 0; i < j->len; i++) {
            free_children(&j->items[i]);
            if (j->keys)
                free(j->keys[i]);
        }
        free(j->items);
        free(j->keys);
    }
    free(j->string);
}

chord_json *chord_json_parse(const char *text, size_t len, chord_err *err)
{
    parser p = {.s = text, .len = len, .err = err};
    chord_json *root = calloc(1, sizeof *root);
    if (!root) {
        err_set(err, CHORD_E_NOMEM, "JSON: out of memory");
        return NULL;
    }
    if (parse_value(&p, root, 0)) {
        skip_ws(&p);
        if (p.pos == p.len)
            return root;
        fail(&p, "trailing characters after the value");
    }
    free_children(root);
    free(root);
    return NULL;
}

void chord_json_free(chord_json *j)
{
    if (!j)
        return;
    free_children(j);
    free(j);
}

const chord_json *chord_json_get(const chord_json *obj, const char *key)
{
    if (!obj || obj->type != CHORD_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}

const chord_json *chord_json_at(const chord_json *arr, size_t i)
{
    if (!arr || (arr->type != CHORD_JSON_ARRAY && arr->type != CHORD_JSON_OBJECT) || i >= arr->len)
        return NULL;
    return &arr->items[i];
}

/* Quotes into a caller-provided sink; JSON output must stay valid even for
 * bytes that are not UTF-8, so invalid sequences are written as U+FFFD. */
typedef void (*sink_fn)(void *ctx, const char *s, size_t n);

static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

static void quote_to(sink_fn put, void *ctx, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    put(ctx, "\"", 1);
    size_t i = 0, run = 0;
    while (i < len) {
        unsigned char c = u[i];
        const char *esc = NULL;
        char tmp[8];
        size_t adv = 1;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                esc = tmp;
            } else if (c >= 0x80) {
                adv = utf8_valid_len(u + i, len - i);
                if (!adv) {
                    esc = "\xEF\xBF\xBD";
                    adv = 1;
                }
            }
        }
        if (esc) {
            if (i > run)
                put(ctx, s + run, i - run);
            put(ctx, esc, strlen(esc));
            i += adv;
            run = i;
        } else {
            i += adv;
        }
    }
    if (i > run)
        put(ctx, s + run, len - run);
    put(ctx, "\"", 1);
}

static void put_file(void *ctx, const char *s, size_t n)
{
    fwrite(s, 1, n, (FILE *)ctx);
}

void chord_json_write_str(FILE *f, const char *s, size_t len)
{
    quote_to(put_file, f, s, len);
}

static void put_buf(void *ctx, const char *s, size_t n)
{
    buf *b = ctx;
    if (b->b || b->cap == 0) {
        if (!buf_put(b, s, n)) {
            free(b->b);
            b->b = NULL;
            b->cap = 1; /* remember the failure */
        }
    }
}

char *chord_json_quote(const char *s, size_t len)
{
    buf b = {0};
    quote_to(put_buf, &b, s, len);
    return b.b;
}
