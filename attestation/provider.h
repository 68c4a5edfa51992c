/* The evidence provider behind GET /v1/attestation: one interface, two implementations.
 *   software  no hardware: a report signed by the instance key alone (evidence_software_report)
 *   tsm       a TDX quote or SEV-SNP report from configfs-tsm (attestation/tsm.h) whose report
 *             data is SHA-512(nonce ‖ key ‖ measurement), in a report signed by the instance
 *             key too (evidence_tsm_report)
 *   auto      tsm when ROOT/report exists and answers a probe quote; software otherwise
 * evidence_provider_open chooses and probes once, at start-up, before the privilege drop
 * (see tsm.h). The provider's tee_id ("software", "tdx", "sev-snp") also names it in the
 * key-encryption key's derivation (secrets/seal.h). 0 or a negative errno, why says why. */
#ifndef FNBOX_PROVIDER_H
#define FNBOX_PROVIDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/evp.h>

enum evidence_mode { EVIDENCE_SOFTWARE, EVIDENCE_TSM, EVIDENCE_AUTO };

/* "software" | "tsm" | "auto"; -EINVAL otherwise. */
int evidence_mode_parse(const char *s, enum evidence_mode *mode);

struct evidence_provider;

/* tsm_root: the configfs-tsm directory; chown_to_uid, uid, gid: as tsm_open. With auto, a tsm
 * that is absent or fails its probe gives software, and *fallback (may be NULL) receives
 * why; with tsm it is an error. */
int evidence_provider_open(enum evidence_mode mode, const char *tsm_root, int chown_to_uid,
                           uid_t uid, gid_t gid, struct evidence_provider **out, char *fallback,
                           size_t fallback_len, char *why, size_t whylen);
/* Probes again (tsm: one quote end to end; software: nothing). main.c calls it after the
 * privilege drop: the entry must still be reachable as the gateway's uid. */
int evidence_provider_check(struct evidence_provider *p, char *why, size_t whylen);

const char *evidence_provider_name(const struct evidence_provider *p);     /* software, tsm */
const char *evidence_provider_platform(const struct evidence_provider *p); /* none, tdx, sev-snp */
const char *evidence_provider_tee_id(const struct evidence_provider *p);

/* A signed report for nonce (16..64 bytes), measurement and confinement (the active worker
 * confinement, an evidence_confinement_string: the caller knows it, the provider does not);
 * *out the caller's to json_decref. Thread-safe. -EIO/-ETIMEDOUT/-EBADMSG when the hardware
 * gives no usable quote (why); -EINVAL for a malformed confinement. */
int evidence_provider_report(struct evidence_provider *p, EVP_PKEY *key, const uint8_t *nonce,
                             size_t nonce_len, const uint8_t measurement[32],
                             const char *confinement, int64_t time, json_t **out, char *why,
                             size_t whylen);

void evidence_provider_close(struct evidence_provider *p);

#endif
