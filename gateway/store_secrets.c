/* Sealed secrets and their data-encryption keys. Values arrive here already encrypted (the
 * seal callback runs inside the transaction, once the row's version is known) and leave
 * still encrypted: the store never sees plaintext. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/store_internal.h"

int store_dek_list(struct store *s, struct dek_row **rows, size_t *n)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "SELECT id, wrapped, state FROM deks ORDER BY created_at, id", &st);
    if (rc) return rc;
    struct dek_row *out = NULL;
    size_t count = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct dek_row *grown = realloc(out, (count + 1) * sizeof *out);
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        out = grown;
        struct dek_row *r = &out[count];
        memset(r, 0, sizeof *r);
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *state = (const char *)sqlite3_column_text(st, 2);
        snprintf(r->id, sizeof r->id, "%s", id ? id : "");
        snprintf(r->state, sizeof r->state, "%s", state ? state : "");
        r->wrapped_len = (size_t)sqlite3_column_bytes(st, 1);
        r->wrapped = malloc(r->wrapped_len ? r->wrapped_len : 1);
        if (!r->wrapped) {
            rc = -ENOMEM;
            break;
        }
        if (r->wrapped_len) memcpy(r->wrapped, sqlite3_column_blob(st, 1), r->wrapped_len);
        count++;
    }
    if (!rc && step != SQLITE_DONE) rc = store_fail(s, "list deks");
    store_end(s, st);
    if (rc) {
        store_dek_rows_free(out, count);
        return rc;
    }
    *rows = out;
    *n = count;
    return 0;
}

void store_dek_rows_free(struct dek_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) free(rows[i].wrapped);
    free(rows);
}

int store_dek_insert(struct store *s, const char *id, const uint8_t *wrapped, size_t len,
                     int64_t created_at)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "INSERT INTO deks(id, wrapped, state, created_at) VALUES(?,?,'active',?)",
                         &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, wrapped, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, created_at);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "insert dek");
    store_end(s, st);
    return rc;
}

int store_secret_put(struct store *s, const char *owner, const char *name, const char *dek_id,
                     int64_t created_at, secret_seal_fn seal, void *seal_arg,
                     const struct audit_record *audit, int64_t *version_out)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (rc) goto out;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT coalesce(max(version),0) FROM secrets WHERE owner=? AND name=?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "prepare");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int64_t version = 0;
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int64(st, 0) + 1;
    else rc = store_fail(s, "latest secret version");
    sqlite3_finalize(st);
    st = NULL;
    if (rc) goto rollback;
    if ((rc = seal(seal_arg, version, &blob, &blob_len))) goto rollback;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO secrets(owner,name,version,dek_id,blob,created_at)"
                           " VALUES(?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "prepare");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_text(st, 4, dek_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, blob, (int)blob_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, created_at);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "insert secret");
    sqlite3_finalize(st);
    st = NULL;
    if (rc) goto rollback;
    if (audit) {
        struct audit_record a = *audit;
        if ((rc = store_audit_append_locked(s, &a))) goto rollback;
    }
    if ((rc = store_exec(s, "COMMIT"))) goto rollback;
    *version_out = version;
    goto out;
rollback:
    store_exec(s, "ROLLBACK");
out:
    pthread_mutex_unlock(&s->mu);
    free(blob);
    return rc;
}

int store_secret_get(struct store *s, const char *owner, const char *name, struct secret_row *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT version, dek_id, blob FROM secrets WHERE owner=? AND name=?"
                         " ORDER BY version DESC LIMIT 1",
                         &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->version = sqlite3_column_int64(st, 0);
        const char *dek = (const char *)sqlite3_column_text(st, 1);
        snprintf(out->dek_id, sizeof out->dek_id, "%s", dek ? dek : "");
        out->blob_len = (size_t)sqlite3_column_bytes(st, 2);
        out->blob = malloc(out->blob_len ? out->blob_len : 1);
        if (!out->blob) rc = -ENOMEM;
        else if (out->blob_len) memcpy(out->blob, sqlite3_column_blob(st, 2), out->blob_len);
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : store_fail(s, "get secret");
    }
    store_end(s, st);
    return rc;
}

void secret_row_free(struct secret_row *r)
{
    free(r->blob);
    r->blob = NULL;
}

int store_secret_list(struct store *s, const char *owner, json_t **out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT name, max(version), max(created_at) FROM secrets WHERE owner=?"
                         " GROUP BY name ORDER BY name",
                         &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int step;
    while (arr && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{sssIsI}", "name", sqlite3_column_text(st, 0), "version",
                              (json_int_t)sqlite3_column_int64(st, 1), "created_at",
                              (json_int_t)sqlite3_column_int64(st, 2));
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rc = !arr ? -ENOMEM : step == SQLITE_DONE ? 0 : store_fail(s, "list secrets");
    store_end(s, st);
    if (rc) json_decref(arr);
    else *out = arr;
    return rc;
}

int store_secret_delete(struct store *s, const char *owner, const char *name,
                        const struct audit_record *audit)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "DELETE FROM secrets WHERE owner=? AND name=?", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = store_write_audited(s, st, 1, audit, "delete secret");
    store_end(s, st);
    return rc;
}

int store_instance_key_get(struct store *s, const char *scheme, char id[40], uint8_t **sealed,
                           size_t *len)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT id, sealed FROM instance_keys WHERE scheme=? "
                         "ORDER BY created_at DESC LIMIT 1",
                         &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, scheme, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        snprintf(id, 40, "%s", t ? t : "");
        *len = (size_t)sqlite3_column_bytes(st, 1);
        *sealed = malloc(*len ? *len : 1);
        if (!*sealed) rc = -ENOMEM;
        else if (*len) memcpy(*sealed, sqlite3_column_blob(st, 1), *len);
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : store_fail(s, "get instance key");
    }
    store_end(s, st);
    return rc;
}

int store_instance_key_put(struct store *s, const char *scheme, const char *id,
                           const uint8_t *sealed, size_t len, int64_t created_at)
{
    sqlite3_stmt *st;
    int rc = store_begin(
        s, "INSERT INTO instance_keys(id, sealed, created_at, scheme) VALUES(?,?,?,?)", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sealed, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, created_at);
    sqlite3_bind_text(st, 4, scheme, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "insert instance key");
    store_end(s, st);
    return rc;
}

int store_dek_rotate_in(struct store *s, const char *new_id, const uint8_t *wrapped, size_t len,
                        int64_t now, const struct audit_record *audit)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (!rc) rc = store_exec(s, "UPDATE deks SET state='retired' WHERE state='active'");
    if (!rc && sqlite3_prepare_v2(s->db,
                                  "INSERT INTO deks(id, wrapped, state, created_at)"
                                  " VALUES(?,?,'active',?)",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = store_fail(s, "prepare");
    if (!rc) {
        sqlite3_bind_text(st, 1, new_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, wrapped, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "insert dek");
    }
    sqlite3_finalize(st);
    if (!rc && audit) {
        struct audit_record a = *audit;
        rc = store_audit_append_locked(s, &a);
    }
    if (!rc) rc = store_exec(s, "COMMIT");
    if (rc) store_exec(s, "ROLLBACK");
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void store_secret_refs_free(struct secret_ref *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) free(rows[i].blob);
    free(rows);
}

/* Reads the rows the prepared st selects (owner, name, version, dek_id, blob, created_at), at
 * most max; -E2BIG when there are more. Finishes st (store_end). */
