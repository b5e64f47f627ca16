/*
 * ui_clip.c - code blocks for /copy N and OSC 52 (see ui_clip.h).
 */
#include "ui_clip.h"

#include <stdlib.h>
#include <string.h>

/* A fence line at p (line of n bytes): its character and length, or 0. */
static size_t fence(const char *p, size_t n, char *ch)
{
    size_t i = 0;
    while (i < n && i < 3 && p[i] == ' ')
        i++;
    if (i >= n || (p[i] != '`' && p[i] != '~'))
        return 0;
    char c = p[i];
    size_t k = 0;
    while (i + k < n && p[i + k] == c)
        k++;
    if (k < 3)
        return 0;
    /* a backtick fence's info string has no backtick (CommonMark) */
    if (c == '`' && memchr(p + i + k, '`', n - i - k))
        return 0;
    *ch = c;
    return k;
}

/* Whether the line is only the closing fence (ch, at least k long). */
static bool closes(const char *p, size_t n, char ch, size_t k)
{
    char c;
    size_t m = fence(p, n, &c);
    if (!m || c != ch || m < k)
        return false;
    size_t i = 0;
    while (p[i] == ' ')
        i++;
    for (i += m; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

int ui_clip_code_block(const char *text, size_t len, int n, const char **start, size_t *blen)
{
    int count = 0;
    bool in = false;
    char ch = 0;
    size_t k = 0, body = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - text) : len, ll = e - pos;
        if (!in) {
            if ((k = fence(text + pos, ll, &ch)) != 0) {
                in = true;
                body = nl ? e + 1 : len;
                count++;
            }
        } else if (closes(text + pos, ll, ch, k)) {
            in = false;
            if (count == n) {
                *start = text + body;
                *blen = pos > body ? pos - 1 - body : 0;
            }
        }
        pos = nl ? e + 1 : len;
    }
    if (in && count == n) {   /* unclosed: to the end */
        size_t b = len;
        if (b > body && text[b - 1] == '\n')
            b--;
        *start = text + body;
        *blen = b > body ? b - body : 0;
    }
    return count;
}

char *ui_clip_base64(const char *s, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1);
    if (!o)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t j = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16 | (unsigned)u[i + 1] << 8 | u[i + 2];
        o[j++] = a[v >> 18];
        o[j++] = a[(v >> 12) & 63];
        o[j++] = a[(v >> 6) & 63];
        o[j++] = a[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)u[i] << 16 | (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0);
        o[j++] = a[v >> 18];
        o[j++] = a[(v >> 12) & 63];
        o[j++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        o[j++] = '=';
    }
    o[j] = 0;
    return o;
}

bool ui_clip_osc52(FILE *f, const char *s, size_t n)
{
    char *b = ui_clip_base64(s, n);
    if (!b)
        return false;
    bool ok = fprintf(f, "\033]52;c;%s\a", b) > 0;
    free(b);
    return fflush(f) == 0 && ok;
}
