/* fetch(url[, options]) for functions: synchronous HTTP through the broker in fnboxd.
 *
 * The worker has no network. fetch validates its arguments strictly (TypeError/RangeError,
 * before anything is sent), reads only OWN properties of options and options.headers (so a
 * polluted Object.prototype cannot add a method, headers or a body), and sends one
 * FRAME_CALL {CALL_OP "fetch", CALL_URL, CALL_METHOD, CALL_HEADERS (JSON object text),
 * [CALL_BODY], CALL_TIMEOUT_MS} over the host-call channel (runtime/host_call.h). The
 * broker decides and performs the request; every policy check (allowlist, scheme, SSRF,
 * CR/LF, secret binding, limits) is the broker's, since nothing in the worker is trusted.
 *
 * A granted reply becomes a fresh {status, ok, headers, url, text(), json()}: headers is an
 * object of lower-case names, text() the body as a string (valid UTF-8 only: invalid bytes
 * become U+FFFD, so no byte sequence from the network can forge a Duktape hidden key),
 * json() the body parsed (SyntaxError when it is not JSON). A refused reply throws an Error
 * with .message REPLY_ERROR and .code REPLY_CODE (a FETCH_ERR_* of common/proto.h).
 * C copies of the request (URL, headers, body) and of the reply are wiped after use. */
#ifndef FNBOX_JS_FETCH_H
#define FNBOX_JS_FETCH_H

#include "duktape.h"

/* Defines `fetch` on the object at global_idx. May throw (heap setup). */
void js_fetch_install(duk_context *ctx, duk_idx_t global_idx);

#endif
