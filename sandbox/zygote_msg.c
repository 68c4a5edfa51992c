/* The zygote protocol's one message with an optional descriptor (SCM_RIGHTS), both ways:
 * the zygote and function zygotes send with it, the zygote and fnboxd receive with it. */
#include "sandbox/zygote_msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int zygote_send_msg(int fd, uint32_t op, int32_t value, uint64_t job_id, pid_t pid, int pass_fd)
{
    struct zyg_message m = {.op = op, .value = value, .job_id = job_id, .pid = pid};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pass_fd >= 0) {
        memset(&u, 0, sizeof u);
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t w;
    do {
        w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    return w == (ssize_t)sizeof m ? 0 : -1;
}

ssize_t zygote_recv_msg(int fd, struct zyg_message *m, int *passed, int flags)
{
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    /* room for more descriptors than the one a message may carry, so that a sender passing
     * several cannot leave any of them open here unseen */
    union {
        char buf[CMSG_SPACE(ZYG_MSG_FDS_MAX * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n;
    do {
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
    } while (n < 0 && errno == EINTR);
    *passed = -1;
    int count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (count++ == 0) *passed = got;
            else close(got);
        }
    }
    if (n > 0 && (count > 1 || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))) {
        /* more than one descriptor, or cut short: not a message of this protocol */
        if (*passed >= 0) close(*passed);
        *passed = -1;
        errno = EPROTO;
        return -1;
    }
    return n;
}
