/* fnbox verify: checks a saved attestation report, and a saved signed invoke response
 * against it, locally (no request is made). The formats and their signatures are checked by
 * the code that defines them (attestation/evidence.c, attestation/receipt.c); this file adds
 * the checks that need the files as a whole (the raw "result" text, the receipt against the
 * report) and prints one line per check. Formats: docs/attestation.md. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "attestation/evidence.h"
#include "attestation/receipt.h"
#include "cli/checkpoint.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "cli/util.h"

#define SAVED_FILE_MAX ((size_t)64 << 20) /* an invoke response holds a result of <= 64 MiB */

static int vusage(const struct fnbox_args *a, const char *what)
{
    fnbox_errf("%s: %s (see 'fnbox help %s')", a->cmd, what, a->cmd);
    return FNBOX_EXIT_USAGE;
}

static const char *opt1(const struct fnbox_args *a, enum fnbox_opt o)
{
    return a->opt[o].n > 0 ? a->opt[o].v[a->opt[o].n - 1] : NULL;
}


static void note(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-7s%s: ", "note", what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

/* A printable copy of a string member (or "?"), for messages. */
static const char *shown(const json_t *o, const char *key, char *buf, size_t len)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? fnbox_sanitize(buf, len, v, strlen(v)) : "?";
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32) memset(md, 0, 32);
    fnbox_hex(out, md, 32);
}

struct saved {
    char *raw; /* the file's bytes, NUL-terminated */
    size_t len;
    json_t *j; /* parsed: an object */
};

static void saved_free(struct saved *s)
{
    free(s->raw);
    json_decref(s->j);
}

/* Reads FILE and parses it as one JSON object (duplicate keys refused: a verifier must not
 * pick one of two values); 0, or the exit status after reporting. */
static int load_saved(const char *file, const char *what, struct saved *s)
{
    char name[128];
    fnbox_sanitize(name, sizeof name, file, strlen(file));
    s->raw = NULL;
    s->j = NULL;
    if (fnbox_read_file(file, SAVED_FILE_MAX, &s->raw, &s->len) != 0) {
        fnbox_errf("%s: %s", name, errno == EFBIG ? "file too large" : strerror(errno));
        return FNBOX_EXIT_USAGE;
    }
    json_error_t je;
    s->j = json_loadb(s->raw, s->len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(s->j)) {
        char text[JSON_ERROR_TEXT_LENGTH];
        fnbox_errf("%s: not %s: %s (line %d)", name, what,
                   fnbox_sanitize(text, sizeof text, je.text, strlen(je.text)), je.line);
        saved_free(s);
        return FNBOX_EXIT_ERROR;
    }
    return 0;
}

static int g_hardware; /* a hardware report passed: its verdict line says what was not checked */

/* What a tsm report's quote shows, and what fnbox does not check about it. */
static void show_quote(const json_t *rep, bool verified)
{
    char b1[160], b2[160];
    const char *platform = json_string_value(json_object_get(rep, "platform"));
    bool tdx = platform != NULL && strcmp(platform, "tdx") == 0;
    const json_t *fields = json_object_get(rep, tdx ? "tdx" : "sev_snp");
    note("provider", "%s, platform %s: hardware quote, its report data is the report_data above%s",
         shown(rep, "provider", b1, sizeof b1), shown(rep, "platform", b2, sizeof b2),
         verified ? "" : " (see FAILED above)");
    static const char *const tdx_regs[] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    static const char *const snp_regs[] = {"measurement"};
    const char *const *regs = tdx ? tdx_regs : snp_regs;
    size_t n = tdx ? 5 : 1;
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "%s %s", tdx ? "TDX" : "SEV-SNP", regs[i]);
        note(what, "%s", shown(fields, regs[i], b1, sizeof b1));
    }
    note("quote signature",
         "NOT checked by fnbox (no Intel PCS / AMD KDS certificates here): check the quote with "
         "%s, and pin the %s values above",
         tdx ? "Intel's DCAP quote verification library (QVL)" : "`snpguest verify`",
         tdx ? "MRTD/RTMR" : "MEASUREMENT");
    if (verified) g_hardware = tdx ? 1 : 2;
}

/* --expect-confinement TOKENS: comma-separated known tokens, any order (a person types
 * them), into a mask of enum evidence_confinement; -1 when a token is unknown or empty. */
