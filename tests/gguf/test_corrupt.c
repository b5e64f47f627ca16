/*
 * test_corrupt.c - hostile and damaged GGUF files are rejected cleanly.
 *
 * Every damaged file must make gguf_open fail with one line naming the file
 * and a byte offset (or, for damage the format cannot notice, parse
 * normally); never crash, never leak (CI runs this under ASan). Cases:
 * truncation at every offset of small files and sampled offsets of a shared
 * model's header, bytes flipped everywhere in small headers and at sampled
 * positions of the shared one, and hand-made files with one field wrong
 * each (huge counts and lengths, bad types, bad alignment, bad shapes,
 * overlapping or out-of-file data...). A subset goes through `chord
 * inspect` too: exit 1 and exactly one "chord: " line on stderr.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf_build.h"
#include "quant/quant_types.h"
#include "t.h"

/* Stops a void test function when a setup step fails. */
#define T_REQUIRE_VOID_OK(bad, msg) \
    do { if (bad) { t_fail_at(__FILE__, __LINE__, "%s", msg); return; } } while (0)

static char case_path[4200];
static int n_parsed, n_rejected;

/* Parses the file at case_path; on failure checks the message's shape. */
static chord_status parse_case(const char *label, chord_err *err)
{
    gguf_file *f = NULL;
    chord_status st = gguf_open(case_path, &f, err);
    if (st == CHORD_OK) {
        n_parsed++;
        T_CHECK(f != NULL, "%s: OK without a file", label);
        gguf_close(f);
        return st;
    }
    n_rejected++;
    T_CHECK(f == NULL, "%s: error but *out set", label);
    T_CHECK(st == CHORD_E_FORMAT || st == CHORD_E_UNSUPPORTED, "%s: status %d (%s)", label, st,
            err->msg);
    T_CHECK(strstr(err->msg, case_path) != NULL, "%s: message does not name the file: %s",
            label, err->msg);
    T_CHECK(strstr(err->msg, "offset") != NULL, "%s: message has no offset: %s", label, err->msg);
    T_CHECK(strchr(err->msg, '\n') == NULL, "%s: message is not one line", label);
    return st;
}

static chord_status parse_bytes(const char *label, const void *p, size_t n, chord_err *err)
{
    if (!t_write_file(case_path, p, n)) {
        T_CHECK(0, "%s: cannot write %s", label, case_path);
        return CHORD_E_IO;
    }
    return parse_case(label, err);
}

/* Truncates at every offset below n; cuts before `need` (the end of the
 * last tensor's data) must fail, later cuts (trailing padding) may parse. */
static void truncate_everywhere(const char *label, const uint8_t *p, size_t n, size_t need)
{
    chord_err err;
    for (size_t cut = 0; cut < n; cut++) {
        char l[128];
        snprintf(l, sizeof l, "%s cut at %zu", label, cut);
        chord_status st = parse_bytes(l, p, cut, &err);
        if (cut < need)
            T_CHECK(st != CHORD_OK, "%s: parsed", l);
        else
            T_CHECK(st == CHORD_OK, "%s: %s", l, err.msg);
    }
}

/* Flips bits of every byte below `end`: the parser may accept or reject. */
static void flip_everywhere(const char *label, const uint8_t *p, size_t n, size_t end)
{
    static const uint8_t masks[] = {0xff, 0x01, 0x80, 0x40};
    uint8_t *q = malloc(n);
    chord_err err;
    for (size_t i = 0; i < end; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(q, p, n);
            q[i] ^= masks[m];
            char l[128];
            snprintf(l, sizeof l, "%s flip 0x%02x at %zu", label, masks[m], i);
            parse_bytes(l, q, n, &err);
        }
    free(q);
}

