#include "attestation/evidence.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include "attestation/ecsig.h"
#include "attestation/quote.h"

/* ---- hex ---- */

void evidence_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int nibble(char c, int any_case)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (any_case && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int evidence_unhex(const char *hex, int any_case, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!hex) return -EINVAL;
    size_t len = strlen(hex);
    if (len % 2 || len / 2 > cap) return -EINVAL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = nibble(hex[2 * i], any_case), lo = nibble(hex[2 * i + 1], any_case);
        if (hi < 0 || lo < 0) return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return 0;
}

/* ---- P-256 primitives ---- */

static int is_p256(const EVP_PKEY *pkey)
{
    char group[32];
    size_t n = 0;
    return pkey && EVP_PKEY_is_a(pkey, "EC") &&
           EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                          &n) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

int evidence_p256_spki(EVP_PKEY *key, uint8_t spki[EVIDENCE_SPKI_MAX], size_t *len)
{
    *len = 0;
    if (!is_p256(key)) return -EINVAL;
    int n = i2d_PUBKEY(key, NULL);
    if (n <= 0 || n > EVIDENCE_SPKI_MAX) return -EIO;
    uint8_t *p = spki;
    if (i2d_PUBKEY(key, &p) != n) return -EIO;
    *len = (size_t)n;
    return 0;
}

int evidence_sig_low_s(const uint8_t *der, size_t der_len, uint8_t rs[EVIDENCE_SIG_RS_LEN],
                       uint8_t der_out[EVIDENCE_SIG_DER_MAX], size_t *der_out_len, int *was_high)
{
    return ecsig_low_s(ECSIG_P256, der, der_len, rs, der_out, der_out_len, was_high);
}

int evidence_p256_verify(const uint8_t *spki, size_t spki_len, const void *msg, size_t len,
                         const uint8_t *der, size_t der_len)
{
    enum ecsig_scheme scheme;
    if (!spki || !spki_len || spki_len > EVIDENCE_SPKI_MAX || (!msg && len)) return -EINVAL;
    if (ecsig_spki_parse(spki, spki_len, &scheme, NULL) || scheme != ECSIG_P256) return -EINVAL;
    return ecsig_verify(spki, spki_len, msg, len, der, der_len);
}

/* ---- confinement ---- */

/* The one list of confinement tokens, in bit order of enum evidence_confinement, which is
 * also strcmp order (checked by the unit tests): the verifier of any other language copies
 * this list (samples/verify/verify.mjs, docs/attestation.md). */
static const char *const EVIDENCE_CONFINEMENT_TOKENS[EVIDENCE_CONF_COUNT] = {
    "bounding-set-dropped", "fs-hidden", "ipc-ns",     "net-ns",  "no-new-privs",
    "pid-ns",               "seccomp",   "uid-switch", "user-ns", "uts-ns",
    "zygote-seccomp"};

const char *evidence_confinement_token(unsigned i)
{
    return i < EVIDENCE_CONF_COUNT ? EVIDENCE_CONFINEMENT_TOKENS[i] : NULL;
}

int evidence_confinement_string(unsigned mask, char *out, size_t cap)
{
    if (!out || !cap) return -EINVAL;
    out[0] = 0;
    if (mask >> EVIDENCE_CONF_COUNT) return -EINVAL;
    size_t len = 0;
    for (unsigned i = 0; i < EVIDENCE_CONF_COUNT; i++) {
        if (!(mask & (1u << i))) continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? "," : "",
                         EVIDENCE_CONFINEMENT_TOKENS[i]);
        if (n < 0 || (size_t)n >= cap - len) {
            out[0] = 0;
            return -ENOSPC;
        }
        len += (size_t)n;
    }
    /* an empty set is spelled, so that the line is never empty (as every other text line) and
     * a stock-tool rebuild cannot mistake a missing member for it */
    if (!mask && snprintf(out, cap, "none") >= (int)cap) {
        out[0] = 0;
        return -ENOSPC;
    }
    return 0;
}

