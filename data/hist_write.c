/*
 * hist_write.c - recording a conversation: creating it, titling it,
 * appending complete messages, and streaming an assistant message into its
 * row as it is generated.
 */
#include <stdlib.h>
#include <string.h>

#include "hist_int.h"

/* ---------------------------------------------------------------------------
 * Conversations and titles
 * ------------------------------------------------------------------------- */

chord_status hist_conv_create(hist *h, const hist_conv_params *p, int64_t *id,
                              chord_err *err)
{
    const char *doing = "creating a conversation";
    chord_status st = hist_check_writable(h, err);
    if (st != CHORD_OK)
        return st;
    if (!p || !p->model)
        return hist_err(h, err, CHORD_E_INVALID, "a conversation needs a model name");
    const char *params = p->params_json ? p->params_json : "{}";
    chord_err jerr;
    chord_json *j = chord_json_parse(params, strlen(params), &jerr);
    if (!j)
        return hist_err(h, err, CHORD_E_INVALID, "bad params_json: %s", jerr.msg);
    bool is_object = j->type == CHORD_JSON_OBJECT;
    chord_json_free(j);
    if (!is_object)
        return hist_err(h, err, CHORD_E_INVALID, "params_json is not a JSON object");

    sqlite3_stmt *q;
    if ((st = hist_prep(h,
            "INSERT INTO conversations(model, arch, system_prompt, params_json,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", &q, doing, err)) != CHORD_OK)
        return st;
    int64_t now = hist_now_ms();
    sqlite3_bind_text(q, 1, p->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, p->arch, -1, SQLITE_STATIC);          /* NULL binds NULL */
    sqlite3_bind_text(q, 3, p->system_prompt, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, params, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, now);
    sqlite3_bind_int64(q, 6, now);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return hist_sqlerr(h, err, rc, doing);
    if (id)
        *id = sqlite3_last_insert_rowid(h->db);
    return CHORD_OK;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t hist_title_from(const char *text, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    size_t n = 0;
    int chars = 0;
    bool pending_space = false, cut = false;
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        if (is_space(*s)) {
            pending_space = n > 0;
            s++;
            continue;
        }
        /* One code point: a lead byte and its continuation bytes. */
        size_t len = 1;
        while (s[len] && (s[len] & 0xC0) == 0x80)
            len++;
        size_t need = len + (pending_space ? 1 : 0);
        if (chars + (pending_space ? 1 : 0) + 1 > HIST_TITLE_CHARS || n + need + 1 > cap) {
            cut = true;
            break;
        }
        if (pending_space) {
            out[n++] = ' ';
            chars++;
            pending_space = false;
        }
        memcpy(out + n, s, len);
        n += len;
        chars++;
        s += len;
    }
    if (cut && n + 4 <= cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = 0;
    return n;
}

/* Sets the title; only_if_unset keeps an existing one. In the caller's
 * transaction, if any. */
static chord_status set_title(hist *h, int64_t conv, const char *text,
                              bool only_if_unset, chord_err *err)
{
    char title[4 * HIST_TITLE_CHARS + 8];
    if (hist_title_from(text, title, sizeof title) == 0 && only_if_unset)
        return CHORD_OK;   /* an empty first prompt leaves room for the next */
    sqlite3_stmt *q;
    chord_status st = hist_prep(h, only_if_unset
        ? "UPDATE conversations SET title = ? WHERE id = ? AND title IS NULL"
        : "UPDATE conversations SET title = ? WHERE id = ?", &q, "setting the title", err);
    if (st != CHORD_OK)
        return st;
    sqlite3_bind_text(q, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, conv);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? CHORD_OK : hist_sqlerr(h, err, rc, "setting the title");
}

chord_status hist_conv_set_title(hist *h, int64_t conv, const char *text,
                                 chord_err *err)
{
    chord_status st = hist_check_writable(h, err);
    if (st != CHORD_OK)
        return st;
    if ((st = hist_tx_begin(h, "setting the title", err)) != CHORD_OK)
        return st;
    if ((st = hist_conv_check(h, conv, "setting the title", err)) == CHORD_OK &&
        (st = set_title(h, conv, text, false, err)) == CHORD_OK)
        return hist_tx_commit(h, "setting the title", err);
    hist_tx_rollback(h);
    return st;
}

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------- */

/* Inserts a message row with the next seq and touches the conversation's
 * activity time. The caller holds the write transaction. */
static chord_status insert_msg(hist *h, int64_t conv, const char *role,
                               const char *content, size_t len,
                               hist_msg_status status, const hist_counts *c,
                               int64_t *msg_id, const char *doing, chord_err *err)
{
    chord_status st = hist_conv_check(h, conv, doing, err);
    if (st != CHORD_OK)
        return st;
    long pid = 0;
    long long start = 0;
    if (status == HIST_STREAMING)
        hist_writer_self(&pid, &start);
    hist_counts zero = {0};
    if (!c)
        c = &zero;
    sqlite3_stmt *q;
    if ((st = hist_prep(h,
            "INSERT INTO messages(conversation_id, seq, role, content, status,"
            " n_prompt, n_gen, prompt_ms, gen_ms, created_at, writer_pid, writer_start)"
            " VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages"
            "              WHERE conversation_id = ?1),"
            " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", &q, doing, err)) != CHORD_OK)
        return st;
    int64_t now = hist_now_ms();
    sqlite3_bind_int64(q, 1, conv);
    sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_text64(q, 3, content ? content : "", content ? len : 0, SQLITE_STATIC,
                        SQLITE_UTF8);
    sqlite3_bind_text(q, 4, hist_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, c->n_prompt);
    sqlite3_bind_int(q, 6, c->n_gen);
    sqlite3_bind_double(q, 7, c->prompt_ms);
    sqlite3_bind_double(q, 8, c->gen_ms);
    sqlite3_bind_int64(q, 9, now);
    if (pid > 0) {
        sqlite3_bind_int64(q, 10, pid);
        sqlite3_bind_int64(q, 11, start);
    }
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return hist_sqlerr(h, err, rc, doing);
    if (msg_id)
        *msg_id = sqlite3_last_insert_rowid(h->db);
    if ((st = hist_prep(h, "UPDATE conversations SET updated_at = ? WHERE id = ?",
                        &q, doing, err)) != CHORD_OK)
        return st;
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int64(q, 2, conv);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? CHORD_OK : hist_sqlerr(h, err, rc, doing);
}

static bool valid_role(const char *role)
{
    return role && (!strcmp(role, "system") || !strcmp(role, "user") ||
                    !strcmp(role, "assistant"));
}

chord_status hist_msg_add(hist *h, int64_t conv, const char *role,
                          const char *content, size_t len,
                          const hist_counts *counts, int64_t *msg_id,
                          chord_err *err)
{
    const char *doing = "appending a message";
    chord_status st = hist_check_writable(h, err);
    if (st != CHORD_OK)
        return st;
    if (!valid_role(role))
        return hist_err(h, err, CHORD_E_INVALID, "bad role '%s' (system, user or assistant)",
                        role ? role : "(null)");
    if ((st = hist_tx_begin(h, doing, err)) != CHORD_OK)
        return st;
    st = insert_msg(h, conv, role, content, len, HIST_COMPLETE, counts, msg_id, doing, err);
    if (st == CHORD_OK && !strcmp(role, "user")) {
        /* The title is text up to the first NUL, which is fine for a title. */
        char *text = malloc(len + 1);
        if (!text) {
            st = hist_err(h, err, CHORD_E_NOMEM, "out of memory (while %s)", doing);
        } else {
            if (len)
                memcpy(text, content, len);
            text[len] = 0;
            st = set_title(h, conv, text, true, err);
            free(text);
        }
    }
    if (st != CHORD_OK) {
        hist_tx_rollback(h);
        return st;
    }
    return hist_tx_commit(h, doing, err);
}

/* ---------------------------------------------------------------------------
 * Streaming
 * ------------------------------------------------------------------------- */

bool hist_stream_active(const hist *h)
{
    return h && h->s_active;
}

chord_status hist_stream_begin(hist *h, int64_t conv, int64_t *msg_id, chord_err *err)
{
    const char *doing = "starting an assistant message";
    chord_status st = hist_check_writable(h, err);
    if (st != CHORD_OK)
        return st;
    if (h->s_active)
        return hist_err(h, err, CHORD_E_INVALID, "a message is already streaming");
    if ((st = hist_tx_begin(h, doing, err)) != CHORD_OK)
        return st;
    int64_t id = 0;
    st = insert_msg(h, conv, "assistant", "", 0, HIST_STREAMING, NULL, &id, doing, err);
    if (st != CHORD_OK) {
        hist_tx_rollback(h);
        return st;
    }
    if ((st = hist_tx_commit(h, doing, err)) != CHORD_OK)
        return st;
    h->s_active = true;
    h->s_broken = false;
    h->s_conv = conv;
    h->s_msg = id;
    h->s_len = 0;
    h->s_tokens = 0;
    h->s_pending_tokens = 0;
    h->s_last_flush = hist_mono_ms();
    h->s_retry_at = 0;
    if (msg_id)
        *msg_id = id;
    return CHORD_OK;
}

chord_status hist_stream_write(hist *h, bool final, hist_msg_status status,
                               const hist_counts *counts, chord_err *err)
{
    const char *doing = final ? "finishing an assistant message"
                              : "saving a streaming assistant message";
    chord_status st = hist_tx_begin(h, doing, err);
    if (st != CHORD_OK)
        return st;
    sqlite3_stmt *q;
    if (final)
        st = hist_prep(h,
            "UPDATE messages SET content = content || ?1, n_gen = ?2, status = ?3,"
            " n_prompt = ?4, prompt_ms = ?5, gen_ms = ?6, reasoning = reasoning || ?8"
            " WHERE id = ?7", &q, doing, err);
    else
        st = hist_prep(h,
            "UPDATE messages SET content = content || ?1, n_gen = ?2,"
            " reasoning = reasoning || ?8 WHERE id = ?7",
            &q, doing, err);
    if (st != CHORD_OK)
        goto fail;
    sqlite3_bind_text64(q, 1, h->s_buf ? h->s_buf : "", h->s_len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int(q, 2, final && counts ? counts->n_gen : h->s_tokens);
    if (final) {
        sqlite3_bind_text(q, 3, hist_status_name(status), -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, counts ? counts->n_prompt : 0);
        sqlite3_bind_double(q, 5, counts ? counts->prompt_ms : 0);
        sqlite3_bind_double(q, 6, counts ? counts->gen_ms : 0);
    }
    sqlite3_bind_int64(q, 7, h->s_msg);
    sqlite3_bind_text64(q, 8, h->s_rbuf ? h->s_rbuf : "", h->s_rlen, SQLITE_STATIC, SQLITE_UTF8);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        st = hist_sqlerr(h, err, rc, doing);
        goto fail;
    }
    if (sqlite3_changes(h->db) == 0) {   /* `chord history rm` meanwhile */
        st = hist_err(h, err, CHORD_E_INVALID, "message %lld was deleted while streaming",
                      (long long)h->s_msg);
        goto fail;
    }
    if ((st = hist_prep(h, "UPDATE conversations SET updated_at = ? WHERE id = ?",
                        &q, doing, err)) != CHORD_OK)
        goto fail;
    sqlite3_bind_int64(q, 1, hist_now_ms());
    sqlite3_bind_int64(q, 2, h->s_conv);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        st = hist_sqlerr(h, err, rc, doing);
        goto fail;
    }
    if ((st = hist_tx_commit(h, doing, err)) != CHORD_OK)
        return st;
    h->s_len = 0;
    h->s_rlen = 0;
    h->s_pending_tokens = 0;
    h->s_last_flush = hist_mono_ms();
    h->s_retry_at = 0;
    return CHORD_OK;
fail:
    hist_tx_rollback(h);
    return st;
}

