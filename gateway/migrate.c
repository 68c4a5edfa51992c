#include "gateway/migrate.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "attestation/evidence.h"
#include "common/hex.h"
#include "common/log.h"

#define CHALLENGE_LEN 32
#define CHALLENGE_SLOTS 16
#define SPKI_MAX SEAL_TRANSFER_SPKI_MAX
#define SIG_MAX 80

static struct {
    uint8_t nonce[CHALLENGE_LEN];
    int64_t expires;
} challenges[CHALLENGE_SLOTS];
static pthread_mutex_t challenge_mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 4, 5))) static int fail(struct migrate_error *e, int status,
                                                      const char *code, const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

int migrate_challenge(json_t **out, struct migrate_error *err)
{
    uint8_t nonce[CHALLENGE_LEN];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return fail(err, 500, "internal", "the random generator failed");
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&challenge_mu);
    size_t slot = 0; /* an expired or unused slot, else the one expiring first */
    for (size_t i = 0; i < CHALLENGE_SLOTS; i++)
        if (challenges[i].expires < challenges[slot].expires) slot = i;
    memcpy(challenges[slot].nonce, nonce, sizeof nonce);
    challenges[slot].expires = now + MIGRATE_CHALLENGE_TTL;
    pthread_mutex_unlock(&challenge_mu);
    char hex[2 * CHALLENGE_LEN + 1];
    hex_encode(nonce, sizeof nonce, hex);
    *out = json_pack("{sssi}", "nonce", hex, "expires_in", MIGRATE_CHALLENGE_TTL);
    return *out ? 0 : fail(err, 500, "internal", "out of memory");
}

/* 0 when nonce_hex is an outstanding challenge, which is then used up. */
static int consume_challenge(const char *nonce_hex)
{
    uint8_t nonce[CHALLENGE_LEN];
    size_t n;
    if (!nonce_hex || hex_decode(nonce_hex, nonce, sizeof nonce, &n) || n != sizeof nonce)
        return -ENOENT;
    int64_t now = (int64_t)time(NULL);
    int rc = -ENOENT;
    pthread_mutex_lock(&challenge_mu);
    for (size_t i = 0; i < CHALLENGE_SLOTS; i++)
        if (challenges[i].expires >= now &&
            CRYPTO_memcmp(challenges[i].nonce, nonce, sizeof nonce) == 0) {
            memset(&challenges[i], 0, sizeof challenges[i]);
            rc = 0;
        }
    pthread_mutex_unlock(&challenge_mu);
    return rc;
}

static int spki_of(EVP_PKEY *k, uint8_t out[SPKI_MAX], size_t *len)
{
    int n = i2d_PUBKEY(k, NULL);
    uint8_t *p = out;
    if (n <= 0 || n > SPKI_MAX || i2d_PUBKEY(k, &p) != n) return -EINVAL;
    *len = (size_t)n;
    return 0;
}

/* A public key from hex SPKI DER (exactly one, nothing after it); NULL when not. */
static EVP_PKEY *pubkey_from_hex(const char *hex, uint8_t spki[SPKI_MAX], size_t *len)
{
    if (!hex || hex_decode(hex, spki, SPKI_MAX, len) || *len == 0) return NULL;
    const uint8_t *p = spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)*len);
    if (k && (p != spki + *len || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* The bytes the bundle signature covers: the bundle without "signature", compact, sorted. */
static char *signed_text(const json_t *bundle)
{
    json_t *copy = json_deep_copy(bundle);
    if (!copy) return NULL;
    json_object_del(copy, "signature");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return text;
}

static int sign_bundle(EVP_PKEY *key, json_t *bundle)
{
    char *text = signed_text(bundle);
    if (!text) return -ENOMEM;
    uint8_t sig[SIG_MAX];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)text, strlen(text)) == 1;
    EVP_MD_CTX_free(md);
    free(text);
    if (!ok) return -EIO;
    char hex[2 * SIG_MAX + 1];
    hex_encode(sig, sig_len, hex);
    return json_object_set_new(bundle, "signature", json_string(hex)) ? -ENOMEM : 0;
}

