/*
 * test_language.c - tmpl_language: the Jinja features one at a time.
 *
 * The cases (template, context, exact output or "must fail") live in
 * data/language.json, written by hand in language_cases.py and checked
 * there against Jinja2. Below them: syntax errors must be one line with
 * line:column, runtime errors and raise_exception carry their message,
 * and the built-in families render known prompts.
 */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tmpl/tmpl.h"

/* Parses and renders src with ctx; returns the output or NULL (err set). */
static char *render(const char *src, const chord_json *ctx, chord_err *err, chord_status *st)
{
    tmpl *t = NULL;
    char *out = NULL;
    *st = tmpl_parse(src, strlen(src), NULL, &t, err);
    if (*st == CHORD_OK)
        *st = tmpl_render(t, ctx, &out, NULL, err);
    tmpl_free(t);
    return *st == CHORD_OK ? out : NULL;
}

static void test_cases(void)
{
    const char *tests = getenv("CHORD_TESTS");
    char path[4200];
    snprintf(path, sizeof path, "%s/tmpl/data/language.json", tests ? tests : "tests");
    size_t len;
    char *text = t_read_file(path, &len);
    T_CHECK(text, "cannot read %s", path);
    if (!text)
        return;
    chord_err err;
    chord_json *doc = chord_json_parse(text, len, &err);
    T_CHECK(doc, "%s: %s", path, err.msg);
    const chord_json *cases = doc ? chord_json_get(doc, "cases") : NULL;
    int n_ok = 0;
    for (size_t i = 0; cases && i < cases->len; i++) {
        const chord_json *c = &cases->items[i];
        const char *src = chord_json_get(c, "template")->string;
        const chord_json *want = chord_json_get(c, "expected");
        chord_status st;
        err.msg[0] = 0;
        char *out = render(src, chord_json_get(c, "context"), &err, &st);
        if (want->type == CHORD_JSON_NULL) {
            T_CHECK(!out && st == CHORD_E_TEMPLATE, "case %zu %s: should fail, got \"%s\"", i, src, out ? out : "");
            T_CHECK(err.msg[0] && !strchr(err.msg, '\n'), "case %zu: error message \"%s\"", i, err.msg);
        } else if (!out) {
            t_fail_at(__FILE__, __LINE__, "case %zu %s: %s", i, src, err.msg);
        } else if (strcmp(out, want->string) != 0) {
            t_fail_at(__FILE__, __LINE__, "case %zu %s:\n got \"%s\"\nwant \"%s\"", i, src, out, want->string);
        } else {
            n_ok++;
        }
        if (want->type == CHORD_JSON_NULL && !out)
            n_ok++;
        free(out);
    }
    printf("%d of %zu language cases pass\n", n_ok, cases ? cases->len : 0);
    chord_json_free(doc);
    free(text);
}

/* 64-bit integer edges that stay in range render as Python would; a
 * float beyond 64 bits has no int() here and falls back to the default. */
