#include "runtime/host_call.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/proto.h"

static int host_fd = -1;

void host_call_set_fd(int fd)
{
    host_fd = fd;
}

int host_call(const struct tlv_writer *call, struct frame *reply, size_t max_reply)
{
    memset(reply, 0, sizeof *reply);
    if (host_fd < 0) return -ENOTCONN;
    if (frame_send(host_fd, FRAME_CALL, call->buf, call->len) != 0 ||
        frame_recv(host_fd, reply, max_reply, -1) != 0)
        _exit(WORKER_EXIT_PROTOCOL);
    if (reply->type != FRAME_REPLY) {
        host_reply_wipe(reply);
        _exit(WORKER_EXIT_PROTOCOL);
    }
    return 0;
}

int host_reply_parse(const struct frame *reply, struct host_reply *out)
{
    memset(out, 0, sizeof *out);
    struct tlv_reader r = {.p = reply->data, .left = reply->len};
    uint16_t tag;
    const uint8_t *d;
    size_t n;
    int rc;
    while ((rc = tlv_next(&r, &tag, &d, &n)) == 1) {
        struct host_bytes *b = NULL;
        switch (tag) {
        case REPLY_OK: rc = tlv_get_u64(d, n, &out->ok); break;
        case REPLY_STATUS:
            rc = tlv_get_u64(d, n, &out->status);
            out->has_status = 1;
            break;
        case REPLY_VALUE: b = &out->value; break;
        case REPLY_ERROR: b = &out->error; break;
        case REPLY_CODE: b = &out->code; break;
        case REPLY_HEADERS: b = &out->headers; break;
        case REPLY_URL: b = &out->url; break;
        default: break; /* the protocol may grow */
        }
        if (rc < 0) return -EPROTO;
        if (b) b->p = d, b->len = n;
    }
    return rc < 0 ? -EPROTO : 0;
}

void host_reply_wipe(struct frame *reply)
{
    if (reply->data) OPENSSL_cleanse(reply->data, reply->len);
    frame_free(reply);
}
