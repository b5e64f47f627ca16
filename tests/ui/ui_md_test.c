/*
 * ui_md_test.c - a reply's Markdown as display lines: every construct to
 * its exact lines and span flags, widths by display cells (tabs, CJK), and
 * streaming: the lines of the finished blocks never change as more text
 * arrives.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "ui_md.h"
#include "ui_wrap.h"

/* Line i's text (all spans joined). */
static const char *line(const ui_md_doc *d, int i)
{
    static char buf[4096];
    size_t n = 0;
    const ui_md_line *l = &d->lines[i];
    for (uint32_t k = 0; k < l->n_spans; k++) {
        const ui_md_span *s = &d->spans[l->span0 + k];
        if (n + s->len < sizeof buf) {
            memcpy(buf + n, d->buf + s->off, s->len);
            n += s->len;
        }
    }
    buf[n] = 0;
    return buf;
}

/* The flags of the span of line i whose text is exactly t, or -1. */
static long span_fl(const ui_md_doc *d, int i, const char *t)
{
    const ui_md_line *l = &d->lines[i];
    for (uint32_t k = 0; k < l->n_spans; k++) {
        const ui_md_span *s = &d->spans[l->span0 + k];
        if (s->len == strlen(t) && !memcmp(d->buf + s->off, t, s->len))
            return (long)s->fl;
    }
    return -1;
}

static ui_md_doc D;

/* Renders md at width (ASCII glyphs unless utf8) and checks the lines
 * against want (NULL-terminated), and each line's cols. */
static void check(int ln, const char *md, int width, bool utf8, int code_base, const char *const *want)
{
    ui_md_opts o = {width, utf8, code_base};
    if (ui_md_render(&D, md, strlen(md), &o) != 0) {
        t_fail_at(__FILE__, ln, "render failed");
        return;
    }
    int nw = 0;
    while (want[nw])
        nw++;
    for (int i = 0; i < D.n_lines || i < nw; i++) {
        const char *got = i < D.n_lines ? line(&D, i) : "(none)";
        const char *w = i < nw ? want[i] : "(none)";
        if (strcmp(got, w))
            t_fail_at(__FILE__, ln, "line %d: \"%s\", want \"%s\"", i, got, w);
        else if (D.lines[i].cols != ui_text_width(w, strlen(w)))
            t_fail_at(__FILE__, ln, "line %d: cols %d, want %d", i, D.lines[i].cols, ui_text_width(w, strlen(w)));
    }
}
#define MD(md, w, ...) check(__LINE__, md, w, false, 0, (const char *const[]){__VA_ARGS__, NULL})
#define MDU(md, w, base, ...) check(__LINE__, md, w, true, base, (const char *const[]){__VA_ARGS__, NULL})

static void test_headings_lose_their_marks(void)
{
    MD("# Title\n\nText\n\n## Sub\n\n### Third", 40, "Title", "", "Text", "", "Sub", "", "Third");
    T_EQ_INT(span_fl(&D, 0, "Title"), UI_MD_H1);
    T_EQ_INT(span_fl(&D, 4, "Sub"), UI_MD_H2);
    T_EQ_INT(span_fl(&D, 6, "Third"), UI_MD_H3);
    T_EQ_INT(span_fl(&D, 2, "Text"), 0);
    /* setext too */
    MD("Big\n===", 40, "Big");
    T_EQ_INT(span_fl(&D, 0, "Big"), UI_MD_H1);
}

