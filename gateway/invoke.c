#include "gateway/invoke.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <poll.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/frame.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/tlv.h"
#include "gateway/metrics.h"

#define EXIT_STATUS_WAIT_MS 2000
/* How long an invocation of a snapshot function waits with none of its workers coming back
 * before it starts one more than the lanes (gateway/snapshot_pool.h), and at most in all */
#define LANE_WAIT_MS 10
#define LANE_QUEUE_MAX_MS 1000
/* An idle snapshot worker unused this long is ended when a function zygote load is refused
 * (the zygote replaces function zygotes unused for FNZ_EVICT_IDLE_MS, 2 s) */
#define IDLE_FOR_SLOT_MS 1000
/* CPU a snapshot worker's reset may take, charged to its lifetime budget per invocation */
#define RESET_CHARGE_MS 10

static void set_error(struct invoke_result *res, enum outcome o, const char *message)
{
    res->outcome = o;
    json_decref(res->error);
    res->error = json_pack("{ssss}", "code", outcome_code(o), "message", message);
}

static enum outcome outcome_from_code(const char *code)
{
    for (int o = 0; o < OUTCOME_COUNT; o++)
        if (strcmp(code, outcome_code((enum outcome)o)) == 0) return (enum outcome)o;
    return OUTCOME_FUNCTION_ERROR;
}

/* The worker's own error report: keep only the fields we document, typed as we document. */
static void take_worker_error(struct invoke_result *res, const struct frame *f, int mode)
{
    json_t *e = json_loadb((const char *)f->data, f->len, 0, NULL);
    const char *code = e ? json_string_value(json_object_get(e, "code")) : NULL;
    const char *msg = e ? json_string_value(json_object_get(e, "message")) : NULL;
    if (!code || !msg) {
        json_decref(e);
        set_error(res, OUTCOME_WORKER_CRASHED, "worker sent a malformed error");
        return;
    }
    enum outcome o = outcome_from_code(code);
    int syntax = mode == JOB_MODE_CHECK && strcmp(code, ERR_SYNTAX) == 0;
    if (o == OUTCOME_OK || o == OUTCOME_OVERLOADED || o == OUTCOME_TIMEOUT ||
        o == OUTCOME_SANDBOX_VIOLATION)
        o = OUTCOME_FUNCTION_ERROR; /* a worker cannot claim outcomes only the parent decides */
    json_t *clean = json_pack("{ssss}", "code", syntax ? ERR_SYNTAX : outcome_code(o), "message", msg);
    json_t *name = json_object_get(e, "name"), *line = json_object_get(e, "line");
    if (clean && json_is_string(name)) json_object_set(clean, "name", name);
    if (clean && json_is_integer(line)) json_object_set(clean, "line", line);
    json_decref(e);
    res->outcome = o;
    json_decref(res->error);
    res->error = clean;
}

static void classify_death(struct invoke_result *res, int status)
{
    if (WIFSIGNALED(status)) {
        switch (WTERMSIG(status)) {
        case SIGSYS:
            set_error(res, OUTCOME_SANDBOX_VIOLATION, "the function made a forbidden system call");
            return;
        case SIGXCPU:
        case SIGKILL:
            set_error(res, OUTCOME_TIMEOUT, "CPU time limit exceeded");
            return;
        default:
            set_error(res, OUTCOME_WORKER_CRASHED, "the worker crashed");
            return;
        }
    }
    switch (WEXITSTATUS(status)) {
    case WORKER_EXIT_NOMEM:
        set_error(res, OUTCOME_MEMORY_LIMIT, "memory limit exceeded");
        return;
    case WORKER_EXIT_FATAL:
        set_error(res, OUTCOME_WORKER_CRASHED, "the JavaScript engine stopped on a fatal error");
        return;
    case WORKER_EXIT_CONFINE:
        set_error(res, OUTCOME_INTERNAL, "the worker could not be confined");
        return;
    default:
        set_error(res, OUTCOME_WORKER_CRASHED, "the worker ended without an answer");
        return;
    }
}

