/*
 * chat_stop.c - holding back a reply's possible end-of-turn text (see
 * chat_stop.h).
 */
#include "chat/chat_stop.h"

#include <stdlib.h>
#include <string.h>

void chat_stop_init(chat_stop *f, const char *text)
{
    memset(f, 0, sizeof *f);
    if (text) {
        size_t n = strlen(text);
        if (n >= sizeof f->text)
            n = sizeof f->text - 1;
        memcpy(f->text, text, n);
        f->text[n] = 0;
        f->text_len = n;
    }
}

void chat_stop_free(chat_stop *f)
{
    free(f->reply);
    free(f->held);
    free(f->piece);
    memset(f, 0, sizeof *f);
}

void chat_stop_reset(chat_stop *f)
{
    f->len = 0;
    if (f->reply)
        f->reply[0] = 0;
    f->head = f->n_ready = f->n_held = 0;
    f->shown = f->released = 0;
    f->hit = false;
}

/* Where held piece i starts in the reply: pieces are contiguous, and the
 * first one not handed out starts where the handed-out text ends. */
static size_t piece_start(const chat_stop *f, int i)
{
    return i > f->head ? f->held[i - 1].end : f->shown;
}

/* Clears the held pieces whose text ends at or before limit for handing
 * out. cut: the reply ends at limit (the stop text starts there), so a
 * piece that straddles it keeps only its part before limit and the pieces
 * after it are dropped. */
static void release(chat_stop *f, size_t limit, bool cut)
{
    int i = f->n_ready;
    while (i < f->n_held) {
        if (f->held[i].end > limit) {
            if (!cut || limit <= piece_start(f, i))
                break;
            f->held[i].end = limit;
        }
        i++;
    }
    if (i > f->n_ready)
        f->released = f->held[i - 1].end;
    f->n_ready = i;
    if (cut) {
        f->n_held = f->n_ready;
        f->len = limit;
        f->reply[limit] = 0;
    }
}

/* Room for one more held piece; the handed-out ones leave the array. */
static bool held_room(chat_stop *f)
{
    if (f->head > 0) {
        memmove(f->held, f->held + f->head, (size_t)(f->n_held - f->head) * sizeof *f->held);
        f->n_ready -= f->head;
        f->n_held -= f->head;
        f->head = 0;
    }
    if (f->n_held < f->cap_held)
        return true;
    int cap = f->cap_held ? f->cap_held * 2 : 64;
    chat_held *t = realloc(f->held, (size_t)cap * sizeof *t);
    if (!t)
        return false;
    f->held = t;
    f->cap_held = cap;
    return true;
}

static bool reply_append(chat_stop *f, const char *s, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + n + 1)
            cap *= 2;
        char *t = realloc(f->reply, cap);
        if (!t)
            return false;
        f->reply = t;
        f->cap = cap;
    }
    if (n)
        memcpy(f->reply + f->len, s, n);
    f->len += n;
    f->reply[f->len] = 0;
    return true;
}

bool chat_stop_push(chat_stop *f, chord_token id, const char *text, size_t len,
                    chord_status *st)
{
    *st = CHORD_OK;
    if (f->hit)
        return true;
    if (!held_room(f) || !reply_append(f, text, len)) {
        *st = CHORD_E_NOMEM;
        return false;
    }
    f->held[f->n_held++] = (chat_held){id, f->len};
    const char *stop = f->text;
    size_t sl = f->text_len;
    if (!sl) {
        release(f, f->len, false);
        return false;
    }
    /* text cleared for showing never begins the stop text (it was held
     * back while it could), so the search starts after it */
    size_t from = f->released;
    const char *hit = memmem(f->reply + from, f->len - from, stop, sl);
    if (hit) {
        release(f, (size_t)(hit - f->reply), true);
        f->hit = true;
        return true;
    }
    /* hold back the longest end of the reply that begins the stop text */
    size_t hold = sl - 1 < f->len - from ? sl - 1 : f->len - from;
    while (hold && memcmp(f->reply + f->len - hold, stop, hold))
        hold--;
    release(f, f->len - hold, false);
    return false;
}

void chat_stop_release_all(chat_stop *f)
{
    release(f, f->len, false);
}

bool chat_stop_next(chat_stop *f, chord_token *id, const char **text, size_t *len)
{
    if (f->head >= f->n_ready)
        return false;
    const chat_held *h = &f->held[f->head];
    size_t n = h->end - f->shown;
    if (n + 1 > f->piece_cap) {
        size_t cap = f->piece_cap ? f->piece_cap : 256;
        while (cap < n + 1)
            cap *= 2;
        char *t = realloc(f->piece, cap);
        if (!t)
            return false;   /* stays ready: the next call tries again */
        f->piece = t;
        f->piece_cap = cap;
    }
    if (n)
        memcpy(f->piece, f->reply + f->shown, n);
    f->piece[n] = 0;
    *id = h->id;
    *text = f->piece;
    *len = n;
    f->shown = h->end;
    if (++f->head == f->n_held)
        f->head = f->n_ready = f->n_held = 0;
    return true;
}

const char *chat_stop_reply(const chat_stop *f, size_t *len)
{
    if (len)
        *len = f->len;
    return f->reply ? f->reply : "";
}
