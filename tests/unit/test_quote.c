/* Hardware quotes (attestation/quote.h) and tsm reports (attestation/evidence.h), over
 * synthesized TDX v4 quotes and SEV-SNP reports. The offsets are written here as plain numbers
 * from Intel's "TDX DCAP Quoting Library API" (appendix: quote format) and AMD's SEV-SNP ABI
 * specification (ATTESTATION_REPORT), not taken from the header under test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "attestation/evidence.h"
#include "attestation/quote.h"

#define TEST_CONF "net-ns,pid-ns,seccomp" /* attestation/evidence.h */
#define TDX_SIG_LEN 100 /* arbitrary signature data; fnbox does not check it */
#define TDX_LEN (636 + TDX_SIG_LEN)
#define QBUF 0x4a0 /* room for either: the SNP report is the larger */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A TDX quote whose every byte is a function of its position (so each field read from a wrong
 * offset shows), with a valid header and signature length. */
static void tdx_quote(uint8_t q[TDX_LEN])
{
    for (size_t i = 0; i < TDX_LEN; i++) q[i] = (uint8_t)(i * 7 + 3);
    put16(q + 0, 4);     /* version */
    put16(q + 2, 2);     /* ECDSA-256 with P-256 */
    put32(q + 4, 0x81);  /* TDX */
    q[48 + 120] &= 0xfe; /* TD_ATTRIBUTES: not DEBUG */
    put32(q + 632, TDX_SIG_LEN);
}

static void snp_report(uint8_t r[0x4a0])
{
    for (size_t i = 0; i < 0x4a0; i++) r[i] = (uint8_t)(i * 11 + 5);
    put32(r + 0x00, 2); /* version */
    r[0x08 + 2] &= (uint8_t)~0x08; /* POLICY bit 19: DEBUG off */
    put32(r + 0x34, 1); /* ECDSA P-384 with SHA-384 */
}

static void tdx_good_every_offset(void **state)
{
    (void)state;
    uint8_t q[TDX_LEN];
    tdx_quote(q);
    struct quote_info qi;
    char why[160];
    assert_int_equal(quote_parse(QUOTE_TDX, q, sizeof q, &qi, why, sizeof why), 0);
    assert_int_equal(qi.platform, QUOTE_TDX);
    assert_int_equal(qi.version, 4);
    assert_int_equal(qi.debug, 0);
    assert_memory_equal(qi.mrtd, q + 184, 48);
    assert_memory_equal(qi.rtmr[0], q + 376, 48);
    assert_memory_equal(qi.rtmr[1], q + 424, 48);
    assert_memory_equal(qi.rtmr[2], q + 472, 48);
    assert_memory_equal(qi.rtmr[3], q + 520, 48);
    assert_memory_equal(qi.report_data, q + 568, 64);
    /* the debug bit, and the other attestation key type */
    q[48 + 120] |= 1;
    put16(q + 2, 3);
    assert_int_equal(quote_parse(QUOTE_TDX, q, sizeof q, &qi, why, sizeof why), 0);
    assert_int_equal(qi.debug, 1);
}

