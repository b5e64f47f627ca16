/*
 * ui_cmd.c - the slash commands (see ui_cmd.h).
 */
#include "ui_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui_clip.h"
#include "ui_md.h"

static const char *const names[] = {
    "/help", "/new", "/history", "/search", "/system", "/set", "/stats",
    "/panes", "/export", "/model", "/raw", "/code", "/copy", "/mouse", "/retry", "/edit",
    "/undo", "/think", "/clear", "/quit", NULL,
};

const char *const *ui_cmd_names(void)
{
    return names;
}

static const char help_text[] =
    "/help                 this list\n"
    "/new                  start a new conversation\n"
    "/history [ID]         past conversations (ID resumes one)\n"
    "/search TEXT          full-text search of the history\n"
    "/system [TEXT]        show the system prompt, or set it to TEXT\n"
    "/system --clear       no system prompt (also /system \"\")\n"
    "/set [KEY VALUE]      temp, top_k, top_p, min_p, repeat_penalty, seed, n\n"
    "                      (n 0 or -1: unlimited); /set alone lists them\n"
    "/stats                engine and history statistics\n"
    "/panes                show or hide the diagnostics (F2)\n"
    "F3                    a reasoning model's thinking: whole or folded\n"
    "/raw                  replies as raw text or as rendered Markdown\n"
    "/code [N]             code block N of the last reply whole (F4: the last)\n"
    "/copy [N]             copy the last reply (N: its N-th code block) to the\n"
    "                      clipboard, through the terminal (OSC 52)\n"
    "/mouse                wheel scrolling on/off (off: the terminal selects text)\n"
    "/retry                generate the last reply again (the old one stays in\n"
    "                      the history as an alternative)\n"
    "/edit                 change the last message and send it again\n"
    "/undo                 take the last exchange back\n"
    "/think [on|off]       a reasoning model thinks first or not (its template's\n"
    "                      enable_thinking)\n"
    "/export md|json FILE  write this conversation to FILE\n"
    "/model [NAME]         about the model and the local models; NAME (as -m\n"
    "                      takes it) switches to it, the conversation kept\n"
    "/clear                clear the screen\n"
    "/quit                 leave (also Ctrl-D on an empty line)\n"
    "Esc or Ctrl-C stops a reply; a trailing \\ or Alt-Enter continues the line.";

/* Splits "word rest": returns the rest (leading spaces skipped) and writes
 * the first word into w. */
static const char *word(const char *s, char *w, size_t cap)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = 0;
    while (*s && *s != ' ' && *s != '\t') {
        if (n + 1 < cap)
            w[n++] = *s;
        s++;
    }
    w[n] = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
}

void ui_cmd_list_history(ui_chat *c, int limit)
{
    chord_err err;
    hist *h = ui_chat_reader(c, &err);
    if (!h) {
        ui_chat_note(c, "%s", err.msg);
        return;
    }
    hist_conv_row *rows;
    int n;
    if (hist_list(h, limit, &rows, &n, &err) != CHORD_OK) {
        ui_chat_note(c, "%s", ui_chat_read_error(c, &err));
        return;
    }
    if (n == 0)
        ui_chat_note(c, "no conversations yet");
    for (int i = 0; i < n; i++) {
        char when[32];
        fmt_time(rows[i].updated_at, when, sizeof when);
        ui_chat_note(c, "%6lld  %s  %3d msgs  %s", (long long)rows[i].id, when, rows[i].n_msgs,
                     rows[i].title ? rows[i].title : "(untitled)");
    }
    if (n)
        ui_chat_note(c, "/history ID resumes one");
    hist_rows_free(rows, n);
}

static int cmd_history(ui_chat *c, const char *arg, bool tui)
{
    if (!*arg) {
        if (tui && (c->h || c->q))
            return UI_CMD_PICKER;
        ui_cmd_list_history(c, 20);
        return UI_CMD_REDRAW;
    }
    char *end;
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (errno || *end || id <= 0) {
        ui_chat_note(c, "usage: /history [ID]");
        return UI_CMD_REDRAW;
    }
    chord_err err;
    if (ui_chat_resume(c, id, &err) != CHORD_OK)
        ui_chat_note(c, "cannot resume %lld: %s", id, err.msg);
    else
        ui_chat_note(c, "resumed conversation %lld", id);
    return UI_CMD_REDRAW;
}

