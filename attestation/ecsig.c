#include "attestation/ecsig.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "attestation/keccak.h"

/* A fresh signature has recovery id 2 or 3 with probability about 2^-128 per try: a bound on
 * the tries keeps a broken RNG or library from looping forever. */
#define SIGN_TRIES 8

static const struct {
    const char *name;  /* key_scheme in reports and receipts */
    const char *group; /* OpenSSL's group name */
    int nid;
    size_t spki_len;
} schemes[] = {
    [ECSIG_P256] = {"p256", "prime256v1", NID_X9_62_prime256v1, ECSIG_P256_SPKI_LEN},
    [ECSIG_SECP256K1] = {"secp256k1", "secp256k1", NID_secp256k1, ECSIG_K1_SPKI_LEN},
};
#define NSCHEMES (sizeof schemes / sizeof *schemes)

static int valid_scheme(enum ecsig_scheme s)
{
    return (unsigned)s < NSCHEMES;
}

const char *ecsig_scheme_name(enum ecsig_scheme scheme)
{
    return valid_scheme(scheme) ? schemes[scheme].name : "?";
}

int ecsig_scheme_parse(const char *name, enum ecsig_scheme *out)
{
    for (size_t i = 0; name && i < NSCHEMES; i++)
        if (strcmp(name, schemes[i].name) == 0) {
            *out = (enum ecsig_scheme)i;
            return 0;
        }
    return -EINVAL;
}

int ecsig_key_scheme(const EVP_PKEY *key, enum ecsig_scheme *out)
{
    char group[32];
    size_t n = 0;
    if (!key || !EVP_PKEY_is_a(key, "EC") ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &n) !=
            1)
        return -EINVAL;
    for (size_t i = 0; i < NSCHEMES; i++)
        if (strcmp(group, schemes[i].group) == 0) {
            *out = (enum ecsig_scheme)i;
            return 0;
        }
    return -EINVAL;
}

int ecsig_spki(EVP_PKEY *key, uint8_t spki[ECSIG_SPKI_MAX], size_t *len, enum ecsig_scheme *out)
{
    *len = 0;
    enum ecsig_scheme s;
    if (ecsig_key_scheme(key, &s)) return -EINVAL;
    int n = i2d_PUBKEY(key, NULL);
    uint8_t *p = spki;
    /* the uncompressed point is OpenSSL's default: anything else is not our one spelling */
    if (n != (int)schemes[s].spki_len || i2d_PUBKEY(key, &p) != n) return -EIO;
    *len = (size_t)n;
    if (out) *out = s;
    return 0;
}

int ecsig_spki_parse(const uint8_t *spki, size_t len, enum ecsig_scheme *scheme,
                     uint8_t point[ECSIG_POINT_LEN])
{
    if (!spki || !len || len > ECSIG_SPKI_MAX) return -EINVAL;
    const uint8_t *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
    enum ecsig_scheme s = ECSIG_P256;
    /* The parser also takes a BIT STRING that claims unused bits, or a compressed point: a
     * receipt does not sign its public_key, so only the one DER encoding is a key here. */
    uint8_t again[ECSIG_SPKI_MAX], *q = again;
    int ok = pkey && p == spki + len && ecsig_key_scheme(pkey, &s) == 0 &&
             len == schemes[s].spki_len && i2d_PUBKEY(pkey, NULL) == (int)len &&
             i2d_PUBKEY(pkey, &q) == (int)len && memcmp(again, spki, len) == 0 &&
             spki[len - ECSIG_POINT_LEN] == 0x04;
    EVP_PKEY_free(pkey);
    if (!ok) return -EINVAL;
    if (scheme) *scheme = s;
    if (point) memcpy(point, spki + len - ECSIG_POINT_LEN, ECSIG_POINT_LEN);
    return 0;
}

/* The group of a scheme (the caller frees it), or NULL. */
static EC_GROUP *group_of(enum ecsig_scheme s)
{
    return valid_scheme(s) ? EC_GROUP_new_by_curve_name(schemes[s].nid) : NULL;
}