static void tdx_refusals(void **state)
{
    (void)state;
    uint8_t q[TDX_LEN + 1];
    struct quote_info qi;
    char why[160];
    /* every truncation (ASan watches the reads) */
    for (size_t n = 0; n < TDX_LEN; n++) {
        tdx_quote(q);
        uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: a read past them is caught */
        assert_non_null(copy);
        memcpy(copy, q, n);
        assert_int_equal(quote_parse(QUOTE_TDX, copy, n, &qi, why, sizeof why), -EBADMSG);
        assert_true(why[0] != 0);
        free(copy);
    }
    tdx_quote(q);
    q[TDX_LEN] = 0; /* one trailing byte the signature length does not cover */
    assert_int_equal(quote_parse(QUOTE_TDX, q, TDX_LEN + 1, &qi, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "signature data"));
    struct { size_t off; uint32_t v; int wide; const char *says; } bad[] = {
        {0, 3, 0, "version 3"},           {0, 5, 0, "version 5"},
        {4, 0x00, 1, "not TDX"},          {4, 0x81 | 0x100, 1, "not TDX"},
        {2, 4, 0, "key type 4"},          {632, TDX_SIG_LEN + 1, 1, "signature data"},
        {632, 0xffffffffu, 1, "signature data"}, {632, TDX_SIG_LEN - 1, 1, "signature data"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tdx_quote(q);
        if (bad[i].wide) put32(q + bad[i].off, bad[i].v);
        else put16(q + bad[i].off, bad[i].v);
        assert_int_equal(quote_parse(QUOTE_TDX, q, TDX_LEN, &qi, why, sizeof why), -EBADMSG);
        if (!strstr(why, bad[i].says)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, bad[i].says);
        for (size_t k = 0; k < sizeof qi; k++) assert_int_equal(((uint8_t *)&qi)[k], 0);
    }
    /* a SEV-SNP report is not a TDX quote, and the reverse */
    uint8_t r[0x4a0];
    snp_report(r);
    assert_int_equal(quote_parse(QUOTE_TDX, r, sizeof r, &qi, why, sizeof why), -EBADMSG);
    tdx_quote(q);
    assert_int_equal(quote_parse(QUOTE_SEV_SNP, q, TDX_LEN, &qi, why, sizeof why), -EBADMSG);
    assert_int_equal(quote_parse(QUOTE_NONE, q, TDX_LEN, &qi, why, sizeof why), -EBADMSG);
    assert_int_equal(quote_parse(QUOTE_TDX, NULL, 1, &qi, why, sizeof why), -EINVAL);
}

static void snp_good_every_offset(void **state)
{
    (void)state;
    uint8_t r[0x4a0];
    struct quote_info qi;
    char why[160];
    for (uint32_t v = 2; v <= 5; v++) {
        snp_report(r);
        put32(r, v);
        assert_int_equal(quote_parse(QUOTE_SEV_SNP, r, sizeof r, &qi, why, sizeof why), 0);
        assert_int_equal(qi.version, v);
        assert_int_equal(qi.debug, 0);
        assert_memory_equal(qi.report_data, r + 0x50, 64);
        assert_memory_equal(qi.measurement, r + 0x90, 48);
    }
    r[0x08 + 2] |= 0x08; /* bit 19 of the little-endian u64 at 0x08 */
    assert_int_equal(quote_parse(QUOTE_SEV_SNP, r, sizeof r, &qi, why, sizeof why), 0);
    assert_int_equal(qi.debug, 1);
}

static void snp_refusals(void **state)
{
    (void)state;
    uint8_t r[0x4a0 + 1];
    struct quote_info qi;
    char why[160];
    for (size_t n = 0; n < 0x4a0; n++) {
        snp_report(r);
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, r, n);
        assert_int_equal(quote_parse(QUOTE_SEV_SNP, copy, n, &qi, why, sizeof why), -EBADMSG);
        free(copy);
    }
    snp_report(r);
    assert_int_equal(quote_parse(QUOTE_SEV_SNP, r, 0x4a1, &qi, why, sizeof why), -EBADMSG);
    uint32_t versions[] = {0, 1, 6, 0x02000000};
    for (size_t i = 0; i < 4; i++) {
        snp_report(r);
        put32(r, versions[i]);
        assert_int_equal(quote_parse(QUOTE_SEV_SNP, r, 0x4a0, &qi, why, sizeof why), -EBADMSG);
        assert_non_null(strstr(why, "version"));
    }
    snp_report(r);
    put32(r + 0x34, 2);
    assert_int_equal(quote_parse(QUOTE_SEV_SNP, r, 0x4a0, &qi, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "algorithm"));
}