static int cmd_search(ui_chat *c, const char *arg)
{
    if ((c->h || c->q) && !*arg) {
        ui_chat_note(c, "usage: /search TEXT");
        return UI_CMD_REDRAW;
    }
    chord_err err;
    hist *h = ui_chat_reader(c, &err);
    if (!h) {
        ui_chat_note(c, "%s", err.msg);
        return UI_CMD_REDRAW;
    }
    hist_hit *hits;
    int n;
    if (hist_search(h, arg, 20, "[", "]", &hits, &n, &err) != CHORD_OK) {
        ui_chat_note(c, "search: %s", ui_chat_read_error(c, &err));
        return UI_CMD_REDRAW;
    }
    if (n == 0)
        ui_chat_note(c, "no match for \"%s\"", arg);
    for (int i = 0; i < n; i++)
        ui_chat_note(c, "%6lld  %-9s %s: %s", (long long)hits[i].conv_id, hits[i].role,
                     hits[i].title ? hits[i].title : "(untitled)", hits[i].snippet);
    if (n)
        ui_chat_note(c, "/history ID resumes one");
    hist_hits_free(hits, n);
    return UI_CMD_REDRAW;
}

/* The settings /set changes, one line each, with their values. */
static void set_list(ui_chat *c)
{
    const chord_sampler_params *p = &c->sp;
    char n[64];
    if (c->n_predict < 0)
        snprintf(n, sizeof n, "unlimited (until the end of the turn)");
    else
        snprintf(n, sizeof n, "%d", c->n_predict);
    ui_chat_note(c, "temp            %g%s\n"
                    "top_k           %d%s\n"
                    "top_p           %g\n"
                    "min_p           %g\n"
                    "repeat_penalty  %g\n"
                    "seed            %llu\n"
                    "n               %s (tokens per reply; 0 or -1: unlimited)\n"
                    "/set KEY VALUE changes one",
                 p->temp, p->temp <= 0 ? " (greedy)" : "", p->top_k, p->top_k <= 0 ? " (off)" : "",
                 p->top_p, p->min_p, p->repeat_penalty, (unsigned long long)p->seed, n);
}

/* /set KEY VALUE: checks the new settings as a whole before keeping them;
 * /set alone lists them. */
static int cmd_set(ui_chat *c, const char *arg)
{
    char key[32];
    const char *val = word(arg, key, sizeof key);
    if (!*key) {
        set_list(c);
        return UI_CMD_REDRAW;
    }
    if (!*val) {
        ui_chat_note(c, "usage: /set temp|top_k|top_p|min_p|repeat_penalty|seed|n VALUE (/set lists them)");
        return UI_CMD_REDRAW;
    }
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || *end || !isfinite(v)) {
        ui_chat_note(c, "/set %s: '%s' is not a number", key, val);
        return UI_CMD_REDRAW;
    }
    chord_sampler_params p = c->sp;
    int n_predict = c->n_predict;
    if (!strcmp(key, "temp"))
        p.temp = (float)v;
    else if (!strcmp(key, "top_k"))
        p.top_k = (int)v;
    else if (!strcmp(key, "top_p"))
        p.top_p = (float)v;
    else if (!strcmp(key, "min_p"))
        p.min_p = (float)v;
    else if (!strcmp(key, "repeat_penalty"))
        p.repeat_penalty = (float)v;
    else if (!strcmp(key, "seed") && v >= 0)
        p.seed = (uint64_t)v;
    else if (!strcmp(key, "n") && v >= -1 && v <= 1e9 && v == floor(v))
        n_predict = v <= 0 ? -1 : (int)v;   /* 0 and -1: no limit */
    else {
        ui_chat_note(c, "/set: unknown key or bad value '%s %s'", key, val);
        return UI_CMD_REDRAW;
    }
    if ((!strcmp(key, "top_k") || !strcmp(key, "seed")) && v != floor(v)) {
        ui_chat_note(c, "/set %s: needs a whole number", key);
        return UI_CMD_REDRAW;
    }
    chord_err err;
    if (chord_sampler_check(&p, &err) != CHORD_OK) {
        ui_chat_note(c, "/set: %s", err.msg);
        return UI_CMD_REDRAW;
    }
    c->sp = p;
    c->n_predict = n_predict;
    char s[160];
    ui_chat_sampling_str(c, s, sizeof s);
    if (c->n_predict < 0)
        ui_chat_note(c, "sampling: %s; n unlimited", s);
    else
        ui_chat_note(c, "sampling: %s; n %d", s, c->n_predict);
    return UI_CMD_REDRAW;
}

