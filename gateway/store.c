#include "gateway/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/log.h"
#include "gateway/store_internal.h"

static int fn_version_copy(const struct fn_version *src, struct fn_version *dst)
{
    *dst = *src;
    dst->code = strdup(src->code);
    dst->limits_json = strdup(src->limits_json);
    dst->allow_hosts_json = strdup(src->allow_hosts_json);
    dst->secrets_json = strdup(src->secrets_json);
    if (dst->code && dst->limits_json && dst->allow_hosts_json && dst->secrets_json) return 0;
    fn_version_free(dst);
    return -ENOMEM;
}

void store_cache_invalidate(struct store *s)
{
    pthread_mutex_lock(&s->cache_mu);
    s->gen++;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        s->tokens[i].used = 0;
        if (s->fns[i].used) fn_version_free(&s->fns[i].v);
        s->fns[i].used = 0;
    }
    pthread_mutex_unlock(&s->cache_mu);
}

/* Forward migrations: entry i brings user_version from i to i+1. Never edit a shipped one. */
static const char *const migrations[] = {
    "CREATE TABLE tokens("
    "  id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, role TEXT NOT NULL,"
    "  owner TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE functions("
    "  name TEXT PRIMARY KEY, owner TEXT NOT NULL, latest_version INTEGER NOT NULL,"
    "  pinned_version INTEGER, created_at INTEGER NOT NULL);"
    "CREATE TABLE function_versions("
    "  name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL, code TEXT NOT NULL, code_sha256 TEXT NOT NULL,"
    "  entry TEXT NOT NULL, limits TEXT NOT NULL, allow_hosts TEXT NOT NULL,"
    "  secrets TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(name, version));",

    /* 2: sealed secrets, their data-encryption keys, and the audit chain */
    "CREATE TABLE deks("
    "  id TEXT PRIMARY KEY, wrapped BLOB NOT NULL,"
    "  state TEXT NOT NULL CHECK(state IN ('active','retired')), created_at INTEGER NOT NULL);"
    "CREATE TABLE secrets("
    "  owner TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  dek_id TEXT NOT NULL REFERENCES deks(id), blob BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY(owner, name, version));"
    "CREATE TABLE audit("
    "  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  action TEXT NOT NULL, function TEXT, version INTEGER, invocation_id TEXT,"
    "  secret TEXT, outcome TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",

    /* 3: the instance signing key, sealed under the KEK */
    "CREATE TABLE instance_keys("
    "  id TEXT PRIMARY KEY, sealed BLOB NOT NULL, created_at INTEGER NOT NULL);",

    /* 4: a version may ask for a signed receipt with every result */
    "ALTER TABLE function_versions ADD COLUMN sign INTEGER NOT NULL DEFAULT 0;",

    /* 5: instance keys per key scheme (--key-scheme); every earlier key is a P-256 key */
    "ALTER TABLE instance_keys ADD COLUMN scheme TEXT NOT NULL DEFAULT 'p256';",

    /* 6: a version's isolation between invocations (0: process, 1: snapshot) */
    "ALTER TABLE function_versions ADD COLUMN snapshot INTEGER NOT NULL DEFAULT 0;",
};

int store_fail(struct store *s, const char *what)
{
    LOG_E("sqlite %s: %s", what, sqlite3_errmsg(s->db));
    return -EIO;
}

int store_exec(struct store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        LOG_E("sqlite exec: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static int user_version(struct store *s, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare user_version");
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static int migrate(struct store *s)
{
    int v;
    int n = (int)(sizeof migrations / sizeof *migrations);
    if (user_version(s, &v)) return -EIO;
    if (v > n) {
        LOG_E("database schema version %d is newer than this fnboxd (%d)", v, n);
        return -EPROTO;
    }
    for (; v < n; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", v + 1);
        if (store_exec(s, "BEGIN IMMEDIATE") || store_exec(s, migrations[v]) || store_exec(s, pragma) ||
            store_exec(s, "COMMIT")) {
            store_exec(s, "ROLLBACK");
            return -EIO;
        }
    }
    return 0;
}

int store_open(const char *path, struct store **out)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->cache_mu, NULL);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        LOG_E("cannot open database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
        store_close(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 5000);
    int rc = store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (!rc) rc = migrate(s);
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s) return;
    store_cache_invalidate(s);
    if (s->db) sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->cache_mu);
    free(s);
}

