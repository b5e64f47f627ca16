/*
 * models.c - the models chord can see and the names -m takes (see models.h).
 */
#include "models.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cmd.h"
#include "config.h"
#include "hfcache.h"

#define PATH_CAP 4096

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool fmt_ok(int r, size_t n)
{
    return r > 0 && (size_t)r < n;
}

const char *models_source_name(models_source s)
{
    switch (s) {
    case MODELS_HF: return "hf";
    case MODELS_LLAMACPP: return "llama.cpp";
    case MODELS_OLLAMA: return "ollama";
    case MODELS_DIR: return "dir";
    case MODELS_CHORD: return "chord";
    }
    return "?";
}

void models_fmt_params(int64_t n, char *buf, size_t cap)
{
    /* two or three significant digits, as model cards say "1.5B", "494M" */
    static const struct { double div; const char *unit; } u[] = {{1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
    for (int i = 0; i < 3; i++)
        if ((double)n >= u[i].div) {
            double v = (double)n / u[i].div;
            snprintf(buf, cap, v < 10 ? "%.1f%s" : "%.0f%s", v, u[i].unit);
            return;
        }
    snprintf(buf, cap, "%lld", (long long)n);
}

void models_fmt_bytes(int64_t n, char *buf, size_t cap)
{
    double mib = (double)n / (1024.0 * 1024);
    if (mib >= 1024)
        snprintf(buf, cap, "%.2f GiB", mib / 1024);
    else
        snprintf(buf, cap, "%.1f MiB", mib);
}

/* ---- where the stores are ------------------------------------------------ */

static bool llamacpp_dir(char *buf, size_t n)
{
    const char *v;
    if ((v = env("LLAMA_CACHE")))
        return fmt_ok(snprintf(buf, n, "%s", v), n);
    if ((v = env("XDG_CACHE_HOME")))
        return fmt_ok(snprintf(buf, n, "%s/llama.cpp", v), n);
    if ((v = env("HOME")))
        return fmt_ok(snprintf(buf, n, "%s/.cache/llama.cpp", v), n);
    return false;
}

/* Where `chord pull URL` puts a file that is not on the Hub. */
bool models_chord_dir(char *buf, size_t n)
{
    const char *v;
    if ((v = env("XDG_CACHE_HOME")))
        return fmt_ok(snprintf(buf, n, "%s/chord/models", v), n);
    if ((v = env("HOME")))
        return fmt_ok(snprintf(buf, n, "%s/.cache/chord/models", v), n);
    return false;
}

static bool ollama_dir(char *buf, size_t n)
{
    const char *v;
    if ((v = env("OLLAMA_MODELS")))
        return fmt_ok(snprintf(buf, n, "%s", v), n);
    if ((v = env("HOME")))
        return fmt_ok(snprintf(buf, n, "%s/.ollama/models", v), n);
    return false;
}

/* The config file's model-dirs, or NULL. */
static const char *model_dirs(void)
{
    const config_entry *e = config_find(config_load(), "model-dirs");
    return e ? e->value : NULL;
}

/* Calls fn on each folder of model-dirs ("~/" expanded). */
static void each_model_dir(void (*fn)(const char *dir, void *arg), void *arg)
{
    const char *s = model_dirs();
    while (s && *s) {
        size_t l = strcspn(s, ":,");
        const char *home = env("HOME");
        char dir[PATH_CAP];
        bool ok = l > 0;
        if (ok && s[0] == '~' && (l == 1 || s[1] == '/') && home)
            ok = fmt_ok(snprintf(dir, sizeof dir, "%s%.*s", home, (int)l - 1, s + 1), sizeof dir);
        else if (ok)
            ok = fmt_ok(snprintf(dir, sizeof dir, "%.*s", (int)l, s), sizeof dir);
        if (ok)
            fn(dir, arg);
        s += l;
        if (*s)
            s++;
    }
}

static void print_dir(const char *dir, void *arg)
{
    fprintf((FILE *)arg, "  dir        %s\n", dir);
}

void models_print_sources(FILE *f)
{
    char p[PATH_CAP];
    fprintf(f, "  hf         %s\n", hfc_root(p, sizeof p) ? p : "(no HOME, HF_HOME nor HF_HUB_CACHE)");
    fprintf(f, "  llama.cpp  %s\n", llamacpp_dir(p, sizeof p) ? p : "(no HOME nor LLAMA_CACHE)");
    fprintf(f, "  ollama     %s\n", ollama_dir(p, sizeof p) ? p : "(no HOME nor OLLAMA_MODELS)");
    fprintf(f, "  chord      %s\n", models_chord_dir(p, sizeof p) ? p : "(no HOME nor XDG_CACHE_HOME)");
    each_model_dir(print_dir, f);
}

/* ---- the list ------------------------------------------------------------ */

typedef struct scan {
    models_list *out;
    int cap;
    bool oom;
    char **seen;        /* real paths of the files listed, for duplicates */
    int n_seen, cap_seen;
} scan;

static bool ends_with_gguf(const char *name)
{
    size_t l = strlen(name);
    return l > 5 && !strcasecmp(name + l - 5, ".gguf");
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The file name without ".gguf" and a split suffix "-00001-of-00003". */
static void stem(const char *path, char *buf, size_t n)
{
    const char *b = base_name(path);
    size_t l = strlen(b);
    if (hfc_split_part(b, NULL, NULL))
        l -= sizeof "-00001-of-00003.gguf" - 1;
    else if (ends_with_gguf(b))
        l -= 5;
    snprintf(buf, n, "%.*s", (int)l, b);
}

/* A quantization tag word: Q4_K_M, IQ4_XS, Q8_0, F16, BF16, F32, TQ1_0,
 * MXFP4... (letters, digits and '_', with a digit early on). */
static bool is_quant_word(const char *w, size_t l)
{
    static const char *const prefixes[] = {"Q", "IQ", "TQ", "F", "FP", "BF", "MXFP"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (l <= pl || strncasecmp(w, prefixes[i], pl) || !isdigit((unsigned char)w[pl]))
            continue;
        for (size_t k = pl; k < l; k++)
            if (!isalnum((unsigned char)w[k]) && w[k] != '_')
                return false;
        return true;
    }
    return false;
}

/* The type tag of a file name, upper-cased ("qwen2.5-0.5b-instruct-q4_k_m"
 * -> "Q4_K_M"): its last word that looks like one, words being separated
 * by '-' and '.'. The whole stem when there is none. */
static void quant_tag(const char *path, char *buf, size_t n)
{
    char s[1024];
    stem(path, s, sizeof s);
    const char *best = NULL;
    size_t best_l = 0;
    for (const char *p = s; *p;) {
        size_t l = strcspn(p, "-.");
        if (l && is_quant_word(p, l)) {
            best = p;
            best_l = l;
        }
        p += l;
        if (*p)
            p++;
    }
    if (!best) {
        snprintf(buf, n, "%s", s);
        return;
    }
    snprintf(buf, n, "%.*s", (int)best_l, best);
    for (char *c = buf; *c; c++)
        *c = (char)toupper((unsigned char)*c);
}

static bool seen_before(scan *sc, const char *path)
{
    char *rp = realpath(path, NULL);
    if (!rp)
        return false;
    for (int i = 0; i < sc->n_seen; i++)
        if (!strcmp(sc->seen[i], rp)) {
            free(rp);
            return true;
        }
    if (sc->n_seen == sc->cap_seen) {
        int cap = sc->cap_seen ? sc->cap_seen * 2 : 16;
        char **v = realloc(sc->seen, (size_t)cap * sizeof *v);
        if (!v) {
            free(rp);
            sc->oom = true;
            return false;
        }
        sc->seen = v;
        sc->cap_seen = cap;
    }
    sc->seen[sc->n_seen++] = rp;
    return false;
}

/* Reads the model's header into e (the file's size even when unreadable). */
static void summarize(models_entry *e, const char *path)
{
    chord_gguf_summary s;
    chord_err err;
    struct stat st;
    if (chord_gguf_summarize(path, &s, &err) != CHORD_OK) {
        if (stat(path, &st) == 0)
            e->bytes += st.st_size;
        /* the path is in its own column */
        size_t pl = strlen(path);
        const char *msg = err.msg;
        if (!strncmp(msg, path, pl) && msg[pl] == ':' && msg[pl + 1] == ' ')
            msg += pl + 2;
        if (!e->error)
            e->error = strdup(msg);
        return;
    }
    e->bytes = s.file_bytes;
    e->n_params = s.n_params;
    snprintf(e->arch, sizeof e->arch, "%s", s.arch);
    snprintf(e->type_name, sizeof e->type_name, "%s", s.type_name);
}

/* Adds the model whose (first) file is path; a split model's missing part
 * is its error. */
static models_entry *add(scan *sc, models_source src, const char *name, const char *path)
{
    if (seen_before(sc, path))
        return NULL;
    models_list *l = sc->out;
    if (l->n == sc->cap) {
        int cap = sc->cap ? sc->cap * 2 : 16;
        models_entry *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            sc->oom = true;
            return NULL;
        }
        l->v = v;
        sc->cap = cap;
    }
    models_entry *e = &l->v[l->n];
    memset(e, 0, sizeof *e);
    e->src = src;
    e->name = strdup(name);
    e->path = strdup(path);
    if (!e->name || !e->path) {
        free(e->name);
        free(e->path);
        sc->oom = true;
        return NULL;
    }
    l->n++;
    e->n_parts = 1;
    summarize(e, path);
    /* the reader opens a split model whole, so its sizes cover every part;
     * the parts are counted here, and measured when the reader failed */
    int part, count;
    if (hfc_split_part(base_name(path), &part, &count) && part == 1) {
        size_t pl = strlen(path) - (sizeof "00001-of-00003.gguf" - 1);
        for (int p = 2; p <= count; p++) {
            char pp[PATH_CAP];
            struct stat st;
            if (!fmt_ok(snprintf(pp, sizeof pp, "%.*s%05d-of-%05d.gguf", (int)pl, path, p, count), sizeof pp))
                continue;
            if (stat(pp, &st) != 0) {
                if (!e->error) {
                    char msg[PATH_CAP + 64];
                    snprintf(msg, sizeof msg, "part %d of %d is missing (%s)", p, count, base_name(pp));
                    e->error = strdup(msg);
                }
                continue;
            }
            e->n_parts++;
            if (e->error)
                e->bytes += st.st_size;
        }
    }
    return e;
}

/* Is this file a model of its own: a GGUF, not a projector, and not a
 * second or later part of a split model (those ride with the first)? */
static bool is_model_file(const char *name)
{
    int part;
    if (!ends_with_gguf(name) || !strncasecmp(name, "mmproj", 6) || name[0] == '.')
        return false;
    return !hfc_split_part(name, &part, NULL) || part == 1;
}

typedef void (*file_fn)(scan *sc, const char *path, const char *rel, void *arg);

/* Every model file under dir (rel is its path below root), symlinks
 * followed, to depth levels of subfolders. */
static void walk(scan *sc, const char *root, const char *rel, int depth, file_fn fn, void *arg)
{
    char dir[PATH_CAP];
    if (!fmt_ok(snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel), sizeof dir))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char r[PATH_CAP], full[PATH_CAP];
        struct stat st;
        if (!fmt_ok(snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", de->d_name), sizeof r) ||
            !fmt_ok(snprintf(full, sizeof full, "%s/%s", root, r), sizeof full) || stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0)
                walk(sc, root, r, depth - 1, fn, arg);
        } else if (S_ISREG(st.st_mode) && is_model_file(de->d_name)) {
            fn(sc, full, r, arg);
        }
    }
    closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
    const models_entry *x = a, *y = b;
    if (x->src != y->src)
        return (int)x->src - (int)y->src;
    int c = strcasecmp(x->name, y->name);
    return c ? c : strcmp(x->path, y->path);
}

