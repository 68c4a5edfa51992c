#include "secrets/seal_p256.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "secrets/aead.h"

/* The sealing label of each curve: a blob of one scheme never opens as the other. The P-256
 * label is the first format's and stays as it was. */
static const char *label_of(const char *group)
{
    if (strcmp(group, "prime256v1") == 0) return "fnbox instance key v1";
    if (strcmp(group, "secp256k1") == 0) return "fnbox instance key secp256k1 v1";
    return NULL;
}

static void key_aad(struct aad *a, const char *label, const char *key_id)
{
    aad_init(a, label);
    aad_str(a, key_id);
}

/* 1 when pkey is an EC key on the named group. */
static int is_group(const EVP_PKEY *pkey, const char *want)
{
    char group[32];
    size_t n = 0;
    return pkey && EVP_PKEY_is_a(pkey, "EC") &&
           EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                          &n) == 1 &&
           strcmp(group, want) == 0;
}

static int is_p256(const EVP_PKEY *pkey)
{
    return is_group(pkey, "prime256v1");
}

int seal_ec_new(const char *group, EVP_PKEY **out)
{
    *out = NULL;
    if (!group || !label_of(group)) return -EINVAL;
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    return *out ? 0 : -EIO;
}

int seal_ec_wrap(const char *group, const struct seal_kek *kek, const char *key_id,
                 EVP_PKEY *pkey, uint8_t *blob, size_t blob_cap, size_t *blob_len)
{
    *blob_len = 0;
    const char *label = group ? label_of(group) : NULL;
    if (!label || !kek || !key_id || !pkey || !blob || !is_group(pkey, group)) return -EINVAL;
    struct aad a;
    key_aad(&a, label, key_id);
    int n = i2d_PrivateKey(pkey, NULL);
    if (n <= 0 || n > SEAL_P256_DER_MAX) return -EIO;
    if (blob_cap < SEAL_SEALED_LEN((size_t)n)) return -ENOSPC;
    uint8_t der[SEAL_P256_DER_MAX], *p = der;
    int rc = i2d_PrivateKey(pkey, &p) == n ? aead_seal(kek->key, &a, der, (size_t)n, blob) : -EIO;
    OPENSSL_cleanse(der, sizeof der);
    if (!rc) *blob_len = SEAL_SEALED_LEN((size_t)n);
    return rc;
}

int seal_ec_unwrap(const char *group, const struct seal_kek *kek, const char *key_id,
                   const uint8_t *blob, size_t blob_len, EVP_PKEY **out)
{
    *out = NULL;
    const char *label = group ? label_of(group) : NULL;
    if (!label || !kek || !key_id) return -EINVAL;
    if (!blob || blob_len <= SEAL_OVERHEAD || blob_len > SEAL_P256_BLOB_MAX) return -EBADMSG;
    struct aad a;
    key_aad(&a, label, key_id);
    uint8_t der[SEAL_P256_DER_MAX];
    size_t n = SEAL_OPENED_LEN(blob_len);
    int rc = aead_open(kek->key, &a, blob, blob_len, der);
    if (!rc) {
        const uint8_t *p = der;
        *out = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, (long)n);
        /* authentic but not one whole key on this curve: sealed by something else */
        if (!*out || p != der + n || !is_group(*out, group)) rc = -EBADMSG;
    }
    OPENSSL_cleanse(der, sizeof der);
    if (rc) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    return rc;
}

int seal_p256_new(EVP_PKEY **out)
{
    return seal_ec_new("prime256v1", out);
}

int seal_p256_wrap(const struct seal_kek *kek, const char *key_id, EVP_PKEY *pkey, uint8_t *blob,
                   size_t blob_cap, size_t *blob_len)
{
    return seal_ec_wrap("prime256v1", kek, key_id, pkey, blob, blob_cap, blob_len);
}

int seal_p256_unwrap(const struct seal_kek *kek, const char *key_id, const uint8_t *blob,
                     size_t blob_len, EVP_PKEY **out)
{
    return seal_ec_unwrap("prime256v1", kek, key_id, blob, blob_len, out);
}

int seal_p256_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t len, uint8_t sig[SEAL_P256_SIG_MAX],
                   size_t *sig_len)
{
    *sig_len = 0;
    if (!pkey || (!msg && len) || !is_p256(pkey)) return -EINVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = SEAL_P256_SIG_MAX;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &n, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -EIO;
    *sig_len = n;
    return 0;
}

int seal_p256_verify(const uint8_t *pub, size_t pub_len, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len)
{
    if (!pub || !pub_len || pub_len > 4096 || (!msg && len)) return -EINVAL;
    if (!sig || !sig_len || sig_len > SEAL_P256_SIG_MAX) return -EBADMSG;
    const uint8_t *p = pub;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)pub_len);
    if (!pkey || p != pub + pub_len || !is_p256(pkey)) {
        EVP_PKEY_free(pkey);
        return -EINVAL;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -EIO;
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
        rc = EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1 ? 0 : -EBADMSG;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int seal_p256_public_der(EVP_PKEY *pkey, uint8_t out[SEAL_P256_SPKI_LEN])
{
    if (!pkey || !is_p256(pkey)) return -EINVAL;
    if (i2d_PUBKEY(pkey, NULL) != SEAL_P256_SPKI_LEN) return -EIO;
    uint8_t *p = out;
    return i2d_PUBKEY(pkey, &p) == SEAL_P256_SPKI_LEN ? 0 : -EIO;
}

int seal_p256_public_point(EVP_PKEY *pkey, uint8_t out[SEAL_P256_POINT_LEN])
{
    if (!pkey || !is_p256(pkey)) return -EINVAL;
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
                                        SEAL_P256_POINT_LEN, &n) != 1 ||
        n != SEAL_P256_POINT_LEN || out[0] != 0x04) { /* uncompressed, the default */
        memset(out, 0, SEAL_P256_POINT_LEN);
        return -EIO;
    }
    return 0;
}

int seal_p256_public_hex(EVP_PKEY *pkey, char out[2 * SEAL_P256_POINT_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t pt[SEAL_P256_POINT_LEN];
    int rc = seal_p256_public_point(pkey, pt);
    if (rc) return rc;
    for (size_t i = 0; i < sizeof pt; i++) {
        out[2 * i] = digits[pt[i] >> 4];
        out[2 * i + 1] = digits[pt[i] & 15];
    }
    out[2 * sizeof pt] = 0;
    return 0;
}
