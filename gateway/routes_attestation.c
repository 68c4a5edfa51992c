/* GET /v1/attestation?nonce=HEX (open): a report by the instance's evidence provider
 * (attestation/provider.h: software, or a TDX/SEV-SNP quote through configfs-tsm), bound to
 * the caller's fresh nonce, the instance key and the measurement, and signed by the instance
 * key, with the active worker confinement (as /readyz shows it) in the signed bytes. A software
 * report says so (`hardware_backed: false`) and proves nothing to a peer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "common/log.h"
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
    json_t *rep = NULL;
    char why[256], conf[EVIDENCE_CONFINEMENT_MAX];
    /* the confinement /readyz shows, signed into the report (cannot fail: the buffer holds
     * every token) */
    if (confinement_string(&r->app->zygote.hello, conf, sizeof conf)) {
        http_reply_error(r, 500, "internal", "cannot describe the confinement");
        return;
    }
    int rc = evidence_provider_report(r->app->evidence, key, nonce, nonce_len,
                                      r->app->measurement, conf, (int64_t)time(NULL), &rep, why,
                                      sizeof why);
    if (rc) {
        /* the hardware gave no quote bound to this nonce: nothing is signed without one */
        LOG_W("attestation: %s", why[0] ? why : strerror(-rc));
        http_reply_error(r, 503, "attestation_unavailable",
                         "the evidence provider could not produce a report: %s",
                         why[0] ? why : strerror(-rc));
        return;
    }
    /* the signed audit head travels with it (it carries its own signature) */
    json_object_set_new(rep, "audit_checkpoint", checkpoint_latest());
    http_reply_json(r, 200, rep);
}