/* Flushes, remembering a failure so later calls do not wait on the lock
 * (or fail on the full disk) again for every token: a lock is retried
 * after HIST_RETRY_MS with the text kept, anything else breaks the stream. */
static chord_status flush(hist *h, chord_err *err)
{
    chord_status st = hist_stream_write(h, false, HIST_STREAMING, NULL, &h->s_err);
    if (st != CHORD_OK) {
        if (hist_locked(h))
            h->s_retry_at = hist_mono_ms() + HIST_RETRY_MS;
        else
            h->s_broken = true;
        if (err)
            *err = h->s_err;
    }
    return st;
}

/* The stored failure again, without touching the file: the stream broke,
 * or a lock's retry is not due yet (then hist_locked stays true). */
static chord_status broken(hist *h, chord_err *err)
{
    if (err)
        *err = h->s_err;
    h->locked = !h->s_broken;
    return CHORD_E_IO;
}

/* Whether a flush after a lock must wait some more. */
static bool retry_wait(const hist *h)
{
    return h->s_retry_at && hist_mono_ms() < h->s_retry_at;
}

/* Appends text to a stream buffer. */
static bool buf_add(char **buf, size_t *n, size_t *cap, const char *text, size_t len)
{
    if (*n + len + 1 > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *n + len + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return false;
        *buf = b;
        *cap = c;
    }
    if (len)
        memcpy(*buf + *n, text, len);
    *n += len;
    return true;
}

