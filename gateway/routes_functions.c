/* Function routes: deploy (syntax-checked in a worker), list, get, versions, live, delete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/log.h"
#include "common/proto.h"
#include "gateway/handlers.h"
#include "gateway/invoke.h"

#define CHECK_TIMEOUT_MS 5000

struct deploy_task {
    struct request *r;
    char actor[64];
    struct fn_version v;
    struct fn_limits limits;
};

static void deploy_task_free(struct deploy_task *t)
{
    fn_version_free(&t->v);
    free(t);
}

static void finish_deploy(struct deploy_task *t)
{
    struct request *r = t->r;
    int64_t version;
    struct audit_record audit = {.time = now_unix(), .actor = t->actor, .action = "function.deploy",
                                 .function = t->v.name, .outcome = "ok"};
    int rc = store_function_deploy(r->app->store, &t->v, &audit, &version);
    if (rc == -EEXIST) {
        http_reply_error(r, 409, "name_taken", "function '%s' belongs to another owner", t->v.name);
        return;
    }
    if (rc) {
        http_reply_error(r, 500, "internal", "cannot store the function");
        return;
    }
    struct fn_version live;
    int64_t live_version = version;
    if (store_function_get(r->app->store, t->v.name, 0, &live) == 0) {
        live_version = live.version;
        fn_version_free(&live);
    }
    http_reply_json(r, 201,
                    json_pack("{sssIsssIssss}", "name", t->v.name, "version", (json_int_t)version,
                              "code_sha256", t->v.code_sha256, "live_version",
                              (json_int_t)live_version, "owner", t->v.owner, "isolation",
                              isolation_name(t->v.snapshot)));
}

static void run_deploy(void *arg)
{
    struct deploy_task *t = arg;
    struct request *r = t->r;
    struct invoke_request req = {.mode = JOB_MODE_CHECK, .code = t->v.code, .limits = t->limits};
    if (req.limits.timeout_ms > CHECK_TIMEOUT_MS) req.limits.timeout_ms = CHECK_TIMEOUT_MS;
    struct invoke_result res;
    if (invoke_run(r->app->zc, &req, &res)) {
        http_reply_error(r, 500, "internal", "out of memory");
    } else if (res.outcome == OUTCOME_OK) {
        finish_deploy(t);
    } else {
        const char *code = json_string_value(json_object_get(res.error, "code"));
        const char *msg = json_string_value(json_object_get(res.error, "message"));
        json_t *line = json_object_get(res.error, "line");
        if (code && strcmp(code, ERR_SYNTAX) == 0) {
            json_t *e = json_pack("{ssss}", "code", "syntax_error", "message", msg ? msg : "");
            if (e && json_is_integer(line)) json_object_set(e, "line", line);
            http_reply_json(r, 400, json_pack("{so}", "error", e));
        } else if (res.outcome == OUTCOME_INTERNAL) {
            http_reply_error(r, 500, "internal", "cannot check the code: %s", msg ? msg : "");
        } else {
            http_reply_error(r, 400, "invalid_code", "the code could not be compiled: %s",
                             msg ? msg : outcome_code(res.outcome));
        }
    }
    invoke_result_free(&res);
    deploy_task_free(t);
    http_resume(r); /* last: after this the request may be freed by another thread */
}

