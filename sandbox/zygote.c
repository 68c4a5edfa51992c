#include "sandbox/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <linux/capability.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <jansson.h>

#include "common/frame.h"
#include "common/log.h"
#include "common/proto.h"
#include "runtime/js_crypto.h"
#include "runtime/js_heap.h"
#include "runtime/js_random.h"
#include "runtime/worker.h"
#include "sandbox/confine.h"
#include "sandbox/seccomp_policy.h"

#include "sandbox/zygote_internal.h"

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = (n == (ssize_t)strlen(text)) ? 0 : -errno;
    close(fd);
    return rc;
}

/* Namespaces, once for the zygote and so for all its workers: an empty network namespace
 * and a private IPC namespace; for an ordinary user, a user namespace first (mapping only
 * its own ids) so that the others can be created and the bounding set dropped. */
static void enter_namespaces(struct zygote_state *zs)
{
    if (!zs->cfg.switch_uid && geteuid() != 0) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER) == 0) {
            char map[64];
            snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
            int ok = write_file("/proc/self/uid_map", map) == 0;
            ok = ok && write_file("/proc/self/setgroups", "deny\n") == 0;
            snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
            ok = ok && write_file("/proc/self/gid_map", map) == 0;
            zs->hello.user_ns = (uint8_t)ok;
            if (!ok) LOG_W("user namespace created but id maps failed");
        } else {
            LOG_I("no user namespace (%s): workers rely on seccomp, rlimits and no_new_privs",
                  strerror(errno));
        }
    }
    zs->hello.net_ns = unshare(CLONE_NEWNET) == 0;
    zs->hello.ipc_ns = unshare(CLONE_NEWIPC) == 0;
    zs->hello.uts_ns = unshare(CLONE_NEWUTS) == 0;
}

/* No filesystem view: in a private mount namespace, an empty read-only tmpfs becomes the
 * root. The zygote needs no file after start-up, and workers could not open one anyway
 * (seccomp); this takes the files away even from a process that escaped the filter.
 * Returns 1 when done, 0 when the kernel refused a step (reported in /readyz). */
static int hide_filesystem(void)
{
    static const char *const mountpoints[] = {"/mnt", "/tmp", "/var/tmp"};
    if (unshare(CLONE_NEWNS) != 0) return 0;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 0;
    for (size_t i = 0; i < sizeof mountpoints / sizeof *mountpoints; i++) {
        const char *m = mountpoints[i];
        if (mount("fnbox-empty", m, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
                  "size=4k,mode=0555") != 0)
            continue;
        if (chdir(m) == 0 && chroot(".") == 0 && chdir("/") == 0) return 1;
        return 0;
    }
    return 0;
}

static uint64_t vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

struct snapshot_life {
    uint32_t cpu_seconds;
    uint32_t served, max_uses;
};

/* Before each of a snapshot worker's jobs: what a fresh process would get anew. */
static int before_snapshot_job(void *arg)
{
    struct snapshot_life *life = arg;
    if (life->served++ >= life->max_uses) return -1; /* fnboxd replaces it before this */
    if (js_random_seed() != 0) return -1;
    return confine_rearm_cpu(life->cpu_seconds);
}

/* Runs in the new worker; never returns. A snapshot function's zygote forks snapshot
 * workers: they keep serving the same function, the heap reset between jobs. */