/* A small valid file from the writer: every metadata kind and four tensors. */
static uint8_t *writer_file(size_t *n, size_t *data_end, size_t *data_offset)
{
    gguf_writer *w;
    chord_err err;
    if (gguf_writer_open(case_path, &w, &err)) {
        T_CHECK(0, "%s", err.msg);
        return NULL;
    }
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_kv_u32(w, "llama.block_count", 2);
    gguf_writer_kv_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", true);
    const char *toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81the"};
    gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
    float scores[4] = {0, 0, 0, -1.5f};
    gguf_writer_kv_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, 4);
    int64_t ne_a[2] = {64, 2}, ne_b[1] = {32}, ne_c[2] = {256, 1}, ne_d[2] = {8, 2};
    gguf_writer_tensor(w, "token_embd.weight", QT_Q8_0, 2, ne_a);
    gguf_writer_tensor(w, "blk.0.attn_norm.weight", QT_F32, 1, ne_b);
    gguf_writer_tensor(w, "blk.1.ffn_up.weight", QT_Q4_K, 2, ne_c);
    gguf_writer_tensor(w, "output.weight", QT_F16, 2, ne_d);
    static const uint8_t zeros[4096];
    chord_status st = gguf_writer_begin_data(w, &err);
    size_t sizes[4] = {136, 128, 144, 32};
    for (int i = 0; i < 4 && !st; i++)
        st = gguf_writer_write(w, zeros, sizes[i], &err);
    if (!st)
        st = gguf_writer_close(w, &err);
    else
        gguf_writer_abort(w);
    T_CHECK(st == CHORD_OK, "writer: %s", err.msg);
    gguf_file *f;
    if (st || gguf_open(case_path, &f, &err)) {
        T_CHECK(0, "writer file does not parse: %s", err.msg);
        return NULL;
    }
    const gguf_tensor *last = &f->tensors[3];
    *data_end = (size_t)(last->offset + last->nbytes);
    *data_offset = (size_t)f->data_offset;
    gguf_close(f);
    return (uint8_t *)t_read_file(case_path, n);
}

/* Offsets of the fields the hand-made cases patch. */
typedef struct fields {
    size_t magic, version, n_tensors, n_kv, key0_len, align_type, align_val, str_len, arr_type, arr_count,
           sarr_count, sarr_len1, bool_type, bool_val, dupkey_last, t0_name_last, t0_ndims,
           t0_ne0, t0_ne1, t0_type, t0_off, t1_name_last, t1_ne0, t1_ne1, t1_type, t1_off, data_end;
} fields;

/* A hand-made valid file (the builder spells the format independently of
 * the writer) with the position of every field a case corrupts. */