static void test_inline_styles(void)
{
    MD("a **b** *c* `d` ~~e~~ ***f***", 40, "a b c d e f");
    T_EQ_INT(span_fl(&D, 0, "b"), UI_MD_BOLD);
    T_EQ_INT(span_fl(&D, 0, "c"), UI_MD_ITALIC);
    T_EQ_INT(span_fl(&D, 0, "d"), UI_MD_CODE);
    T_EQ_INT(span_fl(&D, 0, "e"), UI_MD_STRIKE);
    T_EQ_INT(span_fl(&D, 0, "f"), UI_MD_BOLD | UI_MD_ITALIC);
    /* wrapped by display width, styles carried across the break */
    MD("one **two three four** five", 12, "one two", "three four", "five");
    T_EQ_INT(span_fl(&D, 0, "two"), UI_MD_BOLD);
    T_EQ_INT(span_fl(&D, 1, "three four"), UI_MD_BOLD);
    T_EQ_INT(span_fl(&D, 2, "five"), 0);
    /* soft breaks join, hard breaks break; entities decode */
    MD("a\nb  \nc &amp; &#x4E2D;", 40, "a b", "c & \xe4\xb8\xad");
}

static void test_code_block_framed_with_language(void)
{
    MD("```python\nprint(1)\n```", 20,
       "+- python ---------+",
       "| print(1)         |",
       "+------------------+");
    T_EQ_INT(span_fl(&D, 0, "python"), UI_MD_LABEL);
    T_EQ_INT(span_fl(&D, 1, "print(1)"), UI_MD_PRE);
    /* box drawing, and the block's number for /code */
    MDU("```sh\nls\n```", 24, 3,
        "\xe2\x94\x8c\xe2\x94\x80 sh \xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
        "\xe2\x94\x80\xe2\x94\x80 /code 3 \xe2\x94\x80\xe2\x94\x90",
        "\xe2\x94\x82 ls                   \xe2\x94\x82",
        "\xe2\x94\x94\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
        "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
        "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x98");
    T_EQ_INT(span_fl(&D, 0, " /code 3 "), UI_MD_LABEL);
    T_EQ_INT(D.n_codes, 1);
}

static void test_long_code_lines_are_cut_not_wrapped(void)
{
    MD("```\n0123456789abcdefghij\nshort\n```", 20,
       "+------------------+",
       "| 0123456789abcde> |",
       "| short            |",
       "+------------------+");
    T_EQ_INT(span_fl(&D, 1, ">"), UI_MD_CUT);
    /* a wide character that would straddle the cut goes whole */
    MD("```\n01234567890123\xe4\xb8\xadx\n```", 20,
       "+------------------+",
       "| 01234567890123 > |",
       "+------------------+");
    /* tabs run to stops of 8 from the code's left edge */
    MD("```\na\tb\nabc\tc\n```", 20,
       "+------------------+",
       "| a       b        |",
       "| abc     c        |",
       "+------------------+");
    /* an open fence (a reply still streaming) is a code block already */
    MD("```c\nint x;", 20,
       "+- c --------------+",
       "| int x;           |",
       "+------------------+");
}

static void test_lists_hang_their_text(void)
{
    MD("- one\n- two\n  - nested\n    - deeper\n- three", 40,
       "* one", "* two", "  - nested", "    + deeper", "* three");
    T_EQ_INT(span_fl(&D, 0, "* "), UI_MD_BULLET);
    MD("- alpha beta gamma", 12, "* alpha beta", "  gamma");
    MD("3. x\n4. y", 40, "3. x", "4. y");
    MD("9. a\n10. b long words", 12, "9. a", "10. b long", "    words");
    /* loose lists are drawn tight: a list turning loose keeps its lines */
    MD("- a\n\n- b", 40, "* a", "* b");
    MD("- [ ] todo\n- [x] done", 40, "* [ ] todo", "* [x] done");
    MD("1. step\n   ```\n   ls\n   ```\n2. next", 20,
       "1. step",
       "   +---------------+",
       "   | ls            |",
       "   +---------------+",
       "2. next");
    MDU("- a", 20, 0, "\xe2\x80\xa2 a");
}

static void test_quotes_have_a_gutter(void)
{
    MD("> quoted text\n> more\n>\n> second", 40, "| quoted text more", "|", "| second");
    MD("- > a\n  >\n  > b", 40, "* | a", "  |", "  | b");
    T_EQ_INT(span_fl(&D, 0, "| "), UI_MD_QUOTE);
    MD("> a long quoted line", 12, "| a long", "| quoted", "| line");
    MD("text\n\n> q\n\nafter", 40, "text", "", "| q", "", "after");
}