static long confinement_wanted(const char *tokens)
{
    unsigned long mask = 0;
    for (const char *p = tokens;;) {
        size_t n = strcspn(p, ",");
        unsigned i = 0;
        const char *t;
        while ((t = evidence_confinement_token(i)) != NULL &&
               !(strlen(t) == n && memcmp(p, t, n) == 0))
            i++;
        if (t == NULL) return -1;
        mask |= 1ul << i;
        if (p[n] == '\0') return (long)mask;
        p += n + 1;
    }
}

/* The confinement the report signs, and whether it holds every wanted token (want < 0: none
 * asked for). Only shown once the report verified: before that it is nobody's claim. */
static int check_confinement(const json_t *rep, bool verified, long want)
{
    char b1[EVIDENCE_CONFINEMENT_MAX], missing[EVIDENCE_CONFINEMENT_MAX];
    unsigned have = 0;
    const char *conf = json_string_value(json_object_get(rep, "confinement"));
    if (!verified || conf == NULL || evidence_confinement_parse(conf, &have, NULL, 0) != 0) {
        if (want >= 0)
            return fnbox_check(false, "confinement", "%s",
                               "not checked: the report did not verify (see above)");
        return 0;
    }
    if (want < 0) {
        note("confinement", "%s (signed; pass --expect-confinement to require tokens)",
             shown(rep, "confinement", b1, sizeof b1));
        return 0;
    }
    unsigned absent = (unsigned)want & ~have;
    if (evidence_confinement_string(absent, missing, sizeof missing) != 0)
        snprintf(missing, sizeof missing, "?");
    return fnbox_check(absent == 0, "confinement",
                       absent == 0 ? "%s, with every token expected" : "%s, lacks %s",
                       shown(rep, "confinement", b1, sizeof b1), missing);
}

/* The checks of a report. nonce: the caller's nonce, or NULL (then the report's own is used
 * and freshness is not shown). want_conf: the --expect-confinement mask, or -1. Returns the
 * number of failed checks. */
static int check_report(const json_t *rep, const char *nonce, const char *expect, long want_conf)
{
    int failed = 0;
    char b1[160], b2[160], why[EVIDENCE_WHY_MAX];
    const char *r_nonce = json_string_value(json_object_get(rep, "nonce"));
    const char *r_meas = json_string_value(json_object_get(rep, "measurement"));
    const char *r_pub = json_string_value(json_object_get(rep, "public_key"));
    const char *r_rd = json_string_value(json_object_get(rep, "report_data"));

    /* freshness: the report answers this nonce */
    if (nonce != NULL)
        failed += fnbox_check(r_nonce != NULL && strcasecmp(r_nonce, nonce) == 0, "report nonce",
                        r_nonce != NULL && strcasecmp(r_nonce, nonce) == 0
                            ? "the nonce given"
                            : "%s is not the nonce given (a replayed or other report)",
                        shown(rep, "nonce", b1, sizeof b1));
    else
        note("report nonce", "%s (freshness not checked: pass --nonce with the one you sent)",
             shown(rep, "nonce", b1, sizeof b1));

    /* report_data = SHA-512(nonce ‖ public_key ‖ measurement), recomputed here */
    uint8_t n_raw[EVIDENCE_NONCE_MAX], spki[EVIDENCE_SPKI_MAX], meas[EVIDENCE_MEASUREMENT_LEN],
        rd[EVIDENCE_REPORT_DATA_LEN];
    size_t n_len = 0, spki_len = 0, meas_len = 0;
    char rd_hex[2 * EVIDENCE_REPORT_DATA_LEN + 1];
    bool parsed = r_nonce != NULL && r_pub != NULL && r_meas != NULL &&
                  evidence_unhex(r_nonce, 0, n_raw, sizeof n_raw, &n_len) == 0 &&
                  evidence_unhex(r_pub, 0, spki, sizeof spki, &spki_len) == 0 &&
                  evidence_unhex(r_meas, 0, meas, sizeof meas, &meas_len) == 0 &&
                  meas_len == sizeof meas &&
                  evidence_report_data(n_raw, n_len, spki, spki_len, meas, rd) == 0;
    if (!parsed) {
        failed += fnbox_check(false, "report_data",
                        "cannot recompute: nonce, public_key or measurement is not lowercase hex "
                        "of the right length");
    } else {
        evidence_hex(rd, sizeof rd, rd_hex);
        bool ok = r_rd != NULL && strcmp(r_rd, rd_hex) == 0;
        failed += fnbox_check(ok, "report_data",
                        ok ? "SHA-512(nonce || public_key || measurement)"
                           : "does not bind this nonce, key and measurement");
    }

    /* the measurement */
    if (expect != NULL) {
        bool ok = r_meas != NULL && strcasecmp(r_meas, expect) == 0;
        failed += fnbox_check(ok, "measurement", ok ? "%s, as expected" : "%s, expected %s",
                        shown(rep, "measurement", b1, sizeof b1),
                        fnbox_sanitize(b2, sizeof b2, expect, strlen(expect)));
    } else {
        note("measurement", "%s (pass --expect-measurement to pin it)",
             shown(rep, "measurement", b1, sizeof b1));
    }

    /* the whole report, by the code that defines it: format, provider, signature */
    int rc = evidence_report_verify(rep, nonce != NULL ? nonce : (r_nonce ? r_nonce : ""), expect,
                                    why, sizeof why);
    char spki_sha[65] = "?";
    if (parsed) sha256_hex(spki, spki_len, spki_sha);
    failed += fnbox_check(rc == 0, "report",
                          rc == 0 ? "well-formed, signed by its public_key (ECDSA %s, key sha256 %s)"
                                  : "%s%s",
                          rc == 0 ? shown(rep, "key_scheme", b2, sizeof b2) : "",
                          rc == 0 ? spki_sha : fnbox_sanitize(b1, sizeof b1, why, strlen(why)));
    failed += check_confinement(rep, rc == 0, want_conf);
    if (rc == 0 && json_object_get(rep, "address") != NULL)
        note("address", "%s (Ethereum address of the secp256k1 instance key)",
             shown(rep, "address", b1, sizeof b1));

    const json_t *hw = json_object_get(rep, "hardware_backed");
    if (!json_is_true(hw))
        note("provider",
             "%s, platform %s: NOT hardware-backed; the report is signed by the key it vouches "
             "for (development only)",
             shown(rep, "provider", b1, sizeof b1), shown(rep, "platform", b2, sizeof b2));
    else
        show_quote(rep, rc == 0);

    /* the signed audit head that travels with the report (not covered by its signature) */
    const json_t *cpj = json_object_get(rep, "audit_checkpoint");
    if (cpj != NULL && !json_is_null(cpj)) {
        struct fnbox_checkpoint cp;
        char err[160];
        if (fnbox_checkpoint_parse(cpj, &cp, err, sizeof err) != 0) {
            failed += fnbox_check(false, "audit checkpoint", "unreadable: %s", err);
        } else if (fnbox_checkpoint_verify(&cp, err, sizeof err) != 0) {
            failed += fnbox_check(false, "audit checkpoint", "%s", err);
        } else {
            bool same = parsed && cp.pub_len == spki_len && memcmp(cp.pub, spki, spki_len) == 0;
            failed += fnbox_check(same, "audit checkpoint",
                            same ? "seq %lld, signed by the report's key"
                                 : "seq %lld, signed by another key than the report's",
                            cp.seq);
        }
    }
    return failed;
}

