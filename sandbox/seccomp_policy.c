#include "sandbox/seccomp_policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/seccomp.h>
#include <seccomp.h>

#include "common/log.h"

enum arg_rule { ANY, SOCK_FD_ONLY, NO_EXEC_PROT };

/* The whole policy: one syscall a line, with why a Duktape worker needs it. */
static const struct {
    const char *name;
    enum arg_rule rule;
    const char *why;
} allowed[] = {
    {"read", SOCK_FD_ONLY, "job and host-call replies from the gateway"},
    {"write", SOCK_FD_ONLY, "results, errors, console lines to the gateway"},
    {"exit_group", ANY, "finish the invocation"},
    {"exit", ANY, "finish the invocation"},
    {"brk", ANY, "malloc's main arena"},
    {"mmap", NO_EXEC_PROT, "large allocations; never executable memory"},
    {"munmap", ANY, "free large allocations"},
    {"mremap", ANY, "realloc of large blocks"},
    {"mprotect", NO_EXEC_PROT, "malloc arena growth; never executable"},
    {"madvise", ANY, "malloc trimming (MADV_DONTNEED)"},
    {"clock_gettime", ANY, "Date.now when the vDSO falls back to the syscall"},
    {"clock_getres", ANY, "as clock_gettime"},
    {"gettimeofday", ANY, "Date.now on older vDSO paths"},
    {"getrandom", ANY, "crypto.getRandomValues (later issue)"},
};

/* The compiled BPF of sc into out (malloc'd). libseccomp 2.5 can only export to a
 * descriptor: through a memfd, once. */
static int export_program(scmp_filter_ctx sc, struct sock_fprog *out)
{
    int rc;
    int memfd = memfd_create("fnbox-seccomp", MFD_CLOEXEC);
    if (memfd < 0) return -errno;
    if ((rc = seccomp_export_bpf(sc, memfd)) < 0) goto out;
    struct stat st;
    if (fstat(memfd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
        st.st_size / sizeof(struct sock_filter) > 4096) {
        rc = -EINVAL;
        goto out;
    }
    struct sock_filter *f = malloc((size_t)st.st_size);
    if (!f) {
        rc = -ENOMEM;
        goto out;
    }
    if (pread(memfd, f, (size_t)st.st_size, 0) != st.st_size) {
        rc = -EIO;
        free(f);
        goto out;
    }
    out->filter = f;
    out->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    rc = 0;
out:
    close(memfd);
    return rc;
}

int seccomp_policy_build(int sock_fd, int snapshot, struct sock_fprog *out)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    scmp_filter_ctx sc = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!sc) return -ENOMEM;
    if ((rc = seccomp_attr_set(sc, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0) goto out;
    /* no_new_privs is set by confine.c itself, before the filter */
    if ((rc = seccomp_attr_set(sc, SCMP_FLTATR_CTL_NNP, 0)) < 0) goto out;

    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        int nr = seccomp_syscall_resolve_name(allowed[i].name);
        if (nr == __NR_SCMP_ERROR) {
            rc = -EINVAL;
            LOG_E("unknown syscall in policy: %s", allowed[i].name);
            goto out;
        }
        switch (allowed[i].rule) {
        case ANY: rc = seccomp_rule_add(sc, SCMP_ACT_ALLOW, nr, 0); break;
        case SOCK_FD_ONLY:
            rc = seccomp_rule_add(sc, SCMP_ACT_ALLOW, nr, 1,
                                  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(uint32_t)sock_fd));
            break;
        case NO_EXEC_PROT:
            rc = seccomp_rule_add(sc, SCMP_ACT_ALLOW, nr, 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
            break;
        }
        if (rc < 0) {
            LOG_E("seccomp rule for %s: %s", allowed[i].name, strerror(-rc));
            goto out;
        }
    }

    if (snapshot) /* its own CPU limit, for the next job: setrlimit(RLIMIT_CPU) and no other */
        rc = seccomp_rule_add(sc, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0),
                              SCMP_A1(SCMP_CMP_EQ, RLIMIT_CPU));
    if (rc < 0) goto out;
    rc = export_program(sc, out);
out:
    seccomp_release(sc);
    return rc;
}

void seccomp_policy_free(struct sock_fprog *prog)
{
    free(prog->filter);
    prog->filter = NULL;
    prog->len = 0;
}

int seccomp_policy_apply(const struct sock_fprog *prog)
{
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0) return -errno;
    return 0;
}

/* The zygote's policy. Its own loop, then what a freshly forked child does before it loads
 * the worker filter on top of this one (filters stack: a child is bound by both). */
