/* ECDSA by the instance key, in either key scheme: `p256` (secp256r1, prime256v1: Neo N3
 * verifies it natively) or `secp256k1` (EVM chains: ecrecover). Plain C over libcrypto (and
 * attestation/keccak.c for Ethereum addresses); no seal_*, no gateway/, no JSON — the CLI links
 * it. The formats that use these signatures are in evidence.h, receipt.h, docs/attestation.md.
 *
 * - A signature is ECDSA over SHA-256(msg), normalised to low-s (s ≤ n/2, n the order of the
 *   scheme's group; n − s otherwise), given as r ‖ s (32 + 32 bytes, big-endian) and as the
 *   strict DER of that same (r, s).
 * - secp256k1 signatures also carry a recovery id (0 or 1): the parity of the y coordinate of
 *   the nonce point R whose x is r. Recovering the public key from (SHA-256(msg), r, s,
 *   recovery_id) gives the signer's key; EVM's ecrecover takes v = 27 + recovery_id.
 *   ecsig_sign computes it by recovering, never by guessing; a signature whose R has x ≥ n
 *   (recovery ids 2 and 3, which ecrecover cannot express; probability about 2^-128) is
 *   thrown away and made again.
 * - A public key has one spelling: the DER SubjectPublicKeyInfo with the uncompressed point
 *   (p256: 91 bytes; secp256k1: 88 bytes, its curve OID being shorter). Other encodings of the
 *   same key (a compressed point, a BIT STRING claiming unused bits) are refused (-EINVAL).
 * - An Ethereum address is "0x" and 40 lowercase hex digits: the last 20 bytes of
 *   Keccak-256(X ‖ Y). Lowercase, not EIP-55 mixed case: one value, one spelling.
 *
 * Return values: 0; -EBADMSG (a signature that does not verify or recover); -EINVAL (bad
 * arguments, a key of neither scheme, a public key in another spelling); -EIO. */
#ifndef FNBOX_ECSIG_H
#define FNBOX_ECSIG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum ecsig_scheme { ECSIG_P256 = 0, ECSIG_SECP256K1 = 1 };

#define ECSIG_SPKI_MAX 256
#define ECSIG_P256_SPKI_LEN 91
#define ECSIG_K1_SPKI_LEN 88
#define ECSIG_POINT_LEN 65 /* 0x04 ‖ X ‖ Y */
#define ECSIG_RS_LEN 64
#define ECSIG_DER_MAX 72
#define ECSIG_ADDRESS_LEN 42 /* "0x" + 40 hex digits, without the NUL */

struct ecsig {
    enum ecsig_scheme scheme;
    uint8_t rs[ECSIG_RS_LEN];
    uint8_t der[ECSIG_DER_MAX];
    size_t der_len;
    int recovery_id; /* secp256k1: 0 or 1; p256: -1 (no recovery id) */
};

/* "p256" or "secp256k1". */
const char *ecsig_scheme_name(enum ecsig_scheme scheme);
/* The scheme a name stands for; -EINVAL for any other name. */
int ecsig_scheme_parse(const char *name, enum ecsig_scheme *out);
/* The scheme of an EC key (pair or public); -EINVAL when it is neither. */
int ecsig_key_scheme(const EVP_PKEY *key, enum ecsig_scheme *out);

/* The SubjectPublicKeyInfo DER of key (*len bytes) and its scheme (out may be NULL). */
int ecsig_spki(EVP_PKEY *key, uint8_t spki[ECSIG_SPKI_MAX], size_t *len, enum ecsig_scheme *out);
/* The scheme and uncompressed point (point may be NULL) of a public key in its one spelling;
 * -EINVAL for anything else. */
int ecsig_spki_parse(const uint8_t *spki, size_t len, enum ecsig_scheme *scheme,
                     uint8_t point[ECSIG_POINT_LEN]);

/* Signs SHA-256(msg) with key (a key pair of either scheme): low-s r ‖ s and DER, and for
 * secp256k1 the recovery id. */
int ecsig_sign(EVP_PKEY *key, const void *msg, size_t len, struct ecsig *out);

/* 0 when der is a valid ECDSA-SHA256 signature (DER, either s) of msg by the key whose
 * SPKI is spki (one spelling, either scheme); -EBADMSG when not; -EINVAL for the key. */
int ecsig_verify(const uint8_t *spki, size_t spki_len, const void *msg, size_t len,
                 const uint8_t *der, size_t der_len);

/* Parses a strict-DER ECDSA signature with r and s in 1..n−1 for the scheme's n and gives
 * its low-s form as r ‖ s and DER; *was_high (may be NULL) is 1 when s was replaced by n − s.
 * -EBADMSG when der is not such a signature. */
int ecsig_low_s(enum ecsig_scheme scheme, const uint8_t *der, size_t der_len,
                uint8_t rs[ECSIG_RS_LEN], uint8_t der_out[ECSIG_DER_MAX], size_t *der_out_len,
                int *was_high);

/* secp256k1 public-key recovery: the point Q = r⁻¹(s·R − e·G), R the point with x = r and
 * y of parity recovery_id, e = digest as a big-endian number. -EBADMSG when r or s is not in
 * 1..n−1, recovery_id not 0 or 1, no point has x = r, or Q is the point at infinity. (Any
 * valid (r, s, id) recovers some key: compare the result with the key you expect.) */
int ecsig_k1_recover(const uint8_t digest[32], const uint8_t rs[ECSIG_RS_LEN], int recovery_id,
                     uint8_t point[ECSIG_POINT_LEN]);

/* The Ethereum address of a secp256k1 public key given as its SPKI (one spelling):
 * "0x" + 40 lowercase hex digits + NUL. -EINVAL when spki is not a secp256k1 key. */
int ecsig_k1_address(const uint8_t *spki, size_t spki_len, char out[ECSIG_ADDRESS_LEN + 1]);

#endif
