#include "gateway/routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "gateway/checkpoint.h"
#include "gateway/handlers.h"

struct route {
    const char *method;
    const char *pattern; /* '*' matches one path segment and is passed to the handler */
    enum role min_role;  /* ROLE_NONE: open, no token */
    handler_fn fn;
};

static const struct route routes[] = {
    {"GET", "/healthz", ROLE_NONE, h_healthz},
    {"GET", "/readyz", ROLE_NONE, h_readyz},
    {"GET", "/metrics", ROLE_NONE, h_metrics},
    {"GET", "/v1/attestation", ROLE_NONE, h_attestation},
    {"POST", "/v1/tokens", ROLE_ADMIN, h_token_create},
    {"GET", "/v1/tokens", ROLE_ADMIN, h_token_list},
    {"DELETE", "/v1/tokens/*", ROLE_ADMIN, h_token_revoke},
    {"GET", "/v1/functions", ROLE_DEVELOPER, h_function_list},
    {"PUT", "/v1/functions/*", ROLE_DEVELOPER, h_function_deploy},
    {"GET", "/v1/functions/*", ROLE_DEVELOPER, h_function_get},
    {"DELETE", "/v1/functions/*", ROLE_DEVELOPER, h_function_delete},
    {"GET", "/v1/functions/*/versions", ROLE_DEVELOPER, h_function_versions},
    {"PUT", "/v1/functions/*/live", ROLE_DEVELOPER, h_function_live},
    {"POST", "/v1/functions/*/invoke", ROLE_INVOKER, h_function_invoke},
    {"PUT", "/v1/secrets/*", ROLE_DEVELOPER, h_secret_put},
    {"GET", "/v1/secrets", ROLE_DEVELOPER, h_secret_list},
    {"DELETE", "/v1/secrets/*", ROLE_DEVELOPER, h_secret_delete},
    /* any token may ask; the handler refuses non-admins and audits the refusal */
    {"GET", "/v1/audit", ROLE_INVOKER, h_audit_list},
    {"GET", "/v1/audit/verify", ROLE_INVOKER, h_audit_verify},
    {"POST", "/v1/audit/checkpoint", ROLE_ADMIN, h_audit_checkpoint},
    {"GET", "/v1/keys", ROLE_ADMIN, h_keys_list},
    {"POST", "/v1/keys/rotate", ROLE_ADMIN, h_keys_rotate},
    {"POST", "/v1/keys/export/challenge", ROLE_ADMIN, h_keys_challenge},
    {"POST", "/v1/keys/export", ROLE_ADMIN, h_keys_export},
    {"POST", "/v1/keys/import", ROLE_ADMIN, h_keys_import},
};

int64_t now_unix(void)
{
    return (int64_t)time(NULL);
}

/* Matches url against pattern; params point into buf (a copy of url). */
static int match(const char *pattern, const char *url, char *buf, size_t buflen,
                 char *params[MAX_PARAMS])
{
    if (strlen(url) >= buflen) return 0;
    strcpy(buf, url);
    int np = 0;
    const char *p = pattern;
    char *u = buf;
    while (*p && *u) {
        if (*p == '*') {
            char *seg_end = strchr(u, '/');
            if (seg_end == u || np == MAX_PARAMS) return 0;
            params[np++] = u;
            p++;
            if (!seg_end) {
                u += strlen(u);
                break;
            }
            *seg_end = 0;
            u = seg_end + 1;
            if (*p != '/') return 0;
            p++;
            continue;
        }
        if (*p != *u) return 0;
        p++;
        u++;
    }
    return *p == 0 && *u == 0;
}

int routes_prepare(struct request *r)
{
    char *params[MAX_PARAMS] = {0};
    const struct route *found = NULL;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (!match(routes[i].pattern, r->url, r->path, sizeof r->path, params)) continue;
        path_known = 1;
        if (strcmp(routes[i].method, r->method) == 0) {
            found = &routes[i];
            break;
        }
    }
    if (!found) {
        if (path_known) http_reply_error(r, 405, "method_not_allowed", "method not allowed");
        else http_reply_error(r, 404, "not_found", "no such route");
        return 1;
    }
    r->route = found;
    memcpy(r->params, params, sizeof params);
    if (found->min_role == ROLE_NONE) return 0;
    const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    int rc = auth_check(r->app->store, authz, now_unix(), &r->who);
    if (rc == -EACCES) {
        http_reply_error(r, 401, "unauthorized", "missing, invalid, expired or revoked token");
        return 1;
    }
    if (rc) {
        http_reply_error(r, 500, "internal", "cannot check the token");
        return 1;
    }
    if (r->who.role < found->min_role) {
        http_reply_error(r, 403, "forbidden", "this route needs the %s role",
                         role_name(found->min_role));
        return 1;
    }
    return 0;
}

void routes_run(struct request *r)
{
    const struct route *route = r->route;
    route->fn(r, r->params);
    checkpoint_tick(r->app);
}

json_t *body_json(struct request *r, int any)
{
    if (any && r->body_len == 0) return json_null();
    json_error_t err;
    /* any=1 is the invocation input, passed on as text: accept all valid JSON */
    size_t flags = any ? JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL : 0;
    json_t *v = r->body_len ? json_loadb(r->body, r->body_len, flags, &err) : NULL;
    if (!v) {
        http_reply_error(r, 400, "invalid_json", "request body is not valid JSON%s%s",
                         r->body_len ? ": " : "", r->body_len ? err.text : "");
        return NULL;
    }
    if (!any && !json_is_object(v)) {
        json_decref(v);
        http_reply_error(r, 400, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    return v;
}

const char *acting_owner(struct request *r)
{
    const char *q = http_query(r, "owner");
    if (r->who.role == ROLE_ADMIN) {
        if (!q) return r->who.owner;
        if (!valid_owner(q)) {
            http_reply_error(r, 400, "invalid_request", "invalid owner");
            return NULL;
        }
        return q;
    }
    if (q && strcmp(q, r->who.owner) != 0) {
        http_reply_error(r, 403, "forbidden", "only an admin may act for another owner");
        return NULL;
    }
    return r->who.owner;
}

int may_manage(struct request *r, const char *owner)
{
    if (r->who.role == ROLE_ADMIN) return 1;
    if (r->who.role == ROLE_DEVELOPER && strcmp(owner, r->who.owner) == 0) return 1;
    http_reply_error(r, 403, "forbidden", "this function belongs to another owner");
    return 0;
}

int check_function_name(struct request *r, const char *name)
{
    if (valid_function_name(name)) return 1;
    http_reply_error(r, 400, "invalid_name", "function names match [a-z0-9][a-z0-9_-]{0,62}");
    return 0;
}
