/*
 * ui_wrap_test.c - wrapping by display width: CJK and emoji take two
 * cells, combining marks none, words break at spaces, long words split
 * between characters, invalid bytes take one cell.
 */
#include <locale.h>
#include <string.h>

#include "t.h"
#include "ui_wrap.h"

/* Wraps s at width and checks the lines against want (a NULL-terminated
 * list of expected line texts). */
static void check_wrap(int line, const char *s, int width, const char *const *want)
{
    ui_line L[32];
    int n = ui_wrap(s, strlen(s), width, L, 32);
    int nw = 0;
    while (want[nw])
        nw++;
    if (n != nw) {
        t_fail_at(__FILE__, line, "\"%s\" at width %d: %d lines, want %d", s, width, n, nw);
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t len = L[i].end - L[i].start;
        if (len != strlen(want[i]) || memcmp(s + L[i].start, want[i], len) != 0)
            t_fail_at(__FILE__, line, "\"%s\" at width %d, line %d: \"%.*s\", want \"%s\"",
                      s, width, i, (int)len, s + L[i].start, want[i]);
        if (L[i].cols > width)
            t_fail_at(__FILE__, line, "line %d is %d cells wide, over %d", i, L[i].cols, width);
        if (L[i].cols != ui_text_width(want[i], strlen(want[i])))
            t_fail_at(__FILE__, line, "line %d: cols %d, want %d", i, L[i].cols,
                      ui_text_width(want[i], strlen(want[i])));
    }
}
#define WRAP(s, w, ...) check_wrap(__LINE__, s, w, (const char *const[]){__VA_ARGS__, NULL})

static void test_widths_count_cells(void)
{
    T_EQ_INT(ui_text_width("abc", 3), 3);
    T_EQ_INT(ui_text_width("\xe4\xb8\xad\xe6\x96\x87", 6), 4);        /* 中文 */
    T_EQ_INT(ui_text_width("\xf0\x9f\x98\x80", 4), 2);                /* 😀 */
    T_EQ_INT(ui_text_width("e\xcc\x81", 3), 1);                       /* e + U+0301 */
    T_EQ_INT(ui_text_width("\xc3\xa9t\xc3\xa9", 5), 3);               /* été */
    T_EQ_INT(ui_text_width("\xff" "a", 2), 2);                        /* invalid byte */
    T_EQ_INT(ui_text_width("\xe4\xb8", 2), 2);                        /* truncated 3-byte */
    uint32_t cp;
    T_EQ_INT(ui_utf8_next("\xc0\x80", 2, &cp), 1);                    /* overlong NUL */
    T_EQ_INT(cp, 0xFFFD);
    T_EQ_INT(ui_utf8_next("\xed\xa0\x80", 3, &cp), 1);                /* surrogate */
    T_EQ_INT(ui_utf8_next("\xf0\x9f\x98\x80", 4, &cp), 4);
    T_EQ_INT(cp, 0x1F600);
}

static void test_words_break_at_spaces(void)
{
    WRAP("", 10, "");
    WRAP("hello world", 20, "hello world");
    WRAP("hello world", 8, "hello", "world");
    WRAP("hello world", 5, "hello", "world");       /* space at the edge dropped */
    WRAP("one two three four", 9, "one two", "three", "four");
    WRAP("a\nb\n", 10, "a", "b", "");
    WRAP("a\n\nb", 10, "a", "", "b");
}

static void test_long_words_split_between_characters(void)
{
    WRAP("abcdefghij", 4, "abcd", "efgh", "ij");
    WRAP("ab cdefghijkl", 5, "ab", "cdefg", "hijkl");
}

static void test_wide_characters_never_split(void)
{
    /* 中文字符 = four 2-cell characters; width 5 holds two */
    WRAP("\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe7\xac\xa6", 5,
         "\xe4\xb8\xad\xe6\x96\x87", "\xe5\xad\x97\xe7\xac\xa6");
    /* a + 😀😀 at width 4: "a😀" is 3 cells, the next emoji goes down */
    WRAP("a\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 4, "a\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
    /* CJK words with spaces break at the space */
    WRAP("\xe4\xb8\xad\xe6\x96\x87 \xe5\xad\x97", 5, "\xe4\xb8\xad\xe6\x96\x87", "\xe5\xad\x97");
}

static void test_combining_marks_stay_with_their_base(void)
{
    /* "cafe\u0301 bar": the accent adds no width, so "café" fits in 4 */
    WRAP("cafe\xcc\x81 bar", 4, "cafe\xcc\x81", "bar");
    /* a long run of e+U+0301 splits after the mark, never before it */
    WRAP("e\xcc\x81" "e\xcc\x81" "e\xcc\x81", 2, "e\xcc\x81" "e\xcc\x81", "e\xcc\x81");
}

static void test_tabs_run_to_stops(void)
{
    T_EQ_INT(ui_text_width("\t", 1), 8);
    T_EQ_INT(ui_text_width("a\tb", 3), 9);
    T_EQ_INT(ui_text_width("\xe4\xb8\xad\t.", 5), 9);     /* 中 then a tab: to column 8 */
    T_EQ_INT(ui_text_width("12345678\t", 9), 16);
    WRAP("a\tb", 20, "a\tb");
    /* a tab is a break like a space; stops count from each line's start */
    WRAP("aaaa\tbbbb", 10, "aaaa", "bbbb");
    WRAP("aaaaaa b\tcc", 10, "aaaaaa b", "cc");
    T_EQ_INT(ui_fit("a\tb", 3, 8), 2);
    T_EQ_INT(ui_fit("a\tb", 3, 7), 1);
}

/* Code points newer than the C library's tables still get their width
 * from their Unicode block. */
static void test_unknown_code_points_by_block(void)
{
    T_EQ_INT(ui_cp_width(0x1FAE8), 2);     /* an emoji of Unicode 15 */
    T_EQ_INT(ui_cp_width(0x31350), 2);     /* CJK extension H */
    T_EQ_INT(ui_cp_width(0x4E2D), 2);
    T_EQ_INT(ui_cp_width(0x301), 0);
    T_EQ_INT(ui_cp_width(0xFE0F), 0);      /* variation selector */
    T_EQ_INT(ui_cp_width('a'), 1);
}

static void test_fit_cuts_on_character_boundaries(void)
{
    const char *s = "a\xe4\xb8\xad" "b";   /* a中b: 1+2+1 cells */
    T_EQ_INT(ui_fit(s, strlen(s), 2), 1);  /* 中 does not fit after a */
    T_EQ_INT(ui_fit(s, strlen(s), 3), 4);
    T_EQ_INT(ui_fit(s, strlen(s), 10), 5);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        t_skip("no C.UTF-8 locale");
    test_widths_count_cells();
    test_words_break_at_spaces();
    test_long_words_split_between_characters();
    test_wide_characters_never_split();
    test_combining_marks_stay_with_their_base();
    test_fit_cuts_on_character_boundaries();
    test_tabs_run_to_stops();
    test_unknown_code_points_by_block();
    return t_done();
}
