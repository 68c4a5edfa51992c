#include "secrets/aead.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static void put(struct aad *a, const void *p, size_t n)
{
    if (a->err) return;
    if (n > sizeof a->buf - a->len) {
        a->err = -EINVAL;
        return;
    }
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

static void put_be(struct aad *a, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    put(a, b, (size_t)bytes);
}

void aad_init(struct aad *a, const char *label)
{
    a->len = 0;
    a->err = 0;
    a->buf[a->len++] = AEAD_FORMAT_V1;
    aad_str(a, label);
}

void aad_bytes(struct aad *a, const void *p, size_t n)
{
    if ((!p && n) || n > AAD_FIELD_MAX) {
        a->err = -EINVAL;
        return;
    }
    put_be(a, n, 4);
    if (n) put(a, p, n);
}

void aad_str(struct aad *a, const char *s)
{
    if (!s) {
        a->err = -EINVAL;
        return;
    }
    aad_bytes(a, s, strnlen(s, AAD_FIELD_MAX + 1));
}

void aad_u64(struct aad *a, uint64_t v)
{
    put_be(a, v, 8);
}

static int aad_ok(const struct aad *a)
{
    return !a->err && a->len > 0 && a->buf[0] == AEAD_FORMAT_V1;
}

int aead_seal(const uint8_t key[AEAD_KEY_LEN], const struct aad *aad, const uint8_t *pt, size_t len,
              uint8_t *blob)
{
    if (!aad_ok(aad) || len > AEAD_PLAINTEXT_MAX || (len && !pt)) return -EINVAL;
    uint8_t *nonce = blob + 1, *ct = nonce + AEAD_NONCE_LEN, *tag = ct + len;
    blob[0] = AEAD_FORMAT_V1;
    if (RAND_bytes(nonce, AEAD_NONCE_LEN) != 1) {
        memset(blob, 0, len + AEAD_OVERHEAD);
        return -EIO;
    }
    uint8_t fin[AEAD_TAG_LEN]; /* GCM's final step writes nothing; a place for it anyway */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok = ctx != NULL;
    ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1;
    ok = ok && EVP_EncryptUpdate(ctx, NULL, &n, aad->buf, (int)aad->len) == 1;
    if (ok && len) ok = EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) == 1 && (size_t)n == len;
    ok = ok && EVP_EncryptFinal_ex(ctx, fin, &n) == 1 && n == 0;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(ctx); /* clears the expanded key */
    if (!ok) {
        OPENSSL_cleanse(blob, len + AEAD_OVERHEAD);
        return -EIO;
    }
    return 0;
}

int aead_open(const uint8_t key[AEAD_KEY_LEN], const struct aad *aad, const uint8_t *blob,
              size_t blob_len, uint8_t *pt)
{
    if (!aad_ok(aad)) return -EINVAL;
    if (!blob || blob_len < AEAD_OVERHEAD || blob_len - AEAD_OVERHEAD > AEAD_PLAINTEXT_MAX ||
        blob[0] != AEAD_FORMAT_V1)
        return -EBADMSG;
    size_t len = blob_len - AEAD_OVERHEAD;
    const uint8_t *nonce = blob + 1, *ct = nonce + AEAD_NONCE_LEN, *tag = ct + len;
    uint8_t tagbuf[AEAD_TAG_LEN], fin[AEAD_TAG_LEN];
    memcpy(tagbuf, tag, sizeof tagbuf); /* the ctrl takes a non-const pointer */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok = ctx != NULL;
    ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1;
    ok = ok && EVP_DecryptUpdate(ctx, NULL, &n, aad->buf, (int)aad->len) == 1;
    if (ok && len) ok = EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len) == 1 && (size_t)n == len;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN, tagbuf) == 1;
    int rc = ok ? 0 : -EIO;
    /* The final step compares the tag in constant time; failure means tampering or the
     * wrong key or associated data. */
    if (ok && EVP_DecryptFinal_ex(ctx, fin, &n) != 1) rc = -EBADMSG;
    EVP_CIPHER_CTX_free(ctx);
    if (rc && len) OPENSSL_cleanse(pt, len);
    return rc;
}
