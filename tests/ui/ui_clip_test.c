/*
 * ui_clip_test.c - /copy's pieces without a terminal: the N-th fenced code
 * block of a reply (``` and ~~~ fences, info strings, indented fences,
 * longer closing fences, a fence of the other kind inside, an unclosed
 * last block, empty blocks) and the base64 of OSC 52 (RFC 4648 vectors).
 */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "ui_clip.h"

static void check_block(int line, const char *text, int n, int want_count, const char *want)
{
    const char *s = NULL;
    size_t len = 0;
    int k = ui_clip_code_block(text, strlen(text), n, &s, &len);
    if (k != want_count)
        t_fail_at(__FILE__, line, "%d blocks, want %d", k, want_count);
    if (!want)
        return;
    if (!s || len != strlen(want) || memcmp(s, want, len))
        t_fail_at(__FILE__, line, "block %d: \"%.*s\", want \"%s\"", n, s ? (int)len : 0,
                  s ? s : "", want);
}

int main(void)
{
    const char *r = "Two blocks.\n```sh\necho one\n```\nand\n~~~python\nprint(2)\nx = 3\n~~~\nDone.";
    check_block(__LINE__, r, 1, 2, "echo one");
    check_block(__LINE__, r, 2, 2, "print(2)\nx = 3");
    check_block(__LINE__, r, 3, 2, NULL);
    check_block(__LINE__, "no code here, just `inline`", 1, 0, NULL);
    /* a ~~~ line inside a ``` block is text; a longer closing fence closes */
    check_block(__LINE__, "````\n~~~\n```\n`````\nafter", 1, 1, "~~~\n```");
    /* up to three spaces before a fence; four is not a fence */
    check_block(__LINE__, "   ```c\nint x;\n   ```\n    ```\n", 1, 1, "int x;");
    /* a backtick fence's info string has no backtick */
    check_block(__LINE__, "``` a`b\nnot code\n", 1, 0, NULL);
    /* unclosed at the end (a reply cut by -n): to the end */
    check_block(__LINE__, "text\n```py\nline 1\nline 2\n", 1, 1, "line 1\nline 2");
    check_block(__LINE__, "```\n```\n```\nx\n```", 1, 2, "");
    check_block(__LINE__, "```\n```\n```\nx\n```", 2, 2, "x");
    /* CRLF lines: the closing fence still closes */
    check_block(__LINE__, "```\r\nx\r\n```\r\n", 1, 1, "x\r");

    static const char *const b64[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
        {"\xc3\xa9\xff", "w6n/"},
    };
    for (size_t i = 0; i < sizeof b64 / sizeof *b64; i++) {
        char *e = ui_clip_base64(b64[i][0], strlen(b64[i][0]));
        T_REQUIRE(e != NULL, "no memory");
        T_EQ_STR(e, b64[i][1]);
        free(e);
    }
    /* the sequence itself */
    char buf[64] = {0};
    FILE *f = fmemopen(buf, sizeof buf, "w");
    T_REQUIRE(f != NULL, "fmemopen");
    T_CHECK(ui_clip_osc52(f, "hello", 5), "osc52 write");
    fclose(f);
    T_EQ_STR(buf, "\033]52;c;aGVsbG8=\a");
    return t_done();
}