/* Prepares sql with the mutex held; store_end releases both. */
int store_begin(struct store *s, const char *sql, sqlite3_stmt **st)
{
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        int rc = store_fail(s, "prepare");
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    return 0;
}

int store_write_audited(struct store *s, sqlite3_stmt *st, int need_change,
                        const struct audit_record *audit, const char *what)
{
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (!rc && sqlite3_step(st) != SQLITE_DONE) rc = store_fail(s, what);
    if (!rc && need_change && sqlite3_changes(s->db) == 0) rc = -ENOENT;
    if (!rc && audit) {
        struct audit_record a = *audit;
        rc = store_audit_append_locked(s, &a);
    }
    if (!rc) rc = store_exec(s, "COMMIT");
    if (rc) store_exec(s, "ROLLBACK");
    return rc;
}

void store_end(struct store *s, sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null()
                                                       : json_integer(sqlite3_column_int64(st, col));
}

static int token_lookup_db(struct store *s, const uint8_t hash[32], struct token_rec *out);

int store_token_insert(struct store *s, const char *id, const uint8_t hash[32], const char *role,
                       const char *owner, int64_t created_at, int64_t expires_at,
                       const struct audit_record *audit)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "INSERT INTO tokens(id,hash,role,owner,created_at,expires_at) "
                      "VALUES(?,?,?,?,?,?)", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, created_at);
    if (expires_at) sqlite3_bind_int64(st, 6, expires_at);
    else sqlite3_bind_null(st, 6);
    rc = store_write_audited(s, st, 0, audit, "insert token");
    store_end(s, st);
    return rc;
}

int store_token_lookup(struct store *s, const uint8_t hash[32], struct token_rec *out)
{
    pthread_mutex_lock(&s->cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (s->tokens[i].used && memcmp(s->tokens[i].hash, hash, 32) == 0) {
            *out = s->tokens[i].rec;
            pthread_mutex_unlock(&s->cache_mu);
            return 0;
        }
    }
    uint64_t gen = s->gen;
    pthread_mutex_unlock(&s->cache_mu);
    int rc = token_lookup_db(s, hash, out);
    if (rc) return rc;
    pthread_mutex_lock(&s->cache_mu);
    if (s->gen == gen) {
        struct token_slot *slot = &s->tokens[s->next_token++ % CACHE_SLOTS];
        slot->used = 1;
        memcpy(slot->hash, hash, 32);
        slot->rec = *out;
    }
    pthread_mutex_unlock(&s->cache_mu);
    return 0;
}

static int token_lookup_db(struct store *s, const uint8_t hash[32], struct token_rec *out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "SELECT id,role,owner,expires_at,revoked FROM tokens WHERE hash=?", &st);
    if (rc) return rc;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        copy_col(st, 0, out->id, sizeof out->id);
        copy_col(st, 1, out->role, sizeof out->role);
        copy_col(st, 2, out->owner, sizeof out->owner);
        out->expires_at = sqlite3_column_int64(st, 3);
        out->revoked = sqlite3_column_int(st, 4);
        rc = 0;
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : store_fail(s, "lookup token");
    }
    store_end(s, st);
    return rc;
}

int store_token_count(struct store *s, int64_t *count)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "SELECT count(*) FROM tokens", &st);
    if (rc) return rc;
    rc = sqlite3_step(st) == SQLITE_ROW ? 0 : store_fail(s, "count tokens");
    *count = sqlite3_column_int64(st, 0);
    store_end(s, st);
    return rc;
}

int store_token_list(struct store *s, json_t **out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "SELECT id,role,owner,created_at,expires_at,revoked FROM tokens "
                      "ORDER BY created_at, id", &st);
    if (rc) return rc;
    json_t *arr = json_array();
    int step;
    while (arr && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{sssssssIsosb}", "id", sqlite3_column_text(st, 0), "role",
                              sqlite3_column_text(st, 1), "owner", sqlite3_column_text(st, 2),
                              "created_at", (json_int_t)sqlite3_column_int64(st, 3), "expires_at",
                              int_or_null(st, 4), "revoked", sqlite3_column_int(st, 5));
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rc = !arr ? -ENOMEM : step == SQLITE_DONE ? 0 : store_fail(s, "list tokens");
    store_end(s, st);
    if (rc) json_decref(arr);
    else *out = arr;
    return rc;
}

