/*
 * pull_blob.c - one file into the hub cache, safely.
 *
 * The bytes go to blobs/OID.incomplete, which a later run continues with
 * a Range request (after a dropped connection within this run, after
 * Ctrl-C or a crash in the next). The hash runs over every byte of the
 * file, the kept prefix included, and the file takes its final name
 * blobs/OID only once it matches the Hub's sha256; the snapshot link is
 * made last. So a name in the cache always means a whole, verified file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pull.h"

bool pull_mkdirs(const char *path, int mode)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return false;
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
                return false;
            *s = c;
            if (!c)
                return true;
        }
    }
}

/* ---- the content hash --------------------------------------------------- */

/* LFS files are checked against their sha256; plain git files against the
 * git blob id, sha1("blob SIZE\0" + content), which is their oid. */
typedef struct {
    EVP_MD_CTX *md;
    bool lfs;
    int64_t size;
} content_hash;

static bool hash_reset(content_hash *h)
{
    if (!EVP_DigestInit_ex(h->md, h->lfs ? EVP_sha256() : EVP_sha1(), NULL))
        return false;
    if (!h->lfs) {
        char hdr[64];
        int n = snprintf(hdr, sizeof hdr, "blob %lld", (long long)h->size);
        return EVP_DigestUpdate(h->md, hdr, (size_t)n + 1);
    }
    return true;
}

static void hash_hex(content_hash *h, char *hex)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(h->md, d, &n);
    for (unsigned i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    hex[2 * n] = '\0';
}

/* ---- the download loop ---------------------------------------------------- */

typedef struct {
    pull_ctx *c;
    int fd;
    content_hash *hash;  /* NULL: nothing to verify (a plain URL) */
    int64_t off;         /* bytes in the file */
    int64_t size;        /* expected size, -1 until the server says */
    bool started;        /* this response has delivered data */
    int err;             /* errno of a failed write */
    bool bad;            /* the server sent what does not fit */
    hub_resp *resp;      /* the answer being received */
} dl_state;

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w, n -= (size_t)w;
    }
    return true;
}

/* Starts the file over: the server ignored the Range, or the kept bytes
 * cannot be continued. */
static bool restart(dl_state *s)
{
    if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0) {
        s->err = errno;
        return false;
    }
    s->off = 0;
    if (s->hash && !hash_reset(s->hash)) {
        s->err = ENOMEM;
        return false;
    }
    return true;
}

static bool on_data(void *ud, const void *data, size_t n)
{
    dl_state *s = ud;
    if (!s->started) {
        s->started = true;
        hub_resp *r = s->resp;
        if (r->status == 200 && s->off > 0) {
            prog_note(&s->c->prog, "the server does not resume downloads; starting over");
            if (!restart(s))
                return false;
        } else if (r->status == 206 && r->range_start != s->off) {
            s->bad = true;
            return false;
        }
        if (s->size < 0 && r->content_length >= 0) {
            s->size = s->off + r->content_length;
            s->c->prog.total = s->size;
        }
    }
    if (s->size >= 0 && s->off + (int64_t)n > s->size) {
        s->bad = true; /* longer than the file the tree promised */
        return false;
    }
    if (!write_all(s->fd, data, n)) {
        s->err = errno;
        return false;
    }
    if (s->hash && !EVP_DigestUpdate(s->hash->md, data, n)) {
        s->err = ENOMEM;
        return false;
    }
    s->off += (int64_t)n;
    prog_update(&s->c->prog, s->off);
    return true;
}

static bool regular_of_size(const char *path, int64_t size)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
}

/* Sleeps secs in slices, so Ctrl-C during a backoff is not kept waiting. */
static void nap(pull_ctx *c, double secs)
{
    for (double t = 0; t < secs && !*c->stop; t += 0.1)
        nanosleep(&(struct timespec){0, 100000000L}, NULL);
}

/* Feeds the kept prefix of a .incomplete file to the hash. */
static bool hash_prefix(int fd, int64_t len, content_hash *h)
{
    static char buf[1 << 20];
    for (int64_t at = 0; at < len;) {
        size_t want = (size_t)(len - at < (int64_t)sizeof buf ? len - at : (int64_t)sizeof buf);
        ssize_t r = pread(fd, buf, want, at);
        if (r <= 0)
            return false;
        if (!EVP_DigestUpdate(h->md, buf, (size_t)r))
            return false;
        at += r;
    }
    return true;
}

/* Downloads url into dest.incomplete and renames it to dest once whole
 * (and, with want_oid, verified). label names the file in messages. */
