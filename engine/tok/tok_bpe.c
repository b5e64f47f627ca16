/*
 * tok_bpe.c - byte-level BPE: split the text into words (tok_pre.c), write
 * each word's bytes in GPT-2's printable alphabet, then repeatedly merge the
 * adjacent pair with the lowest merge rank (leftmost on ties) until no pair
 * has a rank. Each final piece is emitted as its token.
 *
 * Like SentencePiece (tok_spm.c) the candidate pairs sit in a binary heap
 * and stale ones are recognised by their size, so a long word costs
 * O(n log n), not O(n^2). Symbols carry their token id, so the rank of a
 * pair of tokens is one integer-keyed lookup; only symbols that are not
 * tokens take the string-keyed path, with the same result.
 */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

typedef struct bpe_sym {
    int32_t prev, next;
    uint32_t off, n;
    int32_t id;            /* the token this symbol is, or -1 */
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank, left, right;
    uint32_t size;
} bpe_pair;

/* Scratch reused across the words of one call. */
typedef struct bpe_work {
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
    char *word;
    size_t word_cap;
} bpe_work;

static bool pair_before(const bpe_pair *x, const bpe_pair *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static bool heap_push(bpe_work *w, bpe_pair p)
{
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? 2 * w->heap_cap : 64;
        bpe_pair *a = realloc(w->heap, cap * sizeof *a);
        if (!a)
            return false;
        w->heap = a;
        w->heap_cap = cap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = p;
    return true;
}

static bpe_pair heap_pop(bpe_work *w)
{
    bpe_pair *h = w->heap;
    bpe_pair top = h[0], last = h[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_before(&h[c + 1], &h[c]))
            c++;
        if (!pair_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = last;
    return top;
}

static bool try_pair(const tok_vocab *v, bpe_work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return true;
    const bpe_sym *l = &w->sym[left], *r = &w->sym[right];
    int32_t rank;
    if (l->id >= 0 && r->id >= 0)
        rank = tok_pair_get(&v->merge_ids, l->id, r->id);
    else
        rank = tok_merge_rank(v, w->word + l->off, l->n, w->word + r->off, r->n);
    if (rank < 0)
        return true;
    bpe_pair p = {rank, left, right, l->n + r->n};
    return heap_push(w, p);
}

/* A final piece: its token; a piece that is not one (a merge whose result
 * is missing from the vocabulary) gives the tokens of its single bytes that
 * exist, as the reference does. */
static void emit_piece(const tok_vocab *v, const char *s, uint32_t n, tok_ids *out)
{
    int32_t id = tok_lookup(v, s, n);
    if (id >= 0) {
        tok_ids_push(out, id);
        return;
    }
    for (uint32_t j = 0; j < n; j++) {
        id = tok_lookup(v, s + j, 1);
        if (id >= 0)
            tok_ids_push(out, id);
    }
}

/* Merges one word: its count symbols (one per byte, in GPT-2's alphabet)
 * are in w->sym, their text (n bytes) in w->word. */
static bool merge_word(const tok_vocab *v, bpe_work *w, int32_t count, size_t n, tok_ids *out)
{
    if (v->ignore_merges) {
        int32_t id = tok_lookup(v, w->word, n);
        if (id >= 0) {
            tok_ids_push(out, id);
            return true;
        }
    }
    w->heap_n = 0;
    for (int32_t i = 1; i < count; i++)
        if (!try_pair(v, w, i - 1, i))
            return false;
    while (w->heap_n > 0) {
        bpe_pair p = heap_pop(w);
        bpe_sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size || l->next != p.right)
            continue;
        l->n += r->n;
        l->id = v->merge_result[p.rank];
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = p.left;
        if (!try_pair(v, w, l->prev, p.left) || !try_pair(v, w, p.left, l->next))
            return false;
    }
    for (int32_t i = 0; i != -1; i = w->sym[i].next) {
        if (w->sym[i].id >= 0)
            tok_ids_push(out, w->sym[i].id);
        else
            emit_piece(v, w->word + w->sym[i].off, w->sym[i].n, out);
    }
    return true;
}

bool tok_bpe_encode(const tok_vocab *v, const char *s, size_t n, tok_ids *out)
{
    if (n == 0)
        return true;
    uint32_t *cp = malloc(n * sizeof *cp);
    uint32_t *lens = NULL;
    bpe_work w = {0};
    bool ok = cp != NULL;
    size_t ncp = 0;
    for (size_t i = 0; ok && i < n;)
        cp[ncp++] = tok_utf8_next(s, n, &i);
    long nw = ok ? tok_pre_split(v->pre, cp, ncp, &lens) : -1;
    ok = nw >= 0;

    size_t at = 0;
    for (long wi = 0; ok && wi < nw; wi++) {
        size_t len = lens[wi];
        /* each code point is at most 4 bytes, each byte at most 2 */
        if (8 * len > w.word_cap || 4 * len > w.sym_cap) {
            char *b = realloc(w.word, 8 * len);
            bpe_sym *sy = b ? realloc(w.sym, 4 * len * sizeof *sy) : NULL;
            if (b)
                w.word = b;
            if (!b || !sy) {
                ok = false;
                break;
            }
            w.sym = sy;
            w.word_cap = 8 * len;
            w.sym_cap = 4 * len;
        }
        size_t wn = 0;
        int32_t count = 0;
        for (size_t j = at; j < at + len; j++) {
            char u[4];
            int ul = tok_utf8_put(cp[j], u);
            for (int b = 0; b < ul; b++, count++) {
                unsigned char byte = (unsigned char)u[b];
                bpe_sym *sy = &w.sym[count];
                sy->off = (uint32_t)wn;
                sy->n = v->byte_enc_len[byte];
                sy->id = v->byte_sym[byte];
                sy->prev = count - 1;
                sy->next = count + 1;
                memcpy(w.word + wn, v->byte_enc[byte], v->byte_enc_len[byte]);
                wn += v->byte_enc_len[byte];
            }
        }
        if (count > 0)
            w.sym[count - 1].next = -1;
        ok = merge_word(v, &w, count, wn, out);
        at += len;
    }
    free(cp);
    free(lens);
    free(w.sym);
    free(w.heap);
    free(w.word);
    return ok && !out->oom;
}
