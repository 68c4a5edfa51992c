/* The worker's seccomp policy, built once (in the zygote) and loaded per worker.
 *
 * seccomp_policy_build compiles the allowlist table in seccomp_policy.c with libseccomp
 * (default action: kill the process; a foreign architecture: kill) into a BPF program.
 * seccomp_policy_apply loads that program with a bare prctl, which allocates nothing and
 * so is safe in a freshly forked child. Both return 0 or a negative errno. */
#ifndef FNBOX_SECCOMP_POLICY_H
#define FNBOX_SECCOMP_POLICY_H

#include <linux/filter.h>

/* A version string that changes whenever the table changes (part of the measurement). */
#define SECCOMP_POLICY_VERSION "worker-2;zygote-2"

/* snapshot: a snapshot worker's policy, which may also set its own RLIMIT_CPU (re-armed before
 * each job; the hard limit bounds its whole life) */
int seccomp_policy_build(int sock_fd, int snapshot, struct sock_fprog *out);
void seccomp_policy_free(struct sock_fprog *prog);
int seccomp_policy_apply(const struct sock_fprog *prog);

/* The zygote's own, looser filter, loaded once at the end of its start-up: it may fork,
 * pass descriptors and reap, and allows what a child needs before its worker filter is on
 * (rlimits, identity, capabilities, prctl), but it can no longer open a file, create a
 * network socket (socketpair of AF_UNIX only), exec, trace or mount. Sets no_new_privs. */
int seccomp_policy_load_zygote(void);

/* A function zygote's extra layer (it keeps the zygote's filter): no kill (it signals its
 * workers through pidfds), prlimit64 only of itself. Built once by the zygote (which cannot load filters with
 * libseccomp once its own is on), applied with seccomp_policy_apply. 0 or a negative errno. */
int seccomp_policy_build_function_zygote(struct sock_fprog *out);

#endif