static void worker_child(struct zygote_state *zs, int sock, const struct zyg_request *req)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (js_random_seed() != 0) _exit(WORKER_EXIT_CONFINE);
    int snapshot = zs->snapshot_workers;
    struct snapshot_life life = {.cpu_seconds = req->cpu_seconds,
                                 .max_uses = zs->cfg.snapshot_max_uses};
    if (!zs->heap.arena) { /* an arena carries its cap, frozen with the heap */
        struct js_alloc_state *a = js_heap_alloc_state(&zs->heap);
        a->cap = a->used + req->heap_bytes;
        a->refused = 0;
    }
    struct confine_params p = {
        .sock_fd = sock,
        .parent = zs->self,
        .limits = {.cpu_seconds = req->cpu_seconds,
                   .as_bytes = zs->hello.baseline_vm + 2 * req->heap_bytes + SLACK_AS_BYTES,
                   .heap_bytes = req->heap_bytes},
        .switch_uid = zs->cfg.switch_uid,
        .uid = zs->cfg.worker_uid,
        .gid = zs->cfg.worker_gid,
        .seccomp = snapshot ? &zs->snapshot_seccomp : &zs->seccomp,
    };
    if (snapshot) /* its whole life (fnboxd replaces it before its jobs could reach this) */
        p.limits.cpu_hard_seconds = ZYG_SNAPSHOT_CPU_LIFETIME(req->cpu_seconds);
    if (confine_worker(&p) != 0) _exit(WORKER_EXIT_CONFINE);
    if (snapshot) _exit(worker_serve_snapshot(&zs->heap, WORKER_FD, before_snapshot_job, &life));
    _exit(worker_serve(&zs->heap, WORKER_FD));
}

/* SIGKILL to child c: by its pidfd when it has one (function zygotes), else by pid. */
static void kill_child(const struct child *c)
{
    if (!c) return;
    if (c->pidfd >= 0) syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
    else kill(c->pid, SIGKILL);
}

static struct child *child_of(struct zygote_state *zs, pid_t pid)
{
    for (size_t i = 0; i < zs->nchildren; i++)
        if (zs->children[i].pid == pid) return &zs->children[i];
    return NULL;
}

/* Forks one confined worker; *gateway_fd receives the other end of its socket. */
static pid_t fork_worker(struct zygote_state *zs, const struct zyg_request *req, int *gateway_fd)
{
    if (zs->nchildren == zs->cap) {
        errno = EAGAIN;
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    /* _Fork: no atfork handlers. Those of the libraries fnboxd links (OpenSSL, GnuTLS, p11-kit)
     * would only dirty pages in a child that never uses them; the zygote is single-threaded,
     * so no lock can be held across the fork. */
    int pidfd = -1;
    pid_t pid;
    if (zs->heap.precompiled) /* a function zygote: it may signal its workers only by pidfd */
        pid = (pid_t)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &pidfd, NULL, 0);
    else
        pid = _Fork();
    if (pid == 0) worker_child(zs, sv[1], req);
    int err = errno;
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        errno = err;
        return -1;
    }
    zs->children[zs->nchildren++] =
        (struct child){.job_id = req->job_id, .pid = pid, .pidfd = pidfd};
    *gateway_fd = sv[0];
    return pid;
}

static void set_job(struct zygote_state *zs, pid_t pid, uint64_t job_id)
{
    for (size_t i = 0; i < zs->nchildren; i++)
        if (zs->children[i].pid == pid) zs->children[i].job_id = job_id;
}

void zygote_spawn(struct zygote_state *zs, const struct zyg_request *req)
{
    zs->want_cpu = req->cpu_seconds;
    zs->want_heap = req->heap_bytes;
    pid_t pid = -1;
    int fd = -1;
    for (size_t i = 0; i < zs->nidle; i++) {
        struct idle_worker *w = &zs->idle[i];
        if (w->cpu_seconds != req->cpu_seconds || w->heap_bytes != req->heap_bytes) continue;
        pid = w->pid;
        fd = w->gateway_fd;
        *w = zs->idle[--zs->nidle];
        set_job(zs, pid, req->job_id);
        break;
    }
    if (pid < 0) pid = fork_worker(zs, req, &fd);
    if (pid < 0) {
        zygote_send_msg(zs->ctrl_fd, ZYG_SPAWN_FAILED, -errno, req->job_id, 0, -1);
        return;
    }
    int kind = (zs->heap.precompiled ? ZYG_PRECOMPILED : 0) | (zs->snapshot_workers ? ZYG_SNAPSHOT : 0);
    if (zygote_send_msg(zs->ctrl_fd, ZYG_SPAWNED, kind, req->job_id, pid, fd) != 0)
        kill_child(child_of(zs, pid));
    close(fd);
}

