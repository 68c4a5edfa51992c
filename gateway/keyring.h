/* The gateway's unsealed key material: the KEK, every DEK and the instance signing key
 * (of the scheme fnboxd --key-scheme selects: p256 or secp256k1), unsealed once at start-up and kept only in fnboxd's memory (never in the
 * zygote's or a worker's: it is loaded after the zygote is forked). A DEK stays in memory
 * until exit even after rotation retires it, so a read that raced a rewrap still opens. keyring_open refuses to start when any stored DEK fails to unwrap (a
 * wrong root, policy or measurement) rather than silently making a new one; on first start
 * it creates the first DEK. New secrets are sealed under the active DEK.
 * Functions return 0 or a negative errno (-EBADMSG: a blob failed to open). Thread-safe. */
#ifndef FNBOX_KEYRING_H
#define FNBOX_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "gateway/store.h"
#include "secrets/seal.h"
#include "secrets/seal_transfer.h"

struct keyring;

/* key_scheme: "p256" or "secp256k1". Each scheme has its own sealed instance key, made at the
 * first start that selects it and reused by every later one; selecting the other scheme never
 * replaces or deletes a key. */
int keyring_open(struct store *s, const struct seal_kek *kek, const char *key_scheme, int64_t now,
                 struct keyring **out, char *err, size_t errlen);
void keyring_close(struct keyring *kr);
size_t keyring_dek_count(const struct keyring *kr);

/* The instance key of the selected scheme (created and stored sealed at the first start with
 * that scheme). Owned by the keyring. */
EVP_PKEY *keyring_instance_key(struct keyring *kr);
/* The instance key of the other scheme when one is stored (an earlier start selected it), else
 * NULL: it signs nothing, it only lets this instance recognise its own earlier signatures
 * (the audit checkpoint) after the operator switched schemes. Owned by the keyring. */
EVP_PKEY *keyring_previous_key(struct keyring *kr);

/* Rotation, step one: a new DEK becomes active for new writes, the others are retired; the
 * DEK row and its audit entry are committed together. new_id (40 bytes) receives its id. */
int keyring_rotate_in(struct keyring *kr, struct store *s, int64_t now,
                      const struct audit_record *audit, char *new_id);

/* Seals a value for (owner, name, version) under the DEK dek_id; *blob is malloc'd. */
int keyring_seal(struct keyring *kr, const char *dek_id, const struct seal_secret_id *id,
                 const uint8_t *pt, size_t len, uint8_t **blob, size_t *blob_len);
/* The id of the DEK new secrets are sealed under. */
void keyring_active_id(struct keyring *kr, char dek_id[40]);
/* Opens a blob; *pt is malloc'd (the caller wipes it with seal_wipe and frees it). */
int keyring_open_secret(struct keyring *kr, const char *dek_id, const struct seal_secret_id *id,
                        const uint8_t *blob, size_t blob_len, uint8_t **pt, size_t *pt_len);

/* Key migration. transfer_out seals DEK dek_id under a transfer key (-ENOENT: no such DEK).
 *
 * The receiving side works in three steps so that nothing enters the keyring before the
 * import that brings it is committed (a refused or failed import leaves the keyring as it
 * was: no slot used, no id taken):
 *   keyring_transfer_open opens a transferred DEK into the caller's key (the caller wipes it
 *     with seal_wipe) and wraps it under this instance's KEK into wrapped, for the store.
 *     *held: 1 when the keyring already holds dek_id with this very key, else 0. -EEXIST
 *     when it holds dek_id with another key. Adds nothing.
 *   keyring_room: 0 when n more DEKs fit, else -ENOSPC.
 *   keyring_add, after the commit: adds dek_id with key (0 too when it is already held with
 *     the same key; -EEXIST with another; -ENOSPC when full).
 * The caller serialises against anything else that adds DEKs (rotate.h, keys_rotation_lock)
 * so that what keyring_room promised still holds at keyring_add. */
int keyring_transfer_out(struct keyring *kr, const struct seal_transfer_key *tk,
                         const char *dek_id, uint8_t blob[SEAL_DEK_BLOB_LEN]);
int keyring_transfer_open(struct keyring *kr, const struct seal_transfer_key *tk,
                          const char *dek_id, const uint8_t *blob, size_t blob_len,
                          uint8_t key[SEAL_KEY_LEN], uint8_t wrapped[SEAL_DEK_BLOB_LEN],
                          int *held);
int keyring_room(struct keyring *kr, size_t n);
int keyring_add(struct keyring *kr, const char *dek_id, const uint8_t key[SEAL_KEY_LEN]);

#endif