void h_function_deploy(struct request *r, char *p[MAX_PARAMS])
{
    const char *name = p[0];
    if (!check_function_name(r, name)) return;
    const char *owner = acting_owner(r);
    if (!owner) return;
    json_t *body = body_json(r, 0), *hosts = NULL, *grants = NULL;
    if (!body) return;
    struct deploy_task *t = NULL;
    char err[256] = "";
    const char *code = json_string_value(json_object_get(body, "code"));
    json_t *entry_j = json_object_get(body, "entry");
    const char *entry = entry_j ? json_string_value(entry_j) : "main";
    struct fn_limits limits;
    json_t *sign = json_object_get(body, "sign");
    if (sign && !json_is_boolean(sign)) {
        http_reply_error(r, 400, "invalid_request", "sign must be true or false");
        goto out;
    }
    json_t *isolation = json_object_get(body, "isolation");
    int snapshot = 0;
    if (isolation && isolation_parse(json_string_value(isolation), &snapshot) != 0) {
        http_reply_error(r, 400, "invalid_request", "isolation must be \"process\" or \"snapshot\"");
        goto out;
    }
    if (!code || !*code) {
        http_reply_error(r, 400, "invalid_request", "code must be a non-empty string");
        goto out;
    }
    if (!entry || !valid_entry(entry)) {
        http_reply_error(r, 400, "invalid_request", "entry must be a JavaScript identifier");
        goto out;
    }
    if (limits_parse(json_object_get(body, "limits"), &r->app->cfg.max, &limits, err, sizeof err)) {
        http_reply_error(r, 400, "invalid_limits", "%s", err);
        goto out;
    }
    if (allow_hosts_parse(json_object_get(body, "allow_hosts"), &hosts, err, sizeof err) ||
        grants_parse(json_object_get(body, "secrets"), &grants, err, sizeof err)) {
        http_reply_error(r, 400, "invalid_request", "%s", err[0] ? err : "out of memory");
        goto out;
    }
    struct fn_version existing;
    int rc = store_function_get(r->app->store, name, 0, &existing);
    if (rc == 0) {
        int other = strcmp(existing.owner, owner) != 0;
        fn_version_free(&existing);
        if (other) {
            http_reply_error(r, 409, "name_taken", "function '%s' belongs to another owner", name);
            goto out;
        }
    } else if (rc != -ENOENT) {
        http_reply_error(r, 500, "internal", "cannot read the store");
        goto out;
    }
    t = calloc(1, sizeof *t);
    json_t *limits_j = limits_to_json(&limits);
    if (t) {
        t->r = r;
        t->limits = limits;
        snprintf(t->actor, sizeof t->actor, "%s", r->who.owner);
        snprintf(t->v.name, sizeof t->v.name, "%s", name);
        snprintf(t->v.owner, sizeof t->v.owner, "%s", owner);
        snprintf(t->v.entry, sizeof t->v.entry, "%s", entry);
        t->v.code = strdup(code);
        t->v.limits_json = limits_j ? json_dumps(limits_j, JSON_COMPACT) : NULL;
        t->v.allow_hosts_json = json_dumps(hosts, JSON_COMPACT);
        t->v.secrets_json = json_dumps(grants, JSON_COMPACT);
        t->v.created_at = now_unix();
        t->v.sign = json_is_true(sign);
        t->v.snapshot = snapshot;
        sha256_hex(code, strlen(code), t->v.code_sha256);
    }
    json_decref(limits_j);
    if (!t || !t->v.code || !t->v.limits_json || !t->v.allow_hosts_json || !t->v.secrets_json) {
        http_reply_error(r, 500, "internal", "out of memory");
        if (t) deploy_task_free(t);
        goto out;
    }
    http_suspend(r);
    if (executor_submit(r->app->ex, run_deploy, t) != 0) {
        deploy_task_free(t);
        r->retry_after = 1;
        http_reply_error(r, 503, "overloaded", "too many requests in flight; retry later");
        http_resume(r);
    }
out:
    json_decref(hosts);
    json_decref(grants);
    json_decref(body);
}

void h_function_list(struct request *r, char *p[MAX_PARAMS])
{
    const char *owner = NULL;
    if (r->who.role != ROLE_ADMIN || http_query(r, "owner")) {
        owner = acting_owner(r);
        if (!owner) return;
    }
    json_t *list;
    if (store_function_list(r->app->store, owner, &list)) {
        http_reply_error(r, 500, "internal", "cannot list functions");
        return;
    }
    http_reply_json(r, 200, json_pack("{so}", "functions", list));
}

