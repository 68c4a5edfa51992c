/* Confinement of one freshly forked worker, applied before it reads any user code.
 *
 * confine_worker runs a chain of steps and stops at the first failure (returning a negative
 * errno; the caller must then _exit(WORKER_EXIT_CONFINE)): new session, parent-death
 * signal, the socket moved to WORKER_FD and every other descriptor closed, rlimits,
 * identity (setresuid/setresgid to the worker uid when root), all capabilities dropped
 * (bounding, ambient, permitted, effective, inheritable), no_new_privs, not dumpable,
 * and last the seccomp filter. Only async-signal-safe calls are used. */
#ifndef FNBOX_CONFINE_H
#define FNBOX_CONFINE_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <linux/filter.h>

#define WORKER_FD 3

struct worker_limits {
    uint32_t cpu_seconds;  /* RLIMIT_CPU soft limit; hard = soft + 1 ... */
    uint64_t cpu_hard_seconds; /* ... or this, when non-zero (a snapshot worker's whole life) */
    uint64_t as_bytes;     /* RLIMIT_AS */
    uint64_t heap_bytes;   /* Duktape allocator cap (applied by the caller) */
};

struct confine_params {
    int sock_fd;
    pid_t parent;
    struct worker_limits limits;
    int switch_uid; /* 1: setresuid/setresgid to uid/gid */
    uid_t uid;
    gid_t gid;
    const struct sock_fprog *seccomp;
};

int confine_worker(const struct confine_params *p);

/* A snapshot worker, before each job: RLIMIT_CPU's soft limit to the CPU time used so far plus
 * cpu_seconds (at most the hard limit set by confine_worker). 0 or a negative errno. */
int confine_rearm_cpu(uint32_t cpu_seconds);

/* A function zygote, before it compiles its function's code: its own session, the worker
 * identity (when switch_uid), no capabilities, parent-death signal (and p->parent still
 * alive), no_new_privs, not dumpable, no core or files, with a dedicated uid at most nproc
 * processes, RLIMIT_AS = p->limits.as_bytes (when non-zero), and on top of the zygote's
 * seccomp filter (it must fork workers) a layer that confines kill and prlimit64 to pids of
 * its own choosing (p->seccomp: seccomp_policy_build_function_zygote). sock_fd is unused. */
int confine_function_zygote(const struct confine_params *p, rlim_t nproc);

/* Empties the capability bounding set and the ambient set of the calling process. The
 * zygote calls it once at start so that workers inherit an empty bounding set; confine_worker
 * repeats it only if the zygote could not. 0, or a negative errno (EPERM tolerated: an
 * ordinary user without a user namespace has no capability to lose). */
int confine_drop_bounding_set(void);

#endif