int evidence_confinement_parse(const char *s, unsigned *mask, char *why, size_t whylen)
{
    *mask = 0;
    if (!s) {
        evidence_note(why, whylen, "confinement is missing or not a string");
        return -EINVAL;
    }
    if (strcmp(s, "none") == 0) return 0;
    int last = -1; /* the index of the previous token: each must come after it */
    for (const char *p = s;;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (unsigned i = 0; i < EVIDENCE_CONF_COUNT; i++)
            if (strlen(EVIDENCE_CONFINEMENT_TOKENS[i]) == n &&
                memcmp(p, EVIDENCE_CONFINEMENT_TOKENS[i], n) == 0)
                found = (int)i;
        if (found < 0) {
            evidence_note(why, whylen, "confinement holds an unknown token \"%.*s\"",
                          (int)(n > 32 ? 32 : n), p);
            *mask = 0;
            return -EINVAL;
        }
        if (found <= last) {
            evidence_note(why, whylen, "confinement tokens are not sorted, or one is repeated");
            *mask = 0;
            return -EINVAL;
        }
        last = found;
        *mask |= 1u << found;
        if (!p[n]) return 0;
        p += n + 1; /* past the comma: a trailing one leaves an empty, unknown token */
    }
}

/* ---- report_data ---- */

int evidence_report_data(const uint8_t *nonce, size_t nonce_len, const uint8_t *spki,
                         size_t spki_len, const uint8_t measurement[EVIDENCE_MEASUREMENT_LEN],
                         uint8_t out[EVIDENCE_REPORT_DATA_LEN])
{
    if ((!nonce && nonce_len) || (!spki && spki_len) || !measurement || !out) return -EINVAL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha512(), NULL) == 1 &&
             EVP_DigestUpdate(md, nonce, nonce_len) == 1 &&
             EVP_DigestUpdate(md, spki, spki_len) == 1 &&
             EVP_DigestUpdate(md, measurement, EVIDENCE_MEASUREMENT_LEN) == 1 &&
             EVP_DigestFinal_ex(md, out, &n) == 1 && n == EVIDENCE_REPORT_DATA_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -EIO;
}

/* ---- report fields ---- */

/* The member's string when it is a string without NUL, else NULL. */
static const char *str_member(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

/* A line of canonical text: non-empty, no '\n'. */
static const char *text_member(const json_t *o, const char *key)
{
    const char *s = str_member(o, key);
    return s && *s && !strchr(s, '\n') ? s : NULL;
}

/* Lowercase hex of whole bytes, decoding to min..max bytes. */
static const char *hex_member(const json_t *o, const char *key, size_t min, size_t max)
{
    const char *s = str_member(o, key);
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n % 2 || n / 2 < min || n / 2 > max) return NULL;
    for (size_t i = 0; i < n; i++)
        if (nibble(s[i], 0) < 0) return NULL;
    return s;
}

struct report_fields {
    const char *provider, *platform, *tee_id, *measurement, *public_key, *nonce, *report_data;
    const char *quote; /* NULL when the report carries none (software) */
    const char *confinement;
    json_int_t time;
};

/* Which member is missing or malformed (NULL: none). */
static const char *report_fields(const json_t *r, struct report_fields *f)
{
    memset(f, 0, sizeof *f);
    if (!json_is_object(r)) return "report is not a JSON object";
    if (!(f->provider = text_member(r, "provider"))) return "provider missing or malformed";
    if (!(f->platform = text_member(r, "platform"))) return "platform missing or malformed";
    if (!(f->tee_id = text_member(r, "tee_id"))) return "tee_id missing or malformed";
    if (!(f->measurement = hex_member(r, "measurement", 32, 32)))
        return "measurement is not 64 lowercase hex digits";
    if (!(f->public_key = hex_member(r, "public_key", 1, EVIDENCE_SPKI_MAX)))
        return "public_key is not lowercase hex";
    if (!(f->nonce = hex_member(r, "nonce", EVIDENCE_NONCE_MIN, EVIDENCE_NONCE_MAX)))
        return "nonce is not lowercase hex of 16 to 64 bytes";
    if (!(f->report_data = hex_member(r, "report_data", 64, 64)))
        return "report_data is not 128 lowercase hex digits";
    const json_t *t = json_object_get(r, "time");
    if (!json_is_integer(t) || json_integer_value(t) < 0)
        return "time is not a non-negative integer";
    f->time = json_integer_value(t);
    /* str_member refuses an embedded NUL; the parser refuses '\n' and everything else */
    unsigned mask;
    f->confinement = str_member(r, "confinement");
    if (evidence_confinement_parse(f->confinement, &mask, NULL, 0))
        return "confinement is missing, or not a sorted list of known tokens without repeats";
    if (json_object_get(r, "quote") &&
        !(f->quote = hex_member(r, "quote", 1, QUOTE_MAX)))
        return "quote is not lowercase hex of at most 64 KiB";
    return NULL;
}

