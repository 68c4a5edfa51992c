/* The SQLite store: tokens and functions (immutable versions, live/pinned version).
 *
 * One connection in WAL mode with synchronous=FULL, shared by all threads behind a mutex;
 * the schema is versioned with PRAGMA user_version and migrated forward at open. Every
 * write is one transaction: it happens whole or not at all. Never opened before the zygote
 * is forked. Token and live-function lookups are served from a small in-memory cache that
 * every write invalidates. Functions return 0 or a negative errno: -ENOENT (no such row),
 * -EEXIST (name owned by someone else), -EIO (SQLite failed; logged without values). */
#ifndef FNBOX_STORE_H
#define FNBOX_STORE_H

#include <stdint.h>

#include <jansson.h>

#include "secrets/audit.h"
#include "secrets/seal.h"

struct store;

struct token_rec {
    char id[40];
    char role[16];
    char owner[64];
    int64_t expires_at; /* 0: never */
    int revoked;
};

struct fn_version {
    char name[64];
    char owner[64];
    int64_t version;
    int64_t latest_version;
    int pinned;
    char *code;         /* heap; fn_version_free */
    char code_sha256[65];
    char entry[129];
    char *limits_json;  /* heap */
    char *allow_hosts_json;
    char *secrets_json;
    int64_t created_at;
    int sign; /* every successful result carries a signed receipt */
    int snapshot; /* isolation "snapshot": snapshot workers (gateway/snapshot_pool.h) */
};

int store_open(const char *path, struct store **out);
void store_close(struct store *s);

/* Writes that take `audit` (nullable) append it to the audit chain in the same transaction:
 * both happen or neither does (fail closed). */
int store_token_insert(struct store *s, const char *id, const uint8_t hash[32], const char *role,
                       const char *owner, int64_t created_at, int64_t expires_at,
                       const struct audit_record *audit);
int store_token_lookup(struct store *s, const uint8_t hash[32], struct token_rec *out);
int store_token_count(struct store *s, int64_t *count);
int store_token_list(struct store *s, json_t **out);
int store_token_revoke(struct store *s, const char *id);

/* Adds version latest+1 (1 for a new name). -EEXIST when another owner has the name. */
int store_function_deploy(struct store *s, const struct fn_version *v,
                          const struct audit_record *audit, int64_t *version_out);
/* version 0: the live one (pinned, else newest). */
int store_function_get(struct store *s, const char *name, int64_t version, struct fn_version *out);
void fn_version_free(struct fn_version *v);
/* owner NULL: all functions. */
int store_function_list(struct store *s, const char *owner, json_t **out);
int store_function_versions(struct store *s, const char *name, json_t **out);
/* version 0: unpin. -ENOENT when the function or version does not exist. */
int store_function_set_live(struct store *s, const char *name, int64_t version);
int store_function_delete(struct store *s, const char *name, const struct audit_record *audit);

/* Data-encryption keys: id, the DEK wrapped under the KEK, state "active" or "retired". */
struct dek_row {
    char id[40];
    uint8_t *wrapped; /* heap */
    size_t wrapped_len;
    char state[16];
};
/* All DEKs, oldest first; free with store_dek_rows_free. */
int store_dek_list(struct store *s, struct dek_row **rows, size_t *n);
void store_dek_rows_free(struct dek_row *rows, size_t n);
int store_dek_insert(struct store *s, const char *id, const uint8_t *wrapped, size_t len,
                     int64_t created_at);

/* Secrets (sealed values). store_secret_put picks version latest+1 inside its transaction
 * and calls seal(arg, version, ...) to encrypt for exactly that row. */
typedef int (*secret_seal_fn)(void *arg, int64_t version, uint8_t **blob, size_t *blob_len);
int store_secret_put(struct store *s, const char *owner, const char *name, const char *dek_id,
                     int64_t created_at, secret_seal_fn seal, void *seal_arg,
                     const struct audit_record *audit, int64_t *version_out);
struct secret_row {
    int64_t version;
    char dek_id[40];
    uint8_t *blob; /* heap */
    size_t blob_len;
};
/* The newest version of owner/name. -ENOENT when there is none. */
int store_secret_get(struct store *s, const char *owner, const char *name, struct secret_row *out);
void secret_row_free(struct secret_row *r);
int store_secret_list(struct store *s, const char *owner, json_t **out);
/* Deletes every version. -ENOENT when there is none. */
int store_secret_delete(struct store *s, const char *owner, const char *name,
                        const struct audit_record *audit);

