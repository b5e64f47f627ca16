/*
 * hist_alt.c - a turn taken back by the chat (/retry, /edit, /undo): its
 * rows stay, marked, so `chord history show` still lists them and nothing a
 * user wrote is ever deleted by a keystroke; a resumed conversation leaves
 * them out.
 */
#include "hist_int.h"

chord_status hist_turn_mark(hist *h, int64_t conv, bool with_user, hist_mark mark,
                            chord_err *err)
{
    const char *doing = "marking a turn replaced";
    chord_status st = hist_check_writable(h, err);
    if (st != CHORD_OK)
        return st;
    if (mark != HIST_ALTERNATIVE && mark != HIST_REMOVED)
        return hist_err(h, err, CHORD_E_INVALID, "bad mark %d", (int)mark);
    if ((st = hist_tx_begin(h, doing, err)) != CHORD_OK)
        return st;
    if ((st = hist_conv_check(h, conv, doing, err)) != CHORD_OK) {
        hist_tx_rollback(h);
        return st;
    }
    /* the turn: the last live user message (kept when with_user is false)
     * and everything live after it; no user message = the whole tail */
    sqlite3_stmt *q;
    st = hist_prep(h, with_user
        ? "UPDATE messages SET superseded = ?1 WHERE conversation_id = ?2 AND superseded = 0"
          " AND seq >= (SELECT max(seq) FROM messages WHERE conversation_id = ?2"
          " AND superseded = 0 AND role = 'user')"
        : "UPDATE messages SET superseded = ?1 WHERE conversation_id = ?2 AND superseded = 0"
          " AND seq > coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?2"
          " AND superseded = 0 AND role = 'user'), 0)", &q, doing, err);
    if (st != CHORD_OK) {
        hist_tx_rollback(h);
        return st;
    }
    sqlite3_bind_int(q, 1, (int)mark);
    sqlite3_bind_int64(q, 2, conv);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        st = hist_sqlerr(h, err, rc, doing);
        hist_tx_rollback(h);
        return st;
    }
    return hist_tx_commit(h, doing, err);
}

const char *hist_mark_name(hist_mark m)
{
    return m == HIST_ALTERNATIVE ? "alternative" : m == HIST_REMOVED ? "removed" : "";
}
