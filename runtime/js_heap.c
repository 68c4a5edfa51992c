#include "runtime/js_heap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <fcntl.h>

#include "common/frame.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/tlv.h"
#include "common/utf8.h"
#include "runtime/test_syscalls.h"
#include "runtime/host_call.h"
#include "runtime/js_args.h"
#include "runtime/js_crypto.h"
#include "runtime/js_fetch.h"

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
    "console", "secrets", "fetch", "crypto", /* host APIs, installed below */
#ifdef FNBOX_TEST_HOOKS
    "__fnbox_test_syscall",
#endif
};

static js_log_sink log_sink;
static void *log_sink_arg;

#define SECRET_NAME_MAX 128
#define SECRET_VALUE_MAX (64u * 1024u)

void js_heap_set_host_fd(int fd)
{
    host_call_set_fd(fd);
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

/* secrets.get(name): the value of a secret granted to this function, or a catchable Error
 * (the same one whether the secret is not granted or does not exist). */
static duk_ret_t js_secrets_get(duk_context *ctx)
{
    if (!js_is_text(ctx, 0))
        return duk_error(ctx, DUK_ERR_TYPE_ERROR, "secrets.get(name): name must be a string");
    duk_size_t n;
    const char *name = duk_get_lstring(ctx, 0, &n);
    if (n == 0 || n > SECRET_NAME_MAX)
        return duk_error(ctx, DUK_ERR_RANGE_ERROR, "secrets.get(name): invalid secret name");
    struct tlv_writer w = {0};
    if (tlv_put_str(&w, CALL_OP, CALL_OP_SECRETS_GET) || tlv_put(&w, CALL_NAME, name, n))
        _exit(WORKER_EXIT_NOMEM);
    struct frame reply;
    int rc = host_call(&w, &reply, SECRET_VALUE_MAX + 4096);
    tlv_writer_free(&w);
    if (rc) return duk_error(ctx, DUK_ERR_ERROR, "secrets are not available here");

    struct host_reply r;
    if (host_reply_parse(&reply, &r) != 0 || (r.ok && !r.value.p)) _exit(WORKER_EXIT_PROTOCOL);
    /* Only valid UTF-8 enters the heap: raw bytes could start with 0x82 or 0xFF and so
     * forge one of Duktape's hidden property keys. */
    const struct host_bytes *text = r.ok ? &r.value : &r.error;
    static const char fallback[] = "secret not available";
    size_t clean_len;
    char *clean = text->p ? utf8_sanitize((const char *)text->p, text->len, &clean_len)
                          : utf8_sanitize(fallback, sizeof fallback - 1, &clean_len);
    host_reply_wipe(&reply);
    if (!clean) _exit(WORKER_EXIT_NOMEM);
    rc = js_push_lstring_safe(ctx, clean, clean_len);
    js_wipe_free(clean, clean_len); /* the value now lives only in the JS heap */
    if (rc) return duk_throw(ctx); /* out of memory */
    if (!r.ok) return duk_error(ctx, DUK_ERR_ERROR, "%s", duk_get_string(ctx, -1));
    return 1;
}

#ifdef FNBOX_TEST_HOOKS
/* Test builds only: perform a syscall the worker's seccomp filter forbids, so tests can see
 * the kill reported as sandbox_violation. Never compiled into build/fnboxd. */
static duk_ret_t js_test_syscall(duk_context *ctx)
{
    const char *name = duk_require_string(ctx, 0);
    long r;
    if (test_syscall_run(name, &r) != 0) return duk_error(ctx, DUK_ERR_TYPE_ERROR, "unknown test syscall");
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
    js_fetch_install(ctx, -1);
    js_crypto_install(ctx, -1);
#ifdef FNBOX_TEST_HOOKS
    duk_push_c_function(ctx, js_test_syscall, 1);
    duk_put_prop_string(ctx, -2, "__fnbox_test_syscall");
#endif
    duk_pop(ctx);
    return 0;
}

int js_heap_compile(struct js_heap *h, const char *code, size_t len)
{
    duk_push_string(h->ctx, JS_SOURCE_NAME);
    return duk_pcompile_lstring_filename(h->ctx, 0, code, len);
}

static int setup(struct js_heap *h)
{
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

int js_heap_create(struct js_heap *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = duk_create_heap(js_alloc, js_realloc, js_free, &h->alloc, NULL);
    if (!h->ctx) return -ENOMEM;
    return setup(h);
}

int js_heap_create_in_arena(struct js_heap *h, struct js_arena *a)
{
    memset(h, 0, sizeof *h);
    h->arena = a;
    h->ctx = duk_create_heap(js_arena_alloc, js_arena_realloc, js_arena_free, a, NULL);
    if (!h->ctx) return -ENOMEM;
    return setup(h);
}

int js_heap_reset(struct js_heap *h)
{
    return h->arena ? js_arena_reset(h->arena) : -EINVAL;
}

struct js_alloc_state *js_heap_alloc_state(struct js_heap *h)
{
    return h->arena ? &h->arena->acct : &h->alloc;
}

void js_heap_destroy(struct js_heap *h)
{
    if (h->ctx) duk_destroy_heap(h->ctx);
    h->ctx = NULL; /* the arena, if any, is its owner's to unmap */
}
