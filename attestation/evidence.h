/* Attestation reports: the report_data binding, the canonical bytes a report signature covers,
 * signing a report with the instance key (either key scheme of attestation/ecsig.h: p256 or
 * secp256k1), and verifying a `software` report. Also the P-256 signature primitives of the
 * first format (wrappers over ecsig.c). Plain C over libcrypto and jansson only: no seal_*, no
 * gateway/ — the CLI links evidence.c, receipt.c, ecsig.c and keccak.c alone.
 * Byte-by-byte formats: docs/attestation.md.
 *
 *   report_data = SHA-512(nonce ‖ SPKI DER of the instance public key ‖ measurement (32 bytes))
 *
 *   canonical report bytes (what `signature` signs, ECDSA over SHA-256 with the key), v3:
 *     "fnbox-attestation-v3\n" provider "\n" platform "\n" tee_id "\n" measurement "\n"
 *     public_key "\n" nonce "\n" report_data "\n" decimal(time) "\n" confinement "\n"
 *   with every field exactly the JSON string (lowercase hex where hex). hardware_backed,
 *   key_scheme and address are not in the bytes: the verifier requires their only valid values
 *   instead (key_scheme: the scheme of public_key, whose SPKI names its curve; address,
 *   present for secp256k1 only: the Ethereum address of public_key).
 *   A report that carries a hardware `quote` (provider tsm) is signed in format v4:
 *     "fnbox-attestation-v4\n", the same first eight lines, hex(SHA-256(raw quote)) "\n",
 *     confinement "\n"
 *   so the instance key signs the quote it presents; the quote's own report data is the
 *   report_data above, which binds the quote to the key and the nonce. (v1 and v2, the same
 *   without the confinement line, are no longer made nor accepted: a report is made fresh
 *   for each nonce, so there are no old ones to keep verifying.)
 *
 *   confinement: the worker confinement active on the instance (what /readyz shows), as a
 *   comma-separated list of the tokens below, sorted (strcmp), each at most once, or "none"
 *   when none is active. Signed, so a peer learns it from the key holder, not the transport;
 *   like everything in a software report, it is the instance's own claim.
 *
 * A `software` report is signed by the very key it vouches for. It proves that whoever
 * answered holds that key and saw the nonce — nothing about what runs, or where: anyone can
 * produce one for any measurement. It is for development and CI only; evidence_report_verify
 * checks it is internally consistent and says nothing more. A `tsm` report carries a TDX quote
 * or SEV-SNP report (attestation/quote.h) whose report data must be report_data; the
 * verifier checks that binding and the fields it shows, NOT the quote's vendor signature chain
 * (Intel DCAP QVL / `snpguest verify` do that).
 *
 * Hex in reports and receipts is lowercase only (a verifier refuses 'A'..'F': one meaning, one
 * spelling). Expected values passed in by a caller (nonce, measurement, public key) may be any
 * case. Return values: 0; -EBADMSG (a report, receipt or signature that does not check: `why`
 * says which); -EINVAL (bad arguments, or a field a builder refuses); -ENOMEM; -EIO. */
#ifndef FNBOX_EVIDENCE_H
#define FNBOX_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "attestation/quote.h"

#define EVIDENCE_MEASUREMENT_LEN 32
#define EVIDENCE_REPORT_DATA_LEN 64
#define EVIDENCE_NONCE_MIN 16 /* bytes, as GET /v1/attestation?nonce= accepts them */
#define EVIDENCE_NONCE_MAX 64
#define EVIDENCE_SPKI_MAX 256
#define EVIDENCE_P256_SPKI_LEN 91 /* SubjectPublicKeyInfo DER of a P-256 key, uncompressed */
#define EVIDENCE_SIG_DER_MAX 72
#define EVIDENCE_SIG_RS_LEN 64 /* r ‖ s, 32 bytes each, big-endian */
#define EVIDENCE_WHY_MAX 160   /* a why buffer of this size never truncates */

/* ---- confinement ---- */

/* One bit per confinement mechanism; EVIDENCE_CONFINEMENT_TOKENS (evidence.c) names them in
 * the same order, which is also the tokens' sorted order — so building the string in bit
 * order gives the one sorted spelling. Add a mechanism by inserting it at its sorted place. */
