/* The secp256k1 key scheme (attestation/ecsig.h, attestation/keccak.h) and its use in receipts
 * and reports (attestation/receipt.h, attestation/evidence.h).
 * Known answers come from outside this code: Keccak-256 of "" and "abc" and the Ethereum
 * address of private key 1 are the published values every Ethereum library tests against;
 * the recovery vector (key, message, r, s, recovery id) was computed with plain Python
 * integer arithmetic on the curve and its signature checked with Python's `cryptography`
 * package; SHA3-256 of every length up to 700 bytes is compared with OpenSSL's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/evidence_checks.h"
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "attestation/ecsig.h"
#include "attestation/evidence.h"
#include "attestation/keccak.h"
#include "attestation/receipt.h"
#include "secrets/seal.h"
#include "secrets/seal_p256.h"

#define K1_N_HEX "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
#define K1_HALF_N_HEX "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
#define K1_SPKI_PREFIX "3056301006072a8648ce3d020106052b8104000a034200"

static EVP_PKEY *k1_key(void)
{
    return ec_key("secp256k1");
}

/* The secp256k1 key pair with private scalar d (hex). */
static EVP_PKEY *k1_from_scalar(const char *d_hex)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp256k1);
    BIGNUM *d = NULL;
    assert_non_null(g);
    assert_true(BN_hex2bn(&d, d_hex) > 0);
    EC_POINT *q = EC_POINT_new(g);
    uint8_t pub[65];
    assert_int_equal(EC_POINT_mul(g, q, d, NULL, NULL, NULL), 1);
    assert_int_equal(EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub, NULL),
                     65);
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    assert_non_null(b);
    assert_int_equal(
        OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
                     1);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    assert_non_null(params);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EC_POINT_free(q);
    BN_clear_free(d);
    EC_GROUP_free(g);
    return k;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
}

static int low_s(const uint8_t s[32])
{
    return s_at_most(s, K1_HALF_N_HEX);
}

/* ---- Keccak-256 ---- */

static void keccak_known_answers(void **state)
{
    uint8_t h[32], want[32];
    keccak256(NULL, 0, h);
    unhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", want, 32);
    assert_memory_equal(h, want, 32);
    keccak256("abc", 3, h);
    unhex("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45", want, 32);
    assert_memory_equal(h, want, 32);

    /* the same sponge with FIPS 202 padding is OpenSSL's SHA3-256, at every length around
     * the 136-byte rate boundaries and beyond (several absorbed blocks) */
    uint8_t buf[700];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof buf; n++) {
        unsigned int len = 0;
        keccak_sha3_256(buf, n, h);
        assert_int_equal(EVP_Digest(buf, n, want, &len, EVP_sha3_256(), NULL), 1);
        if (memcmp(h, want, 32) != 0) fail_msg("SHA3-256 differs from OpenSSL's at %zu bytes", n);
        keccak256(buf, n, want); /* and the two paddings never agree */
        assert_memory_not_equal(h, want, 32);
    }
}

