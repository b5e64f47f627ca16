/*
 * fuzz_json.c - libFuzzer target for the JSON reader (chord_json_parse).
 *
 * Any bytes must parse or fail with a one-line message. What parses is
 * walked completely (every key looked up again, every array item fetched)
 * and each string is re-quoted with chord_json_quote; a quoted string must
 * parse back to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n);

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], need, cp, min;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c < 0xE0) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c < 0xF0) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c < 0xF5) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (i + need >= n)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
            return 0;
        i += need + 1;
    }
    return 1;
}

static void walk(const chord_json *j, int depth)
{
    if (depth > 10000)
        abort();
    if (j->type == CHORD_JSON_STRING) {
        char *q = chord_json_quote(j->string, j->len);
        if (!q)
            abort();
        chord_err err;
        chord_json *back = chord_json_parse(q, strlen(q), &err);
        /* quoting must always give valid JSON; the bytes come back intact
         * when they were UTF-8 (otherwise invalid sequences are U+FFFD) */
        if (!back || back->type != CHORD_JSON_STRING)
            abort();
        if (utf8_ok((const unsigned char *)j->string, j->len) &&
            (back->len != j->len || memcmp(back->string, j->string, j->len) != 0))
            abort();
        chord_json_free(back);
        free(q);
    }
    if (j->type == CHORD_JSON_ARRAY || j->type == CHORD_JSON_OBJECT) {
        for (size_t i = 0; i < j->len; i++) {
            if (j->type == CHORD_JSON_ARRAY && chord_json_at(j, i) != &j->items[i])
                abort();
            if (j->type == CHORD_JSON_OBJECT && !chord_json_get(j, j->keys[i]))
                abort();
            walk(&j->items[i], depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    chord_err err;
    err.msg[0] = 0;
    chord_json *j = chord_json_parse((const char *)data, n, &err);
    if (!j) {
        if (!err.msg[0] || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    walk(j, 0);
    chord_json_free(j);
    return 0;
}
