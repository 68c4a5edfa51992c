#include "runtime/worker.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/frame.h"
#include "common/proto.h"
#include "common/tlv.h"
#include "common/utf8.h"

#define ERROR_TEXT_MAX 4096

struct job {
    uint64_t mode;
    const char *code, *entry, *input, *ctxjson;
    size_t code_len, entry_len, input_len, ctx_len;
    uint64_t max_output, max_log_bytes, max_log_lines;
};

struct log_state {
    int fd;
    uint64_t bytes, lines, max_bytes, max_lines;
};

static int parse_job(const struct frame *f, int precompiled, struct job *j)
{
    memset(j, 0, sizeof *j);
    struct tlv_reader r = {.p = f->data, .left = f->len};
    uint16_t tag;
    const uint8_t *d;
    size_t n;
    int rc;
    while ((rc = tlv_next(&r, &tag, &d, &n)) == 1) {
        switch (tag) {
        case JOB_MODE: rc = tlv_get_u64(d, n, &j->mode); break;
        case JOB_CODE: j->code = (const char *)d, j->code_len = n; break;
        case JOB_ENTRY: j->entry = (const char *)d, j->entry_len = n; break;
        case JOB_INPUT: j->input = (const char *)d, j->input_len = n; break;
        case JOB_CTX: j->ctxjson = (const char *)d, j->ctx_len = n; break;
        case JOB_MAX_OUTPUT: rc = tlv_get_u64(d, n, &j->max_output); break;
        case JOB_MAX_LOG_BYTES: rc = tlv_get_u64(d, n, &j->max_log_bytes); break;
        case JOB_MAX_LOG_LINES: rc = tlv_get_u64(d, n, &j->max_log_lines); break;
        default: break; /* unknown tags are skipped: the protocol may grow */
        }
        if (rc < 0) return rc;
    }
    if (rc < 0 || (j->mode != JOB_MODE_INVOKE && j->mode != JOB_MODE_CHECK)) return -EPROTO;
    /* a precompiled worker runs its function and no other: it takes no code, and no check */
    if (precompiled ? j->code || j->mode != JOB_MODE_INVOKE : !j->code) return -EPROTO;
    if (j->mode == JOB_MODE_INVOKE && (!j->entry || !j->input || !j->ctxjson)) return -EPROTO;
    return 0;
}

static json_t *sanitized_string(const char *s, size_t len)
{
    if (len > ERROR_TEXT_MAX) len = ERROR_TEXT_MAX;
    size_t olen;
    char *clean = utf8_sanitize(s, len, &olen);
    if (!clean) return NULL;
    json_t *v = json_stringn(clean, olen);
    free(clean);
    return v;
}

/* Sends {"code","message"[,"name"][,"line"]}; returns the exit code for the worker. */
static int send_error(int fd, const char *code, const char *name, const char *msg, size_t msg_len,
                      long line)
{
    json_t *o = json_object();
    if (!o) return WORKER_EXIT_NOMEM;
    int bad = json_object_set_new(o, "code", json_string(code));
    bad |= json_object_set_new(o, "message", sanitized_string(msg, msg_len));
    if (name) bad |= json_object_set_new(o, "name", sanitized_string(name, strlen(name)));
    if (line > 0) bad |= json_object_set_new(o, "line", json_integer(line));
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) return WORKER_EXIT_NOMEM;
    int rc = frame_send(fd, FRAME_ERROR, text, strlen(text));
    free(text);
    return rc ? WORKER_EXIT_PROTOCOL : WORKER_EXIT_OK;
}

