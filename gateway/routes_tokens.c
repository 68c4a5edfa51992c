/* Token routes (admin only): create, list (never the token itself), revoke. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "gateway/handlers.h"

#define MAX_EXPIRES_IN (10LL * 365 * 24 * 3600)

void h_token_create(struct request *r, char *p[MAX_PARAMS])
{
    json_t *body = body_json(r, 0);
    if (!body) return;
    const char *role_s = json_string_value(json_object_get(body, "role"));
    const char *owner = json_string_value(json_object_get(body, "owner"));
    json_t *exp = json_object_get(body, "expires_in");
    enum role role = role_s ? role_from_name(role_s) : ROLE_NONE;
    if (role == ROLE_NONE) {
        http_reply_error(r, 400, "invalid_request", "role must be admin, developer or invoker");
        goto out;
    }
    if (!owner || !valid_owner(owner)) {
        http_reply_error(r, 400, "invalid_request", "owner must match [a-z0-9][a-z0-9_-]{0,62}");
        goto out;
    }
    int64_t now = now_unix(), expires_at = 0;
    if (exp && !json_is_null(exp)) {
        if (!json_is_integer(exp) || json_integer_value(exp) < 1 ||
            json_integer_value(exp) > MAX_EXPIRES_IN) {
            http_reply_error(r, 400, "invalid_request", "expires_in must be 1..%lld seconds",
                             MAX_EXPIRES_IN);
            goto out;
        }
        expires_at = now + json_integer_value(exp);
    }
    char token[TOKEN_LEN + 1], id[40];
    struct audit_record audit = {
        .time = now, .actor = r->who.owner, .action = "token.create", .outcome = "ok"};
    if (auth_token_create(r->app->store, role, owner, now, expires_at, &audit, token, id)) {
        http_reply_error(r, 500, "internal", "cannot create the token");
        goto out;
    }
    http_reply_json(r, 201,
                    json_pack("{sssssssssIso}", "token", token, "id", id, "role", role_name(role),
                              "owner", owner, "created_at", (json_int_t)now, "expires_at",
                              expires_at ? json_integer(expires_at) : json_null()));
    OPENSSL_cleanse(token, sizeof token);
out:
    json_decref(body);
}

void h_token_list(struct request *r, char *p[MAX_PARAMS])
{
    json_t *list;
    if (store_token_list(r->app->store, &list)) {
        http_reply_error(r, 500, "internal", "cannot list tokens");
        return;
    }
    http_reply_json(r, 200, json_pack("{so}", "tokens", list));
}

void h_token_revoke(struct request *r, char *p[MAX_PARAMS])
{
    int rc = store_token_revoke(r->app->store, p[0]);
    if (rc == -ENOENT) http_reply_error(r, 404, "not_found", "no such token");
    else if (rc) http_reply_error(r, 500, "internal", "cannot revoke the token");
    else http_reply_text(r, 204, NULL, 0, "application/json");
}
