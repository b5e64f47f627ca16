/*
 * chat_stop: the reply filter that holds back text which may begin the
 * template's stop text (engine/chat/chat_stop.h), driven with made-up
 * pieces: a stop text spelled across pieces and starting mid-piece, a near
 * miss that must come out whole and in order, the stop text at the very
 * start, no stop text at all, and the end of a reply releasing what waits.
 */
#include <string.h>

#include "chat/chat_stop.h"
#include "t.h"

/* Everything the filter hands out now, as "id:text|id:text|". */
static const char *drain(chat_stop *f)
{
    static char out[4096];
    size_t n = 0;
    chord_token id;
    const char *text;
    size_t len;
    out[0] = 0;
    while (chat_stop_next(f, &id, &text, &len)) {
        T_CHECK(strlen(text) == len, "piece length %zu but strlen %zu", len, strlen(text));
        n += (size_t)snprintf(out + n, sizeof out - n, "%d:%s|", id, text);
    }
    return out;
}

static bool push(chat_stop *f, chord_token id, const char *text)
{
    chord_status st;
    bool hit = chat_stop_push(f, id, text, strlen(text), &st);
    T_EQ_INT(st, CHORD_OK);
    return hit;
}

static void test_stop_across_pieces_cuts_mid_piece(void)
{
    chat_stop f;
    chat_stop_init(&f, "</s>");
    T_CHECK(!push(&f, 1, "Hello"), "no stop yet");
    T_EQ_STR(drain(&f), "1:Hello|");
    T_CHECK(!push(&f, 2, " wor"), "no stop yet");
    T_CHECK(!push(&f, 3, "ld<"), "no stop yet");
    /* "<" may begin "</s>": piece 3 waits whole (pieces are never split
     * unless the stop text is reached) */
    T_EQ_STR(drain(&f), "2: wor|");
    T_CHECK(!push(&f, 4, "/"), "no stop yet");
    T_EQ_STR(drain(&f), "");
    T_CHECK(push(&f, 5, "s>x"), "the stop text completed");
    /* piece 3 up to the stop text; 4 and 5 are the stop text: dropped */
    T_EQ_STR(drain(&f), "3:ld|");
    T_CHECK(push(&f, 6, "more"), "pushes after the stop are ignored and say so");
    T_EQ_STR(drain(&f), "");
    size_t len;
    T_EQ_STR(chat_stop_reply(&f, &len), "Hello world");
    T_EQ_INT(len, 11);

    /* the same filter, a new reply: text before the stop text in one piece */
    chat_stop_reset(&f);
    T_CHECK(push(&f, 7, "ab</s>cd"), "stop inside one piece");
    T_EQ_STR(drain(&f), "7:ab|");
    T_EQ_STR(chat_stop_reply(&f, NULL), "ab");
    chat_stop_free(&f);
}

static void test_near_miss_is_released_in_order(void)
{
    chat_stop f;
    chat_stop_init(&f, "<|im_end|>");
    T_CHECK(!push(&f, 1, "a<|im"), "prefix only");
    T_CHECK(!push(&f, 2, "_en"), "prefix only");
    T_EQ_STR(drain(&f), "");
    /* "<|im_enx" is not the stop text: everything held comes out */
    T_CHECK(!push(&f, 3, "x"), "a near miss is no stop");
    T_EQ_STR(drain(&f), "1:a<|im|2:_en|3:x|");
    /* a false start whose end begins the stop text again: the piece
     * waits, and the stop text is then cut out of its middle */
    T_CHECK(!push(&f, 4, "<|<"), "no stop");
    T_EQ_STR(drain(&f), "");
    T_CHECK(!push(&f, 5, "|i"), "no stop");
    T_EQ_STR(drain(&f), "");
    T_CHECK(push(&f, 6, "m_end|>"), "the stop text after a false start");
    T_EQ_STR(drain(&f), "4:<||");
    T_EQ_STR(chat_stop_reply(&f, NULL), "a<|im_enx<|");
    chat_stop_free(&f);
}

static void test_stop_text_at_the_start(void)
{
    chat_stop f;
    chat_stop_init(&f, "</s>");
    T_CHECK(push(&f, 1, "</s>"), "stop as the first piece");
    T_EQ_STR(drain(&f), "");
    T_EQ_STR(chat_stop_reply(&f, NULL), "");
    chat_stop_reset(&f);
    T_CHECK(!push(&f, 2, "<"), "a prefix");
    T_CHECK(push(&f, 3, "/s>tail"), "spelled from the first byte");
    T_EQ_STR(drain(&f), "");
    T_EQ_STR(chat_stop_reply(&f, NULL), "");
    chat_stop_free(&f);
}

static void test_end_of_reply_releases_held_text(void)
{
    chat_stop f;
    chat_stop_init(&f, "</s>");
    T_CHECK(!push(&f, 1, "x</"), "a prefix");
    T_EQ_STR(drain(&f), "");
    T_CHECK(!push(&f, -1, ""), "the detokenizer's empty tail");
    chat_stop_release_all(&f);
    T_EQ_STR(drain(&f), "1:x</|-1:|");
    T_EQ_STR(chat_stop_reply(&f, NULL), "x</");
    chat_stop_free(&f);
}

static void test_no_stop_text_holds_nothing(void)
{
    chat_stop f;
    chat_stop_init(&f, NULL);
    T_CHECK(!push(&f, 1, "</s>"), "no stop text: nothing stops");
    T_CHECK(!push(&f, 2, ""), "an empty piece");
    T_EQ_STR(drain(&f), "1:</s>|2:|");
    /* a piece longer than any token */
    char big[1000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = 0;
    T_CHECK(!push(&f, 3, big), "a long piece");
    chord_token id;
    const char *text;
    size_t len;
    T_CHECK(chat_stop_next(&f, &id, &text, &len) && len == sizeof big - 1 && !strcmp(text, big),
            "the long piece comes out whole (%zu bytes)", len);
    chat_stop_free(&f);
}

int main(void)
{
    test_stop_across_pieces_cuts_mid_piece();
    test_near_miss_is_released_in_order();
    test_stop_text_at_the_start();
    test_end_of_reply_releases_held_text();
    test_no_stop_text_holds_nothing();
    return t_done();
}
