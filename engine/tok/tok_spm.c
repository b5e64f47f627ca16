/*
 * tok_spm.c - SentencePiece-style encoding: start from single characters,
 * repeatedly merge the adjacent pair whose concatenation is the
 * highest-scoring token (leftmost on ties), then emit each final piece as
 * its token or, failing that, as <0xXX> byte tokens.
 *
 * A binary heap holds the candidate pairs; a pair whose symbols changed
 * since it was queued is recognised by its size and skipped, so each merge
 * costs O(log n) and long inputs stay linear-logarithmic.
 */
#include <stdlib.h>

#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t off, n;       /* n = 0: merged into its left neighbour */
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

typedef struct spm_heap {
    spm_pair *a;
    size_t n, cap;
} spm_heap;

/* Higher score first, then the leftmost pair. */
static bool pair_before(const spm_pair *x, const spm_pair *y)
{
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static bool heap_push(spm_heap *h, spm_pair p)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        spm_pair *a = realloc(h->a, cap * sizeof *a);
        if (!a)
            return false;
        h->a = a;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &h->a[parent]))
            break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = p;
    return true;
}

static spm_pair heap_pop(spm_heap *h)
{
    spm_pair top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && pair_before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!pair_before(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

/* Queues (left, right) if their concatenation is a token. */
static bool try_pair(const tok_vocab *v, const char *s, const spm_sym *sym,
                     int32_t left, int32_t right, spm_heap *h)
{
    if (left < 0 || right < 0)
        return true;
    uint32_t size = sym[left].n + sym[right].n;
    int32_t id = tok_lookup(v, s + sym[left].off, size);
    if (id < 0)
        return true;
    spm_pair p = {v->score[id], left, right, size};
    return heap_push(h, p);
}

/* A final piece: its token, else one byte token per byte (the unknown
 * token for a byte the vocabulary lacks). */
static void emit_piece(const tok_vocab *v, const char *s, uint32_t n, tok_ids *out)
{
    int32_t id = tok_lookup(v, s, n);
    if (id >= 0) {
        tok_ids_push(out, id);
        return;
    }
    for (uint32_t j = 0; j < n; j++) {
        unsigned char b = (unsigned char)s[j];
        id = v->byte_tok[b];
        if (id < 0)
            id = tok_lookup(v, s + j, 1);
        if (id < 0)
            id = v->unk;
        if (id >= 0)
            tok_ids_push(out, id);
    }
}

bool tok_spm_encode(const tok_vocab *v, const char *s, size_t n, tok_ids *out)
{
    if (n == 0)
        return true;
    spm_sym *sym = malloc(n * sizeof *sym);
    spm_heap h = {0};
    bool ok = sym != NULL;
    int32_t count = 0;

    /* one symbol per UTF-8 character (a stray byte is its own symbol) */
    for (size_t off = 0; ok && off < n; count++) {
        size_t len = (size_t)tok_utf8_len((unsigned char)s[off]);
        if (len > n - off)
            len = n - off;
        sym[count].off = (uint32_t)off;
        sym[count].n = (uint32_t)len;
        sym[count].prev = count - 1;
        off += len;
        sym[count].next = off == n ? -1 : count + 1;
    }
    for (int32_t i = 1; ok && i < count; i++)
        ok = try_pair(v, s, sym, i - 1, i, &h);

    while (ok && h.n > 0) {
        spm_pair p = heap_pop(&h);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        /* stale: one side was merged away or grew since it was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size || l->next != p.right)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = p.left;
        ok = try_pair(v, s, sym, l->prev, p.left, &h) &&
             try_pair(v, s, sym, p.left, l->next, &h);
    }
    for (int32_t i = 0; ok && i != -1; i = sym[i].next)
        emit_piece(v, s + sym[i].off, sym[i].n, out);
    free(sym);
    free(h.a);
    return ok && !out->oom;
}