static void crafted(bb *b, fields *o)
{
    memset(b, 0, sizeof *b);
    bb_header(b, 3, 2, 7);
    o->magic = 0;
    o->version = 4;
    o->n_tensors = 8;
    o->n_kv = 16;
    o->key0_len = b->n;
    bb_str(b, "general.alignment");
    o->align_type = b->n;
    bb_u32(b, GGUF_UINT32);
    o->align_val = b->n;
    bb_u32(b, 32);
    bb_key(b, "general.architecture", GGUF_STRING);
    o->str_len = b->n;
    bb_str(b, "llama");
    bb_key(b, "t.arr_u8", GGUF_ARRAY);
    o->arr_type = b->n;
    bb_u32(b, GGUF_UINT8);
    o->arr_count = b->n;
    bb_u64(b, 3);
    bb_bytes(b, "\1\2\3", 3);
    bb_key(b, "t.tokens", GGUF_ARRAY);
    bb_u32(b, GGUF_STRING);
    o->sarr_count = b->n;
    bb_u64(b, 2);
    bb_str(b, "<s>");
    o->sarr_len1 = b->n;
    bb_str(b, "</s>");
    bb_str(b, "t.flag");
    o->bool_type = b->n;
    bb_u32(b, GGUF_BOOL);
    o->bool_val = b->n;
    bb_u8(b, 1);
    bb_key(b, "t.aaa", GGUF_UINT32);
    bb_u32(b, 7);
    bb_str(b, "t.aab");
    o->dupkey_last = b->n - 1;
    bb_u32(b, GGUF_UINT32);
    bb_u32(b, 8);
    /* t0: Q8_0 64 x 2 = 136 bytes at 0; t1: F32 8 x 4 = 128 bytes at 160 */
    size_t at = b->n;
    bb_tensor(b, "blk.0.a", 2, (const uint64_t[]){64, 2}, QT_Q8_0, 0);
    o->t0_name_last = at + 8 + 6;
    o->t0_ndims = at + 8 + 7;
    o->t0_ne0 = o->t0_ndims + 4;
    o->t0_ne1 = o->t0_ne0 + 8;
    o->t0_type = o->t0_ne1 + 8;
    o->t0_off = o->t0_type + 4;
    at = b->n;
    bb_tensor(b, "blk.0.b", 2, (const uint64_t[]){8, 4}, QT_F32, 160);
    o->t1_name_last = at + 8 + 6;
    o->t1_ne0 = at + 8 + 7 + 4;
    o->t1_ne1 = o->t1_ne0 + 8;
    o->t1_type = o->t1_ne1 + 8;
    o->t1_off = o->t1_type + 4;
    bb_pad(b, 32);
    bb_zeros(b, 160 + 128);
    o->data_end = b->n;
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* One field of the crafted file set to a bad value, and what must follow. */
typedef struct patch_case {
    const char *label;
    size_t field;        /* offsetof(fields, x): where */
    int width;           /* 1, 4 or 8 bytes, little-endian */
    uint64_t value;
    chord_status want;
    const char *says;    /* a phrase the message must contain */
    bool cli;            /* also run through `chord inspect` */
} patch_case;

#define F(x) offsetof(fields, x)
static const patch_case cases[] = {
    {"bad magic", F(magic), 4, 0x46554748, CHORD_E_FORMAT, "magic", true},
    {"version 1", F(version), 4, 1, CHORD_E_UNSUPPORTED, "version 1", true},
    {"version 4", F(version), 4, 4, CHORD_E_UNSUPPORTED, "version 4", false},
    {"big-endian", F(version), 4, 0x03000000, CHORD_E_UNSUPPORTED, "big-endian", false},
    {"n_kv 2^63", F(n_kv), 8, 1ull << 63, CHORD_E_FORMAT, "key count", true},
    {"n_kv 2^64-1", F(n_kv), 8, UINT64_MAX, CHORD_E_FORMAT, "key count", false},
    {"n_kv + 1", F(n_kv), 8, 8, CHORD_E_FORMAT, "", false},
    {"n_tensors 2^63", F(n_tensors), 8, 1ull << 63, CHORD_E_FORMAT, "tensor count", true},
    {"n_tensors + 1", F(n_tensors), 8, 3, CHORD_E_FORMAT, "", false},
    {"key length 2^63", F(key0_len), 8, 1ull << 63, CHORD_E_FORMAT, "runs past end", true},
    {"key length 0", F(key0_len), 8, 0, CHORD_E_FORMAT, "empty", false},
    {"string length 2^63", F(str_len), 8, 1ull << 63, CHORD_E_FORMAT, "runs past end", true},
    {"string length 2^64-1", F(str_len), 8, UINT64_MAX, CHORD_E_FORMAT, "runs past end", false},
    {"array count 2^63", F(arr_count), 8, 1ull << 63, CHORD_E_FORMAT, "array count", true},
    {"array count 2^61 u64", F(arr_type), 4, GGUF_UINT64, CHORD_E_FORMAT, "", false},
    {"string array count 2^62", F(sarr_count), 8, 1ull << 62, CHORD_E_FORMAT, "array count", true},
    {"string array element length", F(sarr_len1), 8, 1ull << 40, CHORD_E_FORMAT, "element 1", false},
    {"nested array", F(arr_type), 4, GGUF_ARRAY, CHORD_E_UNSUPPORTED, "nested", true},
    {"array elem type 13", F(arr_type), 4, 13, CHORD_E_FORMAT, "element type", false},
    {"value type 13", F(bool_type), 4, 13, CHORD_E_FORMAT, "value type 13", false},
    {"value type 2^32-1", F(bool_type), 4, UINT32_MAX, CHORD_E_FORMAT, "value type", false},
    {"bool 2", F(bool_val), 1, 2, CHORD_E_FORMAT, "bool", false},
    {"duplicate key", F(dupkey_last), 1, 'a', CHORD_E_FORMAT, "duplicate key", true},
    {"key not UTF-8", F(dupkey_last), 1, 0xff, CHORD_E_FORMAT, "UTF-8", false},
    {"key with NUL", F(dupkey_last), 1, 0, CHORD_E_FORMAT, "NUL", false},
    {"alignment 3", F(align_val), 4, 3, CHORD_E_FORMAT, "alignment", true},
    {"alignment 0", F(align_val), 4, 0, CHORD_E_FORMAT, "alignment", false},
    {"alignment 2^31", F(align_val), 4, 1u << 31, CHORD_E_FORMAT, "alignment", false},
    {"alignment 64", F(align_val), 4, 64, CHORD_E_FORMAT, "not a multiple of the alignment", false},
    {"alignment as f32", F(align_type), 4, GGUF_FLOAT32, CHORD_E_FORMAT, "alignment", false},
    {"n_dims 5", F(t0_ndims), 4, 5, CHORD_E_FORMAT, "n_dims 5", true},
    {"n_dims 0", F(t0_ndims), 4, 0, CHORD_E_FORMAT, "n_dims 0", false},
    {"n_dims 2^32-1", F(t0_ndims), 4, UINT32_MAX, CHORD_E_FORMAT, "n_dims", false},
    {"dim 0", F(t0_ne1), 8, 0, CHORD_E_FORMAT, "dimension 1", false},
    {"dim 2^63", F(t0_ne1), 8, 1ull << 63, CHORD_E_FORMAT, "dimension 1", false},
    {"dims product overflow", F(t0_ne1), 8, 1ull << 60, CHORD_E_FORMAT, "overflow", true},
    {"data size overflow", F(t1_ne1), 8, 1ull << 62, CHORD_E_FORMAT, "overflow", false},
    {"row not a multiple of the block", F(t0_ne0), 8, 48, CHORD_E_FORMAT, "multiple", true},
    {"tensor type 99", F(t0_type), 4, 99, CHORD_E_FORMAT, "tensor type 99", true},
    {"tensor type 2^32-1", F(t0_type), 4, UINT32_MAX, CHORD_E_FORMAT, "tensor type", false},
    {"tensor type 40 (NVFP4, unknown to chord)", F(t0_type), 4, 40, CHORD_E_UNSUPPORTED, "tensor type 40", true},
    {"tensor type Q8_K (unsupported)", F(t0_type), 4, QT_Q8_K, CHORD_E_UNSUPPORTED, "Q8_K", false},
    {"unaligned data offset", F(t1_off), 8, 16, CHORD_E_FORMAT, "alignment", true},
    {"overlapping data", F(t1_off), 8, 128, CHORD_E_FORMAT, "overlaps", true},
    {"same data offset", F(t1_off), 8, 0, CHORD_E_FORMAT, "overlaps", false},
    {"data past end of file", F(t1_off), 8, 192, CHORD_E_FORMAT, "past end of file", true},
    {"data offset 2^63", F(t1_off), 8, 1ull << 63, CHORD_E_FORMAT, "past end of file", false},
    {"data offset 2^64-32", F(t1_off), 8, UINT64_MAX - 31, CHORD_E_FORMAT, "past end of file", false},
    {"duplicate tensor name", F(t1_name_last), 1, 'a', CHORD_E_FORMAT, "duplicate tensor", true},
    {"tensor name with NUL", F(t0_name_last), 1, 0, CHORD_E_FORMAT, "tensor name", false},
};

static bool run_cli(const char *label, int want_rc)
{
    char cmd[9000], errpath[4300];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", t_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s' >/dev/null 2>'%s'", t_chord_bin(), case_path, errpath);
    int rc = t_run(cmd, NULL);
    size_t n = 0;
    char *e = t_read_file(errpath, &n);
    bool ok = want_rc == 0 ? rc == 0 && e && n == 0
            : rc == want_rc && e && n > 8 && !strncmp(e, "chord: ", 7) && e[n - 1] == '\n' &&
                  memchr(e, '\n', n) == e + n - 1 && strstr(e, case_path);
    T_CHECK(ok, "%s: chord inspect exit %d (want %d), stderr: %s", label, rc, want_rc, e ? e : "?");
    free(e);
    return ok;
}

