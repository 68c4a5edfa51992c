/* Attestation reports and signed receipts (attestation/evidence.h, attestation/receipt.h).
 * Known answers were computed independently of this code: report_data and the canonical
 * receipt bytes with Python's hashlib from the formats in docs/attestation.md, and the fixed
 * receipt's signature with `openssl dgst -sha256 -sign` (its s normalised by hand). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/evidence_checks.h"
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "attestation/evidence.h"
#include "attestation/receipt.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof *(a))
/* a confinement string as fnboxd makes them (attestation/evidence.h) */
#define TEST_CONF "ipc-ns,net-ns,no-new-privs,seccomp"

/* n/2 (rounded down) for P-256: a low-s signature has s ≤ this. */
static const char HALF_N_HEX[] = "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8";
#define N_HEX "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"

static EVP_PKEY *new_key(void)
{
    return ec_key("P-256");
}

static const char *get_s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

/* ---- the fixed receipt (docs/attestation.md uses the same one) ---- */

#define FIXED_UNSIGNED                                                                             \
    "{\"invocation_id\":\"inv-0001\",\"function\":\"price-oracle\",\"version\":3,"                 \
    "\"code_sha256\":\"97b9ad3006abdd8a2d01c97a00ff82d4563cdac8341f7690d4f3ac9e0dc5f6b7\","        \
    "\"input_sha256\":\"6a38048010232920e06ed76e2d74b4ffe8992f516dd7736755ca7e43f444614b\","       \
    "\"output_sha256\":\"8137c7022868e0d31c209fac0a8819b1d89bfa20b77cb7bd421c66e888655af7\","      \
    "\"measurement\":\"58b4b681177f27f94168c7204b5e891b7d33e21006aae6bbe1ecaf747bdb0c76\","        \
    "\"time\":1718000000,\"fetches\":[{\"url\":\"https://api.exchange.example/prices/ETH\","       \
    "\"status\":200,"                                                                              \
    "\"response_sha256\":\"85316b1d8ccfedc2fa38c3ec9cc3deb3bec633178e31f7c86af433cd9593ad32\","    \
    "\"tls_peer_sha256\":\"06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e22\"},"   \
    "{\"url\":\"http://127.0.0.1:18080/fx\",\"status\":404,"                                       \
    "\"response_sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}],"  \
    "\"secrets\":[\"exchange_api_key\",\"fx.token\"]"

static const char FIXED_RECEIPT[] = FIXED_UNSIGNED
    ",\"key_scheme\":\"p256\",\"public_key\":"
    "\"3059301306072a8648ce3d020106082a8648ce3d030107034200040db8894afabb41bf832fae59e3666439e76d"
    "9f0c1c269aef70bbc22986523b9912e5212734f7b7554b541dd67b9526977b74230038b643987f21ad060b7df5c7\","
    "\"signature\":\"944e050c01218831a3bdfee67c327fbeb7ede2760aa68f2a5d58ea83eabb9bd9"
    "601dfd95880ca72ef12f49906452fe216ae2cdffaec6e02d0ba12958524d9542\","
    "\"signature_der\":\"3045022100944e050c01218831a3bdfee67c327fbeb7ede2760aa68f2a5d58ea83eabb"
    "9bd90220601dfd95880ca72ef12f49906452fe216ae2cdffaec6e02d0ba12958524d9542\"}";

static const char FIXED_BYTES[] =
    "fnbox-receipt-v1\n"
    "inv-0001\n"
    "price-oracle\n"
    "3\n"
    "97b9ad3006abdd8a2d01c97a00ff82d4563cdac8341f7690d4f3ac9e0dc5f6b7\n"
    "6a38048010232920e06ed76e2d74b4ffe8992f516dd7736755ca7e43f444614b\n"
    "8137c7022868e0d31c209fac0a8819b1d89bfa20b77cb7bd421c66e888655af7\n"
    "58b4b681177f27f94168c7204b5e891b7d33e21006aae6bbe1ecaf747bdb0c76\n"
    "1718000000\n"
    "2\n"
    "https://api.exchange.example/prices/ETH\n"
    "200\n"
    "85316b1d8ccfedc2fa38c3ec9cc3deb3bec633178e31f7c86af433cd9593ad32\n"
    "06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e22\n"
    "http://127.0.0.1:18080/fx\n"
    "404\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "\n"
    "2\n"
    "exchange_api_key\n"
    "fx.token\n";
/* SHA-256 of FIXED_BYTES (hashlib) */
static const char FIXED_BYTES_SHA256[] =
    "cf4dd615382d20245e16c2b5b12e4b14f048e6fccd9b3f2506c3961b4ac8d685";

static json_t *fixed_unsigned(void)
{
    return parse(FIXED_UNSIGNED "}");
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, d, &len, EVP_sha256(), NULL), 1);
    evidence_hex(d, 32, out);
}

/* 1 when the 32-byte big-endian s is at most n/2. */
static int low_s(const uint8_t s[32])
{
    return s_at_most(s, HALF_N_HEX);
}

/* ---- hex ---- */

static void hex_codec(void **state)
{
    uint8_t b[4];
    size_t n;
    char s[9];
    assert_int_equal(evidence_unhex("00ff7a", 0, b, sizeof b, &n), 0);
    assert_int_equal(n, 3);
    evidence_hex(b, n, s);
    assert_string_equal(s, "00ff7a");
    assert_int_equal(evidence_unhex("00FF7a", 0, b, sizeof b, &n), -EINVAL); /* lowercase only */
    assert_int_equal(evidence_unhex("00FF7a", 1, b, sizeof b, &n), 0);
    assert_int_equal(evidence_unhex("0", 1, b, sizeof b, &n), -EINVAL);
    assert_int_equal(evidence_unhex("0g", 1, b, sizeof b, &n), -EINVAL);
    assert_int_equal(evidence_unhex("0011223344", 1, b, sizeof b, &n), -EINVAL); /* > cap */
    assert_int_equal(evidence_unhex("", 1, b, sizeof b, &n), 0);
    assert_int_equal(n, 0);
}

/* ---- report_data and reports ---- */