/* Called when no request is waiting: one more idle worker of the wanted class. A full pool
 * of another class gives up its oldest worker. Returns 1 when it forked. */
static int refill_pool(struct zygote_state *zs)
{
    size_t have = 0;
    for (size_t i = 0; i < zs->nidle; i++)
        if (zs->idle[i].cpu_seconds == zs->want_cpu && zs->idle[i].heap_bytes == zs->want_heap)
            have++;
    if (!zs->want_cpu || have >= (size_t)zs->cfg.prefork) return 0;
    if (frame_now_ms() < zs->refill_after_ms) return 0;
    if (zs->nidle == ZYGOTE_POOL_MAX) {
        struct child *c = child_of(zs, zs->idle[0].pid);
        if (c) kill_child(c); /* reaped later as an idle child: nothing reported */
        close(zs->idle[0].gateway_fd);
        zs->idle[0] = zs->idle[--zs->nidle];
    }
    struct zyg_request req = {.op = ZYG_SPAWN, .cpu_seconds = zs->want_cpu,
                              .heap_bytes = zs->want_heap, .job_id = 0};
    int fd;
    pid_t pid = fork_worker(zs, &req, &fd);
    if (pid < 0) return 0;
    zs->idle[zs->nidle++] = (struct idle_worker){
        .pid = pid, .gateway_fd = fd, .cpu_seconds = zs->want_cpu, .heap_bytes = zs->want_heap};
    return 1;
}

/* forget: fnboxd has its answer and wants no exit status; the child is still reaped */
static void kill_job(struct zygote_state *zs, uint64_t job_id, int forget)
{
    for (size_t i = 0; i < zs->nchildren; i++)
        if (zs->children[i].job_id == job_id) {
            kill_child(&zs->children[i]);
            if (forget) zs->children[i].job_id = 0;
        }
}

static void reap(struct zygote_state *zs)
{
    struct signalfd_siginfo si;
    while (read(zs->sig_fd, &si, sizeof si) == sizeof si) {
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == zs->pidns_init && pid > 0) {
            /* without its init the namespace takes no new process: nothing can be served */
            LOG_E("the PID namespace's init died (status %d): the zygote stops", status);
            _exit(1);
        }
        for (size_t i = 0; i < zs->nchildren; i++) {
            if (zs->children[i].pid != pid) continue;
            if (zs->children[i].job_id)
                zygote_send_msg(zs->ctrl_fd, ZYG_EXITED, status, zs->children[i].job_id, pid, -1);
            if (zs->children[i].pidfd >= 0) close(zs->children[i].pidfd);
            zs->children[i] = zs->children[--zs->nchildren];
            break;
        }
        for (size_t i = 0; i < zs->nidle; i++) { /* an idle worker died: forget it */
            if (zs->idle[i].pid != pid) continue;
            close(zs->idle[i].gateway_fd);
            zs->idle[i] = zs->idle[--zs->nidle];
            /* if workers cannot even be confined, do not keep forking them at full speed */
            zs->refill_after_ms = frame_now_ms() + 1000;
            break;
        }
    }
}

/* PID 1 of the workers' PID namespace: reaps whatever is orphaned there and does nothing
 * else. It leaves when the zygote does (EOF on zygote_alive: a namespace's init ignores the
 * parent-death signal), and then the kernel kills every process left in the namespace.
 * Never returns. */