static int read_secret_refs(struct store *s, sqlite3_stmt *st, size_t max, int more_is_error,
                            struct secret_ref **rows, size_t *n)
{
    struct secret_ref *out = calloc(max ? max : 1, sizeof *out);
    size_t count = 0;
    int rc = out ? 0 : -ENOMEM, step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == max) {
            if (more_is_error) rc = -E2BIG;
            break;
        }
        struct secret_ref *r = &out[count];
        snprintf(r->owner, sizeof r->owner, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(st, 1));
        r->version = sqlite3_column_int64(st, 2);
        snprintf(r->dek_id, sizeof r->dek_id, "%s", (const char *)sqlite3_column_text(st, 3));
        r->blob_len = (size_t)sqlite3_column_bytes(st, 4);
        r->created_at = sqlite3_column_int64(st, 5);
        r->blob = malloc(r->blob_len ? r->blob_len : 1);
        if (!r->blob) {
            rc = -ENOMEM;
            break;
        }
        if (r->blob_len) memcpy(r->blob, sqlite3_column_blob(st, 4), r->blob_len);
        count++;
    }
    if (!rc && step != SQLITE_DONE && step != SQLITE_ROW) rc = store_fail(s, "list secrets");
    store_end(s, st);
    if (rc) {
        store_secret_refs_free(out, count);
        return rc;
    }
    *rows = out;
    *n = count;
    return 0;
}

int store_secret_batch_not_under(struct store *s, const char *dek_id, size_t max,
                                 struct secret_ref **rows, size_t *n)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT owner, name, version, dek_id, blob, created_at FROM secrets"
                         " WHERE dek_id<>? ORDER BY owner, name, version LIMIT ?",
                         &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, dek_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    return read_secret_refs(s, st, max, 0, rows, n);
}

int store_secret_all(struct store *s, size_t max, struct secret_ref **rows, size_t *n)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT owner, name, version, dek_id, blob, created_at FROM secrets"
                         " ORDER BY owner, name, version",
                         &st);
    if (rc) return rc;
    return read_secret_refs(s, st, max, 1, rows, n);
}

int store_secret_rewrap(struct store *s, const struct secret_ref *row, const char *new_dek,
                        const uint8_t *blob, size_t len)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "UPDATE secrets SET dek_id=?1, blob=?2 WHERE owner=?3 AND name=?4"
                         " AND version=?5 AND dek_id=?6",
                         &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, new_dek, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, row->version);
    sqlite3_bind_text(st, 6, row->dek_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail(s, "rewrap secret");
    else rc = sqlite3_changes(s->db) ? 0 : -ESTALE;
    store_end(s, st);
    return rc;
}

int store_dek_drop_unused(struct store *s, int64_t *dropped)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "DELETE FROM deks WHERE state='retired' AND NOT EXISTS"
                         " (SELECT 1 FROM secrets WHERE secrets.dek_id=deks.id)",
                         &st);
    if (rc) return rc;
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail(s, "drop unused deks");
    else *dropped = sqlite3_changes(s->db);
    store_end(s, st);
    return rc;
}

int store_dek_summary(struct store *s, json_t **out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                         "SELECT d.id, d.state, d.created_at,"
                         " (SELECT count(*) FROM secrets WHERE secrets.dek_id=d.id)"
                         " FROM deks d ORDER BY d.created_at, d.id",
                         &st);
    if (rc) return rc;
    json_t *arr = json_array();
    int step;
    while (arr && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{sssssIsI}", "id", sqlite3_column_text(st, 0), "state",
                              sqlite3_column_text(st, 1), "created_at",
                              (json_int_t)sqlite3_column_int64(st, 2), "secrets",
                              (json_int_t)sqlite3_column_int64(st, 3));
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rc = !arr ? -ENOMEM : step == SQLITE_DONE ? 0 : store_fail(s, "list deks");
    store_end(s, st);
    if (rc) json_decref(arr);
    else *out = arr;
    return rc;
}