static void report_data_known_answer(void **state)
{
    uint8_t nonce[16], spki[91], m[32], out[64], want[64];
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof spki; i++)
        spki[i] = (uint8_t)(0x40 + i);
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)(0x20 + i);
    assert_int_equal(evidence_report_data(nonce, sizeof nonce, spki, sizeof spki, m, out), 0);
    unhex("06ee7e6319a234e9cc1bfecbbffe972a792b1ac586ac87953e02b5b61ac615a2"
          "8b3827e299a958b595a6abfc0cbeb458a3b6e0663ac8222c0a85341a2aa8f8c6",
          want, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    /* plain concatenation, no length prefixes (as documented): for P-256 the key is always
     * 91 bytes and the measurement 32, so the nonce is what is left */
    uint8_t other[64];
    assert_int_equal(evidence_report_data(nonce, 15, nonce + 15, 1, m, other), 0);
    assert_int_equal(evidence_report_data(nonce, 16, NULL, 0, m, out), 0);
    assert_memory_equal(other, out, 64);
    assert_int_equal(evidence_report_data(NULL, 3, spki, sizeof spki, m, out), -EINVAL);
}

struct fresh {
    EVP_PKEY *key;
    uint8_t nonce[32], m[32];
    char nonce_hex[65], m_hex[65];
    json_t *rep;
};

static void fresh_report(struct fresh *f)
{
    f->key = new_key();
    assert_int_equal(RAND_bytes(f->nonce, sizeof f->nonce), 1);
    assert_int_equal(RAND_bytes(f->m, sizeof f->m), 1);
    evidence_hex(f->nonce, sizeof f->nonce, f->nonce_hex);
    evidence_hex(f->m, sizeof f->m, f->m_hex);
    assert_int_equal(
        evidence_software_report(f->key, f->nonce, sizeof f->nonce, f->m, TEST_CONF, 1718000000, &f->rep), 0);
}

static void fresh_free(struct fresh *f)
{
    json_decref(f->rep);
    EVP_PKEY_free(f->key);
}