int store_token_revoke(struct store *s, const char *id)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "UPDATE tokens SET revoked=1 WHERE id=?", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail(s, "revoke token");
    else rc = sqlite3_changes(s->db) ? 0 : -ENOENT;
    store_end(s, st);
    store_cache_invalidate(s);
    return rc;
}

static int step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, what);
    sqlite3_finalize(st);
    return rc;
}

int store_function_deploy(struct store *s, const struct fn_version *v,
                          const struct audit_record *audit, int64_t *version_out)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (rc) goto out;
    int64_t latest = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT owner,latest_version FROM functions WHERE name=?", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "prepare");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(st, 0), v->owner) != 0) rc = -EEXIST;
        latest = sqlite3_column_int64(st, 1);
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, "select function");
    }
    sqlite3_finalize(st);
    if (rc) goto rollback;

    int64_t version = latest + 1;
    const char *sql = latest ? "UPDATE functions SET latest_version=?2 WHERE name=?1"
                             : "INSERT INTO functions(name,latest_version,owner,created_at) "
                               "VALUES(?1,?2,?3,?4)";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "prepare");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    if (!latest) {
        sqlite3_bind_text(st, 3, v->owner, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, v->created_at);
    }
    if ((rc = step_done(s, st, "upsert function"))) goto rollback;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO function_versions(name,version,code,code_sha256,entry,"
                           "limits,allow_hosts,secrets,created_at,sign,snapshot) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "prepare");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_text(st, 3, v->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, v->code_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, v->entry, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, v->limits_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, v->allow_hosts_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, v->secrets_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, v->created_at);
    sqlite3_bind_int(st, 10, v->sign ? 1 : 0);
    sqlite3_bind_int(st, 11, v->snapshot ? 1 : 0);
    if ((rc = step_done(s, st, "insert version"))) goto rollback;
    if (audit) {
        struct audit_record a = *audit;
        a.version = version;
        if ((rc = store_audit_append_locked(s, &a))) goto rollback;
    }
    if ((rc = store_exec(s, "COMMIT"))) goto rollback;
    *version_out = version;
    goto out;
rollback:
    store_exec(s, "ROLLBACK");
out:
    pthread_mutex_unlock(&s->mu);
    store_cache_invalidate(s);
    return rc;
}

static int function_get_db(struct store *s, const char *name, int64_t version,
                           struct fn_version *out);

int store_function_get(struct store *s, const char *name, int64_t version, struct fn_version *out)
{
    memset(out, 0, sizeof *out);
    if (version != 0) return function_get_db(s, name, version, out);
    pthread_mutex_lock(&s->cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (s->fns[i].used && strcmp(s->fns[i].v.name, name) == 0) {
            int rc = fn_version_copy(&s->fns[i].v, out);
            pthread_mutex_unlock(&s->cache_mu);
            return rc;
        }
    }
    uint64_t gen = s->gen;
    pthread_mutex_unlock(&s->cache_mu);
    int rc = function_get_db(s, name, 0, out);
    if (rc) return rc;
    pthread_mutex_lock(&s->cache_mu);
    if (s->gen == gen && strlen(out->code) <= CACHE_CODE_MAX) {
        struct fn_slot *slot = &s->fns[s->next_fn++ % CACHE_SLOTS];
        if (slot->used) fn_version_free(&slot->v);
        slot->used = fn_version_copy(out, &slot->v) == 0;
    }
    pthread_mutex_unlock(&s->cache_mu);
    return 0;
}