static int verify_bundle(EVP_PKEY *key, const json_t *bundle)
{
    const char *sig_hex = json_string_value(json_object_get(bundle, "signature"));
    uint8_t sig[SIG_MAX];
    size_t sig_len;
    if (!sig_hex || hex_decode(sig_hex, sig, sizeof sig, &sig_len)) return -EBADMSG;
    char *text = signed_text(bundle);
    if (!text) return -ENOMEM;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)text, strlen(text)) == 1;
    EVP_MD_CTX_free(md);
    free(text);
    return ok ? 0 : -EBADMSG;
}

/* binding = report_data (64 bytes) ‖ the exporting instance's SPKI */
static int make_binding(const char *report_data_hex, const uint8_t *src_spki, size_t src_len,
                        uint8_t *out, size_t *len)
{
    size_t n;
    if (!report_data_hex || hex_decode(report_data_hex, out, EVIDENCE_REPORT_DATA_LEN, &n) ||
        n != EVIDENCE_REPORT_DATA_LEN || src_len > SPKI_MAX)
        return -EINVAL;
    memcpy(out + n, src_spki, src_len);
    *len = n + src_len;
    return 0;
}

static int measurement_allowed(const struct app *app, const char *m)
{
    char own[65];
    hex_encode(app->measurement, sizeof app->measurement, own);
    if (strcmp(m, own) == 0) return 1;
    for (int i = 0; i < app->cfg.n_peer_measurements; i++)
        if (strcmp(m, app->cfg.peer_measurements[i]) == 0) return 1;
    return 0;
}

static void key_label(const uint8_t *spki, size_t len, char out[80])
{
    char h[65];
    if (sha256_hex(spki, len, h)) h[0] = 0;
    snprintf(out, 80, "peer:sha256:%s", h);
}