chord_status hist_stream_add(hist *h, const char *text, int n_tokens, chord_err *err)
{
    return hist_stream_add_part(h, text, n_tokens, false, err);
}

chord_status hist_stream_add_part(hist *h, const char *text, int n_tokens, bool reasoning,
                                  chord_err *err)
{
    if (!h->s_active)
        return hist_err(h, err, CHORD_E_INVALID, "no message is streaming");
    size_t len = text ? strlen(text) : 0;
    bool ok = reasoning ? buf_add(&h->s_rbuf, &h->s_rlen, &h->s_rcap, text, len)
                        : buf_add(&h->s_buf, &h->s_len, &h->s_cap, text, len);
    if (!ok)
        return hist_err(h, err, CHORD_E_NOMEM, "out of memory (streaming a message)");
    if (n_tokens > 0) {
        h->s_tokens += n_tokens;
        h->s_pending_tokens += n_tokens;
    }
    if (h->s_broken || retry_wait(h))
        return broken(h, err);
    if (h->s_retry_at || h->s_pending_tokens >= HIST_FLUSH_TOKENS ||
        hist_mono_ms() - h->s_last_flush >= HIST_FLUSH_MS)
        return flush(h, err);
    return CHORD_OK;
}

chord_status hist_stream_poll(hist *h, chord_err *err)
{
    if (!h->s_active)
        return CHORD_OK;
    if (h->s_broken || retry_wait(h))
        return broken(h, err);
    if (h->s_retry_at || ((h->s_len || h->s_rlen || h->s_pending_tokens) &&
                          hist_mono_ms() - h->s_last_flush >= HIST_FLUSH_MS))
        return flush(h, err);
    return CHORD_OK;
}

chord_status hist_stream_end(hist *h, hist_msg_status status,
                             const hist_counts *counts, chord_err *err)
{
    if (!h->s_active)
        return hist_err(h, err, CHORD_E_INVALID, "no message is streaming");
    if (status == HIST_STREAMING)
        return hist_err(h, err, CHORD_E_INVALID, "a finished message cannot stay streaming");
    /* The stream ends either way (a row left "streaming" by a live process
     * would never be recovered, and the caller carries on in memory), but
     * for a lock: then nothing was written and end may come again. */
    chord_status st = hist_stream_write(h, true, status, counts, err);
    if (st != CHORD_OK && hist_locked(h) && !h->s_broken) {
        h->s_retry_at = hist_mono_ms() + HIST_RETRY_MS;
        return st;
    }
    h->s_active = false;
    h->s_retry_at = 0;
    h->s_len = 0;
    h->s_rlen = 0;
    return st;
}
