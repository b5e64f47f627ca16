/*
 * hist_read.c - reading history back: a whole conversation (for resume and
 * export), the list, full-text search, prompts for readline, statistics;
 * and deleting a conversation.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hist_int.h"

static chord_status oom(const hist *h, chord_err *err, const char *doing)
{
    return hist_err(h, err, CHORD_E_NOMEM, "out of memory (while %s)", doing);
}

/* Grows *v (elements of size sz) to hold at least n + 1. */
static bool grow(void **v, int n, int *cap, size_t sz)
{
    if (n < *cap)
        return true;
    int c = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, (size_t)c * sz);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}

/* ---------------------------------------------------------------------------
 * One conversation
 * ------------------------------------------------------------------------- */

bool hist_trim(const char *text, size_t len, size_t *a, size_t *b)
{
    size_t i = 0, j = len;
    while (i < j && strchr(" \t\r\n", text[i]))
        i++;
    while (j > i && strchr(" \t\r\n", text[j - 1]))
        j--;
    *a = i;
    *b = j;
    return j > i;
}

void hist_conv_free(hist_conv *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_msgs; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
        free(c->msgs[i].reasoning);
    }
    free(c->msgs);
    free(c->title);
    free(c->model);
    free(c->arch);
    free(c->system_prompt);
    free(c->params_json);
    free(c);
}

static chord_status load_msgs(hist *h, hist_conv *c, const char *doing, chord_err *err)
{
    sqlite3_stmt *q;
    chord_status st = hist_prep(h, h->version >= 4
        ? "SELECT id, seq, role, content, status, n_prompt, n_gen, prompt_ms, gen_ms,"
          " created_at, reasoning, superseded FROM messages WHERE conversation_id = ? ORDER BY seq"
        : h->version >= 3
        ? "SELECT id, seq, role, content, status, n_prompt, n_gen, prompt_ms, gen_ms,"
          " created_at, reasoning, 0 FROM messages WHERE conversation_id = ? ORDER BY seq"
        : "SELECT id, seq, role, content, status, n_prompt, n_gen, prompt_ms, gen_ms,"
          " created_at, '', 0 FROM messages WHERE conversation_id = ? ORDER BY seq", &q, doing, err);
    if (st != CHORD_OK)
        return st;
    sqlite3_bind_int64(q, 1, c->id);
    int cap = 0, rc;
    bool no_mem = false;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!grow((void **)&c->msgs, c->n_msgs, &cap, sizeof *c->msgs)) {
            no_mem = true;
            break;
        }
        hist_msg *m = &c->msgs[c->n_msgs];
        memset(m, 0, sizeof *m);
        c->n_msgs++;
        m->id = sqlite3_column_int64(q, 0);
        m->seq = sqlite3_column_int(q, 1);
        m->role = hist_col_dup(q, 2, NULL, &no_mem);
        m->content = hist_col_dup(q, 3, &m->len, &no_mem);
        m->status = hist_status_parse((const char *)sqlite3_column_text(q, 4));
        m->counts.n_prompt = sqlite3_column_int(q, 5);
        m->counts.n_gen = sqlite3_column_int(q, 6);
        m->counts.prompt_ms = sqlite3_column_double(q, 7);
        m->counts.gen_ms = sqlite3_column_double(q, 8);
        m->created_at = sqlite3_column_int64(q, 9);
        m->reasoning = hist_col_dup(q, 10, &m->reasoning_len, &no_mem);
        m->superseded = sqlite3_column_int(q, 11);
        if (!m->content && !no_mem)
            m->content = calloc(1, 1);
        if (!m->reasoning && !no_mem)
            m->reasoning = calloc(1, 1);
        if (no_mem || !m->content || !m->role || !m->reasoning) {
            no_mem = true;
            break;
        }
    }
    sqlite3_finalize(q);
    if (no_mem)
        return oom(h, err, doing);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CHORD_OK : hist_sqlerr(h, err, rc, doing);
}

