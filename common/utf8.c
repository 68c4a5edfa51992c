#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>

/* Decodes one sequence at s (n bytes left), allowing encoded surrogates.
 * Returns its length and the code point, or 0 when the bytes are not a sequence. */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) len = 2, c = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0) len = 3, c = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0) len = 4, c = s[0] & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF) return 0;
    *cp = c;
    return len;
}

static size_t encode(uint32_t c, unsigned char *o)
{
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

char *utf8_sanitize(const char *in, size_t len, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 3) return NULL;
    /* every input byte yields at most 3 output bytes (one U+FFFD) */
    unsigned char *out = malloc(len * 3 + 1), *o = out;
    if (!out) return NULL;
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        size_t k = decode(s + i, len - i, &c);
        if (k == 0) {
            o += encode(0xFFFD, o);
            i++;
            continue;
        }
        if (c >= 0xD800 && c <= 0xDBFF) {
            uint32_t lo;
            size_t k2 = (i + k < len) ? decode(s + i + k, len - i - k, &lo) : 0;
            if (k2 && lo >= 0xDC00 && lo <= 0xDFFF) {
                o += encode(0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00), o);
                i += k + k2;
                continue;
            }
            c = 0xFFFD;
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        o += encode(c, o);
        i += k;
    }
    *o = 0;
    *out_len = (size_t)(o - out);
    return (char *)out;
}
