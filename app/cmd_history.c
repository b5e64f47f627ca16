/*
 * cmd_history.c - `chord history ...`: list, show, search, export, rm and
 * stats over the conversation database (data/hist.h).
 *
 * --db PATH is accepted anywhere on the line (and before `history`:
 * `chord --db PATH history list`). Exit codes: 0 ok, 1 failure (the
 * message names the database file), 2 usage.
 *
 * Reading never creates a database and needs no write access: a file,
 * directory or mount we cannot write is opened read-only (see open_db).
 * Another program's SQLite file is refused untouched (hist_open).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "hist.h"
#include "kvstore.h"

static void usage(FILE *f)
{
    fputs("usage: chord history [--db PATH] COMMAND [options]\n"
          "  list [--limit N] [--json]        conversations, newest activity first\n"
          "                                   (default 50; --limit 0 lists all)\n"
          "  show ID [--json|--md]            one conversation\n"
          "  search QUERY... [--limit N] [--json]\n"
          "                                   full-text search; word* matches a prefix\n"
          "  export ID --format md|json [-o FILE]\n"
          "  rm ID [--yes]                    delete a conversation (asks on a terminal)\n"
          "  stats [--json]                   totals and use by model\n"
          "The database defaults to $XDG_DATA_HOME/chord/history.db\n"
          "(~/.local/share/chord/history.db).\n", f);
}

enum { LIST_DEFAULT_LIMIT = 50 };

typedef struct args {
    const char *db;
    const char *cmd;
    const char *pos[64];
    int n_pos;
    bool json, md, yes;
    long long limit;
    bool has_limit;
    const char *format;
    const char *out;
} args;

/* Reads a flag's value: --flag VALUE or --flag=VALUE. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        app_error("history: %s needs a value", name);
        return NULL;
    }
    return argv[++*i];
}

static bool is_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == 0 || arg[n] == '=');
}

/* Parses argv (argv[0] = "history"). Returns 0, EXIT_USAGE, or -1 after
 * --help. */
static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || !s[1]) {
            if (!a->cmd)
                a->cmd = s;
            else if (a->n_pos < (int)(sizeof a->pos / sizeof a->pos[0]))
                a->pos[a->n_pos++] = s;
            else {
                app_error("history: too many arguments");
                return EXIT_USAGE;
            }
        } else if (!strcmp(s, "--")) {
            only_pos = true;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout);
            return -1;
        } else if (is_flag(s, "--db")) {
            if (!(a->db = flag_value(argc, argv, &i, "--db")))
                return EXIT_USAGE;
        } else if (is_flag(s, "--limit")) {
            const char *v = flag_value(argc, argv, &i, "--limit");
            if (!v || !opts_parse_int(v, 0, 1000000000, &a->limit)) {
                if (v)
                    app_error("history: --limit wants a number >= 0, not '%s'", v);
                return EXIT_USAGE;
            }
            a->has_limit = true;
        } else if (is_flag(s, "--format")) {
            if (!(a->format = flag_value(argc, argv, &i, "--format")))
                return EXIT_USAGE;
        } else if (!strcmp(s, "-o") || is_flag(s, "--output")) {
            if (!(a->out = flag_value(argc, argv, &i, s[1] == 'o' ? "-o" : "--output")))
                return EXIT_USAGE;
        } else if (!strcmp(s, "--json")) {
            a->json = true;
        } else if (!strcmp(s, "--md")) {
            a->md = true;
        } else if (!strcmp(s, "--yes") || !strcmp(s, "-y")) {
            a->yes = true;
        } else {
            app_error("history: unknown option '%s' (see chord history --help)", s);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Rejects options that mean nothing for the command, so a typo is not
 * silently ignored. allowed: a string of letters: j=--json m=--md
 * l=--limit f=--format o=-o y=--yes. */
static int check_opts(const args *a, const char *allowed)
{
    struct { bool set; char key; const char *name; } o[] = {
        {a->json, 'j', "--json"}, {a->md, 'm', "--md"}, {a->has_limit, 'l', "--limit"},
        {a->format != NULL, 'f', "--format"}, {a->out != NULL, 'o', "-o"},
        {a->yes, 'y', "--yes"},
    };
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        if (o[i].set && !strchr(allowed, o[i].key)) {
            app_error("history %s: %s does not apply here", a->cmd, o[i].name);
            return EXIT_USAGE;
        }
    return 0;
}

static int want_positional(const args *a, int n, const char *what)
{
    if (a->n_pos != n) {
        app_error("history %s: expected %s", a->cmd, what);
        return EXIT_USAGE;
    }
    return 0;
}

static bool parse_id(const args *a, const char *s, int64_t *id)
{
    long long v;
    if (!opts_parse_int(s, 1, INT64_MAX, &v)) {
        app_error("history %s: '%s' is not a conversation id", a->cmd, s);
        return false;
    }
    *id = v;
    return true;
}

static int fail(const chord_err *e)
{
    app_error("%s", e->msg);
    return EXIT_FAIL;
}

/* stdout went away (EPIPE): a quiet, successful end, like everywhere. */
static int out_status(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE)
            return EXIT_OK;
        app_error("history: writing to standard output: %s", strerror(errno));
        return EXIT_FAIL;
    }
    return rc;
}