static void address_known_answer(void **state)
{
    /* private key 1: the public key is the generator */
    EVP_PKEY *k = k1_from_scalar("1");
    uint8_t spki[ECSIG_SPKI_MAX];
    size_t len;
    enum ecsig_scheme s;
    char addr[ECSIG_ADDRESS_LEN + 1];
    assert_int_equal(ecsig_spki(k, spki, &len, &s), 0);
    assert_int_equal(s, ECSIG_SECP256K1);
    assert_int_equal(ecsig_k1_address(spki, len, addr), 0);
    assert_string_equal(addr, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf");
    /* a P-256 key has no Ethereum address */
    EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_int_equal(ecsig_spki(p, spki, &len, &s), 0);
    assert_int_equal(s, ECSIG_P256);
    assert_int_equal(ecsig_k1_address(spki, len, addr), -EINVAL);
    EVP_PKEY_free(p);
    EVP_PKEY_free(k);
}

/* ---- recovery ---- */

#define KAT_D "a0971cdb875c6cb8f09e3cde6ca4954f9f12ef0b5dd97854a5ff93d015f36b8b"
#define KAT_MSG "fnbox-receipt-v1\nknown answer\n"
#define KAT_RS                                                                                     \
    "c37144bc4e75863eaf3579e024e906127aded050c2134245f180073a9aa7ec01"                             \
    "671da89e6f2c88a5fdfdc0d95f2b492fbc86dffdc8804f927b511fcdcfc17b2e"
#define KAT_DER                                                                                    \
    "3045022100c37144bc4e75863eaf3579e024e906127aded050c2134245f180073a9aa7ec010220671da89e6f2c"   \
    "88a5fdfdc0d95f2b492fbc86dffdc8804f927b511fcdcfc17b2e"
#define KAT_SPKI                                                                                   \
    K1_SPKI_PREFIX "047fa8186edad5bb31babc03901362e5e9a7df4191e25e207d724a6b3bea8f42fc986f31fcec24" \
                   "fb7a64e4483b623a1107ab81022ea841d289e299140a10d98d33"
#define KAT_RECOVERY_ID 1

static void recovery_known_answer(void **state)
{
    uint8_t spki[ECSIG_K1_SPKI_LEN], rs[64], der[71], digest[32], point[65], got[65];
    unhex(KAT_SPKI, spki, sizeof spki);
    unhex(KAT_RS, rs, sizeof rs);
    unhex(KAT_DER, der, sizeof der);
    sha256(KAT_MSG, strlen(KAT_MSG), digest);

    /* the key of the vector is the key of that scalar */
    EVP_PKEY *k = k1_from_scalar(KAT_D);
    uint8_t mine[ECSIG_SPKI_MAX];
    size_t len;
    assert_int_equal(ecsig_spki(k, mine, &len, NULL), 0);
    assert_int_equal(len, sizeof spki);
    assert_memory_equal(mine, spki, len);
    EVP_PKEY_free(k);

    enum ecsig_scheme s;
    assert_int_equal(ecsig_spki_parse(spki, sizeof spki, &s, point), 0);
    assert_int_equal(s, ECSIG_SECP256K1);
    assert_int_equal(ecsig_verify(spki, sizeof spki, KAT_MSG, strlen(KAT_MSG), der, sizeof der), 0);
    uint8_t nrs[64], nder[ECSIG_DER_MAX];
    size_t nder_len;
    int was_high = 1;
    assert_int_equal(ecsig_low_s(ECSIG_SECP256K1, der, sizeof der, nrs, nder, &nder_len, &was_high),
                     0);
    assert_int_equal(was_high, 0);
    assert_memory_equal(nrs, rs, 64);

    /* the recovery id recovers exactly the key; the other one recovers another key */
    assert_int_equal(ecsig_k1_recover(digest, rs, KAT_RECOVERY_ID, got), 0);
    assert_memory_equal(got, point, 65);
    int rc = ecsig_k1_recover(digest, rs, 1 - KAT_RECOVERY_ID, got);
    assert_true(rc == 0 || rc == -EBADMSG);
    assert_memory_not_equal(got, point, 65);
    /* ids beyond 0 and 1 are not ours */
    assert_int_equal(ecsig_k1_recover(digest, rs, 2, got), -EBADMSG);
    assert_int_equal(ecsig_k1_recover(digest, rs, -1, got), -EBADMSG);
    /* r or s out of range */
    uint8_t bad[64];
    memset(bad, 0, sizeof bad);
    memcpy(bad + 32, rs + 32, 32);
    assert_int_equal(ecsig_k1_recover(digest, bad, 0, got), -EBADMSG);
    unhex(K1_N_HEX, bad + 32, 32);
    memcpy(bad, rs, 32);
    assert_int_equal(ecsig_k1_recover(digest, bad, 0, got), -EBADMSG);
    /* any flipped bit of the digest recovers another key */
    for (int i = 0; i < 256; i += 7) {
        uint8_t d2[32];
        memcpy(d2, digest, 32);
        d2[i / 8] ^= (uint8_t)(1 << (i % 8));
        rc = ecsig_k1_recover(d2, rs, KAT_RECOVERY_ID, got);
        assert_true(rc == 0 || rc == -EBADMSG);
        assert_memory_not_equal(got, point, 65);
    }
}

/* ---- signing ---- */

static void sign_verify_recover(void **state)
{
    EVP_PKEY *k = k1_key();
    uint8_t spki[ECSIG_SPKI_MAX], point[65], got[65], digest[32];
    size_t spki_len;
    enum ecsig_scheme s;
    assert_int_equal(ecsig_spki(k, spki, &spki_len, &s), 0);
    assert_int_equal(s, ECSIG_SECP256K1);
    assert_int_equal(spki_len, ECSIG_K1_SPKI_LEN);
    char hex[2 * ECSIG_SPKI_MAX + 1];
    evidence_hex(spki, spki_len, hex);
    assert_memory_equal(hex, K1_SPKI_PREFIX "04", strlen(K1_SPKI_PREFIX "04"));
    assert_int_equal(ecsig_spki_parse(spki, spki_len, NULL, point), 0);

    int ids[2] = {0, 0};
    for (int i = 0; i < 64; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "message %d", i);
        struct ecsig sig;
        assert_int_equal(ecsig_sign(k, msg, strlen(msg), &sig), 0);
        assert_int_equal(sig.scheme, ECSIG_SECP256K1);
        assert_true(sig.recovery_id == 0 || sig.recovery_id == 1);
        ids[sig.recovery_id]++;
        assert_true(low_s(sig.rs + 32));
        assert_int_equal(ecsig_verify(spki, spki_len, msg, strlen(msg), sig.der, sig.der_len), 0);
        /* DER and r‖s are the same numbers */
        uint8_t rs[64], der[ECSIG_DER_MAX];
        size_t der_len;
        int was_high;
        assert_int_equal(
            ecsig_low_s(ECSIG_SECP256K1, sig.der, sig.der_len, rs, der, &der_len, &was_high), 0);
        assert_int_equal(was_high, 0);
        assert_memory_equal(rs, sig.rs, 64);
        sha256(msg, strlen(msg), digest);
        assert_int_equal(ecsig_k1_recover(digest, sig.rs, sig.recovery_id, got), 0);
        assert_memory_equal(got, point, 65);
        int rc = ecsig_k1_recover(digest, sig.rs, 1 - sig.recovery_id, got);
        assert_true(rc == 0 || rc == -EBADMSG);
        assert_memory_not_equal(got, point, 65);
        if (i == 0) {
            /* each flipped byte of the message, and of the signature, fails */
            for (size_t j = 0; j < strlen(msg); j++) {
                msg[j] ^= 1;
                assert_int_equal(
                    ecsig_verify(spki, spki_len, msg, strlen(msg), sig.der, sig.der_len), -EBADMSG);
                msg[j] ^= 1;
            }
            for (size_t j = 0; j < sig.der_len; j++) {
                sig.der[j] ^= 0x10;
                assert_int_not_equal(
                    ecsig_verify(spki, spki_len, msg, strlen(msg), sig.der, sig.der_len), 0);
                sig.der[j] ^= 0x10;
            }
            /* another key's SPKI does not verify it */
            EVP_PKEY *o = k1_key();
            uint8_t ospki[ECSIG_SPKI_MAX];
            size_t olen;
            assert_int_equal(ecsig_spki(o, ospki, &olen, NULL), 0);
            assert_int_equal(ecsig_verify(ospki, olen, msg, strlen(msg), sig.der, sig.der_len),
                             -EBADMSG);
            EVP_PKEY_free(o);
        }
    }
    assert_true(ids[0] > 0 && ids[1] > 0); /* both ids occur: it is computed, not constant */

    /* keys of other curves are refused */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    struct ecsig sig;
    assert_int_equal(ecsig_sign(p384, "m", 1, &sig), -EINVAL);
    assert_int_equal(ecsig_spki(p384, spki, &spki_len, NULL), -EINVAL);
    EVP_PKEY_free(p384);
    assert_int_equal(ecsig_sign(NULL, "m", 1, &sig), -EINVAL);
    EVP_PKEY_free(k);
}

