/* GET /v1/attestation?nonce=HEX (open): a report by the instance's evidence provider, bound
 * to the caller's fresh nonce, the instance key and the measurement. Only the software
 * provider exists so far: it says so (`hardware_backed: false`) and proves nothing to a
 * peer; hardware providers (configfs-tsm) plug in behind attestation/evidence.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "attestation/ecsig.h"
#include "attestation/evidence.h"
#include "gateway/checkpoint.h"
#include "gateway/handlers.h"

#define NONCE_MIN 16
#define NONCE_MAX 64

void h_attestation(struct request *r, char *p[MAX_PARAMS])
{
    const char *nonce_hex = http_query(r, "nonce");
    uint8_t nonce[NONCE_MAX];
    size_t nonce_len;
    if (!nonce_hex || hex_decode(nonce_hex, nonce, sizeof nonce, &nonce_len) || nonce_len < NONCE_MIN) {
        http_reply_error(r, 400, "invalid_request",
                         "nonce must be %d to %d bytes of hex (a fresh random value)", NONCE_MIN,
                         NONCE_MAX);
        return;
    }
    EVP_PKEY *key = keyring_instance_key(r->app->keyring);
    uint8_t spki[ECSIG_SPKI_MAX], report_data[64];
    size_t spki_len = 0;
    enum ecsig_scheme scheme = ECSIG_P256;
    char spki_hex[2 * ECSIG_SPKI_MAX + 1], meas_hex[65], nonce_norm[2 * NONCE_MAX + 1],
        rd_hex[129];
    if (ecsig_spki(key, spki, &spki_len, &scheme) ||
        evidence_report_data(nonce, nonce_len, spki, spki_len, r->app->measurement,
                             report_data)) {
        http_reply_error(r, 500, "internal", "cannot build the report");
        return;
    }
    hex_encode(spki, spki_len, spki_hex);
    hex_encode(r->app->measurement, 32, meas_hex);
    hex_encode(nonce, nonce_len, nonce_norm);
    hex_encode(report_data, sizeof report_data, rd_hex);
    json_t *rep = json_pack("{sssssbsssssssssssssI}", "provider", "software", "platform", "none",
                            "hardware_backed", 0, "tee_id", r->app->tee_id, "measurement", meas_hex,
                            "public_key", spki_hex, "key_scheme", ecsig_scheme_name(scheme),
                            "nonce", nonce_norm,
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