static void test_crafted(bool cli)
{
    bb base;
    fields o;
    chord_err err;
    crafted(&base, &o);
    T_REQUIRE_VOID_OK(parse_bytes("crafted base", base.p, base.n, &err), err.msg);
    truncate_everywhere("crafted", base.p, base.n, o.data_end);
    flip_everywhere("crafted", base.p, base.n, o.data_end - 288);
    uint8_t *q = malloc(base.n);
    /* version 2 has the same layout as 3 and must parse */
    memcpy(q, base.p, base.n);
    put32(q + o.version, 2);
    T_CHECK(parse_bytes("version 2", q, base.n, &err) == CHORD_OK, "version 2: %s", err.msg);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const patch_case *pc = &cases[c];
        memcpy(q, base.p, base.n);
        size_t at = *(const size_t *)((const char *)&o + pc->field);
        if (pc->width == 4)
            put32(q + at, (uint32_t)pc->value);
        else if (pc->width == 8)
            put64(q + at, pc->value);
        else
            q[at] = (uint8_t)pc->value;
        chord_status st = parse_bytes(pc->label, q, base.n, &err);
        T_CHECK(st == pc->want, "%s: status %d, want %d (%s)", pc->label, st, pc->want, err.msg);
        T_CHECK(strstr(err.msg, pc->says) != NULL, "%s: message lacks '%s': %s", pc->label,
                pc->says, err.msg);
        if (cli && pc->cli)
            run_cli(pc->label, 1);
    }
    free(q);
    bb_free(&base);
}

/* The shared model's header (metadata with a 32000-entry vocabulary and
 * 30 tensor infos), truncated and flipped at sampled places. The data
 * section is left sparse: the parser never reads it. */