/* (r, n − s) is valid ECDSA too; it recovers the key only with the other id, and the low-s
 * normalisation gives back exactly the signature made. */
static void high_s_twin(void **state)
{
    EVP_PKEY *k = k1_key();
    struct ecsig sig;
    assert_int_equal(ecsig_sign(k, "twin", 4, &sig), 0);
    BIGNUM *n = NULL, *s = BN_bin2bn(sig.rs + 32, 32, NULL), *hs = BN_new();
    assert_true(BN_hex2bn(&n, K1_N_HEX) > 0);
    assert_int_equal(BN_sub(hs, n, s), 1);
    uint8_t hrs[64];
    memcpy(hrs, sig.rs, 32);
    assert_int_equal(BN_bn2binpad(hs, hrs + 32, 32), 32);
    assert_false(low_s(hrs + 32));
    ECDSA_SIG *e = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(e, BN_bin2bn(hrs, 32, NULL), BN_dup(hs)), 1);
    uint8_t hder[ECSIG_DER_MAX + 8], *q = hder;
    int hlen = i2d_ECDSA_SIG(e, &q);
    assert_true(hlen > 0 && hlen <= ECSIG_DER_MAX);
    uint8_t spki[ECSIG_SPKI_MAX], point[65], got[65], digest[32];
    size_t spki_len;
    assert_int_equal(ecsig_spki(k, spki, &spki_len, NULL), 0);
    assert_int_equal(ecsig_spki_parse(spki, spki_len, NULL, point), 0);
    assert_int_equal(ecsig_verify(spki, spki_len, "twin", 4, hder, (size_t)hlen), 0);
    sha256("twin", 4, digest);
    assert_int_equal(ecsig_k1_recover(digest, hrs, 1 - sig.recovery_id, got), 0);
    assert_memory_equal(got, point, 65);
    uint8_t nrs[64], nder[ECSIG_DER_MAX];
    size_t nder_len;
    int was_high = 0;
    assert_int_equal(
        ecsig_low_s(ECSIG_SECP256K1, hder, (size_t)hlen, nrs, nder, &nder_len, &was_high), 0);
    assert_int_equal(was_high, 1);
    assert_memory_equal(nrs, sig.rs, 64);
    /* the P-256 order is not secp256k1's: the scheme matters to normalisation */
    uint8_t prs[64];
    if (ecsig_low_s(ECSIG_P256, hder, (size_t)hlen, prs, nder, &nder_len, &was_high) == 0)
        assert_memory_not_equal(prs, sig.rs, 64);
    ECDSA_SIG_free(e);
    BN_free(n);
    BN_free(s);
    BN_free(hs);
    EVP_PKEY_free(k);
}

