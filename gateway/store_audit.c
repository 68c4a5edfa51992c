/* The audit table: append (chained), list with filters, head, and a full verification walk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/store_internal.h"

static const char *text_or_null(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static int head_locked(struct store *s, int64_t *seq, char hash[AUDIT_HASH_HEX])
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK)
        return store_fail(s, "prepare audit head");
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        const char *h = text_or_null(st, 1);
        snprintf(hash, AUDIT_HASH_HEX, "%s", h ? h : "");
    } else if (step == SQLITE_DONE) {
        *seq = 0;
        snprintf(hash, AUDIT_HASH_HEX, "%s", AUDIT_GENESIS);
    } else {
        rc = store_fail(s, "audit head");
    }
    sqlite3_finalize(st);
    return rc;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

int store_audit_append_locked(struct store *s, struct audit_record *r)
{
    int64_t last;
    int rc = head_locked(s, &last, r->prev_hash);
    if (rc) return rc;
    r->seq = last + 1;
    if ((rc = audit_hash(r))) return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO audit(seq,time,actor,action,function,version,invocation_id,"
                           "secret,outcome,prev_hash,hash) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare audit insert");
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, r->time);
    sqlite3_bind_text(st, 3, r->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->action, -1, SQLITE_STATIC);
    bind_opt_text(st, 5, r->function);
    if (r->version) sqlite3_bind_int64(st, 6, r->version);
    else sqlite3_bind_null(st, 6);
    bind_opt_text(st, 7, r->invocation_id);
    bind_opt_text(st, 8, r->secret);
    sqlite3_bind_text(st, 9, r->outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, r->prev_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, r->hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "append audit");
    sqlite3_finalize(st);
    if (!rc) s->appends++; /* may be rolled back later; only a hint for checkpointing */
    return rc;
}

int64_t store_audit_appends(struct store *s)
{
    return s->appends;
}

int store_audit_hash_at(struct store *s, int64_t seq, char hash[AUDIT_HASH_HEX])
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "SELECT hash FROM audit WHERE seq=?", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, seq);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *h = text_or_null(st, 0);
        snprintf(hash, AUDIT_HASH_HEX, "%s", h ? h : "");
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : store_fail(s, "audit hash at");
    }
    store_end(s, st);
    return rc;
}

int store_audit_append(struct store *s, struct audit_record *r)
{
    pthread_mutex_lock(&s->mu);
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (!rc) rc = store_audit_append_locked(s, r);
    if (!rc) rc = store_exec(s, "COMMIT");
    if (rc) store_exec(s, "ROLLBACK");
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_audit_head(struct store *s, int64_t *seq, char hash[AUDIT_HASH_HEX])
{
    pthread_mutex_lock(&s->mu);
    int rc = head_locked(s, seq, hash);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static json_t *opt_json_text(sqlite3_stmt *st, int col)
{
    const char *t = text_or_null(st, col);
    return t ? json_string(t) : json_null();
}

int store_audit_list(struct store *s, const struct audit_filter *f, json_t **entries)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT seq,time,actor,action,function,version,invocation_id,secret,"
                         "outcome,prev_hash,hash FROM audit WHERE seq>?1 AND time>=?2"
                         " AND (?3 IS NULL OR function=?3) AND (?4 IS NULL OR secret=?4)"
                         " AND (?5 IS NULL OR actor=?5) AND (?6 IS NULL OR outcome=?6)"
                         " ORDER BY seq LIMIT ?7",
                         &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, f->after);
    sqlite3_bind_int64(st, 2, f->since);
    bind_opt_text(st, 3, f->function);
    bind_opt_text(st, 4, f->secret);
    bind_opt_text(st, 5, f->actor);
    bind_opt_text(st, 6, f->outcome);
    sqlite3_bind_int64(st, 7, f->limit);
    json_t *arr = json_array();
    int step;
    while (arr && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{sIsIsssssosososossssss}", "seq",
                              (json_int_t)sqlite3_column_int64(st, 0), "time",
                              (json_int_t)sqlite3_column_int64(st, 1), "actor",
                              text_or_null(st, 2), "action", text_or_null(st, 3), "function",
                              opt_json_text(st, 4), "version",
                              sqlite3_column_type(st, 5) == SQLITE_NULL
                                  ? json_null()
                                  : json_integer(sqlite3_column_int64(st, 5)),
                              "invocation_id", opt_json_text(st, 6), "secret",
                              opt_json_text(st, 7), "outcome", text_or_null(st, 8), "prev_hash",
                              text_or_null(st, 9), "hash", text_or_null(st, 10));
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rc = !arr ? -ENOMEM : step == SQLITE_DONE ? 0 : store_fail(s, "list audit");
    store_end(s, st);
    if (rc) json_decref(arr);
    else *entries = arr;
    return rc;
}

static char *dup_text(sqlite3_stmt *st, int col)
{
    const char *t = text_or_null(st, col);
    return t ? strdup(t) : NULL;
}

int store_audit_verify(struct store *s, int *ok, int64_t *entries, int64_t *bad_seq,
                       char head_hash[AUDIT_HASH_HEX])
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT seq,time,actor,action,function,version,invocation_id,secret,"
                         "outcome,prev_hash,hash FROM audit ORDER BY seq",
                         &st);
    if (rc) return rc;
    struct audit_record prev = {0}, cur;
    char *strs[2][6] = {{0}};
    int have_prev = 0, which = 0, step;
    *ok = 1;
    *entries = 0;
    *bad_seq = 0;
    snprintf(head_hash, AUDIT_HASH_HEX, "%s", AUDIT_GENESIS);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < 6; i++) free(strs[which][i]);
        char **t = strs[which];
        memset(&cur, 0, sizeof cur);
        cur.seq = sqlite3_column_int64(st, 0);
        cur.time = sqlite3_column_int64(st, 1);
        cur.actor = t[0] = dup_text(st, 2);
        cur.action = t[1] = dup_text(st, 3);
        cur.function = t[2] = dup_text(st, 4);
        cur.version = sqlite3_column_int64(st, 5);
        cur.invocation_id = t[3] = dup_text(st, 6);
        cur.secret = t[4] = dup_text(st, 7);
        cur.outcome = t[5] = dup_text(st, 8);
        snprintf(cur.prev_hash, AUDIT_HASH_HEX, "%s", text_or_null(st, 9) ? text_or_null(st, 9) : "");
        snprintf(cur.hash, AUDIT_HASH_HEX, "%s", text_or_null(st, 10) ? text_or_null(st, 10) : "");
        (*entries)++;
        if (*ok && !audit_follows(have_prev ? &prev : NULL, &cur)) {
            *ok = 0;
            *bad_seq = cur.seq;
        }
        prev = cur;
        have_prev = 1;
        which ^= 1; /* prev's strings stay alive in the other half */
        snprintf(head_hash, AUDIT_HASH_HEX, "%s", cur.hash);
    }
    if (step != SQLITE_DONE) rc = store_fail(s, "verify audit");
    store_end(s, st);
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 6; i++) free(strs[w][i]);
    return rc;
}