static void platform_names(void **state)
{
    (void)state;
    assert_string_equal(quote_platform_name(QUOTE_TDX), "tdx");
    assert_string_equal(quote_platform_name(QUOTE_SEV_SNP), "sev-snp");
    assert_int_equal(quote_platform_from_name("tdx"), QUOTE_TDX);
    assert_int_equal(quote_platform_from_name("sev-snp"), QUOTE_SEV_SNP);
    assert_int_equal(quote_platform_from_name("TDX"), QUOTE_NONE);
    assert_int_equal(quote_platform_from_tsm("tdx_guest"), QUOTE_TDX);
    assert_int_equal(quote_platform_from_tsm("sev_guest"), QUOTE_SEV_SNP);
    assert_int_equal(quote_platform_from_tsm("arm_cca_guest"), QUOTE_NONE);
    assert_int_equal(quote_platform_from_tsm(NULL), QUOTE_NONE);
}

/* ---- tsm reports ---- */

struct fixture {
    EVP_PKEY *key;
    uint8_t nonce[32], m[32], rd[64], spki[EVIDENCE_SPKI_MAX];
    size_t spki_len;
    char nonce_hex[65];
};

static void fixture(struct fixture *f)
{
    f->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(f->key);
    assert_int_equal(RAND_bytes(f->nonce, sizeof f->nonce), 1);
    assert_int_equal(RAND_bytes(f->m, sizeof f->m), 1);
    assert_int_equal(evidence_p256_spki(f->key, f->spki, &f->spki_len), 0);
    assert_int_equal(evidence_report_data(f->nonce, sizeof f->nonce, f->spki, f->spki_len, f->m,
                                          f->rd), 0);
    evidence_hex(f->nonce, sizeof f->nonce, f->nonce_hex);
}

/* The quote of platform p with report data rd in q; returns its length. */
static size_t make_quote(enum quote_platform p, const uint8_t rd[64], uint8_t q[QBUF])
{
    if (p == QUOTE_TDX) {
        tdx_quote(q);
        memcpy(q + 568, rd, 64);
        return TDX_LEN;
    }
    snp_report(q);
    memcpy(q + 0x50, rd, 64);
    return 0x4a0;
}

static int verify(const json_t *r, const char *nonce_hex, char *why)
{
    return evidence_report_verify(r, nonce_hex, NULL, why, EVIDENCE_WHY_MAX);
}

/* Sets the report's quote to q (hex) and re-signs it, as an instance that holds the key could:
 * the signature then covers the bad quote, so only the quote checks can refuse it. */
static void resign_with_quote(EVP_PKEY *key, json_t *r, const uint8_t *q, size_t len)
{
    char *hex = malloc(2 * len + 1);
    assert_non_null(hex);
    evidence_hex(q, len, hex);
    assert_int_equal(json_object_set_new(r, "quote", json_string(hex)), 0);
    free(hex);
    json_object_del(r, "signature");
    assert_int_equal(evidence_report_sign(key, r), 0);
}

