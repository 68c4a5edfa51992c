#include "attestation/receipt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "attestation/ecsig.h"
#include "attestation/evidence.h"

#define fail(why, whylen, ...) (evidence_note(why, whylen, __VA_ARGS__), -EBADMSG)

/* The member's string when it is a string without NUL, else NULL. */
static const char *str_of(const json_t *v)
{
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

/* A line of canonical text: non-empty, no '\n'. */
static const char *text_of(const json_t *v)
{
    const char *s = str_of(v);
    return s && *s && !strchr(s, '\n') ? s : NULL;
}

/* 64 lowercase hex digits. */
static const char *sha_of(const json_t *v)
{
    const char *s = str_of(v);
    if (!s || strlen(s) != 64) return NULL;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return NULL;
    return s;
}

static int uint_of(const json_t *v, json_int_t max, int64_t *out)
{
    if (!json_is_integer(v)) return -1;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (max >= 0 && i > max)) return -1;
    *out = (int64_t)i;
    return 0;
}

#define WHAT_MAX 96

/* Writes the canonical bytes to m. 0, or -1 with what is wrong in what (WHAT_MAX bytes). */
static int write_canonical(FILE *m, const json_t *r, char *what)
{
#define BAD(...) return (snprintf(what, WHAT_MAX, __VA_ARGS__), -1)
    if (!json_is_object(r)) BAD("receipt is not a JSON object");
    static const struct {
        const char *key;
        int kind; /* 0 text, 1 sha256, 2 non-negative integer */
    } head[] = {{"invocation_id", 0}, {"function", 0},      {"version", 2},     {"code_sha256", 1},
                {"input_sha256", 1},  {"output_sha256", 1}, {"measurement", 1}, {"time", 2}};
    /* v2 adds how the invocation was isolated; a receipt without it is a v1 receipt (made
     * before snapshot mode existed), whose bytes differ from the first line on */
    const json_t *isolation = json_object_get(r, "isolation");
    const char *iso = isolation ? str_of(isolation) : NULL;
    if (isolation && (!iso || (strcmp(iso, "process") != 0 && strcmp(iso, "snapshot") != 0)))
        BAD("isolation is not \"process\" or \"snapshot\"");
    fputs(iso ? "fnbox-receipt-v2\n" : "fnbox-receipt-v1\n", m);
    for (size_t i = 0; i < sizeof head / sizeof *head; i++) {
        const json_t *v = json_object_get(r, head[i].key);
        const char *s = NULL;
        int64_t n = 0;
        if (head[i].kind == 2) {
            if (uint_of(v, -1, &n)) goto bad;
            fprintf(m, "%" PRId64 "\n", n);
            continue;
        }
        s = head[i].kind ? sha_of(v) : text_of(v);
        if (!s) goto bad;
        fprintf(m, "%s\n", s);
        continue;
    bad:
        BAD("%s is missing or malformed", head[i].key);
    }
    if (iso) fprintf(m, "%s\n", iso);

    const json_t *fetches = json_object_get(r, "fetches");
    if (!json_is_array(fetches)) BAD("fetches is not an array");
    fprintf(m, "%zu\n", json_array_size(fetches));
    size_t i;
    const json_t *f;
    json_array_foreach(fetches, i, f)
    {
        const char *url = json_is_object(f) ? text_of(json_object_get(f, "url")) : NULL;
        const char *resp = json_is_object(f) ? sha_of(json_object_get(f, "response_sha256")) : NULL;
        const json_t *tls = json_object_get(f, "tls_peer_sha256");
        const char *tls_s = !tls || json_is_null(tls) ? "" : sha_of(tls);
        int64_t status = 0;
        if (!url || !resp || !tls_s || uint_of(json_object_get(f, "status"), 999, &status))
            BAD("fetch %zu is malformed", i);
        fprintf(m, "%s\n%" PRId64 "\n%s\n%s\n", url, status, resp, tls_s);
    }

    const json_t *secrets = json_object_get(r, "secrets");
    if (!json_is_array(secrets)) BAD("secrets is not an array");
    fprintf(m, "%zu\n", json_array_size(secrets));
    json_array_foreach(secrets, i, f)
    {
        const char *name = text_of(f);
        if (!name) BAD("secret %zu is malformed", i);
        fprintf(m, "%s\n", name);
    }
    return 0;
#undef BAD
}

