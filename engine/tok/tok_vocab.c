/*
 * tok_vocab.c - building a vocabulary from a tok_desc: copies of the token
 * texts with a hash index, BPE merge ranks, the special-token matcher's
 * buckets, special ids and end-of-generation flags; and the queries of tok.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tok/tok_impl.h"
#include "tok/tok_unicode.h"

void tok_desc_init(tok_desc *d)
{
    memset(d, 0, sizeof *d);
    d->bos = d->eos = d->eot = d->eom = d->unk = d->pad = TOK_DEFAULT;
    d->fim_pre = d->fim_suf = d->fim_mid = d->fim_pad = d->fim_rep = d->fim_sep = TOK_DEFAULT;
    d->add_bos = d->add_eos = d->add_space_prefix = TOK_DEFAULT;
}

/* ---- hashing ------------------------------------------------------------ */

uint32_t tok_hash(const char *s, size_t n)
{
    /* FNV-1a: short keys, good enough spread, no alignment games. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool map_init(tok_map *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    m->hash = malloc(cap * sizeof *m->hash);
    m->val = malloc(cap * sizeof *m->val);
    if (!m->hash || !m->val)
        return false;
    memset(m->val, 0xFF, cap * sizeof *m->val);
    m->mask = (uint32_t)(cap - 1);
    return true;
}

static void map_free(tok_map *m)
{
    free(m->hash);
    free(m->val);
}

int32_t tok_lookup(const tok_vocab *v, const char *s, size_t n)
{
    uint32_t h = tok_hash(s, n);
    for (uint32_t i = h & v->tokens.mask;; i = (i + 1) & v->tokens.mask) {
        int32_t id = v->tokens.val[i];
        if (id < 0)
            return -1;
        if (v->tokens.hash[i] == h && v->len[id] == n && memcmp(v->text[id], s, n) == 0)
            return id;
    }
}

/* Inserts token id, replacing an earlier token with the same text (the
 * reference keeps the last one). */
static void tokens_put(tok_vocab *v, int32_t id)
{
    uint32_t h = tok_hash(v->text[id], v->len[id]);
    for (uint32_t i = h & v->tokens.mask;; i = (i + 1) & v->tokens.mask) {
        int32_t old = v->tokens.val[i];
        if (old < 0 || (v->tokens.hash[i] == h && v->len[old] == v->len[id] &&
                        memcmp(v->text[old], v->text[id], v->len[id]) == 0)) {
            v->tokens.hash[i] = h;
            v->tokens.val[i] = id;
            return;
        }
    }
}

/* A merge is keyed by its whole "left right" text plus the left length, so
 * ("a", "b c") and ("a b", "c") stay apart. */
int32_t tok_merge_rank(const tok_vocab *v, const char *l, size_t ln,
                       const char *r, size_t rn)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < ln; i++)
        h = (h ^ (unsigned char)l[i]) * 16777619u;
    h = (h ^ ' ') * 16777619u;
    for (size_t i = 0; i < rn; i++)
        h = (h ^ (unsigned char)r[i]) * 16777619u;
    for (uint32_t i = h & v->merges.mask;; i = (i + 1) & v->merges.mask) {
        int32_t k = v->merges.val[i];
        if (k < 0)
            return -1;
        if (v->merges.hash[i] == h && v->merge_left[k] == ln &&
            v->merge_len[k] == ln + 1 + rn && memcmp(v->merge[k], l, ln) == 0 &&
            memcmp(v->merge[k] + ln + 1, r, rn) == 0)
            return k;
    }
}

/* Inserts merge k unless the same pair is already ranked (first wins). */
static void merges_put(tok_vocab *v, int32_t k)
{
    uint32_t h = tok_hash(v->merge[k], v->merge_len[k]);
    for (uint32_t i = h & v->merges.mask;; i = (i + 1) & v->merges.mask) {
        int32_t old = v->merges.val[i];
        if (old < 0) {
            v->merges.hash[i] = h;
            v->merges.val[i] = k;
            return;
        }
        if (v->merges.hash[i] == h && v->merge_left[old] == v->merge_left[k] &&
            v->merge_len[old] == v->merge_len[k] &&
            memcmp(v->merge[old], v->merge[k], v->merge_len[k]) == 0)
            return;
    }
}