int ecsig_low_s(enum ecsig_scheme scheme, const uint8_t *der, size_t der_len,
                uint8_t rs[ECSIG_RS_LEN], uint8_t der_out[ECSIG_DER_MAX], size_t *der_out_len,
                int *was_high)
{
    *der_out_len = 0;
    if (was_high) *was_high = 0;
    if (!der || !der_len || der_len > ECSIG_DER_MAX) return -EBADMSG;
    EC_GROUP *g = group_of(scheme);
    if (!g) return -EINVAL;
    const BIGNUM *n = EC_GROUP_get0_order(g);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    BIGNUM *half = NULL, *s2 = NULL;
    int rc = -EBADMSG;
    if (!sig || p != der + der_len) goto out;
    /* strict DER: the encoding must be the one DER gives for this (r, s) */
    uint8_t again[ECSIG_DER_MAX + 16], *q = again;
    int alen = i2d_ECDSA_SIG(sig, NULL);
    if (alen <= 0 || (size_t)alen != der_len || i2d_ECDSA_SIG(sig, &q) != alen ||
        memcmp(again, der, der_len) != 0)
        goto out;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_is_zero(r) || BN_is_negative(r) || BN_cmp(r, n) >= 0 || BN_is_zero(s) ||
        BN_is_negative(s) || BN_cmp(s, n) >= 0)
        goto out;
    rc = -EIO;
    if (!n || !(half = BN_dup(n)) || !BN_rshift1(half, n)) goto out;
    if (BN_cmp(s, half) > 0) { /* s > n/2 (n is odd): use n − s */
        BIGNUM *r2 = BN_dup(r);
        if (!r2 || !(s2 = BN_new()) || !BN_sub(s2, n, s) || ECDSA_SIG_set0(sig, r2, s2) != 1) {
            BN_free(r2);
            goto out;
        }
        s2 = NULL; /* owned by sig now */
        if (was_high) *was_high = 1;
        ECDSA_SIG_get0(sig, &r, &s);
    }
    if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) != 32) goto out;
    alen = i2d_ECDSA_SIG(sig, NULL);
    if (alen <= 0 || alen > ECSIG_DER_MAX) goto out;
    q = der_out;
    if (i2d_ECDSA_SIG(sig, &q) != alen) goto out;
    *der_out_len = (size_t)alen;
    rc = 0;
out:
    ECDSA_SIG_free(sig);
    BN_free(half);
    BN_free(s2);
    EC_GROUP_free(g);
    return rc;
}

int ecsig_k1_recover(const uint8_t digest[32], const uint8_t rs[ECSIG_RS_LEN], int recovery_id,
                     uint8_t point[ECSIG_POINT_LEN])
{
    if (!digest || !rs || !point) return -EINVAL;
    if (recovery_id != 0 && recovery_id != 1) return -EBADMSG;
    EC_GROUP *g = group_of(ECSIG_SECP256K1);
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *R = g ? EC_POINT_new(g) : NULL, *Q = g ? EC_POINT_new(g) : NULL;
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    BIGNUM *e = BN_bin2bn(digest, 32, NULL);
    BIGNUM *rinv = BN_new(), *u1 = BN_new(), *u2 = BN_new();
    int rc = -EIO;
    if (!g || !ctx || !R || !Q || !r || !s || !e || !rinv || !u1 || !u2) goto out;
    const BIGNUM *n = EC_GROUP_get0_order(g);
    rc = -EBADMSG;
    if (BN_is_zero(r) || BN_cmp(r, n) >= 0 || BN_is_zero(s) || BN_cmp(s, n) >= 0) goto out;
    /* R: x = r (ids 0 and 1 only: x = r + n, ids 2 and 3, is never signed, see ecsig.h), y of
     * the id's parity. Fails when r is not the x of any point: no key recovers. */
    if (EC_POINT_set_compressed_coordinates(g, R, r, recovery_id, ctx) != 1) goto out;
    rc = -EIO;
    /* Q = u1·G + u2·R with u1 = −e·r⁻¹, u2 = s·r⁻¹ (mod n) */
    if (!BN_mod_inverse(rinv, r, n, ctx) || !BN_mod_mul(u1, e, rinv, n, ctx) ||
        (!BN_is_zero(u1) && !BN_sub(u1, n, u1)) || !BN_mod_mul(u2, s, rinv, n, ctx) ||
        EC_POINT_mul(g, Q, u1, R, u2, ctx) != 1)
        goto out;
    rc = -EBADMSG;
    if (EC_POINT_is_at_infinity(g, Q)) goto out;
    rc = EC_POINT_point2oct(g, Q, POINT_CONVERSION_UNCOMPRESSED, point, ECSIG_POINT_LEN, ctx) ==
                 ECSIG_POINT_LEN
             ? 0
             : -EIO;
out:
    BN_free(r);
    BN_free(s);
    BN_free(e);
    BN_free(rinv);
    BN_free(u1);
    BN_free(u2);
    EC_POINT_free(R);
    EC_POINT_free(Q);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
    if (rc) memset(point, 0, ECSIG_POINT_LEN);
    return rc;
}