/* The instance key of a key scheme ("p256", "secp256k1"), sealed; one row per scheme, so
 * choosing the other scheme never replaces a key. -ENOENT when none exists yet. */
int store_instance_key_get(struct store *s, const char *scheme, char id[40], uint8_t **sealed,
                           size_t *len);
int store_instance_key_put(struct store *s, const char *scheme, const char *id,
                           const uint8_t *sealed, size_t len, int64_t created_at);

/* Rotation. store_dek_rotate_in inserts new_id as the active DEK and retires the others, with
 * its audit entry, in one transaction. store_secret_batch_not_under lists up to max rows not
 * sealed under dek_id; store_secret_rewrap replaces one row's blob only if it is still under
 * old_dek (compare and swap; -ESTALE otherwise). store_dek_drop_unused deletes retired DEKs no
 * row references and returns how many. */
int store_dek_rotate_in(struct store *s, const char *new_id, const uint8_t *wrapped, size_t len,
                        int64_t now, const struct audit_record *audit);
struct secret_ref {
    char owner[64];
    char name[132];
    int64_t version;
    char dek_id[40];
    uint8_t *blob;
    size_t blob_len;
    int64_t created_at;
};
int store_secret_batch_not_under(struct store *s, const char *dek_id, size_t max,
                                 struct secret_ref **rows, size_t *n);
void store_secret_refs_free(struct secret_ref *rows, size_t n);
int store_secret_rewrap(struct store *s, const struct secret_ref *row, const char *new_dek,
                        const uint8_t *blob, size_t len);
int store_dek_drop_unused(struct store *s, int64_t *dropped);
/* Every secret row, oldest owner/name/version order; -E2BIG when there are more than max. */
int store_secret_all(struct store *s, size_t max, struct secret_ref **rows, size_t *n);

/* Key migration, the receiving side: in one transaction, each DEK (wrapped under this
 * instance's KEK) is inserted as retired unless its id is stored already; the secret rows
 * never change what this instance holds for a name: the rows of an (owner, name) it has no
 * row for are inserted; a row of an (owner, name) it has is skipped when the same (owner,
 * name, version) holds the same DEK id and blob here, and is a conflict otherwise (another
 * value, or a version it does not have); audit is appended. -EEXIST (nothing written;
 * *conflict names the row) on a conflict. *inserted, *skipped count secret rows. */
struct transfer_dek {
    char id[40];
    uint8_t wrapped[SEAL_DEK_BLOB_LEN];
};
int store_transfer_import(struct store *s, const struct transfer_dek *deks, size_t n_deks,
                          const struct secret_ref *rows, size_t n_rows, int64_t now,
                          const struct audit_record *audit, int64_t *inserted, int64_t *skipped,
                          char *conflict, size_t conflict_len);
/* For GET /v1/keys: [{"id","state","created_at","secrets"}]. */
int store_dek_summary(struct store *s, json_t **out);

/* How many audit records this process has appended (cheap: no lock, no query). */
int64_t store_audit_appends(struct store *s);

/* The audit chain. */
int store_audit_append(struct store *s, struct audit_record *r);
struct audit_filter {
    int64_t after;  /* seq > after */
    int64_t limit;  /* 1..1000 */
    int64_t since;  /* time >= since; 0: any */
    const char *function, *secret, *actor, *outcome; /* NULL: any */
};
int store_audit_list(struct store *s, const struct audit_filter *f, json_t **entries);
/* The newest record's seq and hash (0 and the genesis hash when empty). */
int store_audit_head(struct store *s, int64_t *seq, char hash[AUDIT_HASH_HEX]);
/* The hash of record seq. -ENOENT when there is no such record. */
int store_audit_hash_at(struct store *s, int64_t seq, char hash[AUDIT_HASH_HEX]);
/* Walks the whole chain. *ok 1 when intact; otherwise *bad_seq is the first broken seq. */
int store_audit_verify(struct store *s, int *ok, int64_t *entries, int64_t *bad_seq,
                       char head_hash[AUDIT_HASH_HEX]);

#endif