static void tsm_report_round_trip(void **state)
{
    (void)state;
    for (int p = QUOTE_TDX; p <= QUOTE_SEV_SNP; p++) {
        struct fixture f;
        fixture(&f);
        uint8_t q[QBUF];
        size_t qlen = make_quote((enum quote_platform)p, f.rd, q);
        json_t *r = NULL;
        char why[EVIDENCE_WHY_MAX];
        assert_int_equal(evidence_tsm_report(f.key, (enum quote_platform)p, q, qlen, f.nonce,
                                             sizeof f.nonce, f.m, TEST_CONF, 1718000000, &r, why, sizeof why),
                         0);
        assert_string_equal(json_string_value(json_object_get(r, "provider")), "tsm");
        const char *plat = p == QUOTE_TDX ? "tdx" : "sev-snp";
        assert_string_equal(json_string_value(json_object_get(r, "platform")), plat);
        assert_string_equal(json_string_value(json_object_get(r, "tee_id")), plat);
        assert_true(json_is_true(json_object_get(r, "hardware_backed")));
        char h[97];
        if (p == QUOTE_TDX) {
            evidence_hex(q + 184, 48, h);
            assert_string_equal(json_string_value(json_object_get(json_object_get(r, "tdx"), "mrtd")), h);
            evidence_hex(q + 520, 48, h);
            assert_string_equal(json_string_value(json_object_get(json_object_get(r, "tdx"), "rtmr3")), h);
        } else {
            evidence_hex(q + 0x90, 48, h);
            assert_string_equal(json_string_value(json_object_get(json_object_get(r, "sev_snp"), "measurement")), h);
        }
        assert_int_equal(verify(r, f.nonce_hex, why), 0);
        assert_string_equal(why, "ok");

        /* the canonical bytes are v4: v1's lines, the quote's SHA-256, the confinement */
        char *bytes;
        size_t len;
        assert_int_equal(evidence_report_bytes(r, &bytes, &len), 0);
        assert_true(strncmp(bytes, "fnbox-attestation-v4\ntsm\n", 25) == 0);
        uint8_t md[32];
        unsigned int mdn;
        char mdh[65];
        assert_int_equal(EVP_Digest(q, qlen, md, &mdn, EVP_sha256(), NULL), 1);
        evidence_hex(md, 32, mdh);
        static const char conf_line[] = "\n" TEST_CONF "\n";
        size_t cl = sizeof conf_line - 1;
        assert_true(len > 65 + cl && memcmp(bytes + len - cl, conf_line, cl) == 0);
        assert_true(memcmp(bytes + len - cl - 64, mdh, 64) == 0);
        assert_string_equal(json_string_value(json_object_get(r, "confinement")), TEST_CONF);
        free(bytes);

        /* a quote for other data is not signed */
        json_t *r2 = NULL;
        uint8_t other[64];
        memcpy(other, f.rd, 64);
        other[63] ^= 1;
        qlen = make_quote((enum quote_platform)p, other, q);
        assert_int_equal(evidence_tsm_report(f.key, (enum quote_platform)p, q, qlen, f.nonce,
                                             sizeof f.nonce, f.m, TEST_CONF, 1718000000, &r2, why, sizeof why),
                         -EBADMSG);
        assert_null(r2);
        assert_non_null(strstr(why, "report_data"));
        /* nor a garbled one */
        assert_int_equal(evidence_tsm_report(f.key, (enum quote_platform)p, q, qlen - 1, f.nonce,
                                             sizeof f.nonce, f.m, TEST_CONF, 1718000000, &r2, why, sizeof why),
                         -EBADMSG);
        json_decref(r);
        EVP_PKEY_free(f.key);
    }
}