static void report_round_trip(void **state)
{
    struct fresh f;
    fresh_report(&f);
    const json_t *r = f.rep;
    assert_string_equal(get_s(r, "provider"), "software");
    assert_string_equal(get_s(r, "platform"), "none");
    assert_true(json_is_false(json_object_get(r, "hardware_backed")));
    assert_string_equal(get_s(r, "tee_id"), "software");
    assert_string_equal(get_s(r, "key_scheme"), "p256");
    assert_string_equal(get_s(r, "measurement"), f.m_hex);
    assert_string_equal(get_s(r, "nonce"), f.nonce_hex);
    assert_int_equal(json_integer_value(json_object_get(r, "time")), 1718000000);
    assert_string_equal(get_s(r, "confinement"), TEST_CONF);
    assert_int_equal(json_object_size(r), 12);
    const char *order[] = {"provider",    "platform",   "hardware_backed", "tee_id",
                           "measurement", "public_key", "key_scheme",      "nonce",
                           "report_data", "time",       "confinement",     "signature"};
    char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *at = text;
    for (size_t i = 0; i < ARRAY_LEN(order); i++) { /* the documented member order */
        char k[32];
        snprintf(k, sizeof k, "\"%s\":", order[i]);
        const char *next = strstr(at, k);
        assert_non_null(next);
        at = next;
    }
    free(text);

    /* report_data is the documented binding */
    uint8_t spki[EVIDENCE_SPKI_MAX], rd[64];
    size_t spki_len;
    char spki_hex[2 * EVIDENCE_SPKI_MAX + 1], rd_hex[129];
    assert_int_equal(evidence_p256_spki(f.key, spki, &spki_len), 0);
    assert_int_equal(spki_len, 91);
    evidence_hex(spki, spki_len, spki_hex);
    assert_string_equal(get_s(r, "public_key"), spki_hex);
    assert_int_equal(evidence_report_data(f.nonce, sizeof f.nonce, spki, spki_len, f.m, rd), 0);
    evidence_hex(rd, sizeof rd, rd_hex);
    assert_string_equal(get_s(r, "report_data"), rd_hex);

    /* the canonical bytes, byte for byte */
    char *bytes;
    size_t len;
    char want[1024];
    snprintf(want, sizeof want,
             "fnbox-attestation-v3\nsoftware\nnone\nsoftware\n%s\n%s\n%s\n%s\n1718000000\n"
             TEST_CONF "\n",
             f.m_hex, spki_hex, f.nonce_hex, rd_hex);
    assert_int_equal(evidence_report_bytes(r, &bytes, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(bytes, want);
    /* the signature is plain ECDSA-SHA256 DER over them */
    uint8_t sig[EVIDENCE_SIG_DER_MAX];
    size_t sig_len;
    assert_int_equal(evidence_unhex(get_s(r, "signature"), 0, sig, sizeof sig, &sig_len), 0);
    assert_int_equal(evidence_p256_verify(spki, spki_len, bytes, len, sig, sig_len), 0);
    free(bytes);

    /* verifies; the caller's nonce and measurement may be any case */
    assert_int_equal(report_ok(r, f.nonce_hex, NULL), 0);
    assert_int_equal(report_ok(r, f.nonce_hex, f.m_hex), 0);
    char upper[65];
    for (int i = 0; i <= 64; i++)
        upper[i] = (char)(f.nonce_hex[i] >= 'a' ? f.nonce_hex[i] - 32 : f.nonce_hex[i]);
    assert_int_equal(report_ok(r, upper, NULL), 0);

    /* a replayed report (another caller's nonce) or a changed measurement fails */
    char other[65];
    strcpy(other, f.nonce_hex);
    other[10] = other[10] == '0' ? '1' : '0';
    assert_int_equal(report_ok(r, other, NULL), -EBADMSG);
    other[64 - 2] = 0; /* a prefix of the right nonce */
    assert_int_equal(report_ok(r, other, NULL), -EBADMSG);
    strcpy(other, f.m_hex);
    other[63] = other[63] == '0' ? '1' : '0';
    assert_int_equal(report_ok(r, f.nonce_hex, other), -EBADMSG);

    /* a replayed report for an old nonce: verifies only against that nonce */
    struct fresh g;
    fresh_report(&g);
    assert_int_equal(report_ok(g.rep, f.nonce_hex, NULL), -EBADMSG);
    assert_int_equal(report_ok(g.rep, g.nonce_hex, NULL), 0);

    /* malformed expectations are the caller's error */
    char why[EVIDENCE_WHY_MAX];
    assert_int_equal(evidence_report_verify(r, NULL, NULL, why, sizeof why), -EINVAL);
    assert_int_equal(evidence_report_verify(r, "xyz", NULL, why, sizeof why), -EINVAL);
    assert_int_equal(evidence_report_verify(r, f.nonce_hex, "abcd", why, sizeof why), -EINVAL);
    /* why may be absent */
    assert_int_equal(evidence_report_verify(r, f.nonce_hex, NULL, NULL, 0), 0);

    /* members outside the format (the audit checkpoint) are ignored */
    json_t *extra = json_deep_copy(r);
    json_object_set_new(extra, "audit_checkpoint", json_pack("{s:i}", "seq", 7));
    assert_int_equal(report_ok(extra, f.nonce_hex, f.m_hex), 0);
    json_decref(extra);

    fresh_free(&f);
    fresh_free(&g);
}

/* Every single-character change of the serialised report that still parses fails to verify. */
static void report_any_byte(void **state)
{
    struct fresh f;
    fresh_report(&f);
    char *text = json_dumps(f.rep, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t n = strlen(text), tried = 0;
    for (size_t i = 0; i < n; i++) {
        char orig = text[i];
        char subs[3] = {orig == '0' ? '1' : '0', orig == 'e' ? 'f' : 'e', 0};
        if (orig >= 'a' && orig <= 'z') subs[2] = (char)(orig - 32);
        for (size_t k = 0; k < 3; k++) {
            if (!subs[k] || subs[k] == orig) continue;
            text[i] = subs[k];
            json_t *m = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
            if (m) {
                tried++;
                if (report_ok(m, f.nonce_hex, NULL) != -EBADMSG)
                    fail_msg("report still verifies after byte %zu became '%c': %s", i, subs[k],
                             text);
                json_decref(m);
            }
            text[i] = orig;
        }
    }
    assert_true(tried > 650);
    free(text);

    /* by member: each removed, the boolean flipped, time moved */
    const char *members[] = {"provider",    "platform",   "hardware_backed", "tee_id",
                             "measurement", "public_key", "key_scheme",      "nonce",
                             "report_data", "time",       "confinement",     "signature"};
    for (size_t i = 0; i < ARRAY_LEN(members); i++) {
        json_t *m = json_deep_copy(f.rep);
        assert_int_equal(json_object_del(m, members[i]), 0);
        assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
        json_decref(m);
    }
    json_t *m = json_deep_copy(f.rep);
    json_object_set_new(m, "hardware_backed", json_true());
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_object_set_new(m, "hardware_backed", json_integer(0));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_decref(m);
    m = json_deep_copy(f.rep);
    json_object_set_new(m, "time", json_integer(1718000001));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_object_set_new(m, "time", json_real(1718000000.0));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_object_set_new(m, "time", json_string("1718000000"));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_decref(m);
    /* a nonce with a NUL smuggled in after the real one */
    m = json_deep_copy(f.rep);
    char buf[70];
    memcpy(buf, f.nonce_hex, 64);
    memcpy(buf + 64, "\0000", 2);
    json_object_set_new(m, "nonce", json_stringn(buf, 66));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_decref(m);
    assert_int_equal(report_ok(json_null(), f.nonce_hex, NULL), -EBADMSG);
    fresh_free(&f);
}

/* The confinement string: one spelling per set, and a verifier that takes no other. */
static void confinement_strings(void **state)
{
    /* the table is in strcmp order, so bit order is the sorted order */
    for (unsigned i = 1; i < EVIDENCE_CONF_COUNT; i++)
        assert_true(strcmp(evidence_confinement_token(i - 1), evidence_confinement_token(i)) < 0);
    assert_null(evidence_confinement_token(EVIDENCE_CONF_COUNT));
    char s[EVIDENCE_CONFINEMENT_MAX];
    unsigned all = (1u << EVIDENCE_CONF_COUNT) - 1, mask;
    assert_int_equal(evidence_confinement_string(all, s, sizeof s), 0);
    assert_string_equal(s, "bounding-set-dropped,fs-hidden,ipc-ns,net-ns,no-new-privs,pid-ns,"
                           "seccomp,uid-switch,user-ns,uts-ns,zygote-seccomp");
    assert_int_equal(evidence_confinement_parse(s, &mask, NULL, 0), 0);
    assert_int_equal(mask, all);
    assert_int_equal(evidence_confinement_string(0, s, sizeof s), 0);
    assert_string_equal(s, "none");
    assert_int_equal(evidence_confinement_parse("none", &mask, NULL, 0), 0);
    assert_int_equal(mask, 0);
    assert_int_equal(evidence_confinement_string(EVIDENCE_CONF_SECCOMP | EVIDENCE_CONF_NET_NS, s,
                                                 sizeof s),
                     0);
    assert_string_equal(s, "net-ns,seccomp");
    assert_int_equal(evidence_confinement_string(1u << EVIDENCE_CONF_COUNT, s, sizeof s), -EINVAL);
    assert_int_equal(evidence_confinement_string(all, s, 20), -ENOSPC);
    assert_string_equal(s, "");
    char why[EVIDENCE_WHY_MAX];
    static const char *const bad[] = {
        "",        "seccomp,net-ns", "net-ns,net-ns", "net-ns,",          ",net-ns",
        "Seccomp", "seccomp\n",      "net-ns,none",   "none,net-ns",      "caps-dropped",
        "net-ns seccomp", "net-ns,,seccomp"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        mask = 7;
        if (evidence_confinement_parse(bad[i], &mask, why, sizeof why) != -EINVAL)
            fail_msg("confinement \"%s\" was accepted", bad[i]);
        assert_int_equal(mask, 0);
    }
    assert_int_equal(evidence_confinement_parse(NULL, &mask, why, sizeof why), -EINVAL);
    assert_int_equal(evidence_confinement_parse("caps-dropped", &mask, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "unknown token \"caps-dropped\""));

    /* in a report: required, of known tokens, and signed */
    struct fresh f;
    fresh_report(&f);
    static const char *const swaps[] = {"ipc-ns,net-ns,seccomp", "none", "net-ns,ipc-ns",
                                        "ipc-ns,net-ns,no-new-privs,seccomp,caps-dropped"};
    for (size_t i = 0; i < ARRAY_LEN(swaps); i++) {
        json_t *m = json_deep_copy(f.rep);
        json_object_set_new(m, "confinement", json_string(swaps[i]));
        assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
        json_decref(m);
    }
    json_t *m = json_deep_copy(f.rep);
    json_object_set_new(m, "confinement", json_string("ipc-ns,net-ns,bogus"));
    assert_int_equal(evidence_report_verify(m, f.nonce_hex, NULL, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "unknown token \"bogus\""));
    json_object_set_new(m, "confinement", json_integer(3));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_object_del(m, "confinement");
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    char *bytes;
    size_t len;
    assert_int_equal(evidence_report_bytes(m, &bytes, &len), -EINVAL);
    json_decref(m);
    /* a builder refuses a malformed one */
    json_t *out;
    assert_int_equal(evidence_software_report(f.key, f.nonce, sizeof f.nonce, f.m, "net-ns,ipc-ns",
                                              1, &out),
                     -EINVAL);
    assert_int_equal(evidence_software_report(f.key, f.nonce, sizeof f.nonce, f.m, NULL, 1, &out),
                     -EINVAL);
    assert_null(out);
    fresh_free(&f);
}

/* A report re-signed honestly by another key is a valid report of that other key — but not
 * for the original key's binding: report_data and public_key both move. */
static void report_key_substitution(void **state)
{
    struct fresh f;
    fresh_report(&f);
    EVP_PKEY *mallory = new_key();
    json_t *m = json_deep_copy(f.rep);
    /* swap only the public key: report_data no longer binds it */
    uint8_t spki[EVIDENCE_SPKI_MAX];
    size_t spki_len;
    char spki_hex[2 * EVIDENCE_SPKI_MAX + 1];
    assert_int_equal(evidence_p256_spki(mallory, spki, &spki_len), 0);
    evidence_hex(spki, spki_len, spki_hex);
    json_object_set_new(m, "public_key", json_string(spki_hex));
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    /* and re-signing the original's fields with the old public key in place is refused */
    json_decref(m);
    m = json_deep_copy(f.rep);
    assert_int_equal(evidence_report_sign(mallory, m), -EINVAL);
    assert_true(json_equal(m, f.rep)); /* untouched */
    json_decref(m);
    EVP_PKEY_free(mallory);
    fresh_free(&f);
}

static void report_sign_refusals(void **state)
{
    struct fresh f;
    fresh_report(&f);
    json_t *m = json_deep_copy(f.rep);
    json_object_set_new(m, "report_data", json_string(N_HEX N_HEX));
    assert_int_equal(evidence_report_sign(f.key, m), -EINVAL); /* a binding to other data */
    json_decref(m);

    m = json_deep_copy(f.rep);
    json_object_set_new(m, "provider", json_string("soft\nware"));
    assert_int_equal(evidence_report_sign(f.key, m), -EINVAL);
    char *bytes;
    size_t len;
    assert_int_equal(evidence_report_bytes(m, &bytes, &len), -EINVAL);
    assert_null(bytes);
    json_decref(m);

    /* a nonce outside 16..64 bytes */
    uint8_t nonce[65] = {0}, meas[32] = {0};
    json_t *out;
    assert_int_equal(evidence_software_report(f.key, nonce, 15, meas, TEST_CONF, 1, &out), -EINVAL);
    assert_int_equal(evidence_software_report(f.key, nonce, 65, meas, TEST_CONF, 1, &out), -EINVAL);
    assert_int_equal(evidence_software_report(f.key, nonce, 16, meas, TEST_CONF, -1, &out), -EINVAL);
    assert_int_equal(evidence_software_report(f.key, nonce, 64, meas, TEST_CONF, 0, &out), 0);
    char zeros[129];
    memset(zeros, '0', 128);
    zeros[128] = 0;
    assert_int_equal(report_ok(out, zeros, NULL), 0);
    json_decref(out);

    /* not a P-256 key */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(p384);
    assert_non_null(ed);
    assert_int_equal(evidence_software_report(p384, nonce, 16, meas, TEST_CONF, 1, &out), -EINVAL);
    assert_int_equal(evidence_software_report(ed, nonce, 16, meas, TEST_CONF, 1, &out), -EINVAL);
    assert_null(out);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);

    /* signing a report without report_data fills it in; with the right one keeps it */
    m = json_deep_copy(f.rep);
    json_object_del(m, "report_data");
    json_object_del(m, "signature");
    json_object_del(m, "public_key");
    assert_int_equal(evidence_report_sign(f.key, m), 0);
    assert_string_equal(get_s(m, "report_data"), get_s(f.rep, "report_data"));
    assert_int_equal(report_ok(m, f.nonce_hex, f.m_hex), 0);
    assert_int_equal(evidence_report_sign(f.key, m), 0);
    assert_int_equal(report_ok(m, f.nonce_hex, f.m_hex), 0);
    json_decref(m);

    /* a non-software report (even a well-formed one) is not accepted by this verifier */
    m = json_deep_copy(f.rep);
    json_object_set_new(m, "provider", json_string("tsm"));
    json_object_set_new(m, "platform", json_string("tdx"));
    json_object_set_new(m, "tee_id", json_string("tdx"));
    json_object_set_new(m, "hardware_backed", json_true());
    assert_int_equal(evidence_report_sign(f.key, m), 0);
    assert_int_equal(report_ok(m, f.nonce_hex, NULL), -EBADMSG);
    json_decref(m);
    fresh_free(&f);
}

/* ---- receipts ---- */

static void receipt_known_answer(void **state)
{
    json_t *r = fixed_unsigned();
    char *bytes;
    size_t len;
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    assert_int_equal(len, sizeof FIXED_BYTES - 1);
    assert_memory_equal(bytes, FIXED_BYTES, len);
    assert_int_equal(bytes[len], 0);
    char h[65];
    sha256_hex(bytes, len, h);
    assert_string_equal(h, FIXED_BYTES_SHA256);
    free(bytes);
    /* signature members and unknown members are not part of the bytes; null tls = absent */
    json_t *s = parse(FIXED_RECEIPT);
    json_object_set_new(s, "note", json_string("x"));
    json_object_set_new(json_array_get(json_object_get(s, "fetches"), 1), "tls_peer_sha256",
                        json_null());
    assert_int_equal(receipt_bytes(s, &bytes, &len), 0);
    assert_int_equal(len, sizeof FIXED_BYTES - 1);
    assert_memory_equal(bytes, FIXED_BYTES, len);
    free(bytes);
    json_decref(s);
    /* no fetches, no secrets */
    json_object_set_new(r, "fetches", json_array());
    json_object_set_new(r, "secrets", json_array());
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    assert_string_equal(bytes + len - 5, "\n0\n0\n");
    free(bytes);
    json_decref(r);
}

/* The fixed receipt was signed by `openssl dgst -sha256 -sign`, not by this code. */
static void receipt_signed_by_openssl(void **state)
{
    json_t *r = parse(FIXED_RECEIPT);
    assert_int_equal(receipt_ok(r, NULL), 0);
    assert_int_equal(receipt_ok(r, get_s(r, "public_key")), 0);
    /* the expected key may be given in capitals */
    char up[200];
    snprintf(up, sizeof up, "%s", get_s(r, "public_key"));
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    assert_int_equal(receipt_ok(r, up), 0);
    /* another expected key */
    EVP_PKEY *k = new_key();
    uint8_t spki[EVIDENCE_SPKI_MAX];
    size_t spki_len;
    char hex[2 * EVIDENCE_SPKI_MAX + 1];
    assert_int_equal(evidence_p256_spki(k, spki, &spki_len), 0);
    evidence_hex(spki, spki_len, hex);
    assert_int_equal(receipt_ok(r, hex), -EBADMSG);
    char why[EVIDENCE_WHY_MAX];
    assert_int_equal(receipt_verify(r, "not hex", why, sizeof why), -EINVAL);
    EVP_PKEY_free(k);
    json_decref(r);
}

static void receipt_round_trip(void **state)
{
    EVP_PKEY *k = new_key();
    json_t *r = fixed_unsigned();
    assert_int_equal(receipt_sign(k, r), 0);
    uint8_t spki[EVIDENCE_SPKI_MAX];
    size_t spki_len;
    char hex[2 * EVIDENCE_SPKI_MAX + 1];
    assert_int_equal(evidence_p256_spki(k, spki, &spki_len), 0);
    evidence_hex(spki, spki_len, hex);
    assert_string_equal(get_s(r, "key_scheme"), "p256");
    assert_string_equal(get_s(r, "public_key"), hex);
    assert_int_equal(strlen(get_s(r, "signature")), 128);
    assert_int_equal(receipt_ok(r, NULL), 0);
    assert_int_equal(receipt_ok(r, hex), 0);
    assert_int_equal(receipt_verify(r, NULL, NULL, 0), 0);

    /* signature_der is plain DER over the canonical bytes, r‖s the same numbers */
    char *bytes;
    size_t len;
    uint8_t der[EVIDENCE_SIG_DER_MAX], rs[64];
    size_t der_len;
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    assert_int_equal(evidence_unhex(get_s(r, "signature_der"), 0, der, sizeof der, &der_len), 0);
    assert_int_equal(evidence_p256_verify(spki, spki_len, bytes, len, der, der_len), 0);
    free(bytes);
    unhex(get_s(r, "signature"), rs, 64);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(sig);
    uint8_t rr[32], ss[32];
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rr, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), ss, 32), 32);
    assert_memory_equal(rr, rs, 32);
    assert_memory_equal(ss, rs + 32, 32);
    ECDSA_SIG_free(sig);

    /* signing again replaces the signature members; another key's receipt names that key */
    EVP_PKEY *k2 = new_key();
    assert_int_equal(receipt_sign(k2, r), 0);
    assert_int_equal(receipt_ok(r, NULL), 0);
    assert_int_equal(receipt_ok(r, hex), -EBADMSG);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k);
    json_decref(r);
}