static int function_get_db(struct store *s, const char *name, int64_t version,
                           struct fn_version *out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                   "SELECT f.name,f.owner,v.version,f.latest_version,f.pinned_version IS NOT NULL,"
                   " v.code,v.code_sha256,v.entry,v.limits,v.allow_hosts,v.secrets,v.created_at,v.sign,"
                   " v.snapshot FROM functions f JOIN function_versions v ON v.name=f.name"
                   " WHERE f.name=?1 AND v.version="
                   " CASE WHEN ?2>0 THEN ?2 ELSE coalesce(f.pinned_version,f.latest_version) END",
                   &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        copy_col(st, 0, out->name, sizeof out->name);
        copy_col(st, 1, out->owner, sizeof out->owner);
        out->version = sqlite3_column_int64(st, 2);
        out->latest_version = sqlite3_column_int64(st, 3);
        out->pinned = sqlite3_column_int(st, 4);
        out->code = dup_col(st, 5);
        copy_col(st, 6, out->code_sha256, sizeof out->code_sha256);
        copy_col(st, 7, out->entry, sizeof out->entry);
        out->limits_json = dup_col(st, 8);
        out->allow_hosts_json = dup_col(st, 9);
        out->secrets_json = dup_col(st, 10);
        out->created_at = sqlite3_column_int64(st, 11);
        out->sign = sqlite3_column_int(st, 12);
        out->snapshot = sqlite3_column_int(st, 13);
        if (!out->code || !out->limits_json || !out->allow_hosts_json || !out->secrets_json) {
            fn_version_free(out);
            rc = -ENOMEM;
        }
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : store_fail(s, "get function");
    }
    store_end(s, st);
    return rc;
}

void fn_version_free(struct fn_version *v)
{
    free(v->code);
    free(v->limits_json);
    free(v->allow_hosts_json);
    free(v->secrets_json);
    v->code = v->limits_json = v->allow_hosts_json = v->secrets_json = NULL;
}

int store_function_list(struct store *s, const char *owner, json_t **out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                   "SELECT f.name,f.owner,v.version,f.latest_version,f.pinned_version IS NOT NULL,"
                   " v.code_sha256,v.created_at FROM functions f JOIN function_versions v"
                   " ON v.name=f.name AND v.version=coalesce(f.pinned_version,f.latest_version)"
                   " WHERE ?1 IS NULL OR f.owner=?1 ORDER BY f.name",
                   &st);
    if (rc) return rc;
    if (owner) sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int step;
    while (arr && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{sssssIsIsbsssI}", "name", sqlite3_column_text(st, 0), "owner",
                              sqlite3_column_text(st, 1), "version",
                              (json_int_t)sqlite3_column_int64(st, 2), "latest_version",
                              (json_int_t)sqlite3_column_int64(st, 3), "pinned",
                              sqlite3_column_int(st, 4), "code_sha256", sqlite3_column_text(st, 5),
                              "created_at", (json_int_t)sqlite3_column_int64(st, 6));
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rc = !arr ? -ENOMEM : step == SQLITE_DONE ? 0 : store_fail(s, "list functions");
    store_end(s, st);
    if (rc) json_decref(arr);
    else *out = arr;
    return rc;
}

int store_function_versions(struct store *s, const char *name, json_t **out)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "SELECT version,code_sha256,created_at FROM function_versions WHERE name=?"
                      " ORDER BY version", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int step;
    while (arr && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{sIsssI}", "version", (json_int_t)sqlite3_column_int64(st, 0),
                              "code_sha256", sqlite3_column_text(st, 1), "created_at",
                              (json_int_t)sqlite3_column_int64(st, 2));
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    rc = !arr ? -ENOMEM : step == SQLITE_DONE ? 0 : store_fail(s, "list versions");
    store_end(s, st);
    if (!rc && json_array_size(arr) == 0) rc = -ENOENT;
    if (rc) json_decref(arr);
    else *out = arr;
    return rc;
}

int store_function_set_live(struct store *s, const char *name, int64_t version)
{
    sqlite3_stmt *st;
    int rc = store_begin(s,
                   "UPDATE functions SET pinned_version=CASE WHEN ?2>0 THEN ?2 ELSE NULL END"
                   " WHERE name=?1 AND (?2=0 OR EXISTS(SELECT 1 FROM function_versions"
                   " WHERE name=?1 AND version=?2))",
                   &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    if (sqlite3_step(st) != SQLITE_DONE) rc = store_fail(s, "set live");
    else rc = sqlite3_changes(s->db) ? 0 : -ENOENT;
    store_end(s, st);
    store_cache_invalidate(s);
    return rc;
}

int store_function_delete(struct store *s, const char *name, const struct audit_record *audit)
{
    sqlite3_stmt *st;
    int rc = store_begin(s, "DELETE FROM functions WHERE name=?", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = store_write_audited(s, st, 1, audit, "delete function");
    store_end(s, st);
    store_cache_invalidate(s);
    return rc;
}
