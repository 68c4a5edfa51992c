#include "runtime/js_heap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <fcntl.h>

#include <openssl/crypto.h>

#include "common/frame.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/tlv.h"
#include "common/utf8.h"

/* The only globals a function sees. Everything else Duktape defines (Duktape, eval,
 * Function, CBOR, performance, ...) is deleted at heap construction. */
static const char *const allowed_globals[] = {
    "globalThis", "NaN", "Infinity", "undefined",
    "Object", "Array", "String", "Boolean", "Number", "Date", "RegExp", "Math", "JSON",
    "Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError",
    "parseInt", "parseFloat", "isNaN", "isFinite",
    "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape",
    "Symbol", "Proxy", "Reflect",
    "ArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
    "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array",
    "TextEncoder", "TextDecoder",
    "console", "secrets", /* host APIs, installed below */
#ifdef FNBOX_TEST_HOOKS
    "__fnbox_test_syscall",
#endif
};

static js_log_sink log_sink;
static void *log_sink_arg;
static int host_fd = -1;

#define SECRET_NAME_MAX 128
#define SECRET_VALUE_MAX (64u * 1024u)

void js_heap_set_host_fd(int fd)
{
    host_fd = fd;
}

void js_heap_set_log_sink(js_log_sink sink, void *arg)
{
    log_sink = sink;
    log_sink_arg = arg;
}

void fnbox_js_fatal(void *udata, const char *msg);
void fnbox_js_fatal(void *udata, const char *msg)
{
    (void)udata;
    (void)msg; /* no stdio in a confined worker; the exit status says it all */
    _exit(WORKER_EXIT_FATAL);
}

/* JSON-encodes an object argument; a getter that throws or a cycle falls back to String(). */
static duk_ret_t encode_arg(duk_context *ctx, void *udata)
{
    (void)udata;
    duk_json_encode(ctx, -1);
    return 1;
}

static duk_ret_t js_console_log(duk_context *ctx)
{
    duk_idx_t n = duk_get_top(ctx);
    for (duk_idx_t i = 0; i < n; i++) {
        if (duk_is_object(ctx, i) && !duk_is_function(ctx, i)) {
            duk_dup(ctx, i);
            if (duk_safe_call(ctx, encode_arg, NULL, 1, 1) != 0 || !duk_is_string(ctx, -1)) {
                duk_pop(ctx);
                duk_dup(ctx, i);
                duk_safe_to_string(ctx, -1);
            }
            duk_replace(ctx, i);
        } else {
            duk_safe_to_string(ctx, i);
        }
    }
    if (n == 0) duk_push_string(ctx, "");
    else {
        duk_push_string(ctx, " ");
        duk_insert(ctx, 0);
        duk_join(ctx, n);
    }
    duk_size_t len;
    const char *line = duk_get_lstring(ctx, -1, &len);
    if (log_sink && line) log_sink(log_sink_arg, line, len);
    return 0;
}

/* One host call: FRAME_CALL out, FRAME_REPLY in. A broken channel ends the worker: the
 * parent decides what that invocation's outcome is. */
static void host_call(const struct tlv_writer *call, struct frame *reply)
{
    if (host_fd < 0 || frame_send(host_fd, FRAME_CALL, call->buf, call->len) != 0 ||
        frame_recv(host_fd, reply, SECRET_VALUE_MAX + 4096, -1) != 0 || reply->type != FRAME_REPLY)
        _exit(WORKER_EXIT_PROTOCOL);
}

/* secrets.get(name): the value of a secret granted to this function, or a catchable Error
 * (the same one whether the secret is not granted or does not exist). */
static duk_ret_t js_secrets_get(duk_context *ctx)
{
    if (duk_get_top(ctx) < 1 || !duk_is_string(ctx, 0))
        return duk_error(ctx, DUK_ERR_TYPE_ERROR, "secrets.get(name): name must be a string");
    duk_size_t n;
    const char *name = duk_get_lstring(ctx, 0, &n);
    if (n == 0 || n > SECRET_NAME_MAX)
        return duk_error(ctx, DUK_ERR_RANGE_ERROR, "secrets.get(name): invalid secret name");
    struct tlv_writer w = {0};
    if (tlv_put_str(&w, CALL_OP, CALL_OP_SECRETS_GET) || tlv_put(&w, CALL_NAME, name, n))
        _exit(WORKER_EXIT_NOMEM);
    struct frame reply;
    host_call(&w, &reply);
    tlv_writer_free(&w);

    struct tlv_reader r = {.p = reply.data, .left = reply.len};
    uint16_t tag;
    const uint8_t *d, *value = NULL, *msg = NULL;
    size_t len, value_len = 0, msg_len = 0;
    uint64_t ok = 0;
    int rc;
    while ((rc = tlv_next(&r, &tag, &d, &len)) == 1) {
        if (tag == REPLY_OK && tlv_get_u64(d, len, &ok)) rc = -1;
        else if (tag == REPLY_VALUE) value = d, value_len = len;
        else if (tag == REPLY_ERROR) msg = d, msg_len = len;
        if (rc < 0) break;
    }
    if (rc < 0 || (ok && !value)) _exit(WORKER_EXIT_PROTOCOL);
    /* Only valid UTF-8 enters the heap: raw bytes could start with 0x82 or 0xFF and so
     * forge one of Duktape's hidden property keys. */
    const uint8_t *text = ok ? value : msg;
    size_t text_len = ok ? value_len : msg_len;
    if (!text) text = (const uint8_t *)"secret not available", text_len = 20;
    size_t clean_len;
    char *clean = utf8_sanitize((const char *)text, text_len, &clean_len);
    if (!clean) _exit(WORKER_EXIT_NOMEM);
    duk_push_lstring(ctx, clean, clean_len);
    OPENSSL_cleanse(clean, clean_len);
    free(clean);
    OPENSSL_cleanse(reply.data, reply.len); /* the value now lives only in the JS heap */
    frame_free(&reply);
    if (ok) return 1;
    return duk_error(ctx, DUK_ERR_ERROR, "%s", duk_get_string(ctx, -1));
}