/* One ECDSA-SHA256 signature in low-s form. */
static int sign_once(EVP_PKEY *key, enum ecsig_scheme scheme, const void *msg, size_t len,
                     struct ecsig *out)
{
    uint8_t raw[ECSIG_DER_MAX];
    size_t n = sizeof raw;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, raw, &n, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -EIO;
    return ecsig_low_s(scheme, raw, n, out->rs, out->der, &out->der_len, NULL) ? -EIO : 0;
}

int ecsig_sign(EVP_PKEY *key, const void *msg, size_t len, struct ecsig *out)
{
    memset(out, 0, sizeof *out);
    out->recovery_id = -1;
    enum ecsig_scheme scheme;
    if (ecsig_key_scheme(key, &scheme) || (!msg && len)) return -EINVAL;
    out->scheme = scheme;
    if (scheme == ECSIG_P256) return sign_once(key, scheme, msg, len, out);

    /* secp256k1: the recovery id is the one that recovers our own key from the low-s
     * signature (normalising s flips R's parity, so it is found after normalising). */
    uint8_t spki[ECSIG_SPKI_MAX], own[ECSIG_POINT_LEN], got[ECSIG_POINT_LEN], digest[32];
    size_t spki_len;
    unsigned int dlen = 0;
    if (ecsig_spki(key, spki, &spki_len, NULL) || ecsig_spki_parse(spki, spki_len, NULL, own) ||
        EVP_Digest(msg, len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != sizeof digest)
        return -EIO;
    for (int t = 0; t < SIGN_TRIES; t++) {
        int rc = sign_once(key, scheme, msg, len, out);
        if (rc) return rc;
        for (int id = 0; id < 2; id++) {
            rc = ecsig_k1_recover(digest, out->rs, id, got);
            if (rc == -EIO) return rc;
            if (rc == 0 && memcmp(got, own, sizeof own) == 0) {
                out->recovery_id = id;
                return 0;
            }
        }
        /* neither id recovers: R's x was ≥ n (ids 2, 3); sign again with a fresh nonce */
    }
    memset(out, 0, sizeof *out);
    out->recovery_id = -1;
    return -EIO;
}

int ecsig_verify(const uint8_t *spki, size_t spki_len, const void *msg, size_t len,
                 const uint8_t *der, size_t der_len)
{
    if (!msg && len) return -EINVAL;
    if (ecsig_spki_parse(spki, spki_len, NULL, NULL)) return -EINVAL;
    if (!der || !der_len || der_len > ECSIG_DER_MAX) return -EBADMSG;
    const uint8_t *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)spki_len);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -EIO;
    if (pkey && ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
        rc = EVP_DigestVerify(ctx, der, der_len, msg, len) == 1 ? 0 : -EBADMSG;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int ecsig_k1_address(const uint8_t *spki, size_t spki_len, char out[ECSIG_ADDRESS_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    out[0] = 0;
    enum ecsig_scheme s;
    uint8_t point[ECSIG_POINT_LEN], h[KECCAK256_LEN];
    if (ecsig_spki_parse(spki, spki_len, &s, point) || s != ECSIG_SECP256K1) return -EINVAL;
    keccak256(point + 1, ECSIG_POINT_LEN - 1, h); /* X ‖ Y, without the 0x04 */
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < 20; i++) {
        out[2 + 2 * i] = digits[h[12 + i] >> 4];
        out[3 + 2 * i] = digits[h[12 + i] & 15];
    }
    out[ECSIG_ADDRESS_LEN] = 0;
    return 0;
}