static void pid_ns_init(int zygote_alive)
{
    prctl(PR_SET_NAME, "fnbox-pidns-init", 0, 0, 0);
    if (zygote_alive != 3 && dup2(zygote_alive, 3) != 3) _exit(1);
    syscall(SYS_close_range, 0, 2, 0);
    syscall(SYS_close_range, 4, ~0U, 0);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct none[2] = {{0, 0, 0}, {0, 0, 0}};
    if (syscall(SYS_capset, &hdr, none) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        _exit(1);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD); /* blocked already (inherited): read from a signalfd */
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
    if (sfd < 0) _exit(1);
    struct pollfd pfd[2] = {{.fd = 3, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR) _exit(1);
        if (pfd[0].revents) _exit(0); /* the zygote is gone */
        struct signalfd_siginfo si;
        if (pfd[1].revents && read(sfd, &si, sizeof si) < 0 && errno != EINTR) _exit(1);
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
    }
}

/* A PID namespace for everything the zygote forks from now on: workers and function zygotes
 * see only each other's numbers, and all die with its init. The zygote stays outside (its
 * children's getppid() is then 0, which confine_worker expects: zs->self = 0). */
static int enter_pid_namespace(struct zygote_state *zs)
{
    int alive[2];
    if (pipe2(alive, O_CLOEXEC) != 0) return -errno;
    if (unshare(CLONE_NEWPID) != 0) {
        LOG_I("no PID namespace (%s)", strerror(errno));
        close(alive[0]);
        close(alive[1]);
        return 0;
    }
    pid_t init = fork(); /* the first child becomes PID 1 */
    if (init == 0) {
        close(alive[1]);
        pid_ns_init(alive[0]);
    }
    int err = errno;
    close(alive[0]);
    if (init < 0) {
        /* the next child would become PID 1 instead: no worker could be confined */
        LOG_E("PID namespace: cannot start its init: %s", strerror(err));
        close(alive[1]);
        return -err;
    }
    zs->pidns_alive_fd = alive[1]; /* held, never written: its closing ends the init */
    zs->pidns_init = init;
    zs->hello.pid_ns = 1;
    zs->self = 0;
    return 0;
}

static int zygote_init(struct zygote_state *zs)
{
    int rc;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) return -errno;
    zs->sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (zs->sig_fd < 0) return -errno;
    zs->cap = (size_t)zs->cfg.max_workers * 4 + ZYGOTE_POOL_MAX + 16;
    zs->children = calloc(zs->cap, sizeof *zs->children);
    if (!zs->children) return -ENOMEM;
    /* jansson seeds its hash function from /dev/urandom on first use; do it now, while
     * files may still be opened, not in a worker under its filter */
    json_object_seed(0);
    if ((rc = js_crypto_init())) return rc; /* OpenSSL's lazy set-up, before any filter */
    /* Local-time Date methods call localtime_r, which would open /etc/localtime in the worker
     * (forbidden). Fix the zone to UTC and load it now, once. */
    if (setenv("TZ", "UTC0", 1) != 0) return -errno;
    tzset();
    if (zs->cfg.namespaces) {
        enter_namespaces(zs);
        if ((rc = enter_pid_namespace(zs))) return rc;
    }
    if ((rc = confine_drop_bounding_set())) return rc;
    zs->hello.bounding_dropped = prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0;
    if ((rc = js_heap_create(&zs->heap))) return rc;
    if ((rc = seccomp_policy_build(WORKER_FD, 0, &zs->seccomp))) return rc;
    if ((rc = seccomp_policy_build(WORKER_FD, 1, &zs->snapshot_seccomp))) return rc;
    if ((rc = seccomp_policy_build_function_zygote(&zs->fnz_seccomp))) return rc;
    zs->hello.op = ZYG_HELLO;
    zs->hello.proto_version = ZYG_PROTO_VERSION;
    zs->hello.seccomp = 1;
    zs->hello.no_new_privs = 1;
    zs->hello.uid_switch = (uint8_t)zs->cfg.switch_uid;
    zs->hello.worker_uid = zs->cfg.switch_uid ? zs->cfg.worker_uid : geteuid();
    zs->hello.baseline_vm = vm_size_bytes();
    zs->hello.fs_hidden = zs->cfg.namespaces ? (uint8_t)hide_filesystem() : 0;
    /* last: from here the zygote can fork, pass descriptors and reap, nothing more */
    if ((rc = seccomp_policy_load_zygote())) {
        LOG_E("cannot load the zygote's seccomp filter: %s", strerror(-rc));
        return rc;
    }
    zs->hello.zygote_seccomp = 1;
    return 0;
}