static void local_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, cap, "?");
}

static void iso_utc(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];
    if (!gmtime_r(&t, &tm) || !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm))
        snprintf(base, sizeof base, "?");
    snprintf(out, cap, "%s.%03dZ", base, (int)(ms % 1000));
}

static void json_str(FILE *f, const char *s)
{
    if (s)
        chord_json_write_str(f, s, strlen(s));
    else
        fputs("null", f);
}

/* ---------------------------------------------------------------------------
 * Subcommands
 * ------------------------------------------------------------------------- */

static int do_list(hist *h, const args *a)
{
    int rc = check_opts(a, "jl");
    if (rc || (rc = want_positional(a, 0, "no arguments")))
        return rc;
    hist_conv_row *rows;
    int n;
    chord_err e;
    /* One row more than shown tells whether older ones were left out. */
    int limit = a->has_limit ? (int)a->limit : LIST_DEFAULT_LIMIT;
    if (hist_list(h, limit > 0 ? limit + 1 : 0, &rows, &n, &e) != CHORD_OK)
        return fail(&e);
    bool more = limit > 0 && n > limit;
    if (more)
        n = limit;
    char t[40];
    if (a->json) {
        fputc('[', stdout);
        for (int i = 0; i < n; i++) {
            fprintf(stdout, "%s\n {\"id\": %lld, \"title\": ", i ? "," : "", (long long)rows[i].id);
            json_str(stdout, rows[i].title);
            fputs(", \"model\": ", stdout);
            json_str(stdout, rows[i].model);
            iso_utc(rows[i].created_at, t, sizeof t);
            fprintf(stdout, ", \"messages\": %d, \"created_at\": \"%s\"", rows[i].n_msgs, t);
            iso_utc(rows[i].updated_at, t, sizeof t);
            fprintf(stdout, ", \"updated_at\": \"%s\"}", t);
        }
        fputs(n ? "\n]\n" : "]\n", stdout);
    } else if (n == 0) {
        printf("no conversations in %s\n", hist_path(h));
    } else {
        printf("%6s  %-16s  %5s  %-24s  %s\n", "ID", "LAST ACTIVITY", "MSGS", "MODEL", "TITLE");
        for (int i = 0; i < n && !ferror(stdout); i++) {
            local_time(rows[i].updated_at, t, sizeof t);
            printf("%6lld  %-16s  %5d  %-24.24s  %s\n", (long long)rows[i].id, t,
                   rows[i].n_msgs, rows[i].model ? rows[i].model : "",
                   rows[i].title ? rows[i].title : "(untitled)");
        }
        if (more)
            printf("(older conversations not shown: --limit 0 lists all)\n");
    }
    hist_rows_free(rows, more ? n + 1 : n);
    return out_status(EXIT_OK);
}

static int do_show(hist *h, const args *a)
{
    int rc = check_opts(a, "jm");
    if (rc || (rc = want_positional(a, 1, "one conversation id")))
        return rc;
    if (a->json && a->md) {
        app_error("history show: --json and --md exclude each other");
        return EXIT_USAGE;
    }
    int64_t id;
    if (!parse_id(a, a->pos[0], &id))
        return EXIT_USAGE;
    chord_err e;
    chord_status st = a->json ? hist_export_json(h, id, stdout, &e)
                              : hist_export_md(h, id, stdout, &e);
    if (st != CHORD_OK && ferror(stdout) && errno == EPIPE)
        return EXIT_OK;
    return st == CHORD_OK ? out_status(EXIT_OK) : fail(&e);
}

