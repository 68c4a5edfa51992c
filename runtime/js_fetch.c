#include "runtime/js_fetch.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/frame.h"
#include "common/proto.h"
#include "common/tlv.h"
#include "common/utf8.h"
#include "runtime/host_call.h"
#include "runtime/js_args.h"

#define BODY_KEY DUK_HIDDEN_SYMBOL("fnboxBody")
#define TIMEOUT_MS_MAX 1e12 /* far beyond any deadline; keeps the u64 conversion defined */

/* Value-stack slots of js_fetch after argument checking. */
enum { ARG_URL, ARG_OPTIONS, ARG_METHOD, ARG_BODY, ARG_HEADERS, ARG_TIMEOUT };

/* --- a byte buffer whose every copy is wiped: it holds headers (API keys) --- */

struct wbuf {
    char *p;
    size_t len, cap;
};

static void wbuf_put(struct wbuf *b, const void *data, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len) _exit(WORKER_EXIT_NOMEM);
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n) ncap *= 2;
        char *np = malloc(ncap);
        if (!np) _exit(WORKER_EXIT_NOMEM);
        if (b->len) memcpy(np, b->p, b->len);
        js_wipe_free(b->p, b->cap); /* not realloc: the old block would keep a copy */
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* Appends s (valid UTF-8) as a JSON string. */
static void wbuf_json_string(struct wbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    wbuf_put(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        wbuf_put(b, s + i - run, run);
        run = 0;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            wbuf_put(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            wbuf_put(b, esc, 6);
        }
    }
    wbuf_put(b, s + n - run, run);
    wbuf_put(b, "\"", 1);
}

/* --- arguments --- */

/* options.headers: a plain object whose own enumerable string-keyed values are strings
 * (numbers are converted). Leaves a bare array [name0, value0, name1, value1, ...]. */
static void collect_headers(duk_context *ctx, duk_idx_t headers)
{
    headers = duk_require_normalize_index(ctx, headers);
    if (!duk_is_object(ctx, headers) || duk_is_array(ctx, headers) ||
        duk_is_function(ctx, headers) || duk_is_buffer_data(ctx, headers))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                        "fetch: options.headers must be an object of name: string pairs");
    duk_idx_t out = duk_push_bare_array(ctx);
    duk_uarridx_t n = 0;
    duk_enum(ctx, headers, DUK_ENUM_OWN_PROPERTIES_ONLY); /* enumerable, no Symbols */
    while (duk_next(ctx, -1, 1)) {                        /* [.. enum name value] */
        if (duk_is_number(ctx, -1)) duk_to_string(ctx, -1);
        if (!js_is_text(ctx, -1) || !js_is_text(ctx, -2))
            (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                            "fetch: options.headers['%.64s'] must be a string",
                            duk_safe_to_string(ctx, -2));
        duk_swap_top(ctx, -2);
        duk_put_prop_index(ctx, out, n++);
        duk_put_prop_index(ctx, out, n++);
    }
    duk_pop(ctx);
}

/* Leaves the stack as [url, options, method, body, headers, timeout] (undefined where
 * not given), each of the right type, or throws. Nothing is allocated outside the heap. */