/* v2: the isolation line. It is signed: removing it, or changing it, fails; only the two
 * known values are accepted; the v1 bytes (without it) stay as they were. */
static void receipt_isolation(void **state)
{
    (void)state;
    EVP_PKEY *k = new_key();
    json_t *r = fixed_unsigned();
    char *v1, *v2;
    size_t v1_len, v2_len;
    assert_int_equal(receipt_bytes(r, &v1, &v1_len), 0);
    assert_int_equal(json_object_set_new(r, "isolation", json_string("snapshot")), 0);
    assert_int_equal(receipt_bytes(r, &v2, &v2_len), 0);
    assert_memory_equal(v2, "fnbox-receipt-v2\n", 17);
    assert_memory_equal(v1, "fnbox-receipt-v1\n", 17);
    /* the same lines, with "snapshot" after time: v1's line 9 onwards follow it in v2 */
    const char *time_line = strstr(v2, "\n1718000000\n");
    assert_non_null(time_line);
    assert_memory_equal(time_line, "\n1718000000\nsnapshot\n", 21);
    assert_int_equal(v2_len, v1_len + strlen("snapshot\n"));
    free(v1);
    free(v2);

    assert_int_equal(receipt_sign(k, r), 0);
    assert_int_equal(receipt_verify(r, NULL, NULL, 0), 0);
    json_t *c = json_deep_copy(r);
    json_object_set_new(c, "isolation", json_string("process"));
    assert_int_equal(receipt_verify(c, NULL, NULL, 0), -EBADMSG);
    json_object_del(c, "isolation"); /* passed off as a v1 receipt */
    assert_int_equal(receipt_verify(c, NULL, NULL, 0), -EBADMSG);
    const char *bad[] = {"thread", "", "Process", "snapshot\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_object_set_new(c, "isolation", json_string(bad[i]));
        char *b;
        size_t n;
        assert_int_equal(receipt_bytes(c, &b, &n), -EINVAL);
        assert_int_equal(receipt_verify(c, NULL, NULL, 0), -EBADMSG);
        assert_int_equal(receipt_sign(k, c), -EINVAL);
    }
    json_object_set_new(c, "isolation", json_integer(1));
    assert_int_equal(receipt_verify(c, NULL, NULL, 0), -EBADMSG);
    json_decref(c);
    json_decref(r);
    EVP_PKEY_free(k);
}

