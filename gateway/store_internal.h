/* Internals shared by the store's files (store.c: schema, tokens, functions; store_audit.c;
 * store_secrets.c). Not for use outside gateway/store*.c. */
#ifndef FNBOX_STORE_INTERNAL_H
#define FNBOX_STORE_INTERNAL_H

#include <pthread.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "secrets/audit.h"

/* Read-through caches for the two lookups on every request: a token by its hash, a
 * function's live version by name. Every write that could change an answer bumps `gen` and
 * drops the entries; a reader inserts what it read only if no write happened meanwhile. */
#define CACHE_SLOTS 256
#define CACHE_CODE_MAX (64u * 1024u) /* larger functions are read from SQLite each time */

struct token_slot {
    int used;
    uint8_t hash[32];
    struct token_rec rec;
};

struct fn_slot {
    int used;
    struct fn_version v;
};

struct store {
    sqlite3 *db;
    _Atomic int64_t appends; /* audit records appended by this process */
    pthread_mutex_t mu;
    pthread_mutex_t cache_mu;
    uint64_t gen;
    unsigned next_token, next_fn; /* round-robin eviction */
    struct token_slot tokens[CACHE_SLOTS];
    struct fn_slot fns[CACHE_SLOTS];
};


/* Logs SQLite's message (never values) and returns -EIO. */
int store_fail(struct store *s, const char *what);
int store_exec(struct store *s, const char *sql);
/* Locks the store and prepares sql; store_end finalizes and unlocks. */
int store_begin(struct store *s, const char *sql, sqlite3_stmt **st);
void store_end(struct store *s, sqlite3_stmt *st);
/* Forgets every cached answer; called after any write to tokens or functions. */
void store_cache_invalidate(struct store *s);

/* Runs the prepared single-statement write st (from store_begin) and appends audit (if any)
 * in one transaction: both or neither. need_change: -ENOENT when st changed no row.
 * Leaves st for store_end. 0, -ENOENT or -EIO. */
int store_write_audited(struct store *s, sqlite3_stmt *st, int need_change,
                        const struct audit_record *audit, const char *what);

/* Appends r to the audit chain inside the caller's open transaction (mutex held): fills
 * seq, prev_hash and hash. 0 or -EIO. */
int store_audit_append_locked(struct store *s, struct audit_record *r);

#endif
