/* API tokens: creation, and turning an Authorization header into a principal.
 * A token is "fnbox_" + 64 hex characters of fresh randomness; only its SHA-256 is stored.
 * Tokens never reach a log, an error or a response other than the one creating them. */
#ifndef FNBOX_AUTH_H
#define FNBOX_AUTH_H

#include <stdint.h>

#include "gateway/store.h"

enum role { ROLE_NONE = 0, ROLE_INVOKER, ROLE_DEVELOPER, ROLE_ADMIN };

struct principal {
    enum role role;
    char owner[64];
    char token_id[40];
};

#define TOKEN_LEN 70 /* "fnbox_" + 64 hex */

enum role role_from_name(const char *name);
const char *role_name(enum role r);

/* Creates and stores a token; token_out (TOKEN_LEN+1) and id_out (40) receive the new values.
 * expires_at 0: never. Returns 0 or a negative errno. */
int auth_token_create(struct store *s, enum role role, const char *owner, int64_t now,
                      int64_t expires_at, const struct audit_record *audit, char *token_out,
                      char *id_out);

/* 0 and *p filled for a valid, unexpired, unrevoked bearer token; -EACCES otherwise;
 * -EIO when the store failed. */
int auth_check(struct store *s, const char *authorization_header, int64_t now,
               struct principal *p);

#endif