/* Loads the live version of p[0] and checks the caller may manage it; replies otherwise. */
static int load_managed(struct request *r, const char *name, struct fn_version *v)
{
    if (!check_function_name(r, name)) return 0;
    int rc = store_function_get(r->app->store, name, 0, v);
    if (rc == -ENOENT) {
        http_reply_error(r, 404, "not_found", "no function '%s'", name);
        return 0;
    }
    if (rc) {
        http_reply_error(r, 500, "internal", "cannot read the store");
        return 0;
    }
    if (!may_manage(r, v->owner)) {
        fn_version_free(v);
        return 0;
    }
    return 1;
}

static json_t *parsed_or_null(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_null();
}

void h_function_get(struct request *r, char *p[MAX_PARAMS])
{
    struct fn_version v;
    if (!load_managed(r, p[0], &v)) return;
    json_t *body = json_pack("{sssssIsssssssosososIsbsIsbss}", "name", v.name, "owner", v.owner,
                             "version", (json_int_t)v.version, "code", v.code, "code_sha256",
                             v.code_sha256, "entry", v.entry, "limits",
                             parsed_or_null(v.limits_json), "allow_hosts",
                             parsed_or_null(v.allow_hosts_json), "secrets",
                             parsed_or_null(v.secrets_json), "created_at",
                             (json_int_t)v.created_at, "pinned", v.pinned, "latest_version",
                             (json_int_t)v.latest_version, "sign", v.sign, "isolation",
                             isolation_name(v.snapshot));
    http_reply_json(r, 200, body);
    fn_version_free(&v);
}

void h_function_versions(struct request *r, char *p[MAX_PARAMS])
{
    struct fn_version v;
    if (!load_managed(r, p[0], &v)) return;
    json_t *list;
    if (store_function_versions(r->app->store, v.name, &list)) {
        http_reply_error(r, 500, "internal", "cannot list versions");
    } else {
        http_reply_json(r, 200, json_pack("{sssIsbso}", "name", v.name, "live_version",
                                          (json_int_t)v.version, "pinned", v.pinned, "versions",
                                          list));
    }
    fn_version_free(&v);
}

void h_function_live(struct request *r, char *p[MAX_PARAMS])
{
    struct fn_version v;
    if (!load_managed(r, p[0], &v)) return;
    json_t *body = body_json(r, 0);
    if (!body) goto out;
    json_t *ver = json_object_get(body, "version");
    if (!ver || (!json_is_null(ver) && (!json_is_integer(ver) || json_integer_value(ver) < 1))) {
        http_reply_error(r, 400, "invalid_request", "version must be a positive integer or null");
        goto out;
    }
    int64_t want = json_is_null(ver) ? 0 : json_integer_value(ver);
    int rc = store_function_set_live(r->app->store, v.name, want);
    if (rc == -ENOENT) {
        http_reply_error(r, 404, "not_found", "no version %lld of '%s'", (long long)want, v.name);
        goto out;
    }
    if (rc) {
        http_reply_error(r, 500, "internal", "cannot set the live version");
        goto out;
    }
    struct fn_version live;
    if (store_function_get(r->app->store, v.name, 0, &live) != 0) {
        http_reply_error(r, 500, "internal", "cannot read the store");
        goto out;
    }
    http_reply_json(r, 200, json_pack("{sssIsb}", "name", live.name, "live_version",
                                      (json_int_t)live.version, "pinned", live.pinned));
    fn_version_free(&live);
out:
    json_decref(body);
    fn_version_free(&v);
}

void h_function_delete(struct request *r, char *p[MAX_PARAMS])
{
    struct fn_version v;
    if (!load_managed(r, p[0], &v)) return;
    struct audit_record audit = {.time = now_unix(), .actor = r->who.owner,
                                 .action = "function.delete", .function = v.name, .outcome = "ok"};
    int rc = store_function_delete(r->app->store, v.name, &audit);
    if (rc == -ENOENT) http_reply_error(r, 404, "not_found", "no function '%s'", v.name);
    else if (rc) http_reply_error(r, 500, "internal", "cannot delete the function");
    else http_reply_text(r, 204, NULL, 0, "application/json");
    fn_version_free(&v);
}
