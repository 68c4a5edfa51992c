/* Key migration between instances (docs/secrets.md, "Moving to another instance").
 *
 * Export, on the instance that holds the keys (A):
 *   1. migrate_challenge: a fresh 32-byte nonce, single use, valid MIGRATE_CHALLENGE_TTL s
 *      (on CLOCK_MONOTONIC).
 *   2. The operator fetches the peer's (B's) GET /v1/attestation?nonce=<it>.
 *   3. migrate_export(B's report): the nonce must be an outstanding challenge (consumed);
 *      the report must verify (evidence_report_verify); its measurement must be A's own or
 *      one of --peer-measurement; a software-only report is refused unless
 *      --trust-software-peers. Then every DEK is sealed to B's attested key
 *      (secrets/seal_transfer.h, binding = B's report_data ‖ A's public key SPKI) and the
 *      bundle, with every sealed secret row, is signed by A's instance key. The export is
 *      audited (fail closed) before the bundle is returned.
 * Import, on B, of a bundle from the instance the operator names (expected_source: the
 * SHA-256 hex of its public key SPKI DER, from its attestation report): migrate_import checks
 * the bundle is addressed to B's instance key, was made by that named key (403
 * unexpected_source otherwise: the signature alone proves only that *some* key made it), is
 * signed by it, and is recent (time within MIGRATE_BUNDLE_MAX_AGE s before now and
 * MIGRATE_BUNDLE_MAX_SKEW s after: 422 bundle_expired). It opens every DEK into its own memory
 * and every secret row with them (or, for rows under a DEK B already holds, with B's keyring)
 * — all or nothing — then stores DEKs (rewrapped under B's KEK, retired) and rows in one
 * audited transaction, and only after the commit adds the new DEKs to B's keyring: a refused
 * import leaves B's keyring unchanged. An import never changes what B holds for a name
 * (store.h, store_transfer_import): the rows of names B has no row for are added; rows B has
 * identically are skipped (re-importing is harmless); anything else for a name B has is a
 * 409 conflict and nothing is imported. Owner and secret names must pass the API's own
 * validators, versions lie in 1..MIGRATE_MAX_VERSION (400 otherwise).
 * Export and import hold the rotation lock (rotate.h).
 * Bundle: {"format":"fnbox-keys-v1","source_public_key","source_measurement",
 *   "peer_public_key","peer_report_data","ephemeral_public_key","time",
 *   "deks":[{"id","sealed"}],"secrets":[{"owner","name","version","dek_id","blob",
 *   "created_at"}],"signature"} — hex for bytes; signature = ECDSA-SHA256 (DER, hex) by the
 * source key over the bundle without "signature" printed by jansson with JSON_COMPACT |
 * JSON_SORT_KEYS (only fnbox verifies it).
 *
 * Errors: the functions return 0, or fill *err with the HTTP status, code and message. */
#ifndef FNBOX_MIGRATE_H
#define FNBOX_MIGRATE_H

#include <jansson.h>

#include "gateway/app.h"

#define MIGRATE_CHALLENGE_TTL 300
#define MIGRATE_MAX_SECRETS 100000
#define MIGRATE_MAX_VERSION (1LL << 31)
/* A bundle is accepted for an hour after it was made; this bounds how long a copy of a
 * genuine bundle can be replayed (e.g. to bring back a secret deleted on B since). */
#define MIGRATE_BUNDLE_MAX_AGE 3600
/* and up to five minutes "ahead", for clock skew between the two instances */
#define MIGRATE_BUNDLE_MAX_SKEW 300

struct migrate_error {
    int status;
    const char *code;
    char message[256];
};

int migrate_challenge(json_t **out, struct migrate_error *err);
int migrate_export(struct app *app, const char *actor, const json_t *peer_report, json_t **bundle,
                   struct migrate_error *err);
int migrate_import(struct app *app, const char *actor, const json_t *bundle,
                   const char *expected_source, json_t **out, struct migrate_error *err);

#endif
