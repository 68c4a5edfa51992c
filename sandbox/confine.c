#include "sandbox/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "sandbox/seccomp_policy.h"

#define STEP(expr)                                                                                 \
    do {                                                                                           \
        if ((expr) < 0) return -errno;                                                             \
    } while (0)

static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    return setrlimit(resource, &rl);
}

static int move_socket_close_rest(int sock_fd)
{
    if (sock_fd != WORKER_FD) {
        STEP(dup2(sock_fd, WORKER_FD));
        STEP(close(sock_fd));
    }
    for (int fd = 0; fd < WORKER_FD; fd++) close(fd);
    STEP(syscall(SYS_close_range, WORKER_FD + 1, ~0U, 0));
    int fl = fcntl(WORKER_FD, F_GETFD);
    STEP(fl);
    STEP(fcntl(WORKER_FD, F_SETFD, fl & ~FD_CLOEXEC));
    return 0;
}

static int set_rlimits(const struct worker_limits *l)
{
    STEP(set_limit(RLIMIT_CPU, l->cpu_seconds,
                   l->cpu_hard_seconds ? (rlim_t)l->cpu_hard_seconds : (rlim_t)l->cpu_seconds + 1));
    STEP(set_limit(RLIMIT_AS, l->as_bytes, l->as_bytes));
    STEP(set_limit(RLIMIT_NOFILE, WORKER_FD + 1, WORKER_FD + 1));
    STEP(set_limit(RLIMIT_FSIZE, 0, 0));
    STEP(set_limit(RLIMIT_CORE, 0, 0));
    STEP(set_limit(RLIMIT_NPROC, 0, 0));
    STEP(set_limit(RLIMIT_MEMLOCK, 0, 0));
    STEP(set_limit(RLIMIT_MSGQUEUE, 0, 0));
    STEP(set_limit(RLIMIT_LOCKS, 0, 0));
    /* Duktape bounds its own C recursion (RangeError well before this); 8 MiB is the stack
     * that bound was sized for, and a hard limit keeps a compromised engine from raising it */
    STEP(set_limit(RLIMIT_STACK, 8u << 20, 8u << 20));
    return 0;
}

int confine_rearm_cpu(uint32_t cpu_seconds)
{
    struct timespec used;
    struct rlimit rl;
    STEP(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used));
    STEP(getrlimit(RLIMIT_CPU, &rl));
    /* whole seconds, rounded up: the job gets at least cpu_seconds */
    rlim_t soft = (rlim_t)used.tv_sec + 1 + cpu_seconds;
    rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
    STEP(setrlimit(RLIMIT_CPU, &rl));
    return 0;
}

int confine_drop_bounding_set(void)
{
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 || errno == EINVAL) continue;
        /* EPERM: no CAP_SETPCAP, i.e. an ordinary user without a user namespace. Such a
         * process holds no capability to lose, and no_new_privs keeps file capabilities
         * from ever granting one. */
        if (errno == EPERM) break;
        return -errno;
    }
    STEP(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    return 0;
}

/* Raw capset: libcap's cap_set_proc allocates, and this runs in a forked child. */
static int clear_cap_sets(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    STEP(syscall(SYS_capset, &hdr, data));
    return 0;
}

static int switch_identity(const struct confine_params *p)
{
    if (!p->switch_uid) return 0;
    STEP(setgroups(0, NULL));
    STEP(setresgid(p->gid, p->gid, p->gid));
    STEP(setresuid(p->uid, p->uid, p->uid));
    return 0;
}

int confine_worker(const struct confine_params *p)
{
    int rc;
    STEP(setsid());
    if ((rc = move_socket_close_rest(p->sock_fd))) return rc;
    if ((rc = set_rlimits(&p->limits))) return rc;
    /* bounding set first: it needs CAP_SETPCAP. Normally the zygote emptied it already. */
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 && (rc = confine_drop_bounding_set()))
        return rc;
    if ((rc = switch_identity(p))) return rc;
    if ((rc = clear_cap_sets())) return rc;
    /* after the identity switch, which clears the parent-death signal */
    STEP(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    if (getppid() != p->parent) return -ESRCH; /* the zygote died before we armed the signal */
    STEP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    STEP(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
    return seccomp_policy_apply(p->seccomp);
}

int confine_function_zygote(const struct confine_params *p, rlim_t nproc)
{
    int rc;
    STEP(setsid()); /* out of the zygote's process group */
    if ((rc = switch_identity(p))) return rc;
    if ((rc = clear_cap_sets())) return rc;
    STEP(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    if (getppid() != p->parent) return -ESRCH;
    STEP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    STEP(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
    STEP(set_limit(RLIMIT_CORE, 0, 0));
    STEP(set_limit(RLIMIT_FSIZE, 0, 0));
    /* a dedicated worker uid: bound how many processes it can ever have, a fork bomb from a
     * compromised compiler included (an ordinary user's count includes fnboxd's threads) */
    if (p->switch_uid) STEP(set_limit(RLIMIT_NPROC, nproc, nproc));
    /* compiling is bounded like a worker's run (the caller caps Duktape's allocator too) */
    if (p->limits.as_bytes) STEP(set_limit(RLIMIT_AS, p->limits.as_bytes, p->limits.as_bytes));
    return seccomp_policy_apply(p->seccomp);
}
