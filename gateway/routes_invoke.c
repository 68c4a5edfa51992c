/* POST /v1/functions/{name}/invoke: authorise, queue on the executor (503 when full), run
 * in a fresh worker, answer with the result or a structured error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/hex.h"
#include "common/proto.h"

#include "attestation/receipt.h"
#include "gateway/broker.h"
#include "gateway/checkpoint.h"
#include "gateway/handlers.h"
#include "gateway/invoke.h"
#include "gateway/metrics.h"

struct invoke_task {
    struct request *r;
    struct fn_version v;
    struct fn_limits limits;
    char invocation_id[40];
    char caller[64];
    char *ctx_json;
    int sign; /* ?sign=1: a signed receipt with the result */
};

static void invoke_task_free(struct invoke_task *t)
{
    fn_version_free(&t->v);
    free(t->ctx_json);
    free(t);
}

/* Limits as stored at deploy, lowered to the operator's current maxima. */
static void effective_limits(const char *stored, const struct fn_limits *max, struct fn_limits *out)
{
    *out = fn_limits_default;
    json_t *j = json_loads(stored, 0, NULL);
    json_t *v;
    if ((v = json_object_get(j, "timeout_ms"))) out->timeout_ms = json_integer_value(v);
    if ((v = json_object_get(j, "memory_mb"))) out->memory_mb = json_integer_value(v);
    if ((v = json_object_get(j, "max_fetches"))) out->max_fetches = json_integer_value(v);
    if ((v = json_object_get(j, "max_output_bytes"))) out->max_output_bytes = json_integer_value(v);
    json_decref(j);
    if (out->timeout_ms > max->timeout_ms || out->timeout_ms < 1) out->timeout_ms = max->timeout_ms;
    if (out->memory_mb > max->memory_mb || out->memory_mb < 1) out->memory_mb = max->memory_mb;
    if (out->max_fetches > max->max_fetches) out->max_fetches = max->max_fetches;
    if (out->max_output_bytes > max->max_output_bytes || out->max_output_bytes < 1)
        out->max_output_bytes = max->max_output_bytes;
}

/* Replies env, with "result": result_json spliced in first when given. The result text was
 * checked to be JSON; splicing it keeps the worker's exact number formatting. */
