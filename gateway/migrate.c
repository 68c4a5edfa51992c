#include "gateway/migrate.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "attestation/evidence.h"
#include "common/hex.h"
#include "common/log.h"
#include "gateway/rotate.h"
#include "gateway/validate.h"

#define CHALLENGE_LEN 32
#define CHALLENGE_SLOTS 16
#define SPKI_MAX SEAL_TRANSFER_SPKI_MAX
#define SIG_MAX 80

static struct {
    uint8_t nonce[CHALLENGE_LEN];
    int64_t expires;
} challenges[CHALLENGE_SLOTS];
static pthread_mutex_t challenge_mu = PTHREAD_MUTEX_INITIALIZER;

/* Challenge expiry runs on CLOCK_MONOTONIC: setting the wall clock back must not stretch a
 * challenge's life. At least 1 (0 is an unused slot's expiry), hence the + 1; -1 when the
 * clock cannot be read (then no challenge is issued or accepted). */
static int64_t monotonic_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts)) return -1;
    return (int64_t)ts.tv_sec + 1;
}

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
    int64_t now = monotonic_s();
    if (now < 0) return fail(err, 500, "internal", "the monotonic clock cannot be read");
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
    int64_t now = monotonic_s();
    if (now < 0) return -ENOENT;
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
    /* One snapshot: with rotations held off, every row read below is under a DEK listed
     * here (a rotation in between would rewrap rows under a DEK the bundle lacks). */
    keys_rotation_lock();
    rc = store_dek_list(app->store, &deks, &n_deks);
    if (!rc) rc = store_secret_all(app->store, MIGRATE_MAX_SECRETS, &rows, &n_rows);
    for (size_t i = 0; !rc && i < n_deks; i++) {
        uint8_t sealed[SEAL_DEK_BLOB_LEN];
        char hex[2 * SEAL_DEK_BLOB_LEN + 1];
        if (!dek_arr) rc = -ENOMEM;
        if (!rc) rc = keyring_transfer_out(app->keyring, &tk, deks[i].id, sealed);
        if (rc) break; /* sealed holds nothing to encode */
        hex_encode(sealed, sizeof sealed, hex);
        if (json_array_append_new(dek_arr, json_pack("{ssss}", "id", deks[i].id, "sealed", hex)))
            rc = -ENOMEM;
    }
    keys_rotation_unlock();
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

/* A DEK id as this instance makes them ("dek_" and hex) or any other short plain token:
 * it is used in associated data and printed in messages, so nothing else is accepted. */
