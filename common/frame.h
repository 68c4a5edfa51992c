/* Frames over a SOCK_SEQPACKET socket: the only wire format the gateway and a worker share.
 *
 * A frame is a type and a payload of up to FRAME_MAX_PAYLOAD bytes. It travels as one or more
 * datagrams of at most FRAME_CHUNK bytes, each with a 4-byte header [type, flags, 0, 0];
 * FRAME_MORE in flags says another chunk of the same frame follows. The receiver enforces a
 * per-call maximum, so a peer can never make the other side buffer without bound.
 * Functions return 0 or a negative errno: -EPIPE when the peer closed, -ETIMEDOUT when the
 * deadline passed, -E2BIG when the frame exceeds the caller's maximum, -EPROTO on a malformed
 * chunk. Only read(2), write(2) and (with a deadline) poll(2) are used. Frames carry secret
 * values and response bodies, so every buffer the codec uses is wiped before it is reused or
 * freed (frame_free included). */
#ifndef FNBOX_FRAME_H
#define FNBOX_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum frame_type {
    FRAME_JOB = 1,    /* gateway -> worker: the invocation (TLV, see proto.h) */
    FRAME_RESULT = 2, /* worker -> gateway: JSON text of the return value */
    FRAME_ERROR = 3,  /* worker -> gateway: JSON {code,message,name,line} */
    FRAME_LOG = 4,    /* worker -> gateway: one console line */
    FRAME_CALL = 5,   /* worker -> gateway: a host API request (TLV) */
    FRAME_REPLY = 6,  /* gateway -> worker: the answer to FRAME_CALL (TLV) */
};

#define FRAME_CHUNK 32768u
#define FRAME_HDR 4u
#define FRAME_MORE 0x01u
#define FRAME_MAX_PAYLOAD (64u * 1024u * 1024u)

struct frame {
    uint8_t type;
    uint8_t *data; /* heap buffer owned by the caller after frame_recv; NUL-terminated */
    size_t len;
};

int frame_send(int fd, uint8_t type, const void *data, size_t len);

/* deadline_ms: absolute CLOCK_MONOTONIC milliseconds, or -1 to block without poll(2). */
int frame_recv(int fd, struct frame *out, size_t max_len, int64_t deadline_ms);

void frame_free(struct frame *f);

int64_t frame_now_ms(void);

#endif