static void log_sink(void *arg, const char *line, size_t len)
{
    struct log_state *ls = arg;
    ls->lines++;
    ls->bytes += len;
    if (ls->lines > ls->max_lines || ls->bytes > ls->max_bytes) {
        static const char msg[] = "console output over its cap";
        _exit(send_error(ls->fd, ERR_OUTPUT, NULL, msg, sizeof msg - 1, 0));
    }
    size_t olen;
    char *clean = utf8_sanitize(line, len, &olen);
    if (!clean) _exit(WORKER_EXIT_NOMEM);
    int rc = frame_send(ls->fd, FRAME_LOG, clean, olen);
    free(clean);
    if (rc) _exit(WORKER_EXIT_PROTOCOL);
}

static duk_ret_t encode_thrown(duk_context *ctx, void *udata)
{
    (void)udata;
    duk_json_encode(ctx, -1);
    return 1;
}

/* Reads name, message and line off the thrown value at the top of the stack. Protected:
 * a thrown object may carry getters that throw. Leaves [name, message, line] on the stack.
 * A line is reported only when it points into the function's own source (an error raised
 * by host code carries Duktape's C file and line, which mean nothing to the user). A thrown
 * non-Error without a message is described by its JSON, else by String(value). */
static duk_ret_t describe_error(duk_context *ctx, void *udata)
{
    (void)udata;
    duk_idx_t err = duk_get_top_index(ctx);
    if (duk_is_object(ctx, err)) {
        duk_get_prop_string(ctx, err, "name");
        duk_get_prop_string(ctx, err, "message");
        duk_get_prop_string(ctx, err, "fileName");
        int ours = duk_is_string(ctx, -1) && strcmp(duk_get_string(ctx, -1), JS_SOURCE_NAME) == 0;
        duk_pop(ctx);
        if (ours) duk_get_prop_string(ctx, err, "lineNumber");
        else duk_push_undefined(ctx);
        if (!duk_is_undefined(ctx, -3)) duk_safe_to_string(ctx, -3);
        if (duk_is_undefined(ctx, -2)) {
            duk_dup(ctx, err);
            if (duk_safe_call(ctx, encode_thrown, NULL, 1, 1) != 0 || !duk_is_string(ctx, -1)) {
                duk_pop(ctx);
                duk_dup(ctx, err);
            }
            duk_replace(ctx, -3);
        }
        duk_safe_to_string(ctx, -2);
    } else {
        duk_push_undefined(ctx);
        duk_dup(ctx, err);
        duk_safe_to_string(ctx, -1);
        duk_push_undefined(ctx);
    }
    return 3;
}

static int report_thrown(duk_context *ctx, struct js_heap *heap, int fd, const char *code)
{
    const char *name = NULL, *msg = "unknown error";
    size_t msg_len = strlen(msg);
    long line = 0;
    if (duk_safe_call(ctx, describe_error, NULL, 1, 3) == 0) {
        if (duk_is_string(ctx, -3)) name = duk_get_string(ctx, -3);
        if (duk_is_string(ctx, -2)) msg = duk_get_lstring(ctx, -2, &msg_len);
        if (duk_is_number(ctx, -1)) line = (long)duk_get_number(ctx, -1);
    }
    /* Out of memory shows as "alloc failed", or as a DoubleError when even the error object
     * could not be allocated. */
    if (js_heap_alloc_state(heap)->refused &&
        (strstr(msg, "alloc failed") || (name && strcmp(name, "DoubleError") == 0)))
        code = ERR_MEMORY;
    return send_error(fd, code, name, msg, msg_len, line);
}

static duk_ret_t run_entry(duk_context *ctx, void *udata)
{
    const struct job *j = udata;
    duk_push_global_object(ctx);
    duk_get_prop_lstring(ctx, -1, j->entry, j->entry_len);
    if (!duk_is_callable(ctx, -1))
        return duk_error(ctx, DUK_ERR_TYPE_ERROR, "entry '%.*s' is not a function",
                         (int)(j->entry_len > 64 ? 64 : j->entry_len), j->entry);
    duk_push_lstring(ctx, j->input, j->input_len);
    duk_json_decode(ctx, -1);
    duk_push_lstring(ctx, j->ctxjson, j->ctx_len);
    duk_json_decode(ctx, -1);
    duk_call(ctx, 2);
    if (!duk_is_undefined(ctx, -1)) duk_json_encode(ctx, -1);
    if (duk_is_undefined(ctx, -1)) { /* undefined, or a function: JSON has no such value */
        duk_pop(ctx);
        duk_push_string(ctx, "null");
    }
    return 1;
}