/* The raw quote of a report (malloc'd, *len bytes). */
static int quote_bytes(const struct report_fields *f, uint8_t **q, size_t *len)
{
    *q = NULL;
    *len = 0;
    size_t cap = strlen(f->quote) / 2;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return -ENOMEM;
    if (evidence_unhex(f->quote, 0, buf, cap, len)) {
        free(buf);
        return -EINVAL;
    }
    *q = buf;
    return 0;
}

static int report_bytes_of(const struct report_fields *f, char **bytes, size_t *len)
{
    /* v3 = the eight lines of v1 plus the confinement line. v4 = v3 with SHA-256 of the raw
     * quote before the confinement line (v2's lines, then confinement): the instance key signs
     * the very quote it presents, so the parsed fields shown next to it cannot be swapped for
     * another quote's even by a verifier that never checks the quote's own (vendor)
     * signature. The confinement is last so that each format is its predecessor plus a line. */
    char qsha[2 * 32 + 1] = "";
    if (f->quote) {
        uint8_t *q, md[32];
        size_t qlen;
        unsigned int n = 0;
        int rc = quote_bytes(f, &q, &qlen);
        if (rc) return rc;
        int ok = EVP_Digest(q, qlen, md, &n, EVP_sha256(), NULL) == 1 && n == 32;
        free(q);
        if (!ok) return -EIO;
        evidence_hex(md, 32, qsha);
    }
    *bytes = NULL;
    FILE *m = open_memstream(bytes, len);
    if (!m) return -ENOMEM;
    fprintf(m, "fnbox-attestation-v%d\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%" PRId64 "\n",
            f->quote ? 4 : 3, f->provider, f->platform, f->tee_id, f->measurement, f->public_key,
            f->nonce, f->report_data, (int64_t)f->time);
    if (f->quote) fprintf(m, "%s\n", qsha);
    fprintf(m, "%s\n", f->confinement);
    int bad = ferror(m);
    if (fclose(m) != 0 || bad) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
        return -ENOMEM;
    }
    return 0;
}

int evidence_report_bytes(const json_t *report, char **bytes, size_t *len)
{
    *bytes = NULL;
    *len = 0;
    struct report_fields f;
    if (report_fields(report, &f)) return -EINVAL;
    return report_bytes_of(&f, bytes, len);
}

/* report_data (binary) from the hex members of a report. */
static int report_data_of(const struct report_fields *f, uint8_t out[EVIDENCE_REPORT_DATA_LEN])
{
    uint8_t nonce[EVIDENCE_NONCE_MAX], spki[EVIDENCE_SPKI_MAX], m[EVIDENCE_MEASUREMENT_LEN];
    size_t nn, sn, mn;
    if (evidence_unhex(f->nonce, 0, nonce, sizeof nonce, &nn) ||
        evidence_unhex(f->public_key, 0, spki, sizeof spki, &sn) ||
        evidence_unhex(f->measurement, 0, m, sizeof m, &mn) || mn != sizeof m)
        return -EINVAL;
    return evidence_report_data(nonce, nn, spki, sn, m, out);
}