/* The checks of a signed invoke response against a verified report. */
static int check_receipt(const struct fnbox_args *a, const struct saved *inv, const json_t *rep,
                         const char *input_file, const char *want_isolation)
{
    int failed = 0;
    char b1[160], b2[160], why[EVIDENCE_WHY_MAX];
    const json_t *rc = json_object_get(inv->j, "receipt");
    if (!json_is_object(rc))
        return fnbox_check(false, "receipt",
                     "the invoke response has no \"receipt\" (invoke with "
                     "--sign, and save the response as it came)");
    note("receipt",
         "function %s version %" JSON_INTEGER_FORMAT ", invocation %s, time %" JSON_INTEGER_FORMAT,
         shown(rc, "function", b1, sizeof b1), json_integer_value(json_object_get(rc, "version")),
         shown(rc, "invocation_id", b2, sizeof b2),
         json_integer_value(json_object_get(rc, "time")));

    /* signed in a v2 receipt (receipt_verify below checks the signature over it) */
    const char *isolation = json_string_value(json_object_get(rc, "isolation"));
    if (want_isolation)
        failed += fnbox_check(isolation && strcmp(isolation, want_isolation) == 0,
                              "receipt isolation", "%s",
                              isolation ? isolation : "not stated (a v1 receipt)");
    else
        note("receipt isolation", "%s", isolation ? isolation : "not stated (a v1 receipt)");

    const char *r_pub = json_string_value(json_object_get(rep, "public_key"));
    const char *c_pub = json_string_value(json_object_get(rc, "public_key"));
    bool same_key = r_pub != NULL && c_pub != NULL && strcmp(r_pub, c_pub) == 0;
    failed += fnbox_check(same_key, "receipt key",
                    same_key ? "the attested public_key" : "not the attested public_key");

    const char *r_meas = json_string_value(json_object_get(rep, "measurement"));
    const char *c_meas = json_string_value(json_object_get(rc, "measurement"));
    bool same_meas = r_meas != NULL && c_meas != NULL && strcmp(r_meas, c_meas) == 0;
    failed +=
        fnbox_check(same_meas, "receipt measurement",
              same_meas ? "the attested measurement" : "%s is not the attested %s",
              shown(rc, "measurement", b1, sizeof b1), shown(rep, "measurement", b2, sizeof b2));

    const char *id = json_string_value(json_object_get(inv->j, "invocation_id"));
    const char *c_id = json_string_value(json_object_get(rc, "invocation_id"));
    bool same_id = id != NULL && c_id != NULL && strcmp(id, c_id) == 0;
    failed += fnbox_check(same_id, "receipt invocation_id",
                    same_id ? "the response's" : "%s is not the response's %s",
                    shown(rc, "invocation_id", b1, sizeof b1),
                    shown(inv->j, "invocation_id", b2, sizeof b2));

    /* output_sha256: SHA-256 of the "result" text exactly as the server wrote it */
    size_t off = 0, len = 0;
    int found = fnbox_json_raw_member(inv->raw, inv->len, "result", &off, &len);
    const char *c_out = json_string_value(json_object_get(rc, "output_sha256"));
    if (found != 1) {
        failed += fnbox_check(false, "output_sha256",
                        found == 0 ? "the response has no \"result\""
                                   : "cannot find one \"result\" in the saved response");
    } else {
        char h[65];
        sha256_hex(inv->raw + off, len, h);
        bool ok = c_out != NULL && strcmp(c_out, h) == 0;
        failed += fnbox_check(ok, "output_sha256",
                        ok ? "SHA-256 of the raw \"result\" text (%zu bytes)"
                           : "the \"result\" text (%zu bytes) hashes to another value",
                        len);
    }

    /* input_sha256: only when the caller kept the body it sent */
    const char *c_in = json_string_value(json_object_get(rc, "input_sha256"));
    if (input_file != NULL) {
        char *buf;
        size_t blen;
        char name[128];
        fnbox_sanitize(name, sizeof name, input_file, strlen(input_file));
        if (fnbox_read_file(input_file, SAVED_FILE_MAX, &buf, &blen) != 0) {
            fnbox_errf("%s: %s", name, errno == EFBIG ? "file too large" : strerror(errno));
            return -FNBOX_EXIT_USAGE;
        }
        char h[65];
        bool blank = fnbox_is_blank(buf, blen); /* no input: the server hashes "null" */
        sha256_hex(blank ? "null" : buf, blank ? 4 : blen, h);
        fnbox_wipe_free(buf, blen);
        bool ok = c_in != NULL && strcmp(c_in, h) == 0;
        failed +=
            fnbox_check(ok, "input_sha256", ok ? "SHA-256 of %s" : "%s hashes to another value", name);
    } else {
        note("input_sha256", "%s (pass --input FILE, the body sent, to compare)",
             shown(rc, "input_sha256", b1, sizeof b1));
    }
    note("code_sha256", "%s", shown(rc, "code_sha256", b1, sizeof b1));

    const json_t *fetches = json_object_get(rc, "fetches"), *f;
    size_t i;
    json_array_foreach(fetches, i, f)
    {
        const char *tls = json_string_value(json_object_get(f, "tls_peer_sha256"));
        char b3[80], b4[80];
        note("fetch", "%s -> %" JSON_INTEGER_FORMAT ", response sha256 %s%s%s",
             shown(f, "url", b1, sizeof b1), json_integer_value(json_object_get(f, "status")),
             shown(f, "response_sha256", b3, sizeof b3), tls && *tls ? ", tls peer sha256 " : "",
             tls && *tls ? fnbox_sanitize(b4, sizeof b4, tls, strlen(tls)) : "");
    }
    const json_t *secrets = json_object_get(rc, "secrets"), *s;
    json_array_foreach(secrets, i, s)
    {
        const char *sv = json_string_value(s);
        note("secret read", "%s", sv ? fnbox_sanitize(b1, sizeof b1, sv, strlen(sv)) : "?");
    }

    /* the receipt's format and signature, under the attested key */
    int vrc = receipt_verify(rc, r_pub, why, sizeof why);
    const json_t *rid = json_object_get(rc, "recovery_id");
    bool k1 = vrc == 0 && json_is_integer(rid); /* receipt_verify checked it recovers the key */
    failed += fnbox_check(vrc == 0, "receipt",
                    vrc == 0 ? "well-formed, signed by the attested key (ECDSA %s, low-s r||s "
                               "and DER, over the canonical receipt bytes)"
                             : "%s%s",
                    vrc == 0 ? shown(rc, "key_scheme", b2, sizeof b2) : "",
                    fnbox_sanitize(b1, sizeof b1, why, strlen(why)));
    if (k1)
        failed += fnbox_check(true, "receipt recovery_id",
                              "%" JSON_INTEGER_FORMAT " recovers the attested key from "
                              "(sha256(canonical bytes), r, s): ecrecover v = %" JSON_INTEGER_FORMAT
                              ", address %s",
                              json_integer_value(rid), 27 + json_integer_value(rid),
                              shown(rc, "address", b2, sizeof b2));
    (void)a;
    return failed;
}

