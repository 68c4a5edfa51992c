/* The `crypto` global: what oracle functions need to sign requests.
 *
 *   crypto.sha256(data[, {encoding}])          SHA-256 of data
 *   crypto.hmacSha256(key, data[, {encoding}]) HMAC-SHA256 (RFC 2104) of data under key
 *   crypto.randomBytes(n[, {encoding}])        n (1..1024) bytes from getrandom(2)
 * data and key are strings (hashed as their UTF-8 bytes) or ArrayBuffer/typed-array/DataView
 * bytes; the result is a lower-case hex string, or standard padded base64 with
 * {encoding:'base64'} (an own property only). Bad arguments throw TypeError/RangeError.
 *
 * Computed in the worker with OpenSSL 3 EVP. OpenSSL initialises lazily (pthread_once
 * wake-ups, config files, provider loading), which the worker's seccomp filter would kill,
 * so js_crypto_init must run once before any worker is forked (zygote_init): it loads
 * OpenSSL without its config file, fetches SHA-256 and HMAC, and computes known answers so
 * that every lazy path has already run. Until then the functions throw an Error. */
#ifndef FNBOX_JS_CRYPTO_H
#define FNBOX_JS_CRYPTO_H

#include "duktape.h"

/* Returns 0, or -EIO when OpenSSL cannot provide SHA-256/HMAC or a known answer differs. */
int js_crypto_init(void);

/* Defines the frozen `crypto` object on the object at global_idx. May throw (heap setup). */
void js_crypto_install(duk_context *ctx, duk_idx_t global_idx);

#endif
