/*
 * pull.c - `chord pull REPO[:QUANT]` and `chord pull URL`: a model from the
 * Hugging Face Hub into the hub cache (app/hfcache.h), where the Hub's own
 * tools and llama.cpp find it too and `chord -m OWNER/NAME:QUANT` loads it.
 *
 * The steps: the commit of main and its file tree (pull_repo.c), the
 * files QUANT names, a free-space check, each file into the cache
 * (pull_blob.c), then refs/main, written last so that the cache never
 * points at a snapshot with files still missing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cmd.h"
#include "hfcache.h"
#include "models.h"
#include "pull.h"

static void usage(FILE *f)
{
    fputs("usage: chord pull [--json] OWNER/NAME[:QUANT]\n"
          "       chord pull [--json] URL\n"
          "Downloads a GGUF model from the Hugging Face Hub into the hub cache\n"
          "($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), shared\n"
          "with the Hub's own tools and llama.cpp; a model already there is not\n"
          "downloaded again. Prints the model's path; run it with chord -m OWNER/NAME:QUANT.\n"
          "QUANT     the type tag in the file name (default Q4_K_M, any case), or the\n"
          "          exact FILE.gguf; a model split into -00001-of-0000N.gguf parts\n"
          "          brings every part\n"
          "URL       https://huggingface.co/OWNER/NAME/resolve/REV/FILE.gguf goes to the\n"
          "          hub cache too; any other http(s) URL of a .gguf file to\n"
          "          $XDG_CACHE_HOME/chord/models (else ~/.cache/chord/models)\n"
          "--json    progress as JSON events on stdout, one object per line: start,\n"
          "          progress, file_done, done (with path), error (with message)\n"
          "Downloads resume after a dropped connection or Ctrl-C (the same command\n"
          "continues a .incomplete file) and are checked against the Hub's sha256\n"
          "before they take their name.\n"
          "Environment: HF_ENDPOINT (instead of https://huggingface.co), HF_TOKEN (else\n"
          "the token file: $HF_TOKEN_PATH, else $HF_HOME/token, else\n"
          "~/.cache/huggingface/token) for gated and private repos.\n",
          f);
}

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The token as the Hub's tools find it: HF_TOKEN, else the file `hf auth
 * login` writes. */
static bool read_token(char *buf, size_t n)
{
    const char *v = env("HF_TOKEN");
    if (!v)
        v = env("HUGGING_FACE_HUB_TOKEN"); /* the older name */
    if (v) {
        snprintf(buf, n, "%s", v);
    } else {
        char path[4096];
        if ((v = env("HF_TOKEN_PATH")))
            snprintf(path, sizeof path, "%s", v);
        else if ((v = env("HF_HOME")))
            snprintf(path, sizeof path, "%s/token", v);
        else if ((v = env("XDG_CACHE_HOME")))
            snprintf(path, sizeof path, "%s/huggingface/token", v);
        else if ((v = env("HOME")))
            snprintf(path, sizeof path, "%s/.cache/huggingface/token", v);
        else
            return false;
        FILE *f = fopen(path, "r");
        if (!f)
            return false;
        bool ok = fgets(buf, (int)n, f) != NULL;
        fclose(f);
        if (!ok)
            return false;
    }
    /* A token is one word; a stray newline would break the header. */
    size_t l = strcspn(buf, "\r\n");
    buf[l] = '\0';
    while (l && isspace((unsigned char)buf[l - 1]))
        buf[--l] = '\0';
    return l > 0;
}

/* Escapes a repo path for a URL; '/' stays a separator. */
static void url_path(char *dst, size_t n, const char *src)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)src; *s && o + 4 < n; s++) {
        if (isalnum(*s) || strchr("-._~/", *s)) {
            dst[o++] = (char)*s;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[*s >> 4];
            dst[o++] = hex[*s & 15];
        }
    }
    dst[o] = '\0';
}