/* -- the hub layout -- */

typedef struct hub_repo {
    const char *repo, *repo_dir;
    models_source src;
    int first;          /* index of the repo's first entry */
} hub_repo;

static void hub_file(scan *sc, const char *path, const char *rel, void *arg)
{
    hub_repo *h = arg;
    char tag[1024], name[1600];
    quant_tag(rel, tag, sizeof tag);
    snprintf(name, sizeof name, "%s:%s", h->repo, tag);
    models_entry *e = add(sc, h->src, name, path);
    if (e) {
        e->repo = strdup(h->repo);
        e->repo_dir = strdup(h->repo_dir);
        if (!e->repo || !e->repo_dir)
            sc->oom = true;
    }
}

static bool read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\r\n \t")] = '\0';
    return ok && *buf;
}

/* The repos of a hub-layout root: each models--OWNER--NAME's refs/main
 * snapshot. */
static void scan_hub(scan *sc, const char *root, models_source src)
{
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "models--", 8))
            continue;
        const char *owner = de->d_name + 8, *sep = strstr(owner, "--");
        if (!sep || sep == owner || !sep[2])
            continue;
        char repo[512], repo_dir[PATH_CAP], ref[PATH_CAP], commit[256], snap[PATH_CAP];
        if (!fmt_ok(snprintf(repo, sizeof repo, "%.*s/%s", (int)(sep - owner), owner, sep + 2), sizeof repo) ||
            !fmt_ok(snprintf(repo_dir, sizeof repo_dir, "%s/%s", root, de->d_name), sizeof repo_dir) ||
            !fmt_ok(snprintf(ref, sizeof ref, "%s/refs/main", repo_dir), sizeof ref) ||
            !read_line(ref, commit, sizeof commit) || strchr(commit, '/') || commit[0] == '.' ||
            !fmt_ok(snprintf(snap, sizeof snap, "%s/snapshots/%s", repo_dir, commit), sizeof snap))
            continue;
        hub_repo h = {repo, repo_dir, src, sc->out->n};
        walk(sc, snap, "", 4, hub_file, &h);
        /* two files with one tag (a repo of several models): name them by
         * their file names instead, which still resolve through the list */
        models_list *l = sc->out;
        for (int i = h.first; i < l->n; i++) {
            bool dup = false;
            for (int j = h.first; j < l->n; j++)
                dup |= j != i && !strcasecmp(l->v[i].name, l->v[j].name);
            if (!dup)
                continue;
            char s[1024], name[1600];
            stem(l->v[i].path, s, sizeof s);
            snprintf(name, sizeof name, "%s:%s", repo, s);
            char *nn = strdup(name);
            if (nn) {
                free(l->v[i].name);
                l->v[i].name = nn;
            }
        }
    }
    closedir(d);
}

