/*
 * model_kvfile.c - a chat session's KV cache in a file (chord_kv.h).
 *
 * Layout (native byte order, which the magic pins: a file from a machine
 * of the other order fails its magic):
 *   header        kvf_header, its own hash in header_hash
 *   lo            u32 x n_layer: the first position saved for each layer
 *                 (0, or for a ring the oldest position it still held)
 *   tokens        i32 x n_tok: the tokens at cache positions 0..n_tok-1
 *   sp_tok        i32 x n_sp: the last reply's tokens as the model saw them
 *   sp_text       sp_len bytes: the text they stand for (see chat.h)
 *   padding       to a multiple of 8
 *   rows          per layer, K then V, positions lo..n_tok-1, each
 *                 row_bytes_k / row_bytes_v as model_ctx lays them out
 *   trailer       u64: the hash of everything before it
 * The rows come and go through model_ctx's accessors, so the cache's
 * layout and types stay model_ctx's business; the header records the types
 * and row sizes and a load refuses a file whose rows are not the
 * context's.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat/chat.h"
#include "chord_kv.h"
#include "core/err.h"
#include "model/model.h"

#define KVF_MAGIC "chordKV1"
#define KVF_VERSION 1
/* what of the model file is hashed for its identity: enough to hold the
 * GGUF header and metadata of any model (the template, the vocabulary's
 * start) and cheap to read at every save and load */
#define KVF_HEAD_BYTES (1 << 20)
/* bounds for the text a file may carry (a conversation's last prompt) */
#define KVF_MAX_TEXT (64u << 20)

typedef struct kvf_header {
    char magic[8];
    uint64_t version;
    uint64_t model_size, model_mtime_ns, model_head; /* the model file */
    uint64_t tmpl;               /* template source or family, thinking */
    uint64_t rope;               /* what the keys were turned with */
    uint64_t n_layer;
    uint64_t type_k, type_v, row_bytes_k, row_bytes_v;
    uint64_t n_tok, ring_lo, n_sp, sp_len;
    uint64_t payload;            /* bytes between the header and the trailer */
    uint64_t header_hash;        /* of this header with this field 0 */
} kvf_header;

/* ------------------------------------------------------------------------
 * A streaming 64-bit hash: four multiply-rotate lanes over 32-byte
 * stripes (memory speed, so a checksum over a large cache costs little
 * next to reading it), folded and mixed at the end.
 * ---------------------------------------------------------------------- */

#define H1 0x9E3779B185EBCA87ull
#define H2 0xC2B2AE3D27D4EB4Full
#define H3 0x165667B19E3779F9ull

typedef struct kvf_hash {
    uint64_t v[4];
    uint8_t buf[32];
    size_t nbuf;
    uint64_t total;
} kvf_hash;

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t lane(uint64_t a, uint64_t w)
{
    return rotl64(a + w * H2, 31) * H1;
}

static void hash_init(kvf_hash *h)
{
    memset(h, 0, sizeof *h);
    h->v[0] = H1 + H2;
    h->v[1] = H2;
    h->v[2] = 0;
    h->v[3] = 0 - H1;
}

static void hash_stripe(kvf_hash *h, const uint8_t *p)
{
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        h->v[i] = lane(h->v[i], w);
    }
}

static void hash_update(kvf_hash *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    h->total += n;
    if (h->nbuf) {
        size_t k = 32 - h->nbuf < n ? 32 - h->nbuf : n;
        memcpy(h->buf + h->nbuf, p, k);
        h->nbuf += k;
        p += k;
        n -= k;
        if (h->nbuf < 32)
            return;
        hash_stripe(h, h->buf);
        h->nbuf = 0;
    }
    for (; n >= 32; p += 32, n -= 32)
        hash_stripe(h, p);
    memcpy(h->buf, p, n);
    h->nbuf = n;
}