static int build_job(const struct invoke_request *req, int with_code, struct tlv_writer *w)
{
    int rc = tlv_put_u64(w, JOB_MODE, (uint64_t)req->mode);
    if (with_code) rc = rc ? rc : tlv_put_str(w, JOB_CODE, req->code);
    if (req->mode == JOB_MODE_INVOKE) {
        rc = rc ? rc : tlv_put_str(w, JOB_ENTRY, req->entry);
        rc = rc ? rc : tlv_put_str(w, JOB_INPUT, req->input_json);
        rc = rc ? rc : tlv_put_str(w, JOB_CTX, req->ctx_json);
        rc = rc ? rc : tlv_put_u64(w, JOB_MAX_OUTPUT, (uint64_t)req->limits.max_output_bytes);
        rc = rc ? rc : tlv_put_u64(w, JOB_MAX_LOG_BYTES, LOG_MAX_BYTES);
        rc = rc ? rc : tlv_put_u64(w, JOB_MAX_LOG_LINES, LOG_MAX_LINES);
    }
    return rc;
}

/* Reads frames until an answer, the deadline, or the worker's end. */
/* Answers one FRAME_CALL. Returns 0, or -1 after setting the outcome (the worker is killed). */
static int answer_call(struct zclient *zc, const struct worker_handle *wh,
                       const struct invoke_request *req, const struct frame *f, unsigned *calls,
                       struct invoke_result *res)
{
    struct tlv_writer reply = {0};
    int rc;
    if (++*calls > HOST_CALLS_MAX) {
        rc = tlv_put_u64(&reply, REPLY_OK, 0);
        rc = rc ? rc : tlv_put_str(&reply, REPLY_ERROR, "too many host calls in one invocation");
    } else if (!req->broker) {
        rc = tlv_put_u64(&reply, REPLY_OK, 0);
        rc = rc ? rc : tlv_put_str(&reply, REPLY_ERROR, "host API not available");
    } else {
        rc = req->broker(req->broker_arg, f->data, f->len, &reply);
    }
    if (!rc) rc = frame_send(wh->fd, FRAME_REPLY, reply.buf, reply.len);
    if (reply.buf) OPENSSL_cleanse(reply.buf, reply.len); /* may hold a secret value */
    tlv_writer_free(&reply);
    if (rc == 0 || rc == -EPIPE) return 0; /* a dead worker is classified by the next read */
    zclient_kill(zc, wh->job_id);
    set_error(res, OUTCOME_INTERNAL, "the host call could not be answered");
    return -1;
}

