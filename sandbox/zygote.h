/* The zygote: a small single-threaded process fnboxd forks at start-up, before any thread
 * or database handle exists. It builds the pristine Duktape heap and the seccomp program
 * once, enters the namespaces the kernel allows, then forks one confined single-use worker
 * per ZYG_SPAWN request, hands fnboxd the worker's socket (SCM_RIGHTS), kills on request and
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
};

struct zygote {
    pid_t pid;
    int ctrl_fd;
    struct zyg_hello hello;
};

int zygote_start(const struct zygote_config *cfg, struct zygote *z);

#endif
