/* One invocation (or one deploy-time syntax check) in a fresh worker: spawn it through the
 * zygote, send the job, collect console lines and the answer until the wall deadline, and
 * classify how it ended. Everything the worker sends is treated as untrusted: frame sizes
 * are bounded and the result must parse as JSON. Blocking: run it on an executor thread. */
#ifndef FNBOX_INVOKE_H
#define FNBOX_INVOKE_H

#include <stddef.h>

#include <jansson.h>

#include "common/tlv.h"
#include "gateway/outcome.h"
#include "gateway/snapshot_pool.h"
#include "gateway/store.h"
#include "gateway/validate.h"
#include "sandbox/zygote_client.h"

#define LOG_MAX_BYTES (64u * 1024u)
#define LOG_MAX_LINES 256u

/* Answers one host API call of the worker (the FRAME_CALL payload) by appending REPLY_* records
 * to *reply. Called on the invocation's executor thread; arg identifies the invocation, so
 * the worker never names the function it runs for. Returns 0, or a negative errno to end
 * the invocation with an internal error. */
typedef int (*broker_fn)(void *arg, const uint8_t *call, size_t len, struct tlv_writer *reply);

#define HOST_CALLS_MAX 256 /* per invocation */
#define HOST_CALL_FRAME_MAX (2u << 20)

struct invoke_request {
    int mode; /* JOB_MODE_INVOKE or JOB_MODE_CHECK */
    const char *code;
    const char *entry;
    const char *input_json; /* JSON text */
    const char *ctx_json;   /* JSON text */
    struct fn_limits limits;
    const uint8_t *fn_key; /* ZYG_KEY_LEN bytes naming this exact function (invoke_fn_key),
                            * or NULL: always an ordinary worker, no function zygote */
    int snapshot; /* isolation "snapshot" (needs fn_key and snapshots) */
    struct snapshot_pool *snapshots; /* fnboxd's idle snapshot workers */
    uint32_t snapshot_max_uses; /* a snapshot worker is replaced after this many invocations */
    broker_fn broker; /* NULL: every host call is refused */
    void *broker_arg;
};

struct invoke_result {
    enum outcome outcome;
    char *result_json; /* the return value as the worker encoded it (OK); checked to be JSON.
                        * Kept as text so numbers reach the caller exactly as JavaScript
                        * printed them, not re-encoded. */
    size_t result_len;
    json_t *error;  /* {"code","message"[,"name"][,"line"]} otherwise */
    json_t *logs;   /* array of strings, always set */
    double duration_ms;
    int wants_function_zygote; /* it compiled, and succeeded: invoke_load_function_zygote */
    int snapshot_worker; /* a snapshot worker ran it (else a fresh process did) */
};

/* The function zygote key of a version: SHA-256 over its owner, name, version and creation
 * time, code hash, the limits its workers get and its isolation. Versions are immutable, so
 * equal keys mean the same compiled code served the same way; a function deleted and made
 * again (its versions restart at 1), even with the same code, or by another owner, gets other
 * keys: it never inherits the old one's function zygote or snapshot workers. 0 or -EIO. */
int invoke_fn_key(const struct fn_version *v, const struct fn_limits *limits, uint8_t key[32]);

/* Fills *res (release it with invoke_result_free). Returns 0, or -ENOMEM. */
int invoke_run(struct zclient *zc, const struct invoke_request *req, struct invoke_result *res);
void invoke_result_free(struct invoke_result *res);

/* Asks for a function zygote for req's function (req->fn_key set), so that its next
 * invocations need not compile it: call it after the caller has its answer (it waits for the
 * zygote and hands over the code). Rate-limited per function; a refusal changes nothing. */
void invoke_load_function_zygote(struct zclient *zc, const struct invoke_request *req);

/* Ends the snapshot workers idle for longer than the pool allows (fnboxd's housekeeping thread
 * calls it every second, whatever is invoked: each keeps its function zygote's slot taken). */
void invoke_snapshots_expire(struct zclient *zc, struct snapshot_pool *pool);
/* Ends every idle snapshot worker and frees the pool (at shutdown; both may be NULL). */
void invoke_snapshots_end(struct zclient *zc, struct snapshot_pool *pool);

#endif
