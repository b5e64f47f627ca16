/*
 * tok_unicode.c - UTF-8, code point classes and the byte-level alphabet.
 */
#include "tok/tok_unicode.h"

uint32_t tok_utf8_next(const char *s, size_t n, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = n - *i;
    unsigned char c = p[0];
    uint32_t cp;
    size_t len;

    if (c < 0x80) {
        *i += 1;
        return c;
    }
    /* Lead bytes the reference accepts; it does not reject overlong forms
     * or surrogates, and neither do we, so ids match on odd input too. */
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else { *i += 1; return TOK_REPLACEMENT; }
    if (left < len) {
        *i += 1;
        return TOK_REPLACEMENT;
    }
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80) {
            *i += 1;
            return TOK_REPLACEMENT;
        }
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    *i += len;
    return cp;
}

int tok_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Binary search for the range holding cp; its class, or 0. */
static int range_lookup(const tok_ucd_range *r, int n, uint32_t cp)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid - 1;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return r[mid].cls;
    }
    return 0;
}

int tok_cls(uint32_t cp)
{
    /* ASCII is most of any text: answer it without the search. */
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return TOK_CLS_L;
        if (cp >= '0' && cp <= '9')
            return TOK_CLS_N;
        /* ASCII punctuation (P*): not $ + < = > ^ ` | ~ which are symbols */
        if ((cp >= 0x21 && cp <= 0x23) || (cp >= 0x25 && cp <= 0x2A) ||
            (cp >= 0x2C && cp <= 0x2F) || cp == 0x3A || cp == 0x3B ||
            cp == 0x3F || cp == 0x40 || (cp >= 0x5B && cp <= 0x5D) ||
            cp == 0x5F || cp == 0x7B || cp == 0x7D)
            return TOK_CLS_P;
        return TOK_CLS_OTHER;
    }
    return range_lookup(tok_ucd_classes, tok_ucd_n_classes, cp);
}

bool tok_is_space(uint32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool tok_is_deepseek_letter(uint32_t cp)
{
    return range_lookup(tok_ucd_deepseek_letters, tok_ucd_n_deepseek_letters, cp) != 0;
}

/* GPT-2 keeps printable ASCII and Latin-1 (except the soft hyphen) as
 * themselves; the other 68 bytes, in byte order, become U+0100 + k:
 * 0x00-0x20 (k = 0..32), 0x7F-0xA0 (k = 33..66) and 0xAD (k = 67). */
uint32_t tok_byte_to_cp(unsigned char b)
{
    if (b <= 0x20)
        return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x100u + 33 + (b - 0x7Fu);
    if (b == 0xAD)
        return 0x100u + 67;
    return b;
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) ? -1 : (int)cp;
    if (cp >= 0x100 + 68)
        return -1;
    uint32_t k = cp - 0x100;
    if (k <= 32)
        return (int)k;
    if (k <= 66)
        return (int)(0x7F + (k - 33));
    return 0xAD;
}
