#include "common/tlv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct tlv_writer *w, size_t more)
{
    if (more > SIZE_MAX - w->len) return -ENOMEM;
    if (w->len + more <= w->cap) return 0;
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + more) {
        if (ncap > SIZE_MAX / 2) return -ENOMEM;
        ncap *= 2;
    }
    uint8_t *nb = realloc(w->buf, ncap);
    if (!nb) return -ENOMEM;
    w->buf = nb;
    w->cap = ncap;
    return 0;
}

int tlv_put(struct tlv_writer *w, uint16_t tag, const void *data, size_t len)
{
    if (len > UINT32_MAX) return -E2BIG;
    int rc = reserve(w, 6 + len);
    if (rc) return rc;
    uint8_t *p = w->buf + w->len;
    p[0] = (uint8_t)tag;
    p[1] = (uint8_t)(tag >> 8);
    for (int i = 0; i < 4; i++) p[2 + i] = (uint8_t)(len >> (8 * i));
    if (len) memcpy(p + 6, data, len);
    w->len += 6 + len;
    return 0;
}

int tlv_put_str(struct tlv_writer *w, uint16_t tag, const char *s)
{
    return tlv_put(w, tag, s, strlen(s));
}

int tlv_put_u64(struct tlv_writer *w, uint16_t tag, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    return tlv_put(w, tag, b, sizeof b);
}

void tlv_writer_free(struct tlv_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

int tlv_next(struct tlv_reader *r, uint16_t *tag, const uint8_t **data, size_t *len)
{
    if (r->left == 0) return 0;
    if (r->left < 6) return -EPROTO;
    const uint8_t *p = r->p;
    uint32_t n = (uint32_t)p[2] | (uint32_t)p[3] << 8 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 24;
    if (n > r->left - 6) return -EPROTO;
    *tag = (uint16_t)(p[0] | p[1] << 8);
    *data = p + 6;
    *len = n;
    r->p += 6 + n;
    r->left -= 6 + n;
    return 1;
}

int tlv_get_u64(const uint8_t *data, size_t len, uint64_t *out)
{
    if (len != 8) return -EPROTO;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)data[i] << (8 * i);
    *out = v;
    return 0;
}