static void check_arguments(duk_context *ctx)
{
    duk_set_top(ctx, 2);
    if (!js_is_text(ctx, ARG_URL))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "fetch(url, options): url must be a string");
    duk_push_undefined(ctx);
    duk_push_undefined(ctx);
    duk_push_undefined(ctx);
    duk_push_undefined(ctx);
    if (duk_is_null_or_undefined(ctx, ARG_OPTIONS)) return;
    if (!duk_is_object(ctx, ARG_OPTIONS) || duk_is_function(ctx, ARG_OPTIONS))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "fetch(url, options): options must be an object");

    js_get_own(ctx, ARG_OPTIONS, "method");
    if (!duk_is_undefined(ctx, -1) && !js_is_text(ctx, -1))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "fetch: options.method must be a string");
    duk_replace(ctx, ARG_METHOD);

    js_get_own(ctx, ARG_OPTIONS, "body");
    if (duk_is_null(ctx, -1)) {
        duk_pop(ctx);
        duk_push_undefined(ctx);
    } else if (!duk_is_undefined(ctx, -1) && !js_is_text(ctx, -1)) {
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "fetch: options.body must be a string");
    }
    duk_replace(ctx, ARG_BODY);

    js_get_own(ctx, ARG_OPTIONS, "headers");
    if (duk_is_null_or_undefined(ctx, -1)) {
        duk_pop(ctx);
    } else {
        collect_headers(ctx, -1);
        duk_replace(ctx, ARG_HEADERS);
        duk_pop(ctx);
    }

    js_get_own(ctx, ARG_OPTIONS, "timeout_ms");
    if (!duk_is_undefined(ctx, -1)) {
        if (!duk_is_number(ctx, -1))
            (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "fetch: options.timeout_ms must be a number");
        double t = duk_get_number(ctx, -1);
        if (!(t >= 0) || isinf(t))
            (void)duk_error(ctx, DUK_ERR_RANGE_ERROR,
                            "fetch: options.timeout_ms must be a finite number >= 0");
    }
    duk_replace(ctx, ARG_TIMEOUT);
}

