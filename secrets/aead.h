/* AES-256-GCM with the sealed-blob framing described in seal.h, and the canonical encoder of
 * associated data. Internal to secrets/: other modules use seal.h and seal_p256.h.
 *
 * Blob: format (1 byte, AEAD_FORMAT_V1) ‖ nonce (12, fresh from RAND_bytes) ‖ ciphertext
 * (as long as the plaintext) ‖ tag (16). The associated data given to GCM is the struct aad
 * built below; its first byte is the format byte, so the format is authenticated too.
 *
 * AAD encoding: format byte ‖ lp(label) ‖ fields in order, where lp(x) = be32(len(x)) ‖ x and
 * integers are be64: no two different tuples encode alike (("ab","c") != ("a","bc")). */
#ifndef FNBOX_AEAD_H
#define FNBOX_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN 32
#define AEAD_FORMAT_V1 0x01
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16
#define AEAD_OVERHEAD (1 + AEAD_NONCE_LEN + AEAD_TAG_LEN)
#define AEAD_PLAINTEXT_MAX (16u << 20)
#define AAD_FIELD_MAX 1024
#define AAD_MAX 4096

struct aad {
    uint8_t buf[AAD_MAX];
    size_t len;
    int err; /* first encoding error (-EINVAL): a NULL or over-long field, or overflow */
};

/* Starts the encoding: the format byte, then lp(label). */
void aad_init(struct aad *a, const char *label);
/* Appends lp(s). A NULL s, or one longer than AAD_FIELD_MAX, sets a->err. */
void aad_str(struct aad *a, const char *s);
/* Appends lp(p[0..n)). n over AAD_FIELD_MAX, or a NULL p with n > 0, sets a->err. */
void aad_bytes(struct aad *a, const void *p, size_t n);
/* Appends be64(v). */
void aad_u64(struct aad *a, uint64_t v);

/* Seals pt[0..len) into blob[0 .. len + AEAD_OVERHEAD). 0, -EINVAL (bad AAD or length) or
 * -EIO (OpenSSL or the random generator failed; blob is zeroed). */
int aead_seal(const uint8_t key[AEAD_KEY_LEN], const struct aad *aad, const uint8_t *pt, size_t len,
              uint8_t *blob);

/* Opens blob[0..blob_len) into pt[0 .. blob_len - AEAD_OVERHEAD). -EBADMSG when the blob is
 * too short, of another format, or fails authentication (pt is then wiped); -EINVAL for a bad
 * AAD; -EIO when OpenSSL failed. */
int aead_open(const uint8_t key[AEAD_KEY_LEN], const struct aad *aad, const uint8_t *blob,
              size_t blob_len, uint8_t *pt);

#endif