/* -- llama.cpp's cache and model-dirs: plain files -- */

static void plain_file(scan *sc, const char *path, const char *rel, void *arg)
{
    char s[1024];
    stem(path, s, sizeof s);
    add(sc, *(const models_source *)arg, s, path);
}

static void scan_dir(const char *dir, void *arg)
{
    static const models_source src = MODELS_DIR;
    walk(arg, dir, "", 4, plain_file, (void *)&src);
}

/* -- ollama -- */

static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The model blob a manifest names, into blob; false with why. */
static bool ollama_blob(const char *root, const char *manifest, char *blob, size_t n, char *why, size_t wn)
{
    size_t len;
    char *text = slurp(manifest, 1 << 20, &len);
    if (!text) {
        snprintf(why, wn, "cannot read the manifest %s", manifest);
        return false;
    }
    chord_err err;
    chord_json *j = chord_json_parse(text, len, &err);
    free(text);
    if (!j) {
        snprintf(why, wn, "manifest %s: %s", manifest, err.msg);
        return false;
    }
    const chord_json *layers = chord_json_get(j, "layers");
    const char *digest = NULL;
    for (size_t i = 0; layers && layers->type == CHORD_JSON_ARRAY && i < layers->len; i++) {
        const chord_json *l = chord_json_at(layers, i);
        const chord_json *mt = chord_json_get(l, "mediaType"), *dg = chord_json_get(l, "digest");
        if (mt && mt->type == CHORD_JSON_STRING && dg && dg->type == CHORD_JSON_STRING &&
            !strcmp(mt->string, "application/vnd.ollama.image.model")) {
            digest = dg->string;
            break;
        }
    }
    bool ok = false;
    if (!digest) {
        snprintf(why, wn, "manifest %s names no model layer", manifest);
    } else if (strncmp(digest, "sha256:", 7) || strlen(digest) != 7 + 64 ||
               strspn(digest + 7, "0123456789abcdef") != 64) {
        snprintf(why, wn, "manifest %s: odd digest '%.80s'", manifest, digest);
    } else if (!fmt_ok(snprintf(blob, n, "%s/blobs/sha256-%s", root, digest + 7), n)) {
        snprintf(why, wn, "path too long");
    } else {
        ok = true;
    }
    chord_json_free(j);
    return ok;
}

