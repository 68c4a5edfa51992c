/* Hardware evidence as configfs-tsm returns it in `outblob`: an Intel TDX quote (version 4) or
 * an AMD SEV-SNP attestation report. Pure parsing over a byte buffer (no I/O, no allocation):
 * the gateway's tsm provider and the CLI's verifier share it.
 *
 * What is parsed is what fnbox shows and checks: the platform's measurements (TDX MRTD and
 * RTMR0..3; SEV-SNP MEASUREMENT), the 64-byte report data that binds the quote to a report,
 * and the debug bit (a debuggable TEE lets its host read guest memory). What is NOT checked
 * here, or anywhere in fnbox: the quote's signature and its certificate chain up to Intel's or
 * AMD's root, and the TCB level. That needs Intel DCAP's quote verification library (TDX) or
 * `snpguest verify` with AMD's certificates (SEV-SNP), and network access to Intel PCS / AMD
 * KDS. Offsets (all integers little-endian): docs/attestation.md.
 *
 * quote_parse returns 0, or -EBADMSG with a reason in why (a short, garbled or unsupported
 * quote); -EINVAL for bad arguments. */
#ifndef FNBOX_QUOTE_H
#define FNBOX_QUOTE_H

#include <stddef.h>
#include <stdint.h>

enum quote_platform { QUOTE_NONE = 0, QUOTE_TDX = 1, QUOTE_SEV_SNP = 2 };

#define QUOTE_MR_LEN 48          /* SHA-384 registers: MRTD, RTMRs, SNP MEASUREMENT */
#define QUOTE_REPORT_DATA_LEN 64
#define QUOTE_MAX ((size_t)64 << 10) /* the kernel caps outblob at 32 KiB */

/* TDX quote v4: a 48-byte header, the 584-byte TD report body, then a u32 length and that
 * many bytes of signature data (ECDSA signature, attestation key, QE report, certificates). */
#define TDX_QUOTE_VERSION 4
#define TDX_TEE_TYPE 0x81u
#define TDX_OFF_VERSION 0         /* u16 */
#define TDX_OFF_ATT_KEY_TYPE 2    /* u16: 2 = ECDSA-256 with P-256, 3 = ECDSA-384 with P-384 */
#define TDX_OFF_TEE_TYPE 4        /* u32 */
#define TDX_HEADER_LEN 48
#define TDX_BODY_LEN 584
#define TDX_OFF_TD_ATTRIBUTES (TDX_HEADER_LEN + 120) /* u64; bit 0 = DEBUG */
#define TDX_OFF_MRTD (TDX_HEADER_LEN + 136)          /* 184 */
#define TDX_OFF_RTMR0 (TDX_HEADER_LEN + 328)         /* 376; RTMRn at 376 + 48n */
#define TDX_OFF_REPORT_DATA (TDX_HEADER_LEN + 520)   /* 568 */
#define TDX_OFF_SIG_LEN (TDX_HEADER_LEN + TDX_BODY_LEN) /* 632, u32 */
#define TDX_MIN_LEN (TDX_OFF_SIG_LEN + 4)               /* 636 */

/* SEV-SNP ATTESTATION_REPORT (SEV-SNP ABI specification, table "ATTESTATION_REPORT"):
 * exactly 0x4a0 bytes, the last 0x200 the VCEK's ECDSA P-384 signature. */
#define SNP_REPORT_LEN 0x4a0
#define SNP_OFF_VERSION 0x00      /* u32: 2 to 5 are this layout */
#define SNP_OFF_POLICY 0x08       /* u64; bit 19 = DEBUG allowed */
#define SNP_OFF_SIG_ALGO 0x34     /* u32: 1 = ECDSA P-384 with SHA-384 */
#define SNP_OFF_REPORT_DATA 0x50
#define SNP_OFF_MEASUREMENT 0x90
#define SNP_VERSION_MIN 2
#define SNP_VERSION_MAX 5

struct quote_info {
    enum quote_platform platform;
    uint32_t version;
    int debug; /* 1: the TEE is debuggable (TDX TD_ATTRIBUTES.DEBUG, SNP POLICY.DEBUG) */
    uint8_t report_data[QUOTE_REPORT_DATA_LEN];
    uint8_t mrtd[QUOTE_MR_LEN];    /* TDX */
    uint8_t rtmr[4][QUOTE_MR_LEN]; /* TDX */
    uint8_t measurement[QUOTE_MR_LEN]; /* SEV-SNP */
};

/* Parses q (len bytes) as a quote of platform p. Refused: a length other than the format's
 * (TDX: 636 + the signature data length it declares, exactly; SNP: exactly 0x4a0), a version,
 * TEE type, attestation key type or signature algorithm other than the ones above. */
int quote_parse(enum quote_platform p, const uint8_t *q, size_t len, struct quote_info *out,
                char *why, size_t whylen);

/* "tdx" / "sev-snp" (the report's `platform`), "none" otherwise. */
const char *quote_platform_name(enum quote_platform p);
/* From a report's `platform`; QUOTE_NONE when unknown. */
enum quote_platform quote_platform_from_name(const char *name);
/* From configfs-tsm's `provider` attribute ("tdx_guest", "sev_guest"); QUOTE_NONE when
 * unknown. */
enum quote_platform quote_platform_from_tsm(const char *provider);

#endif
