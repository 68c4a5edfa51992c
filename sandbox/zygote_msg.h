/* One zygote-protocol message (struct zyg_message) on a SOCK_SEQPACKET socket, with an
 * optional descriptor passed as SCM_RIGHTS. Private to sandbox/. */
#ifndef FNBOX_ZYGOTE_MSG_H
#define FNBOX_ZYGOTE_MSG_H

#include <stdint.h>
#include <sys/types.h>

#include "sandbox/zygote_proto.h"

/* pass_fd -1: none. 0, or -1 when the message did not go whole. */
int zygote_send_msg(int fd, uint32_t op, int32_t value, uint64_t job_id, pid_t pid, int pass_fd);
#define ZYG_MSG_FDS_MAX 8

/* recvmsg's return; *passed the descriptor that came with it (close-on-exec), or -1. flags:
 * extra recvmsg flags (MSG_DONTWAIT). Retries EINTR. A message with more than one
 * descriptor, or truncated, is refused: every descriptor it carried is closed and -1 returned
 * with errno EPROTO. */
ssize_t zygote_recv_msg(int fd, struct zyg_message *m, int *passed, int flags);

#endif