/* The methods the Fetch standard normalises to upper case; others are sent as written. */
static void normalise_method(char *m)
{
    static const char *const std[] = {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"};
    for (size_t i = 0; i < sizeof std / sizeof *std; i++) {
        if (strcasecmp(m, std[i]) == 0) {
            memcpy(m, std[i], strlen(std[i]));
            return;
        }
    }
}

/* --- the call --- */

struct request {
    char *url, *method, *body; /* sanitized UTF-8 copies, wiped by request_wipe */
    size_t url_len, method_len, body_len;
    struct wbuf headers; /* JSON object text */
    uint64_t timeout_ms;
};

static void request_wipe(struct request *rq)
{
    js_wipe_free(rq->url, rq->url_len);
    js_wipe_free(rq->method, rq->method_len);
    js_wipe_free(rq->body, rq->body_len);
    js_wipe_free(rq->headers.p, rq->headers.cap);
    memset(rq, 0, sizeof *rq);
}

/* Copies the checked arguments out of the heap. Never throws. */
static void build_request(duk_context *ctx, struct request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->url = js_utf8_dup(ctx, ARG_URL, &rq->url_len);
    if (duk_is_undefined(ctx, ARG_METHOD)) rq->method = utf8_sanitize("GET", 3, &rq->method_len);
    else rq->method = js_utf8_dup(ctx, ARG_METHOD, &rq->method_len);
    if (!rq->url || !rq->method) _exit(WORKER_EXIT_NOMEM);
    normalise_method(rq->method);
    if (!duk_is_undefined(ctx, ARG_BODY)) {
        rq->body = js_utf8_dup(ctx, ARG_BODY, &rq->body_len);
        if (!rq->body) _exit(WORKER_EXIT_NOMEM);
    }
    wbuf_put(&rq->headers, "{", 1);
    if (!duk_is_undefined(ctx, ARG_HEADERS)) {
        duk_size_t n = duk_get_length(ctx, ARG_HEADERS);
        for (duk_size_t i = 0; i < n; i++) {
            duk_get_prop_index(ctx, ARG_HEADERS, (duk_uarridx_t)i); /* a bare array: no getters */
            size_t len;
            char *s = js_utf8_dup(ctx, -1, &len);
            duk_pop(ctx);
            if (!s) _exit(WORKER_EXIT_NOMEM);
            if (i % 2 == 0 && i > 0) wbuf_put(&rq->headers, ",", 1);
            wbuf_json_string(&rq->headers, s, len);
            if (i % 2 == 0) wbuf_put(&rq->headers, ":", 1);
            js_wipe_free(s, len);
        }
    }
    wbuf_put(&rq->headers, "}", 1);
    if (!duk_is_undefined(ctx, ARG_TIMEOUT))
        rq->timeout_ms = (uint64_t)ceil(fmin(duk_get_number(ctx, ARG_TIMEOUT), TIMEOUT_MS_MAX));
}

/* Sends the call and returns the reply. The TLV buffer is sized once (no realloc leaves a
 * copy of the request behind) and wiped. */
static int send_request(const struct request *rq, struct frame *reply)
{
    size_t total = 6 + strlen(CALL_OP_FETCH) + 6 + rq->url_len + 6 + rq->method_len + 6 +
                   rq->headers.len + 6 + 8 + (rq->body ? 6 + rq->body_len : 0);
    struct tlv_writer w = {.buf = malloc(total), .cap = total};
    if (!w.buf) _exit(WORKER_EXIT_NOMEM);
    int rc = tlv_put_str(&w, CALL_OP, CALL_OP_FETCH);
    rc = rc ? rc : tlv_put(&w, CALL_URL, rq->url, rq->url_len);
    rc = rc ? rc : tlv_put(&w, CALL_METHOD, rq->method, rq->method_len);
    rc = rc ? rc : tlv_put(&w, CALL_HEADERS, rq->headers.p, rq->headers.len);
    rc = rc ? rc : tlv_put_u64(&w, CALL_TIMEOUT_MS, rq->timeout_ms);
    if (!rc && rq->body) rc = tlv_put(&w, CALL_BODY, rq->body, rq->body_len);
    if (rc || w.cap != total) _exit(WORKER_EXIT_NOMEM);
    rc = host_call(&w, reply, FRAME_MAX_PAYLOAD);
    OPENSSL_cleanse(w.buf, w.cap);
    tlv_writer_free(&w);
    return rc;
}

/* --- the answer --- */

static duk_ret_t js_response_text(duk_context *ctx)
{
    duk_push_current_function(ctx);
    duk_get_prop_string(ctx, -1, BODY_KEY);
    return 1;
}

static duk_ret_t js_response_json(duk_context *ctx)
{
    duk_push_current_function(ctx);
    duk_get_prop_string(ctx, -1, BODY_KEY);
    duk_json_decode(ctx, -1); /* a SyntaxError when the body is not JSON */
    return 1;
}

struct answer {
    const struct host_reply *r;
    const char *body, *url, *msg, *code; /* sanitized UTF-8 */
    size_t body_len, url_len, msg_len, code_len;
    json_t *headers; /* lower-case name -> string (or array of strings) */
};

/* obj[key] = value on top, as an own data property: no inherited setter runs */
static void def_value(duk_context *ctx, duk_idx_t obj, const char *key)
{
    duk_push_string(ctx, key);
    duk_swap_top(ctx, -2);
    duk_def_prop(ctx, obj, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WEC);
}

static void push_headers(duk_context *ctx, json_t *headers)
{
    duk_idx_t obj = duk_push_object(ctx);
    const char *name;
    json_t *v;
    json_object_foreach(headers, name, v) {
        size_t len = strlen(name);
        /* lower-case ASCII in a heap buffer the GC reclaims even if a push throws */
        char *low = duk_push_fixed_buffer(ctx, len);
        for (size_t i = 0; i < len; i++)
            low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
        duk_buffer_to_string(ctx, -1); /* valid UTF-8: jansson checked it */
        if (json_is_string(v)) {
            duk_push_lstring(ctx, json_string_value(v), json_string_length(v));
        } else if (json_is_array(v)) { /* a repeated header: joined as HTTP allows */
            duk_push_string(ctx, ", ");
            size_t i;
            json_t *item;
            duk_idx_t count = 0;
            json_array_foreach(v, i, item) {
                if (!json_is_string(item)) continue;
                duk_push_lstring(ctx, json_string_value(item), json_string_length(item));
                count++;
            }
            duk_join(ctx, count);
        } else {
            duk_pop(ctx);
            continue;
        }
        duk_def_prop(ctx, obj, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WEC);
    }
}

static void push_body_function(duk_context *ctx, duk_c_function fn, duk_idx_t body)
{
    duk_push_c_function(ctx, fn, 0);
    duk_push_string(ctx, BODY_KEY);
    duk_dup(ctx, body);
    duk_def_prop(ctx, -3, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WEC);
}

static duk_ret_t push_response(duk_context *ctx, void *udata)
{
    const struct answer *a = udata;
    duk_push_lstring(ctx, a->body, a->body_len);
    duk_idx_t body = duk_get_top_index(ctx);
    duk_idx_t obj = duk_push_object(ctx);
    duk_push_number(ctx, (double)a->r->status);
    def_value(ctx, obj, "status");
    duk_push_boolean(ctx, a->r->status >= 200 && a->r->status <= 299);
    def_value(ctx, obj, "ok");
    push_headers(ctx, a->headers);
    def_value(ctx, obj, "headers");
    duk_push_lstring(ctx, a->url, a->url_len);
    def_value(ctx, obj, "url");
    push_body_function(ctx, js_response_text, body);
    def_value(ctx, obj, "text");
    push_body_function(ctx, js_response_json, body);
    def_value(ctx, obj, "json");
    return 1;
}

static duk_ret_t push_refusal(duk_context *ctx, void *udata)
{
    const struct answer *a = udata;
    duk_idx_t err = duk_push_error_object(ctx, DUK_ERR_ERROR, "%s", a->msg);
    if (a->code) {
        duk_push_lstring(ctx, a->code, a->code_len);
        def_value(ctx, err, "code");
    }
    return 1;
}

static char *sanitized(const struct host_bytes *b, const char *fallback, size_t *len)
{
    const char *s = b->p ? (const char *)b->p : fallback;
    char *out = utf8_sanitize(s, b->p ? b->len : strlen(fallback), len);
    if (!out) _exit(WORKER_EXIT_NOMEM);
    return out;
}

/* fetch(url[, options]) */
static duk_ret_t js_fetch(duk_context *ctx)
{
    check_arguments(ctx);
    struct request rq;
    build_request(ctx, &rq);
    struct frame reply;
    if (send_request(&rq, &reply) != 0) {
        request_wipe(&rq);
        return duk_error(ctx, DUK_ERR_ERROR, "fetch is not available here");
    }

    struct host_reply r;
    struct answer a = {.r = &r};
    if (host_reply_parse(&reply, &r) != 0 || (r.ok && !r.has_status)) _exit(WORKER_EXIT_PROTOCOL);
    char *body = NULL, *url = NULL, *msg = NULL, *code = NULL;
    if (r.ok) {
        if (r.headers.p) {
            a.headers = json_loadb((const char *)r.headers.p, r.headers.len, 0, NULL);
            if (!json_is_object(a.headers)) _exit(WORKER_EXIT_PROTOCOL);
        } else {
            a.headers = json_object();
            if (!a.headers) _exit(WORKER_EXIT_NOMEM);
        }
        body = sanitized(&r.value, "", &a.body_len);
        if (r.url.p) url = sanitized(&r.url, "", &a.url_len);
        a.body = body;
        a.url = url ? url : rq.url;
        if (!url) a.url_len = rq.url_len;
    } else {
        msg = sanitized(&r.error, "fetch refused", &a.msg_len);
        if (r.code.p) code = sanitized(&r.code, "", &a.code_len);
        a.msg = msg;
        a.code = code;
    }
    host_reply_wipe(&reply); /* the raw body is about to live only in the heap */

    int rc = duk_safe_call(ctx, r.ok ? push_response : push_refusal, &a, 0, 1);
    json_decref(a.headers);
    js_wipe_free(body, a.body_len);
    js_wipe_free(url, a.url_len);
    js_wipe_free(msg, a.msg_len);
    js_wipe_free(code, a.code_len);
    request_wipe(&rq);
    if (rc != DUK_EXEC_SUCCESS || !r.ok) return duk_throw(ctx); /* refusal or out of memory */
    return 1;
}

void js_fetch_install(duk_context *ctx, duk_idx_t global_idx)
{
    global_idx = duk_require_normalize_index(ctx, global_idx);
    duk_push_c_function(ctx, js_fetch, 2);
    duk_put_prop_string(ctx, global_idx, "fetch");
}