static json_t *secret_rows_json(const struct secret_ref *rows, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        char *hex = malloc(2 * rows[i].blob_len + 1);
        json_t *o = hex ? (hex_encode(rows[i].blob, rows[i].blob_len, hex),
                           json_pack("{sssssIsssssI}", "owner", rows[i].owner, "name",
                                     rows[i].name, "version", (json_int_t)rows[i].version,
                                     "dek_id", rows[i].dek_id, "blob", hex, "created_at",
                                     (json_int_t)rows[i].created_at))
                        : NULL;
        free(hex);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int migrate_export(struct app *app, const char *actor, const json_t *report, json_t **bundle_out,
                   struct migrate_error *err)
{
    *bundle_out = NULL;
    const char *nonce = json_string_value(json_object_get(report, "nonce"));
    if (consume_challenge(nonce))
        return fail(err, 403, "unknown_challenge",
                    "the report's nonce is not an outstanding challenge of this instance (POST "
                    "/v1/keys/export/challenge gives one; it works once, for %d s)",
                    MIGRATE_CHALLENGE_TTL);
    char why[EVIDENCE_WHY_MAX];
    if (evidence_report_verify(report, nonce, NULL, why, sizeof why))
        return fail(err, 422, "attestation_invalid", "the peer's report does not verify: %s", why);
    /* What a verified report proves depends on its provider. A software report is signed by
     * the key it vouches for: nothing about what runs there. A tsm report's quote is bound to
     * the key and nonce, but fnbox does not check the quote's vendor signature chain (Intel
     * PCS / AMD KDS; docs/attestation.md), so anyone can forge one: until it does, the operator
     * must say so explicitly. */
    const char *provider = json_string_value(json_object_get(report, "provider"));
    if (provider && strcmp(provider, "tsm") == 0) {
        if (!app->cfg.trust_unverified_quotes)
            return fail(err, 403, "unverified_quote",
                        "the peer's quote is bound to its key, but fnbox cannot check the quote's "
                        "vendor signature chain: check it with the vendor's tools and start "
                        "fnboxd with --trust-unverified-quotes to export to it");
        LOG_W("exporting keys to a tsm peer whose quote's signature chain fnbox did not check "
              "(--trust-unverified-quotes)");
    } else {
        if (!app->cfg.trust_software_peers)
            return fail(err, 403, "untrusted_peer",
                        "the peer's report is software-only: it proves nothing about what runs "
                        "there (start fnboxd with --trust-software-peers to allow it, for "
                        "development only)");
        LOG_W("EXPORTING KEYS TO A SOFTWARE-ONLY PEER (--trust-software-peers): nothing "
              "proves what runs there");
    }
    const char *measurement = json_string_value(json_object_get(report, "measurement"));
    if (!measurement || !measurement_allowed(app, measurement))
        return fail(err, 403, "unexpected_measurement",
                    "the peer's measurement %s is neither this instance's nor one given with "
                    "--peer-measurement",
                    measurement ? measurement : "(none)");
    uint8_t peer_spki[SPKI_MAX], own_spki[SPKI_MAX], binding[EVIDENCE_REPORT_DATA_LEN + SPKI_MAX],
        eph[SEAL_TRANSFER_SPKI_MAX];
    size_t peer_len, own_len, binding_len, eph_len;
    EVP_PKEY *own = keyring_instance_key(app->keyring);
    EVP_PKEY *peer = pubkey_from_hex(json_string_value(json_object_get(report, "public_key")),
                                     peer_spki, &peer_len);
    if (!peer) return fail(err, 422, "attestation_invalid", "the peer's public key is not usable");
    struct seal_transfer_key tk;
    int rc = spki_of(own, own_spki, &own_len);
    if (!rc)
        rc = make_binding(json_string_value(json_object_get(report, "report_data")), own_spki,
                          own_len, binding, &binding_len);
    if (!rc) rc = seal_transfer_begin(peer, binding, binding_len, eph, &eph_len, &tk);
    EVP_PKEY_free(peer);
    if (rc) return fail(err, 422, "attestation_invalid", "cannot seal to the peer's key");

    struct dek_row *deks = NULL;
    struct secret_ref *rows = NULL;
    size_t n_deks = 0, n_rows = 0;
    json_t *bundle = NULL, *dek_arr = json_array();
    rc = store_dek_list(app->store, &deks, &n_deks);
    if (!rc) rc = store_secret_all(app->store, MIGRATE_MAX_SECRETS, &rows, &n_rows);
    for (size_t i = 0; !rc && dek_arr && i < n_deks; i++) {
        uint8_t sealed[SEAL_DEK_BLOB_LEN];
        char hex[2 * SEAL_DEK_BLOB_LEN + 1];
        rc = keyring_transfer_out(app->keyring, &tk, deks[i].id, sealed);
        hex_encode(sealed, sizeof sealed, hex);
        if (!rc && json_array_append_new(dek_arr, json_pack("{ssss}", "id", deks[i].id, "sealed", hex)))
            rc = -ENOMEM;
    }
    seal_wipe(&tk, sizeof tk);
    char own_hex[2 * SPKI_MAX + 1], peer_hex[2 * SPKI_MAX + 1], eph_hex[2 * SPKI_MAX + 1], meas[65];
    hex_encode(own_spki, own_len, own_hex);
    hex_encode(peer_spki, peer_len, peer_hex);
    hex_encode(eph, eph_len, eph_hex);
    hex_encode(app->measurement, sizeof app->measurement, meas);
    json_t *secrets = rc ? NULL : secret_rows_json(rows, n_rows);
    if (!rc && dek_arr && secrets)
        bundle = json_pack("{sssssssssssssIsOso}", "format", "fnbox-keys-v1", "source_public_key",
                           own_hex, "source_measurement", meas, "peer_public_key", peer_hex,
                           "peer_report_data",
                           json_string_value(json_object_get(report, "report_data")),
                           "ephemeral_public_key", eph_hex, "time", (json_int_t)time(NULL),
                           "deks", dek_arr, "secrets", secrets);
    else
        json_decref(secrets);
    json_decref(dek_arr);
    store_dek_rows_free(deks, n_deks);
    if (rows) store_secret_refs_free(rows, n_rows);
    if (rc == -E2BIG)
        return fail(err, 413, "too_many_secrets", "more than %d secret rows: export refused",
                    MIGRATE_MAX_SECRETS);
    if (rc || !bundle || sign_bundle(own, bundle)) {
        json_decref(bundle);
        return fail(err, 500, "internal", "cannot build the export");
    }
    /* audited before anything leaves: no record, no bundle */
    char label[80];
    key_label(peer_spki, peer_len, label);
    struct audit_record a = {.time = (int64_t)time(NULL), .actor = actor,
                             .action = "keys.export", .secret = label, .outcome = "ok"};
    if (store_audit_append(app->store, &a)) {
        json_decref(bundle);
        return fail(err, 500, "internal", "cannot write the audit record; nothing was exported");
    }
    LOG_I("keys exported to %s (measurement %s): %zu DEKs, %zu secret rows", label, measurement,
          n_deks, n_rows);
    *bundle_out = bundle;
    return 0;
}

/* Parses one secret row of a bundle into r (blob malloc'd); -EINVAL when malformed. */
static int parse_row(const json_t *o, struct secret_ref *r)
{
    const char *owner = json_string_value(json_object_get(o, "owner"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *dek = json_string_value(json_object_get(o, "dek_id"));
    const char *blob = json_string_value(json_object_get(o, "blob"));
    const json_t *v = json_object_get(o, "version"), *c = json_object_get(o, "created_at");
    if (!owner || !name || !dek || !blob || !json_is_integer(v) || !json_is_integer(c) ||
        !*owner || !*name || !*dek || strlen(owner) >= sizeof r->owner ||
        strlen(name) >= sizeof r->name || strlen(dek) >= sizeof r->dek_id ||
        json_integer_value(v) < 1)
        return -EINVAL;
    size_t cap = strlen(blob) / 2 + 1;
    r->blob = malloc(cap);
    if (!r->blob) return -ENOMEM;
    if (hex_decode(blob, r->blob, cap, &r->blob_len)) return -EINVAL;
    snprintf(r->owner, sizeof r->owner, "%s", owner);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->dek_id, sizeof r->dek_id, "%s", dek);
    r->version = json_integer_value(v);
    r->created_at = json_integer_value(c);
    return 0;
}

int migrate_import(struct app *app, const char *actor, const json_t *bundle, json_t **out,
                   struct migrate_error *err)
{
    *out = NULL;
    const char *format = json_string_value(json_object_get(bundle, "format"));
    const json_t *deks = json_object_get(bundle, "deks"), *secrets = json_object_get(bundle, "secrets");
    if (!format || strcmp(format, "fnbox-keys-v1") != 0 || !json_is_array(deks) ||
        !json_is_array(secrets) || json_array_size(secrets) > MIGRATE_MAX_SECRETS)
        return fail(err, 400, "invalid_request", "not an fnbox-keys-v1 bundle");
    EVP_PKEY *own = keyring_instance_key(app->keyring);
    uint8_t own_spki[SPKI_MAX], peer_spki[SPKI_MAX], src_spki[SPKI_MAX], eph[SPKI_MAX],
        binding[EVIDENCE_REPORT_DATA_LEN + SPKI_MAX];
    size_t own_len, peer_len, src_len, eph_len, binding_len;
    const char *peer_hex = json_string_value(json_object_get(bundle, "peer_public_key"));
    if (spki_of(own, own_spki, &own_len) || !peer_hex ||
        hex_decode(peer_hex, peer_spki, sizeof peer_spki, &peer_len) || peer_len != own_len ||
        memcmp(peer_spki, own_spki, own_len) != 0)
        return fail(err, 409, "wrong_instance",
                    "this bundle is sealed to another instance's key, not this one's");
    EVP_PKEY *src = pubkey_from_hex(json_string_value(json_object_get(bundle, "source_public_key")),
                                    src_spki, &src_len);
    int bad = !src || verify_bundle(src, bundle) != 0;
    EVP_PKEY_free(src);
    if (bad)
        return fail(err, 422, "bundle_invalid",
                    "the bundle's signature does not verify under the key it names");
    const char *eph_hex = json_string_value(json_object_get(bundle, "ephemeral_public_key"));
    struct seal_transfer_key tk;
    if (!eph_hex || hex_decode(eph_hex, eph, sizeof eph, &eph_len) ||
        make_binding(json_string_value(json_object_get(bundle, "peer_report_data")), src_spki,
                     src_len, binding, &binding_len) ||
        seal_transfer_accept(own, eph, eph_len, binding, binding_len, &tk))
        return fail(err, 422, "bundle_invalid", "the bundle's key agreement fields are unusable");

    size_t n_deks = json_array_size(deks), n_rows = json_array_size(secrets);
    struct transfer_dek *td = calloc(n_deks ? n_deks : 1, sizeof *td);
    struct secret_ref *rows = calloc(n_rows ? n_rows : 1, sizeof *rows);
    int rc = td && rows ? 0 : fail(err, 500, "internal", "out of memory");
    for (size_t i = 0; !rc && i < n_deks; i++) {
        const json_t *d = json_array_get(deks, i);
        const char *id = json_string_value(json_object_get(d, "id"));
        const char *hex = json_string_value(json_object_get(d, "sealed"));
        uint8_t sealed[SEAL_DEK_BLOB_LEN];
        size_t n;
        if (!id || !*id || strlen(id) >= sizeof td[i].id || !hex ||
            hex_decode(hex, sealed, sizeof sealed, &n)) {
            rc = fail(err, 400, "invalid_request", "DEK %zu of the bundle is malformed", i);
            break;
        }
        snprintf(td[i].id, sizeof td[i].id, "%s", id);
        int k = keyring_transfer_in(app->keyring, &tk, id, sealed, n, td[i].wrapped);
        if (k == -EEXIST)
            rc = fail(err, 409, "conflict", "DEK %s exists here with another key", id);
        else if (k == -ENOSPC)
            rc = fail(err, 507, "too_many_keys", "no room for more data-encryption keys");
        else if (k)
            rc = fail(err, 422, "bundle_invalid", "DEK %s does not open with this instance's key", id);
    }
    seal_wipe(&tk, sizeof tk);
    /* every row must open before anything is stored: all or nothing */
    for (size_t i = 0; !rc && i < n_rows; i++) {
        if (parse_row(json_array_get(secrets, i), &rows[i])) {
            rc = fail(err, 400, "invalid_request", "secret row %zu of the bundle is malformed", i);
            break;
        }
        struct seal_secret_id sid = {rows[i].owner, rows[i].name, (uint64_t)rows[i].version};
        uint8_t *pt = NULL;
        size_t pt_len = 0;
        if (keyring_open_secret(app->keyring, rows[i].dek_id, &sid, rows[i].blob, rows[i].blob_len,
                                &pt, &pt_len))
            rc = fail(err, 422, "bundle_invalid", "secret %s/%s version %lld does not open",
                      rows[i].owner, rows[i].name, (long long)rows[i].version);
        if (pt) {
            seal_wipe(pt, pt_len);
            free(pt);
        }
    }
    if (!rc) {
        char label[80], conflict[256];
        int64_t inserted, skipped;
        key_label(src_spki, src_len, label);
        struct audit_record a = {.time = (int64_t)time(NULL), .actor = actor,
                                 .action = "keys.import", .secret = label, .outcome = "ok"};
        int s = store_transfer_import(app->store, td, n_deks, rows, n_rows, a.time, &a, &inserted,
                                      &skipped, conflict, sizeof conflict);
        if (s == -EEXIST)
            rc = fail(err, 409, "conflict",
                      "secret %s exists here with another value; nothing was imported", conflict);
        else if (s)
            rc = fail(err, 500, "internal", "cannot store the import; nothing was imported");
        else {
            LOG_I("keys imported from %s: %zu DEKs, %lld secret rows (%lld already here)", label,
                  n_deks, (long long)inserted, (long long)skipped);
            *out = json_pack("{sIsIsIss}", "deks", (json_int_t)n_deks, "secrets_imported",
                             (json_int_t)inserted, "secrets_skipped", (json_int_t)skipped,
                             "source_public_key",
                             json_string_value(json_object_get(bundle, "source_public_key")));
            if (!*out) rc = fail(err, 500, "internal", "out of memory");
        }
    }
    if (td) seal_wipe(td, n_deks * sizeof *td);
    free(td);
    if (rows) store_secret_refs_free(rows, n_rows);
    return rc;
}