static int cmd_stats(ui_chat *c)
{
    chord_stats st;
    chord_stats_get(c->model, &st);
    double pt = c->last_prompt_ms > 0 ? c->last_n_prompt * 1e3 / c->last_prompt_ms : 0;
    double gt = c->last_gen_ms > 0 ? c->last_n_gen * 1e3 / c->last_gen_ms : 0;
    ui_chat_note(c, "last reply: prompt %d tok in %.0f ms (%.1f tok/s; %d more reused from the cache), gen %d tok in %.0f ms (%.1f tok/s), first token %.0f ms",
                 c->last_n_prompt, c->last_prompt_ms, pt, c->last_n_reuse, c->last_n_gen, c->last_gen_ms, gt, c->last_ttft_ms);
    ui_chat_note(c, "context %d / %d; layers %d (%s), resident %d, slots %d, prefetch %d",
                 st.ctx_used, st.ctx_size, st.n_layer,
                 st.streaming ? "streaming" : "all resident", st.n_resident, st.n_slots, st.prefetch_distance);
    const char *size_note = chord_ctx_size_note(c->ctx, NULL);
    if (*size_note)
        ui_chat_note(c, "%s", size_note);
    char b1[32], b2[32];
    if (st.streaming) {
        ui_fmt_bytes((double)st.bytes_read, b1, sizeof b1);
        ui_chat_note(c, "prefetch: hits %llu, stalls %llu (%.0f ms), evictions %llu, read %s (%.0f MB/s)",
                     (unsigned long long)st.hits, (unsigned long long)st.stalls, st.stall_ms,
                     (unsigned long long)st.evictions, b1, st.read_mb_s);
    }
    ui_fmt_bytes((double)st.budget_used_bytes, b1, sizeof b1);
    ui_fmt_bytes((double)st.budget_bytes, b2, sizeof b2);
    ui_chat_note(c, "memory: %s / %s of the budget", b1, b2);
    char hl[700];
    ui_chat_hist_line(c, hl, sizeof hl);
    ui_chat_note(c, "%s", hl);
    chord_err err;
    hist *h = c->q || c->h ? ui_chat_reader(c, &err) : NULL;
    if (c->q && !h && !c->hq.failed) {
        ui_chat_note(c, "%s", err.msg);
    } else if (h) {
        hist_stats hs;
        if (hist_stats_get(h, &hs, &err) == CHORD_OK) {
            ui_fmt_bytes((double)hs.db_bytes, b1, sizeof b1);
            ui_chat_note(c, "history: %lld conversations, %lld messages, %lld tokens, %s (%s)",
                         (long long)hs.n_convs, (long long)hs.n_msgs,
                         (long long)(hs.n_prompt_tokens + hs.n_gen_tokens), b1,
                         hist_path(h));
            hist_stats_free(&hs);
        } else {
            ui_chat_note(c, "%s", ui_chat_read_error(c, &err));
        }
    }
    return UI_CMD_REDRAW;
}

static int cmd_export(ui_chat *c, const char *arg)
{
    char fmtw[16];
    const char *path = word(arg, fmtw, sizeof fmtw);
    bool md = !strcmp(fmtw, "md"), json = !strcmp(fmtw, "json");
    if ((!md && !json) || !*path) {
        ui_chat_note(c, "usage: /export md|json FILE");
        return UI_CMD_REDRAW;
    }
    chord_err err;
    if (!c->h && !c->q) {
        ui_chat_note(c, "history is off (--no-history): nothing to export");
        return UI_CMD_REDRAW;
    }
    /* what this session wrote is in the file once the writer is done: a
     * short bounded wait, else "history busy" */
    if (c->conv_ref && !ui_chat_hist_sync(c, UI_HIST_SYNC_MS, &err)) {
        ui_chat_note(c, "/export: %s", err.msg);
        return UI_CMD_REDRAW;
    }
    if (!c->conv_id) {
        ui_chat_note(c, "nothing to export yet");
        return UI_CMD_REDRAW;
    }
    hist *h = ui_chat_reader(c, &err);
    if (!h) {
        ui_chat_note(c, "/export: %s", err.msg);
        return UI_CMD_REDRAW;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        ui_chat_note(c, "/export: %s: %s", path, strerror(errno));
        return UI_CMD_REDRAW;
    }
    chord_status st = md ? hist_export_md(h, c->conv_id, f, &err)
                         : hist_export_json(h, c->conv_id, f, &err);
    int cerr = fclose(f) != 0 ? errno : 0;
    if (st != CHORD_OK)
        ui_chat_note(c, "/export: %s", ui_chat_read_error(c, &err));
    else if (cerr)
        ui_chat_note(c, "/export: %s: %s", path, strerror(cerr));
    else
        ui_chat_note(c, "exported conversation %lld to %s", (long long)c->conv_id, path);
    return UI_CMD_REDRAW;
}