/* Runs the job in f. *answered is set when it ended with a result (not an error): only then
 * may a snapshot worker serve another. */
static int run_job(struct js_heap *heap, int fd, const struct frame *f, int *answered)
{
    struct job j;
    if (parse_job(f, heap->precompiled, &j) != 0) return WORKER_EXIT_PROTOCOL;
    duk_context *ctx = heap->ctx;

    if (!heap->precompiled && js_heap_compile(heap, j.code, j.code_len) != 0)
        return report_thrown(ctx, heap, fd, j.mode == JOB_MODE_CHECK ? ERR_SYNTAX : ERR_FUNCTION);
    if (j.mode == JOB_MODE_CHECK)
        return frame_send(fd, FRAME_RESULT, "null", 4) ? WORKER_EXIT_PROTOCOL : WORKER_EXIT_OK;

    struct log_state ls = {.fd = fd, .max_bytes = j.max_log_bytes, .max_lines = j.max_log_lines};
    js_heap_set_log_sink(log_sink, &ls);
    js_heap_set_host_fd(fd);

    if (duk_pcall(ctx, 0) != 0) return report_thrown(ctx, heap, fd, ERR_FUNCTION);
    duk_pop(ctx);
    if (duk_safe_call(ctx, run_entry, &j, 0, 1) != 0)
        return report_thrown(ctx, heap, fd, ERR_FUNCTION);

    duk_size_t len;
    const char *json = duk_get_lstring(ctx, -1, &len);
    if (len > j.max_output) {
        static const char msg[] = "result over max_output_bytes";
        return send_error(fd, ERR_OUTPUT, NULL, msg, sizeof msg - 1, 0);
    }
    size_t olen;
    char *clean = utf8_sanitize(json, len, &olen);
    if (!clean) return WORKER_EXIT_NOMEM;
    int rc = frame_send(fd, FRAME_RESULT, clean, olen);
    free(clean);
    if (rc) return WORKER_EXIT_PROTOCOL;
    *answered = 1;
    return WORKER_EXIT_OK;
}

/* Reads one job and runs it. *gone: the socket closed before a job came. */
static int serve_job(struct js_heap *heap, int fd, int *answered, int *gone)
{
    struct frame f;
    int rc = frame_recv(fd, &f, FRAME_MAX_PAYLOAD, -1);
    if (rc == -EPIPE) *gone = 1;
    if (rc != 0) return WORKER_EXIT_PROTOCOL;
    rc = f.type == FRAME_JOB ? run_job(heap, fd, &f, answered) : WORKER_EXIT_PROTOCOL;
    frame_free(&f); /* a snapshot worker reads many jobs; the job's strings live in f */
    return rc;
}

int worker_serve(struct js_heap *heap, int fd)
{
    int answered = 0, gone = 0;
    return serve_job(heap, fd, &answered, &gone);
}

int worker_serve_snapshot(struct js_heap *heap, int fd, int (*before_job)(void *), void *arg)
{
    for (;;) {
        if (before_job(arg) != 0) return WORKER_EXIT_CONFINE;
        int answered = 0, gone = 0;
        int rc = serve_job(heap, fd, &answered, &gone);
        if (gone) return WORKER_EXIT_OK; /* fnboxd let this worker go */
        if (rc != WORKER_EXIT_OK || !answered) return rc; /* after an error: a fresh worker */
        /* everything the invocation did to the heap is undone before the next job is read */
        if (js_heap_reset(heap) != 0) return WORKER_EXIT_FATAL;
    }
}
