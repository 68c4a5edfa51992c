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
};

int store_open(const char *path, struct store **out);
void store_close(struct store *s);

int store_token_insert(struct store *s, const char *id, const uint8_t hash[32], const char *role,
                       const char *owner, int64_t created_at, int64_t expires_at);
int store_token_lookup(struct store *s, const uint8_t hash[32], struct token_rec *out);
int store_token_count(struct store *s, int64_t *count);
int store_token_list(struct store *s, json_t **out);
int store_token_revoke(struct store *s, const char *id);

/* Adds version latest+1 (1 for a new name). -EEXIST when another owner has the name. */
int store_function_deploy(struct store *s, const struct fn_version *v, int64_t *version_out);
/* version 0: the live one (pinned, else newest). */
int store_function_get(struct store *s, const char *name, int64_t version, struct fn_version *out);
void fn_version_free(struct fn_version *v);
/* owner NULL: all functions. */
int store_function_list(struct store *s, const char *owner, json_t **out);
int store_function_versions(struct store *s, const char *name, json_t **out);
/* version 0: unpin. -ENOENT when the function or version does not exist. */
int store_function_set_live(struct store *s, const char *name, int64_t version);
int store_function_delete(struct store *s, const char *name);

#endif
