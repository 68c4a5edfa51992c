/* The instance signing key: an ECDSA P-256 key pair generated at first start, stored only
 * sealed under the KEK, used to sign audit checkpoints, attestation reports and receipts
 * (or, with fnboxd --key-scheme secp256k1, a secp256k1 key sealed the same way: seal_ec_*).
 *
 * Sealed form: the private key's DER (SEC1 ECPrivateKey, named curve, public point
 * included) in the blob framing of seal.h, associated data
 *   0x01 ‖ lp("fnbox instance key v1") ‖ lp(key_id)
 * so it opens only under the same KEK (root, TEE id, policy) and the same key_id.
 * Signatures: ECDSA over SHA-256 of the message, DER-encoded (at most SEAL_P256_SIG_MAX
 * bytes), as `openssl dgst -sha256 -verify pub.pem` checks them.
 * Public key: DER SubjectPublicKeyInfo (SEAL_P256_SPKI_LEN bytes), or the uncompressed
 * point 0x04 ‖ X ‖ Y (SEAL_P256_POINT_LEN bytes), or that point in lowercase hex.
 *
 * Return values as in seal.h: 0, -EBADMSG (blob fails to open, signature does not verify),
 * -EINVAL, -ENOSPC, -EIO. The EVP_PKEY handed out is the caller's to EVP_PKEY_free (which
 * clears the private scalar). */
#ifndef FNBOX_SEAL_P256_H
#define FNBOX_SEAL_P256_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "secrets/seal.h"

#define SEAL_P256_DER_MAX 160 /* a P-256 ECPrivateKey is 121 bytes */
#define SEAL_P256_BLOB_MAX (SEAL_OVERHEAD + SEAL_P256_DER_MAX)
#define SEAL_P256_SIG_MAX 72
#define SEAL_P256_SPKI_LEN 91
#define SEAL_P256_POINT_LEN 65

/* A fresh key pair. */
int seal_p256_new(EVP_PKEY **out);

/* Seals the private key into blob (cap at least SEAL_P256_BLOB_MAX); *blob_len its length. */
int seal_p256_wrap(const struct seal_kek *kek, const char *key_id, EVP_PKEY *pkey, uint8_t *blob,
                   size_t blob_cap, size_t *blob_len);

/* Opens a sealed key; *out is a P-256 key pair or NULL on failure. */
int seal_p256_unwrap(const struct seal_kek *kek, const char *key_id, const uint8_t *blob,
                     size_t blob_len, EVP_PKEY **out);

/* The same three for an instance key of either scheme (fnboxd --key-scheme), named by its
 * OpenSSL group: "prime256v1" (exactly the functions above) or "secp256k1" (a SEC1
 * ECPrivateKey of 118 bytes, sealed with the associated data
 * 0x01 ‖ lp("fnbox instance key secp256k1 v1") ‖ lp(key_id), so a blob of one scheme never
 * opens as the other). -EINVAL for any other group. */
int seal_ec_new(const char *group, EVP_PKEY **out);
int seal_ec_wrap(const char *group, const struct seal_kek *kek, const char *key_id,
                 EVP_PKEY *pkey, uint8_t *blob, size_t blob_cap, size_t *blob_len);
int seal_ec_unwrap(const char *group, const struct seal_kek *kek, const char *key_id,
                   const uint8_t *blob, size_t blob_len, EVP_PKEY **out);

/* ECDSA-SHA256 signature, DER, into sig (SEAL_P256_SIG_MAX bytes); *sig_len its length. */
int seal_p256_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t len, uint8_t sig[SEAL_P256_SIG_MAX],
                   size_t *sig_len);

/* 0 when sig is a valid signature of msg by the P-256 key whose SubjectPublicKeyInfo DER is
 * pub; -EBADMSG when it is not; -EINVAL when pub is not exactly one P-256 public key. */
int seal_p256_verify(const uint8_t *pub, size_t pub_len, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len);

/* Public key exports. */
int seal_p256_public_der(EVP_PKEY *pkey, uint8_t out[SEAL_P256_SPKI_LEN]);
int seal_p256_public_point(EVP_PKEY *pkey, uint8_t out[SEAL_P256_POINT_LEN]);
int seal_p256_public_hex(EVP_PKEY *pkey, char out[2 * SEAL_P256_POINT_LEN + 1]);

#endif
