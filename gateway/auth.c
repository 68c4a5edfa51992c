#include "common/hex.h"
#include "gateway/auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const char *const role_names[] = {"", "invoker", "developer", "admin"};

enum role role_from_name(const char *name)
{
    for (int r = ROLE_INVOKER; r <= ROLE_ADMIN; r++)
        if (strcmp(name, role_names[r]) == 0) return (enum role)r;
    return ROLE_NONE;
}

const char *role_name(enum role r)
{
    return (r >= ROLE_INVOKER && r <= ROLE_ADMIN) ? role_names[r] : "";
}

static int sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -EIO;
}

int auth_token_create(struct store *s, enum role role, const char *owner, int64_t now,
                      int64_t expires_at, const struct audit_record *audit, char *token_out,
                      char *id_out)
{
    uint8_t secret[32], idbytes[8], hash[32];
    if (RAND_bytes(secret, sizeof secret) != 1 || RAND_bytes(idbytes, sizeof idbytes) != 1)
        return -EIO;
    memcpy(token_out, "fnbox_", 6);
    hex_encode(secret, sizeof secret, token_out + 6);
    OPENSSL_cleanse(secret, sizeof secret);
    memcpy(id_out, "tok_", 4);
    hex_encode(idbytes, sizeof idbytes, id_out + 4);
    int rc = sha256(token_out, strlen(token_out), hash);
    if (!rc) rc = store_token_insert(s, id_out, hash, role_name(role), owner, now, expires_at,
                                     audit);
    if (rc) OPENSSL_cleanse(token_out, TOKEN_LEN + 1);
    return rc;
}

int auth_check(struct store *s, const char *header, int64_t now, struct principal *p)
{
    memset(p, 0, sizeof *p);
    if (!header || strncasecmp(header, "Bearer ", 7) != 0) return -EACCES;
    const char *tok = header + 7;
    while (*tok == ' ') tok++;
    size_t n = strlen(tok);
    while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t')) n--;
    if (n != TOKEN_LEN || strncmp(tok, "fnbox_", 6) != 0) return -EACCES;
    uint8_t hash[32];
    if (sha256(tok, n, hash)) return -EIO;
    struct token_rec rec;
    int rc = store_token_lookup(s, hash, &rec);
    if (rc == -ENOENT) return -EACCES;
    if (rc) return rc;
    if (rec.revoked || (rec.expires_at && rec.expires_at <= now)) return -EACCES;
    p->role = role_from_name(rec.role);
    if (p->role == ROLE_NONE) return -EACCES;
    snprintf(p->owner, sizeof p->owner, "%s", rec.owner);
    snprintf(p->token_id, sizeof p->token_id, "%s", rec.id);
    return 0;
}
