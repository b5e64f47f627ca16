/*
 * test_json.c - the JSON reader and quoting (engine/core/json.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "t.h"

static chord_json *parse(const char *s)
{
    chord_err err = {{0}};
    chord_json *j = chord_json_parse(s, strlen(s), &err);
    if (!j)
        fprintf(stderr, "  (parse error: %s)\n", err.msg);
    return j;
}

static void test_parses_nested_values(void)
{
    chord_json *j = parse(" {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\u00e9\\ud83c\\udf89\\n\", \"o\": {}} ");
    T_CHECK(j != NULL, "valid JSON rejected");
    if (!j)
        return;
    const chord_json *a = chord_json_get(j, "a");
    T_CHECK(a && a->type == CHORD_JSON_ARRAY && a->len == 5, "array a");
    T_NEAR(chord_json_at(a, 1)->number, -2500.0, 0);
    T_EQ_INT(chord_json_at(a, 2)->type, CHORD_JSON_TRUE);
    T_EQ_INT(chord_json_at(a, 4)->type, CHORD_JSON_NULL);
    T_CHECK(chord_json_at(a, 5) == NULL, "out of range index");
    const chord_json *s = chord_json_get(j, "s");
    T_EQ_STR(s->string, "x\xc3\xa9\xf0\x9f\x8e\x89\n");
    T_EQ_INT(s->len, 8);
    T_EQ_INT(chord_json_get(j, "o")->type, CHORD_JSON_OBJECT);
    T_CHECK(chord_json_get(j, "missing") == NULL, "missing key");
    chord_json_free(j);
}

static void test_rejects_malformed_with_position(void)
{
    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "01", "1.", "tru", "[1] x",
                         "\"\\x\"", "\"a\x01\"", "{\"a\":1,}", "-", "[\"\\u12\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chord_err err = {{0}};
        chord_json *j = chord_json_parse(bad[i], strlen(bad[i]), &err);
        T_CHECK(j == NULL, "accepted malformed input '%s'", bad[i]);
        T_CHECK(strstr(err.msg, "line") && strstr(err.msg, "column"), "no position in '%s'", err.msg);
        chord_json_free(j);
    }
}

static void test_depth_limit(void)
{
    size_t n = 100000;
    char *s = malloc(n + 1);
    memset(s, '[', n);
    s[n] = 0;
    chord_err err = {{0}};
    chord_json *j = chord_json_parse(s, n, &err);
    T_CHECK(j == NULL && strstr(err.msg, "deeply"), "deep nesting: %s", err.msg);
    free(s);
}

static void test_quote_round_trip(void)
{
    const char raw[] = "a\"b\\c\n\t\x01 \xe6\x97\xa5 \xff end";
    char *q = chord_json_quote(raw, sizeof raw - 1);
    T_EQ_STR(q, "\"a\\\"b\\\\c\\n\\t\\u0001 \xe6\x97\xa5 \xef\xbf\xbd end\"");
    chord_json *j = parse(q);
    T_CHECK(j && j->type == CHORD_JSON_STRING, "quoted string parses back");
    if (j)
        T_EQ_STR(j->string, "a\"b\\c\n\t\x01 \xe6\x97\xa5 \xef\xbf\xbd end");
    chord_json_free(j);
    free(q);
}

int main(void)
{
    test_parses_nested_values();
    test_rejects_malformed_with_position();
    test_depth_limit();
    test_quote_round_trip();
    return t_done();
}