static json_t *signed_copy(EVP_PKEY *k, json_t *r)
{
    json_t *c = json_deep_copy(r);
    assert_int_equal(receipt_sign(k, c), 0);
    return c;
}

static void receipt_any_change(void **state)
{
    EVP_PKEY *k = new_key();
    json_t *r = fixed_unsigned();
    assert_int_equal(receipt_sign(k, r), 0);

    /* every single-character change of the serialised receipt that still parses fails */
    char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t n = strlen(text), tried = 0;
    for (size_t i = 0; i < n; i++) {
        char orig = text[i];
        char subs[3] = {orig == '0' ? '1' : '0', orig == 'e' ? 'f' : 'e', 0};
        if (orig >= 'a' && orig <= 'z') subs[2] = (char)(orig - 32);
        for (size_t j = 0; j < 3; j++) {
            if (!subs[j] || subs[j] == orig) continue;
            text[i] = subs[j];
            json_t *m = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
            if (m) {
                tried++;
                if (receipt_ok(m, NULL) != -EBADMSG)
                    fail_msg("receipt still verifies after byte %zu became '%c'", i, subs[j]);
                json_decref(m);
            }
            text[i] = orig;
        }
    }
    assert_true(tried > 1500);
    free(text);

    /* named cases */
    json_t *m;
    char buf[200];
#define EXPECT_FAIL(stmt)                                                                          \
    do {                                                                                           \
        m = json_deep_copy(r);                                                                     \
        stmt;                                                                                      \
        assert_int_equal(receipt_ok(m, NULL), -EBADMSG);                                           \
        json_decref(m);                                                                            \
    } while (0)
    /* one hex digit of the signature, of signature_der */
    snprintf(buf, sizeof buf, "%s", get_s(r, "signature"));
    buf[127] = buf[127] == '0' ? '1' : '0';
    EXPECT_FAIL(json_object_set_new(m, "signature", json_string(buf)));
    snprintf(buf, sizeof buf, "%s", get_s(r, "signature_der"));
    buf[strlen(buf) - 1] = buf[strlen(buf) - 1] == '0' ? '1' : '0';
    EXPECT_FAIL(json_object_set_new(m, "signature_der", json_string(buf)));
    /* the version, the time */
    EXPECT_FAIL(json_object_set_new(m, "version", json_integer(4)));
    EXPECT_FAIL(json_object_set_new(m, "version", json_string("3")));
    EXPECT_FAIL(json_object_set_new(m, "time", json_integer(1718000001)));
    /* a fetch url, a status, a tls hash removed */
    EXPECT_FAIL(json_object_set_new(json_array_get(json_object_get(m, "fetches"), 0), "url",
                                    json_string("https://api.exchange.example/prices/BTC")));
    EXPECT_FAIL(json_object_set_new(json_array_get(json_object_get(m, "fetches"), 1), "status",
                                    json_integer(200)));
    EXPECT_FAIL(
        json_object_del(json_array_get(json_object_get(m, "fetches"), 0), "tls_peer_sha256"));
    /* fetches reordered, one dropped, one added */
    EXPECT_FAIL({
        json_t *fs = json_object_get(m, "fetches");
        json_t *first = json_incref(json_array_get(fs, 0));
        json_array_remove(fs, 0);
        json_array_append_new(fs, first);
    });
    EXPECT_FAIL(json_array_remove(json_object_get(m, "fetches"), 1));
    EXPECT_FAIL(json_array_append(json_object_get(m, "fetches"),
                                  json_array_get(json_object_get(m, "fetches"), 1)));
    /* a secret name changed, the secrets reordered, one dropped */
    EXPECT_FAIL(json_array_set_new(json_object_get(m, "secrets"), 1, json_string("fx.tokem")));
    EXPECT_FAIL({
        json_t *ss = json_object_get(m, "secrets");
        json_t *first = json_incref(json_array_get(ss, 0));
        json_array_remove(ss, 0);
        json_array_append_new(ss, first);
    });
    EXPECT_FAIL(json_array_remove(json_object_get(m, "secrets"), 0));
    /* the secrets emptied */
    EXPECT_FAIL(json_array_clear(json_object_get(m, "secrets")));
    /* every member removed */
    const char *members[] = {"invocation_id", "function",      "version",     "code_sha256",
                             "input_sha256",  "output_sha256", "measurement", "time",
                             "fetches",       "secrets",       "key_scheme",  "public_key",
                             "signature",     "signature_der"};
    for (size_t i = 0; i < ARRAY_LEN(members); i++)
        EXPECT_FAIL(json_object_del(m, members[i]));
    /* another receipt's signature on this one */
    json_t *other = fixed_unsigned();
    json_object_set_new(other, "invocation_id", json_string("inv-0002"));
    json_t *os = signed_copy(k, other);
    EXPECT_FAIL({
        json_object_set(m, "signature", json_object_get(os, "signature"));
        json_object_set(m, "signature_der", json_object_get(os, "signature_der"));
    });
    json_decref(os);
    json_decref(other);
#undef EXPECT_FAIL
    EVP_PKEY_free(k);
    json_decref(r);
}