static bool hex_len_ok(const char *s, size_t min_bytes, size_t max_bytes)
{
    size_t n = strlen(s);
    return fnbox_is_hex(s) && n / 2 >= min_bytes && n / 2 <= max_bytes;
}

int fnbox_cmd_verify(const struct fnbox_args *a)
{
    const char *att_file = opt1(a, OPT_ATTESTATION), *rc_file = opt1(a, OPT_RECEIPT);
    const char *nonce = opt1(a, OPT_NONCE), *expect = opt1(a, OPT_EXPECT_MEASUREMENT);
    const char *input = opt1(a, OPT_INPUT), *conf = opt1(a, OPT_EXPECT_CONFINEMENT);
    const char *iso = opt1(a, OPT_EXPECT_ISOLATION);
    long want_conf = conf != NULL ? confinement_wanted(conf) : -1;
    if (att_file == NULL || *att_file == '\0')
        return vusage(a, "--attestation FILE is required (a saved GET /v1/attestation response)");
    if (rc_file == NULL && nonce == NULL)
        return vusage(a, "--nonce HEX is required: the nonce you sent for this report");
    if (nonce != NULL && !hex_len_ok(nonce, EVIDENCE_NONCE_MIN, EVIDENCE_NONCE_MAX))
        return vusage(a, "--nonce must be 16 to 64 bytes of hex");
    if (expect != NULL && !hex_len_ok(expect, 32, 32))
        return vusage(a, "--expect-measurement must be 64 hex digits");
    if (conf != NULL && want_conf < 0)
        return vusage(a, "--expect-confinement takes known tokens separated by commas (see "
                         "docs/attestation.md)");
    if (input != NULL && rc_file == NULL) return vusage(a, "--input goes with --receipt");
    if (iso != NULL && rc_file == NULL) return vusage(a, "--expect-isolation goes with --receipt");
    if (iso != NULL && strcmp(iso, "process") != 0 && strcmp(iso, "snapshot") != 0)
        return vusage(a, "--expect-isolation must be process or snapshot");
    if (rc_file != NULL && *rc_file == '\0') return vusage(a, "--receipt needs a file name");

    struct saved att, inv = {0};
    int ex = load_saved(att_file, "an attestation report (a JSON object)", &att);
    if (ex != 0) return ex;
    if (rc_file != NULL &&
        (ex = load_saved(rc_file, "an invoke response (a JSON object)", &inv)) != 0) {
        saved_free(&att);
        return ex;
    }

    int failed = check_report(att.j, nonce, expect, want_conf);
    if (rc_file != NULL) {
        int n = check_receipt(a, &inv, att.j, input, iso);
        if (n < 0) {
            saved_free(&att);
            saved_free(&inv);
            return -n;
        }
        failed += n;
    }
    saved_free(&att);
    if (rc_file != NULL) saved_free(&inv);
    if (fflush(stdout) != 0) {
        fnbox_errf("writing output: %s", strerror(errno));
        return FNBOX_EXIT_ERROR;
    }
    if (failed > 0) {
        fnbox_errf("%s: %d check%s failed", a->cmd, failed, failed == 1 ? "" : "s");
        return FNBOX_EXIT_ERROR;
    }
    puts(rc_file != NULL
             ? "verified: the attested instance key signed this result (see the notes above for "
               "what the report does not show)"
             : "verified: the report is bound to your nonce and signed by the key it carries");
    if (g_hardware)
        printf("verified: the %s quote carries this report_data; its signature chain was NOT "
               "checked (use %s)\n",
               g_hardware == 1 ? "TDX" : "SEV-SNP",
               g_hardware == 1 ? "Intel DCAP QVL" : "snpguest verify");
    return FNBOX_EXIT_OK;
}
