/*
 * hfcache_test.c - the hub cache's names and lookups (app/hfcache.c): where
 * the cache is, repo ids, quantization tags, split parts, and hfc_resolve
 * over a hand-made cache.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfcache.h"
#include "t.h"

static void test_root_follows_the_hubs_variables(void)
{
    char b[512];
    setenv("HOME", "/h", 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    T_CHECK(hfc_root(b, sizeof b), "root from HOME");
    T_EQ_STR(b, "/h/.cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", "/x", 1);
    T_CHECK(hfc_root(b, sizeof b), "root from XDG");
    T_EQ_STR(b, "/x/huggingface/hub");
    setenv("HF_HOME", "/hf", 1);
    T_CHECK(hfc_root(b, sizeof b), "root from HF_HOME");
    T_EQ_STR(b, "/hf/hub");
    setenv("HF_HUB_CACHE", "/c", 1);
    T_CHECK(hfc_root(b, sizeof b), "root from HF_HUB_CACHE");
    T_EQ_STR(b, "/c");
    setenv("HF_HUB_CACHE", "", 1); /* empty = unset, as the Hub's tools read it */
    T_CHECK(hfc_root(b, sizeof b), "empty HF_HUB_CACHE");
    T_EQ_STR(b, "/hf/hub");
    char tiny[4];
    T_CHECK(!hfc_root(tiny, sizeof tiny), "a root that does not fit is refused");
}

static void test_repo_dirname(void)
{
    char b[256];
    T_CHECK(hfc_repo_dirname("bartowski/Qwen2.5-1.5B-Instruct-GGUF", b, sizeof b), "valid repo");
    T_EQ_STR(b, "models--bartowski--Qwen2.5-1.5B-Instruct-GGUF");
    const char *bad[] = {"noslash", "a/b/c", "/b", "a/", "../b", "a/..", "a/.", "a b/c", "a/b:c", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_CHECK(!hfc_repo_dirname(bad[i], b, sizeof b), "\"%s\" must be refused", bad[i]);
}

static void test_quant_tags(void)
{
    T_CHECK(hfc_name_has_quant("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "q4_k_m"), "case-insensitive");
    T_CHECK(!hfc_name_has_quant("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "Q4_K"), "Q4_K is not Q4_K_M");
    T_CHECK(hfc_name_has_quant("x.IQ4_XS-00001-of-00002.gguf", "IQ4_XS"), "dot and dash delimit");
    T_CHECK(!hfc_name_has_quant("x-IQ4_XS.gguf", "Q4_XS"), "IQ4_XS does not carry Q4_XS");
    T_CHECK(!hfc_name_has_quant("x-Q4_0_4_4.gguf", "Q4_0"), "Q4_0_4_4 does not carry Q4_0");
    T_CHECK(hfc_name_has_quant("model_q8_0.gguf", "Q8_0"), "underscore on the left delimits");
    T_CHECK(hfc_name_has_quant("Q4_K_M/x-00001-of-00003.gguf", "Q4_K_M"), "a folder name carries it");
    T_CHECK(!hfc_name_has_quant("x.gguf", ""), "empty tag");
}

static void test_split_parts(void)
{
    int p = 0, c = 0;
    T_CHECK(hfc_split_part("m-Q8_0-00002-of-00003.gguf", &p, &c), "split name");
    T_EQ_INT(p, 2);
    T_EQ_INT(c, 3);
    T_CHECK(!hfc_split_part("m-Q8_0.gguf", &p, &c), "not split");
    T_CHECK(!hfc_split_part("m-00004-of-00003.gguf", NULL, NULL), "part past the count");
    T_CHECK(!hfc_split_part("m-00000-of-00003.gguf", NULL, NULL), "part 0");
    T_CHECK(!hfc_split_part("-00001-of-00003.gguf", NULL, NULL), "no stem");
    T_CHECK(!hfc_split_part("m-0001-of-00003.gguf", NULL, NULL), "four digits");
}

static void put(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = dir + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(dir, 0755);
            *s = '/';
        }
    T_CHECK(t_write_file(path, "x", 1), "write %s", path);
}

static void test_resolve_reads_the_snapshot_refs_main_names(void)
{
    const char *root = t_tmpdir();
    char b[2048], p[1024];
    setenv("HF_HUB_CACHE", root, 1);
    const char *r = "models--o--n";
    snprintf(p, sizeof p, "%s/%s/refs/main", root, r);
    put(p);
    T_CHECK(t_write_file(p, "c1\n", 3), "refs");
    const char *files[] = {"m-Q4_K_M.gguf", "m-Q8_0.gguf", "m-Q8_0-alt.gguf", "mmproj-F16.gguf",
                           "m-F16.gguf", "split/m-Q6_K-00001-of-00002.gguf",
                           "split/m-Q6_K-00002-of-00002.gguf", "m-Q5_K_M-00001-of-00002.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s/snapshots/c1/%s", root, r, files[i]);
        put(p);
    }
    /* A dangling link (blob gone) is not a cached file. */
    snprintf(p, sizeof p, "%s/%s/snapshots/c1/m-Q2_K.gguf", root, r);
    T_CHECK(symlink("../../blobs/nothere", p) == 0, "symlink");

    T_EQ_INT(hfc_resolve("o/n", NULL, b, sizeof b), 0);
    snprintf(p, sizeof p, "%s/%s/snapshots/c1/m-Q4_K_M.gguf", root, r);
    T_EQ_STR(b, p);
    T_EQ_INT(hfc_resolve("o/n", "f16", b, sizeof b), 0); /* the projector is not a candidate */
    T_EQ_INT(hfc_resolve("o/n", "q6_k", b, sizeof b), 0);
    snprintf(p, sizeof p, "%s/%s/snapshots/c1/split/m-Q6_K-00001-of-00002.gguf", root, r);
    T_EQ_STR(b, p);
    T_EQ_INT(hfc_resolve("o/n", "Q8_0", b, sizeof b), 2);
    T_EQ_STR(b, "m-Q8_0-alt.gguf, m-Q8_0.gguf");
    T_EQ_INT(hfc_resolve("o/n", "Q5_K_M", b, sizeof b), 1); /* part 2 missing */
    T_EQ_INT(hfc_resolve("o/n", "Q2_K", b, sizeof b), 1);
    T_EQ_INT(hfc_resolve("o/n", "Q3_K_S", b, sizeof b), 1);
    T_EQ_INT(hfc_resolve("o/other", NULL, b, sizeof b), 1);
    T_EQ_INT(hfc_resolve("bad", NULL, b, sizeof b), 1);
}

int main(void)
{
    test_root_follows_the_hubs_variables();
    test_repo_dirname();
    test_quant_tags();
    test_split_parts();
    test_resolve_reads_the_snapshot_refs_main_names();
    return t_done();
}