static uint64_t hash_final(const kvf_hash *h)
{
    uint64_t x = rotl64(h->v[0], 1) + rotl64(h->v[1], 7) + rotl64(h->v[2], 12) +
                 rotl64(h->v[3], 18);
    x ^= h->total * H3;
    for (size_t i = 0; i < h->nbuf; i++)
        x = rotl64(x ^ (h->buf[i] * H3), 11) * H1;
    x ^= x >> 33;
    x *= H2;
    x ^= x >> 29;
    x *= H3;
    x ^= x >> 32;
    return x;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    kvf_hash h;
    hash_init(&h);
    hash_update(&h, p, n);
    return hash_final(&h);
}

/* ------------------------------------------------------------------------
 * What a saved cache depends on
 * ---------------------------------------------------------------------- */

static chord_status model_identity(const chord_model *m, kvf_header *hd, chord_err *err)
{
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return err_set(err, CHORD_E_IO, "%s: %s", m->path, strerror(e));
    }
    size_t n = st.st_size < KVF_HEAD_BYTES ? (size_t)st.st_size : KVF_HEAD_BYTES;
    uint8_t *buf = malloc(n ? n : 1);
    ssize_t got = buf ? pread(fd, buf, n, 0) : -1;
    close(fd);
    if (got != (ssize_t)n) {
        free(buf);
        return err_set(err, CHORD_E_IO, "%s: cannot read its header", m->path);
    }
    hd->model_size = (uint64_t)st.st_size;
    hd->model_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
    hd->model_head = hash_bytes(buf, n);
    free(buf);
    return CHORD_OK;
}

static uint64_t template_id(const chord_chat *s)
{
    kvf_hash h;
    hash_init(&h);
    const char *fam = s->tmpl_family ? s->tmpl_family : "";
    const char *src = s->tmpl_src ? s->tmpl_src : "";
    int think = (int)s->thinking;
    hash_update(&h, fam, strlen(fam) + 1);
    hash_update(&h, src, strlen(src) + 1);
    hash_update(&h, &think, sizeof think);
    return hash_final(&h);
}

/* The RoPE a context turns keys with: a key saved under other angles (a
 * LongRoPE model switches factors with the context size) is another key. */
static uint64_t rope_id(const chord_ctx *c)
{
    kvf_hash h;
    hash_init(&h);
    hash_update(&h, &c->theta_scale, sizeof c->theta_scale);
    hash_update(&h, &c->theta_scale_swa, sizeof c->theta_scale_swa);
    hash_update(&h, c->rope_corr, sizeof c->rope_corr);
    hash_update(&h, c->rope_corr_swa, sizeof c->rope_corr_swa);
    if (c->freq_div)
        hash_update(&h, c->freq_div, (size_t)(c->m->cfg.n_rot / 2) * sizeof(float));
    return hash_final(&h);
}

static uint64_t header_hash(kvf_header hd)
{
    hd.header_hash = 0;
    return hash_bytes(&hd, sizeof hd);
}

static size_t pad8(size_t n)
{
    return (8 - (n & 7)) & 7;
}

/* Bytes between the header and the trailer for these counts. */
static uint64_t payload_bytes(const kvf_header *hd, const uint32_t *lo)
{
    uint64_t n = hd->n_layer * 4 + (hd->n_tok + hd->n_sp) * 4 + hd->sp_len;
    n += pad8((size_t)n);
    for (uint64_t il = 0; il < hd->n_layer; il++)
        n += (hd->n_tok - lo[il]) * (hd->row_bytes_k + hd->row_bytes_v);
    return n;
}

/* ------------------------------------------------------------------------
 * Saving
 * ---------------------------------------------------------------------- */

typedef struct kvf_out {
    FILE *f;
    kvf_hash h;
    bool ok;
} kvf_out;

static void put(kvf_out *o, const void *p, size_t n)
{
    if (!o->ok || !n)
        return;
    hash_update(&o->h, p, n);
    o->ok = fwrite(p, 1, n, o->f) == n;
}