chord_status hist_conv_load(hist *h, int64_t id, hist_conv **out, chord_err *err)
{
    const char *doing = "loading a conversation";
    *out = NULL;
    /* One read transaction, so the messages match the conversation row even
     * while another process appends. */
    int rc = sqlite3_exec(h->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return hist_sqlerr(h, err, rc, doing);
    sqlite3_stmt *q;
    chord_status st = hist_prep(h,
        "SELECT title, model, arch, system_prompt, params_json, created_at, updated_at"
        " FROM conversations WHERE id = ?", &q, doing, err);
    hist_conv *c = NULL;
    if (st != CHORD_OK)
        goto done;
    sqlite3_bind_int64(q, 1, id);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        st = rc == SQLITE_DONE
           ? hist_err(h, err, CHORD_E_INVALID, "no conversation %lld", (long long)id)
           : hist_sqlerr(h, err, rc, doing);
        sqlite3_finalize(q);
        goto done;
    }
    c = calloc(1, sizeof *c);
    bool no_mem = !c;
    if (c) {
        c->id = id;
        c->title = hist_col_dup(q, 0, NULL, &no_mem);
        c->model = hist_col_dup(q, 1, NULL, &no_mem);
        c->arch = hist_col_dup(q, 2, NULL, &no_mem);
        c->system_prompt = hist_col_dup(q, 3, NULL, &no_mem);
        c->params_json = hist_col_dup(q, 4, NULL, &no_mem);
        c->created_at = sqlite3_column_int64(q, 5);
        c->updated_at = sqlite3_column_int64(q, 6);
    }
    sqlite3_finalize(q);
    if (no_mem) {
        st = oom(h, err, doing);
        goto done;
    }
    st = load_msgs(h, c, doing, err);
done:
    sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);   /* read-only: cannot fail usefully */
    if (st != CHORD_OK) {
        hist_conv_free(c);
        return st;
    }
    *out = c;
    return CHORD_OK;
}

/* Runs a query that yields one integer (or none: *out = 0). */
static chord_status query_int(hist *h, const char *sql, int64_t arg, bool has_arg,
                              int64_t *out, const char *doing, chord_err *err)
{
    sqlite3_stmt *q;
    chord_status st = hist_prep(h, sql, &q, doing, err);
    if (st != CHORD_OK)
        return st;
    if (has_arg)
        sqlite3_bind_int64(q, 1, arg);
    int rc = sqlite3_step(q);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CHORD_OK : hist_sqlerr(h, err, rc, doing);
}

chord_status hist_conv_last(hist *h, int64_t *id, chord_err *err)
{
    return query_int(h, "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1",
                     0, false, id, "finding the last conversation", err);
}

chord_status hist_conv_exists(hist *h, int64_t id, bool *exists, chord_err *err)
{
    int64_t n;
    chord_status st = query_int(h, "SELECT count(*) FROM conversations WHERE id = ?", id, true,
                                &n, "looking up a conversation", err);
    *exists = st == CHORD_OK && n > 0;
    return st;
}

chord_status hist_conv_delete(hist *h, int64_t id, chord_err *err)
{
    const char *doing = "deleting a conversation";
    chord_status st = hist_check_writable(h, err);
    if (st != CHORD_OK)
        return st;
    if ((st = hist_tx_begin(h, doing, err)) != CHORD_OK)
        return st;
    if ((st = hist_conv_check(h, id, doing, err)) != CHORD_OK)
        goto fail;
    /* Messages first (their delete trigger removes the search entries),
     * then the conversation: no reliance on cascades. */
    static const char *const sql[] = {
        "DELETE FROM messages WHERE conversation_id = ?",
        "DELETE FROM conversations WHERE id = ?",
    };
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *q;
        if ((st = hist_prep(h, sql[i], &q, doing, err)) != CHORD_OK)
            goto fail;
        sqlite3_bind_int64(q, 1, id);
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            st = hist_sqlerr(h, err, rc, doing);
            goto fail;
        }
    }
    return hist_tx_commit(h, doing, err);
fail:
    hist_tx_rollback(h);
    return st;
}

/* ---------------------------------------------------------------------------
 * List
 * ------------------------------------------------------------------------- */

void hist_rows_free(hist_conv_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].title);
        free(rows[i].model);
    }
    free(rows);
}