static void converse(struct zclient *zc, const struct worker_handle *wh,
                     const struct invoke_request *req, int64_t deadline, struct invoke_result *res)
{
    size_t log_bytes = 0;
    unsigned calls = 0;
    /* a result may grow 3x when sanitised to UTF-8; a host call carries a fetch request
     * (1 MiB body, 8 KiB URL, 64 KiB of headers) */
    size_t max_frame = (size_t)req->limits.max_output_bytes * 3 + 4096;
    if (max_frame < HOST_CALL_FRAME_MAX) max_frame = HOST_CALL_FRAME_MAX;
    for (;;) {
        struct frame f;
        int rc = frame_recv(wh->fd, &f, max_frame, deadline);
        if (rc == -ETIMEDOUT) {
            zclient_kill(zc, wh->job_id);
            set_error(res, OUTCOME_TIMEOUT, "wall-clock deadline exceeded");
            return;
        }
        if (rc == -E2BIG) {
            zclient_kill(zc, wh->job_id);
            set_error(res, OUTCOME_OUTPUT_LIMIT, "result over max_output_bytes");
            return;
        }
        if (rc == -EPIPE) {
            int status;
            int64_t wait_until = frame_now_ms() + EXIT_STATUS_WAIT_MS;
            if (zclient_wait_exit(zc, wh->job_id, wait_until, &status) == 0)
                classify_death(res, status);
            else
                set_error(res, OUTCOME_INTERNAL, "the worker's exit status was not reported");
            return;
        }
        if (rc) {
            zclient_kill(zc, wh->job_id);
            set_error(res, OUTCOME_WORKER_CRASHED, "worker protocol error");
            return;
        }
        switch (f.type) {
        case FRAME_LOG:
            log_bytes += f.len;
            if (log_bytes > LOG_MAX_BYTES || json_array_size(res->logs) >= LOG_MAX_LINES) {
                frame_free(&f);
                zclient_kill(zc, wh->job_id);
                set_error(res, OUTCOME_OUTPUT_LIMIT, "console output over its cap");
                return;
            }
            json_array_append_new(res->logs, json_stringn((const char *)f.data, f.len));
            frame_free(&f);
            continue;
        case FRAME_CALL: {
            int stop = answer_call(zc, wh, req, &f, &calls, res);
            frame_free(&f);
            if (stop) return;
            continue;
        }
        case FRAME_RESULT: {
            /* only a validity check (the text itself is passed on): big integers and \u0000
             * are valid JSON that jansson would otherwise refuse */
            json_t *v = json_loadb((const char *)f.data, f.len,
                                   JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
            if (!v) {
                frame_free(&f);
                set_error(res, OUTCOME_WORKER_CRASHED, "worker sent a malformed result");
                return;
            }
            json_decref(v);
            res->outcome = OUTCOME_OK;
            res->result_json = (char *)f.data; /* NUL-terminated by frame_recv */
            res->result_len = f.len;
            return;
        }
        case FRAME_ERROR:
            take_worker_error(res, &f, req->mode);
            frame_free(&f);
            return;
        default:
            frame_free(&f);
            zclient_kill(zc, wh->job_id);
            set_error(res, OUTCOME_WORKER_CRASHED, "worker sent an unexpected frame");
            return;
        }
    }
}

/* Ends a worker fnboxd holds: its socket closed, its process killed, its job slot freed. */
static void end_worker(struct zclient *zc, uint64_t job_id, int fd)
{
    if (fd >= 0) close(fd);
    /* Killing a worker that is already exiting is harmless; its exit status is not needed. */
    zclient_kill_forget(zc, job_id);
    zclient_release(zc, job_id);
}

static void end_snapshot_workers(struct zclient *zc, const struct snapshot_worker *w, size_t n)
{
    for (size_t i = 0; i < n; i++) end_worker(zc, w[i].job_id, w[i].fd);
}

/* 1 when the idle worker on fd looks ready for a job: nothing to read, not hung up. (A
 * worker resets its heap after answering; one that could not is gone, and must not take a
 * caller's invocation down with it.) */
static int idle_worker_ready(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

/* An idle snapshot worker for req's function: 1 when one was taken. 0: the caller spawns a
 * worker, counted in the pool when *counted (it must then end up in snapshot_pool_put or
 * snapshot_pool_gone). */
static int take_snapshot_worker(struct zclient *zc, const struct invoke_request *req,
                                struct worker_handle *wh, struct snapshot_worker *life,
                                int *counted)
{
    struct snapshot_worker w;
    int rc;
    /* a queue may last, but not past a quarter of the invocation's own time */
    int64_t give_up = frame_now_ms() + (req->limits.timeout_ms / 4 < LANE_QUEUE_MAX_MS
                                            ? req->limits.timeout_ms / 4
                                            : LANE_QUEUE_MAX_MS);
    while ((rc = snapshot_pool_acquire(req->snapshots, req->fn_key, LANE_WAIT_MS, give_up, &w)) ==
           1) {
        if (!idle_worker_ready(w.fd)) {
            end_worker(zc, w.job_id, w.fd);
            snapshot_pool_gone(req->snapshots, req->fn_key);
            continue;
        }
        *wh = (struct worker_handle){
            .job_id = w.job_id, .fd = w.fd, .pid = w.pid, .precompiled = 1, .snapshot = 1};
        *life = w;
        *counted = 1;
        return 1;
    }
    *counted = rc == 0;
    return 0;
}

/* After a result: a snapshot worker with uses and CPU time left goes back to the pool. life:
 * its record, uses and busy_ms counting this invocation. 1 when it is no longer the caller's
 * to end or count (kept, or ended here). */
static int keep_snapshot_worker(struct zclient *zc, const struct invoke_request *req,
                                const struct worker_handle *wh, struct snapshot_worker *life,
                                uint32_t cpu_seconds)
{
    if (life->uses >= req->snapshot_max_uses) return 0;
    /* Its RLIMIT_CPU hard limit bounds its whole life (a compromised engine may raise the
     * soft one): replaced while the next job's full allowance still fits under it, so that
     * only a worker that burned CPU outside its jobs ever meets the kernel's SIGKILL. Wall
     * time bounds a single-threaded worker's CPU; RESET_CHARGE_MS covers each reset. */
    uint64_t next_ms = ((uint64_t)cpu_seconds + 1) * 1000;
    if (life->busy_ms + next_ms >= ZYG_SNAPSHOT_CPU_LIFETIME(cpu_seconds) * 1000) return 0;
    struct snapshot_worker w = *life;
    w.job_id = wh->job_id;
    w.fd = wh->fd;
    w.pid = wh->pid;
    memcpy(w.key, req->fn_key, SNAPSHOT_KEY_LEN);
    struct snapshot_worker end;
    if (snapshot_pool_put(req->snapshots, &w, frame_now_ms(), &end))
        end_worker(zc, end.job_id, end.fd); /* this one, or the least recently used */
    return 1;
}

int invoke_run(struct zclient *zc, const struct invoke_request *req, struct invoke_result *res)
{
    memset(res, 0, sizeof *res);
    res->logs = json_array();
    if (!res->logs) return -ENOMEM;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t start = frame_now_ms();
    int64_t deadline = start + req->limits.timeout_ms;
    uint32_t cpu_seconds = (uint32_t)((req->limits.timeout_ms + 999) / 1000);

    uint64_t heap_bytes = (uint64_t)req->limits.memory_mb << 20;
    const uint8_t *key = req->mode == JOB_MODE_INVOKE ? req->fn_key : NULL;
    struct worker_handle wh;
    struct snapshot_worker life = {0}; /* a snapshot worker's record: uses, busy_ms */
    int counted = 0; /* wh is one of its function's workers in req->snapshots' counts */
    int snapshot = req->snapshot && key && req->snapshots;
    int rc = snapshot && take_snapshot_worker(zc, req, &wh, &life, &counted)
                 ? 0
                 : zclient_spawn(zc, cpu_seconds, heap_bytes, key, &wh);
    if (rc) {
        if (counted) snapshot_pool_gone(req->snapshots, key);
        LOG_E("cannot spawn a worker: %s", strerror(-rc));
        set_error(res, OUTCOME_INTERNAL, "no worker available");
        return 0;
    }
    struct tlv_writer job = {0};
    if (build_job(req, !wh.precompiled, &job)) {
        end_worker(zc, wh.job_id, wh.fd);
        if (counted) snapshot_pool_gone(req->snapshots, key);
        tlv_writer_free(&job);
        set_error(res, OUTCOME_INTERNAL, "out of memory");
        return 0;
    }
    metrics_workers_busy(1);
    metrics_worker_started(wh.snapshot ? (life.uses ? WORKER_KIND_SNAPSHOT_REUSED : WORKER_KIND_SNAPSHOT)
                                       : wh.precompiled ? WORKER_KIND_PRECOMPILED
                                                        : WORKER_KIND_COMPILES);
    rc = frame_send(wh.fd, FRAME_JOB, job.buf, job.len);
    tlv_writer_free(&job);
    if (rc && rc != -EPIPE) {
        zclient_kill(zc, wh.job_id);
        set_error(res, OUTCOME_INTERNAL, "cannot send the job to the worker");
    } else {
        /* on -EPIPE the worker died before reading: converse() reads its exit status */
        converse(zc, &wh, req, deadline, res);
    }
    /* Whatever it answered, a worker's job is over: one that keeps running after its answer (a
     * compromised engine) must not outlive its accounting. Only a snapshot worker that
     * answered with a result serves again (after any error or limit it is replaced). */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->duration_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    life.uses++;
    life.busy_ms += (uint64_t)res->duration_ms + 1 + RESET_CHARGE_MS;
    if (!(wh.snapshot && counted && res->outcome == OUTCOME_OK &&
          keep_snapshot_worker(zc, req, &wh, &life, cpu_seconds))) {
        end_worker(zc, wh.job_id, wh.fd);
        if (counted) snapshot_pool_gone(req->snapshots, key);
    }
    metrics_workers_busy(-1);
    res->wants_function_zygote = key && !wh.precompiled && res->outcome == OUTCOME_OK;
    res->snapshot_worker = wh.snapshot;
    return 0;
}

void invoke_load_function_zygote(struct zclient *zc, const struct invoke_request *req)
{
    uint32_t cpu_seconds = (uint32_t)((req->limits.timeout_ms + 999) / 1000);
    int rc = zclient_load(zc, req->fn_key, cpu_seconds, (uint64_t)req->limits.memory_mb << 20,
                          req->snapshot ? ZYG_LOAD_SNAPSHOT : 0, req->code, strlen(req->code));
    if (rc != -EALREADY) metrics_function_zygote_load(rc == 0);
    if (rc == -EBUSY && req->snapshots) {
        /* Every function zygote is in use, and the zygote replaces only one without jobs: an
         * idle snapshot worker is a job of its function zygote. Ending those idle for a while
         * lets the next load (a second later) take an unused slot: functions in steady use
         * share the slots, least recently used first, rather than the first ones keeping
         * them. */
        struct snapshot_worker old[8];
        size_t n;
        while ((n = snapshot_pool_expire_older(req->snapshots, frame_now_ms(), IDLE_FOR_SLOT_MS,
                                               old, 8)) > 0)
            end_snapshot_workers(zc, old, n);
    }
}

int invoke_fn_key(const struct fn_version *v, const struct fn_limits *limits, uint8_t key[32])
{
    char text[512];
    int n = snprintf(text, sizeof text, "fnbox-fn-v3\n%s\n%s\n%lld\n%lld\n%s\n%lld\n%lld\n%s\n",
                     v->owner, v->name, (long long)v->version, (long long)v->created_at,
                     v->code_sha256, (long long)limits->timeout_ms, (long long)limits->memory_mb,
                     isolation_name(v->snapshot));
    unsigned int len = 0;
    if (n < 0 || (size_t)n >= sizeof text ||
        EVP_Digest(text, (size_t)n, key, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return -EIO;
    return 0;
}

void invoke_result_free(struct invoke_result *res)
{
    free(res->result_json);
    json_decref(res->error);
    json_decref(res->logs);
    memset(res, 0, sizeof *res);
}

void invoke_snapshots_expire(struct zclient *zc, struct snapshot_pool *pool)
{
    struct snapshot_worker old[8];
    size_t n;
    while ((n = snapshot_pool_expire(pool, frame_now_ms(), old, 8)) > 0)
        end_snapshot_workers(zc, old, n);
}

void invoke_snapshots_end(struct zclient *zc, struct snapshot_pool *pool)
{
    if (!pool) return;
    size_t idle = snapshot_pool_idle(pool);
    struct snapshot_worker *all = calloc(idle + 1, sizeof *all);
    size_t n = snapshot_pool_destroy(pool, all, all ? idle : 0); /* else the zygote ends them */
    if (zc) end_snapshot_workers(zc, all, n);
    free(all);
}
