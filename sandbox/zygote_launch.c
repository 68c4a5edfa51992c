/* fnboxd's side of starting the zygote: find its executable, fork, exec it with the control
 * socket as fd 3 and an empty environment, wait for its hello. */
#include "sandbox/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/log.h"

#ifdef FNBOX_TEST_HOOKS
#define ZYGOTE_EXE "fnbox-zygote-testhooks" /* the zygote with test hooks, for fnboxd-testhooks */
#else
#define ZYGOTE_EXE "fnbox-zygote"
#endif

/* Copies the open file into a sealed memfd: the bytes fnboxd measures are then the bytes it
 * executes, whatever happens to the file afterwards (rewritten in place included). */
static int sealed_copy(int file_fd, off_t size)
{
    int mfd = memfd_create("fnbox-zygote", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0) return -errno;
    char buf[65536];
    off_t done = 0;
    int rc = 0;
    while (!rc && done < size) {
        ssize_t n = pread(file_fd, buf, sizeof buf, done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO; /* shorter than it said: changing under us */
            break;
        }
        for (ssize_t w = 0; !rc && w < n;) {
            ssize_t k = write(mfd, buf + w, (size_t)(n - w));
            if (k < 0 && errno != EINTR) rc = -errno;
            if (k > 0) w += k;
        }
        done += n;
    }
    /* F_SEAL_WRITE answers EBUSY while the kernel holds a transient reference to a page
     * (memory scanning, migration): it passes on a retry */
    for (int tries = 0; !rc; tries++) {
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
            break;
        if (errno != EBUSY || tries == 50) rc = -errno;
        else usleep(10000);
    }
    if (rc) {
        close(mfd);
        return rc;
    }
    return mfd;
}

int zygote_executable_open(char path[PATH_MAX])
{
    char self[PATH_MAX];
    snprintf(path, PATH_MAX, "%s", ZYGOTE_EXE);
    if (!realpath("/proc/self/exe", self)) return -errno;
    if (snprintf(path, PATH_MAX, "%s/%s", dirname(self), ZYGOTE_EXE) >= PATH_MAX)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    /* what runs every function must be as well guarded as fnboxd itself */
    if (!rc && (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
                (st.st_mode & (S_IWGRP | S_IWOTH))))
        rc = -EPERM;
    if (!rc) rc = sealed_copy(fd, st.st_size);
    close(fd);
    return rc;
}

/* In the child: never returns. */
static void exec_zygote(const struct zygote_config *cfg, int exe_fd, int ctrl, pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) _exit(1);
    setsid(); /* out of the terminal's process group: Ctrl-C is for fnboxd */
    /* both descriptors out of fd 3's way first: it is the control socket's place */
    exe_fd = fcntl(exe_fd, F_DUPFD_CLOEXEC, 10);
    ctrl = fcntl(ctrl, F_DUPFD_CLOEXEC, 10);
    if (exe_fd < 0 || ctrl < 0) _exit(1);
    if (dup2(ctrl, 3) < 0) _exit(1); /* dup2 clears close-on-exec: fd 3 crosses the exec */
    char a[8][32];
    snprintf(a[0], sizeof a[0], "%d", cfg->switch_uid ? 1 : 0);
    snprintf(a[1], sizeof a[1], "%u", (unsigned)cfg->worker_uid);
    snprintf(a[2], sizeof a[2], "%u", (unsigned)cfg->worker_gid);
    snprintf(a[3], sizeof a[3], "%d", cfg->max_workers);
    snprintf(a[4], sizeof a[4], "%d", cfg->prefork);
    snprintf(a[5], sizeof a[5], "%d", (int)parent);
    snprintf(a[6], sizeof a[6], "%d", cfg->namespaces ? 1 : 0);
    snprintf(a[7], sizeof a[7], "%u", (unsigned)cfg->snapshot_max_uses);
    char *argv[] = {(char *)"fnbox-zygote", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL};
    /* nothing of fnboxd's environment (a sealing root, say) reaches the zygote */
    char *envp[] = {NULL};
    fexecve(exe_fd, argv, envp);
    _exit(127);
}

int zygote_start(const struct zygote_config *cfg, int exe_fd, struct zygote *z)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return -e;
    }
    if (pid == 0) exec_zygote(cfg, exe_fd, sv[1], parent);
    close(sv[1]);
    z->pid = pid;
    z->ctrl_fd = sv[0];
    ssize_t n;
    do {
        n = recv(sv[0], &z->hello, sizeof z->hello, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof z->hello || z->hello.op != ZYG_HELLO ||
        z->hello.proto_version != ZYG_PROTO_VERSION) {
        if (n == (ssize_t)sizeof z->hello && z->hello.op == ZYG_HELLO)
            LOG_E("the zygote speaks protocol %u, this fnboxd %u: rebuild both together",
                  z->hello.proto_version, ZYG_PROTO_VERSION);
        close(sv[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -ECHILD;
    }
    return 0;
}
