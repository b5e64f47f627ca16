/*
 * tok_bpe.c - byte-level BPE: split the text into words (tok_pre.c), write
 * each word's bytes in GPT-2's printable alphabet, then repeatedly merge the
 * adjacent pair with the lowest merge rank (leftmost on ties) until no pair
 * has a rank. Each final piece is emitted as its token.
 *
 * Like SentencePiece (tok_spm.c) the candidate pairs sit in a binary heap
 * and stale ones are recognised by their size, so a long word costs
 * O(n log n), not O(n^2).
 */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

typedef struct bpe_sym {
    int32_t prev, next;
    uint32_t off, n;
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
    int32_t rank = tok_merge_rank(v, w->word + l->off, l->n, w->word + r->off, r->n);
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

/* Merges one word already written in the byte-level alphabet (w->word). */
static bool merge_word(const tok_vocab *v, bpe_work *w, size_t n, tok_ids *out)
{
    if (v->ignore_merges) {
        int32_t id = tok_lookup(v, w->word, n);
        if (id >= 0) {
            tok_ids_push(out, id);
            return true;
        }
    }
    if (n > w->sym_cap) {
        bpe_sym *s = realloc(w->sym, n * sizeof *s);
        if (!s)
            return false;
        w->sym = s;
        w->sym_cap = n;
    }
    int32_t count = 0;
    for (size_t off = 0; off < n; count++) {
        size_t len = (size_t)tok_utf8_len((unsigned char)w->word[off]);
        if (len > n - off)
            len = n - off;
        w->sym[count].off = (uint32_t)off;
        w->sym[count].n = (uint32_t)len;
        w->sym[count].prev = count - 1;
        off += len;
        w->sym[count].next = off == n ? -1 : count + 1;
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
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = p.left;
        if (!try_pair(v, w, l->prev, p.left) || !try_pair(v, w, p.left, l->next))
            return false;
    }
    for (int32_t i = 0; i != -1; i = w->sym[i].next)
        emit_piece(v, w->word + w->sym[i].off, w->sym[i].n, out);
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
        if (8 * len > w.word_cap) {
            char *b = realloc(w.word, 8 * len);
            if (!b) {
                ok = false;
                break;
            }
            w.word = b;
            w.word_cap = 8 * len;
        }
        size_t wn = 0;
        for (size_t j = at; j < at + len; j++) {
            char u[4];
            int ul = tok_utf8_put(cp[j], u);
            for (int b = 0; b < ul; b++) {
                unsigned char byte = (unsigned char)u[b];
                memcpy(w.word + wn, v->byte_enc[byte], v->byte_enc_len[byte]);
                wn += v->byte_enc_len[byte];
            }
        }
        ok = merge_word(v, &w, wn, out);
        at += len;
    }
    free(cp);
    free(lens);
    free(w.sym);
    free(w.heap);
    free(w.word);
    return ok && !out->oom;
}
