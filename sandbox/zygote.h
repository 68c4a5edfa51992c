/* The zygote: a small single-threaded process fnboxd forks at start-up, before any thread
 * or database handle exists. It builds the pristine Duktape heap and the seccomp program
 * once, enters the namespaces the kernel allows, then answers each ZYG_SPAWN with a fresh
 * confined single-use worker: one it forked ahead of time while idle (a small pool kept for
 * the last limits class asked for), or one it forks on the spot; hands fnboxd the worker's socket (SCM_RIGHTS), kills on request and
 * reports every worker's wait status. It exits when fnboxd goes away.
 * zygote_start returns 0 once the zygote said hello (its confinement report filled in), or
 * a negative errno. */
#ifndef FNBOX_ZYGOTE_H
#define FNBOX_ZYGOTE_H

#include <sys/types.h>

#include "sandbox/zygote_proto.h"

struct zygote_config {
    int switch_uid; /* root: run workers as worker_uid/worker_gid */
    uid_t worker_uid;
    gid_t worker_gid;
    int max_workers;
    int prefork; /* idle confined workers kept ready (0: fork on demand only) */
};

struct zygote {
    pid_t pid;
    int ctrl_fd;
    struct zyg_hello hello;
};

int zygote_start(const struct zygote_config *cfg, struct zygote *z);

#endif
