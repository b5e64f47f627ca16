/*
 * tok_spm.c - SentencePiece-style encoding: start from single characters,
 * repeatedly merge the adjacent pair whose concatenation is the
 * highest-scoring token (leftmost on ties), then emit each final piece as
 * its token or, failing that, as <0xXX> byte tokens.
 *
 * A binary heap holds the candidate pairs; a pair whose symbols changed
 * since it was queued is recognised by its size and skipped, so each merge
 * costs O(log n).
 *
 * The text is also cut into independent chunks first: every merged piece is
 * a token, so no piece can ever span two adjacent characters that occur
 * together in no token (for Llama-style vocabularies: before each U+2581
 * that follows a letter). Merging chunk by chunk gives exactly the result
 * of one global queue (merges in one chunk never change another's
 * candidates) while keeping the heap small and in cache.
 */
#include <stdlib.h>

#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t off, n;       /* n = 0: merged into its left neighbour */
    int32_t id;            /* the token this symbol is, or -1 */
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
    int32_t id;            /* the token the pair makes */
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

/* Queues (left, right) if their concatenation is a token: by id when both
 * symbols are tokens (every split of every token is in v->spm_pairs), by
 * text otherwise. */
static bool try_pair(const tok_vocab *v, const char *s, const spm_sym *sym,
                     int32_t left, int32_t right, spm_heap *h)
{
    if (left < 0 || right < 0)
        return true;
    uint32_t size = sym[left].n + sym[right].n;
    int32_t id;
    if (sym[left].id >= 0 && sym[right].id >= 0)
        id = tok_pair_get(&v->spm_pairs, sym[left].id, sym[right].id);
    else
        id = tok_lookup(v, s + sym[left].off, size);
    if (id < 0)
        return true;
    spm_pair p = {v->score[id], left, right, size, id};
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

/* ---- the pair set --------------------------------------------------------- */

uint64_t tok_spm_pair_key(const char *a, size_t an, const char *b, size_t bn)
{
    uint64_t x = 0, y = 0;
    for (size_t i = 0; i < an && i < 4; i++)
        x |= (uint64_t)(unsigned char)a[i] << (8 * i);
    for (size_t i = 0; i < bn && i < 4; i++)
        y |= (uint64_t)(unsigned char)b[i] << (8 * i);
    uint64_t k = (x | (y << 32)) * 0x9E3779B97F4A7C15ull;
    return k ? k : 1;
}

static bool pairs_insert(tok_vocab *v, uint64_t k)
{
    for (uint32_t i = (uint32_t)(k >> 32) & v->pairs_mask;; i = (i + 1) & v->pairs_mask) {
        if (v->pairs[i] == k)
            return false;
        if (v->pairs[i] == 0) {
            v->pairs[i] = k;
            return true;
        }
    }
}

static bool pairs_has(const tok_vocab *v, uint64_t k)
{
    for (uint32_t i = (uint32_t)(k >> 32) & v->pairs_mask;; i = (i + 1) & v->pairs_mask) {
        if (v->pairs[i] == k)
            return true;
        if (v->pairs[i] == 0)
            return false;
    }
}

/* Visits the adjacent character pairs of every token (cut into characters
 * exactly as the encoder cuts text). */
bool tok_spm_build_pairs(tok_vocab *v)
{
    size_t total = 0;
    for (int32_t t = 0; t < v->n; t++)
        total += v->len[t];
    size_t cap = 1024;
    while (cap < 2 * total)
        cap <<= 1;
    v->pairs = calloc(cap, sizeof *v->pairs);
    if (!v->pairs)
        return false;
    v->pairs_mask = (uint32_t)(cap - 1);
    if (!tok_pairmap_init(&v->spm_pairs, total))
        return false;
    for (int32_t t = 0; t < v->n; t++) {
        const char *s = v->text[t];
        size_t n = v->len[t], prev = 0, prev_n = 0;
        /* only the id that wins the text's lookup can come out of a merge */
        bool winner = tok_lookup(v, s, n) == t;
        for (size_t off = 0; off < n;) {
            size_t len = (size_t)tok_utf8_len((unsigned char)s[off]);
            if (len > n - off)
                len = n - off;
            if (prev_n) {
                pairs_insert(v, tok_spm_pair_key(s + prev, prev_n, s + off, len));
                int32_t a, b;
                if (winner && (a = tok_lookup(v, s, off)) >= 0 && (b = tok_lookup(v, s + off, n - off)) >= 0)
                    tok_pair_put(&v->spm_pairs, a, b, t);
            }
            prev = off;
            prev_n = len;
            off += len;
        }
    }
    return true;
}

/* Merges the symbols sym[a..b) (linked among themselves) and emits them. */
static bool merge_chunk(const tok_vocab *v, const char *s, spm_sym *sym, int32_t a,
                        int32_t b, spm_heap *h, tok_ids *out)
{
    h->n = 0;
    for (int32_t i = a; i < b; i++) {
        sym[i].prev = i == a ? -1 : i - 1;
        sym[i].next = i + 1 == b ? -1 : i + 1;
    }
    for (int32_t i = a + 1; i < b; i++)
        if (!try_pair(v, s, sym, i - 1, i, h))
            return false;
    while (h->n > 0) {
        spm_pair p = heap_pop(h);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        /* stale: one side was merged away or grew since it was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size || l->next != p.right)
            continue;
        l->n += r->n;
        l->id = p.id;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = p.left;
        if (!try_pair(v, s, sym, l->prev, p.left, h) || !try_pair(v, s, sym, p.left, l->next, h))
            return false;
    }
    for (int32_t i = a; i != -1; i = sym[i].next) {
        if (sym[i].id >= 0)
            tok_ids_push(out, sym[i].id);
        else
            emit_piece(v, s + sym[i].off, sym[i].n, out);
    }
    return true;
}

bool tok_spm_encode(const tok_vocab *v, const char *s, size_t n, tok_ids *out)
{
    if (n == 0)
        return true;
    spm_sym *sym = malloc(n * sizeof *sym);
    spm_heap h = {0};
    if (!sym)
        return false;
    /* one symbol per UTF-8 character (a stray byte is its own symbol) */
    int32_t count = 0;
    for (size_t off = 0; off < n; count++) {
        size_t len = (size_t)tok_utf8_len((unsigned char)s[off]);
        if (len > n - off)
            len = n - off;
        sym[count].off = (uint32_t)off;
        sym[count].n = (uint32_t)len;
        unsigned char c = (unsigned char)s[off];
        sym[count].id = (len == 1 && c < 128) ? v->ascii_id[c] : tok_lookup(v, s + off, len);
        off += len;
    }
    bool ok = true;
    int32_t a = 0;
    for (int32_t i = 1; ok && i <= count; i++) {
        if (i < count && pairs_has(v, tok_spm_pair_key(s + sym[i - 1].off, sym[i - 1].n,
                                                       s + sym[i].off, sym[i].n)))
            continue;
        ok = merge_chunk(v, s, sym, a, i, &h, out);
        a = i;
    }
    free(sym);
    free(h.a);
    return ok && !out->oom;
}