static const struct {
    const char *name;
    const char *why;
} zygote_allowed[] = {
    {"poll", "wait for requests and SIGCHLD"},
    {"read", "signalfd; a worker's job (fd 3)"},
    {"write", "a worker's answers (fd 3)"},
    {"recvfrom", "requests from fnboxd"},
    {"recvmsg", "requests from fnboxd"},
    {"sendmsg", "worker sockets to fnboxd (SCM_RIGHTS)"},
    {"sendto", "hello to fnboxd"},
    {"close", "descriptors handed over"},
    {"clone", "fork a worker (_Fork)"},
    {"wait4", "reap workers"},
    {"kill", "end a worker whose deadline passed"},
    {"pidfd_send_signal", "a function zygote ends its own workers (it may not use kill)"},
    {"futex", "libc internals"},
    {"brk", "malloc"},
    {"mmap", "malloc"},
    {"munmap", "malloc"},
    {"mremap", "realloc"},
    {"madvise", "malloc trimming"},
    {"memfd_create", "a function zygote's snapshot arena (runtime/js_arena.c)"},
    {"ftruncate", "sizing that arena"},
    {"mprotect", "malloc arenas"},
    {"clock_gettime", "refill back-off; Date.now"},
    {"clock_getres", "clocks"},
    {"gettimeofday", "clocks"},
    {"getrandom", "per-worker Math.random seed; crypto.randomBytes"},
    {"getpid", "libc"},
    {"getppid", "a child checks its parent is alive"},
    {"set_robust_list", "a child's libc start after fork"},
    {"rt_sigprocmask", "a child unblocks signals"},
    {"rt_sigreturn", "signal return"},
    {"restart_syscall", "an interrupted poll"},
    {"setsid", "a worker leaves the session"},
    {"dup2", "the worker socket to fd 3"},
    {"dup3", "the worker socket to fd 3"},
    {"fcntl", "fd 3 without close-on-exec"},
    {"close_range", "a worker closes everything but fd 3"},
    {"prlimit64", "a worker's rlimits"},
    {"setgroups", "a worker's identity"},
    {"setresgid", "a worker's identity"},
    {"setresuid", "a worker's identity"},
    {"capset", "a worker drops every capability"},
    {"capget", "libc capability helpers"},
    {"prctl", "no_new_privs, dumpable, pdeathsig, bounding set, the worker filter"},
    {"exit", "end"},
    {"exit_group", "end"},
};

int seccomp_policy_load_zygote(void)
{
    scmp_filter_ctx sc = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!sc) return -ENOMEM;
    int rc = seccomp_attr_set(sc, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    for (size_t i = 0; !rc && i < sizeof zygote_allowed / sizeof *zygote_allowed; i++) {
        int nr = seccomp_syscall_resolve_name(zygote_allowed[i].name);
        if (nr == __NR_SCMP_ERROR) {
            LOG_E("unknown syscall in the zygote policy: %s", zygote_allowed[i].name);
            rc = -EINVAL;
            break;
        }
        rc = seccomp_rule_add(sc, SCMP_ACT_ALLOW, nr, 0);
    }
    /* socketpair, but only of local sockets: no network from the zygote */
    if (!rc)
        rc = seccomp_rule_add(sc, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)AF_UNIX));
    if (!rc) rc = seccomp_load(sc); /* libseccomp sets no_new_privs first */
    seccomp_release(sc);
    return rc;
}

int seccomp_policy_build_function_zygote(struct sock_fprog *out)
{
    /* A layer on top of the zygote's filter (which it inherits): a function zygote has parsed
     * user code, so it may signal no process by number (a pid, a process group or -1 would
     * reach the zygote or other tenants' workers, which share its uid) and set only its own
     * rlimits. */
    memset(out, 0, sizeof *out);
    scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
    if (!sc) return -ENOMEM;
    int rc = seccomp_attr_set(sc, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (!rc) rc = seccomp_attr_set(sc, SCMP_FLTATR_CTL_NNP, 0); /* confine.c sets it */
    if (!rc) /* no kill at all: it ends its workers through their pidfds, which name nothing
              * else, and so cannot reach another tenant's processes that share its uid */
        rc = seccomp_rule_add(sc, SCMP_ACT_KILL_PROCESS, SCMP_SYS(kill), 0);
    if (!rc) /* another process's limits */
        rc = seccomp_rule_add(sc, SCMP_ACT_KILL_PROCESS, SCMP_SYS(prlimit64), 1,
                              SCMP_A0(SCMP_CMP_NE, 0));
    if (!rc) rc = export_program(sc, out);
    seccomp_release(sc);
    return rc;
}