chord_status hist_list(hist *h, int limit, hist_conv_row **rows, int *n, chord_err *err)
{
    const char *doing = "listing conversations";
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *q;
    /* The activity index serves the ORDER BY and LIMIT; the count is one
     * index range per listed conversation (UNIQUE(conversation_id, seq)). */
    chord_status st = hist_prep(h,
        "SELECT c.id, c.title, c.model, c.created_at, c.updated_at,"
        " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
        " FROM conversations c ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
        &q, doing, err);
    if (st != CHORD_OK)
        return st;
    sqlite3_bind_int(q, 1, limit > 0 ? limit : -1);
    hist_conv_row *v = NULL;
    int cap = 0, count = 0, rc;
    bool no_mem = false;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!grow((void **)&v, count, &cap, sizeof *v)) {
            no_mem = true;
            break;
        }
        hist_conv_row *r = &v[count++];
        r->id = sqlite3_column_int64(q, 0);
        r->title = hist_col_dup(q, 1, NULL, &no_mem);
        r->model = hist_col_dup(q, 2, NULL, &no_mem);
        r->created_at = sqlite3_column_int64(q, 3);
        r->updated_at = sqlite3_column_int64(q, 4);
        r->n_msgs = sqlite3_column_int(q, 5);
        if (no_mem)
            break;
    }
    sqlite3_finalize(q);
    if (no_mem || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        hist_rows_free(v, count);
        return no_mem ? oom(h, err, doing) : hist_sqlerr(h, err, rc, doing);
    }
    *rows = v;
    *n = count;
    return CHORD_OK;
}

/* ---------------------------------------------------------------------------
 * Search
 * ------------------------------------------------------------------------- */

/* Turns user text into an FTS5 query that cannot be a syntax error: each
 * whitespace-separated word becomes a quoted string (inner quotes doubled),
 * so AND/OR/NEAR, parentheses, colons and quotes are just text; a trailing
 * '*' stays outside the quotes as a prefix marker. Words with no letter or
 * digit are dropped (the tokenizer would find nothing in them). Returns a
 * malloc'd query, "" when no word is left, or NULL when out of memory. */
static char *fts_query(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(3 * n + 1);   /* worst case: every char a quote */
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = text;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        const char *end = p;
        bool prefix = false;
        while (end > w && end[-1] == '*') {
            end--;
            prefix = true;
        }
        bool searchable = false;
        for (const char *c = w; c < end; c++)
            if (isalnum((unsigned char)*c) || (unsigned char)*c >= 0x80)
                searchable = true;
        if (!searchable)
            continue;
        if (o)
            out[o++] = ' ';
        out[o++] = '"';
        for (const char *c = w; c < end; c++) {
            if (*c == '"')
                out[o++] = '"';
            out[o++] = *c;
        }
        out[o++] = '"';
        if (prefix)
            out[o++] = '*';
    }
    out[o] = 0;
    return out;
}

void hist_hits_free(hist_hit *hits, int n)
{
    for (int i = 0; hits && i < n; i++) {
        free(hits[i].role);
        free(hits[i].title);
        free(hits[i].snippet);
    }
    free(hits);
}

chord_status hist_search(hist *h, const char *query, int limit,
                         const char *hl_open, const char *hl_close,
                         hist_hit **hits, int *n, chord_err *err)
{
    const char *doing = "searching";
    *hits = NULL;
    *n = 0;
    char *fq = fts_query(query ? query : "");
    if (!fq)
        return oom(h, err, doing);
    if (!fq[0]) {
        free(fq);
        return hist_err(h, err, CHORD_E_INVALID, "nothing to search for in '%s'",
                        query ? query : "");
    }
    sqlite3_stmt *q;
    chord_status st = hist_prep(h,
        "SELECT m.conversation_id, m.id, m.seq, m.role, c.title,"
        " snippet(messages_fts, 0, ?2, ?3, '...', 12), messages_fts.rank"
        " FROM messages_fts"
        " JOIN messages m ON m.id = messages_fts.rowid"
        " JOIN conversations c ON c.id = m.conversation_id"
        " WHERE messages_fts MATCH ?1 ORDER BY messages_fts.rank LIMIT ?4",
        &q, doing, err);
    if (st != CHORD_OK) {
        free(fq);
        return st;
    }
    sqlite3_bind_text(q, 1, fq, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, hl_open ? hl_open : "[", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, hl_close ? hl_close : "]", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, limit > 0 ? limit : -1);
    hist_hit *v = NULL;
    int cap = 0, count = 0, rc;
    bool no_mem = false;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!grow((void **)&v, count, &cap, sizeof *v)) {
            no_mem = true;
            break;
        }
        hist_hit *x = &v[count++];
        x->conv_id = sqlite3_column_int64(q, 0);
        x->msg_id = sqlite3_column_int64(q, 1);
        x->seq = sqlite3_column_int(q, 2);
        x->role = hist_col_dup(q, 3, NULL, &no_mem);
        x->title = hist_col_dup(q, 4, NULL, &no_mem);
        x->snippet = hist_col_dup(q, 5, NULL, &no_mem);
        x->rank = sqlite3_column_double(q, 6);
        if (!x->snippet && !no_mem)
            x->snippet = calloc(1, 1);
        if (no_mem || !x->snippet)
            break;
    }
    sqlite3_finalize(q);
    free(fq);
    if (no_mem || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        hist_hits_free(v, count);
        return no_mem ? oom(h, err, doing) : hist_sqlerr(h, err, rc, doing);
    }
    *hits = v;
    *n = count;
    return CHORD_OK;
}

