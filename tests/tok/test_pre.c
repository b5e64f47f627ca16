/*
 * test_pre.c - pre-tokenizer splits for the rule sets that have no
 * reference vectors in ../shared (llama3, qwen2, default/gpt-neox,
 * chameleon, bloom, seed-coder, gpt-4o) plus deepseek-coder, each worked out by
 * hand from the rule's regex: contractions, letters with one leading
 * non-letter, digit groups, punctuation with trailing newlines, and the
 * white-space rules (\s*[\r\n]+, \s+(?!\S), \s+).
 */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

/* Splits text with rule set pre and joins the pieces with '|'. */
static void expect_split(enum tok_pre pre, const char *text, const char *want)
{
    size_t n = strlen(text), ncp = 0;
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    for (size_t i = 0; i < n;)
        cp[ncp++] = tok_utf8_next(text, n, &i);
    uint32_t *lens = NULL;
    long nw = tok_pre_split(pre, cp, ncp, &lens);
    char got[1024];
    size_t k = 0, at = 0;
    for (long w = 0; w < nw && k < sizeof got - 16; w++) {
        if (w)
            got[k++] = '|';
        for (size_t j = at; j < at + lens[w]; j++)
            k += (size_t)tok_utf8_put(cp[j], got + k);
        at += lens[w];
    }
    got[k] = 0;
    T_CHECK(strcmp(got, want) == 0, "%s split of \"%s\":\n  got  \"%s\"\n  want \"%s\"",
            tok_pre_label(pre), text, got, want);
    T_CHECK(at == ncp, "%s: pieces cover %zu of %zu code points", tok_pre_label(pre), at, ncp);
    free(lens);
    free(cp);
}

int main(void)
{
    const char *mixed = "Hello, y'all! How are you \xf0\x9f\x98\x81 ?\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8"
                        "apple\xe5\xb7\xa5\xe4\xbd\x9c" "1314151\xe5\xa4\xa9\xef\xbd\x9e";
    expect_split(TOK_PRE_LLAMA3, mixed,
                 "Hello|,| y|'all|!| How| are| you| \xf0\x9f\x98\x81| ?|"
                 "\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8" "apple\xe5\xb7\xa5\xe4\xbd\x9c|131|415|1|"
                 "\xe5\xa4\xa9|\xef\xbd\x9e");
    expect_split(TOK_PRE_QWEN2, mixed,
                 "Hello|,| y|'all|!| How| are| you| \xf0\x9f\x98\x81| ?|"
                 "\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8" "apple\xe5\xb7\xa5\xe4\xbd\x9c|1|3|1|4|1|5|1|"
                 "\xe5\xa4\xa9|\xef\xbd\x9e");
    /* case-insensitive contractions, punctuation keeps its newlines */
    expect_split(TOK_PRE_LLAMA3, "I'M here'S it.\n\nok", "I|'M| here|'S| it|.\n\n|ok");
    expect_split(TOK_PRE_GPT2, "I'M here's", "I|'|M| here|'s");
    /* white space: up to the last newline; a run before a word leaves it
     * one space; a run at the end stays whole; a lone tab before a word
     * matches nothing and is a piece of its own */
    expect_split(TOK_PRE_LLAMA3, "a  \n\n  b   ", "a|  \n\n| | b|   ");
    expect_split(TOK_PRE_GPT2, "a   b\t\tc  ", "a|  | b|\t|\t|c|  ");
    /* seed-coder: no newline tail after punctuation */
    expect_split(TOK_PRE_SEED_CODER, "x.\n\ny", "x|.|\n\n|y");
    /* default (gpt-neox): punctuation runs, then gpt-2, then digits apart
     * from their space, then groups of three */
    expect_split(TOK_PRE_DEFAULT, "Hello, world! 3333 a.b", "Hello|,| world|!| |333|3| a|.|b");
    /* every later rule splits the earlier matches too: the sentinel
     * falls apart (the special-token pass keeps real sentinels whole) */
    expect_split(TOK_PRE_CHAMELEON, "<sentinel:12>IMGIMGABZ  x1,y",
                 "<|sentinel|:|1|2|>|IMGIMGABZ|  |x|1|,|y");
    expect_split(TOK_PRE_CHAMELEON, "IMGIMGAAAAAZ", "IMGIMGAAAAAZ");
    expect_split(TOK_PRE_DEEPSEEK_CODER, "a\nb 12", "a|\n|b| |1|2");
    expect_split(TOK_PRE_BLOOM, "Hi, there(you)", "Hi|,| there|(|you|)");
    /* non-ASCII white space counts as \s (but is not the ' ' of " ?\p{L}+");
     * U+3000 is not CJK for deepseek */
    expect_split(TOK_PRE_GPT2, "a\xe3\x80\x80\xe3\x80\x80" "b", "a|\xe3\x80\x80|\xe3\x80\x80|b");
    expect_split(TOK_PRE_DEEPSEEK_LLM, "\xe4\xb8\x80\xe3\x80\x80\xe4\xb8\x80",
                 "\xe4\xb8\x80|\xe3\x80\x80|\xe4\xb8\x80");
    /* gpt-4o: a word is upper-case letters then lower-case ones, so a
     * case change inside a word splits it, and an upper-case run keeps its
     * last capital when lower case follows (XMLHttp) */
    expect_split(TOK_PRE_GPT4O, "HelloWorld CamelCASE XMLHttpRequest",
                 "Hello|World| Camel|CASE| XMLHttp|Request");
    /* digits in threes, never with a space; contractions in any case end a
     * word, wherever it is upper case */
    expect_split(TOK_PRE_GPT4O, "1234567 12345", "123|456|7| |123|45");
    expect_split(TOK_PRE_GPT4O, "I'M here'S they'll don'tStop", "I'M| here'S| they'll| don't|Stop");
    /* one non-letter (tab, punctuation, not a newline) leads a word, but a
     * space before punctuation goes with the punctuation; punctuation takes
     * the newlines and slashes after it */
    expect_split(TOK_PRE_GPT4O, "\tHello !x,y --z\nw", "\tHello| !|x|,y| --|z|\n|w");
    expect_split(TOK_PRE_GPT4O, "x.\n\n/y a\r\nb", "x|.\n\n/|y| a|\r\n|b");
    expect_split(TOK_PRE_GPT4O, "a  \n\n  b   ", "a|  \n\n| | b|   ");
    /* outside ASCII a letter has no case (the reference's stand-in letter
     * is both upper and lower case): " ÄÖB" gives its capitals
     * back until a lower-case run can start, at Ö */
    expect_split(TOK_PRE_GPT4O, "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xc3\x84\xc3\x96" "B",
                 "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9| \xc3\x84\xc3\x96|B");
    /* an empty text has no pieces */
    uint32_t *lens = NULL;
    T_EQ_INT(tok_pre_split(TOK_PRE_GPT2, NULL, 0, &lens), 0);
    free(lens);
    bool known;
    T_EQ_INT(tok_pre_from_name("llama-bpe", &known), TOK_PRE_LLAMA3);
    T_CHECK(known, "llama-bpe is known");
    T_EQ_INT(tok_pre_from_name("gpt-4o", &known), TOK_PRE_GPT4O);
    T_CHECK(known, "gpt-4o is known");
    T_EQ_INT(tok_pre_from_name("tekken-xyz", &known), TOK_PRE_GPT2);
    T_CHECK(!known, "an unknown name falls back to gpt-2 and says so");
    return t_done();
}
