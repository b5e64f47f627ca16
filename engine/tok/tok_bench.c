/*
 * tok_bench.c - tokenizer speed on generated mixed text.
 *
 * The text mixes what a chat sees: English prose, source code with deep
 * indentation, numbers, accented Latin, Cyrillic, CJK, emoji (multi-code-
 * point sequences), and long runs of spaces and newlines, picked by a fixed
 * pseudo-random sequence so every run measures the same bytes. Long runs of
 * one character are included on purpose: they are where a quadratic merge
 * loop would show.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "tok/tok.h"

static const char *const snippets[] = {
    "The quick brown fox jumps over the lazy dog. ",
    "It was the best of times, it was the worst of times; we'd all agree. ",
    "int main(void) {\n    for (int i = 0; i < 10; i++) {\n        printf(\"%d\\n\", i);\n    }\n}\n",
    "def f(x):\n\treturn [y ** 2 for y in range(x) if y % 3 == 0]\n",
    "Pi is 3.14159265358979, e is 2.718281828; 1234567890 + 987654321 = 2222222211. ",
    ("Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e, na\xc3\xafve fa\xc3\xa7" "ade, \xc3\x84pfel und \xc3\x9c" "ber. "),
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80! ",
    ("\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8" "apple\xe5\xb7\xa5\xe4\xbd\x9c\xe3\x80\x82\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 "),
    "\xf0\x9f\x9a\x80 \xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f \xe2\x9c\x85 \xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 ",
    "                                \n\n\n\n        \t\t\t  ",
    "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? ",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

chord_status tok_bench(const tok_vocab *v, size_t bytes, tok_bench_result *r,
                       chord_err *err)
{
    memset(r, 0, sizeof *r);
    if (bytes == 0 || bytes > ((size_t)1 << 30))
        return err_set(err, CHORD_E_INVALID, "tokenizer bench: size %zu out of range (1 byte to 1 GiB)", bytes);
    char *text = malloc(bytes + 256);
    if (!text)
        return err_set(err, CHORD_E_NOMEM, "tokenizer bench: out of memory for %zu bytes", bytes);
    size_t n = 0;
    uint32_t seed = 12345;
    const size_t n_snip = sizeof snippets / sizeof snippets[0];
    while (n < bytes) {
        seed = seed * 1664525u + 1013904223u;
        const char *s = snippets[(seed >> 16) % n_snip];
        size_t l = strlen(s);
        memcpy(text + n, s, l);  /* every snippet is < 256 bytes */
        n += l;
    }
    n = bytes;
    /* do not end inside a UTF-8 sequence */
    while (n > 0 && ((unsigned char)text[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 0 && (unsigned char)text[n - 1] >= 0xC0)
        n--;

    double t0 = now_s();
    int k = tok_encode(v, text, n, false, false, false, NULL, 0, err);
    double t1 = now_s();
    free(text);
    if (k < 0)
        return CHORD_E_NOMEM;
    r->bytes = n;
    r->n_tokens = k;
    r->seconds = t1 - t0;
    r->mb_per_s = r->seconds > 0 ? (double)n / 1e6 / r->seconds : 0;
    return CHORD_OK;
}