static void test_int_edges(void)
{
    static const struct { const char *src, *want; } cases[] = {
        {"{{ 2 ** 62 }}", "4611686018427387904"},
        {"{{ (-1) ** 1000000000000001 }}|{{ 1 ** 1000000000000000 }}|{{ 0 ** 0 }}", "-1|1|1"},
        {"{{ -9223372036854775807 - 1 }}", "-9223372036854775808"},
        {"{{ (-9223372036854775807 - 1) // 1 }}|{{ -7 // 2 }}|{{ -7 % 2 }}", "-9223372036854775808|-4|1"},
        {"{{ 1e300 | int }}|{{ '1e300' | int(7) }}|{{ -2.5 | int }}", "0|7|-2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chord_err err = {{0}};
        chord_status st;
        char *out = render(cases[i].src, NULL, &err, &st);
        T_CHECK(out && !strcmp(out, cases[i].want), "int case %zu: got \"%s\" (%s), want \"%s\"",
                i, out ? out : "", err.msg, cases[i].want);
        free(out);
    }
}

/* Hostile nesting fails with one line instead of running the C stack out:
 * unary chains and brackets (parser recursion), left-deep operator and
 * filter chains (evaluator recursion), elif ladders, and a list nested
 * 100,000 deep by a loop (compared and printed). */
static void test_deep_nesting(void)
{
    enum { N = 100000 };
    /* each case: head, N x unit, middle, N x close, tail */
    static const struct { const char *head, *unit, *mid, *close, *tail; } c[] = {
        {"{{ ", "-", "1", "", " }}"},
        {"{{ ", "not ", "1", "", " }}"},
        {"{{ ", "(", "1", ")", " }}"},
        {"{{ ", "[", "1", "]", " }}"},
        {"{{ ", "1+", "1", "", " }}"},
        {"{{ 1", "|string", "", "", " }}"},
        {"", "{% if 1 %}", "x", "{% endif %}", ""},
        {"{% if 0 %}", "{% elif 0 %}", "", "", "{% endif %}"},
    };
    for (size_t u = 0; u < sizeof c / sizeof *c; u++) {
        size_t ul = strlen(c[u].unit), cl = strlen(c[u].close);
        char *src = malloc(N * (ul + cl) + 64);
        if (!src) {
            T_CHECK(0, "out of memory");
            return;
        }
        size_t k = 0;
        k += (size_t)sprintf(src, "%s", c[u].head);
        for (int i = 0; i < N; i++, k += ul)
            memcpy(src + k, c[u].unit, ul);
        k += (size_t)sprintf(src + k, "%s", c[u].mid);
        for (int i = 0; i < N; i++, k += cl)
            memcpy(src + k, c[u].close, cl);
        strcpy(src + k, c[u].tail);
        chord_err err = {{0}};
        chord_status st;
        char *out = render(src, NULL, &err, &st);
        T_CHECK(!out && (strstr(err.msg, "too deeply") || strstr(err.msg, "too many elif")) && !strchr(err.msg, '\n'),
                "nesting %s x %d: rendered %d, error \"%s\"", c[u].unit, N, out != NULL, err.msg);
        free(out);
        free(src);
    }
    chord_err err = {{0}};
    chord_status st;
    char *out = render("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}"
                       "{% endfor %}{{ ns.x == ns.x }}{{ '[...]' in (ns.x | string) }}", NULL, &err, &st);
    T_CHECK(out && !strcmp(out, "TrueTrue"), "deep list: got \"%s\" (%s)", out ? out : "", err.msg);
    free(out);
}

/* Syntax and runtime errors: one line, with where and what. */
static void test_errors(void)
{
    static const struct { const char *src, *want; chord_status st; } cases[] = {
        {"{{ 1 + }}", "line 1:8: expected an expression, got '}}'", CHORD_E_TEMPLATE},
        {"a\n{% if x %}b", "line 2:12: unexpected end of template: missing '{% endif %}'", CHORD_E_TEMPLATE},
        {"{% for x %}{% endfor %}", "line 1:10: expected 'in', got '%}'", CHORD_E_TEMPLATE},
        {"x\n  {{ 'abc }}", "line 2:6: unterminated string literal", CHORD_E_TEMPLATE},
        {"{% foo %}", "line 1:4: unknown or misplaced tag 'foo'", CHORD_E_TEMPLATE},
        {"{% if 1 %}{% endfor %}", "line 1:14: unknown or misplaced tag 'endfor'", CHORD_E_TEMPLATE},
        {"{{ x | }}", "line 1:8: expected a filter name, got '}}'", CHORD_E_TEMPLATE},
        {"ab {# never closed", "line 1:4: unterminated comment", CHORD_E_TEMPLATE},
        {"{{ 1 }", "line 1:7: unexpected end of template: missing '}}'", CHORD_E_TEMPLATE},
        {"{% set x = [1, 2 %}", "line 1:18: expected ']', got '%}'", CHORD_E_TEMPLATE},
        {"\n\n   {{ x.y }}", "line 3:8: 'x' is undefined", CHORD_E_TEMPLATE},
        {"{{ 'a' + 1 }}", "line 1:8: can only concatenate str (not \"int\") to str", CHORD_E_TEMPLATE},
        {"{{ raise_exception('Roles must alternate') }}", "Roles must alternate", CHORD_E_TEMPLATE},
        {"{{ raise_exception('') }}", "raise_exception() with an empty message", CHORD_E_TEMPLATE},
        {"{{ [1] | nosuchfilter }}", "line 1:8: no filter named 'nosuchfilter'", CHORD_E_UNSUPPORTED},
        {"{{ 'a'.nosuchmethod() }}", "line 1:7: 'str object' has no method 'nosuchmethod'", CHORD_E_UNSUPPORTED},
        {"{{ 1 is nosuchtest }}", "line 1:6: no test named 'nosuchtest'", CHORD_E_UNSUPPORTED},
        /* Python's integers are unbounded; chord's 64-bit ones refuse to wrap */
        {"{{ 70787078 ** 77 }}", "line 1:13: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ 9223372036854775807 + 1 }}", "line 1:24: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ -9223372036854775807 - 2 }}", "line 1:25: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ 4294967296 * 4294967296 }}", "line 1:15: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ (-9223372036854775807 - 1) // -1 }}", "line 1:31: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ -(-9223372036854775807 - 1) }}", "line 1:4: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ (-9223372036854775807 - 1) | abs }}", "line 1:31: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ [9223372036854775807, 1] | sum }}", "line 1:29: integer overflow (chord's integers are 64-bit)", CHORD_E_TEMPLATE},
        {"{{ 0 < 5 < 3 }}{{ 1 < 2 < 3 }}{{ raise_exception('chain ok') if (0 < 5 < 3) == false and 1 < 2 < 3 }}",
         "chain ok", CHORD_E_TEMPLATE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chord_err err = {{0}};
        chord_status st;
        char *out = render(cases[i].src, NULL, &err, &st);
        T_CHECK(!out, "error case %zu rendered \"%s\"", i, out ? out : "");
        free(out);
        T_EQ_INT(st, cases[i].st);
        T_CHECK(strncmp(err.msg, cases[i].want, strlen(cases[i].want)) == 0,
                "error case %zu: got \"%s\", want \"%s\"", i, err.msg, cases[i].want);
        T_CHECK(!strchr(err.msg, '\n'), "error case %zu: message spans lines", i);
    }
    /* runaway templates stop with an error instead of eating the machine */
    static const struct { const char *src, *want; chord_status st; } limits[] = {
        {"{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
         "line 1:", CHORD_E_NOMEM},
        {"{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
         "line 1:30: template ran too long", CHORD_E_TEMPLATE},
        {"{{ range(10000000) | length }}", "line 1:9: range too large", CHORD_E_TEMPLATE},
        {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "line 1:", CHORD_E_TEMPLATE},
    };
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        chord_err err = {{0}};
        chord_status st;
        char *out = render(limits[i].src, NULL, &err, &st);
        T_CHECK(!out, "limit case %zu rendered", i);
        free(out);
        T_EQ_INT(st, limits[i].st);
        T_CHECK(strncmp(err.msg, limits[i].want, strlen(limits[i].want)) == 0, "limit case %zu: \"%s\"", i, err.msg);
    }
    /* a named template prefixes its name */
    tmpl *t = NULL;
    chord_err err;
    T_EQ_INT(tmpl_parse("{% if %}", 8, "my.jinja", &t, &err), CHORD_E_TEMPLATE);
    T_CHECK(strncmp(err.msg, "my.jinja: line 1:7: ", 20) == 0, "got \"%s\"", err.msg);
}

static void test_families(void)
{
    const chord_chat_msg msgs[] = {
        {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"},
    };
    static const struct { const char *family, *want; } cases[] = {
        {"chatml", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                   "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
        {"llama2", "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]"},
        {"llama3", "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                   "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                   "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {"zephyr", "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye</s>\n<|assistant|>\n"},
        {"phi3", "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n"},
        {"gemma", "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
                  "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
        {"mistral", "<s>[INST] Be brief.\n\nHi [/INST] Hello.</s>[INST] Bye [/INST]"},
    };
    const char *const *fams = chord_chat_families();
    size_t nf = 0;
    while (fams[nf])
        nf++;
    T_EQ_INT(nf, sizeof cases / sizeof *cases);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool listed = false;
        for (size_t k = 0; k < nf; k++)
            listed |= strcmp(fams[k], cases[i].family) == 0;
        T_CHECK(listed, "family %s not in chord_chat_families()", cases[i].family);
        char *out = NULL;
        chord_err err = {{0}};
        chord_status st = chord_chat_render_builtin(cases[i].family, msgs, 4, true, "<s>", "</s>", &out, &err);
        T_CHECK(st == CHORD_OK, "%s: %s", cases[i].family, err.msg);
        if (out && strcmp(out, cases[i].want) != 0)
            t_fail_at(__FILE__, __LINE__, "%s:\n got \"%s\"\nwant \"%s\"", cases[i].family, out, cases[i].want);
        free(out);
    }
    /* without the generation prompt, chatml ends after the last turn */
    char *out = NULL;
    chord_err err;
    T_EQ_INT(chord_chat_render_builtin("chatml", msgs + 1, 1, false, "", "", &out, &err), CHORD_OK);
    T_EQ_STR(out, "<|im_start|>user\nHi<|im_end|>\n");
    free(out);
    T_EQ_INT(chord_chat_render_builtin("nosuch", msgs, 1, true, "", "", &out, &err), CHORD_E_INVALID);
    /* a template given explicitly must parse: no silent fallback */
    T_EQ_INT(chord_chat_render(NULL, "{% if %}", msgs, 1, true, "", "", &out, &err), CHORD_E_TEMPLATE);
    T_CHECK(strstr(err.msg, "line 1:7") != NULL, "got \"%s\"", err.msg);
    T_EQ_INT(chord_chat_render(NULL, "{{ 1 | nosuchfilter }}", msgs, 1, true, "", "", &out, &err), CHORD_E_TEMPLATE);
}

int main(void)
{
    test_cases();
    test_errors();
    test_int_edges();
    test_deep_nesting();
    test_families();
    return t_done();
}
