/* The worker's one channel to its parent for host APIs (secrets.get, fetch).
 *
 * host_call sends a FRAME_CALL and blocks for the matching FRAME_REPLY. A broken channel,
 * a reply larger than max_reply or any other frame ends the worker with
 * WORKER_EXIT_PROTOCOL: the parent decides what that invocation's outcome is. Without a
 * parent (fd -1, e.g. a heap in a unit test) it returns -ENOTCONN and the caller throws.
 * host_reply_parse reads the REPLY_* records of common/proto.h into borrowed pointers;
 * unknown tags are skipped. host_reply_wipe cleanses and frees a reply: replies may hold
 * secret values and response bodies. */
#ifndef FNBOX_HOST_CALL_H
#define FNBOX_HOST_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "common/frame.h"
#include "common/tlv.h"

struct host_bytes {
    const uint8_t *p; /* NULL: the record was absent */
    size_t len;
};

struct host_reply {
    uint64_t ok, status;
    int has_status;
    struct host_bytes value, error, code, headers, url;
};

void host_call_set_fd(int fd);

/* 0 (reply filled, owned by the caller) or -ENOTCONN; never returns on a channel failure. */
int host_call(const struct tlv_writer *call, struct frame *reply, size_t max_reply);

/* 0 or -EPROTO (truncated record, REPLY_OK or REPLY_STATUS not a u64). */
int host_reply_parse(const struct frame *reply, struct host_reply *out);

void host_reply_wipe(struct frame *reply);

#endif