static void tsm_report_refusals(void **state)
{
    (void)state;
    struct fixture f;
    fixture(&f);
    uint8_t q[QBUF], q2[QBUF];
    size_t qlen = make_quote(QUOTE_TDX, f.rd, q);
    json_t *good = NULL;
    char why[EVIDENCE_WHY_MAX];
    assert_int_equal(evidence_tsm_report(f.key, QUOTE_TDX, q, qlen, f.nonce, sizeof f.nonce, f.m,
                                         TEST_CONF, 1718000000, &good, why, sizeof why), 0);

    /* every byte of the quote: a flip is caught (by the signature, the fields or the binding) */
    const char *qhex = json_string_value(json_object_get(good, "quote"));
    for (size_t i = 0; i < qlen; i++) {
        json_t *r = json_deep_copy(good);
        char *h = strdup(qhex);
        assert_non_null(h);
        h[2 * i] = h[2 * i] == '0' ? '1' : '0';
        json_object_set_new(r, "quote", json_string(h));
        free(h);
        assert_int_equal(verify(r, f.nonce_hex, why), -EBADMSG);
        json_decref(r);
    }

    /* re-signed by the key holder: the quote checks alone must refuse */
    struct { size_t off; uint8_t x; const char *says; } cases[] = {
        {568, 0x01, "report data"}, {568 + 63, 0x80, "report data"}, /* REPORTDATA */
        {184, 0x01, "\"tdx\""},  {184 + 47, 0x01, "\"tdx\""},      /* MRTD */
        {376, 0x01, "\"tdx\""},  {424, 0x01, "\"tdx\""}, {472, 0x01, "\"tdx\""},
        {520 + 47, 0x01, "\"tdx\""},                                 /* RTMR0..3 */
        {48 + 120, 0x01, "\"tdx\""},                                 /* DEBUG bit */
        {0, 0x01, "version"},    {4, 0x01, "not TDX"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(q2, q, qlen);
        q2[cases[i].off] ^= cases[i].x;
        json_t *r = json_deep_copy(good);
        resign_with_quote(f.key, r, q2, qlen);
        assert_int_equal(verify(r, f.nonce_hex, why), -EBADMSG);
        if (!strstr(why, cases[i].says)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].says);
        json_decref(r);
    }
    /* a debuggable TD whose fields are shown truthfully is still refused */
    memcpy(q2, q, qlen);
    q2[48 + 120] |= 1;
    json_t *r = json_deep_copy(good);
    resign_with_quote(f.key, r, q2, qlen);
    json_t *fields = json_object_get(r, "tdx");
    json_object_set_new(fields, "debug", json_true());
    json_object_del(r, "signature");
    assert_int_equal(evidence_report_sign(f.key, r), 0);
    assert_int_equal(verify(r, f.nonce_hex, why), -EBADMSG);
    assert_non_null(strstr(why, "debuggable"));
    json_decref(r);
    /* truncated, re-signed */
    r = json_deep_copy(good);
    resign_with_quote(f.key, r, q, qlen - 1);
    assert_int_equal(verify(r, f.nonce_hex, why), -EBADMSG);
    assert_non_null(strstr(why, "quote refused"));
    json_decref(r);

    /* the shown fields, the provider members and the quote's presence */
    struct { const char *key; json_t *value; const char *says; } members[] = {
        {"platform", json_string("sev-snp"), ""},
        {"platform", json_string("none"), "platform"},
        {"tee_id", json_string("software"), "tee_id"},
        {"hardware_backed", json_false(), "hardware_backed"},
        {"provider", json_string("software"), ""},
        {"quote", NULL, "quote"},
        {"tdx", NULL, "\"tdx\""},
        {"tdx", json_pack("{s:s}", "mrtd", "00"), "\"tdx\""},
    };
    for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
        r = json_deep_copy(good);
        if (members[i].value) json_object_set_new(r, members[i].key, members[i].value);
        else json_object_del(r, members[i].key);
        json_object_del(r, "signature");
        if (evidence_report_sign(f.key, r) == 0) { /* signed, yet refused */
            assert_int_equal(verify(r, f.nonce_hex, why), -EBADMSG);
            if (!strstr(why, members[i].says)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, members[i].says);
        }
        json_decref(r);
    }
    /* one altered hex digit of the shown MRTD, not re-signed */
    r = json_deep_copy(good);
    fields = json_object_get(r, "tdx");
    char *m = strdup(json_string_value(json_object_get(fields, "mrtd")));
    m[0] = m[0] == 'a' ? 'b' : 'a';
    json_object_set_new(fields, "mrtd", json_string(m));
    free(m);
    assert_int_equal(verify(r, f.nonce_hex, why), -EBADMSG);
    json_decref(r);
    /* another nonce: the report answers its own */
    char other[65];
    memcpy(other, f.nonce_hex, sizeof other);
    other[0] = other[0] == '0' ? '1' : '0';
    assert_int_equal(verify(good, other, why), -EBADMSG);
    json_decref(good);
    EVP_PKEY_free(f.key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tdx_good_every_offset), cmocka_unit_test(tdx_refusals),
        cmocka_unit_test(snp_good_every_offset), cmocka_unit_test(snp_refusals),
        cmocka_unit_test(platform_names),        cmocka_unit_test(tsm_report_round_trip),
        cmocka_unit_test(tsm_report_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