static void receipt_refusals(void **state)
{
    EVP_PKEY *k = new_key();
    struct {
        const char *path; /* member, or "fetches.0.url" style */
        json_t *value;
    } bad[] = {
        {"invocation_id", json_string("inv\n0001")},
        {"invocation_id", json_string("")},
        {"function", json_string("price-oracle\n")},
        {"function", json_stringn("price\0oracle", 12)},
        {"version", json_integer(-1)},
        {"version", json_real(3.0)},
        {"time", json_integer(-5)},
        {"code_sha256", json_string(N_HEX "00")},
        {"input_sha256",
         json_string("6A38048010232920e06ed76e2d74b4ffe8992f516dd7736755ca7e43f444614b")},
        {"measurement", json_null()},
        {"fetches", json_object()},
        {"secrets", json_string("exchange_api_key")},
        {"fetches.0.url", json_string("https://a.example/\nb")},
        {"fetches.0.url", json_string("")},
        {"fetches.0.status", json_integer(1000)},
        {"fetches.0.status", json_string("200")},
        {"fetches.0.response_sha256", json_string("")},
        {"fetches.0.tls_peer_sha256", json_string("")},
        {"fetches.1.tls_peer_sha256", json_false()},
        {"secrets.0", json_string("exchange_api_key\nfx.token")},
        {"secrets.1", json_integer(1)},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        json_t *r = fixed_unsigned();
        char path[64];
        snprintf(path, sizeof path, "%s", bad[i].path);
        char *dot = strchr(path, '.');
        if (!dot) {
            json_object_set_new(r, path, bad[i].value);
        } else {
            *dot = 0;
            char *rest = dot + 1, *dot2 = strchr(rest, '.');
            json_t *arr = json_object_get(r, path);
            if (dot2) {
                *dot2 = 0;
                json_object_set_new(json_array_get(arr, (size_t)atoi(rest)), dot2 + 1,
                                    bad[i].value);
            } else {
                json_array_set_new(arr, (size_t)atoi(rest), bad[i].value);
            }
        }
        char *bytes = (char *)1;
        size_t len = 1;
        if (receipt_bytes(r, &bytes, &len) != -EINVAL) fail_msg("accepted case %zu", i);
        assert_null(bytes);
        assert_int_equal(len, 0);
        json_t *before = json_deep_copy(r);
        assert_int_equal(receipt_sign(k, r), -EINVAL);
        assert_true(json_equal(before, r)); /* left unchanged */
        json_decref(before);
        assert_int_equal(receipt_ok(r, NULL), -EBADMSG);
        json_decref(r);
    }
    json_t *r = fixed_unsigned();
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_int_equal(receipt_sign(p384, r), -EINVAL);
    assert_int_equal(receipt_sign(NULL, r), -EINVAL);
    EVP_PKEY_free(p384);
    json_decref(r);
    char *bytes;
    size_t len;
    assert_int_equal(receipt_bytes(json_null(), &bytes, &len), -EINVAL);
    EVP_PKEY_free(k);
}

