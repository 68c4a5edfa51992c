/* Argument helpers shared by the host APIs (fetch, crypto, secrets).
 *
 * - js_get_own reads an OWN property only: a function that pollutes Object.prototype (or
 *   any prototype) cannot inject options such as method, headers or encoding.
 * - js_utf8_dup copies the string at idx into a C buffer as valid UTF-8 (Duktape keeps
 *   CESU-8; lone surrogates become U+FFFD). The caller wipes and frees it (js_wipe_free).
 * - js_push_lstring_safe pushes a string without longjmp-ing out of the caller on an
 *   allocation failure, so the caller can wipe its C buffers before rethrowing. */
#ifndef FNBOX_JS_ARGS_H
#define FNBOX_JS_ARGS_H

#include <stddef.h>

#include "duktape.h"

/* A string value that is not a Symbol (Duktape's C API counts Symbols as strings). */
int js_is_text(duk_context *ctx, duk_idx_t idx);

/* Pushes obj[key] when key is an own property of obj (a getter runs), else undefined.
 * Returns 1 when own. obj must be an object. */
int js_get_own(duk_context *ctx, duk_idx_t obj, const char *key);

/* NULL only when out of memory. idx must hold a string. */
char *js_utf8_dup(duk_context *ctx, duk_idx_t idx, size_t *len);

void js_wipe_free(void *p, size_t len);

/* 0: the string is on the stack. Otherwise the error is on the stack: wipe, then duk_throw. */
int js_push_lstring_safe(duk_context *ctx, const char *s, size_t len);

#endif
