/*
 * tok_detok.c - from ids back to bytes: one token's bytes, and the streaming
 * detokenizer that only lets complete UTF-8 characters through.
 */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

/* Appends n bytes to buf (cap) at *k, counting past cap. */
static void put(char *buf, int cap, int *k, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, (*k)++)
        if (*k < cap)
            buf[*k] = s[i];
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a "<0xXX>" token text, or -1. */
static int byte_token_value(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

int tok_token_bytes(const tok_vocab *v, chord_token t, bool show_special,
                    char *buf, int cap)
{
    if (t < 0 || t >= v->n)
        return -1;
    const char *s = v->text[t];
    size_t n = v->len[t];
    int k = 0;
    switch (v->type[t]) {
    case TOK_TYPE_CONTROL:
    case TOK_TYPE_UNKNOWN:
        if (show_special)
            put(buf, cap, &k, s, n);
        return k;
    case TOK_TYPE_UNUSED:
        return 0;
    case TOK_TYPE_USER_DEFINED:
        put(buf, cap, &k, s, n);
        return k;
    case TOK_TYPE_BYTE: {
        int b = byte_token_value(s, n);
        if (b >= 0) {
            char c = (char)b;
            put(buf, cap, &k, &c, 1);
            return k;
        }
        break; /* not of the <0xXX> form: decode it as a normal token */
    }
    default:
        break;
    }
    if (v->kind == TOK_KIND_SPM) {
        for (size_t i = 0; i < n; i++) {
            if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                put(buf, cap, &k, " ", 1);
                i += 2;
            } else {
                put(buf, cap, &k, s + i, 1);
            }
        }
        return k;
    }
    /* byte-level BPE: each code point of GPT-2's alphabet is one byte; any
     * other code point (not produced by the encoder) passes through */
    for (size_t i = 0; i < n;) {
        size_t at = i;
        int b = tok_cp_to_byte(tok_utf8_next(s, n, &i));
        if (b >= 0) {
            char c = (char)b;
            put(buf, cap, &k, &c, 1);
        } else {
            put(buf, cap, &k, s + at, i - at);
        }
    }
    return k;
}

/* ---- streaming ----------------------------------------------------------- */

void tok_detok_init(chord_detok *d)
{
    memset(d, 0, sizeof *d);
    d->first = true;
}

/* Bytes a lead byte announces (0: not a valid lead byte) and the range its
 * second byte must fall in (excludes overlong forms, surrogates and code
 * points past U+10FFFF). */
static int lead_len(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return 2;
    if (c < 0xF0) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c < 0xF5) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* Writes complete characters of s[0..n) to out (room for cap-1 bytes plus
 * the NUL), each invalid piece as U+FFFD; keeps a trailing incomplete
 * sequence in d->pending. Returns the bytes written. */
static int emit_utf8(chord_detok *d, const unsigned char *s, size_t n, char *out, int cap)
{
    static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    int k = 0;
    size_t i = 0;
    d->n_pending = 0;
    while (i < n) {
        unsigned char lo, hi;
        int len = lead_len(s[i], &lo, &hi);
        const char *piece = (const char *)s + i;
        size_t plen = 1;
        if (len == 0) {
            piece = fffd;
            plen = 3;
            i++;
        } else {
            int got = 1;
            while (got < len && i + (size_t)got < n) {
                unsigned char c = s[i + (size_t)got];
                bool ok = got == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
                if (!ok)
                    break;
                got++;
            }
            if (got < len && i + (size_t)got == n) {
                /* valid so far but cut short: wait for the next token */
                memcpy(d->pending, s + i, (size_t)got);
                d->n_pending = got;
                break;
            }
            if (got < len) {
                piece = fffd;
                plen = 3;
            } else {
                plen = (size_t)len;
            }
            i += (size_t)got;
        }
        if (k + (int)plen > cap - 1)
            break; /* no room: cut at a character boundary */
        memcpy(out + k, piece, plen);
        k += (int)plen;
    }
    out[k] = 0;
    return k;
}

int tok_detok_push(chord_detok *d, const tok_vocab *v, chord_token t, char *out, int cap)
{
    if (cap <= 0)
        return 0;
    char small[256];
    char *buf = small;
    int n = tok_token_bytes(v, t, false, NULL, 0);
    if (n < 0) {
        out[0] = 0;
        return 0;
    }
    size_t need = (size_t)n + (size_t)d->n_pending;
    if (need > sizeof small) {
        buf = malloc(need);
        if (!buf) {
            out[0] = 0;
            return 0;
        }
    }
    int np = d->n_pending > 0 && d->n_pending <= (int)sizeof d->pending ? d->n_pending : 0;
    memcpy(buf, d->pending, (size_t)np);
    tok_token_bytes(v, t, false, buf + np, n);
    char *piece = buf + np;
    /* SentencePiece writes a space before the first word; the reader did
     * not type it (see tok.h). */
    if (d->first && n > 0) {
        d->first = false;
        if (v->kind == TOK_KIND_SPM && piece[0] == ' ') {
            memmove(piece, piece + 1, (size_t)n - 1);
            n--;
        }
    }
    int k = emit_utf8(d, (const unsigned char *)buf, (size_t)np + (size_t)n, out, cap);
    if (buf != small)
        free(buf);
    return k;
}

int tok_detok_flush(chord_detok *d, char *out, int cap)
{
    if (cap <= 0)
        return 0;
    int k = 0;
    if (d->n_pending > 0 && cap > 3) {
        memcpy(out, "\xef\xbf\xbd", 3);
        k = 3;
    }
    d->n_pending = 0;
    out[k] = 0;
    return k;
}