/* A public key has one spelling: OpenSSL's parser also takes a BIT STRING that claims an unused
 * bit (when the last bit is 0) and a compressed point, both for the same key. Receipts do not
 * sign their public_key, so these must be refused, not parsed. */
static void public_key_one_spelling(void **state)
{
    EVP_PKEY *k = NULL;
    uint8_t spki[EVIDENCE_SPKI_MAX];
    size_t spki_len = 0;
    for (int i = 0; i < 64; i++) { /* a key whose Y is even */
        EVP_PKEY_free(k);
        k = new_key();
        assert_int_equal(evidence_p256_spki(k, spki, &spki_len), 0);
        if (!(spki[spki_len - 1] & 1)) break;
    }
    assert_int_equal(spki_len, EVIDENCE_P256_SPKI_LEN);
    assert_int_equal(spki[23], 0x03); /* BIT STRING */
    assert_int_equal(spki[25], 0x00); /* unused bits */
    json_t *r = fixed_unsigned();
    assert_int_equal(receipt_sign(k, r), 0);
    assert_int_equal(receipt_ok(r, NULL), 0);

    uint8_t odd[EVIDENCE_SPKI_MAX];
    memcpy(odd, spki, spki_len);
    odd[25] = 1;
    const uint8_t *p = odd;
    EVP_PKEY *same = d2i_PUBKEY(NULL, &p, (long)spki_len);
    assert_non_null(same); /* the parser takes it ... */
    assert_int_equal(EVP_PKEY_eq(same, k), 1);
    EVP_PKEY_free(same);
    char *bytes;
    size_t len;
    uint8_t der[EVIDENCE_SIG_DER_MAX];
    size_t der_len;
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    assert_int_equal(evidence_unhex(get_s(r, "signature_der"), 0, der, sizeof der, &der_len), 0);
    assert_int_equal(evidence_p256_verify(spki, spki_len, bytes, len, der, der_len), 0);
    assert_int_equal(evidence_p256_verify(odd, spki_len, bytes, len, der, der_len), -EINVAL);
    char hex[2 * EVIDENCE_SPKI_MAX + 1];
    evidence_hex(odd, spki_len, hex);
    json_t *m = json_deep_copy(r);
    json_object_set_new(m, "public_key", json_string(hex)); /* ... we do not */
    assert_int_equal(receipt_ok(m, NULL), -EBADMSG);
    json_decref(m);

    /* the compressed point */
    EVP_PKEY *c = EVP_PKEY_dup(k);
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(c, "point-format", "compressed"), 1);
    uint8_t comp[EVIDENCE_SPKI_MAX], *q = comp;
    int clen = i2d_PUBKEY(c, &q);
    assert_true(clen > 0 && clen < (int)spki_len);
    p = comp;
    same = d2i_PUBKEY(NULL, &p, clen);
    assert_non_null(same);
    assert_int_equal(EVP_PKEY_eq(same, k), 1);
    EVP_PKEY_free(same);
    assert_int_equal(evidence_p256_verify(comp, (size_t)clen, bytes, len, der, der_len), -EINVAL);
    EVP_PKEY_free(c);
    free(bytes);
    json_decref(r);
    EVP_PKEY_free(k);
}

/* s is normalised: n − s of a valid signature is valid ECDSA too, but receipts carry only the
 * low form. */