static void test_tables_align_their_columns(void)
{
    MD("| a | bb |\n|---|--:|\n| ccc | d |\n| e | |", 40,
       "a   | bb",
       "----+---",
       "ccc |  d",
       "e   | ");
    T_EQ_INT(span_fl(&D, 0, "a"), UI_MD_BOLD);
    T_EQ_INT(span_fl(&D, 1, "----+---"), UI_MD_FRAME);
    T_EQ_INT(span_fl(&D, 2, "ccc"), 0);
    /* columns by display width: 中文 is 4 cells */
    MD("| \xe4\xb8\xad\xe6\x96\x87 | x |\n|:-:|---|\n| a | **y** |", 40,
       "\xe4\xb8\xad\xe6\x96\x87 | x",
       "-----+--",
       " a   | y");
    T_EQ_INT(span_fl(&D, 2, "y"), UI_MD_BOLD);
    /* wider than the pane: cut with a marker, never wrapped */
    MD("| aaaaaa | bbbbbb |\n|---|---|\n| c | d |", 10,
       "aaaaaa | >",
       "-------+->",
       "c      | d");
    T_EQ_INT(span_fl(&D, 0, ">"), UI_MD_CUT);
}

static void test_links_show_their_url(void)
{
    MD("see [the docs](https://x.org/d) now", 60, "see the docs <https://x.org/d> now");
    T_EQ_INT(span_fl(&D, 0, "the docs"), UI_MD_LINK);
    T_EQ_INT(span_fl(&D, 0, " <https://x.org/d>"), UI_MD_URL);
    /* an autolink is its own URL: shown once */
    MD("go to https://a.b/c or <https://d.e> or www.f.g", 60, "go to https://a.b/c or https://d.e or www.f.g");
    MD("![a cat](cat.png)", 60, "a cat <cat.png>");
}

static void test_rules_and_raw_html(void)
{
    MD("a\n\n---\n\nb", 10, "a", "", "----------", "", "b");
    T_EQ_INT(span_fl(&D, 2, "----------"), UI_MD_FRAME);
    /* tags are text, and an indented line is prose, not code */
    MD("<b>x</b>\n\n    indented", 40, "<b>x</b>", "", "indented");
}

static void test_codes_are_extracted_whole(void)
{
    const char *md = "x\n\n```py\nprint('a very long line that no pane would show whole')\nx\tz\n```\n\n```\n2\n```\n";
    ui_md_code *v;
    int n = ui_md_codes(md, strlen(md), &v);
    T_EQ_INT(n, 2);
    if (n == 2) {
        T_EQ_STR(v[0].lang, "py");
        T_EQ_STR(v[0].text, "print('a very long line that no pane would show whole')\nx       z");
        T_EQ_INT(v[0].len, strlen(v[0].text));
        T_EQ_STR(v[1].lang, "");
        T_EQ_STR(v[1].text, "2");
    }
    ui_md_codes_free(v, n);
    T_EQ_INT(ui_md_codes("no code", 7, &v), 0);
    ui_md_codes_free(v, 0);
}

static void test_stable_prefix_ends_after_finished_blocks(void)
{
    const char *s = "para one\n\npara two";
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 10);
    s = "```\na\n\nb";                 /* a blank line inside an open fence */
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 0);
    s = "```\na\n\nb\n```\nafter";     /* a closing fence ends its block */
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 13);
    s = "# Head\ntext";
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 7);
    s = "x\n\n";
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 3);
    s = "x\n  ";                       /* a blank line not finished yet */
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 0);
    s = "- a\n  ```\n\n  ```\n\nz";     /* a fence inside a list item */
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 18);
    s = "``` not `a fence\n\nz";       /* backticks in a backtick fence's info */
    T_EQ_INT(ui_md_stable_len(s, strlen(s)), 18);
}