static int download(pull_ctx *c, const char *dest, const char *label, int64_t size,
                    const char *want_oid, bool lfs, const char *url)
{
    char inc[4200];
    snprintf(inc, sizeof inc, "%s.incomplete", dest);
    int fd = open(inc, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        prog_error(&c->prog, "cannot create %s: %s", inc, strerror(errno));
        return 1;
    }
    /* Two pulls of the same file would interleave their bytes. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        prog_error(&c->prog, "%s is being downloaded by another process (%s is locked)", label, inc);
        close(fd);
        return 1;
    }
    /* The lock's holder may have finished and renamed its file between
     * the caller's look at the cache and our open: then ours is a new,
     * empty file and the blob is there. */
    struct stat st;
    if (regular_of_size(dest, size) && fstat(fd, &st) == 0 && st.st_size == 0) {
        unlink(inc);
        close(fd);
        return 0;
    }
    EVP_MD_CTX *md = want_oid ? EVP_MD_CTX_new() : NULL;
    content_hash h = {.md = md, .lfs = lfs, .size = size};
    dl_state s = {.c = c, .fd = fd, .hash = md ? &h : NULL, .size = size};
    int rc = 1;
    if (fstat(fd, &st) != 0 || (want_oid && (!md || !hash_reset(&h)))) {
        prog_error(&c->prog, "%s: %s", inc, strerror(errno ? errno : ENOMEM));
        goto out;
    }
    s.off = st.st_size;
    if (size >= 0 && s.off > size && !restart(&s)) {
        prog_error(&c->prog, "%s: %s", inc, strerror(s.err));
        goto out;
    }
    if (s.off > 0 && s.hash && !hash_prefix(fd, s.off, &h)) {
        prog_error(&c->prog, "reading %s: %s", inc, strerror(errno));
        goto out;
    }
    if (lseek(fd, s.off, SEEK_SET) != s.off) {
        prog_error(&c->prog, "%s: %s", inc, strerror(errno));
        goto out;
    }

    prog_start(&c->prog, label, size, s.off);
    /* Retries: a transfer that moved bytes earns a fresh count, so a long
     * download survives many drops; one that keeps failing at once stops
     * after five. */
    int fails = 0;
    for (int attempt = 0; attempt < 200; attempt++) {
        /* A file kept whole (stopped between its last byte and the rename)
         * only needs its check. */
        if (s.size >= 0 && s.off == s.size)
            break;
        int64_t before = s.off;
        hub_resp r;
        s.started = false;
        s.resp = &r;
        hub_result hr = hub_fetch(c->http, url, s.off, on_data, &s, &r);
        s.resp = NULL;
        hub_resp_free(&r);
        if (hr == HUB_STOPPED || *c->stop) {
            prog_error(&c->prog, "interrupted: %lld of %lld bytes of %s kept in %s; the same chord "
                       "pull resumes", (long long)s.off, (long long)s.size, label, inc);
            goto out;
        }
        if (hr == HUB_SINK && s.err) {
            prog_error(&c->prog, "writing %s: %s", inc, strerror(s.err));
            goto out;
        }
        if (hr == HUB_HTTP && r.status != 416) {
            pull_report_http(c, c->repo ? c->repo : label, label, &r);
            goto out;
        }
        const char *why = r.error_message;
        if (hr == HUB_OK && s.size < 0)
            s.size = s.off; /* a plain server that never said the size */
        if (hr == HUB_OK && s.off == s.size)
            break;
        if (hr == HUB_OK)
            why = "the answer ended early";
        if (hr == HUB_SINK || hr == HUB_HTTP) {
            /* A body that does not fit the file, or a Range the server
             * cannot serve (416): what is kept cannot be continued. */
            why = "the server's answer does not continue the kept bytes";
            if (!restart(&s)) {
                prog_error(&c->prog, "%s: %s", inc, strerror(s.err));
                goto out;
            }
        }
        fails = s.off > before ? 1 : fails + 1;
        if (fails > 5) {
            prog_error(&c->prog, "%s: giving up after %d failed attempts (%s); %lld bytes kept in "
                       "%s, the same chord pull resumes", label, fails, why, (long long)s.off, inc);
            goto out;
        }
        double wait = (double)(1 << (fails - 1));
        prog_note(&c->prog, "%s: transfer failed at %lld of %lld bytes (%s); retrying in %.0f s",
                  label, (long long)s.off, (long long)s.size, why, wait);
        nap(c, wait);
        if (*c->stop) {
            prog_error(&c->prog, "interrupted: %lld bytes of %s kept in %s", (long long)s.off,
                       label, inc);
            goto out;
        }
    }

    if (s.off != s.size) {
        prog_error(&c->prog, "%s: too many failed attempts; %lld bytes kept in %s",
                   label, (long long)s.off, inc);
        goto out;
    }
    if (s.hash) {
        char got[2 * EVP_MAX_MD_SIZE + 1];
        hash_hex(&h, got);
        if (strcmp(got, want_oid)) {
            unlink(inc);
            prog_error(&c->prog, "%s: %s mismatch (expected %s, got %s): the download is corrupt "
                       "and was deleted", label, lfs ? "sha256" : "git blob id", want_oid, got);
            goto out;
        }
    }
    /* The data must be on disk before the name says it is whole. */
    if (fsync(fd) != 0 || rename(inc, dest) != 0) {
        prog_error(&c->prog, "finishing %s: %s", dest, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    /* A failure before the first byte leaves nothing worth resuming. */
    if (rc && fstat(fd, &st) == 0 && st.st_size == 0)
        unlink(inc);
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

/* ---- the hub cache -------------------------------------------------------- */

/* snapshots/COMMIT/PATH -> ../../blobs/OID (one more ../ per folder in
 * PATH), made under a temporary name and renamed over the old link, so
 * the link is never missing nor half-made. */
static int make_link(pull_ctx *c, const char *link, const char *path, const char *oid)
{
    char target[1024] = "../../", dir[4096], tmp[4200];
    for (const char *s = path; (s = strchr(s, '/')); s++)
        strcat(target, "../");
    strcat(target, "blobs/");
    strcat(target, oid);
    snprintf(dir, sizeof dir, "%s", link);
    *strrchr(dir, '/') = '\0';
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", link, (long)getpid());
    unlink(tmp);
    if (!pull_mkdirs(dir, 0755) || symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        prog_error(&c->prog, "cannot link %s: %s", link, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

int64_t pull_blob_missing(const char *repodir, const hub_file *f)
{
    char blob[4096], inc[4200];
    snprintf(blob, sizeof blob, "%s/blobs/%s", repodir, f->oid);
    if (regular_of_size(blob, f->size))
        return 0;
    snprintf(inc, sizeof inc, "%s.incomplete", blob);
    struct stat st;
    if (stat(inc, &st) == 0 && st.st_size <= f->size)
        return f->size - st.st_size;
    return f->size;
}

int pull_blob(pull_ctx *c, const char *repodir, const char *commit, const hub_file *f,
              const char *url, char *link_out, size_t link_n)
{
    char blobs[4096], blob[4200];
    snprintf(blobs, sizeof blobs, "%s/blobs", repodir);
    snprintf(blob, sizeof blob, "%s/%s", blobs, f->oid);
    if (snprintf(link_out, link_n, "%s/snapshots/%s/%s", repodir, commit, f->path) >= (int)link_n) {
        prog_error(&c->prog, "%s: path too long", f->path);
        return 1;
    }
    /* Pulled before, by chord or the Hub's own tools: nothing to fetch. */
    if (regular_of_size(link_out, f->size) && regular_of_size(blob, f->size)) {
        prog_file_done(&c->prog, f->path, link_out, true);
        return 0;
    }
    bool cached = regular_of_size(blob, f->size);
    if (!cached) {
        if (!pull_mkdirs(blobs, 0755)) {
            prog_error(&c->prog, "cannot create %s: %s", blobs, strerror(errno));
            return 1;
        }
        if (download(c, blob, f->path, f->size, f->oid, f->lfs, url))
            return 1;
    }
    if (make_link(c, link_out, f->path, f->oid))
        return 1;
    prog_file_done(&c->prog, f->path, link_out, cached);
    return 0;
}

int pull_plain_url(pull_ctx *c, const char *url, const char *dir, char *path_out, size_t n)
{
    /* The file's name is the URL's last path step, without a query. */
    const char *q = url + strcspn(url, "?#");
    const char *b = q;
    while (b > url && b[-1] != '/')
        b--;
    size_t bl = (size_t)(q - b);
    if (bl < 6 || strncasecmp(q - 5, ".gguf", 5) || memchr(b, '%', bl) || (bl <= 2 && b[0] == '.')) {
        prog_error(&c->prog, "%s: not a URL of a .gguf file", url);
        return 1;
    }
    if (snprintf(path_out, n, "%s/%.*s", dir, (int)bl, b) >= (int)n) {
        prog_error(&c->prog, "path too long");
        return 1;
    }
    if (regular_of_size(path_out, -1)) {
        prog_file_done(&c->prog, path_out + strlen(dir) + 1, path_out, true);
        return 0;
    }
    if (!pull_mkdirs(dir, 0755)) {
        prog_error(&c->prog, "cannot create %s: %s", dir, strerror(errno));
        return 1;
    }
    if (download(c, path_out, path_out + strlen(dir) + 1, -1, NULL, false, url))
        return 1;
    prog_file_done(&c->prog, path_out + strlen(dir) + 1, path_out, false);
    return 0;
}