/* %XX -> byte, in place (a file name taken from a URL). */
static void url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char h[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(h, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Writes refs/main through a temporary file, so a reader never sees it
 * half written. */
static int write_ref(pull_ctx *c, const char *repodir, const char *rev, const char *commit)
{
    char dir[4200], path[4300], tmp[4400];
    snprintf(dir, sizeof dir, "%s/refs", repodir);
    snprintf(path, sizeof path, "%s/%s", dir, rev);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = pull_mkdirs(dir, 0755) ? fopen(tmp, "w") : NULL;
    /* The Hub's tools write the bare commit, no newline. */
    if (!f || fputs(commit, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        prog_error(&c->prog, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

/* Enough room for what is still to download? */
static int check_space(pull_ctx *c, const char *dir, int64_t need)
{
    struct statvfs vfs;
    if (need <= 0 || statvfs(dir, &vfs) != 0)
        return 0;
    int64_t avail = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    if (need > avail) {
        prog_error(&c->prog, "not enough free disk space in %s: the download needs %.1f MiB, "
                   "%.1f MiB are free", dir, (double)need / (1 << 20), (double)avail / (1 << 20));
        return 1;
    }
    return 0;
}

/* REPO at rev: the files for quant into the hub cache. */
static int pull_repo(pull_ctx *c, const char *repo, const char *rev, const char *quant)
{
    char root[2048], dname[512], repodir[4096];
    if (!hfc_root(root, sizeof root)) {
        prog_error(&c->prog, "no hub cache: set HF_HUB_CACHE, HF_HOME or HOME");
        return EXIT_FAIL;
    }
    hfc_repo_dirname(repo, dname, sizeof dname);
    snprintf(repodir, sizeof repodir, "%s/%s", root, dname);
    c->repo = repo;

    hub_tree t;
    bool offline = false;
    if (pull_fetch_tree(c, repo, rev, &t, &offline)) {
        char path[4096];
        /* Without the Hub, a model already cached is still a model. */
        if (offline && !strcmp(rev, "main") && hfc_resolve(repo, quant, path, sizeof path) == 0) {
            prog_note(&c->prog, "offline: using the cached %s", path);
            prog_done(&c->prog, path, NULL);
            pull_tree_free(&t);
            return EXIT_OK;
        }
        pull_tree_free(&t);
        return EXIT_FAIL;
    }
    size_t *idx = NULL;
    size_t n = pull_choose(c, &t, repo, quant, &idx);
    int rc = EXIT_FAIL;
    if (!n)
        goto out;
    if (!pull_mkdirs(repodir, 0755)) {
        prog_error(&c->prog, "cannot create %s: %s", repodir, strerror(errno));
        goto out;
    }
    int64_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += pull_blob_missing(repodir, &t.files[idx[i]]);
    if (check_space(c, repodir, need))
        goto out;

    char first[4096] = "";
    for (size_t i = 0; i < n; i++) {
        const hub_file *f = &t.files[idx[i]];
        char url[8192], esc[4096], link[4096];
        url_path(esc, sizeof esc, f->path);
        snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", c->endpoint, repo, t.commit, esc);
        if (pull_blob(c, repodir, t.commit, f, url, link, sizeof link))
            goto out;
        if (!i)
            snprintf(first, sizeof first, "%s", link);
    }
    /* A branch's ref names the snapshot just completed; a commit asked for
     * by id has no ref to move. */
    if (strcmp(rev, t.commit) && !strchr(rev, '/') && write_ref(c, repodir, rev, t.commit))
        goto out;

    char model[1024], q[256];
    snprintf(q, sizeof q, "%s", quant);
    if (strcasecmp(q + strlen(q) - (strlen(q) > 5 ? 5 : 0), ".gguf"))
        for (char *s = q; *s; s++)
            *s = (char)toupper((unsigned char)*s);
    snprintf(model, sizeof model, "%s:%s", repo, q);
    prog_done(&c->prog, first, strcmp(rev, "main") ? NULL : model);
    rc = EXIT_OK;
out:
    free(idx);
    pull_tree_free(&t);
    return rc;
}

/* Is url a file on the Hub (ENDPOINT/OWNER/NAME/resolve|blob/REV/PATH)?
 * Fills repo, rev and the file's path. */
static bool parse_hub_url(const pull_ctx *c, const char *url, char *repo, char *rev, char *file,
                          size_t n)
{
    const char *bases[] = {c->endpoint, "https://huggingface.co", "https://hf.co"};
    const char *rest = NULL;
    for (int i = 0; i < 3 && !rest; i++) {
        size_t bl = strlen(bases[i]);
        if (!strncmp(url, bases[i], bl) && url[bl] == '/')
            rest = url + bl + 1;
    }
    if (!rest)
        return false;
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)strcspn(rest, "?#"), rest);
    char *owner = strtok(buf, "/"), *name = strtok(NULL, "/"), *kind = strtok(NULL, "/");
    char *r = strtok(NULL, "/"), *path = strtok(NULL, "");
    if (!owner || !name || !kind || !r || !path ||
        (strcmp(kind, "resolve") && strcmp(kind, "blob")))
        return false;
    snprintf(repo, n, "%s/%s", owner, name);
    snprintf(rev, n, "%s", r);
    snprintf(file, n, "%s", path);
    url_decode(rev);
    url_decode(file);
    char d[512];
    return hfc_repo_dirname(repo, d, sizeof d);
}

static int pull_url(pull_ctx *c, const char *url)
{
    char repo[1024], rev[1024], file[1024];
    if (parse_hub_url(c, url, repo, rev, file, sizeof repo)) {
        size_t l = strlen(file);
        if (l < 6 || strcasecmp(file + l - 5, ".gguf")) {
            prog_error(&c->prog, "%s: not a .gguf file", file);
            return EXIT_FAIL;
        }
        return pull_repo(c, repo, rev, file);
    }
    /* Elsewhere: no tree, no checksum; a folder of chord's own. */
    char dir[4096], path[4200];
    if (!models_chord_dir(dir, sizeof dir)) {
        prog_error(&c->prog, "no cache folder: set XDG_CACHE_HOME or HOME");
        return EXIT_FAIL;
    }
    if (pull_plain_url(c, url, dir, path, sizeof path))
        return EXIT_FAIL;
    prog_done(&c->prog, path, NULL);
    return EXIT_OK;
}

int cmd_pull(int argc, char **argv)
{
    bool json = false;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' || spec) {
            app_error(argv[i][0] == '-' ? "pull: unknown option '%s'" : "pull: one model at a "
                      "time ('%s')", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        } else {
            spec = argv[i];
        }
    }
    if (!spec) {
        usage(stderr);
        return EXIT_USAGE;
    }

    pull_ctx c = {.stop = &stop_flag};
    prog_init(&c.prog, json);
    const char *ep = env("HF_ENDPOINT");
    snprintf(c.endpoint, sizeof c.endpoint, "%s", ep ? ep : "https://huggingface.co");
    for (size_t l = strlen(c.endpoint); l && c.endpoint[l - 1] == '/';)
        c.endpoint[--l] = '\0';

    /* The spec first: a usage error needs no network. */
    bool is_url = !strncmp(spec, "https://", 8) || !strncmp(spec, "http://", 7);
    char repo[512], quant[512] = "Q4_K_M";
    if (!is_url) {
        const char *s = spec;
        /* ollama's and llama.cpp's spelling of a Hub repo. */
        if (!strncmp(s, "hf.co/", 6))
            s += 6;
        else if (!strncmp(s, "huggingface.co/", 15))
            s += 15;
        size_t rl = strcspn(s, ":");
        snprintf(repo, sizeof repo, "%.*s", (int)rl, s);
        if (s[rl] == ':')
            snprintf(quant, sizeof quant, "%s", s + rl + 1);
        char d[512];
        if (!hfc_repo_dirname(repo, d, sizeof d) || !*quant) {
            app_error("pull: '%s' is not OWNER/NAME[:QUANT] nor an http(s) URL", spec);
            return EXIT_USAGE;
        }
    }

    char token[2048];
    c.have_token = read_token(token, sizeof token);
    c.http = hub_open(c.have_token ? token : NULL, &stop_flag);
    if (!c.http) {
        prog_error(&c.prog, "cannot start libcurl");
        return EXIT_FAIL;
    }
    /* Ctrl-C stops the transfer between two reads, keeps the .incomplete
     * file and says how to resume; a second Ctrl-C kills as usual. */
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = (int)SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = is_url ? pull_url(&c, spec) : pull_repo(&c, repo, "main", quant);
    hub_close(c.http);
    return rc;
}
