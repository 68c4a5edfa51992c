/* Sealing: the envelope encryption of secrets. Pure library code: no files, no database.
 *
 * Key hierarchy
 *   root   32 bytes per instance (the TEE identity); seal_root.h says where it comes from.
 *   KEK    HKDF-SHA256(ikm = root, no salt, info = 0x01 ‖ lp("fnbox kek") ‖ lp(tee_id) ‖
 *                      lp(policy name) ‖ lp(policy value))
 *            policy "instance":    value empty; any build holding this root can unseal.
 *            policy "measurement": value = the 32-byte measurement of the binary; a changed
 *                                  binary derives another KEK (keys must be migrated).
 *   DEK    32 random bytes (AES-256), wrapped under the KEK, stored wrapped in the database.
 *   secret AES-256-GCM under a DEK.
 *   lp(x) = be32(length of x) ‖ x, so no two different tuples encode alike.
 *
 * Sealed blob, the same framing for wrapped DEKs, secret values and the instance key:
 *   byte  0               format: SEAL_FORMAT_V1 (0x01); any other value fails to open
 *   bytes 1 .. 12         nonce: 96 bits, fresh from RAND_bytes for every blob
 *   bytes 13 .. 13+n-1    ciphertext (n = plaintext length)
 *   last 16 bytes         GCM tag
 *   length n + SEAL_OVERHEAD (29). A wrapped DEK is SEAL_DEK_BLOB_LEN (61) bytes.
 * Associated data (authenticated, not stored), format byte first:
 *   wrapped DEK    0x01 ‖ lp("fnbox dek v1")    ‖ lp(dek_id)
 *   secret value   0x01 ‖ lp("fnbox secret v1") ‖ lp(owner) ‖ lp(name) ‖ be64(version) ‖
 *                  lp(dek_id)
 *   instance key   0x01 ‖ lp("fnbox instance key v1") ‖ lp(key_id)          (seal_p256.h)
 * so a blob copied to another row (owner, name, version or DEK id) fails to open.
 * Text fields are at most SEAL_FIELD_MAX bytes; a plaintext at most SEAL_PLAINTEXT_MAX.
 *
 * Every function returns 0 or a negative errno: -EBADMSG when a blob fails to open (wrong
 * key, other associated data, any bit changed, unknown format, too short); -EINVAL for bad
 * arguments; -ENOSPC when an output buffer is too small; -EIO when OpenSSL failed. Outputs
 * of a failed call hold no key material. Keys and plaintext copies made here are wiped;
 * callers wipe theirs with seal_wipe(). Nothing here logs. Thread-safe (no shared state). */
#ifndef FNBOX_SEAL_H
#define FNBOX_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
#define SEAL_MEASUREMENT_LEN 32
#define SEAL_FORMAT_V1 0x01
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD (1 + SEAL_NONCE_LEN + SEAL_TAG_LEN)
#define SEAL_DEK_BLOB_LEN (SEAL_OVERHEAD + SEAL_KEY_LEN)
#define SEAL_FIELD_MAX 1024
#define SEAL_PLAINTEXT_MAX (16u << 20)
/* Bytes needed to seal n bytes of plaintext, and to open a blob of n bytes. */
#define SEAL_SEALED_LEN(n) ((n) + SEAL_OVERHEAD)
#define SEAL_OPENED_LEN(n) ((n) > SEAL_OVERHEAD ? (n)-SEAL_OVERHEAD : 0)

struct seal_root {
    uint8_t key[SEAL_KEY_LEN];
};

struct seal_kek {
    uint8_t key[SEAL_KEY_LEN];
};

enum seal_policy { SEAL_POLICY_INSTANCE = 0, SEAL_POLICY_MEASUREMENT };

/* Identifies a secret value: the row it belongs to. */
struct seal_secret_id {
    const char *owner;
    const char *name;
    uint64_t version;
};

/* "instance" / "measurement"; parse returns 0 or -EINVAL. */
const char *seal_policy_name(enum seal_policy p);
int seal_policy_parse(const char *name, enum seal_policy *out);

/* OPENSSL_cleanse: for keys, plaintext and anything derived from them. */
void seal_wipe(void *p, size_t n);

/* Derives the KEK. tee_id names the evidence provider ("software", "tdx", ...), non-empty.
 * measurement: required (SEAL_MEASUREMENT_LEN bytes) for SEAL_POLICY_MEASUREMENT, ignored
 * for SEAL_POLICY_INSTANCE. */
int seal_kek_derive(const struct seal_root *root, const char *tee_id, enum seal_policy policy,
                    const uint8_t *measurement, struct seal_kek *out);

/* A new random DEK. */
int seal_dek_new(uint8_t dek[SEAL_KEY_LEN]);

/* Wraps / unwraps a DEK under the KEK, bound to dek_id. */
int seal_dek_wrap(const struct seal_kek *kek, const char *dek_id, const uint8_t dek[SEAL_KEY_LEN],
                  uint8_t blob[SEAL_DEK_BLOB_LEN]);
int seal_dek_unwrap(const struct seal_kek *kek, const char *dek_id, const uint8_t *blob,
                    size_t blob_len, uint8_t dek[SEAL_KEY_LEN]);

/* Encrypts a secret value under a DEK, bound to *id and dek_id. blob_cap must be at least
 * SEAL_SEALED_LEN(len); *blob_len receives the blob's length. */
int seal_secret_encrypt(const uint8_t dek[SEAL_KEY_LEN], const char *dek_id,
                        const struct seal_secret_id *id, const uint8_t *pt, size_t len,
                        uint8_t *blob, size_t blob_cap, size_t *blob_len);

/* Decrypts a secret value; pt_cap must be at least SEAL_OPENED_LEN(blob_len). On failure
 * nothing of the plaintext is left in pt. */
int seal_secret_decrypt(const uint8_t dek[SEAL_KEY_LEN], const char *dek_id,
                        const struct seal_secret_id *id, const uint8_t *blob, size_t blob_len,
                        uint8_t *pt, size_t pt_cap, size_t *pt_len);

#endif