/* ---------------------------------------------------------------------------
 * Prompts for readline
 * ------------------------------------------------------------------------- */

void hist_strings_free(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

chord_status hist_prompts(hist *h, int limit, char ***out, int *n, chord_err *err)
{
    const char *doing = "reading past prompts";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    chord_status st = hist_prep(h,
        "SELECT content FROM (SELECT id, content FROM messages WHERE role = 'user'"
        " AND content <> '' ORDER BY id DESC LIMIT ?) ORDER BY id", &q, doing, err);
    if (st != CHORD_OK)
        return st;
    sqlite3_bind_int(q, 1, limit > 0 ? limit : -1);
    char **v = NULL;
    int cap = 0, count = 0, rc;
    bool no_mem = false;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!grow((void **)&v, count, &cap, sizeof *v)) {
            no_mem = true;
            break;
        }
        v[count] = hist_col_dup(q, 0, NULL, &no_mem);
        if (no_mem || !v[count])
            break;
        count++;
    }
    sqlite3_finalize(q);
    if (no_mem || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        hist_strings_free(v, count);
        return no_mem ? oom(h, err, doing) : hist_sqlerr(h, err, rc, doing);
    }
    *out = v;
    *n = count;
    return CHORD_OK;
}

/* ---------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------- */

void hist_stats_free(hist_stats *s)
{
    for (int i = 0; s && i < s->n_models; i++)
        free(s->models[i].model);
    if (s)
        free(s->models);
}

static int64_t file_size(const char *path, const char *suffix)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

chord_status hist_stats_get(hist *h, hist_stats *out, chord_err *err)
{
    const char *doing = "computing statistics";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q;
    chord_status st = query_int(h, "SELECT count(*) FROM conversations", 0, false,
                                &out->n_convs, doing, err);
    if (st != CHORD_OK)
        return st;
    if ((st = hist_prep(h,
            "SELECT count(*), COALESCE(SUM(n_prompt), 0), COALESCE(SUM(n_gen), 0),"
            " COALESCE(SUM(gen_ms), 0) FROM messages", &q, doing, err)) != CHORD_OK)
        return st;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->n_msgs = sqlite3_column_int64(q, 0);
        out->n_prompt_tokens = sqlite3_column_int64(q, 1);
        out->n_gen_tokens = sqlite3_column_int64(q, 2);
        out->gen_ms = sqlite3_column_double(q, 3);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW)
        return hist_sqlerr(h, err, rc, doing);
    out->db_bytes = file_size(h->path, "") + file_size(h->path, "-wal");

    if ((st = hist_prep(h,
            "SELECT c.model, count(DISTINCT c.id), count(m.id),"
            " COALESCE(SUM(m.n_prompt + m.n_gen), 0)"
            " FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
            " GROUP BY c.model ORDER BY 2 DESC, 1", &q, doing, err)) != CHORD_OK)
        return st;
    int cap = 0;
    bool no_mem = false;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!grow((void **)&out->models, out->n_models, &cap, sizeof *out->models)) {
            no_mem = true;
            break;
        }
        hist_model_stat *m = &out->models[out->n_models++];
        m->model = hist_col_dup(q, 0, NULL, &no_mem);
        m->n_convs = sqlite3_column_int64(q, 1);
        m->n_msgs = sqlite3_column_int64(q, 2);
        m->n_tokens = sqlite3_column_int64(q, 3);
        if (no_mem)
            break;
    }
    sqlite3_finalize(q);
    if (no_mem || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        hist_stats_free(out);
        memset(out, 0, sizeof *out);
        return no_mem ? oom(h, err, doing) : hist_sqlerr(h, err, rc, doing);
    }
    return CHORD_OK;
}
