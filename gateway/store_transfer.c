/* The store's side of key migration: importing DEKs and sealed secret rows in one
 * transaction (store.h, store_transfer_import). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/store_internal.h"

/* 1: a row with this key exists and holds the same DEK id and blob; 0: no such row;
 * -EEXIST: it holds something else. */
static int same_row(struct store *s, const struct secret_ref *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT dek_id, blob FROM secrets WHERE owner=? AND name=? AND version=?",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare");
    sqlite3_bind_text(st, 1, r->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->version);
    int step = sqlite3_step(st), rc;
    if (step == SQLITE_DONE) rc = 0;
    else if (step != SQLITE_ROW) rc = store_fail(s, "read secret");
    else {
        const char *dek = (const char *)sqlite3_column_text(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const void *blob = sqlite3_column_blob(st, 1);
        rc = dek && strcmp(dek, r->dek_id) == 0 && len == r->blob_len &&
                     (len == 0 || memcmp(blob, r->blob, len) == 0)
                 ? 1
                 : -EEXIST;
    }
    sqlite3_finalize(st);
    return rc;
}

/* 1: (owner, name) has at least one row here; 0: none; negative errno on failure. */
static int name_has_rows(struct store *s, const struct secret_ref *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM secrets WHERE owner=? AND name=? LIMIT 1", -1,
                           &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare");
    sqlite3_bind_text(st, 1, r->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : store_fail(s, "read secret");
    sqlite3_finalize(st);
    return rc;
}

static int insert_dek(struct store *s, const struct transfer_dek *d, int64_t now)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR IGNORE INTO deks(id, wrapped, state, created_at)"
                           " VALUES(?,?,'retired',?)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare");
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, d->wrapped, sizeof d->wrapped, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "insert dek");
    sqlite3_finalize(st);
    return rc;
}

static int insert_row(struct store *s, const struct secret_ref *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO secrets(owner, name, version, dek_id, blob, created_at)"
                           " VALUES(?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare");
    sqlite3_bind_text(st, 1, r->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->version);
    sqlite3_bind_text(st, 4, r->dek_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, r->blob, (int)r->blob_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->created_at);
    int step = sqlite3_step(st);
    /* the same (owner, name, version) twice in one bundle: a conflict, not a fault */
    int rc = step == SQLITE_DONE         ? 0
             : step == SQLITE_CONSTRAINT ? -EEXIST
                                         : store_fail(s, "insert secret");
    sqlite3_finalize(st);
    return rc;
}

static void name_conflict(const struct secret_ref *r, char *conflict, size_t conflict_len)
{
    if (conflict_len)
        snprintf(conflict, conflict_len, "%s/%s version %lld", r->owner, r->name,
                 (long long)r->version);
}

int store_transfer_import(struct store *s, const struct transfer_dek *deks, size_t n_deks,
                          const struct secret_ref *rows, size_t n_rows, int64_t now,
                          const struct audit_record *audit, int64_t *inserted, int64_t *skipped,
                          char *conflict, size_t conflict_len)
{
    *inserted = *skipped = 0;
    if (conflict_len) conflict[0] = 0;
    /* which rows to insert is decided for every row before the first insert: a name this
     * instance had no row for before the import takes all the bundle's rows, one it had takes
     * none (each must be one it already holds, byte for byte) */
    unsigned char *fresh = calloc(n_rows ? n_rows : 1, 1);
    if (!fresh) return -ENOMEM;
    pthread_mutex_lock(&s->mu);
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    for (size_t i = 0; !rc && i < n_rows; i++) {
        int has = name_has_rows(s, &rows[i]);
        if (has < 0) rc = has;
        else if (has == 0) fresh[i] = 1;
        else {
            int same = same_row(s, &rows[i]);
            if (same == 1) (*skipped)++;
            else {
                /* 0: a version B does not have of a name it has; -EEXIST: another value */
                rc = same == 0 ? -EEXIST : same;
                if (rc == -EEXIST) name_conflict(&rows[i], conflict, conflict_len);
            }
        }
    }
    for (size_t i = 0; !rc && i < n_deks; i++) rc = insert_dek(s, &deks[i], now);
    for (size_t i = 0; !rc && i < n_rows; i++) {
        if (!fresh[i]) continue;
        rc = insert_row(s, &rows[i]);
        if (!rc) (*inserted)++;
        else if (rc == -EEXIST) name_conflict(&rows[i], conflict, conflict_len);
    }
    if (!rc && audit) {
        struct audit_record a = *audit;
        rc = store_audit_append_locked(s, &a);
    }
    if (!rc) rc = store_exec(s, "COMMIT");
    if (rc) {
        store_exec(s, "ROLLBACK");
        *inserted = *skipped = 0;
    }
    pthread_mutex_unlock(&s->mu);
    free(fresh);
    return rc;
}
