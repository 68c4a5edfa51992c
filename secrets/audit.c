#include "secrets/audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static int put_field(EVP_MD_CTX *md, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s);
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    return EVP_DigestUpdate(md, len, 4) == 1 && EVP_DigestUpdate(md, s, n) == 1 ? 0 : -EIO;
}

static int compute(const struct audit_record *r, char out[AUDIT_HASH_HEX])
{
    char seq[24], when[24], version[24] = "";
    snprintf(seq, sizeof seq, "%" PRId64, r->seq);
    snprintf(when, sizeof when, "%" PRId64, r->time);
    if (r->version) snprintf(version, sizeof version, "%" PRId64, r->version);
    static const char tag[] = "fnbox-audit-v1";
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[32];
    unsigned int dlen = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                     EVP_DigestUpdate(md, tag, sizeof tag - 1) == 1
                 ? 0
                 : -EIO;
    const char *fields[] = {seq, when, version, r->actor, r->action, r->function,
                            r->invocation_id, r->secret, r->outcome, r->prev_hash};
    for (size_t i = 0; !rc && i < sizeof fields / sizeof *fields; i++) rc = put_field(md, fields[i]);
    if (!rc && (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32)) rc = -EIO;
    EVP_MD_CTX_free(md);
    if (rc) return rc;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = 0;
    return 0;
}

int audit_hash(struct audit_record *r)
{
    return compute(r, r->hash);
}

int audit_follows(const struct audit_record *prev, const struct audit_record *r)
{
    const char *want_prev = prev ? prev->hash : AUDIT_GENESIS;
    int64_t want_seq = prev ? prev->seq + 1 : 1;
    if (r->seq != want_seq || strcmp(r->prev_hash, want_prev) != 0) return 0;
    char h[AUDIT_HASH_HEX];
    if (compute(r, h) != 0) return 0;
    return CRYPTO_memcmp(h, r->hash, AUDIT_HASH_HEX) == 0;
}