static void low_s_normalised(void **state)
{
    EVP_PKEY *k = new_key();
    json_t *r = fixed_unsigned();
    assert_int_equal(receipt_sign(k, r), 0);
    uint8_t spki[EVIDENCE_SPKI_MAX], der[EVIDENCE_SIG_DER_MAX], rs[64];
    size_t spki_len, der_len;
    assert_int_equal(evidence_p256_spki(k, spki, &spki_len), 0);
    assert_int_equal(evidence_unhex(get_s(r, "signature_der"), 0, der, sizeof der, &der_len), 0);
    unhex(get_s(r, "signature"), rs, 64);
    assert_true(low_s(rs + 32));

    /* the high twin: (r, n − s) */
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(sig);
    BIGNUM *n = NULL, *hs = BN_new();
    assert_true(BN_hex2bn(&n, N_HEX) > 0);
    assert_int_equal(BN_sub(hs, n, ECDSA_SIG_get0_s(sig)), 1);
    BIGNUM *r2 = BN_dup(ECDSA_SIG_get0_r(sig));
    ECDSA_SIG *high = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(high, r2, hs), 1);
    uint8_t hder[EVIDENCE_SIG_DER_MAX + 8], *q = hder, hrs[64];
    int hlen = i2d_ECDSA_SIG(high, &q);
    assert_true(hlen > 0 && hlen <= EVIDENCE_SIG_DER_MAX);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(high), hrs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(high), hrs + 32, 32), 32);
    assert_false(low_s(hrs + 32));

    /* the high form is what a signer could have produced: it verifies as plain ECDSA */
    char *bytes;
    size_t len;
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    assert_int_equal(evidence_p256_verify(spki, spki_len, bytes, len, hder, (size_t)hlen), 0);
    free(bytes);
    /* and normalising it gives exactly the receipt's signature, both forms */
    uint8_t nrs[64], nder[EVIDENCE_SIG_DER_MAX];
    size_t nder_len;
    int was_high = 0;
    assert_int_equal(evidence_sig_low_s(hder, (size_t)hlen, nrs, nder, &nder_len, &was_high), 0);
    assert_int_equal(was_high, 1);
    assert_memory_equal(nrs, rs, 64);
    assert_int_equal(nder_len, der_len);
    assert_memory_equal(nder, der, der_len);
    assert_int_equal(evidence_sig_low_s(der, der_len, nrs, nder, &nder_len, &was_high), 0);
    assert_int_equal(was_high, 0);
    assert_memory_equal(nrs, rs, 64);

    /* a receipt carrying the high form is refused: receipt_sign never makes one */
    char hex[2 * EVIDENCE_SIG_DER_MAX + 1];
    json_t *m = json_deep_copy(r);
    evidence_hex(hder, (size_t)hlen, hex);
    json_object_set_new(m, "signature_der", json_string(hex));
    assert_int_equal(receipt_ok(m, NULL), -EBADMSG); /* r‖s still the low one: mismatch */
    evidence_hex(hrs, 64, hex);
    json_object_set_new(m, "signature", json_string(hex));
    assert_int_equal(receipt_ok(m, NULL), -EBADMSG); /* both high */
    json_decref(m);
    assert_int_equal(receipt_ok(r, NULL), 0);

    /* non-DER encodings of the same numbers are not signatures */
    uint8_t longer[EVIDENCE_SIG_DER_MAX];
    assert_int_equal(evidence_sig_low_s(der, der_len - 1, nrs, nder, &nder_len, NULL), -EBADMSG);
    memcpy(longer, der, der_len);
    longer[1] = (uint8_t)(longer[1] + 1); /* a SEQUENCE length that claims one more byte */
    longer[der_len] = 0;
    assert_int_equal(evidence_sig_low_s(longer, der_len + 1, nrs, nder, &nder_len, NULL), -EBADMSG);

    ECDSA_SIG_free(sig);
    ECDSA_SIG_free(high);
    BN_free(n);

    /* OpenSSL itself emits high s about half the time; receipt_sign never does */
    int raw_high = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t raw[EVIDENCE_SIG_DER_MAX];
        size_t raw_len = sizeof raw;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
        assert_int_equal(EVP_DigestSign(ctx, raw, &raw_len, (const uint8_t *)"m", 1), 1);
        EVP_MD_CTX_free(ctx);
        assert_int_equal(evidence_sig_low_s(raw, raw_len, nrs, nder, &nder_len, &was_high), 0);
        raw_high += was_high;
    }
    assert_true(raw_high > 0);
    for (int i = 0; i < 200; i++) {
        json_object_set_new(r, "time", json_integer(1718000000 + i));
        assert_int_equal(receipt_sign(k, r), 0);
        unhex(get_s(r, "signature"), rs, 64);
        assert_true(low_s(rs + 32));
        assert_int_equal(receipt_verify(r, NULL, NULL, 0), 0);
    }
    json_decref(r);
    EVP_PKEY_free(k);
}

/* The documented stock-tools check (docs/attestation.md), run for real when the tools exist. */
static void openssl_command_line(void **state)
{
    if (system("command -v openssl >/dev/null && command -v xxd >/dev/null && "
               "command -v jq >/dev/null") != 0)
        skip();
    char dir[] = "/tmp/fnbox-receipt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    EVP_PKEY *k = new_key();
    json_t *r = fixed_unsigned();
    assert_int_equal(receipt_sign(k, r), 0);
    json_t *response = json_pack("{s:{s:i}, s:s, s:O}", "result", "price", 3120, "invocation_id",
                                 "inv-0001", "receipt", r);
    char path[256];
    snprintf(path, sizeof path, "%s/invoke.json", dir);
    assert_int_equal(json_dump_file(response, path, JSON_INDENT(2)), 0);
    json_decref(response);

    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && "
             "jq .receipt invoke.json > receipt.json && "
             "jq -j '\"fnbox-receipt-v1\\n\" + ([.invocation_id, .function, (.version|tostring), "
             ".code_sha256, .input_sha256, .output_sha256, .measurement, (.time|tostring), "
             "(.fetches|length|tostring)] + [.fetches[] | .url, (.status|tostring), "
             ".response_sha256, (.tls_peer_sha256 // \"\")] + [(.secrets|length|tostring)] + "
             ".secrets | map(. + \"\\n\") | add)' receipt.json > receipt.bin && "
             "jq -r .signature_der receipt.json | xxd -r -p > sig.der && "
             "jq -r .public_key receipt.json | xxd -r -p | "
             "openssl pkey -pubin -inform DER -out pub.pem && "
             "openssl dgst -sha256 -verify pub.pem -signature sig.der receipt.bin > out.txt 2>&1; "
             "sed 's/price-oracle/price-0racle/' receipt.bin > forged.bin; "
             "openssl dgst -sha256 -verify pub.pem -signature sig.der forged.bin > forged.txt "
             "2>&1; echo $? > forged.rc",
             dir);
    assert_int_equal(system(cmd), 0);

    /* jq rebuilt exactly our canonical bytes */
    char *bytes;
    size_t len;
    assert_int_equal(receipt_bytes(r, &bytes, &len), 0);
    snprintf(path, sizeof path, "%s/receipt.bin", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char file[2048];
    size_t got = fread(file, 1, sizeof file, fp);
    fclose(fp);
    assert_int_equal(got, len);
    assert_memory_equal(file, bytes, len);
    free(bytes);

    snprintf(path, sizeof path, "%s/out.txt", dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    got = fread(file, 1, sizeof file - 1, fp);
    fclose(fp);
    file[got] = 0;
    assert_string_equal(file, "Verified OK\n");
    snprintf(path, sizeof path, "%s/forged.rc", dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    got = fread(file, 1, sizeof file - 1, fp);
    fclose(fp);
    file[got] = 0;
    assert_string_equal(file, "1\n");

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    json_decref(r);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_codec),
        cmocka_unit_test(report_data_known_answer),
        cmocka_unit_test(report_round_trip),
        cmocka_unit_test(report_any_byte),
        cmocka_unit_test(report_key_substitution),
        cmocka_unit_test(confinement_strings),
        cmocka_unit_test(report_sign_refusals),
        cmocka_unit_test(receipt_known_answer),
        cmocka_unit_test(receipt_signed_by_openssl),
        cmocka_unit_test(receipt_round_trip),
        cmocka_unit_test(receipt_isolation),
        cmocka_unit_test(receipt_any_change),
        cmocka_unit_test(receipt_refusals),
        cmocka_unit_test(public_key_one_spelling),
        cmocka_unit_test(low_s_normalised),
        cmocka_unit_test(openssl_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