bool tok_pairmap_init(tok_pairmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    m->slot = calloc(cap, sizeof *m->slot);
    m->mask = (uint32_t)(cap - 1);
    return m->slot != NULL;
}

void tok_pair_put(tok_pairmap *m, int32_t a, int32_t b, int32_t val)
{
    uint64_t k = ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 40) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slot[i].key == k)
            return;
        if (m->slot[i].key == 0) {
            m->slot[i].key = k;
            m->slot[i].val = val;
            return;
        }
    }
}

/* ---- building ------------------------------------------------------------ */

static const char *src_name(const tok_desc *d)
{
    return d->source ? d->source : "vocabulary";
}

/* Copies n strings into one pool; fills ptrs/lens. */
static char *copy_strings(int32_t n, const char *const *s, const uint64_t *lens,
                          char **ptrs, uint32_t *out_lens)
{
    size_t total = 0;
    for (int32_t i = 0; i < n; i++)
        total += (lens ? (size_t)lens[i] : strlen(s[i])) + 1;
    char *pool = malloc(total ? total : 1);
    if (!pool)
        return NULL;
    char *p = pool;
    for (int32_t i = 0; i < n; i++) {
        size_t l = lens ? (size_t)lens[i] : strlen(s[i]);
        memcpy(p, s[i], l);
        p[l] = 0;
        ptrs[i] = p;
        out_lens[i] = (uint32_t)l;
        p += l + 1;
    }
    return pool;
}

/* Resolves one special id: TOK_DEFAULT gives dflt, a negative value means
 * none, and an id outside the vocabulary falls back to dflt (as the
 * reference does with such files) or none. */
static int32_t pick_id(const tok_desc *d, int32_t given, int32_t dflt)
{
    int32_t id = given == TOK_DEFAULT ? dflt : given;
    if (id >= d->n_tokens)
        id = dflt < d->n_tokens ? dflt : -1;
    return id < 0 ? -1 : id;
}

static bool pick_flag(int given, bool dflt)
{
    return (given == TOK_DEFAULT || given < 0) ? dflt : given != 0;
}

/* Texts that end a generation whatever the file's ids say: the reference
 * marks a token with one of these texts as end of generation (and as a
 * control token, so user text never produces it). */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
    "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
    "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
    "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    NULL,
};

/* Fill-in-the-middle markers by text, for files that do not give their ids
 * (tokenizer.ggml.fim_*_token_id). The reference makes them control tokens,
 * and the pad, repository and file-separator ones end a generation (a code
 * model starting another file is done). NULL ends each list. */
enum { FIM_PRE, FIM_SUF, FIM_MID, FIM_PAD, FIM_REP, FIM_SEP, FIM_N };
static const char *const fim_texts[FIM_N][9] = {
    [FIM_PRE] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                 "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                 "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL},
    [FIM_SUF] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                 "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
                 "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL},
    [FIM_MID] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                 "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                 "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL},
    [FIM_PAD] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL},
    [FIM_REP] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL},
    [FIM_SEP] = {"<|file_sep|>", NULL},
};

/* gpt-oss's harmony markers that the reference always cuts out of text and
 * always prints (its own workaround: the model's answers quote them). */
static const char *const shown_markers[] = {
    "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL,
};

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const tok_vocab *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    unsigned char bx = (unsigned char)v->text[x][0], by = (unsigned char)v->text[y][0];
    if (bx != by)
        return bx < by ? -1 : 1;
    if (v->len[x] != v->len[y])
        return v->len[x] > v->len[y] ? -1 : 1;  /* longest first */
    return x < y ? -1 : x > y;
}