enum evidence_confinement {
    EVIDENCE_CONF_BOUNDING_SET_DROPPED = 1u << 0, /* "bounding-set-dropped" */
    EVIDENCE_CONF_FS_HIDDEN = 1u << 1,            /* "fs-hidden": empty mount root */
    EVIDENCE_CONF_IPC_NS = 1u << 2,               /* "ipc-ns" */
    EVIDENCE_CONF_NET_NS = 1u << 3,               /* "net-ns" */
    EVIDENCE_CONF_NO_NEW_PRIVS = 1u << 4,         /* "no-new-privs" */
    EVIDENCE_CONF_PID_NS = 1u << 5,               /* "pid-ns" */
    EVIDENCE_CONF_SECCOMP = 1u << 6,              /* "seccomp" */
    EVIDENCE_CONF_UID_SWITCH = 1u << 7,           /* "uid-switch": workers run as another uid */
    EVIDENCE_CONF_USER_NS = 1u << 8,              /* "user-ns" */
    EVIDENCE_CONF_UTS_NS = 1u << 9,               /* "uts-ns" */
    EVIDENCE_CONF_ZYGOTE_SECCOMP = 1u << 10,      /* "zygote-seccomp" */
};
#define EVIDENCE_CONF_COUNT 11
#define EVIDENCE_CONFINEMENT_MAX 192 /* the longest string (every token) and its NUL fit */

/* The token of bit i (0 <= i < EVIDENCE_CONF_COUNT); NULL otherwise. */
const char *evidence_confinement_token(unsigned i);

/* The confinement string of mask (bits of enum evidence_confinement; others: -EINVAL) into
 * out: its tokens, sorted, comma-separated; "none" for 0. -ENOSPC when cap is too small. */
int evidence_confinement_string(unsigned mask, char *out, size_t cap);

/* Parses a confinement string: 0 and *mask when it is exactly what evidence_confinement_string
 * gives for some mask (known tokens, sorted, no repeats, no empty token, "none" alone);
 * -EINVAL with why (may be NULL) otherwise. */
int evidence_confinement_parse(const char *s, unsigned *mask, char *why, size_t whylen);

/* ---- report_data and reports ---- */

/* out = SHA-512(nonce ‖ spki ‖ measurement). Any lengths (nonce_len may be 0); 0 or -EINVAL
 * (NULL with a non-zero length), -EIO. */
int evidence_report_data(const uint8_t *nonce, size_t nonce_len, const uint8_t *spki,
                         size_t spki_len, const uint8_t measurement[EVIDENCE_MEASUREMENT_LEN],
                         uint8_t out[EVIDENCE_REPORT_DATA_LEN]);

/* The canonical bytes of a report (its `signature`, `hardware_backed`, `key_scheme` and any
 * other member but `quote` and `confinement` are not part of them). *bytes is malloc'd, NUL-terminated (not counted in
 * *len), the caller's to free. Refused (-EINVAL, *bytes NULL): a member missing or of the
 * wrong type; measurement not 64 lowercase hex digits; report_data not 128; public_key or
 * nonce not lowercase hex of whole bytes; nonce outside 16..64 bytes; time negative; provider,
 * platform or tee_id empty or holding '\n' or NUL; confinement missing or not a string
 * evidence_confinement_parse accepts. */
int evidence_report_bytes(const json_t *report, char **bytes, size_t *len);

/* Signs a report with key (a p256 or secp256k1 key pair): sets "key_scheme" ("p256" or
 * "secp256k1"), "public_key" (hex SPKI DER of key), for secp256k1 "address" (removed for p256),
 * "report_data" (computed from nonce, public_key and measurement) and "signature" (hex DER,
 * low-s). The caller sets provider, platform, hardware_backed, tee_id, measurement,
 * nonce, time and confinement. A public_key or report_data already present that differs from what key and
 * the fields give: -EINVAL (a hardware quote bound to other data must not be signed over). */
int evidence_report_sign(EVP_PKEY *key, json_t *report);

/* A complete `software` report: {"provider":"software","platform":"none",
 * "hardware_backed":false,"tee_id":"software","measurement","public_key","key_scheme",
 * "address" (secp256k1 only),"nonce","report_data","time","confinement","signature"} (format
 * v3). confinement: a string evidence_confinement_parse accepts (else -EINVAL). *out is the
 * caller's to json_decref. */
int evidence_software_report(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_len,
                             const uint8_t measurement[EVIDENCE_MEASUREMENT_LEN],
                             const char *confinement, int64_t time, json_t **out);