static int do_export(hist *h, const args *a)
{
    int rc = check_opts(a, "fo");
    if (rc || (rc = want_positional(a, 1, "one conversation id")))
        return rc;
    if (!a->format || (strcmp(a->format, "md") && strcmp(a->format, "json"))) {
        app_error("history export: --format md|json is required");
        return EXIT_USAGE;
    }
    int64_t id;
    if (!parse_id(a, a->pos[0], &id))
        return EXIT_USAGE;
    chord_err e;
    /* Check first, so a missing id does not leave an empty file behind. */
    bool exists;
    if (hist_conv_exists(h, id, &exists, &e) != CHORD_OK)
        return fail(&e);
    if (!exists) {
        app_error("history %s: no conversation %lld", hist_path(h), (long long)id);
        return EXIT_FAIL;
    }
    FILE *f = stdout;
    if (a->out && strcmp(a->out, "-") && !(f = fopen(a->out, "w"))) {
        app_error("history export: cannot write %s: %s", a->out, strerror(errno));
        return EXIT_FAIL;
    }
    chord_status st = !strcmp(a->format, "json") ? hist_export_json(h, id, f, &e)
                                                 : hist_export_md(h, id, f, &e);
    if (f != stdout) {
        if (fclose(f) != 0 && st == CHORD_OK) {
            app_error("history export: writing %s: %s", a->out, strerror(errno));
            return EXIT_FAIL;
        }
        if (st != CHORD_OK)
            app_error("history export: %s left incomplete", a->out);
    } else if (st != CHORD_OK && ferror(stdout) && errno == EPIPE) {
        return EXIT_OK;
    }
    return st == CHORD_OK ? out_status(EXIT_OK) : fail(&e);
}

/* Prints a snippet on one line (newlines in the message become spaces). */
static void print_snippet(const char *s)
{
    for (; *s; s++)
        fputc(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s, stdout);
    fputc('\n', stdout);
}

static int do_search(hist *h, const args *a)
{
    int rc = check_opts(a, "jl");
    if (rc)
        return rc;
    if (a->n_pos == 0) {
        app_error("history search: what should I search for?");
        return EXIT_USAGE;
    }
    /* Words may come as separate arguments: `search light house`. */
    size_t len = 1;
    for (int i = 0; i < a->n_pos; i++)
        len += strlen(a->pos[i]) + 1;
    char *query = malloc(len);
    if (!query) {
        app_error("history search: out of memory");
        return EXIT_FAIL;
    }
    query[0] = 0;
    for (int i = 0; i < a->n_pos; i++) {
        if (i)
            strcat(query, " ");
        strcat(query, a->pos[i]);
    }
    bool tty = !a->json && isatty(STDOUT_FILENO);
    hist_hit *hits;
    int n;
    chord_err e;
    chord_status st = hist_search(h, query, a->has_limit ? (int)a->limit : 20,
                                  tty ? "\033[1;33m" : "[", tty ? "\033[0m" : "]",
                                  &hits, &n, &e);
    free(query);
    if (st == CHORD_E_INVALID) {
        app_error("%s", e.msg);
        return EXIT_USAGE;
    }
    if (st != CHORD_OK)
        return fail(&e);
    if (a->json) {
        fputc('[', stdout);
        for (int i = 0; i < n; i++) {
            fprintf(stdout, "%s\n {\"conversation\": %lld, \"message\": %lld, \"seq\": %d,"
                    " \"role\": ", i ? "," : "", (long long)hits[i].conv_id,
                    (long long)hits[i].msg_id, hits[i].seq);
            json_str(stdout, hits[i].role);
            fputs(", \"title\": ", stdout);
            json_str(stdout, hits[i].title);
            fprintf(stdout, ", \"rank\": %.6f, \"snippet\": ", hits[i].rank);
            json_str(stdout, hits[i].snippet);
            fputc('}', stdout);
        }
        fputs(n ? "\n]\n" : "]\n", stdout);
    } else if (n == 0) {
        printf("no matches\n");
    } else {
        for (int i = 0; i < n && !ferror(stdout); i++) {
            printf("#%lld.%d %s  %s\n    ", (long long)hits[i].conv_id, hits[i].seq,
                   hits[i].role, hits[i].title ? hits[i].title : "(untitled)");
            print_snippet(hits[i].snippet);
        }
    }
    hist_hits_free(hits, n);
    return out_status(EXIT_OK);
}