static void model_about(ui_chat *c)
{
    const chord_model_info *i = &c->info;
    char fb[32];
    ui_fmt_bytes(i->file_bytes, fb, sizeof fb);
    ui_chat_note(c, "%s (%s, %s): %.1fM params, %d layers, dim %d, heads %d/%d, ffn %d, vocab %d, trained ctx %d",
                 i->name ? i->name : "?", i->arch ? i->arch : "?", i->type_name ? i->type_name : "?",
                 i->n_params / 1e6, i->n_layer, i->n_embd, i->n_head, i->n_head_kv, i->n_ff,
                 i->n_vocab, i->n_ctx_train);
    ui_chat_note(c, "file %s (%s); SIMD %s", c->model_path ? c->model_path : "?", fb,
                 chord_simd_level());
    const char *plan = chord_model_plan(c->model);
    if (plan && *plan)
        ui_chat_note(c, "%s", plan);
}

void ui_cmd_switch(ui_chat *c)
{
    char *spec = c->switch_req;
    c->switch_req = NULL;
    if (!spec)
        return;
    chord_err err = {{0}};
    if (ui_chat_switch_model(c, spec, &err) != CHORD_OK) {
        if (!strncmp(err.msg, spec, strlen(spec)))   /* it names the model already */
            ui_chat_note(c, "/model: %s", err.msg);
        else
            ui_chat_note(c, "/model %s: %s", spec, err.msg);
    } else {
        int n = 0;
        for (int i = 0; i < c->n_msgs; i++)
            n += c->msgs[i].role != UI_ROLE_NOTE;
        ui_chat_note(c, "now chatting with %s (%s %s)%s%s", c->info.name ? c->info.name : spec,
                     c->info.arch ? c->info.arch : "?", c->info.type_name ? c->info.type_name : "",
                     n ? "; the conversation goes on through its chat template" : "",
                     n && c->q ? " (in the history: a new conversation for this model)" : "");
    }
    free(spec);
}

/* /model: about the model, and the local models (the TUI: a picker);
 * /model NAME: switches (the front end loads after saying so). */
static int cmd_model(ui_chat *c, const char *arg, bool tui)
{
    if (*arg) {
        if (ui_chat_busy(c)) {
            ui_chat_note(c, "/model: a reply is running (Esc stops it)");
            return UI_CMD_REDRAW;
        }
        free(c->switch_req);
        c->switch_req = strdup(arg);
        if (!c->switch_req) {
            ui_chat_note(c, "/model: out of memory");
            return UI_CMD_REDRAW;
        }
        ui_chat_note(c, "loading %s...", arg);
        if (tui)
            return UI_CMD_SWITCH | UI_CMD_REDRAW;
        ui_cmd_switch(c);
        return UI_CMD_REDRAW;
    }
    model_about(c);
    if (!c->model_list)
        return UI_CMD_REDRAW;
    if (tui)
        return UI_CMD_MODEL | UI_CMD_REDRAW;
    ui_model_item *v = NULL;
    int n = c->model_list(c->model_ud, &v);
    if (n < 0)
        ui_chat_note(c, "/model: the local models could not be listed");
    else if (n == 0)
        ui_chat_note(c, "no local models found (chord models says where it looks); /model FILE loads a file");
    for (int i = 0; i < n; i++)
        ui_chat_note(c, "  %-40s %s", v[i].name, v[i].detail);
    if (n > 0)
        ui_chat_note(c, "/model NAME switches to one");
    ui_model_items_free(v, n);
    return UI_CMD_REDRAW;
}