/* A complete `tsm` report: {"provider":"tsm","platform":"tdx"|"sev-snp","hardware_backed":true,
 * "tee_id": the platform, "measurement","public_key","key_scheme","nonce","report_data","time",
 * "confinement", "quote": hex of the raw quote, "tdx":{version,debug,mrtd,rtmr0..rtmr3} or
 * "sev_snp":{version,debug,measurement}, "signature"} (format v4). Refused with -EBADMSG and a
 * reason: a quote that does not parse for platform, or whose report data is not
 * SHA-512(nonce ‖ key ‖ measurement); -EINVAL: as evidence_software_report. */
int evidence_tsm_report(EVP_PKEY *key, enum quote_platform platform, const uint8_t *quote,
                        size_t quote_len, const uint8_t *nonce, size_t nonce_len,
                        const uint8_t measurement[EVIDENCE_MEASUREMENT_LEN],
                        const char *confinement, int64_t time, json_t **out, char *why,
                        size_t whylen);

/* Verifies a report: 0 only when the provider is "software" with platform "none",
 * hardware_backed false, tee_id "software", no quote — or the provider is "tsm" with
 * platform "tdx" or "sev-snp", hardware_backed true, tee_id the platform, a quote that parses
 * for the platform, is not debuggable, carries report_data as its report data and whose parsed
 * fields are the report's "tdx"/"sev_snp" member exactly; the nonce equals nonce_hex
 * (required: the caller's fresh nonce, any case); the measurement equals
 * expect_measurement_hex when that is not NULL; public_key is one p256 or secp256k1 SPKI in
 * its one spelling; key_scheme names that key's scheme; address is present exactly for
 * secp256k1 and is the key's; report_data
 * is SHA-512(nonce ‖ public_key ‖ measurement); time is a non-negative integer; confinement
 * is a string evidence_confinement_parse accepts (what it says is the caller's to judge); and
 * signature is a valid ECDSA-SHA256 DER signature of the canonical bytes by public_key.
 * Members outside the format (an audit head, which carries its own signature) are ignored:
 * the signature does not cover them. Freshness is the nonce's job; time is not checked.
 * -EBADMSG with why (NUL-terminated, at most whylen bytes; "ok" on success) otherwise;
 * -EINVAL when nonce_hex or expect_measurement_hex is malformed. */
int evidence_report_verify(const json_t *report, const char *nonce_hex,
                           const char *expect_measurement_hex, char *why, size_t whylen);

/* ---- P-256 views of the signature primitives (attestation/ecsig.h signs, either scheme) ---- */

/* 0 when der is a valid ECDSA-SHA256 signature (DER, either s) of msg by the P-256 key whose
 * SubjectPublicKeyInfo DER is spki; -EBADMSG when not; -EINVAL when spki is not exactly one
 * P-256 public key in its one DER encoding (91 bytes, uncompressed point, no unused bits). */
int evidence_p256_verify(const uint8_t *spki, size_t spki_len, const void *msg, size_t len,
                         const uint8_t *der, size_t der_len);

/* Parses a DER ECDSA signature (strict DER, r and s in 1..n−1) and gives its low-s form as
 * r ‖ s and as DER. *was_high (may be NULL) is 1 when s had to be replaced by n−s. -EBADMSG
 * when der is not such a signature. */
int evidence_sig_low_s(const uint8_t *der, size_t der_len, uint8_t rs[EVIDENCE_SIG_RS_LEN],
                       uint8_t der_out[EVIDENCE_SIG_DER_MAX], size_t *der_out_len, int *was_high);

/* The SubjectPublicKeyInfo DER of a P-256 key (*len bytes). -EINVAL when not P-256. */
int evidence_p256_spki(EVP_PKEY *key, uint8_t spki[EVIDENCE_SPKI_MAX], size_t *len);

/* ---- hex ---- */

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void evidence_hex(const uint8_t *in, size_t n, char *out);
/* Writes a verification failure's reason into why (when why is not NULL). */
void evidence_note(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes hex (an even number of digits, lowercase only unless any_case) into out (at most
 * cap bytes); *n the byte count. -EINVAL: not such hex, or longer than cap. */
int evidence_unhex(const char *hex, int any_case, uint8_t *out, size_t cap, size_t *n);

#endif