/* What a save writes, taken from the session at once (the tokens, the
 * last reply, the header) so the session may go on changing while the
 * rows are written from its context. */
struct chord_kv_snap {
    const chord_ctx *c;
    kvf_header hd;
    uint32_t lo[CHORD_MAX_LAYERS];
    chord_token *tok, *sp_tok;
    char *sp_text;
};

void chord_kv_snap_free(chord_kv_snap *k)
{
    if (!k)
        return;
    free(k->tok);
    free(k->sp_tok);
    free(k->sp_text);
    free(k);
}

chord_status chord_chat_kv_snapshot(const chord_chat *s, chord_kv_snap **out, chord_err *err)
{
    *out = NULL;
    if (!s)
        return err_set(err, CHORD_E_INVALID, "kv save: no session");
    const chord_ctx *c = s->ctx;
    const model_config *cf = &c->m->cfg;
    int pos = chord_ctx_pos(c);
    int n_tok = s->n_kv < pos ? s->n_kv : pos;
    /* nothing cached, or the test hook's shifted positions */
    if (n_tok <= 0 || c->rope_off)
        return CHORD_OK;
    chord_kv_snap *k = calloc(1, sizeof *k);
    if (!k)
        return err_set(err, CHORD_E_NOMEM, "kv save: out of memory");
    k->c = c;
    kvf_header *hd = &k->hd;
    memcpy(hd->magic, KVF_MAGIC, 8);
    hd->version = KVF_VERSION;
    hd->tmpl = template_id(s);
    hd->rope = rope_id(c);
    hd->n_layer = (uint64_t)cf->n_layer;
    hd->type_k = (uint64_t)model_ctx_kv_type(c, 0);
    hd->type_v = (uint64_t)model_ctx_kv_type(c, 1);
    hd->row_bytes_k = model_ctx_kv_row_bytes(c, 0);
    hd->row_bytes_v = model_ctx_kv_row_bytes(c, 1);
    hd->n_tok = (uint64_t)n_tok;
    int ring_lo = model_ctx_kv_ring_lo(c);
    hd->ring_lo = (uint64_t)(ring_lo < n_tok ? ring_lo : n_tok);
    bool sp = s->sp_text && s->n_sp > 0 && strlen(s->sp_text) <= KVF_MAX_TEXT;
    hd->n_sp = sp ? (uint64_t)s->n_sp : 0;
    hd->sp_len = sp ? strlen(s->sp_text) : 0;
    for (int il = 0; il < cf->n_layer; il++) {
        int ring = model_ctx_kv_ring(c, il), l = 0;
        if (ring) {
            /* the ring holds the last ring positions the context ran */
            l = ring_lo > pos - ring ? ring_lo : pos - ring;
            l = l < 0 ? 0 : l > n_tok ? n_tok : l;
        }
        k->lo[il] = (uint32_t)l;
    }
    hd->payload = payload_bytes(hd, k->lo);
    k->tok = malloc((size_t)n_tok * sizeof *k->tok);
    k->sp_tok = malloc((size_t)(hd->n_sp ? hd->n_sp : 1) * sizeof *k->sp_tok);
    k->sp_text = malloc((size_t)hd->sp_len + 1);
    if (!k->tok || !k->sp_tok || !k->sp_text) {
        chord_kv_snap_free(k);
        return err_set(err, CHORD_E_NOMEM, "kv save: out of memory");
    }
    memcpy(k->tok, s->kv, (size_t)n_tok * sizeof *k->tok);
    memcpy(k->sp_tok, s->sp_tok, (size_t)hd->n_sp * sizeof *k->sp_tok);
    memcpy(k->sp_text, sp ? s->sp_text : "", (size_t)hd->sp_len + 1);
    *out = k;
    return CHORD_OK;
}