/* /code [N]: the TUI opens its viewer; the REPL prints the block. */
static int cmd_code(ui_chat *c, const char *arg, bool tui)
{
    char *end;
    errno = 0;
    long n = *arg ? strtol(arg, &end, 10) : 0;
    if (*arg && (errno || *end || n < 1 || n > 100000)) {
        ui_chat_note(c, "usage: /code [N]  (N: the N-th code block of the last reply)");
        return UI_CMD_REDRAW;
    }
    c->code_req = (int)n;
    if (tui)
        return UI_CMD_CODE | UI_CMD_REDRAW;
    const ui_msg *m = NULL;
    for (int i = c->n_msgs - 1; i >= 0 && !m; i--)
        if (c->msgs[i].role == UI_ROLE_ASSISTANT && c->msgs[i].len)
            m = &c->msgs[i];
    ui_md_code *v = NULL;
    int k = m ? ui_md_codes(m->text, m->len, &v) : 0;
    if (n == 0)
        n = k;
    if (k <= 0)
        ui_chat_note(c, "the last reply has no code block");
    else if (n > k)
        ui_chat_note(c, "the last reply has %d code block%s", k, k == 1 ? "" : "s");
    else
        ui_chat_note(c, "%s", v[n - 1].text);
    ui_md_codes_free(v, k > 0 ? k : 0);
    return UI_CMD_REDRAW;
}

/* /system: shows it; TEXT sets it; --clear or "" clears it. */
static int cmd_system(ui_chat *c, const char *arg)
{
    if (!*arg) {
        const char *sp = chord_chat_system(c->sess);
        if (sp)
            ui_chat_note(c, "system prompt: %s", sp);
        else
            ui_chat_note(c, "no system prompt (/system TEXT sets one)");
        return UI_CMD_REDRAW;
    }
    bool clear = !strcmp(arg, "--clear") || !strcmp(arg, "\"\"") || !strcmp(arg, "''");
    ui_chat_set_system(c, clear ? NULL : arg);
    ui_chat_note(c, clear ? "system prompt cleared" : "system prompt set");
    return UI_CMD_REDRAW;
}

/* /copy [N]: hands the text to the front end (c->clip), which writes the
 * OSC 52 sequence to the terminal. */
static int cmd_copy(ui_chat *c, const char *arg)
{
    char *end;
    errno = 0;
    long n = *arg ? strtol(arg, &end, 10) : 0;
    if (*arg && (errno || *end || n < 1 || n > 100000)) {
        ui_chat_note(c, "usage: /copy [N]  (N: the N-th code block of the last reply)");
        return UI_CMD_REDRAW;
    }
    const ui_msg *m = ui_chat_last_reply(c);
    if (!m) {
        ui_chat_note(c, "/copy: no reply to copy yet");
        return UI_CMD_REDRAW;
    }
    const char *s = m->text;
    size_t len = m->len;
    if (n) {
        int k = ui_clip_code_block(m->text, m->len, (int)n, &s, &len);
        if (n > k) {
            if (k)
                ui_chat_note(c, "/copy: no code block %ld (the last reply has %d)", n, k);
            else
                ui_chat_note(c, "/copy: no code block %ld (the last reply has none)", n);
            return UI_CMD_REDRAW;
        }
    }
    char *t = malloc(len + 1);
    if (!t) {
        ui_chat_note(c, "/copy: out of memory");
        return UI_CMD_REDRAW;
    }
    memcpy(t, s, len);
    t[len] = 0;
    free(c->clip);
    c->clip = t;
    c->clip_len = len;
    if (n)
        ui_chat_note(c, "copied code block %ld of the last reply (%zu bytes) to the clipboard", n, len);
    else
        ui_chat_note(c, "copied the last reply (%zu bytes) to the clipboard", len);
    return UI_CMD_COPY | UI_CMD_REDRAW;
}

