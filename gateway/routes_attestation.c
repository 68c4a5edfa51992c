/* GET /v1/attestation?nonce=HEX (open): a report by the instance's evidence provider, bound
 * to the caller's fresh nonce, the instance key and the measurement. Only the software
 * provider exists so far: it says so (`hardware_backed: false`) and proves nothing to a
 * peer; hardware providers (configfs-tsm) plug in behind attestation/evidence.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attestation/evidence.h"
#include "gateway/checkpoint.h"
#include "gateway/handlers.h"
#include "secrets/seal_p256.h"

#define NONCE_MIN 16
#define NONCE_MAX 64

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (!strchr("0123456789abcdefABCDEF", s[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", s[2 * i + 1]) || sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

void h_attestation(struct request *r, char *p[MAX_PARAMS])
{
    const char *nonce_hex = http_query(r, "nonce");
    uint8_t nonce[NONCE_MAX];
    size_t nonce_len;
    if (!nonce_hex || unhex(nonce_hex, nonce, sizeof nonce, &nonce_len) || nonce_len < NONCE_MIN) {
        http_reply_error(r, 400, "invalid_request",
                         "nonce must be %d to %d bytes of hex (a fresh random value)", NONCE_MIN,
                         NONCE_MAX);
        return;
    }
    EVP_PKEY *key = keyring_instance_key(r->app->keyring);
    uint8_t spki[SEAL_P256_SPKI_LEN], report_data[64];
    char spki_hex[2 * SEAL_P256_SPKI_LEN + 1], meas_hex[65], nonce_norm[2 * NONCE_MAX + 1],
        rd_hex[129];
    if (seal_p256_public_der(key, spki) ||
        evidence_report_data(nonce, nonce_len, spki, sizeof spki, r->app->measurement,
                             report_data)) {
        http_reply_error(r, 500, "internal", "cannot build the report");
        return;
    }
    hex(spki, sizeof spki, spki_hex);
    hex(r->app->measurement, 32, meas_hex);
    hex(nonce, nonce_len, nonce_norm);
    hex(report_data, sizeof report_data, rd_hex);
    json_t *rep = json_pack("{sssssbsssssssssssssI}", "provider", "software", "platform", "none",
                            "hardware_backed", 0, "tee_id", r->app->tee_id, "measurement", meas_hex,
                            "public_key", spki_hex, "key_scheme", "p256", "nonce", nonce_norm,
                            "report_data", rd_hex, "time", (json_int_t)time(NULL));
    if (!rep || evidence_report_sign(key, rep) != 0) {
        json_decref(rep);
        http_reply_error(r, 500, "internal", "cannot sign the report");
        return;
    }
    /* the signed audit head travels with it (it carries its own signature) */
    json_object_set_new(rep, "audit_checkpoint", checkpoint_latest());
    http_reply_json(r, 200, rep);
}