/* One spelling of a secp256k1 public key: 88 bytes, uncompressed point. */
static void spki_one_spelling(void **state)
{
    EVP_PKEY *k = k1_key();
    uint8_t spki[ECSIG_SPKI_MAX];
    size_t len;
    assert_int_equal(ecsig_spki(k, spki, &len, NULL), 0);
    EVP_PKEY *c = EVP_PKEY_dup(k);
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(c, "point-format", "compressed"), 1);
    uint8_t comp[ECSIG_SPKI_MAX], *q = comp;
    int clen = i2d_PUBKEY(c, &q);
    assert_true(clen > 0 && clen < (int)len);
    assert_int_equal(ecsig_spki_parse(comp, (size_t)clen, NULL, NULL), -EINVAL);
    assert_int_equal(ecsig_spki(c, comp, &len, NULL), -EIO); /* not our spelling to sign with */
    assert_int_equal(ecsig_spki(k, spki, &len, NULL), 0);
    uint8_t odd[ECSIG_SPKI_MAX];
    memcpy(odd, spki, len);
    odd[22] = 1; /* the BIT STRING's unused-bits count */
    assert_int_equal(ecsig_spki_parse(odd, len, NULL, NULL), -EINVAL);
    assert_int_equal(ecsig_spki_parse(spki, len - 1, NULL, NULL), -EINVAL);
    assert_int_equal(ecsig_spki_parse(spki, len, NULL, NULL), 0);
    enum ecsig_scheme s;
    assert_int_equal(ecsig_scheme_parse("secp256k1", &s), 0);
    assert_int_equal(s, ECSIG_SECP256K1);
    assert_string_equal(ecsig_scheme_name(s), "secp256k1");
    assert_int_equal(ecsig_scheme_parse("p256", &s), 0);
    assert_int_equal(s, ECSIG_P256);
    assert_int_equal(ecsig_scheme_parse("P256", &s), -EINVAL);
    assert_int_equal(ecsig_scheme_parse("k1", &s), -EINVAL);
    assert_int_equal(ecsig_scheme_parse(NULL, &s), -EINVAL);
    EVP_PKEY_free(c);
    EVP_PKEY_free(k);
}

