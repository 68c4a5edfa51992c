#include "runtime/test_syscalls.h"

#ifdef FNBOX_TEST_HOOKS

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define X32_BIT 0x40000000L

/* The i386 entry point from a 64-bit process: the filter sees AUDIT_ARCH_I386. */
static long int80(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static char page[4096] __attribute__((aligned(4096)));

/* prlimit64(pid, resource, new, &old): -errno on failure, else the old soft limit when only
 * reading (new NULL), else 0. A snapshot worker's filter admits prlimit64(0, RLIMIT_CPU, ...)
 * and nothing more; an ordinary worker's admits no prlimit64 at all. */
static long prlimit_raw(long pid, long resource, int set, int soft_to_hard)
{
    struct rlimit old, lim;
    long r;
    if (!set) {
        r = syscall(SYS_prlimit64, pid, resource, NULL, &old);
        return r < 0 ? -errno : (long)old.rlim_cur;
    }
    if (soft_to_hard) { /* as far as an unprivileged process may go */
        if (syscall(SYS_prlimit64, pid, resource, NULL, &old) < 0) return -errno;
        lim.rlim_cur = lim.rlim_max = old.rlim_max;
    } else { /* past the hard limit: needs CAP_SYS_RESOURCE */
        lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
    }
    r = syscall(SYS_prlimit64, pid, resource, &lim, NULL);
    return r < 0 ? -errno : 0;
}

int test_syscall_run(const char *name, long *ret)
{
    static const char path[] = "/etc/passwd";
    if (!strcmp(name, "socket")) *ret = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    else if (!strcmp(name, "socket_unix")) *ret = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    else if (!strcmp(name, "connect")) *ret = syscall(SYS_connect, 3, NULL, 0);
    else if (!strcmp(name, "open")) *ret = syscall(SYS_open, path, O_RDONLY);
    else if (!strcmp(name, "openat")) *ret = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
    else if (!strcmp(name, "openat2")) *ret = syscall(SYS_openat2, AT_FDCWD, path, NULL, 0);
    else if (!strcmp(name, "execve")) *ret = syscall(SYS_execve, "/bin/sh", NULL, NULL);
    else if (!strcmp(name, "execveat")) *ret = syscall(SYS_execveat, AT_FDCWD, "/bin/sh", NULL, NULL, 0);
    else if (!strcmp(name, "fork")) *ret = syscall(SYS_fork);
    else if (!strcmp(name, "vfork")) *ret = syscall(SYS_vfork);
    else if (!strcmp(name, "clone")) *ret = syscall(SYS_clone, CLONE_VM | CLONE_VFORK, 0, 0, 0, 0);
    else if (!strcmp(name, "clone3")) *ret = syscall(SYS_clone3, NULL, 0);
    else if (!strcmp(name, "ptrace")) *ret = syscall(SYS_ptrace, 0, getppid(), 0, 0);
    else if (!strcmp(name, "bpf")) *ret = syscall(SYS_bpf, 0, NULL, 0);
    else if (!strcmp(name, "userfaultfd")) *ret = syscall(SYS_userfaultfd, 0);
    else if (!strcmp(name, "perf_event_open")) *ret = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    else if (!strcmp(name, "keyctl")) *ret = syscall(SYS_keyctl, 0, 0, 0, 0, 0);
    else if (!strcmp(name, "io_uring_setup")) *ret = syscall(SYS_io_uring_setup, 1, NULL);
    else if (!strcmp(name, "mount")) *ret = syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL);
    else if (!strcmp(name, "unshare")) *ret = syscall(SYS_unshare, 0);
    else if (!strcmp(name, "setns")) *ret = syscall(SYS_setns, 0, 0);
    else if (!strcmp(name, "kill")) *ret = syscall(SYS_kill, getppid(), 0);
    else if (!strcmp(name, "setuid")) *ret = syscall(SYS_setuid, 0);
    else if (!strcmp(name, "prctl")) *ret = syscall(SYS_prctl, 4 /* PR_SET_DUMPABLE */, 1, 0, 0, 0);
    else if (!strcmp(name, "seccomp")) *ret = syscall(SYS_seccomp, 0, 0, NULL);
    else if (!strcmp(name, "read_stdin")) *ret = syscall(SYS_read, 0, page, 1);
    else if (!strcmp(name, "write_stderr")) *ret = syscall(SYS_write, 2, "x", 1);
    else if (!strcmp(name, "write_fd3_high_bits")) /* fd 3 with garbage in the upper half */
        *ret = syscall(SYS_write, (long)(0x100000000L | 3), "x", 0);
    else if (!strcmp(name, "ioctl_tiocsti")) *ret = syscall(SYS_ioctl, 3, (long)(TIOCSTI | (1UL << 32)), "x");
    else if (!strcmp(name, "ioctl")) *ret = syscall(SYS_ioctl, 3, FIONREAD, page);
    else if (!strcmp(name, "mmap_exec"))
        *ret = syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else if (!strcmp(name, "mprotect_exec")) *ret = syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_EXEC);
    else if (!strcmp(name, "x32_getpid")) *ret = syscall(X32_BIT | SYS_getpid);
    else if (!strcmp(name, "x32_socket")) *ret = syscall(X32_BIT | SYS_socket, AF_INET, SOCK_STREAM, 0);
    else if (!strcmp(name, "int80_getpid")) *ret = int80(20, 0, 0, 0);
    else if (!strcmp(name, "int80_socketcall")) *ret = int80(102, 1, 0, 0);
    /* rlimits: forbidden to an ordinary worker; a snapshot worker may read and set its own
     * RLIMIT_CPU (the prlimit_cpu_* ones) and no other limit, nor anyone else's */
    else if (!strcmp(name, "prlimit_cpu_get")) *ret = prlimit_raw(0, RLIMIT_CPU, 0, 0);
    else if (!strcmp(name, "prlimit_cpu_soft_max")) *ret = prlimit_raw(0, RLIMIT_CPU, 1, 1);
    else if (!strcmp(name, "prlimit_cpu_unlimited")) *ret = prlimit_raw(0, RLIMIT_CPU, 1, 0);
    else if (!strcmp(name, "prlimit_as_get")) *ret = prlimit_raw(0, RLIMIT_AS, 0, 0);
    else if (!strcmp(name, "prlimit_as_unlimited")) *ret = prlimit_raw(0, RLIMIT_AS, 1, 0);
    else if (!strcmp(name, "prlimit_pid1_cpu")) *ret = prlimit_raw(1, RLIMIT_CPU, 0, 0);
    else if (!strcmp(name, "setrlimit_cpu")) *ret = syscall(SYS_setrlimit, RLIMIT_CPU, page);
    /* allowed: the control group, which must come back */
    else if (!strcmp(name, "getrandom")) *ret = syscall(SYS_getrandom, page, 16, 0);
    else if (!strcmp(name, "clock_gettime")) *ret = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, page);
    else if (!strcmp(name, "mmap_rw"))
        *ret = syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) > 0;
    else if (!strcmp(name, "getpid")) *ret = syscall(SYS_getpid);
    else return -1;
    return 0;
}

#endif
