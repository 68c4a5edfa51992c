/* util: pure helpers for the fnbox CLI (no I/O, no global state but jansson's allocator).
 * - fnbox_parse_i64(): the whole string as a base-10 integer; 0, or -1 if it is not one.
 * - fnbox_sanitize(): a copy of untrusted text that is safe to print on a terminal (control
 *   bytes become '?', long text is cut with "..."); always NUL-terminated, returns dst.
 * - fnbox_is_hex() / fnbox_hex(): even-length hex check; lowercase hex encoding.
 * - fnbox_unhex(): decodes even-length hex (either case) into out[0..cap); 0 with *n set, or
 *   -1 when s is not hex or does not fit.
 * - fnbox_is_blank(): only JSON whitespace.
 * - fnbox_json_raw_member(): finds the member NAME of the JSON object in s[0..n) and gives the
 *   exact bytes of its value as they appear there (*off, *len), not a re-encoding: what a
 *   receipt's output_sha256 hashes. 1 when found, 0 when absent, -1 when s is not one object
 *   or holds NAME twice. Keys are compared decoded (escapes included). Check that s is valid
 *   JSON first (a full parse): the scan follows its structure but does not validate it.
 * - fnbox_json_use_cleansing_alloc(): make jansson wipe every block it frees, so a secret
 *   copied into a json_t does not linger in freed memory. Call before any other json_* call;
 *   afterwards never free() memory that jansson allocated (use json_dumpb, not json_dumps). */
#ifndef FNBOX_CLI_UTIL_H
#define FNBOX_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#define FNBOX_CLI_VERSION "0.1.0"

int fnbox_parse_i64(const char *s, long long *out);
const char *fnbox_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen);
bool fnbox_is_hex(const char *s);
void fnbox_hex(char *dst, const unsigned char *src, size_t n); /* dst: 2n+1 bytes */
int fnbox_unhex(const char *s, unsigned char *out, size_t cap, size_t *n);
bool fnbox_is_blank(const char *s, size_t n);
int fnbox_json_raw_member(const char *s, size_t n, const char *name, size_t *off, size_t *len);
void fnbox_json_use_cleansing_alloc(void);

#endif