static void reply_with_result(struct request *r, unsigned status, json_t *env,
                              const char *result_json, size_t result_len)
{
    char *rest = env ? json_dumps(env, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(env);
    if (!rest) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    if (!result_json) {
        http_reply_text(r, status, rest, strlen(rest), "application/json");
        return;
    }
    size_t rest_len = strlen(rest); /* "{...}": its '{' is replaced by the result field */
    size_t len = 10 + result_len + 1 + rest_len;
    char *out = malloc(len + 1);
    if (!out) {
        free(rest);
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    int n = snprintf(out, len + 1, "{\"result\":%s,%s", result_json, rest + 1);
    free(rest);
    http_reply_text(r, status, out, (size_t)n, "application/json");
}

/* The signed receipt of a successful invocation (attestation/receipt.h), or NULL. */
static json_t *make_receipt(struct invoke_task *t, const struct invoke_result *res,
                            const struct broker *b, const char *input)
{
    char in_hash[65], out_hash[65], meas[65];
    sha256_hex(input, strlen(input), in_hash);
    sha256_hex(res->result_json, res->result_len, out_hash);
    for (int i = 0; i < 32; i++) snprintf(meas + 2 * i, 3, "%02x", t->r->app->measurement[i]);
    json_t *rc = json_pack("{sssssIsssssssssIsssOsO}", "invocation_id", t->invocation_id,
                           "function", t->v.name, "version", (json_int_t)t->v.version,
                           "code_sha256", t->v.code_sha256, "input_sha256", in_hash,
                           "output_sha256", out_hash, "measurement", meas, "time",
                           (json_int_t)time(NULL), "isolation",
                           isolation_name(res->snapshot_worker), "fetches", b->fetches,
                           "secrets", b->secrets_read);
    if (!rc || receipt_sign(keyring_instance_key(t->r->app->keyring), rc) != 0) {
        json_decref(rc);
        return NULL;
    }
    return rc;
}

static void run_invoke(void *arg)
{
    struct invoke_task *t = arg;
    struct request *r = t->r;
    uint8_t fn_key[32];
    int use_key = r->app->cfg.function_zygotes &&
                  invoke_fn_key(&t->v, &t->limits, fn_key) == 0;
    struct invoke_request req = {
        .mode = JOB_MODE_INVOKE,
        .code = t->v.code,
        .entry = t->v.entry,
        .input_json = r->body_len ? r->body : "null",
        .ctx_json = t->ctx_json,
        .limits = t->limits,
        .fn_key = use_key ? fn_key : NULL,
        .snapshot = use_key && t->v.snapshot,
        .snapshots = r->app->snapshots,
        .snapshot_max_uses = (uint32_t)r->app->cfg.snapshot_max_uses,
    };
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct broker broker = {.app = r->app, .fn = &t->v, .invocation_id = t->invocation_id,
                            .caller = t->caller, .max_fetches = t->limits.max_fetches,
                            .deadline_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 +
                                           t->limits.timeout_ms,
                            .fetches = json_array(), .secrets_read = json_array()};
    req.broker = broker_answer;
    req.broker_arg = &broker;
    struct invoke_result res;
    struct zclient *zc = r->app->zc;
    int load = 0;
    if (invoke_run(zc, &req, &res)) {
        http_reply_error(r, 500, "internal", "out of memory");
    } else {
        metrics_invocation(t->v.name, res.outcome, res.duration_ms / 1000.0);
        json_t *env = res.outcome == OUTCOME_OK ? json_object()
                                                : json_pack("{sO}", "error", res.error);
        json_t *rest = json_pack("{sssOsIsf}", "invocation_id", t->invocation_id, "logs",
                                 res.logs, "version", (json_int_t)t->v.version, "duration_ms",
                                 res.duration_ms);
        if (rest && json_array_size(broker.fetches))
            json_object_set(rest, "fetches", broker.fetches);
        if (rest && t->sign && res.outcome == OUTCOME_OK) {
            json_t *receipt = make_receipt(t, &res, &broker, req.input_json);
            if (receipt) json_object_set_new(rest, "receipt", receipt);
            else json_object_set_new(rest, "receipt_error", json_string("cannot sign"));
        }
        if (!rest || json_object_update(env, rest) != 0) {
            json_decref(env);
            env = NULL;
        }
        json_decref(rest);
        reply_with_result(r, outcome_http_status(res.outcome), env,
                          res.outcome == OUTCOME_OK ? res.result_json : NULL, res.result_len);
        load = res.wants_function_zygote;
        invoke_result_free(&res);
    }
    broker_release(&broker);
    checkpoint_tick(r->app);
    http_resume(r); /* after this the request may be freed by another thread: r is not used */
    if (load) invoke_load_function_zygote(zc, &req); /* the caller has its answer already */
    invoke_task_free(t);
}

static int new_invocation_id(char out[40])
{
    unsigned char b[12];
    if (RAND_bytes(b, sizeof b) != 1) return -1;
    strcpy(out, "inv_");
    for (size_t i = 0; i < sizeof b; i++) snprintf(out + 4 + 2 * i, 3, "%02x", b[i]);
    return 0;
}

void h_function_invoke(struct request *r, char *p[MAX_PARAMS])
{
    const char *name = p[0];
    if (!check_function_name(r, name)) return;
    struct invoke_task *t = calloc(1, sizeof *t);
    if (!t) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    t->r = r;
    int rc = store_function_get(r->app->store, name, 0, &t->v);
    if (rc) {
        free(t);
        if (rc == -ENOENT) http_reply_error(r, 404, "not_found", "no function '%s'", name);
        else http_reply_error(r, 500, "internal", "cannot read the store");
        return;
    }
    if (r->who.role == ROLE_DEVELOPER && !may_manage(r, t->v.owner)) goto fail;
    json_t *input = body_json(r, 1); /* validates; the worker parses the text itself */
    if (!input) goto fail;
    json_decref(input);
    if (new_invocation_id(t->invocation_id)) {
        http_reply_error(r, 500, "internal", "no randomness");
        goto fail;
    }
    effective_limits(t->v.limits_json, &r->app->cfg.max, &t->limits);
    snprintf(t->caller, sizeof t->caller, "%s", r->who.owner);
    const char *sign = http_query(r, "sign");
    t->sign = t->v.sign || (sign && (strcmp(sign, "1") == 0 || strcmp(sign, "true") == 0));
    json_t *ctx = json_pack("{sssssIss}", "invocation_id", t->invocation_id, "function",
                            t->v.name, "version", (json_int_t)t->v.version, "caller",
                            r->who.owner);
    t->ctx_json = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    json_decref(ctx);
    if (!t->ctx_json) {
        http_reply_error(r, 500, "internal", "out of memory");
        goto fail;
    }
    http_suspend(r);
    if (executor_submit(r->app->ex, run_invoke, t) != 0) {
        metrics_invocation(t->v.name, OUTCOME_OVERLOADED, 0);
        r->retry_after = 1;
        http_reply_error(r, 503, "overloaded", "too many invocations in flight; retry later");
        invoke_task_free(t);
        http_resume(r);
    }
    return;
fail:
    invoke_task_free(t);
}