/* 0, -EINVAL (with what), -ENOMEM. */
static int canonical(const json_t *receipt, char **bytes, size_t *len, char what[WHAT_MAX])
{
    *bytes = NULL;
    *len = 0;
    what[0] = 0;
    FILE *m = open_memstream(bytes, len);
    if (!m) return -ENOMEM;
    int refused = write_canonical(m, receipt, what);
    int bad = ferror(m);
    if (fclose(m) != 0) bad = 1;
    if (!bad && !refused) return 0;
    free(*bytes);
    *bytes = NULL;
    *len = 0;
    return refused ? -EINVAL : -ENOMEM;
}

int receipt_bytes(const json_t *receipt, char **bytes, size_t *len)
{
    char what[WHAT_MAX];
    return canonical(receipt, bytes, len, what);
}

int receipt_sign(EVP_PKEY *key, json_t *receipt)
{
    uint8_t spki[EVIDENCE_SPKI_MAX];
    size_t spki_len;
    enum ecsig_scheme scheme;
    if (ecsig_spki(key, spki, &spki_len, &scheme)) return -EINVAL;
    char *bytes;
    size_t len;
    char what[WHAT_MAX];
    int rc = canonical(receipt, &bytes, &len, what);
    if (rc) return rc;
    struct ecsig sig;
    rc = ecsig_sign(key, bytes, len, &sig);
    free(bytes);
    if (rc) return rc;
    char spki_hex[2 * EVIDENCE_SPKI_MAX + 1], rs_hex[2 * EVIDENCE_SIG_RS_LEN + 1],
        der_hex[2 * EVIDENCE_SIG_DER_MAX + 1], address[ECSIG_ADDRESS_LEN + 1];
    evidence_hex(spki, spki_len, spki_hex);
    evidence_hex(sig.rs, sizeof sig.rs, rs_hex);
    evidence_hex(sig.der, sig.der_len, der_hex);
    json_t *add = json_pack("{s:s, s:s, s:s, s:s}", "key_scheme", ecsig_scheme_name(scheme),
                            "public_key", spki_hex, "signature", rs_hex, "signature_der", der_hex);
    if (!add) return -ENOMEM;
    if (scheme == ECSIG_SECP256K1 &&
        (ecsig_k1_address(spki, spki_len, address) ||
         json_object_set_new(add, "address", json_string(address)) != 0 ||
         json_object_set_new(add, "recovery_id", json_integer(sig.recovery_id)) != 0)) {
        json_decref(add);
        return -ENOMEM;
    }
    /* re-signed by a p256 key: no recovery id or address of an earlier signature remains */
    if (scheme == ECSIG_P256) {
        json_object_del(receipt, "recovery_id");
        json_object_del(receipt, "address");
    }
    rc = json_object_update(receipt, add) == 0 ? 0 : -ENOMEM;
    json_decref(add);
    return rc;
}

/* secp256k1: recovery_id (0 or 1) recovers exactly the key pk from (SHA-256(bytes), r, s), and
 * address is that key's. 0, or -EBADMSG with why. */
