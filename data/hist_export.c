/*
 * hist_export.c - a conversation as JSON or Markdown. `chord history show`
 * and `chord history export` both print through these, so their outputs
 * are the same bytes by construction.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "hist_int.h"

/* "2026-11-27T01:15:16.123Z" */
static void iso_utc(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, cap, "?");
        return;
    }
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", base, (int)(ms % 1000));
}

static void json_str(FILE *f, const char *s)
{
    if (s)
        chord_json_write_str(f, s, strlen(s));
    else
        fputs("null", f);
}

/* The stored parameters are JSON already (checked on insert); a value that
 * does not parse (written by something else) is exported as a string. */
static void json_params(FILE *f, const char *params)
{
    chord_err e;
    chord_json *j = params ? chord_json_parse(params, strlen(params), &e) : NULL;
    if (j)
        fputs(params, f);
    else
        json_str(f, params);
    chord_json_free(j);
}

static chord_status finish(hist *h, FILE *f, chord_err *err)
{
    if (fflush(f) != 0 || ferror(f))
        return hist_err(h, err, CHORD_E_IO, "writing the export failed: %s", strerror(errno));
    return CHORD_OK;
}

chord_status hist_export_json(hist *h, int64_t id, FILE *f, chord_err *err)
{
    hist_conv *c;
    chord_status st = hist_conv_load(h, id, &c, err);
    if (st != CHORD_OK)
        return st;
    char t1[40], t2[40];
    iso_utc(c->created_at, t1, sizeof t1);
    iso_utc(c->updated_at, t2, sizeof t2);
    fprintf(f, "{\"id\": %lld, \"title\": ", (long long)c->id);
    json_str(f, c->title);
    fputs(", \"model\": ", f);
    json_str(f, c->model);
    fputs(", \"arch\": ", f);
    json_str(f, c->arch);
    fputs(",\n \"system_prompt\": ", f);
    json_str(f, c->system_prompt);
    fputs(",\n \"params\": ", f);
    json_params(f, c->params_json);
    fprintf(f, ",\n \"created_at\": \"%s\", \"updated_at\": \"%s\",\n \"messages\": [", t1, t2);
    for (int i = 0; i < c->n_msgs; i++) {
        const hist_msg *m = &c->msgs[i];
        iso_utc(m->created_at, t1, sizeof t1);
        fprintf(f, "%s\n  {\"id\": %lld, \"seq\": %d, \"role\": ", i ? "," : "",
                (long long)m->id, m->seq);
        json_str(f, m->role);
        fprintf(f, ", \"status\": \"%s\", \"created_at\": \"%s\",\n   \"n_prompt\": %d,"
                   " \"n_gen\": %d, \"prompt_ms\": %.3f, \"gen_ms\": %.3f,\n   \"content\": ",
                hist_status_name(m->status), t1, m->counts.n_prompt, m->counts.n_gen,
                m->counts.prompt_ms, m->counts.gen_ms);
        chord_json_write_str(f, m->content, m->len);
        if (m->reasoning_len) {
            fputs(",\n   \"reasoning\": ", f);
            chord_json_write_str(f, m->reasoning, m->reasoning_len);
        }
        if (m->superseded)   /* taken back in the chat (/retry, /edit, /undo) */
            fprintf(f, ",\n   \"superseded\": \"%s\"", hist_mark_name((hist_mark)m->superseded));
        fputc('}', f);
    }
    fputs(c->n_msgs ? "\n ]}\n" : "]}\n", f);
    hist_conv_free(c);
    return finish(h, f, err);
}

/* "2026-11-27 02:15" in local time, for people. */
static void local_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, cap, "?");
}

static const char *role_heading(const char *role)
{
    if (!strcmp(role, "user"))
        return "User";
    if (!strcmp(role, "assistant"))
        return "Assistant";
    if (!strcmp(role, "system"))
        return "System";
    return role;
}

chord_status hist_export_md(hist *h, int64_t id, FILE *f, chord_err *err)
{
    hist_conv *c;
    chord_status st = hist_conv_load(h, id, &c, err);
    if (st != CHORD_OK)
        return st;
    char t1[40], t2[40];
    local_time(c->created_at, t1, sizeof t1);
    local_time(c->updated_at, t2, sizeof t2);
    fprintf(f, "# %s\n\n", c->title && c->title[0] ? c->title : "(untitled)");
    fprintf(f, "- conversation: %lld\n", (long long)c->id);
    fprintf(f, "- model: %s%s%s%s\n", c->model, c->arch ? " (" : "", c->arch ? c->arch : "",
            c->arch ? ")" : "");
    fprintf(f, "- started: %s, last activity: %s\n", t1, t2);
    fprintf(f, "- parameters: `%s`\n", c->params_json ? c->params_json : "{}");
    if (c->system_prompt && c->system_prompt[0])
        fprintf(f, "\n## System prompt\n\n%s\n", c->system_prompt);
    for (int i = 0; i < c->n_msgs; i++) {
        const hist_msg *m = &c->msgs[i];
        if (m->superseded)   /* taken back in the chat: listed, said so */
            fprintf(f, "\n## %s (%s)\n\n", role_heading(m->role),
                    hist_mark_name((hist_mark)m->superseded));
        else
            fprintf(f, "\n## %s\n\n", role_heading(m->role));
        size_t ra, rb;
        if (hist_trim(m->reasoning, m->reasoning_len, &ra, &rb))
            fprintf(f, "<details><summary>Reasoning</summary>\n\n%.*s\n\n</details>\n\n",
                    (int)(rb - ra), m->reasoning + ra);
        fwrite(m->content, 1, m->len, f);
        if (m->len && m->content[m->len - 1] != '\n')
            fputc('\n', f);
        if (m->status != HIST_COMPLETE)
            fprintf(f, "\n*(%s)*\n", hist_status_name(m->status));
        if (m->counts.n_gen > 0) {
            double tps = m->counts.gen_ms > 0 ? m->counts.n_gen * 1000.0 / m->counts.gen_ms : 0;
            fprintf(f, "\n*%d prompt tokens, %d generated", m->counts.n_prompt, m->counts.n_gen);
            if (tps > 0)
                fprintf(f, ", %.1f tok/s", tps);
            fputs("*\n", f);
        }
    }
    hist_conv_free(c);
    return finish(h, f, err);
}