static int do_rm(hist *h, const args *a)
{
    int rc = check_opts(a, "y");
    if (rc || (rc = want_positional(a, 1, "one conversation id")))
        return rc;
    int64_t id;
    if (!parse_id(a, a->pos[0], &id))
        return EXIT_USAGE;
    chord_err e;
    bool exists;
    if (hist_conv_exists(h, id, &exists, &e) != CHORD_OK)
        return fail(&e);
    if (!exists) {
        app_error("history %s: no conversation %lld", hist_path(h), (long long)id);
        return EXIT_FAIL;
    }
    if (!a->yes) {
        if (!isatty(STDIN_FILENO)) {
            app_error("history rm: not deleting conversation %lld without --yes "
                      "(standard input is not a terminal)", (long long)id);
            return EXIT_FAIL;
        }
        fprintf(stderr, "Delete conversation %lld and its messages? [y/N] ", (long long)id);
        char line[32];
        if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y')) {
            fprintf(stderr, "not deleted\n");
            return EXIT_FAIL;
        }
    }
    if (hist_conv_delete(h, id, &e) != CHORD_OK)
        return fail(&e);
    /* and its saved KV caches: the conversation's text is in them too */
    int64_t kv_bytes = 0;
    int n_kv = kvstore_rm_conv(hist_path(h), id, &kv_bytes);
    printf("deleted conversation %lld\n", (long long)id);
    if (n_kv)
        printf("deleted %d saved KV cache%s (%lld bytes)\n", n_kv, n_kv > 1 ? "s" : "",
               (long long)kv_bytes);
    return out_status(EXIT_OK);
}

static void human_size(int64_t b, char *out, size_t cap)
{
    if (b >= 1 << 20)
        snprintf(out, cap, "%.1f MiB", b / 1048576.0);
    else if (b >= 1 << 10)
        snprintf(out, cap, "%.1f KiB", b / 1024.0);
    else
        snprintf(out, cap, "%lld bytes", (long long)b);
}

static int do_stats(hist *h, const args *a)
{
    int rc = check_opts(a, "j");
    if (rc || (rc = want_positional(a, 0, "no arguments")))
        return rc;
    hist_stats s;
    chord_err e;
    if (hist_stats_get(h, &s, &e) != CHORD_OK)
        return fail(&e);
    int64_t kv_bytes = 0;
    int kv_files = kvstore_stats(&kv_bytes);
    char kv_dir[4096];
    if (!kvstore_dir(kv_dir, sizeof kv_dir))
        snprintf(kv_dir, sizeof kv_dir, "(no HOME nor XDG_CACHE_HOME)");
    if (a->json) {
        fputs("{\"database\": ", stdout);
        json_str(stdout, hist_path(h));
        printf(", \"db_bytes\": %lld, \"conversations\": %lld, \"messages\": %lld,"
               " \"prompt_tokens\": %lld, \"generated_tokens\": %lld,",
               (long long)s.db_bytes, (long long)s.n_convs, (long long)s.n_msgs,
               (long long)s.n_prompt_tokens, (long long)s.n_gen_tokens);
        fputs(" \"kv_store\": ", stdout);
        json_str(stdout, kv_dir);
        printf(", \"kv_store_files\": %d, \"kv_store_bytes\": %lld,\n \"by_model\": [", kv_files,
               (long long)kv_bytes);
        for (int i = 0; i < s.n_models; i++) {
            fputs(i ? ",\n  {\"model\": " : "\n  {\"model\": ", stdout);
            json_str(stdout, s.models[i].model);
            printf(", \"conversations\": %lld, \"messages\": %lld, \"tokens\": %lld}",
                   (long long)s.models[i].n_convs, (long long)s.models[i].n_msgs,
                   (long long)s.models[i].n_tokens);
        }
        fputs("]}\n", stdout);
    } else {
        char size[32];
        human_size(s.db_bytes, size, sizeof size);
        printf("database       %s (%s)\n", hist_path(h), size);
        printf("conversations  %lld\n", (long long)s.n_convs);
        printf("messages       %lld\n", (long long)s.n_msgs);
        printf("tokens         %lld prompt, %lld generated", (long long)s.n_prompt_tokens,
               (long long)s.n_gen_tokens);
        if (s.gen_ms > 0)
            printf(" (%.1f tok/s on average)", s.n_gen_tokens * 1000.0 / s.gen_ms);
        printf("\n");
        human_size(kv_bytes, size, sizeof size);
        printf("KV store       %s (%d file%s, %s)\n", kv_dir, kv_files, kv_files == 1 ? "" : "s",
               size);
        if (s.n_models)
            printf("by model:\n");
        for (int i = 0; i < s.n_models; i++)
            printf("  %-32s %6lld conversations %8lld messages %10lld tokens\n",
                   s.models[i].model ? s.models[i].model : "?", (long long)s.models[i].n_convs,
                   (long long)s.models[i].n_msgs, (long long)s.models[i].n_tokens);
    }
    hist_stats_free(&s);
    return out_status(EXIT_OK);
}

