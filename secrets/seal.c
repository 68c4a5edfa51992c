#include "secrets/seal.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "secrets/aead.h"
#include "secrets/kdf.h"

_Static_assert(SEAL_KEY_LEN == AEAD_KEY_LEN && SEAL_OVERHEAD == AEAD_OVERHEAD &&
                   SEAL_FORMAT_V1 == AEAD_FORMAT_V1 && SEAL_NONCE_LEN == AEAD_NONCE_LEN &&
                   SEAL_FIELD_MAX == AAD_FIELD_MAX && SEAL_PLAINTEXT_MAX == AEAD_PLAINTEXT_MAX,
               "seal.h and aead.h describe the same blob");

static const char *const policy_names[] = {"instance", "measurement"};

const char *seal_policy_name(enum seal_policy p)
{
    return (p == SEAL_POLICY_INSTANCE || p == SEAL_POLICY_MEASUREMENT) ? policy_names[p] : "";
}

int seal_policy_parse(const char *name, enum seal_policy *out)
{
    for (int p = SEAL_POLICY_INSTANCE; p <= SEAL_POLICY_MEASUREMENT; p++)
        if (name && strcmp(name, policy_names[p]) == 0) {
            *out = (enum seal_policy)p;
            return 0;
        }
    return -EINVAL;
}

void seal_wipe(void *p, size_t n)
{
    if (p && n) OPENSSL_cleanse(p, n);
}

/* The HKDF info: the same length-prefixed encoding as associated data (aead.h), so the
 * policy value of one policy can never be mistaken for part of another field. */
static void kek_info(struct aad *info, const char *tee_id, enum seal_policy policy,
                     const uint8_t *measurement)
{
    aad_init(info, "fnbox kek");
    aad_str(info, tee_id);
    aad_str(info, seal_policy_name(policy));
    if (policy == SEAL_POLICY_MEASUREMENT)
        aad_bytes(info, measurement, SEAL_MEASUREMENT_LEN);
    else
        aad_bytes(info, NULL, 0); /* the instance policy has no value */
}

int seal_kek_derive(const struct seal_root *root, const char *tee_id, enum seal_policy policy,
                    const uint8_t *measurement, struct seal_kek *out)
{
    memset(out, 0, sizeof *out);
    if (!root || !tee_id || !*tee_id || !*seal_policy_name(policy)) return -EINVAL;
    if (policy == SEAL_POLICY_MEASUREMENT && !measurement) return -EINVAL;
    struct aad info;
    kek_info(&info, tee_id, policy, measurement);
    if (info.err) return -EINVAL;

    return kdf_hkdf_sha256(root->key, sizeof root->key, info.buf, info.len, out->key,
                           sizeof out->key);
}

int seal_dek_new(uint8_t dek[SEAL_KEY_LEN])
{
    if (RAND_priv_bytes(dek, SEAL_KEY_LEN) != 1) {
        seal_wipe(dek, SEAL_KEY_LEN);
        return -EIO;
    }
    return 0;
}

static void dek_aad(struct aad *a, const char *dek_id)
{
    aad_init(a, "fnbox dek v1");
    aad_str(a, dek_id);
}

int seal_dek_wrap(const struct seal_kek *kek, const char *dek_id, const uint8_t dek[SEAL_KEY_LEN],
                  uint8_t blob[SEAL_DEK_BLOB_LEN])
{
    struct aad a;
    dek_aad(&a, dek_id);
    if (!kek || !dek || !blob) return -EINVAL;
    return aead_seal(kek->key, &a, dek, SEAL_KEY_LEN, blob);
}

int seal_dek_unwrap(const struct seal_kek *kek, const char *dek_id, const uint8_t *blob,
                    size_t blob_len, uint8_t dek[SEAL_KEY_LEN])
{
    memset(dek, 0, SEAL_KEY_LEN);
    struct aad a;
    dek_aad(&a, dek_id);
    if (!kek) return -EINVAL;
    if (blob_len != SEAL_DEK_BLOB_LEN) return -EBADMSG;
    return aead_open(kek->key, &a, blob, blob_len, dek);
}

static void secret_aad(struct aad *a, const char *dek_id, const struct seal_secret_id *id)
{
    aad_init(a, "fnbox secret v1");
    aad_str(a, id ? id->owner : NULL);
    aad_str(a, id ? id->name : NULL);
    aad_u64(a, id ? id->version : 0);
    aad_str(a, dek_id);
}

int seal_secret_encrypt(const uint8_t dek[SEAL_KEY_LEN], const char *dek_id,
                        const struct seal_secret_id *id, const uint8_t *pt, size_t len,
                        uint8_t *blob, size_t blob_cap, size_t *blob_len)
{
    *blob_len = 0;
    struct aad a;
    secret_aad(&a, dek_id, id);
    if (!dek || !blob || len > SEAL_PLAINTEXT_MAX) return -EINVAL;
    if (blob_cap < SEAL_SEALED_LEN(len)) return -ENOSPC;
    int rc = aead_seal(dek, &a, pt, len, blob);
    if (!rc) *blob_len = SEAL_SEALED_LEN(len);
    return rc;
}

int seal_secret_decrypt(const uint8_t dek[SEAL_KEY_LEN], const char *dek_id,
                        const struct seal_secret_id *id, const uint8_t *blob, size_t blob_len,
                        uint8_t *pt, size_t pt_cap, size_t *pt_len)
{
    *pt_len = 0;
    struct aad a;
    secret_aad(&a, dek_id, id);
    if (!dek || (!pt && pt_cap)) return -EINVAL;
    if (!blob || blob_len < SEAL_OVERHEAD) return -EBADMSG;
    if (pt_cap < SEAL_OPENED_LEN(blob_len)) return -ENOSPC;
    int rc = aead_open(dek, &a, blob, blob_len, pt);
    if (!rc) *pt_len = SEAL_OPENED_LEN(blob_len);
    return rc;
}