#ifdef FNBOX_TEST_HOOKS
/* Test builds only: perform a syscall the worker's seccomp filter forbids, so tests can see
 * the kill reported as sandbox_violation. Never compiled into build/fnboxd. */
static duk_ret_t js_test_syscall(duk_context *ctx)
{
    const char *name = duk_require_string(ctx, 0);
    long r = -1;
    if (strcmp(name, "socket") == 0) r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    else if (strcmp(name, "openat") == 0) r = syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
    else if (strcmp(name, "getpid") == 0) r = syscall(SYS_getpid);
    else return duk_error(ctx, DUK_ERR_TYPE_ERROR, "unknown test syscall");
    duk_push_number(ctx, (double)r);
    return 1;
}
#endif

static int is_allowed(const char *name)
{
    for (size_t i = 0; i < sizeof allowed_globals / sizeof *allowed_globals; i++)
        if (strcmp(allowed_globals[i], name) == 0) return 1;
    return 0;
}

static duk_ret_t prune_globals(duk_context *ctx, void *udata)
{
    (void)udata;
    duk_push_global_object(ctx);
    /* collect names first: deleting while enumerating is unspecified */
    duk_push_array(ctx);
    duk_enum(ctx, -2, DUK_ENUM_OWN_PROPERTIES_ONLY | DUK_ENUM_INCLUDE_NONENUMERABLE |
                          DUK_ENUM_INCLUDE_SYMBOLS);
    duk_uarridx_t count = 0;
    while (duk_next(ctx, -1, 0)) duk_put_prop_index(ctx, -3, count++);
    duk_pop(ctx);
    for (duk_uarridx_t i = 0; i < count; i++) {
        duk_get_prop_index(ctx, -1, i);
        if (!duk_is_string(ctx, -1) || !is_allowed(duk_get_string(ctx, -1))) {
            if (!duk_del_prop(ctx, -3)) /* consumes the key */
                return duk_error(ctx, DUK_ERR_ERROR, "cannot remove a global");
        } else {
            duk_pop(ctx);
        }
    }
    duk_pop(ctx);
    /* (function(){}).constructor leads to Function. Duktape gives ECMAScript and native
     * functions different prototype objects: clean both. */
    duk_get_prop_string(ctx, -1, "Object");
    duk_get_prop_string(ctx, -1, "getPrototypeOf");
    for (int kind = 0; kind < 2; kind++) {
        duk_dup(ctx, -1);
        if (kind == 0) duk_eval_string(ctx, "(function () {})"); /* our source, not the user's */
        else duk_push_c_function(ctx, js_console_log, 0);
        duk_call(ctx, 1);
        if (!duk_del_prop_string(ctx, -1, "constructor"))
            return duk_error(ctx, DUK_ERR_ERROR, "cannot remove a function constructor");
        duk_pop(ctx);
    }
    duk_pop_2(ctx);
    duk_pop(ctx);
    return 0;
}

static duk_ret_t install_host_apis(duk_context *ctx, void *udata)
{
    (void)udata;
    static const duk_function_list_entry console_funcs[] = {
        {"log", js_console_log, DUK_VARARGS},   {"info", js_console_log, DUK_VARARGS},
        {"warn", js_console_log, DUK_VARARGS},  {"error", js_console_log, DUK_VARARGS},
        {"debug", js_console_log, DUK_VARARGS}, {NULL, NULL, 0},
    };
    duk_push_global_object(ctx);
    duk_push_object(ctx);
    duk_put_function_list(ctx, -1, console_funcs);
    duk_put_prop_string(ctx, -2, "console");
    duk_push_object(ctx);
    duk_push_c_function(ctx, js_secrets_get, 1);
    duk_put_prop_string(ctx, -2, "get");
    duk_freeze(ctx, -1); /* a function cannot swap secrets.get for its own */
    duk_put_prop_string(ctx, -2, "secrets");
#ifdef FNBOX_TEST_HOOKS
    duk_push_c_function(ctx, js_test_syscall, 1);
    duk_put_prop_string(ctx, -2, "__fnbox_test_syscall");
#endif
    duk_pop(ctx);
    return 0;
}

int js_heap_create(struct js_heap *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = duk_create_heap(js_alloc, js_realloc, js_free, &h->alloc, NULL);
    if (!h->ctx) return -ENOMEM;
    if (duk_safe_call(h->ctx, install_host_apis, NULL, 0, 1) != 0 ||
        (duk_pop(h->ctx), duk_safe_call(h->ctx, prune_globals, NULL, 0, 1) != 0)) {
        LOG_E("heap setup failed: %s", duk_safe_to_string(h->ctx, -1));
        js_heap_destroy(h);
        return -EINVAL;
    }
    duk_pop(h->ctx);
    duk_gc(h->ctx, 0);
    duk_gc(h->ctx, 0); /* twice: the first run may leave finalizable objects */
    return 0;
}

void js_heap_destroy(struct js_heap *h)
{
    if (h->ctx) duk_destroy_heap(h->ctx);
    h->ctx = NULL;
}
