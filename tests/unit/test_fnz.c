/* What a compromised function zygote meets: its seccomp layer (no kill by number at all —
 * it signals its workers through pidfds — and no other process's rlimits) and the zygote's message reader (a message carrying
 * several descriptors is refused and leaks none). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "sandbox/seccomp_policy.h"
#include "sandbox/zygote_msg.h"

enum attempt {
    KILL_GROUP,
    KILL_ALL,
    KILL_GROUP_HIGH_BITS,
    KILL_OTHER, /* a process by pid: another tenant's worker shares the uid */
    KILL_SELF,
    PRLIMIT_OTHER,
    PIDFD_SIGNAL, /* how it ends its own workers */
    PRLIMIT_SELF,
};

/* In a child under the layer: 0 when the call was allowed, else its death signal. */
static struct sock_fprog layer;

static int try_in_child(enum attempt a)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_policy_apply(&layer) != 0)
            _exit(99);
        struct rlimit rl;
        switch (a) {
        case KILL_GROUP: syscall(SYS_kill, 0, 0); break;
        case KILL_ALL: syscall(SYS_kill, -1, 0); break;
        case KILL_GROUP_HIGH_BITS: syscall(SYS_kill, 0x100000000L, 0); break; /* pid 0 */
        case PRLIMIT_OTHER: syscall(SYS_prlimit64, parent, RLIMIT_NOFILE, NULL, &rl); break;
        case KILL_SELF: syscall(SYS_kill, getpid(), 0); break;
        case KILL_OTHER: syscall(SYS_kill, parent, 0); break;
        case PIDFD_SIGNAL: {
            int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
            if (pfd < 0 || syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) != 0) _exit(98);
            break;
        }
        case PRLIMIT_SELF: syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl); break;
        }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) return WTERMSIG(status);
    assert_int_equal(WEXITSTATUS(status), 0);
    return 0;
}

static void layer_stops_group_and_broadcast_signals(void **state)
{
    (void)state;
    assert_int_equal(seccomp_policy_build_function_zygote(&layer), 0);
    assert_int_equal(try_in_child(KILL_GROUP), SIGSYS);
    assert_int_equal(try_in_child(KILL_ALL), SIGSYS);
    assert_int_equal(try_in_child(KILL_GROUP_HIGH_BITS), SIGSYS);
    assert_int_equal(try_in_child(KILL_OTHER), SIGSYS);
    assert_int_equal(try_in_child(KILL_SELF), SIGSYS);
    assert_int_equal(try_in_child(PRLIMIT_OTHER), SIGSYS);
    /* the control group: what a function zygote needs still works */
    assert_int_equal(try_in_child(PIDFD_SIGNAL), 0);
    assert_int_equal(try_in_child(PRLIMIT_SELF), 0);
    seccomp_policy_free(&layer);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static void send_with_fds(int sock, const int *fds, int nfds)
{
    struct zyg_message m = {.op = ZYG_SPAWNED, .job_id = 7};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)sizeof m);
}

static void reader_refuses_extra_descriptors(void **state)
{
    (void)state;
    int sv[2], a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    int fds[4] = {a[0], a[1], b[0], b[1]};
    int before = open_fds();
    struct zyg_message m;
    int passed;
    /* one descriptor: accepted */
    send_with_fds(sv[0], fds, 1);
    assert_int_equal(zygote_recv_msg(sv[1], &m, &passed, 0), (ssize_t)sizeof m);
    assert_true(passed >= 0);
    close(passed);
    /* several: refused, and none left open */
    for (int n = 2; n <= 4; n++) {
        send_with_fds(sv[0], fds, n);
        errno = 0;
        assert_int_equal(zygote_recv_msg(sv[1], &m, &passed, 0), -1);
        assert_int_equal(errno, EPROTO);
        assert_int_equal(passed, -1);
        assert_int_equal(open_fds(), before);
    }
    for (int i = 0; i < 4; i++) close(fds[i]);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layer_stops_group_and_broadcast_signals),
        cmocka_unit_test(reader_refuses_extra_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
