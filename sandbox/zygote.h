/* The zygote: a small single-threaded process, its own executable (fnbox-zygote, next to
 * fnboxd, linking only what workers need: Duktape, libseccomp, libcrypto, jansson, all
 * static, so that forking it copies few mappings). fnboxd starts it before any thread or
 * database handle exists. It builds the pristine Duktape heap and the seccomp programs once,
 * enters the namespaces the kernel allows (a PID namespace for everything it forks, whose
 * init leaves with it), then answers each ZYG_SPAWN with a fresh confined single-use worker:
 * from the function's own zygote when one is ready (sandbox/fn_zygote.c: compiled once), else
 * one it forked ahead of time while idle (a small pool kept for the last limits class asked
 * for), or one it forks on the spot. It hands fnboxd the worker's socket (SCM_RIGHTS), kills
 * on request and reports wait statuses fnboxd still wants. It reaps every child and exits
 * when fnboxd goes away.
 *
 * fnboxd side (zygote_launch.c): zygote_executable_open checks the executable (a regular
 * file owned by root or fnboxd's user, not writable by group or others) and copies it into a
 * sealed memfd — fnboxd measures those very bytes and later runs them (fexecve), so neither
 * replacing nor rewriting the file in between changes what runs. zygote_start returns 0 once
 * the zygote said hello (its confinement report filled in), or a negative errno.
 * Zygote side (zygote.c): zygote_main never returns. */
#ifndef FNBOX_ZYGOTE_H
#define FNBOX_ZYGOTE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/zygote_proto.h"

struct zygote_config {
    int switch_uid; /* root: run workers as worker_uid/worker_gid */
    uid_t worker_uid;
    gid_t worker_gid;
    int max_workers;
    int prefork; /* idle confined workers kept ready (0: fork on demand only) */
    int namespaces; /* 0: enter none (as where the kernel refuses them), for comparison */
    uint32_t snapshot_max_uses; /* invocations a snapshot worker serves before it is replaced */
};

struct zygote {
    pid_t pid;
    int ctrl_fd;
    struct zyg_hello hello;
};

/* The zygote executable beside this fnboxd (realpath of /proc/self/exe), as a sealed memfd
 * (O_CLOEXEC); in path (PATH_MAX bytes), its name for messages. -ENOENT when it is missing,
 * -EPERM when it is not a file guarded as above. */
int zygote_executable_open(char path[PATH_MAX]);
/* Starts the zygote from exe_fd (zygote_executable_open). */
int zygote_start(const struct zygote_config *cfg, int exe_fd, struct zygote *z);

void zygote_main(const struct zygote_config *cfg, int ctrl_fd) __attribute__((noreturn));

#endif