static int set_str(json_t *o, const char *key, const char *value)
{
    json_t *v = json_string(value);
    return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

int evidence_report_sign(EVP_PKEY *key, json_t *report)
{
    uint8_t spki[EVIDENCE_SPKI_MAX];
    size_t spki_len;
    enum ecsig_scheme scheme;
    if (!json_is_object(report) || ecsig_spki(key, spki, &spki_len, &scheme)) return -EINVAL;
    char spki_hex[2 * EVIDENCE_SPKI_MAX + 1];
    evidence_hex(spki, spki_len, spki_hex);
    const json_t *had_pk = json_object_get(report, "public_key");
    const json_t *had_rd = json_object_get(report, "report_data");
    if (had_pk && !(json_is_string(had_pk) && strcmp(json_string_value(had_pk), spki_hex) == 0))
        return -EINVAL;

    /* Work on a copy so that a refusal leaves the caller's report as it was. */
    json_t *r = json_copy(report);
    if (!r) return -ENOMEM;
    static const char no_rd[2 * EVIDENCE_REPORT_DATA_LEN + 1] =
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000";
    struct report_fields f;
    uint8_t rd[EVIDENCE_REPORT_DATA_LEN];
    struct ecsig sig;
    char rd_hex[2 * EVIDENCE_REPORT_DATA_LEN + 1], der_hex[2 * EVIDENCE_SIG_DER_MAX + 1];
    char address[ECSIG_ADDRESS_LEN + 1];
    char *bytes = NULL;
    size_t len = 0;
    int rc = set_str(r, "public_key", spki_hex);
    if (!rc && !had_rd) rc = set_str(r, "report_data", no_rd); /* computed just below */
    if (!rc && report_fields(r, &f)) rc = -EINVAL;
    if (!rc) rc = report_data_of(&f, rd);
    if (!rc) {
        evidence_hex(rd, sizeof rd, rd_hex);
        if (had_rd && strcmp(json_string_value(had_rd), rd_hex) != 0) rc = -EINVAL;
    }
    if (!rc) rc = set_str(r, "report_data", rd_hex);
    if (!rc && report_fields(r, &f)) rc = -EIO;
    if (!rc) rc = report_bytes_of(&f, &bytes, &len);
    if (!rc) rc = ecsig_sign(key, bytes, len, &sig);
    if (!rc) {
        evidence_hex(sig.der, sig.der_len, der_hex);
        rc = set_str(r, "signature", der_hex);
    }
    if (!rc) rc = set_str(r, "key_scheme", ecsig_scheme_name(scheme));
    /* secp256k1: the key's Ethereum address, what a contract is configured with; derived
     * from public_key, so it is bound by report_data without being in the signed bytes */
    if (!rc && scheme == ECSIG_SECP256K1) {
        rc = ecsig_k1_address(spki, spki_len, address) ? -EIO : set_str(r, "address", address);
    } else if (!rc) {
        json_object_del(r, "address"); /* no stale address of another key */
    }
    if (!rc && json_object_update(report, r) != 0) rc = -ENOMEM;
    free(bytes);
    json_decref(r);
    return rc;
}

/* A copy of r holding the members named in order (those r has), in that order. */
static json_t *ordered(const json_t *r, const char *const *order, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        json_t *v = json_object_get(r, order[i]);
        if (v && json_object_set(o, order[i], v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* the documented member order */
static const char *const REPORT_ORDER[] = {
    "provider", "platform", "hardware_backed", "tee_id", "measurement", "public_key",
    "key_scheme", "address", "nonce", "report_data", "time", "confinement", "quote", "tdx",
    "sev_snp", "signature"};
#define REPORT_ORDER_N (sizeof REPORT_ORDER / sizeof *REPORT_ORDER)

int evidence_software_report(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_len,
                             const uint8_t measurement[EVIDENCE_MEASUREMENT_LEN],
                             const char *confinement, int64_t time, json_t **out)
{
    *out = NULL;
    unsigned mask;
    if (!nonce || nonce_len < EVIDENCE_NONCE_MIN || nonce_len > EVIDENCE_NONCE_MAX ||
        !measurement || time < 0 || evidence_confinement_parse(confinement, &mask, NULL, 0))
        return -EINVAL;
    char nonce_hex[2 * EVIDENCE_NONCE_MAX + 1], m_hex[2 * EVIDENCE_MEASUREMENT_LEN + 1];
    evidence_hex(nonce, nonce_len, nonce_hex);
    evidence_hex(measurement, EVIDENCE_MEASUREMENT_LEN, m_hex);
    json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:I, s:s}", "provider", "software",
                          "platform", "none", "hardware_backed", 0, "tee_id", "software",
                          "measurement", m_hex, "nonce", nonce_hex, "time", (json_int_t)time,
                          "confinement", confinement);
    if (!r) return -ENOMEM;
    int rc = evidence_report_sign(key, r);
    json_t *o = rc ? NULL : ordered(r, REPORT_ORDER, REPORT_ORDER_N);
    json_decref(r);
    if (rc) return rc;
    if (!o) return -ENOMEM;
    *out = o;
    return 0;
}

static json_t *quote_fields(const struct quote_info *q)
{
    char h[5][2 * QUOTE_MR_LEN + 1];
    if (q->platform == QUOTE_TDX) {
        evidence_hex(q->mrtd, QUOTE_MR_LEN, h[0]);
        for (int i = 0; i < 4; i++) evidence_hex(q->rtmr[i], QUOTE_MR_LEN, h[i + 1]);
        return json_pack("{s:I, s:b, s:s, s:s, s:s, s:s, s:s}", "version", (json_int_t)q->version,
                         "debug", q->debug, "mrtd", h[0], "rtmr0", h[1], "rtmr1", h[2], "rtmr2",
                         h[3], "rtmr3", h[4]);
    }
    if (q->platform == QUOTE_SEV_SNP) {
        evidence_hex(q->measurement, QUOTE_MR_LEN, h[0]);
        return json_pack("{s:I, s:b, s:s}", "version", (json_int_t)q->version, "debug", q->debug,
                         "measurement", h[0]);
    }
    return NULL;
}

int evidence_tsm_report(EVP_PKEY *key, enum quote_platform platform, const uint8_t *quote,
                        size_t quote_len, const uint8_t *nonce, size_t nonce_len,
                        const uint8_t measurement[EVIDENCE_MEASUREMENT_LEN],
                        const char *confinement, int64_t time, json_t **out, char *why,
                        size_t whylen)
{
    *out = NULL;
    evidence_note(why, whylen, "%s", "");
    uint8_t spki[EVIDENCE_SPKI_MAX], rd[EVIDENCE_REPORT_DATA_LEN];
    size_t spki_len;
    unsigned mask;
    if (!quote || !quote_len || !nonce || nonce_len < EVIDENCE_NONCE_MIN ||
        nonce_len > EVIDENCE_NONCE_MAX || !measurement || time < 0 ||
        evidence_confinement_parse(confinement, &mask, NULL, 0) ||
        ecsig_spki(key, spki, &spki_len, NULL))
        return -EINVAL;
    struct quote_info qi;
    int rc = quote_parse(platform, quote, quote_len, &qi, why, whylen);
    if (rc) return rc;
    if ((rc = evidence_report_data(nonce, nonce_len, spki, spki_len, measurement, rd))) return rc;
    /* Never sign a quote that vouches for other data: the hardware must have seen exactly
     * SHA-512(nonce ‖ key ‖ measurement). */
    if (CRYPTO_memcmp(qi.report_data, rd, sizeof rd) != 0) {
        evidence_note(why, whylen, "the quote's report_data is not this report's");
        return -EBADMSG;
    }
    char nonce_hex[2 * EVIDENCE_NONCE_MAX + 1], m_hex[2 * EVIDENCE_MEASUREMENT_LEN + 1];
    char *q_hex = malloc(2 * quote_len + 1);
    if (!q_hex) return -ENOMEM;
    evidence_hex(nonce, nonce_len, nonce_hex);
    evidence_hex(measurement, EVIDENCE_MEASUREMENT_LEN, m_hex);
    evidence_hex(quote, quote_len, q_hex);
    const char *name = quote_platform_name(platform);
    json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "provider",
                          "tsm", "platform", name, "hardware_backed", 1, "tee_id", name,
                          "measurement", m_hex, "nonce", nonce_hex, "time", (json_int_t)time,
                          "confinement", confinement, "quote", q_hex,
                          platform == QUOTE_TDX ? "tdx" : "sev_snp", quote_fields(&qi));
    free(q_hex);
    if (!r) return -ENOMEM;
    rc = evidence_report_sign(key, r);
    json_t *o = rc ? NULL : ordered(r, REPORT_ORDER, REPORT_ORDER_N);
    json_decref(r);
    if (rc) return rc;
    if (!o) return -ENOMEM;
    *out = o;
    return 0;
}

/* ---- verification ---- */

void evidence_note(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

#define fail(why, whylen, ...) (evidence_note(why, whylen, __VA_ARGS__), -EBADMSG)

/* A tsm report's quote: well-formed for its platform, not debuggable, its report data the
 * report's, and the parsed fields shown beside it exactly the quote's. */
static int check_quote(const json_t *report, const struct report_fields *f,
                       const uint8_t rd[EVIDENCE_REPORT_DATA_LEN], char *why, size_t whylen)
{
    enum quote_platform p = quote_platform_from_name(f->platform);
    uint8_t *q;
    size_t qlen;
    int rc = quote_bytes(f, &q, &qlen);
    if (rc == -EINVAL) return fail(why, whylen, "quote is not hex");
    if (rc) return rc;
    struct quote_info qi;
    char qwhy[EVIDENCE_WHY_MAX];
    rc = quote_parse(p, q, qlen, &qi, qwhy, sizeof qwhy);
    free(q);
    if (rc == -EBADMSG) return fail(why, whylen, "quote refused: %s", qwhy);
    if (rc) return rc;
    if (CRYPTO_memcmp(qi.report_data, rd, EVIDENCE_REPORT_DATA_LEN) != 0)
        return fail(why, whylen,
                    "the quote's report data is not SHA-512(nonce || public_key || measurement): "
                    "the quote was made for another key, nonce or measurement");
    const char *member = p == QUOTE_TDX ? "tdx" : "sev_snp";
    json_t *want = quote_fields(&qi);
    if (!want) return -ENOMEM;
    int same = json_equal(want, json_object_get(report, member));
    json_decref(want);
    if (!same)
        return fail(why, whylen, "\"%s\" is missing or is not what the quote says", member);
    if (qi.debug)
        return fail(why, whylen, "the %s TEE is debuggable: its host can read its memory",
                    f->platform);
    return 0;
}

int evidence_report_verify(const json_t *report, const char *nonce_hex,
                           const char *expect_measurement_hex, char *why, size_t whylen)
{
    evidence_note(why, whylen, "%s", "");
    uint8_t want_nonce[EVIDENCE_NONCE_MAX], want_m[EVIDENCE_MEASUREMENT_LEN];
    size_t want_nonce_len = 0, n = 0;
    if (evidence_unhex(nonce_hex, 1, want_nonce, sizeof want_nonce, &want_nonce_len) ||
        want_nonce_len == 0) {
        evidence_note(why, whylen, "expected nonce is not hex");
        return -EINVAL;
    }
    if (expect_measurement_hex &&
        (evidence_unhex(expect_measurement_hex, 1, want_m, sizeof want_m, &n) ||
         n != sizeof want_m)) {
        evidence_note(why, whylen, "expected measurement is not 64 hex digits");
        return -EINVAL;
    }

    struct report_fields f;
    const char *bad = report_fields(report, &f);
    unsigned conf_mask;
    if (bad && strncmp(bad, "confinement", 11) == 0 &&
        evidence_confinement_parse(str_member(report, "confinement"), &conf_mask, why, whylen))
        return -EBADMSG; /* the parser's reason names the token at fault */
    if (bad) return fail(why, whylen, "%s", bad);
    int tsm = strcmp(f.provider, "tsm") == 0;
    if (!tsm && strcmp(f.provider, "software") != 0)
        return fail(why, whylen, "provider \"%.32s\" is not supported by this verifier",
                    f.provider);
    if (!tsm) {
        if (strcmp(f.platform, "none") != 0)
            return fail(why, whylen, "a software report must say platform \"none\"");
        if (!json_is_false(json_object_get(report, "hardware_backed")))
            return fail(why, whylen, "a software report must say hardware_backed false");
        if (strcmp(f.tee_id, "software") != 0)
            return fail(why, whylen, "a software report must say tee_id \"software\"");
        if (json_object_get(report, "quote") || json_object_get(report, "tdx") ||
            json_object_get(report, "sev_snp"))
            return fail(why, whylen, "a software report carries no quote");
    } else {
        enum quote_platform p = quote_platform_from_name(f.platform);
        if (p == QUOTE_NONE)
            return fail(why, whylen, "a tsm report's platform must be \"tdx\" or \"sev-snp\"");
        if (!json_is_true(json_object_get(report, "hardware_backed")))
            return fail(why, whylen, "a tsm report must say hardware_backed true");
        if (strcmp(f.tee_id, f.platform) != 0)
            return fail(why, whylen, "a tsm report's tee_id must be its platform");
        if (!f.quote) return fail(why, whylen, "a tsm report must carry its quote");
    }
    const char *scheme_name = str_member(report, "key_scheme");
    enum ecsig_scheme scheme;
    if (ecsig_scheme_parse(scheme_name, &scheme))
        return fail(why, whylen, "key_scheme is not \"p256\" or \"secp256k1\"");

    uint8_t got_nonce[EVIDENCE_NONCE_MAX], m[EVIDENCE_MEASUREMENT_LEN], spki[EVIDENCE_SPKI_MAX];
    size_t got_nonce_len, spki_len;
    if (evidence_unhex(f.nonce, 0, got_nonce, sizeof got_nonce, &got_nonce_len) ||
        evidence_unhex(f.measurement, 0, m, sizeof m, &n) ||
        evidence_unhex(f.public_key, 0, spki, sizeof spki, &spki_len))
        return fail(why, whylen, "malformed hex");
    if (got_nonce_len != want_nonce_len ||
        CRYPTO_memcmp(got_nonce, want_nonce, want_nonce_len) != 0)
        return fail(why, whylen, "nonce is not the expected one (replayed or altered)");
    if (expect_measurement_hex && CRYPTO_memcmp(m, want_m, sizeof m) != 0)
        return fail(why, whylen, "measurement is not the expected one");
    enum ecsig_scheme key_is;
    if (ecsig_spki_parse(spki, spki_len, &key_is, NULL))
        return fail(why, whylen, "public_key is not one P-256 or secp256k1 public key");
    if (key_is != scheme)
        return fail(why, whylen, "key_scheme \"%s\" is not the scheme of public_key (%s)",
                    ecsig_scheme_name(scheme), ecsig_scheme_name(key_is));
    /* the address is not signed: it must be exactly the one public_key gives */
    const json_t *addr = json_object_get(report, "address");
    char want_addr[ECSIG_ADDRESS_LEN + 1];
    if (scheme == ECSIG_SECP256K1) {
        const char *a = str_member(report, "address");
        if (ecsig_k1_address(spki, spki_len, want_addr))
            return fail(why, whylen, "cannot compute the address of public_key");
        if (!a || strcmp(a, want_addr) != 0)
            return fail(why, whylen, "address is not the Ethereum address of public_key");
    } else if (addr) {
        return fail(why, whylen, "a p256 report has no address");
    }

    uint8_t rd[EVIDENCE_REPORT_DATA_LEN];
    char rd_hex[2 * EVIDENCE_REPORT_DATA_LEN + 1];
    if (report_data_of(&f, rd)) return fail(why, whylen, "cannot compute report_data");
    evidence_hex(rd, sizeof rd, rd_hex);
    if (strcmp(rd_hex, f.report_data) != 0)
        return fail(why, whylen, "report_data is not SHA-512(nonce || public_key || measurement)");
    if (tsm) {
        int qrc = check_quote(report, &f, rd, why, whylen);
        if (qrc) return qrc;
    }

    const char *sig_hex = hex_member(report, "signature", 1, EVIDENCE_SIG_DER_MAX);
    uint8_t sig[EVIDENCE_SIG_DER_MAX];
    size_t sig_len;
    if (!sig_hex || evidence_unhex(sig_hex, 0, sig, sizeof sig, &sig_len))
        return fail(why, whylen, "signature is not lowercase hex DER");

    char *bytes = NULL;
    size_t len = 0;
    int rc = report_bytes_of(&f, &bytes, &len);
    if (rc) return rc;
    rc = ecsig_verify(spki, spki_len, bytes, len, sig, sig_len);
    free(bytes);
    if (rc == -EINVAL) return fail(why, whylen, "public_key is not one P-256 or secp256k1 key");
    if (rc == -EBADMSG) return fail(why, whylen, "signature does not verify");
    if (rc) return rc;
    evidence_note(why, whylen, "ok");
    return 0;
}
