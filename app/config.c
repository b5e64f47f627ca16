/*
 * config.c - reading chord's config file (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

bool config_path(char *buf, size_t n)
{
    const char *v;
    int r;
    if ((v = env("CHORD_CONFIG")))
        r = snprintf(buf, n, "%s", v);
    else if ((v = env("XDG_CONFIG_HOME")))
        r = snprintf(buf, n, "%s/chord/config", v);
    else if ((v = env("HOME")))
        r = snprintf(buf, n, "%s/.config/chord/config", v);
    else
        return false;
    return r > 0 && (size_t)r < n;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1]))
        s[--l] = '\0';
    return s;
}

/* Values that name files: "~/" is the home directory, as in a shell. */
static bool is_path_key(const char *key)
{
    return !strcmp(key, "model") || !strcmp(key, "db") || !strcmp(key, "chat-template");
}

static char *dup_value(const char *key, const char *v)
{
    const char *home = env("HOME");
    if (is_path_key(key) && v[0] == '~' && v[1] == '/' && home) {
        size_t n = strlen(home) + strlen(v);
        char *s = malloc(n);
        if (s)
            snprintf(s, n, "%s%s", home, v + 1);
        return s;
    }
    return strdup(v);
}

static bool add_entry(config_file *c, const char *key, const char *value, int line)
{
    config_entry *v = realloc(c->v, (size_t)(c->n + 1) * sizeof *v);
    if (!v)
        return false;
    c->v = v;
    config_entry *e = &v[c->n];
    size_t wl = strlen(c->path) + 16;
    e->key = strdup(key);
    e->value = dup_value(key, value);
    e->line = line;
    e->where = malloc(wl);
    if (!e->key || !e->value || !e->where) {
        free(e->key);
        free(e->value);
        free(e->where);
        return false;
    }
    snprintf(e->where, wl, "%s:%d", c->path, line);
    c->n++;
    return true;
}

const config_entry *config_find(const config_file *c, const char *key)
{
    for (int i = 0; c && i < c->n; i++)
        if (!strcmp(c->v[i].key, key))
            return &c->v[i];
    return NULL;
}

/* Reads and checks the file into c; false after printing the problem. */
static bool read_config(config_file *c)
{
    if (!config_path(c->path, sizeof c->path)) {
        c->path[0] = '\0';
        return true;
    }
    FILE *f = fopen(c->path, "r");
    if (!f) {
        /* only a file asked for by name must exist */
        if (errno == ENOENT && !env("CHORD_CONFIG"))
            return true;
        app_error("%s: cannot read the config file: %s", c->path, strerror(errno));
        return false;
    }
    c->exists = true;
    char *buf = NULL;
    size_t cap = 0;
    int line = 0;
    bool ok = true;
    chord_opts scratch;
    opts_init(&scratch);
    while (ok && getline(&buf, &cap, f) >= 0) {
        line++;
        char *s = trim(buf);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            app_error("%s:%d: expected 'key = value', got '%s'", c->path, line, s);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        const config_entry *prev = config_find(c, key);
        if (prev) {
            app_error("%s:%d: '%s' is already set on line %d", c->path, line, key, prev->line);
            ok = false;
            break;
        }
        const char *why = "";
        int r = opts_key_in_config(key) ? opts_set(&scratch, key, val, NULL, &why) : OPTS_SET_UNKNOWN;
        if (r == OPTS_SET_UNKNOWN) {
            if (opts_set(&scratch, key, "", NULL, &why) != OPTS_SET_UNKNOWN)
                app_error("%s:%d: unknown key '%s' (it is a command-line option only)", c->path, line, key);
            else
                app_error("%s:%d: unknown key '%s'", c->path, line, key);
            ok = false;
        } else if (r == OPTS_SET_BAD) {
            app_error("%s:%d: bad value for '%s': '%s' (%s)", c->path, line, key, val, why);
            ok = false;
        } else if (!add_entry(c, key, val, line)) {
            app_error("%s: out of memory", c->path);
            ok = false;
        }
    }
    if (ok && ferror(f)) {
        app_error("%s: cannot read the config file: %s", c->path, strerror(errno));
        ok = false;
    }
    free(buf);
    fclose(f);
    return ok;
}

const config_file *config_load(void)
{
    /* static: the values are the options' strings for the whole run */
    static config_file c;
    static int state; /* 0 = not read, 1 = good, 2 = bad */
    if (!state)
        state = read_config(&c) ? 1 : 2;
    return state == 1 ? &c : NULL;
}