static int check_k1(const json_t *receipt, const char *bytes, size_t len, const uint8_t *pk,
                    size_t pk_len, const uint8_t rs[EVIDENCE_SIG_RS_LEN], char *why, size_t whylen)
{
    const json_t *id = json_object_get(receipt, "recovery_id");
    uint8_t digest[32], want[ECSIG_POINT_LEN], got[ECSIG_POINT_LEN];
    unsigned int dlen = 0;
    char address[ECSIG_ADDRESS_LEN + 1];
    const char *a = str_of(json_object_get(receipt, "address"));
    if (!json_is_integer(id) || (json_integer_value(id) != 0 && json_integer_value(id) != 1))
        return fail(why, whylen, "recovery_id is not 0 or 1");
    if (EVP_Digest(bytes, len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32 ||
        ecsig_spki_parse(pk, pk_len, NULL, want) || ecsig_k1_address(pk, pk_len, address))
        return -EIO;
    if (ecsig_k1_recover(digest, rs, (int)json_integer_value(id), got) != 0 ||
        CRYPTO_memcmp(got, want, sizeof want) != 0)
        return fail(why, whylen, "recovery_id does not recover public_key");
    if (!a || strcmp(a, address) != 0)
        return fail(why, whylen, "address is not the Ethereum address of public_key");
    return 0;
}

int receipt_verify(const json_t *receipt, const char *expected_public_key_hex, char *why,
                   size_t whylen)
{
    evidence_note(why, whylen, "%s", "");
    uint8_t want_pk[EVIDENCE_SPKI_MAX];
    size_t want_pk_len = 0;
    if (expected_public_key_hex &&
        (evidence_unhex(expected_public_key_hex, 1, want_pk, sizeof want_pk, &want_pk_len) ||
         !want_pk_len)) {
        evidence_note(why, whylen, "expected public key is not hex");
        return -EINVAL;
    }

    char *bytes = NULL;
    size_t len = 0;
    char what[WHAT_MAX];
    int rc = canonical(receipt, &bytes, &len, what);
    if (rc == -EINVAL) return fail(why, whylen, "%s", what);
    if (rc) return rc;

    const char *scheme_name = str_of(json_object_get(receipt, "key_scheme"));
    const char *pk_hex = str_of(json_object_get(receipt, "public_key"));
    const char *rs_hex = str_of(json_object_get(receipt, "signature"));
    const char *der_hex = str_of(json_object_get(receipt, "signature_der"));
    uint8_t pk[EVIDENCE_SPKI_MAX], rs[EVIDENCE_SIG_RS_LEN], der[EVIDENCE_SIG_DER_MAX];
    uint8_t low_rs[EVIDENCE_SIG_RS_LEN], low_der[EVIDENCE_SIG_DER_MAX];
    size_t pk_len, rs_len, der_len, low_der_len;
    int was_high = 0;
    enum ecsig_scheme scheme = ECSIG_P256, key_is = ECSIG_P256;
    if (ecsig_scheme_parse(scheme_name, &scheme))
        rc = fail(why, whylen, "key_scheme is not \"p256\" or \"secp256k1\"");
    else if (!pk_hex || evidence_unhex(pk_hex, 0, pk, sizeof pk, &pk_len) || !pk_len)
        rc = fail(why, whylen, "public_key is not lowercase hex");
    else if (expected_public_key_hex && (pk_len != want_pk_len || memcmp(pk, want_pk, pk_len) != 0))
        rc = fail(why, whylen, "public_key is not the expected key");
    else if (ecsig_spki_parse(pk, pk_len, &key_is, NULL))
        rc = fail(why, whylen, "public_key is not one P-256 or secp256k1 public key");
    else if (key_is != scheme)
        rc = fail(why, whylen, "key_scheme is not the scheme of public_key");
    else if (!rs_hex || evidence_unhex(rs_hex, 0, rs, sizeof rs, &rs_len) || rs_len != sizeof rs)
        rc = fail(why, whylen, "signature is not 128 lowercase hex digits");
    else if (!der_hex || evidence_unhex(der_hex, 0, der, sizeof der, &der_len) ||
             ecsig_low_s(scheme, der, der_len, low_rs, low_der, &low_der_len, &was_high))
        rc = fail(why, whylen, "signature_der is not a lowercase hex DER ECDSA signature");
    else if (was_high)
        rc = fail(why, whylen, "signature is not low-s");
    else if (memcmp(low_rs, rs, sizeof rs) != 0)
        rc = fail(why, whylen, "signature and signature_der differ");
    else {
        rc = ecsig_verify(pk, pk_len, bytes, len, der, der_len);
        if (rc == -EINVAL)
            rc = fail(why, whylen, "public_key is not one P-256 or secp256k1 public key");
        else if (rc == -EBADMSG)
            rc = fail(why, whylen, "signature does not verify");
        else if (!rc && scheme == ECSIG_SECP256K1)
            rc = check_k1(receipt, bytes, len, pk, pk_len, rs, why, whylen);
        if (!rc) evidence_note(why, whylen, "ok");
    }
    free(bytes);
    return rc;
}
