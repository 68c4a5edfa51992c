#include "common/frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

int64_t frame_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int frame_send(int fd, uint8_t type, const void *data, size_t len)
{
    if (len > FRAME_MAX_PAYLOAD) return -E2BIG;
    uint8_t chunk[FRAME_HDR + FRAME_CHUNK];
    const uint8_t *p = data;
    size_t left = len;
    do {
        size_t n = left < FRAME_CHUNK ? left : FRAME_CHUNK;
        chunk[0] = type;
        chunk[1] = (left > n) ? FRAME_MORE : 0;
        chunk[2] = chunk[3] = 0;
        if (n) memcpy(chunk + FRAME_HDR, p, n);
        ssize_t w;
        do {
            w = write(fd, chunk, FRAME_HDR + n);
        } while (w < 0 && errno == EINTR);
        int err = errno;
        if (w < 0 || (size_t)w != FRAME_HDR + n) {
            OPENSSL_cleanse(chunk, sizeof chunk);
            if (w >= 0) return -EPROTO; /* seqpacket writes are atomic */
            return (err == EPIPE || err == ECONNRESET) ? -EPIPE : -err;
        }
        p += n;
        left -= n;
    } while (left > 0);
    /* frames carry secret values and response bodies: no copy stays on this stack */
    OPENSSL_cleanse(chunk, FRAME_HDR + (len < FRAME_CHUNK ? len : FRAME_CHUNK));
    return 0;
}

static int wait_readable(int fd, int64_t deadline_ms)
{
    if (deadline_ms < 0) return 0;
    for (;;) {
        int64_t left = deadline_ms - frame_now_ms();
        if (left <= 0) return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -errno;
    }
}

int frame_recv(int fd, struct frame *out, size_t max_len, int64_t deadline_ms)
{
    memset(out, 0, sizeof *out);
    if (max_len > FRAME_MAX_PAYLOAD) max_len = FRAME_MAX_PAYLOAD;
    uint8_t chunk[FRAME_HDR + FRAME_CHUNK + 1];
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, dirty = 0; /* dirty: the bytes of chunk ever written */
    int first = 1, rc;
    uint8_t type = 0;

    for (;;) {
        rc = wait_readable(fd, deadline_ms);
        if (rc) goto fail;
        ssize_t r;
        do {
            r = read(fd, chunk, sizeof chunk);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            rc = (errno == ECONNRESET) ? -EPIPE : -errno;
            goto fail;
        }
        if (r == 0) {
            rc = -EPIPE;
            goto fail;
        }
        if ((size_t)r > dirty) dirty = (size_t)r;
        if ((size_t)r < FRAME_HDR || (size_t)r > FRAME_HDR + FRAME_CHUNK || chunk[2] || chunk[3] ||
            (chunk[1] & ~FRAME_MORE) || (!first && chunk[0] != type)) {
            rc = -EPROTO;
            goto fail;
        }
        type = chunk[0];
        first = 0;
        size_t n = (size_t)r - FRAME_HDR;
        if (len + n > max_len) {
            rc = -E2BIG;
            goto fail;
        }
        if (len + n + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            while (ncap < len + n + 1) ncap *= 2;
            /* not realloc: the old block must be wiped, not left behind in the heap */
            uint8_t *nb = malloc(ncap);
            if (!nb) {
                rc = -ENOMEM;
                goto fail;
            }
            if (buf) {
                memcpy(nb, buf, len);
                OPENSSL_cleanse(buf, cap);
                free(buf);
            }
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + len, chunk + FRAME_HDR, n);
        len += n;
        if (!(chunk[1] & FRAME_MORE)) break;
    }
    OPENSSL_cleanse(chunk, dirty); /* what was read, not all 32 KiB each time */
    if (!buf) {
        buf = malloc(1);
        if (!buf) return -ENOMEM;
    }
    buf[len] = 0;
    out->type = type;
    out->data = buf;
    out->len = len;
    return 0;
fail:
    OPENSSL_cleanse(chunk, dirty);
    if (buf) OPENSSL_cleanse(buf, cap);
    free(buf);
    return rc;
}

void frame_free(struct frame *f)
{
    if (f->data) OPENSSL_cleanse(f->data, f->len);
    free(f->data);
    f->data = NULL;
    f->len = 0;
}