/* Equal lines: text and each span's flags. */
static bool same_line(const ui_md_doc *a, int i, const ui_md_doc *b, int j)
{
    const ui_md_line *x = &a->lines[i], *y = &b->lines[j];
    if (x->n_spans != y->n_spans || x->cols != y->cols)
        return false;
    for (uint32_t k = 0; k < x->n_spans; k++) {
        const ui_md_span *p = &a->spans[x->span0 + k], *q = &b->spans[y->span0 + k];
        if (p->len != q->len || p->fl != q->fl || memcmp(a->buf + p->off, b->buf + q->off, p->len))
            return false;
    }
    return true;
}

static const char reply[] =
    "# Plan\n"
    "\n"
    "Here is **the plan**, with *care* and `code`:\n"
    "\n"
    "1. First step, which is long enough to wrap around\n"
    "2. Second step\n"
    "   - a nested point\n"
    "\n"
    "- loose item\n"
    "\n"
    "- another loose item\n"
    "\n"
    "> A quote that\n"
    "> spans lines.\n"
    "\n"
    "```python\n"
    "def f(x):\n"
    "\n"
    "    return x * 2  # a comment long enough to be cut at the frame's edge\n"
    "```\n"
    "| name | value |\n"
    "|------|------:|\n"
    "| a    | 1     |\n"
    "| bbb  | 22    |\n"
    "\n"
    "See [docs](https://example.org/docs).\n"
    "\n"
    "---\n"
    "\n"
    "Done.\n";

/* As the reply streams in byte by byte, the finished blocks' lines are a
 * prefix of the final rendering at every step, for several widths. */
static void test_streaming_never_moves_finished_lines(void)
{
    int widths[] = {80, 40, 24};
    size_t len = strlen(reply);
    for (int wi = 0; wi < 3; wi++) {
        ui_md_opts o = {widths[wi], true, 1};
        ui_md_doc full = {0}, part = {0};
        if (ui_md_render(&full, reply, len, &o) != 0) {
            t_fail_at(__FILE__, __LINE__, "render");
            return;
        }
        int bad = 0;
        size_t last_sl = 0;
        for (size_t k = 0; k <= len && bad < 3; k++) {
            size_t sl = ui_md_stable_len(reply, k);
            if (sl < last_sl) {
                t_fail_at(__FILE__, __LINE__, "width %d: stable length went back at %zu (%zu < %zu)", widths[wi],
                          k, sl, last_sl);
                bad++;
            }
            last_sl = sl;
            if (ui_md_render(&part, reply, sl, &o) != 0) {
                t_fail_at(__FILE__, __LINE__, "render");
                break;
            }
            if (part.n_lines > full.n_lines) {
                t_fail_at(__FILE__, __LINE__, "width %d, %zu bytes: %d lines, more than the final %d",
                          widths[wi], k, part.n_lines, full.n_lines);
                bad++;
                continue;
            }
            for (int i = 0; i < part.n_lines; i++) {
                if (!same_line(&part, i, &full, i)) {
                    char a[4096];
                    snprintf(a, sizeof a, "%s", line(&part, i));
                    t_fail_at(__FILE__, __LINE__, "width %d, %zu bytes: line %d \"%s\" became \"%s\"",
                              widths[wi], k, i, a, line(&full, i));
                    bad++;
                    break;
                }
            }
        }
        /* all but the last paragraph, which no blank line closed yet */
        T_EQ_INT(ui_md_stable_len(reply, len), len - strlen("Done.\n"));
        ui_md_free(&full);
        ui_md_free(&part);
    }
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        t_skip("no C.UTF-8 locale");
    test_headings_lose_their_marks();
    test_inline_styles();
    test_code_block_framed_with_language();
    test_long_code_lines_are_cut_not_wrapped();
    test_lists_hang_their_text();
    test_quotes_have_a_gutter();
    test_tables_align_their_columns();
    test_links_show_their_url();
    test_rules_and_raw_html();
    test_codes_are_extracted_whole();
    test_stable_prefix_ends_after_finished_blocks();
    test_streaming_never_moves_finished_lines();
    ui_md_free(&D);
    return t_done();
}