static int valid_dek_id(const char *id, size_t cap)
{
    size_t n = strlen(id);
    if (n == 0 || n >= cap) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Parses one secret row of a bundle into r (blob malloc'd); -EINVAL when malformed. Names are
 * held to the rules of the API that stores them (gateway/validate.h): a bundle cannot bring a
 * row the API could never have made. */
static int parse_row(const json_t *o, struct secret_ref *r)
{
    const char *owner = json_string_value(json_object_get(o, "owner"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *dek = json_string_value(json_object_get(o, "dek_id"));
    const char *blob = json_string_value(json_object_get(o, "blob"));
    const json_t *v = json_object_get(o, "version"), *c = json_object_get(o, "created_at");
    if (!owner || !name || !dek || !blob || !json_is_integer(v) || !json_is_integer(c) ||
        !valid_owner(owner) || !valid_secret_name(name) || !valid_dek_id(dek, sizeof r->dek_id) ||
        strlen(owner) >= sizeof r->owner || strlen(name) >= sizeof r->name ||
        json_integer_value(v) < 1 || json_integer_value(v) > MIGRATE_MAX_VERSION ||
        json_integer_value(c) < 0)
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

/* A DEK of the bundle, opened but not yet in the keyring (keyring.h: nothing enters it before
 * the commit). key is wiped before the array is freed. */
struct staged_dek {
    uint8_t key[SEAL_KEY_LEN];
    int held; /* the keyring already holds this id with this key */
};

/* Opens row r with the bundle's DEK of that id when it brings one, else with the keyring's
 * (a row may be sealed under a DEK this instance already holds). 0 or -EBADMSG. */
static int open_row(struct app *app, const struct transfer_dek *td, const struct staged_dek *sk,
                    size_t n_deks, const struct secret_ref *r)
{
    struct seal_secret_id sid = {r->owner, r->name, (uint64_t)r->version};
    size_t k = 0;
    while (k < n_deks && strcmp(td[k].id, r->dek_id) != 0) k++;
    size_t cap = SEAL_OPENED_LEN(r->blob_len);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc;
    if (k < n_deks) {
        pt = malloc(cap ? cap : 1);
        if (!pt) return -ENOMEM;
        rc = seal_secret_decrypt(sk[k].key, r->dek_id, &sid, r->blob, r->blob_len, pt,
                                 cap ? cap : 1, &pt_len);
    } else {
        rc = keyring_open_secret(app->keyring, r->dek_id, &sid, r->blob, r->blob_len, &pt, &pt_len);
    }
    if (pt) {
        seal_wipe(pt, cap ? cap : 1);
        free(pt);
    }
    return rc;
}

/* Checks ?source= and that the bundle was made by that instance, signed, and recently.
 * src_spki receives the source key (for the binding and the audit label). */
static int check_origin(const json_t *bundle, const char *expected_source, uint8_t *src_spki,
                        size_t *src_len, char fingerprint[65], struct migrate_error *err)
{
    EVP_PKEY *src = pubkey_from_hex(json_string_value(json_object_get(bundle, "source_public_key")),
                                    src_spki, src_len);
    if (!src) return fail(err, 422, "bundle_invalid", "the bundle's source key is unusable");
    /* The signature only proves that the key the bundle names made it: anyone can make a key
     * and sign a bundle addressed to this instance (its public key is public). What makes a
     * bundle acceptable is that the operator named that key: the instance the keys come from. */
    if (sha256_hex(src_spki, *src_len, fingerprint) || strcasecmp(fingerprint, expected_source)) {
        EVP_PKEY_free(src);
        return fail(err, 403, "unexpected_source",
                    "the bundle was made by the instance whose key has SHA-256 %s, not by the "
                    "one named with ?source=: nothing imported",
                    fingerprint);
    }
    int bad = verify_bundle(src, bundle) != 0;
    EVP_PKEY_free(src);
    if (bad)
        return fail(err, 422, "bundle_invalid",
                    "the bundle's signature does not verify under the key it names");
    /* Freshness bounds replay: a genuine old bundle would bring back secrets deleted here
     * since (docs/secrets.md says what remains: the window itself). */
    const json_t *t = json_object_get(bundle, "time");
    int64_t now = (int64_t)time(NULL);
    if (!json_is_integer(t))
        return fail(err, 400, "invalid_request", "the bundle has no time");
    json_int_t made = json_integer_value(t);
    if (made < now - MIGRATE_BUNDLE_MAX_AGE || made > now + MIGRATE_BUNDLE_MAX_SKEW)
        return fail(err, 422, "bundle_expired",
                    "the bundle was made at %lld, this instance's time is %lld: bundles are "
                    "accepted for %d s (and at most %d s ahead, for clock skew); export again",
                    (long long)made, (long long)now, MIGRATE_BUNDLE_MAX_AGE,
                    MIGRATE_BUNDLE_MAX_SKEW);
    return 0;
}

/* Opens every DEK of the bundle into td/sk (nothing enters the keyring), then parses and
 * opens every row. *n_new: DEKs the keyring does not hold yet. */
static int stage(struct app *app, const json_t *deks, const json_t *secrets,
                 const struct seal_transfer_key *tk, struct transfer_dek *td,
                 struct staged_dek *sk, struct secret_ref *rows, size_t *n_new,
                 struct migrate_error *err)
{
    size_t n_deks = json_array_size(deks), n_rows = json_array_size(secrets);
    *n_new = 0;
    for (size_t i = 0; i < n_deks; i++) {
        const json_t *d = json_array_get(deks, i);
        const char *id = json_string_value(json_object_get(d, "id"));
        const char *hex = json_string_value(json_object_get(d, "sealed"));
        uint8_t sealed[SEAL_DEK_BLOB_LEN];
        size_t n;
        if (!id || !valid_dek_id(id, sizeof td[i].id) || !hex ||
            hex_decode(hex, sealed, sizeof sealed, &n))
            return fail(err, 400, "invalid_request", "DEK %zu of the bundle is malformed", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(td[j].id, id) == 0)
                return fail(err, 400, "invalid_request", "DEK %s is in the bundle twice", id);
        snprintf(td[i].id, sizeof td[i].id, "%s", id);
        int k = keyring_transfer_open(app->keyring, tk, id, sealed, n, sk[i].key, td[i].wrapped,
                                      &sk[i].held);
        if (k == -EEXIST)
            return fail(err, 409, "conflict",
                        "DEK %s exists here with another key; nothing was imported", id);
        if (k)
            return fail(err, 422, "bundle_invalid", "DEK %s does not open with this instance's key",
                        id);
        if (!sk[i].held) (*n_new)++;
    }
    for (size_t i = 0; i < n_rows; i++)
        if (parse_row(json_array_get(secrets, i), &rows[i]))
            return fail(err, 400, "invalid_request",
                        "secret row %zu of the bundle is malformed (owner, name, DEK id, "
                        "version 1..%lld, created_at, blob)",
                        i, (long long)MIGRATE_MAX_VERSION);
    /* every row must open before anything is stored: all or nothing */
    for (size_t i = 0; i < n_rows; i++)
        if (open_row(app, td, sk, n_deks, &rows[i]))
            return fail(err, 422, "bundle_invalid", "secret %s/%s version %lld does not open",
                        rows[i].owner, rows[i].name, (long long)rows[i].version);
    return 0;
}

/* Stores the staged import, then hands its new DEKs to the keyring. Called with the rotation
 * lock held (nothing else adds DEKs meanwhile). */
static int commit(struct app *app, const char *actor, const json_t *bundle,
                  const struct transfer_dek *td, const struct staged_dek *sk, size_t n_deks,
                  const struct secret_ref *rows, size_t n_rows, const char *label,
                  const char *fingerprint, json_t **out, struct migrate_error *err)
{
    char conflict[256];
    int64_t inserted, skipped;
    struct audit_record a = {.time = (int64_t)time(NULL), .actor = actor,
                             .action = "keys.import", .secret = label, .outcome = "ok"};
    int s = store_transfer_import(app->store, td, n_deks, rows, n_rows, a.time, &a, &inserted,
                                  &skipped, conflict, sizeof conflict);
    if (s == -EEXIST)
        return fail(err, 409, "conflict",
                    "secret %s: this instance holds that name and the bundle would change it "
                    "(an import only adds names this instance does not have); nothing was "
                    "imported",
                    conflict);
    if (s) return fail(err, 500, "internal", "cannot store the import; nothing was imported");
    for (size_t i = 0; i < n_deks; i++) {
        if (sk[i].held) continue;
        /* keyring_room said they fit and the rotation lock kept it so: a failure here is a
         * bug; the rows are stored and open after a restart (keyring_open loads every DEK) */
        if (keyring_add(app->keyring, td[i].id, sk[i].key)) {
            LOG_E("imported DEK %s is stored but could not be loaded: restart fnboxd", td[i].id);
            return fail(err, 500, "internal",
                        "the import is stored, but its keys could not be loaded: restart fnboxd");
        }
    }
    LOG_I("keys imported from %s: %zu DEKs, %lld secret rows (%lld already here)", label, n_deks,
          (long long)inserted, (long long)skipped);
    *out = json_pack("{sIsIsIssss}", "deks", (json_int_t)n_deks, "secrets_imported",
                     (json_int_t)inserted, "secrets_skipped", (json_int_t)skipped,
                     "source_public_key",
                     json_string_value(json_object_get(bundle, "source_public_key")), "source",
                     fingerprint);
    return *out ? 0 : fail(err, 500, "internal", "out of memory (the import is stored)");
}

static int is_sha256_hex(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p)) return 0;
    return 1;
}

int migrate_import(struct app *app, const char *actor, const json_t *bundle,
                   const char *expected_source, json_t **out, struct migrate_error *err)
{
    *out = NULL;
    if (!is_sha256_hex(expected_source))
        return fail(err, 400, "invalid_request",
                    "?source= is required: the SHA-256 (64 hex digits) of the exporting "
                    "instance's public key (its attestation report's public_key)");
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
    char fingerprint[65];
    if (check_origin(bundle, expected_source, src_spki, &src_len, fingerprint, err)) return -1;
    const char *eph_hex = json_string_value(json_object_get(bundle, "ephemeral_public_key"));
    struct seal_transfer_key tk;
    if (!eph_hex || hex_decode(eph_hex, eph, sizeof eph, &eph_len) ||
        make_binding(json_string_value(json_object_get(bundle, "peer_report_data")), src_spki,
                     src_len, binding, &binding_len) ||
        seal_transfer_accept(own, eph, eph_len, binding, binding_len, &tk))
        return fail(err, 422, "bundle_invalid", "the bundle's key agreement fields are unusable");

    size_t n_deks = json_array_size(deks), n_rows = json_array_size(secrets), n_new = 0;
    struct transfer_dek *td = calloc(n_deks ? n_deks : 1, sizeof *td);
    struct staged_dek *sk = calloc(n_deks ? n_deks : 1, sizeof *sk);
    struct secret_ref *rows = calloc(n_rows ? n_rows : 1, sizeof *rows);
    int rc = td && sk && rows ? 0 : fail(err, 500, "internal", "out of memory");
    if (!rc) {
        keys_rotation_lock();
        rc = stage(app, deks, secrets, &tk, td, sk, rows, &n_new, err);
        seal_wipe(&tk, sizeof tk);
        if (!rc && keyring_room(app->keyring, n_new))
            rc = fail(err, 507, "too_many_keys",
                      "no room for %zu more data-encryption keys here; nothing was imported "
                      "(a rotation on the exporting instance first reduces them)",
                      n_new);
        if (!rc) {
            char label[80];
            key_label(src_spki, src_len, label);
            rc = commit(app, actor, bundle, td, sk, n_deks, rows, n_rows, label, fingerprint, out,
                        err);
        }
        keys_rotation_unlock();
    }
    seal_wipe(&tk, sizeof tk);
    if (td) seal_wipe(td, n_deks * sizeof *td);
    if (sk) seal_wipe(sk, n_deks * sizeof *sk);
    free(td);
    free(sk);
    if (rows) store_secret_refs_free(rows, n_rows);
    return rc;
}