static void test_shared_header(bool cli)
{
    const char *model = t_shared("models/a-spm-q8_0.gguf");
    gguf_file *f;
    chord_err err;
    T_REQUIRE_VOID_OK(gguf_open(model, &f, &err), err.msg);
    size_t hdr = (size_t)f->data_offset, size = (size_t)f->file_size;
    uint64_t data_end = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].offset + f->tensors[i].nbytes > data_end)
            data_end = f->tensors[i].offset + f->tensors[i].nbytes;
    gguf_close(f);
    uint8_t *h = malloc(hdr);
    int fd = open(model, O_RDONLY);
    T_REQUIRE_VOID_OK(fd < 0 || pread(fd, h, hdr, 0) != (ssize_t)hdr, "cannot read the header");
    close(fd);

    /* truncations: every offset of the first 4 KiB, then ~400 samples */
    for (size_t cut = 0; cut < hdr; cut += cut < 4096 ? 1 : hdr / 400 + 1) {
        char l[96];
        snprintf(l, sizeof l, "a-spm-q8_0 header cut at %zu", cut);
        T_CHECK(parse_bytes(l, h, cut, &err) != CHORD_OK, "%s: parsed", l);
        if (cli && (cut == 7 || cut == 4096))
            run_cli(l, 1);
    }
    /* the header complete but the data cut short */
    T_REQUIRE_VOID_OK(!t_write_file(case_path, h, hdr), "write");
    for (uint64_t cut = hdr; cut < data_end; cut += (data_end - hdr) / 50 + 1) {
        T_REQUIRE_VOID_OK(truncate(case_path, (off_t)cut) != 0, "truncate");
        char l[96];
        snprintf(l, sizeof l, "a-spm-q8_0 data cut at %llu", (unsigned long long)cut);
        T_CHECK(parse_case(l, &err) == CHORD_E_FORMAT, "%s: %s", l, err.msg);
    }
    T_REQUIRE_VOID_OK(truncate(case_path, (off_t)size) != 0, "truncate");
    T_REQUIRE_VOID_OK(parse_case("a-spm-q8_0 sparse copy", &err), err.msg);
    if (cli)
        run_cli("a-spm-q8_0 sparse copy", 0);

    /* flips: every byte of the fixed header and first keys, then samples */
    fd = open(case_path, O_WRONLY);
    for (size_t i = 0; fd >= 0 && i < hdr; i += i < 512 ? 1 : hdr / 300 + 1) {
        uint8_t b = h[i] ^ 0xff;
        char l[96];
        snprintf(l, sizeof l, "a-spm-q8_0 flip at %zu", i);
        if (pwrite(fd, &b, 1, (off_t)i) != 1 || (parse_case(l, &err), pwrite(fd, &h[i], 1, (off_t)i) != 1)) {
            T_CHECK(0, "%s: pwrite", l);
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    free(h);
}

int main(void)
{
    snprintf(case_path, sizeof case_path, "%s/case.gguf", t_tmpdir());
    const char *bin = getenv("CHORD_BIN");
    bool cli = bin && access(bin, X_OK) == 0;
    if (!cli)
        printf("note: CHORD_BIN not set: the chord inspect checks are not run\n");

    size_t n = 0, data_end = 0, data_offset = 0;
    uint8_t *w = writer_file(&n, &data_end, &data_offset);
    if (w) {
        truncate_everywhere("writer file", w, n, data_end);
        flip_everywhere("writer file", w, n, data_offset);
        free(w);
    }
    test_crafted(cli);

    if (cli) {
        /* usage and missing files */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "'%s' inspect 2>/dev/null", t_chord_bin());
        T_EQ_INT(t_run(cmd, NULL), 2);
        snprintf(cmd, sizeof cmd, "'%s' inspect a b 2>/dev/null", t_chord_bin());
        T_EQ_INT(t_run(cmd, NULL), 2);
        snprintf(cmd, sizeof cmd, "'%s' inspect --bogus x 2>/dev/null", t_chord_bin());
        T_EQ_INT(t_run(cmd, NULL), 2);
        snprintf(case_path, sizeof case_path, "%s/does-not-exist.gguf", t_tmpdir());
        run_cli("missing file", 1);
        snprintf(case_path, sizeof case_path, "%s/case.gguf", t_tmpdir());
    }
    printf("%d damaged files rejected, %d parsed (damage the format cannot see)\n",
           n_rejected, n_parsed);
    /* the shared model last: a missing fixture skips, but only after every
     * self-contained check above has had its say */
    if (t_failures)
        return t_done();
    test_shared_header(cli);
    printf("with the shared header: %d rejected, %d parsed\n", n_rejected, n_parsed);
    return t_done();
}
