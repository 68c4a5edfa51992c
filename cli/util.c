#include "cli/util.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int fnbox_parse_i64(const char *s, long long *out)
{
    if (s == NULL || !(*s == '-' || (*s >= '0' && *s <= '9'))) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = v;
    return 0;
}

const char *fnbox_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    if (dstlen == 0) return dst;
    size_t n = srclen < dstlen - 1 ? srclen : dstlen - 1;
    bool cut = srclen > n;
    if (cut && n >= 3) n -= 3;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (cut && dstlen > 3) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
}

bool fnbox_is_hex(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 != 0) return false;
    return strspn(s, "0123456789abcdefABCDEF") == n;
}

void fnbox_hex(char *dst, const unsigned char *src, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 0x0f];
    }
    dst[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int fnbox_unhex(const char *s, unsigned char *out, size_t cap, size_t *n)
{
    size_t len = strlen(s);
    if (len == 0 || len % 2 != 0 || len / 2 > cap) return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *n = len / 2;
    return 0;
}

bool fnbox_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') return false;
    return true;
}

/* Each block carries its size in a max_align_t-sized prefix so that free can wipe it. */
#define CL_HDR sizeof(max_align_t)

static void *cleansing_malloc(size_t n)
{
    if (n > SIZE_MAX - CL_HDR) return NULL;
    unsigned char *p = malloc(CL_HDR + n);
    if (p == NULL) return NULL;
    memcpy(p, &n, sizeof n);
    return p + CL_HDR;
}

static void cleansing_free(void *q)
{
    if (q == NULL) return;
    unsigned char *p = (unsigned char *)q - CL_HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    explicit_bzero(q, n);
    free(p);
}

void fnbox_json_use_cleansing_alloc(void)
{
    json_set_alloc_funcs(cleansing_malloc, cleansing_free);
}

/* --- the raw text of a top-level member ------------------------------------------------- */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The end of the string starting at s[i] == '"' (just past its closing quote), or 0. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    if (i >= n || s[i] != '"') return 0;
    for (i++; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '"') {
            return i + 1;
        } else if ((unsigned char)s[i] < 0x20) {
            return 0;
        }
    }
    return 0;
}

/* The end of the value starting at s[i] (just past it), or 0. Nesting is followed with a
 * counter; the structure itself was checked by the caller's full parse. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n) return 0;
    if (s[i] == '"') return skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, n, i);
                if (i == 0) return 0;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            if (c == '}' || c == ']') {
                if (depth == 0) return 0;
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return 0;
    }
    size_t start = i;
    while (i < n && strchr("0123456789+-.eEtrufalsn", s[i]) != NULL && s[i] != '\0')
        i++;
    return i > start ? i : 0;
}

int fnbox_json_raw_member(const char *s, size_t n, const char *name, size_t *off, size_t *len)
{
    int found = 0;
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{') return -1;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}') return 0;
    for (;;) {
        size_t kstart = skip_ws(s, n, i), kend = skip_string(s, n, kstart);
        if (kend == 0) return -1;
        /* the key decoded (escapes and all) by jansson, so "\u0072esult" is "result" too */
        json_t *key = json_loadb(s + kstart, kend - kstart, JSON_DECODE_ANY, NULL);
        const char *k = json_string_value(key);
        int match = k != NULL && json_string_length(key) == strlen(name) && strcmp(k, name) == 0;
        int bad = k == NULL;
        json_decref(key);
        if (bad) return -1;
        i = skip_ws(s, n, kend);
        if (i >= n || s[i] != ':') return -1;
        size_t vstart = skip_ws(s, n, i + 1), vend = skip_value(s, n, vstart);
        if (vend == 0) return -1;
        if (match) {
            if (found) return -1; /* twice: which one was signed is ambiguous */
            found = 1;
            *off = vstart;
            *len = vend - vstart;
        }
        i = skip_ws(s, n, vend);
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == '}') break;
        return -1;
    }
    if (skip_ws(s, n, i + 1) != n) return -1;
    return found;
}