static int key_is_zero(const uint8_t key[ZYG_KEY_LEN])
{
    uint8_t any = 0;
    for (size_t i = 0; i < ZYG_KEY_LEN; i++) any |= key[i];
    return any == 0;
}

static void handle_request(struct zygote_state *zs, const struct zyg_request *req)
{
    switch (req->op) {
    case ZYG_SPAWN:
        /* a function zygote only ever gets spawns for its own function */
        if (!zs->heap.precompiled && !key_is_zero(req->fn_key) && fnz_spawn(zs, req)) return;
        zygote_spawn(zs, req);
        return;
    case ZYG_KILL:
    case ZYG_KILL_FORGET:
        kill_job(zs, req->job_id, req->op == ZYG_KILL_FORGET);
        if (!zs->heap.precompiled) fnz_kill(zs, req->job_id, req->op == ZYG_KILL_FORGET);
        return;
    case ZYG_LOAD:
        if (!zs->heap.precompiled) fnz_load(zs, req);
        return;
    default: return;
    }
}

void zygote_serve(struct zygote_state *zs)
{
    struct pollfd pfd[2 + FNZ_MAX];
    size_t which[FNZ_MAX];
    int pool_full = 0;
    for (;;) {
        pfd[0] = (struct pollfd){.fd = zs->ctrl_fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = zs->sig_fd, .events = POLLIN};
        nfds_t n = 2;
        for (size_t i = 0; i < FNZ_MAX; i++)
            if (zs->fnz[i].used) {
                which[n - 2] = i;
                pfd[n++] = (struct pollfd){.fd = zs->fnz[i].fd, .events = POLLIN};
            }
        /* requests first; when none waits, top up the pool of idle workers */
        int got = poll(pfd, n, pool_full ? -1 : 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (got == 0) {
            pool_full = !refill_pool(zs);
            continue;
        }
        pool_full = 0;
        if (pfd[1].revents) reap(zs);
        for (nfds_t k = 2; k < n; k++)
            if (pfd[k].revents) fnz_message(zs, which[k - 2]);
        if (pfd[0].revents) {
            struct zyg_request req;
            ssize_t r = recv(zs->ctrl_fd, &req, sizeof req, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r != (ssize_t)sizeof req) break; /* fnboxd (or the zygote) is gone */
            handle_request(zs, &req);
        }
    }
    for (size_t i = 0; i < zs->nchildren; i++) kill_child(&zs->children[i]);
    for (size_t i = 0; i < zs->nidle; i++) close(zs->idle[i].gateway_fd);
    for (size_t i = 0; i < FNZ_MAX; i++)
        if (zs->fnz[i].used) kill(zs->fnz[i].pid, SIGKILL);
    /* The PID namespace's init leaves (the kernel then kills everything in the namespace),
     * and every child is reaped here: orphaned, they would wait for the host's init to reap
     * them, and the namespace (its init included) would linger until it did. */
    if (zs->pidns_alive_fd >= 0) close(zs->pidns_alive_fd);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
}

void zygote_main(const struct zygote_config *cfg, int ctrl_fd)
{
    static struct zygote_state zs;
    zs = (struct zygote_state){
        .cfg = *cfg, .ctrl_fd = ctrl_fd, .sig_fd = -1, .pidns_alive_fd = -1, .self = getpid()};
    int rc = zygote_init(&zs);
    if (rc) {
        LOG_E("zygote start-up failed: %s", strerror(-rc));
        _exit(1);
    }
    if (send(ctrl_fd, &zs.hello, sizeof zs.hello, MSG_NOSIGNAL) != sizeof zs.hello) _exit(1);
    zygote_serve(&zs);
    _exit(0);
}
