/* main() of the fnbox-zygote executable. fnboxd starts it (sandbox/zygote_launch.c) with the
 * control socket as fd 3 and its settings as arguments; it is not meant to be run by hand. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "sandbox/zygote.h"

#define CTRL_FD 3

static int number(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long v[8];
    static const long max[8] = {1, 4294967294L, 4294967294L, 4096, 8, INT_MAX, 1, 1000000};
    int type = 0;
    socklen_t len = sizeof type;
    if (argc != 9 || getsockopt(CTRL_FD, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        type != SOCK_SEQPACKET) {
        fprintf(stderr, "fnbox-zygote: started by fnboxd only\n");
        return 2;
    }
    for (int i = 0; i < 8; i++)
        if (number(argv[i + 1], 0, max[i], &v[i])) {
            fprintf(stderr, "fnbox-zygote: bad argument %d\n", i + 1);
            return 2;
        }
    /* fnboxd may have died between fork and exec: the death signal is set, check the parent */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != (pid_t)v[5]) return 1;
    /* only stdin/out/err and the control socket cross into the zygote */
    if (syscall(SYS_close_range, CTRL_FD + 1, ~0U, 0) != 0) {
        PLOG_E("close_range");
        return 1;
    }
    prctl(PR_SET_NAME, "fnbox-zygote", 0, 0, 0);
    struct zygote_config cfg = {.switch_uid = (int)v[0],
                                .worker_uid = (uid_t)v[1],
                                .worker_gid = (gid_t)v[2],
                                .max_workers = (int)v[3],
                                .prefork = (int)v[4],
                                .namespaces = (int)v[6],
                                .snapshot_max_uses = (uint32_t)v[7]};
    zygote_main(&cfg, CTRL_FD);
}
