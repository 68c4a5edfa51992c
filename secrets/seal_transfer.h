/* Sealing DEKs to another instance's public key, for key migration (docs/secrets.md).
 * Pure library code over libcrypto: no files, no database, nothing logged.
 *
 * Transfer key (one per export, never stored):
 *   the sender makes an ephemeral key pair E on the peer key's curve;
 *   z  = ECDH(E.private, peer public key)                       (the x coordinate)
 *   TK = HKDF-SHA256(ikm = z, no salt, info = 0x01 ‖ lp("fnbox dek transfer v1") ‖
 *                    lp(SPKI DER of E) ‖ lp(SPKI DER of the peer key) ‖ lp(binding))
 *   binding: what the export is for, e.g. the peer report's report_data and the sender's key
 *   (gateway/migrate.c says what it passes); the receiver must pass the same bytes.
 * The receiver computes z with its private key and E's public key.
 * Each DEK: AES-256-GCM under TK in the blob framing of seal.h, associated data
 *   0x01 ‖ lp("fnbox transferred dek v1") ‖ lp(dek_id)
 * so a DEK opens only under its own id, only for this export, and only with the peer's
 * private key. Return values as in seal.h: 0, -EBADMSG, -EINVAL, -EIO. */
#ifndef FNBOX_SEAL_TRANSFER_H
#define FNBOX_SEAL_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "secrets/seal.h"

#define SEAL_TRANSFER_SPKI_MAX 160
#define SEAL_TRANSFER_BINDING_MAX 512

struct seal_transfer_key {
    uint8_t key[SEAL_KEY_LEN];
};

/* Sender: a fresh ephemeral key on peer's curve; its SPKI DER into eph_spki (*eph_len bytes,
 * at most SEAL_TRANSFER_SPKI_MAX) and the transfer key into *tk. peer is an EC public key. */
int seal_transfer_begin(EVP_PKEY *peer, const uint8_t *binding, size_t binding_len,
                        uint8_t eph_spki[SEAL_TRANSFER_SPKI_MAX], size_t *eph_len,
                        struct seal_transfer_key *tk);

/* Receiver: the same transfer key from own (an EC key pair) and the sender's eph_spki.
 * -EBADMSG when eph_spki is not a public key on own's curve. */
int seal_transfer_accept(EVP_PKEY *own, const uint8_t *eph_spki, size_t eph_len,
                         const uint8_t *binding, size_t binding_len, struct seal_transfer_key *tk);

int seal_transfer_dek_wrap(const struct seal_transfer_key *tk, const char *dek_id,
                           const uint8_t dek[SEAL_KEY_LEN], uint8_t blob[SEAL_DEK_BLOB_LEN]);
int seal_transfer_dek_unwrap(const struct seal_transfer_key *tk, const char *dek_id,
                             const uint8_t *blob, size_t blob_len, uint8_t dek[SEAL_KEY_LEN]);

#endif
