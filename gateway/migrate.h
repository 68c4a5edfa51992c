/* Key migration between instances (docs/secrets.md, "Moving to another instance").
 *
 * Export, on the instance that holds the keys (A):
 *   1. migrate_challenge: a fresh 32-byte nonce, single use, valid MIGRATE_CHALLENGE_TTL s.
 *   2. The operator fetches the peer's (B's) GET /v1/attestation?nonce=<it>.
 *   3. migrate_export(B's report): the nonce must be an outstanding challenge (consumed);
 *      the report must verify (evidence_report_verify); its measurement must be A's own or
 *      one of --peer-measurement; a software-only report is refused unless
 *      --trust-software-peers. Then every DEK is sealed to B's attested key
 *      (secrets/seal_transfer.h, binding = B's report_data ‖ A's public key SPKI) and the
 *      bundle, with every sealed secret row, is signed by A's instance key. The export is
 *      audited (fail closed) before the bundle is returned.
 * Import, on B: migrate_import checks the bundle is addressed to B's instance key and signed
 * by the key it names, opens every DEK and every secret row with them (all or nothing), then
 * stores DEKs (rewrapped under B's KEK, retired) and rows in one audited transaction.
 * Re-importing the same bundle is harmless (rows already present are skipped).
 *
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

struct migrate_error {
    int status;
    const char *code;
    char message[256];
};

int migrate_challenge(json_t **out, struct migrate_error *err);
int migrate_export(struct app *app, const char *actor, const json_t *peer_report, json_t **bundle,
                   struct migrate_error *err);
int migrate_import(struct app *app, const char *actor, const json_t *bundle, json_t **out,
                   struct migrate_error *err);

#endif