/* Whether the database file is missing (its default path when no --db). */
static bool errno_missing(const args *a)
{
    char *p = a->db ? strdup(a->db) : hist_default_path(NULL);
    bool missing = p && access(p, F_OK) != 0 && errno == ENOENT;
    free(p);
    return missing;
}

/* Whether we may write path and create files beside it (the -wal). */
static bool writable(const char *path)
{
    if (access(path, W_OK) != 0)
        return false;
    char *dir = strdup(path);
    if (!dir)
        return false;
    char *slash = strrchr(dir, '/');
    const char *d = !slash ? "." : slash == dir ? "/" : (*slash = 0, dir);
    bool ok = access(d, W_OK) == 0;
    free(dir);
    return ok;
}

/* Opens the database for a command; never creates it. A reader opens it
 * read-write when it can (old schemas are upgraded, rows of writers that
 * died are marked interrupted) and read-only otherwise: a file, directory
 * or mount we cannot write, or a lock held by another process. */
static chord_status open_db(const args *a, bool reader, hist **h, chord_err *e)
{
    char *path = a->db ? strdup(a->db) : hist_default_path(e);
    if (!path) {
        if (a->db)
            snprintf(e->msg, sizeof e->msg, "history: out of memory");
        return CHORD_E_NOMEM;
    }
    hist_open_params rw = {.must_exist = true}, ro = {.read_only = true};
    bool locked = false;
    rw.locked = &locked;
    chord_status st;
    if (reader && access(path, F_OK) == 0 && !writable(path)) {
        st = hist_open(path, &ro, h, e);
    } else {
        st = hist_open(path, &rw, h, e);
        if (st != CHORD_OK && reader && locked)
            st = hist_open(path, &ro, h, e);
    }
    free(path);
    return st;
}

int cmd_history(int argc, char **argv)
{
    args a;
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    static const struct {
        const char *name;
        int (*fn)(hist *, const args *);
    } cmds[] = {
        {"list", do_list}, {"ls", do_list}, {"show", do_show}, {"search", do_search},
        {"export", do_export}, {"rm", do_rm}, {"delete", do_rm}, {"stats", do_stats},
    };
    if (!a.cmd) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int (*fn)(hist *, const args *) = NULL;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(a.cmd, cmds[i].name))
            fn = cmds[i].fn;
    if (!fn) {
        app_error("history: unknown command '%s' (see chord history --help)", a.cmd);
        return EXIT_USAGE;
    }
    /* the chats were recorded where the config file's db says */
    const config_file *cf = config_load();
    if (!cf)
        return EXIT_USAGE;
    const config_entry *cdb = config_find(cf, "db");
    if (!a.db && cdb)
        a.db = cdb->value;
    hist *h;
    chord_err e;
    if (open_db(&a, fn != do_rm, &h, &e) != CHORD_OK) {
        /* nothing recorded yet at the default place: an empty history
         * for the commands that summarize it (a --db that names no file is
         * a mistake, said as one) */
        if (!a.db && (fn == do_list || fn == do_stats || fn == do_search) && errno_missing(&a)) {
            char *p = hist_default_path(&e);
            printf("no history yet (nothing recorded at %s)\n", p ? p : "the default path");
            free(p);
            return out_status(EXIT_OK);
        }
        return fail(&e);
    }
    rc = fn(h, &a);
    hist_close(h);
    return rc;
}
