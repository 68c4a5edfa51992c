/* Checks the attestation unit tests (test_attestation.c, test_k1.c) share: hex in, keys, JSON
 * in, low-s, and "verifies, or fails with a reason". Include after cmocka.h. */
#ifndef FNBOX_TEST_EVIDENCE_CHECKS_H
#define FNBOX_TEST_EVIDENCE_CHECKS_H

#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "attestation/evidence.h"
#include "attestation/receipt.h"

static inline void unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t got;
    assert_int_equal(evidence_unhex(hex, 1, out, n, &got), 0);
    assert_int_equal(got, n);
}

static inline EVP_PKEY *ec_key(const char *curve)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    assert_non_null(k);
    return k;
}

static inline json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(j);
    return j;
}

/* 1 when the 32-byte big-endian s is at most half_n_hex (n/2 of the curve). */
static inline int s_at_most(const uint8_t s[32], const char *half_n_hex)
{
    uint8_t half[32];
    unhex(half_n_hex, half, 32);
    return memcmp(s, half, 32) <= 0;
}

/* evidence_report_verify's result; "ok" exactly on success, a reason otherwise. */
static inline int report_ok(const json_t *rep, const char *nonce_hex, const char *m)
{
    char why[EVIDENCE_WHY_MAX];
    int rc = evidence_report_verify(rep, nonce_hex, m, why, sizeof why);
    if (rc == 0) assert_string_equal(why, "ok");
    else assert_true(why[0] && strcmp(why, "ok") != 0);
    return rc;
}

/* receipt_verify's result, with the same reason check. */
static inline int receipt_ok(const json_t *r, const char *pk)
{
    char why[EVIDENCE_WHY_MAX];
    int rc = receipt_verify(r, pk, why, sizeof why);
    if (rc == 0) assert_string_equal(why, "ok");
    else assert_true(why[0] && strcmp(why, "ok") != 0);
    return rc;
}

#endif