static int cmp_cut_order(const void *a, const void *b, void *ctx)
{
    const tok_vocab *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (v->len[x] != v->len[y])
        return v->len[x] > v->len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static bool is_special_type(int t)
{
    return t == TOK_TYPE_CONTROL || t == TOK_TYPE_USER_DEFINED || t == TOK_TYPE_UNKNOWN;
}

static chord_status build_specials(tok_vocab *v)
{
    int32_t n = 0;
    for (int32_t i = 0; i < v->n; i++)
        n += is_special_type(v->type[i]) && v->len[i] > 0;
    v->special = malloc((size_t)(n ? n : 1) * sizeof *v->special);
    if (!v->special)
        return CHORD_E_NOMEM;
    n = 0;
    for (int32_t i = 0; i < v->n; i++)
        if (is_special_type(v->type[i]) && v->len[i] > 0) {
            v->special[n++] = i;
            v->n_user_defined += v->type[i] == TOK_TYPE_USER_DEFINED;
        }
    qsort_r(v->special, (size_t)n, sizeof *v->special, cmp_special, v);
    int32_t k = 0;
    for (int b = 0; b < 256; b++) {
        v->special_at[b] = k;
        while (k < n && (unsigned char)v->text[v->special[k]][0] == b)
            k++;
    }
    v->special_at[256] = n;

    /* the reference's cutting order, and each token's rank in it */
    int32_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    v->sp_rank = malloc((size_t)v->n * sizeof *v->sp_rank);
    if (!order || !v->sp_rank) {
        free(order);
        return CHORD_E_NOMEM;
    }
    memcpy(order, v->special, (size_t)n * sizeof *order);
    qsort_r(order, (size_t)n, sizeof *order, cmp_cut_order, v);
    for (int32_t i = 0; i < v->n; i++)
        v->sp_rank[i] = -1;
    for (int32_t r = 0; r < n; r++)
        v->sp_rank[order[r]] = r;
    v->sp_order = order;
    return CHORD_OK;
}

/* The reference's per-model special-token flags: Phi-3 models drop the
 * white space after their special tokens (but not after <unk>, <s>,
 * <|endoftext|>). */
static bool set_strip_flags(tok_vocab *v, const char *name)
{
    v->rstrip = calloc((size_t)v->n, 1);
    if (!v->rstrip)
        return false;
    char lower[256];
    size_t i = 0;
    for (; name && name[i] && i < sizeof lower - 1; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    lower[i] = 0;
    if (!strstr(lower, "phi-3") && !strstr(lower, "phi3"))
        return true;
    for (int32_t k = 0; k < v->special_at[256]; k++)
        v->rstrip[v->special[k]] = 1;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    int32_t id = tok_lookup(v, "</s>", 4);
    if (id >= 0)
        v->rstrip[id] = 1;
    for (int k = 0; k < 3; k++)
        if ((id = tok_lookup(v, keep[k], strlen(keep[k]))) >= 0)
            v->rstrip[id] = 0;
    return true;
}

static chord_status build_merges(tok_vocab *v, const tok_desc *d, chord_err *err)
{
    v->n_merges = d->n_merges;
    v->merge = malloc((size_t)(d->n_merges + 1) * sizeof *v->merge);
    v->merge_len = malloc((size_t)(d->n_merges + 1) * sizeof *v->merge_len);
    v->merge_left = malloc((size_t)(d->n_merges + 1) * sizeof *v->merge_left);
    if (!v->merge || !v->merge_len || !v->merge_left || !map_init(&v->merges, (size_t)d->n_merges))
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for %d merges", src_name(d), (int)d->n_merges);
    if (d->n_merges == 0)
        return CHORD_OK;
    v->merge_pool = copy_strings(d->n_merges, d->merges, d->merge_lens, v->merge, v->merge_len);
    if (!v->merge_pool)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for %d merges", src_name(d), (int)d->n_merges);
    for (int32_t k = 0; k < d->n_merges; k++) {
        /* the separator is the first space after the first byte */
        const char *sp = v->merge_len[k] > 1 ? memchr(v->merge[k] + 1, ' ', v->merge_len[k] - 1) : NULL;
        if (!sp)
            return err_set(err, CHORD_E_FORMAT, "%s: merge %d (\"%.40s\") has no \"left right\" separator",
                           src_name(d), (int)k, v->merge[k]);
        v->merge_left[k] = (uint32_t)(sp - v->merge[k]);
        merges_put(v, k);
    }
    /* the id fast path: merges of two tokens by id, and what each makes */
    v->merge_result = malloc((size_t)d->n_merges * sizeof *v->merge_result);
    char *cat = malloc(1024);
    if (!v->merge_result || !cat || !tok_pairmap_init(&v->merge_ids, (size_t)d->n_merges)) {
        free(cat);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for %d merges", src_name(d), (int)d->n_merges);
    }
    for (int32_t k = 0; k < d->n_merges; k++) {
        uint32_t ln = v->merge_left[k], rn = v->merge_len[k] - ln - 1;
        const char *l = v->merge[k], *r = v->merge[k] + ln + 1;
        int32_t a = tok_lookup(v, l, ln), b = tok_lookup(v, r, rn);
        if (a >= 0 && b >= 0)
            tok_pair_put(&v->merge_ids, a, b, k);
        v->merge_result[k] = -1;
        if (ln + rn <= 1024) {
            memcpy(cat, l, ln);
            memcpy(cat + ln, r, rn);
            v->merge_result[k] = tok_lookup(v, cat, ln + rn);
        }
    }
    free(cat);
    return CHORD_OK;
}

static int32_t lookup_str(const tok_vocab *v, const char *s)
{
    return tok_lookup(v, s, strlen(s));
}

/* Makes token id a control token (one the reference would leave to the
 * chat template: never matched in user text, not printed). */
static void make_control(tok_vocab *v, int32_t id)
{
    if (id >= 0 && v->type[id] != TOK_TYPE_CONTROL && v->type[id] != TOK_TYPE_BYTE)
        v->type[id] = TOK_TYPE_CONTROL;
}

/* The reference's end-of-generation set and the token types it fixes up
 * on the way: the fill-in-the-middle pad/repo/file-separator ids (from the
 * file, else found by text), every token whose text is in eog_texts (made
 * CONTROL, whatever the file says: an end-of-turn marker stored as
 * USER_DEFINED would otherwise be cut out of user text and printed), then
 * EOS, EOT and EOM. Two of its model-specific exceptions follow: with
 * gpt-oss's <|return|> and <|call|> (or solar-open's <|calls|> and
 * <|flush|>), <|end|> only separates messages, so it is not an end and is
 * matched and shown like text; with gemma4's <|tool_response>, </s> is
 * ordinary text. */
static void mark_eog(tok_vocab *v, const tok_desc *d)
{
    const int32_t given[FIM_N] = {d->fim_pre, d->fim_suf, d->fim_mid, d->fim_pad, d->fim_rep, d->fim_sep};
    for (int k = 0; k < FIM_N; k++) {
        int32_t id = pick_id(d, given[k], -1);
        if (given[k] == TOK_DEFAULT)
            /* the reference takes whichever text its hash map yields
             * first; the lowest id is a stable stand-in */
            for (int j = 0; fim_texts[k][j]; j++) {
                int32_t t = lookup_str(v, fim_texts[k][j]);
                if (t >= 0 && (id < 0 || t < id))
                    id = t;
            }
        if (given[k] == TOK_DEFAULT)
            make_control(v, id);
        if (id >= 0 && (k == FIM_PAD || k == FIM_REP || k == FIM_SEP))
            v->eog[id] = 1;
    }
    for (int k = 0; eog_texts[k]; k++) {
        int32_t id = lookup_str(v, eog_texts[k]);
        if (id >= 0) {
            v->eog[id] = 1;
            make_control(v, id);
        }
    }
    for (int k = 0; shown_markers[k]; k++) {
        int32_t id = lookup_str(v, shown_markers[k]);
        if (id >= 0)
            v->type[id] = TOK_TYPE_USER_DEFINED;
    }
    if (v->eos >= 0) v->eog[v->eos] = 1;
    if (v->eot >= 0) v->eog[v->eot] = 1;
    if (v->eom >= 0) v->eog[v->eom] = 1;

    int32_t ret = lookup_str(v, "<|return|>"), call = lookup_str(v, "<|call|>");
    int32_t calls = lookup_str(v, "<|calls|>"), flush = lookup_str(v, "<|flush|>");
    int32_t end = lookup_str(v, "<|end|>");
    bool has_call = (call >= 0 && v->eog[call]) || (calls >= 0 && v->eog[calls]);
    bool has_ret = ret >= 0 && v->eog[ret], has_flush = flush >= 0 && v->eog[flush];
    if (end >= 0 && v->eog[end] && has_call && (has_ret || has_flush)) {
        v->eog[end] = 0;
        v->type[end] = TOK_TYPE_USER_DEFINED;
    }
    int32_t tool = lookup_str(v, "<|tool_response>"), s_end = lookup_str(v, "</s>");
    if (tool >= 0 && v->eog[tool] && s_end >= 0 && v->eog[s_end]) {
        v->eog[s_end] = 0;
        v->type[s_end] = TOK_TYPE_NORMAL;
    }
}

static chord_status build(tok_vocab *v, const tok_desc *d, chord_err *err)
{
    const char *src = src_name(d);
    if (!d->model)
        return err_set(err, CHORD_E_FORMAT, "%s: no tokenizer model (tokenizer.ggml.model)", src);
    if (strcmp(d->model, "llama") == 0)
        v->kind = TOK_KIND_SPM;
    else if (strcmp(d->model, "gpt2") == 0)
        v->kind = TOK_KIND_BPE;
    else
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: tokenizer model '%s' is not supported (llama or gpt2)",
                       src, d->model);
    if (d->n_tokens <= 0 || !d->tokens)
        return err_set(err, CHORD_E_FORMAT, "%s: empty vocabulary", src);
    if (v->kind == TOK_KIND_BPE && (d->n_merges < 0 || (d->n_merges > 0 && !d->merges)))
        return err_set(err, CHORD_E_FORMAT, "%s: bad merge list", src);

    v->pre = TOK_PRE_DEFAULT;
    v->pre_known = true;
    if (d->pre) {
        v->pre_req = strdup(d->pre);
        if (!v->pre_req)
            return err_set(err, CHORD_E_NOMEM, "%s: out of memory", src);
        if (v->kind == TOK_KIND_BPE)
            v->pre = tok_pre_from_name(d->pre, &v->pre_known);
    }

    int32_t n = v->n = d->n_tokens;
    v->text = malloc((size_t)n * sizeof *v->text);
    v->len = malloc((size_t)n * sizeof *v->len);
    v->score = calloc((size_t)n, sizeof *v->score);
    v->type = malloc((size_t)n);
    v->eog = calloc((size_t)n, 1);
    if (!v->text || !v->len || !v->score || !v->type || !v->eog || !map_init(&v->tokens, (size_t)n))
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for %d tokens", src, (int)n);
    v->pool = copy_strings(n, d->tokens, d->token_lens, v->text, v->len);
    if (!v->pool)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for %d tokens", src, (int)n);
    for (int32_t i = 0; i < n; i++) {
        int t = d->types ? d->types[i] : TOK_TYPE_NORMAL;
        if (t < TOK_TYPE_UNDEFINED || t > TOK_TYPE_BYTE)
            return err_set(err, CHORD_E_FORMAT, "%s: token %d has unknown type %d", src, (int)i, t);
        v->type[i] = (uint8_t)(t == TOK_TYPE_UNDEFINED ? TOK_TYPE_NORMAL : t);
        if (d->scores)
            v->score[i] = d->scores[i];
        tokens_put(v, i);
    }

    bool spm = v->kind == TOK_KIND_SPM;
    v->bos = pick_id(d, d->bos, spm ? 1 : -1);
    v->eos = pick_id(d, d->eos, spm ? 2 : -1);
    v->unk = pick_id(d, d->unk, spm ? 0 : -1);
    v->eot = pick_id(d, d->eot, -1);
    v->eom = pick_id(d, d->eom, -1);
    v->pad = pick_id(d, d->pad, -1);
    v->add_bos = pick_flag(d->add_bos, spm || v->pre == TOK_PRE_LLAMA3 || v->pre == TOK_PRE_DBRX) && v->bos >= 0;
    v->add_eos = pick_flag(d->add_eos, false) && v->eos >= 0;
    v->add_space_prefix = pick_flag(d->add_space_prefix, spm);
    v->ignore_merges = v->pre == TOK_PRE_LLAMA3;

    mark_eog(v, d);
    for (int b = 0; b < 256; b++) {
        char buf[8];
        static const char hex[] = "0123456789ABCDEF";
        buf[0] = '<'; buf[1] = '0'; buf[2] = 'x';
        buf[3] = hex[b >> 4]; buf[4] = hex[b & 15]; buf[5] = '>';
        v->byte_tok[b] = tok_lookup(v, buf, 6);
        v->byte_enc_len[b] = (uint8_t)tok_utf8_put(tok_byte_to_cp((unsigned char)b), v->byte_enc[b]);
        v->byte_sym[b] = tok_lookup(v, v->byte_enc[b], v->byte_enc_len[b]);
        if (b < 128) {
            char c = (char)b;
            v->ascii_id[b] = tok_lookup(v, &c, 1);
        }
    }

    if (build_specials(v) != CHORD_OK || (spm && !tok_spm_build_pairs(v)) ||
        !set_strip_flags(v, d->name))
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", src);
    if (v->kind == TOK_KIND_BPE)
        return build_merges(v, d, err);
    return CHORD_OK;
}

chord_status tok_vocab_build(const tok_desc *d, tok_vocab **out, chord_err *err)
{
    *out = NULL;
    tok_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", src_name(d));
    chord_status st = build(v, d, err);
    if (st != CHORD_OK) {
        tok_vocab_free(v);
        return st;
    }
    *out = v;
    return CHORD_OK;
}

void tok_vocab_free(tok_vocab *v)
{
    if (!v)
        return;
    free(v->pre_req);
    free(v->text);
    free(v->len);
    free(v->score);
    free(v->type);
    free(v->eog);
    free(v->pool);
    map_free(&v->tokens);
    free(v->merge);
    free(v->merge_len);
    free(v->merge_left);
    free(v->merge_pool);
    map_free(&v->merges);
    free(v->merge_result);
    free(v->merge_ids.slot);
    free(v->spm_pairs.slot);
    free(v->special);
    free(v->rstrip);
    free(v->sp_rank);
    free(v->sp_order);
    free(v->pairs);
    free(v);
}

/* ---- queries ------------------------------------------------------------- */

int32_t tok_n_vocab(const tok_vocab *v) { return v->n; }
bool tok_is_spm(const tok_vocab *v) { return v->kind == TOK_KIND_SPM; }
const char *tok_pre_name(const tok_vocab *v) { return v->kind == TOK_KIND_SPM ? "spm" : tok_pre_label(v->pre); }
bool tok_pre_known(const tok_vocab *v) { return v->pre_known; }
const char *tok_pre_requested(const tok_vocab *v) { return v->pre_req; }
chord_token tok_bos(const tok_vocab *v) { return v->bos; }
chord_token tok_eos(const tok_vocab *v) { return v->eos; }
chord_token tok_eot(const tok_vocab *v) { return v->eot; }
chord_token tok_unk(const tok_vocab *v) { return v->unk; }
bool tok_add_bos(const tok_vocab *v) { return v->add_bos; }
bool tok_add_eos(const tok_vocab *v) { return v->add_eos; }

bool tok_is_eog(const tok_vocab *v, chord_token t)
{
    return t >= 0 && t < v->n && v->eog[t];
}

int tok_type(const tok_vocab *v, chord_token t)
{
    return (t >= 0 && t < v->n) ? v->type[t] : -1;
}

const char *tok_text(const tok_vocab *v, chord_token t, size_t *len)
{
    if (t < 0 || t >= v->n)
        return NULL;
    if (len)
        *len = v->len[t];
    return v->text[t];
}

chord_token tok_find(const tok_vocab *v, const char *s, size_t len)
{
    return tok_lookup(v, s, len);
}
