#include "attestation/provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "attestation/ecsig.h"
#include "attestation/evidence.h"
#include "attestation/tsm.h"

struct evidence_provider {
    struct tsm *tsm; /* NULL: software */
};

int evidence_mode_parse(const char *s, enum evidence_mode *mode)
{
    if (!s) return -EINVAL;
    if (strcmp(s, "software") == 0) *mode = EVIDENCE_SOFTWARE;
    else if (strcmp(s, "tsm") == 0) *mode = EVIDENCE_TSM;
    else if (strcmp(s, "auto") == 0) *mode = EVIDENCE_AUTO;
    else return -EINVAL;
    return 0;
}

/* One quote end to end at start-up, so that a provider that cannot deliver is found now, not
 * by the first caller. Its report data binds nothing and the quote is discarded. */
static int probe(struct tsm *t, char *why, size_t whylen)
{
    static const char label[] = "fnbox tsm start-up probe";
    uint8_t rd[QUOTE_REPORT_DATA_LEN], *q = NULL;
    size_t len = 0;
    SHA512((const unsigned char *)label, sizeof label - 1, rd);
    int rc = tsm_quote(t, rd, &q, &len, why, whylen);
    free(q);
    return rc;
}

int evidence_provider_open(enum evidence_mode mode, const char *tsm_root, int chown_to_uid,
                           uid_t uid, gid_t gid, struct evidence_provider **out, char *fallback,
                           size_t fallback_len, char *why, size_t whylen)
{
    *out = NULL;
    if (fallback && fallback_len) fallback[0] = 0;
    if (why && whylen) why[0] = 0;
    struct evidence_provider *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    if (mode == EVIDENCE_SOFTWARE) {
        *out = p;
        return 0;
    }
    char err[256] = "";
    int rc = tsm_open(tsm_root, chown_to_uid, uid, gid, &p->tsm, err, sizeof err);
    if (!rc && (rc = probe(p->tsm, err, sizeof err))) {
        tsm_close(p->tsm);
        p->tsm = NULL;
    }
    if (rc && mode == EVIDENCE_AUTO) { /* software, and say why */
        if (fallback && fallback_len) snprintf(fallback, fallback_len, "%s", err);
        rc = 0;
    }
    if (rc) {
        if (why && whylen) snprintf(why, whylen, "%s", err);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int evidence_provider_check(struct evidence_provider *p, char *why, size_t whylen)
{
    if (why && whylen) why[0] = 0;
    return p && p->tsm ? probe(p->tsm, why, whylen) : 0;
}

const char *evidence_provider_name(const struct evidence_provider *p)
{
    return p && p->tsm ? "tsm" : "software";
}

const char *evidence_provider_platform(const struct evidence_provider *p)
{
    return p && p->tsm ? quote_platform_name(tsm_platform(p->tsm)) : "none";
}

const char *evidence_provider_tee_id(const struct evidence_provider *p)
{
    return p && p->tsm ? evidence_provider_platform(p) : "software";
}

int evidence_provider_report(struct evidence_provider *p, EVP_PKEY *key, const uint8_t *nonce,
                             size_t nonce_len, const uint8_t measurement[32],
                             const char *confinement, int64_t time, json_t **out, char *why,
                             size_t whylen)
{
    *out = NULL;
    if (why && whylen) why[0] = 0;
    if (!p) return -EINVAL;
    if (!p->tsm)
        return evidence_software_report(key, nonce, nonce_len, measurement, confinement, time,
                                        out);
    uint8_t spki[EVIDENCE_SPKI_MAX], rd[EVIDENCE_REPORT_DATA_LEN], *q = NULL;
    size_t spki_len, qlen = 0;
    int rc = ecsig_spki(key, spki, &spki_len, NULL);
    if (!rc) rc = evidence_report_data(nonce, nonce_len, spki, spki_len, measurement, rd);
    if (rc) return rc;
    if ((rc = tsm_quote(p->tsm, rd, &q, &qlen, why, whylen))) return rc;
    rc = evidence_tsm_report(key, tsm_platform(p->tsm), q, qlen, nonce, nonce_len, measurement,
                             confinement, time, out, why, whylen);
    free(q);
    return rc;
}

void evidence_provider_close(struct evidence_provider *p)
{
    if (!p) return;
    tsm_close(p->tsm);
    free(p);
}