/* ---- receipts ---- */

#define RECEIPT                                                                                    \
    "{\"invocation_id\":\"inv-k1\",\"function\":\"evm-oracle\",\"version\":2,"                     \
    "\"code_sha256\":\"97b9ad3006abdd8a2d01c97a00ff82d4563cdac8341f7690d4f3ac9e0dc5f6b7\","        \
    "\"input_sha256\":\"6a38048010232920e06ed76e2d74b4ffe8992f516dd7736755ca7e43f444614b\","       \
    "\"output_sha256\":\"8137c7022868e0d31c209fac0a8819b1d89bfa20b77cb7bd421c66e888655af7\","      \
    "\"measurement\":\"58b4b681177f27f94168c7204b5e891b7d33e21006aae6bbe1ecaf747bdb0c76\","        \
    "\"time\":1718000000,\"fetches\":[{\"url\":\"https://api.example/p\",\"status\":200,"          \
    "\"response_sha256\":\"85316b1d8ccfedc2fa38c3ec9cc3deb3bec633178e31f7c86af433cd9593ad32\"}],"  \
    "\"secrets\":[\"k\"]}"

static void receipt_k1(void **state)
{
    EVP_PKEY *k = k1_key();
    json_t *r = parse(RECEIPT);
    assert_int_equal(receipt_sign(k, r), 0);
    assert_string_equal(json_string_value(json_object_get(r, "key_scheme")), "secp256k1");
    const char *pk = json_string_value(json_object_get(r, "public_key"));
    assert_int_equal(strlen(pk), 2 * ECSIG_K1_SPKI_LEN);
    json_int_t id = json_integer_value(json_object_get(r, "recovery_id"));
    assert_true(json_is_integer(json_object_get(r, "recovery_id")) && (id == 0 || id == 1));
    uint8_t spki[ECSIG_SPKI_MAX];
    size_t spki_len;
    char addr[ECSIG_ADDRESS_LEN + 1];
    assert_int_equal(ecsig_spki(k, spki, &spki_len, NULL), 0);
    assert_int_equal(ecsig_k1_address(spki, spki_len, addr), 0);
    assert_string_equal(json_string_value(json_object_get(r, "address")), addr);
    assert_int_equal(receipt_ok(r, NULL), 0);
    assert_int_equal(receipt_ok(r, pk), 0);

    /* the recovery id is what ecrecover needs: SHA-256 of the canonical bytes, r, s, id */
    char *bytes;
    size_t len;
    uint8_t digest[32], rs[64], point[65], got[65];
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    sha256(bytes, len, digest);
    free(bytes);
    unhex(json_string_value(json_object_get(r, "signature")), rs, 64);
    assert_true(low_s(rs + 32));
    assert_int_equal(ecsig_spki_parse(spki, spki_len, NULL, point), 0);
    assert_int_equal(ecsig_k1_recover(digest, rs, (int)id, got), 0);
    assert_memory_equal(got, point, 65);

    /* a wrong, missing or ill-typed recovery id fails */
    json_t *m = json_deep_copy(r);
    json_object_set_new(m, "recovery_id", json_integer(1 - id));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_object_set_new(m, "recovery_id", json_integer(id + 27)); /* v, not the id */
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_object_set_new(m, "recovery_id", json_integer(id + 2));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_object_set_new(m, "recovery_id", json_string(id ? "1" : "0"));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_object_del(m, "recovery_id");
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_decref(m);
    /* the address is the key's, or it fails; the scheme is the key's */
    m = json_deep_copy(r);
    json_object_set_new(m, "address", json_string("0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_object_del(m, "address");
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_decref(m);
    m = json_deep_copy(r);
    json_object_set_new(m, "key_scheme", json_string("p256"));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_decref(m);

    /* the high-s twin is refused, whichever id it carries */
    BIGNUM *n = NULL, *s = BN_bin2bn(rs + 32, 32, NULL), *hs = BN_new();
    assert_true(BN_hex2bn(&n, K1_N_HEX) > 0);
    assert_int_equal(BN_sub(hs, n, s), 1);
    uint8_t hrs[64];
    memcpy(hrs, rs, 32);
    assert_int_equal(BN_bn2binpad(hs, hrs + 32, 32), 32);
    ECDSA_SIG *e = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(e, BN_bin2bn(hrs, 32, NULL), BN_dup(hs)), 1);
    uint8_t hder[ECSIG_DER_MAX + 8], *q = hder;
    int hlen = i2d_ECDSA_SIG(e, &q);
    assert_true(hlen > 0 && hlen <= ECSIG_DER_MAX);
    char hex[2 * (ECSIG_DER_MAX + 8) + 1];
    m = json_deep_copy(r);
    evidence_hex(hder, (size_t)hlen, hex);
    json_object_set_new(m, "signature_der", json_string(hex));
    evidence_hex(hrs, 64, hex);
    json_object_set_new(m, "signature", json_string(hex));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_object_set_new(m, "recovery_id", json_integer(1 - id));
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    json_decref(m);
    ECDSA_SIG_free(e);
    BN_free(n);
    BN_free(s);
    BN_free(hs);

    /* every single-character change of the serialised receipt that still parses fails */
    char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t tn = strlen(text), tried = 0;
    for (size_t i = 0; i < tn; i++) {
        char orig = text[i];
        char subs[3] = {orig == '0' ? '1' : '0', orig == 'e' ? 'f' : 'e', 0};
        if (orig >= 'a' && orig <= 'z') subs[2] = (char)(orig - 32);
        for (size_t j = 0; j < 3; j++) {
            if (!subs[j] || subs[j] == orig) continue;
            text[i] = subs[j];
            json_t *x = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
            if (x) {
                tried++;
                if (receipt_verify(x, pk, NULL, 0) != -EBADMSG)
                    fail_msg("receipt still verifies after byte %zu became '%c'", i, subs[j]);
                json_decref(x);
            }
            text[i] = orig;
        }
    }
    assert_true(tried > 1000);
    free(text);

    /* another key's receipt is not this key's */
    EVP_PKEY *o = k1_key();
    m = json_deep_copy(r);
    assert_int_equal(receipt_sign(o, m), 0);
    assert_int_equal(receipt_ok(m, NULL), 0);
    assert_int_equal(receipt_ok(m, pk), -EBADMSG);
    /* re-signed by a P-256 key: no recovery id or address is left behind */
    EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_int_equal(receipt_sign(p, m), 0);
    assert_string_equal(json_string_value(json_object_get(m, "key_scheme")), "p256");
    assert_null(json_object_get(m, "recovery_id"));
    assert_null(json_object_get(m, "address"));
    assert_int_equal(receipt_ok(m, NULL), 0);
    json_decref(m);
    EVP_PKEY_free(p);
    EVP_PKEY_free(o);
    json_decref(r);
    EVP_PKEY_free(k);
}

/* Many receipts: low-s always, and both recovery ids occur and check. */
static void receipt_k1_many(void **state)
{
    EVP_PKEY *k = k1_key();
    json_t *r = parse(RECEIPT);
    int ids[2] = {0, 0};
    for (int i = 0; i < 100; i++) {
        json_object_set_new(r, "time", json_integer(1718000000 + i));
        assert_int_equal(receipt_sign(k, r), 0);
        uint8_t rs[64];
        unhex(json_string_value(json_object_get(r, "signature")), rs, 64);
        assert_true(low_s(rs + 32));
        ids[json_integer_value(json_object_get(r, "recovery_id"))]++;
        assert_int_equal(receipt_verify(r, NULL, NULL, 0), 0);
    }
    assert_true(ids[0] > 0 && ids[1] > 0);
    json_decref(r);
    EVP_PKEY_free(k);
}

/* ---- reports ---- */


static void report_k1(void **state)
{
    EVP_PKEY *k = k1_key();
    uint8_t nonce[32], m[32];
    char nonce_hex[65];
    assert_int_equal(RAND_bytes(nonce, sizeof nonce), 1);
    assert_int_equal(RAND_bytes(m, sizeof m), 1);
    evidence_hex(nonce, sizeof nonce, nonce_hex);
    json_t *rep;
    assert_int_equal(evidence_software_report(k, nonce, sizeof nonce, m, "seccomp", 1718000000, &rep), 0);
    assert_string_equal(json_string_value(json_object_get(rep, "key_scheme")), "secp256k1");
    uint8_t spki[ECSIG_SPKI_MAX];
    size_t spki_len;
    char addr[ECSIG_ADDRESS_LEN + 1], spki_hex[2 * ECSIG_SPKI_MAX + 1];
    assert_int_equal(ecsig_spki(k, spki, &spki_len, NULL), 0);
    assert_int_equal(ecsig_k1_address(spki, spki_len, addr), 0);
    evidence_hex(spki, spki_len, spki_hex);
    assert_string_equal(json_string_value(json_object_get(rep, "public_key")), spki_hex);
    assert_string_equal(json_string_value(json_object_get(rep, "address")), addr);
    assert_int_equal(json_object_size(rep), 13);
    assert_int_equal(report_ok(rep, nonce_hex, NULL), 0);

    /* the signature is plain ECDSA-SHA256 over the documented bytes, by the k1 key */
    char *bytes;
    size_t len;
    uint8_t sig[ECSIG_DER_MAX];
    size_t sig_len;
    assert_int_equal(evidence_report_bytes(rep, &bytes, &len), 0);
    assert_int_equal(
        evidence_unhex(json_string_value(json_object_get(rep, "signature")), 0, sig, sizeof sig,
                       &sig_len),
        0);
    assert_int_equal(ecsig_verify(spki, spki_len, bytes, len, sig, sig_len), 0);
    free(bytes);

    /* every single-character change that still parses fails */
    char *text = json_dumps(rep, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t tn = strlen(text), tried = 0;
    for (size_t i = 0; i < tn; i++) {
        char orig = text[i];
        char sub = orig == '0' ? '1' : '0';
        text[i] = sub;
        json_t *x = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        if (x) {
            tried++;
            if (evidence_report_verify(x, nonce_hex, NULL, NULL, 0) != -EBADMSG)
                fail_msg("report still verifies after byte %zu became '%c'", i, sub);
            json_decref(x);
        }
        text[i] = orig;
    }
    assert_true(tried > 500);
    free(text);

    json_t *x = json_deep_copy(rep);
    json_object_set_new(x, "key_scheme", json_string("p256"));
    assert_int_equal(report_ok(x, nonce_hex, NULL), -EBADMSG);
    json_decref(x);
    x = json_deep_copy(rep);
    json_object_del(x, "address");
    assert_int_equal(report_ok(x, nonce_hex, NULL), -EBADMSG);
    json_decref(x);

    /* a P-256 report says p256, has no address, and refuses one added */
    EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    json_t *prep;
    assert_int_equal(evidence_software_report(p, nonce, sizeof nonce, m, "seccomp", 1718000000, &prep), 0);
    assert_string_equal(json_string_value(json_object_get(prep, "key_scheme")), "p256");
    assert_null(json_object_get(prep, "address"));
    assert_int_equal(report_ok(prep, nonce_hex, NULL), 0);
    json_object_set_new(prep, "address", json_string(addr));
    assert_int_equal(report_ok(prep, nonce_hex, NULL), -EBADMSG);
    json_object_set_new(prep, "key_scheme", json_string("secp256k1"));
    assert_int_equal(report_ok(prep, nonce_hex, NULL), -EBADMSG);
    json_decref(prep);
    EVP_PKEY_free(p);
    json_decref(rep);
    EVP_PKEY_free(k);
}

/* ---- sealing (secrets/seal_p256.h: seal_ec_*) ---- */

static void sealed_k1_key(void **state)
{
    struct seal_root root;
    struct seal_kek kek, other;
    assert_int_equal(RAND_bytes(root.key, sizeof root.key), 1);
    assert_int_equal(seal_kek_derive(&root, "software", SEAL_POLICY_INSTANCE, NULL, &kek), 0);
    assert_int_equal(RAND_bytes(root.key, sizeof root.key), 1);
    assert_int_equal(seal_kek_derive(&root, "software", SEAL_POLICY_INSTANCE, NULL, &other), 0);
    EVP_PKEY *k = NULL, *back = NULL, *p = NULL;
    assert_int_equal(seal_ec_new("secp256k1", &k), 0);
    enum ecsig_scheme s;
    assert_int_equal(ecsig_key_scheme(k, &s), 0);
    assert_int_equal(s, ECSIG_SECP256K1);
    uint8_t blob[SEAL_P256_BLOB_MAX], pblob[SEAL_P256_BLOB_MAX];
    size_t len, plen;
    assert_int_equal(seal_ec_wrap("secp256k1", &kek, "ik1_x", k, blob, sizeof blob, &len), 0);
    assert_int_equal(seal_ec_unwrap("secp256k1", &kek, "ik1_x", blob, len, &back), 0);
    assert_int_equal(EVP_PKEY_eq(k, back), 1);
    struct ecsig sig; /* the unsealed key signs, with a recovery id */
    assert_int_equal(ecsig_sign(back, "m", 1, &sig), 0);
    assert_true(sig.recovery_id == 0 || sig.recovery_id == 1);
    EVP_PKEY_free(back);
    /* another KEK, another id, another scheme's label: it does not open */
    assert_int_equal(seal_ec_unwrap("secp256k1", &other, "ik1_x", blob, len, &back), -EBADMSG);
    assert_int_equal(seal_ec_unwrap("secp256k1", &kek, "ik1_y", blob, len, &back), -EBADMSG);
    assert_int_equal(seal_ec_unwrap("prime256v1", &kek, "ik1_x", blob, len, &back), -EBADMSG);
    assert_null(back);
    /* a P-256 blob never opens as a secp256k1 key, nor a key sealed under the wrong curve */
    assert_int_equal(seal_p256_new(&p), 0);
    assert_int_equal(seal_p256_wrap(&kek, "ik_x", p, pblob, sizeof pblob, &plen), 0);
    assert_int_equal(seal_ec_unwrap("secp256k1", &kek, "ik_x", pblob, plen, &back), -EBADMSG);
    assert_int_equal(seal_ec_unwrap("prime256v1", &kek, "ik_x", pblob, plen, &back), 0);
    EVP_PKEY_free(back);
    assert_int_equal(seal_ec_wrap("secp256k1", &kek, "ik_x", p, pblob, sizeof pblob, &plen),
                     -EINVAL);
    assert_int_equal(seal_ec_new("secp384r1", &back), -EINVAL);
    assert_null(back);
    EVP_PKEY_free(p);
    EVP_PKEY_free(k);
    seal_wipe(&root, sizeof root);
    seal_wipe(&kek, sizeof kek);
    seal_wipe(&other, sizeof other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keccak_known_answers), cmocka_unit_test(address_known_answer),
        cmocka_unit_test(recovery_known_answer), cmocka_unit_test(sign_verify_recover),
        cmocka_unit_test(high_s_twin),          cmocka_unit_test(spki_one_spelling),
        cmocka_unit_test(receipt_k1),           cmocka_unit_test(receipt_k1_many),
        cmocka_unit_test(report_k1),            cmocka_unit_test(sealed_k1_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
