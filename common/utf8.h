/* Makes text from Duktape safe to hand to strict UTF-8 consumers (jansson, HTTP clients).
 * Duktape keeps strings as CESU-8: characters outside the BMP are two 3-byte surrogates,
 * and a lone surrogate is representable. utf8_sanitize joins surrogate pairs into 4-byte
 * UTF-8 and replaces every other invalid sequence with U+FFFD. Returns a new NUL-terminated
 * heap string (length in *out_len) or NULL when out of memory. */
#ifndef FNBOX_UTF8_H
#define FNBOX_UTF8_H

#include <stddef.h>

char *utf8_sanitize(const char *in, size_t len, size_t *out_len);

#endif
