/*
 * test_mutations.c - tmpl_mutations: damaged templates fail cleanly.
 *
 * Every template in ../shared/ref/chat is cut, spliced and sprinkled with
 * Jinja punctuation by a seeded generator (the same inputs every run), then
 * parsed and rendered with a real conversation. Each attempt must return
 * CHORD_OK or a template error with a non-empty one-line message, never
 * anything else, and must not touch memory it does not own (run it under
 * the address sanitizer build to see that part).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tmpl/tmpl.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static const char *const pieces[] = {
    "{%", "%}", "{{", "}}", "{#", "#}", "-%}", "{%-", "(", ")", "[", "]", "{", "}", "'", "\"", "|", ".",
    ",", ":", "=", " if ", " else ", " for x in ", " endif ", "{% endif %}", "{% endfor %}", "{% else %}",
    " is ", " not ", " in ", "\\", "\xff", "\xe2\x82", "\n", " and ", " or ", "loop.", "ns.", "[::-1]",
    "| tojson(indent=2)", "| trim", "raise_exception('x')", "{% set ns = namespace(a=1) %}", "{% macro m() %}",
    "{% endmacro %}", "{% break %}", "**", "//", "%", "~", "0", "-1", "1e400", "9999999999999999999999",
};

/* One random edit of buf (len bytes, cap room). Returns the new length. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
    size_t at = len ? t_rand(&rng) % len : 0;
    switch (t_rand(&rng) % 4) {
    case 0: { /* delete a span */
        size_t n = 1 + t_rand(&rng) % 16;
        if (at + n > len)
            n = len - at;
        memmove(buf + at, buf + at + n, len - at - n);
        return len - n;
    }
    case 1: { /* insert a piece */
        const char *p = pieces[t_rand(&rng) % (sizeof pieces / sizeof *pieces)];
        size_t n = strlen(p);
        if (len + n >= cap)
            return len;
        memmove(buf + at + n, buf + at, len - at);
        memcpy(buf + at, p, n);
        return len + n;
    }
    case 2: /* truncate */
        return at;
    default: { /* copy a span elsewhere */
        size_t n = 1 + t_rand(&rng) % 64, from = len ? t_rand(&rng) % len : 0;
        if (from + n > len)
            n = len - from;
        if (len + n >= cap)
            return len;
        char tmp[64];
        memcpy(tmp, buf + from, n);
        memmove(buf + at + n, buf + at, len - at);
        memcpy(buf + at, tmp, n);
        return len + n;
    }
    }
}

int main(void)
{
    const char *any = t_shared("ref/chat/llama2.jinja");
    char root[4096];
    snprintf(root, sizeof root, "%.*s", (int)(strrchr(any, '/') - any), any);
    static const char ctx_text[] =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U\"},"
        " {\"role\": \"assistant\", \"content\": \"A\"}, {\"role\": \"user\", \"content\": \"U2\"}],"
        " \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\","
        " \"tools\": null, \"documents\": null}";
    chord_err err;
    chord_json *ctx = chord_json_parse(ctx_text, strlen(ctx_text), &err);
    T_REQUIRE(ctx, "context: %s", err.msg);
    DIR *d = opendir(root);
    T_REQUIRE(d, "cannot open %s", root);
    struct dirent *e;
    int n_tpl = 0, n_ok = 0, n_err = 0;
    while ((e = readdir(d)) != NULL) {
        size_t L = strlen(e->d_name);
        if (L < 7 || strcmp(e->d_name + L - 6, ".jinja") != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        size_t len;
        char *orig = t_read_file(path, &len);
        T_REQUIRE(orig, "cannot read %s", path);
        n_tpl++;
        size_t cap = len * 2 + 256;
        char *buf = malloc(cap);
        T_REQUIRE(buf, "out of memory");
        for (int round = 0; round < 300; round++) {
            memcpy(buf, orig, len);
            size_t n = len;
            for (int k = 1 + (int)(t_rand(&rng) % 4); k > 0; k--)
                n = mutate(buf, n, cap);
            tmpl *t = NULL;
            char *out = NULL;
            chord_status st = tmpl_parse(buf, n, "m.jinja", &t, &err);
            if (st == CHORD_OK) {
                st = tmpl_render(t, ctx, &out, NULL, &err);
                tmpl_free(t);
            }
            if (st == CHORD_OK) {
                n_ok++;
                T_CHECK(out != NULL, "%s round %d: OK without output", e->d_name, round);
            } else {
                n_err++;
                T_CHECK(st == CHORD_E_TEMPLATE || st == CHORD_E_UNSUPPORTED,
                        "%s round %d: status %d (%s)", e->d_name, round, st, err.msg);
                T_CHECK(err.msg[0] && !strchr(err.msg, '\n'), "%s round %d: message \"%s\"", e->d_name, round, err.msg);
            }
            free(out);
        }
        free(buf);
        free(orig);
    }
    closedir(d);
    chord_json_free(ctx);
    printf("%d templates, %d mutants rendered, %d failed cleanly\n", n_tpl, n_ok, n_err);
    T_CHECK(n_tpl >= 12, "only %d templates found", n_tpl);
    T_CHECK(n_ok > 0 && n_err > 0, "the mutations should produce both outcomes");
    return t_done();
}