/* ollama's display name of manifests/HOST/NS/NAME/TAG. */
static void ollama_name(const char *host, const char *ns, const char *name, const char *tag,
                        char *buf, size_t n)
{
    if (strcmp(host, "registry.ollama.ai"))
        snprintf(buf, n, "ollama:%s/%s/%s:%s", host, ns, name, tag);
    else if (strcmp(ns, "library"))
        snprintf(buf, n, "ollama:%s/%s:%s", ns, name, tag);
    else
        snprintf(buf, n, "ollama:%s:%s", name, tag);
}

/* The names of the subfolders (dirs = true) or files of dir, sorted. */
static int list_dir(const char *dir, bool dirs, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char full[PATH_CAP];
        struct stat st;
        if (de->d_name[0] == '.' || !fmt_ok(snprintf(full, sizeof full, "%s/%s", dir, de->d_name), sizeof full) ||
            stat(full, &st) != 0 || (dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **v = realloc(*out, (size_t)cap * sizeof *v);
            if (!v)
                break;
            *out = v;
        }
        if (!((*out)[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && strcmp((*out)[k - 1], (*out)[k]) > 0; k--) {
            char *t = (*out)[k];
            (*out)[k] = (*out)[k - 1];
            (*out)[k - 1] = t;
        }
    return n;
}

static void free_names(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void add_ollama(scan *sc, const char *root, const char *manifest, const char *name)
{
    char blob[PATH_CAP], why[PATH_CAP + 200];
    if (ollama_blob(root, manifest, blob, sizeof blob, why, sizeof why)) {
        struct stat st;
        if (stat(blob, &st) == 0) {
            add(sc, MODELS_OLLAMA, name, blob);
            return;
        }
        snprintf(why, sizeof why, "blob %s is missing", base_name(blob));
    }
    /* listed with its problem: the manifest is what the user would look at */
    models_entry *e = add(sc, MODELS_OLLAMA, name, manifest);
    if (e) {
        free(e->error);
        e->error = strdup(why);
        e->arch[0] = e->type_name[0] = '\0';
        e->n_params = e->bytes = 0;
    }
}

static void scan_ollama(scan *sc, const char *root)
{
    char mdir[PATH_CAP];
    if (!fmt_ok(snprintf(mdir, sizeof mdir, "%s/manifests", root), sizeof mdir))
        return;
    char **hosts, **nss, **names, **tags;
    int nh = list_dir(mdir, true, &hosts);
    for (int a = 0; a < nh; a++) {
        char p1[PATH_CAP];
        if (!fmt_ok(snprintf(p1, sizeof p1, "%s/%s", mdir, hosts[a]), sizeof p1))
            continue;
        int nn = list_dir(p1, true, &nss);
        for (int b = 0; b < nn; b++) {
            char p2[PATH_CAP];
            if (!fmt_ok(snprintf(p2, sizeof p2, "%s/%s", p1, nss[b]), sizeof p2))
                continue;
            int nm = list_dir(p2, true, &names);
            for (int c = 0; c < nm; c++) {
                char p3[PATH_CAP];
                if (!fmt_ok(snprintf(p3, sizeof p3, "%s/%s", p2, names[c]), sizeof p3))
                    continue;
                int nt = list_dir(p3, false, &tags);
                for (int t = 0; t < nt; t++) {
                    char man[PATH_CAP], name[1024];
                    if (!fmt_ok(snprintf(man, sizeof man, "%s/%s", p3, tags[t]), sizeof man))
                        continue;
                    ollama_name(hosts[a], nss[b], names[c], tags[t], name, sizeof name);
                    add_ollama(sc, root, man, name);
                }
                free_names(tags, nt);
            }
            free_names(names, nm);
        }
        free_names(nss, nn);
    }
    free_names(hosts, nh);
}

bool models_scan(models_list *out)
{
    memset(out, 0, sizeof *out);
    scan sc = {.out = out};
    char p[PATH_CAP];
    if (hfc_root(p, sizeof p))
        scan_hub(&sc, p, MODELS_HF);
    if (llamacpp_dir(p, sizeof p)) {
        static const models_source src = MODELS_LLAMACPP;
        walk(&sc, p, "", 0, plain_file, (void *)&src);
        scan_hub(&sc, p, MODELS_LLAMACPP);
    }
    if (ollama_dir(p, sizeof p))
        scan_ollama(&sc, p);
    if (models_chord_dir(p, sizeof p)) {
        static const models_source src = MODELS_CHORD;
        walk(&sc, p, "", 0, plain_file, (void *)&src);
    }
    each_model_dir(scan_dir, &sc);
    for (int i = 0; i < sc.n_seen; i++)
        free(sc.seen[i]);
    free(sc.seen);
    if (out->n)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_entry);
    return !sc.oom;
}

void models_list_free(models_list *l)
{
    for (int i = 0; i < l->n; i++) {
        models_entry *e = &l->v[i];
        free(e->name);
        free(e->path);
        free(e->repo);
        free(e->repo_dir);
        free(e->error);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- resolving -m -------------------------------------------------------- */

static int copy_out(const char *path, char *buf, size_t n)
{
    if (!fmt_ok(snprintf(buf, n, "%s", path), n)) {
        app_error("%s: path too long", path);
        return EXIT_FAIL;
    }
    return 0;
}

/* ollama:NAME[:TAG] -> manifests/HOST/NS/NAME/TAG. */
static int resolve_ollama(const char *spec, char *buf, size_t n)
{
    const char *s = spec + 7;
    char name[512], tag[256] = "latest";
    const char *colon = strrchr(s, ':');
    if (colon && strchr(colon, '/'))
        colon = NULL;
    snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
    if (colon && colon[1])
        snprintf(tag, sizeof tag, "%s", colon + 1);
    /* NAME, NS/NAME or HOST/NS/NAME, as ollama spells them */
    const char *part[3];
    size_t plen[3];
    int np = 0;
    bool ok = *name != '\0';
    for (const char *p = name; ok && *p;) {
        size_t l = strcspn(p, "/");
        if (np == 3 || l == 0 || (p[0] == '.' && (l == 1 || (l == 2 && p[1] == '.'))))
            ok = false;
        else {
            part[np] = p;
            plen[np++] = l;
        }
        p += l;
        if (*p)
            p++;
    }
    if (!ok || strchr(tag, '/') || tag[0] == '.') {
        app_error("%s: expected ollama:NAME[:TAG]", spec);
        return EXIT_USAGE;
    }
    char root[PATH_CAP], man[PATH_CAP], blob[PATH_CAP], why[PATH_CAP + 200];
    if (!ollama_dir(root, sizeof root)) {
        app_error("%s: no ollama store (set OLLAMA_MODELS or HOME)", spec);
        return EXIT_FAIL;
    }
    int r;
    if (np == 1)
        r = snprintf(man, sizeof man, "%s/manifests/registry.ollama.ai/library/%.*s/%s", root,
                     (int)plen[0], part[0], tag);
    else if (np == 2)
        r = snprintf(man, sizeof man, "%s/manifests/registry.ollama.ai/%.*s/%.*s/%s", root,
                     (int)plen[0], part[0], (int)plen[1], part[1], tag);
    else
        r = snprintf(man, sizeof man, "%s/manifests/%.*s/%.*s/%.*s/%s", root, (int)plen[0], part[0],
                     (int)plen[1], part[1], (int)plen[2], part[2], tag);
    struct stat st;
    if (!fmt_ok(r, sizeof man) || stat(man, &st) != 0) {
        app_error("ollama:%s:%s is not in ollama's store (%s); run: ollama pull %s:%s", name, tag, root,
                  name, tag);
        return EXIT_FAIL;
    }
    if (!ollama_blob(root, man, blob, sizeof blob, why, sizeof why)) {
        app_error("ollama:%s:%s: %s", name, tag, why);
        return EXIT_FAIL;
    }
    if (stat(blob, &st) != 0) {
        app_error("ollama:%s:%s: its model blob %s is missing (run: ollama pull %s:%s)", name, tag, blob,
                  name, tag);
        return EXIT_FAIL;
    }
    return copy_out(blob, buf, n);
}

/* The listed model named exactly spec (case-insensitive), else the one
 * whose name contains it. 0, or an exit code after printing. */
static int resolve_listed(const char *spec, bool as_path, char *buf, size_t n)
{
    models_list l;
    if (!models_scan(&l)) {
        models_list_free(&l);
        app_error("out of memory listing the models");
        return EXIT_FAIL;
    }
    int hit = -1, n_hits = 0;
    for (int i = 0; i < l.n && hit < 0; i++)
        if (!strcasecmp(l.v[i].name, spec))
            hit = i;
    if (hit < 0)
        for (int i = 0; i < l.n; i++)
            if (strcasestr(l.v[i].name, spec)) {
                if (!n_hits++)
                    hit = i;
            }
    int rc = 0;
    if (hit >= 0 && n_hits <= 1) {
        rc = copy_out(l.v[hit].path, buf, n);
    } else if (n_hits > 1) {
        app_error("'%s' matches %d models; name one of them:", spec, n_hits);
        for (int i = 0; i < l.n; i++)
            if (strcasestr(l.v[i].name, spec))
                fprintf(stderr, "  %s\n", l.v[i].name);
        rc = EXIT_FAIL;
    } else if (as_path) {
        app_error("%s: no such file, and no model by that name (chord models lists them)", spec);
        rc = EXIT_FAIL;
    } else {
        app_error("no model matches '%s' (chord models lists them; chord pull OWNER/NAME:QUANT gets one)",
                  spec);
        rc = EXIT_FAIL;
    }
    models_list_free(&l);
    return rc;
}

int models_resolve(const char *spec, char *buf, size_t n)
{
    struct stat st;
    if (!spec || !*spec) {
        app_error("-m: empty model name");
        return EXIT_USAGE;
    }
    if (stat(spec, &st) == 0)
        return copy_out(spec, buf, n);
    if (!strncmp(spec, "ollama:", 7))
        return resolve_ollama(spec, buf, n);

    /* OWNER/NAME[:QUANT], unless it reads as a path (a missing file) */
    bool pathlike = spec[0] == '/' || spec[0] == '.' || spec[0] == '~' || ends_with_gguf(spec);
    const char *colon = strchr(spec, ':');
    char repo[512], dname[600];
    if (!pathlike && strchr(spec, '/') &&
        fmt_ok(snprintf(repo, sizeof repo, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec),
               sizeof repo) &&
        hfc_repo_dirname(repo, dname, sizeof dname)) {
        const char *quant = colon && colon[1] ? colon + 1 : "Q4_K_M";
        char found[PATH_CAP];
        int r = hfc_resolve(repo, quant, found, sizeof found);
        if (r == 0)
            return copy_out(found, buf, n);
        if (r == 2) {
            app_error("%s: several cached files carry %s (%s); chord models lists their names", repo, quant,
                      found);
            return EXIT_FAIL;
        }
        /* llama.cpp's cache has the repo too: in the hub layout (newer
         * llama.cpp), or as OWNER_NAME_FILE.gguf (older llama.cpp's -hf) */
        models_list l;
        int rc = -1;
        char full[1200], flat[600];
        snprintf(full, sizeof full, "%s:%s", repo, quant);
        snprintf(flat, sizeof flat, "%s_", repo);
        *strchr(flat, '/') = '_';
        if (models_scan(&l)) {
            for (int i = 0; i < l.n && rc < 0; i++)
                if (!strcasecmp(l.v[i].name, full))
                    rc = copy_out(l.v[i].path, buf, n);
            for (int i = 0; i < l.n && rc < 0; i++)
                if (l.v[i].src == MODELS_LLAMACPP && !l.v[i].repo &&
                    !strncasecmp(l.v[i].name, flat, strlen(flat)) &&
                    hfc_name_has_quant(l.v[i].name + strlen(flat), quant))
                    rc = copy_out(l.v[i].path, buf, n);
        }
        models_list_free(&l);
        if (rc >= 0)
            return rc;
        app_error("%s:%s is not downloaded; run: chord pull %s:%s", repo, quant, repo, quant);
        return EXIT_FAIL;
    }
    if (pathlike) {
        /* no listed name starts with '/', '.' or '~' or ends in .gguf */
        app_error("%s: no such file", spec);
        return EXIT_FAIL;
    }
    return resolve_listed(spec, strchr(spec, '/') != NULL, buf, n);
}

int models_resolve_arg(const char **model)
{
    static char path[PATH_CAP];
    /* a broken config file fails every command that takes -m alike */
    if (!config_load())
        return EXIT_USAGE;
    int rc = models_resolve(*model, path, sizeof path);
    if (!rc)
        *model = path;
    return rc;
}
