/* Signed checkpoints of the audit log's head. A checkpoint is (seq, hash, time) signed with
 * the instance key (ECDSA over SHA-256, in the key's scheme: p256 or secp256k1, low-s) of
 * the exact bytes
 *     "fnbox-audit-checkpoint-v1\n" <seq> "\n" <hash> "\n" <time>
 * (decimal seq and unix time, lowercase hex hash). The latest one is kept in memory and in
 * DATA/audit.checkpoint (written to a temporary file, fsynced, renamed, directory fsynced),
 * outside the database: a database rolled back or truncated below it no longer contains
 * its (seq, hash), which checkpoint_check reports. JSON form:
 *     {"seq","hash","time","signature":hex DER,"public_key":hex SPKI DER,"key_scheme"}
 * A checkpoint signed by this instance's other-scheme key (before --key-scheme changed) still
 * counts as ours, and is re-signed with the selected key at start when the log extends it.
 * All functions are thread-safe; they return 0 or a negative errno. */
#ifndef FNBOX_CHECKPOINT_H
#define FNBOX_CHECKPOINT_H

#include <jansson.h>

#include "gateway/app.h"

#define CHECKPOINT_EVERY 64 /* audit records appended between automatic checkpoints */

/* Loads DATA/audit.checkpoint if there is one. */
int checkpoint_init(struct app *app);
void checkpoint_release(void);
/* Signs the current head now; *out (nullable) receives its JSON. */
int checkpoint_now(struct app *app, json_t **out);
/* A checkpoint when CHECKPOINT_EVERY records were appended since the last one. */
void checkpoint_tick(struct app *app);
/* The latest checkpoint's JSON, or json null. */
json_t *checkpoint_latest(void);
/* *ok: 1 when the latest checkpoint's signature verifies under an instance key and the log
 * still holds its (seq, hash); 0 otherwise; -1 when there is no checkpoint yet. */
int checkpoint_check(struct app *app, int *ok);

#endif