/* /think [on|off]: the template's enable_thinking. */
static int cmd_think(ui_chat *c, const char *arg)
{
    bool has = chord_chat_thinking_switch(c->sess);
    chord_thinking cur = chord_chat_get_thinking(c->sess);
    if (!*arg) {
        if (!has)
            ui_chat_note(c, "/think: this model's chat template has no thinking switch (enable_thinking)");
        else
            ui_chat_note(c, "thinking: %s (/think on|off)", cur == CHORD_THINK_OFF ? "off" : cur == CHORD_THINK_ON ? "on" : "the template's default (on)");
        return UI_CMD_REDRAW;
    }
    bool on = !strcmp(arg, "on"), off = !strcmp(arg, "off");
    if (!on && !off) {
        ui_chat_note(c, "usage: /think [on|off]");
        return UI_CMD_REDRAW;
    }
    if (!has) {
        ui_chat_note(c, "/think: this model's chat template has no thinking switch (enable_thinking): nothing changes");
        return UI_CMD_REDRAW;
    }
    chord_chat_set_thinking(c->sess, on ? CHORD_THINK_ON : CHORD_THINK_OFF);
    ui_chat_note(c, on ? "thinking on: the model reasons before it answers"
                       : "thinking off: the model answers at once");
    return UI_CMD_REDRAW;
}

int ui_cmd_run(ui_chat *c, const char *line, bool tui)
{
    char name[32];
    const char *arg = word(line, name, sizeof name);
    if (!strcmp(name, "/help")) {
        ui_chat_note(c, "%s", help_text);
        return UI_CMD_REDRAW;
    }
    if (!strcmp(name, "/quit") || !strcmp(name, "/exit"))
        return UI_CMD_QUIT;
    if (!strcmp(name, "/new")) {
        ui_chat_new(c);
        ui_chat_note(c, "new conversation");
        return UI_CMD_REDRAW;
    }
    if (!strcmp(name, "/history"))
        return cmd_history(c, arg, tui);
    if (!strcmp(name, "/search"))
        return cmd_search(c, arg);
    if (!strcmp(name, "/system"))
        return cmd_system(c, arg);
    if (!strcmp(name, "/copy"))
        return cmd_copy(c, arg);
    if (!strcmp(name, "/mouse")) {
        if (tui)
            return UI_CMD_MOUSE | UI_CMD_REDRAW;   /* the TUI says the new state */
        ui_chat_note(c, "/mouse: the REPL leaves the mouse to the terminal");
        return UI_CMD_REDRAW;
    }
    if (!strcmp(name, "/retry") || !strcmp(name, "/undo")) {
        chord_err err;
        bool retry = name[1] == 'r';
        if ((retry ? ui_chat_retry(c, &err) : ui_chat_undo(c, &err)) != CHORD_OK)
            ui_chat_note(c, "%s: %s", name, err.msg);
        else if (!retry)
            ui_chat_note(c, "took the last exchange back");
        return UI_CMD_REDRAW;
    }
    if (!strcmp(name, "/edit")) {
        chord_err err;
        if (!ui_chat_edit_begin(c, &err)) {
            ui_chat_note(c, "/edit: %s", err.msg);
            return UI_CMD_REDRAW;
        }
        return UI_CMD_EDIT | UI_CMD_REDRAW;
    }
    if (!strcmp(name, "/think"))
        return cmd_think(c, arg);
    if (!strcmp(name, "/set"))
        return cmd_set(c, arg);
    if (!strcmp(name, "/stats"))
        return cmd_stats(c);
    if (!strcmp(name, "/panes"))
        return UI_CMD_PANES;
    if (!strcmp(name, "/export"))
        return cmd_export(c, arg);
    if (!strcmp(name, "/model"))
        return cmd_model(c, arg, tui);
    if (!strcmp(name, "/raw")) {
        if (!tui) {
            ui_chat_note(c, "this plain mode prints replies as written (the TUI renders them)");
            return UI_CMD_REDRAW;
        }
        c->raw_view = !c->raw_view;
        c->version++;
        ui_chat_note(c, c->raw_view ? "replies shown as raw text (/raw again renders them)"
                                    : "replies shown as rendered Markdown");
        return UI_CMD_REDRAW;
    }
    if (!strcmp(name, "/code"))
        return cmd_code(c, arg, tui);
    if (!strcmp(name, "/clear")) {
        c->view_start = c->n_msgs;
        c->version++;
        return UI_CMD_CLEAR | UI_CMD_REDRAW;
    }
    ui_chat_note(c, "unknown command %s (see /help)", name);
    return UI_CMD_REDRAW;
}