chord_status chord_kv_snap_write(const chord_kv_snap *k, const char *path, int64_t *bytes,
                                 chord_err *err)
{
    if (bytes)
        *bytes = 0;
    if (!k)
        return CHORD_OK;
    if (!path)
        return err_set(err, CHORD_E_INVALID, "kv save: no path");
    const chord_ctx *c = k->c;
    kvf_header hd = k->hd;
    chord_status st = model_identity(c->m, &hd, err);
    if (st != CHORD_OK)
        return st;
    hd.header_hash = header_hash(hd);
    int n_layer = (int)hd.n_layer, n_tok = (int)hd.n_tok;

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    uint8_t *row = malloc(hd.row_bytes_k > hd.row_bytes_v ? hd.row_bytes_k : hd.row_bytes_v);
    if (!tmp || !row) {
        free(tmp);
        free(row);
        return err_set(err, CHORD_E_NOMEM, "kv save: out of memory");
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    /* the file holds the conversation's tokens and text: the owner's only */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    kvf_out o = {.f = fd >= 0 ? fdopen(fd, "wb") : NULL, .ok = true};
    if (!o.f) {
        if (fd >= 0)
            close(fd);
        st = err_set(err, CHORD_E_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        free(row);
        return st;
    }
    hash_init(&o.h);
    put(&o, &hd, sizeof hd);
    put(&o, k->lo, (size_t)n_layer * sizeof *k->lo);
    put(&o, k->tok, (size_t)n_tok * sizeof *k->tok);
    put(&o, k->sp_tok, (size_t)hd.n_sp * sizeof *k->sp_tok);
    put(&o, k->sp_text, (size_t)hd.sp_len);
    static const uint8_t zero[8];
    put(&o, zero, pad8((size_t)(hd.n_layer + hd.n_tok + hd.n_sp) * 4 + (size_t)hd.sp_len));
    for (int il = 0; il < n_layer && o.ok; il++)
        for (int which = 0; which < 2; which++)
            for (int p = (int)k->lo[il]; p < n_tok; p++) {
                model_ctx_kv_get(c, il, which, p, row);
                put(&o, row, which ? hd.row_bytes_v : hd.row_bytes_k);
            }
    uint64_t sum = hash_final(&o.h);
    if (o.ok)
        o.ok = fwrite(&sum, 1, sizeof sum, o.f) == sizeof sum;
    /* the data reaches the disk before the name does: a crash leaves the
     * old file or the new one, never half of one under the name */
    if (o.ok)
        o.ok = fflush(o.f) == 0 && fsync(fileno(o.f)) == 0;
    int e = errno;
    if (fclose(o.f) != 0 && o.ok) {
        o.ok = false;
        e = errno;
    }
    if (o.ok && rename(tmp, path) != 0) {
        o.ok = false;
        e = errno;
    }
    if (!o.ok) {
        unlink(tmp);
        st = err_set(err, CHORD_E_IO, "%s: %s", path, strerror(e));
    } else {
        char *dir = strdup(path);
        int dfd = dir ? open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
        if (bytes)
            *bytes = (int64_t)(sizeof hd + hd.payload + sizeof sum);
    }
    free(tmp);
    free(row);
    return st;
}

chord_status chord_chat_kv_save(const chord_chat *s, const char *path, int64_t *bytes,
                                chord_err *err)
{
    chord_kv_snap *k = NULL;
    chord_status st = chord_chat_kv_snapshot(s, &k, err);
    if (st == CHORD_OK)
        st = chord_kv_snap_write(k, path, bytes, err);
    else if (bytes)
        *bytes = 0;
    chord_kv_snap_free(k);
    return st;
}

/* ------------------------------------------------------------------------
 * Loading: nothing in the file is trusted until checked
 * ---------------------------------------------------------------------- */

typedef struct kvf_in {
    FILE *f;
    kvf_hash h;
} kvf_in;

static bool get(kvf_in *in, void *p, size_t n)
{
    if (!n)
        return true;
    if (fread(p, 1, n, in->f) != n)
        return false;
    hash_update(&in->h, p, n);
    return true;
}

static bool tokens_ok(const int32_t *t, uint64_t n, int n_vocab)
{
    for (uint64_t i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= n_vocab)
            return false;
    return true;
}

chord_status chord_chat_kv_load(chord_chat *s, const char *path, int *n_tok, chord_err *err)
{
    *n_tok = 0;
    if (!s || !path)
        return err_set(err, CHORD_E_INVALID, "kv load: no session or path");
    chord_ctx *c = s->ctx;
    const model_config *cf = &c->m->cfg;
    if (chord_ctx_pos(c) != 0)
        return err_set(err, CHORD_E_INVALID, "kv load: the context is not empty");
    kvf_in in = {.f = fopen(path, "rb")};
    if (!in.f)
        return err_set(err, CHORD_E_IO, "%s: %s", path, strerror(errno));
    hash_init(&in.h);
    struct stat fst;
    kvf_header hd, mine;
    memset(&mine, 0, sizeof mine);
    uint32_t lo[CHORD_MAX_LAYERS];
    int32_t *tok = NULL, *sp_tok = NULL;
    char *sp_text = NULL;
    uint8_t *row = NULL;
    chord_status st = CHORD_OK;
#define FAIL(code, ...)                                  \
    do {                                                 \
        st = err_set(err, code, __VA_ARGS__);            \
        goto out;                                        \
    } while (0)

    if (fstat(fileno(in.f), &fst) != 0 || fst.st_size < (off_t)sizeof hd || !get(&in, &hd, sizeof hd))
        FAIL(CHORD_E_FORMAT, "%s: truncated", path);
    if (memcmp(hd.magic, KVF_MAGIC, 8) || hd.version != KVF_VERSION)
        FAIL(CHORD_E_FORMAT, "%s: not a chord KV cache file of this version", path);
    if (hd.header_hash != header_hash(hd))
        FAIL(CHORD_E_FORMAT, "%s: corrupt header (checksum)", path);
    /* what the rows depend on */
    st = model_identity(c->m, &mine, err);
    if (st != CHORD_OK)
        goto out;
    if (hd.model_size != mine.model_size || hd.model_mtime_ns != mine.model_mtime_ns ||
        hd.model_head != mine.model_head)
        FAIL(CHORD_E_UNSUPPORTED, "%s: made for another version of the model file (size, time or header differ)",
             path);
    if (hd.tmpl != template_id(s))
        FAIL(CHORD_E_UNSUPPORTED, "%s: made with another chat template", path);
    if (hd.rope != rope_id(c))
        FAIL(CHORD_E_UNSUPPORTED, "%s: made with other RoPE factors (another context size)", path);
    if (hd.n_layer != (uint64_t)cf->n_layer || hd.type_k != (uint64_t)model_ctx_kv_type(c, 0) ||
        hd.type_v != (uint64_t)model_ctx_kv_type(c, 1) ||
        hd.row_bytes_k != model_ctx_kv_row_bytes(c, 0) || hd.row_bytes_v != model_ctx_kv_row_bytes(c, 1))
        FAIL(CHORD_E_UNSUPPORTED, "%s: made for another KV cache layout (layers, types or row sizes)", path);
    /* counts: a token is left to evaluate, so the cache holds fewer than
     * the context */
    int n_ctx = chord_ctx_n_ctx(c);
    if (hd.n_tok < 1 || hd.n_tok >= (uint64_t)n_ctx)
        FAIL(CHORD_E_UNSUPPORTED, "%s: %llu tokens do not fit this context (%d)", path,
             (unsigned long long)hd.n_tok, n_ctx);
    if (hd.ring_lo > hd.n_tok || hd.n_sp > (uint64_t)n_ctx + 1 || hd.sp_len > KVF_MAX_TEXT ||
        (hd.n_sp == 0) != (hd.sp_len == 0))
        FAIL(CHORD_E_FORMAT, "%s: corrupt header (counts)", path);
    if (!get(&in, lo, (size_t)hd.n_layer * sizeof *lo))
        FAIL(CHORD_E_FORMAT, "%s: truncated", path);
    for (int il = 0; il < cf->n_layer; il++) {
        if (lo[il] > hd.n_tok)
            FAIL(CHORD_E_FORMAT, "%s: corrupt layer table", path);
        if (lo[il] && !model_ctx_kv_ring(c, il))
            FAIL(CHORD_E_UNSUPPORTED, "%s: saved from a context whose windowed layers kept less", path);
    }
    if (hd.payload != payload_bytes(&hd, lo) ||
        (uint64_t)fst.st_size != sizeof hd + hd.payload + sizeof(uint64_t))
        FAIL(CHORD_E_FORMAT, "%s: truncated or corrupt (its size is not what its header says)", path);

    tok = malloc((size_t)hd.n_tok * sizeof *tok);
    sp_tok = malloc((size_t)(hd.n_sp ? hd.n_sp : 1) * sizeof *sp_tok);
    sp_text = malloc((size_t)hd.sp_len + 1);
    row = malloc(hd.row_bytes_k > hd.row_bytes_v ? hd.row_bytes_k : hd.row_bytes_v);
    if (!tok || !sp_tok || !sp_text || !row)
        FAIL(CHORD_E_NOMEM, "kv load: out of memory");
    uint8_t padding[8];
    if (!get(&in, tok, (size_t)hd.n_tok * sizeof *tok) ||
        !get(&in, sp_tok, (size_t)hd.n_sp * sizeof *sp_tok) || !get(&in, sp_text, (size_t)hd.sp_len) ||
        !get(&in, padding, pad8((size_t)(hd.n_layer + hd.n_tok + hd.n_sp) * 4 + (size_t)hd.sp_len)))
        FAIL(CHORD_E_FORMAT, "%s: truncated", path);
    sp_text[hd.sp_len] = 0;
    if (!tokens_ok(tok, hd.n_tok, cf->n_vocab) || !tokens_ok(sp_tok, hd.n_sp, cf->n_vocab) ||
        strlen(sp_text) != hd.sp_len)
        FAIL(CHORD_E_FORMAT, "%s: corrupt tokens or text", path);

    /* the rows, straight into the context; a ring keeps the last of them */
    int n = (int)hd.n_tok, ring_lo = (int)hd.ring_lo;
    for (int il = 0; il < cf->n_layer; il++) {
        int ring = model_ctx_kv_ring(c, il);
        int keep = ring && n - ring > (int)lo[il] ? n - ring : (int)lo[il];
        if (ring && keep > ring_lo)
            ring_lo = keep;
        for (int which = 0; which < 2; which++)
            for (int p = (int)lo[il]; p < n; p++) {
                if (!get(&in, row, which ? hd.row_bytes_v : hd.row_bytes_k))
                    FAIL(CHORD_E_FORMAT, "%s: truncated", path);
                if (p >= keep)
                    model_ctx_kv_put(c, il, which, p, row);
            }
    }
    uint64_t sum = hash_final(&in.h), want = 0;
    if (fread(&want, 1, sizeof want, in.f) != sizeof want || want != sum)
        FAIL(CHORD_E_FORMAT, "%s: corrupt (checksum)", path);
    st = chat_seed(s, tok, n, hd.n_sp ? sp_text : NULL, sp_tok, (int)hd.n_sp, err);
    if (st != CHORD_OK)
        goto out;
    model_ctx_kv_restore(c, n, ring_lo);
    *n_tok = n;
#undef FAIL
out:
    fclose(in.f);
    free(tok);
    free(sp_tok);
    free(sp_text);
    free(row);
    return st;
}
