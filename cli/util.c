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
