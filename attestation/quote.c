#include "attestation/quote.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Little-endian reads; the caller has checked off + width <= len. */
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

static int parse_tdx(const uint8_t *q, size_t len, struct quote_info *o, char *why, size_t whylen)
{
    if (len < TDX_MIN_LEN)
        return refuse(why, whylen, "TDX quote is %zu bytes, shorter than header and TD report "
                                   "(%d)", len, TDX_MIN_LEN);
    uint32_t version = le16(q + TDX_OFF_VERSION), key = le16(q + TDX_OFF_ATT_KEY_TYPE);
    uint32_t tee = le32(q + TDX_OFF_TEE_TYPE);
    if (version != TDX_QUOTE_VERSION)
        return refuse(why, whylen, "TDX quote version %u is not supported (only %d)", version,
                      TDX_QUOTE_VERSION);
    if (tee != TDX_TEE_TYPE)
        return refuse(why, whylen, "quote TEE type 0x%x is not TDX (0x81)", tee);
    if (key != 2 && key != 3)
        return refuse(why, whylen, "TDX quote attestation key type %u is not 2 or 3", key);
    /* The signature data runs to the end: a length that points past it, or leaves bytes after
     * it, means the quote is not one well-formed quote. (Compared in 64 bits: no overflow.) */
    uint64_t sig_len = le32(q + TDX_OFF_SIG_LEN);
    if ((uint64_t)TDX_MIN_LEN + sig_len != (uint64_t)len)
        return refuse(why, whylen, "TDX quote declares %llu bytes of signature data, it has %zu",
                      (unsigned long long)sig_len, len - TDX_MIN_LEN);
    o->version = version;
    o->debug = (int)(le64(q + TDX_OFF_TD_ATTRIBUTES) & 1u);
    memcpy(o->mrtd, q + TDX_OFF_MRTD, QUOTE_MR_LEN);
    for (int i = 0; i < 4; i++)
        memcpy(o->rtmr[i], q + TDX_OFF_RTMR0 + (size_t)i * QUOTE_MR_LEN, QUOTE_MR_LEN);
    memcpy(o->report_data, q + TDX_OFF_REPORT_DATA, QUOTE_REPORT_DATA_LEN);
    return 0;
}

static int parse_snp(const uint8_t *q, size_t len, struct quote_info *o, char *why, size_t whylen)
{
    if (len != SNP_REPORT_LEN)
        return refuse(why, whylen, "SEV-SNP report is %zu bytes, not %d", len, SNP_REPORT_LEN);
    uint32_t version = le32(q + SNP_OFF_VERSION), algo = le32(q + SNP_OFF_SIG_ALGO);
    if (version < SNP_VERSION_MIN || version > SNP_VERSION_MAX)
        return refuse(why, whylen, "SEV-SNP report version %u is not supported (%d to %d)",
                      version, SNP_VERSION_MIN, SNP_VERSION_MAX);
    if (algo != 1)
        return refuse(why, whylen, "SEV-SNP signature algorithm %u is not ECDSA P-384 (1)", algo);
    o->version = version;
    o->debug = (int)((le64(q + SNP_OFF_POLICY) >> 19) & 1u);
    memcpy(o->report_data, q + SNP_OFF_REPORT_DATA, QUOTE_REPORT_DATA_LEN);
    memcpy(o->measurement, q + SNP_OFF_MEASUREMENT, QUOTE_MR_LEN);
    return 0;
}

int quote_parse(enum quote_platform p, const uint8_t *q, size_t len, struct quote_info *out,
                char *why, size_t whylen)
{
    if (!out || (!q && len)) return -EINVAL;
    memset(out, 0, sizeof *out);
    if (why && whylen) why[0] = 0;
    if (len > QUOTE_MAX) return refuse(why, whylen, "quote is %zu bytes, more than %zu", len,
                                       QUOTE_MAX);
    int rc;
    switch (p) {
    case QUOTE_TDX: rc = parse_tdx(q, len, out, why, whylen); break;
    case QUOTE_SEV_SNP: rc = parse_snp(q, len, out, why, whylen); break;
    default: return refuse(why, whylen, "unknown platform");
    }
    if (rc) memset(out, 0, sizeof *out);
    else out->platform = p;
    return rc;
}

const char *quote_platform_name(enum quote_platform p)
{
    return p == QUOTE_TDX ? "tdx" : p == QUOTE_SEV_SNP ? "sev-snp" : "none";
}

enum quote_platform quote_platform_from_name(const char *name)
{
    if (!name) return QUOTE_NONE;
    if (strcmp(name, "tdx") == 0) return QUOTE_TDX;
    if (strcmp(name, "sev-snp") == 0) return QUOTE_SEV_SNP;
    return QUOTE_NONE;
}

enum quote_platform quote_platform_from_tsm(const char *provider)
{
    if (!provider) return QUOTE_NONE;
    if (strcmp(provider, "tdx_guest") == 0) return QUOTE_TDX;
    if (strcmp(provider, "sev_guest") == 0) return QUOTE_SEV_SNP;
    return QUOTE_NONE;
}
