/* Function zygotes: compile a function once, fork precompiled workers for it.
 *
 * Compiling is most of a small function's cost per invocation, and all of a large one's
 * (100 KB of code: ~90 ms). After fnboxd sees a function invoked, it sends ZYG_LOAD; the
 * zygote forks a child that takes the worker identity and drops everything a worker drops
 * except the right to fork (it keeps the zygote's filter), reads the code from fnboxd on a
 * socket of its own, compiles it into its copy of the pristine heap, collects the garbage
 * (so that children copy nothing), says ZYG_FN_READY, and from then on serves spawns for that
 * function exactly as the zygote does — forking, keeping an idle pool, reaping, killing —
 * with workers that skip the compile. Each worker still runs the program's top level and the
 * entry function in a fresh process: nothing but the compiled code is shared.
 *
 * The zygote keeps at most FNZ_MAX of them, keyed by fnboxd's fn_key (function, version and
 * code hash), routes each keyed spawn to a ready one, relays its messages, and answers for its
 * jobs if it dies (ZYG_SPAWN_FAILED or a SIGKILL exit status). It never acts on a pid a
 * function zygote reports: that process compiled user code and is trusted no more than a
 * worker. A function zygote unused for FNZ_EVICT_IDLE_MS may be replaced; with all slots busy,
 * a load is refused and the function keeps using ordinary workers. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <duktape.h>

#include "common/frame.h"
#include "common/log.h"
#include "common/proto.h"
#include "sandbox/confine.h"
#include "sandbox/zygote_internal.h"

#define CODE_WAIT_MS 10000
/* The arena holds the pristine heap, the compiled function and one invocation's heap (the
 * cap); power-of-two blocks may need up to twice what the cap admits. */
#define ARENA_SLACK (64ull << 20)

static size_t arena_bytes_for(uint64_t heap_bytes)
{
    return (size_t)(3 * heap_bytes + ARENA_SLACK);
}

/* The function's heap, built anew inside arena (made before the confinement forbade sizing
 * files), with the code compiled and the garbage collected, then frozen (runtime/js_arena.h).
 * Workers inherit the frozen mapping: an invocation allocates from the arena's top instead of
 * writing into pages all over a malloc heap (half the copy-on-write faults of a worker), and
 * a snapshot worker resets to it after each job. Exits on a compile error. */
static void build_heap(struct zygote_state *zs, struct js_arena *arena,
                           const struct zyg_request *req, const char *code, size_t len)
{
    struct js_heap h;
    if (js_heap_create_in_arena(&h, arena) != 0) _exit(WORKER_EXIT_NOMEM);
    arena->acct.cap = arena->acct.used + req->heap_bytes; /* compiling counts, as below */
    if (js_heap_compile(&h, code, len) != 0) _exit(WORKER_EXIT_OK);
    duk_gc(h.ctx, 0);
    duk_gc(h.ctx, 0);
    /* what every job starts from: this heap, the function's memory still all free */
    arena->acct.cap = arena->acct.used + req->heap_bytes;
    arena->acct.refused = 0;
    arena->acct.peak = arena->acct.used;
    h.precompiled = 1;
    if (js_arena_freeze(arena) != 0) _exit(WORKER_EXIT_NOMEM);
    zs->heap = h; /* the zygote's ordinary heap stays mapped, unused */
    zs->hello.baseline_vm += arena->size; /* RLIMIT_AS room for the arena in each worker */
}

static struct fn_zygote *find(struct zygote_state *zs, const uint8_t key[ZYG_KEY_LEN])
{
    for (size_t i = 0; i < FNZ_MAX; i++)
        if (zs->fnz[i].used && memcmp(zs->fnz[i].key, key, ZYG_KEY_LEN) == 0) return &zs->fnz[i];
    return NULL;
}

static struct fn_job *job_of(struct fn_zygote *f, uint64_t job_id)
{
    for (size_t i = 0; i < f->njobs; i++)
        if (f->jobs[i].id == job_id) return &f->jobs[i];
    return NULL;
}

/* 1 (once) when job_id was let go by fnboxd recently. */
static int was_forgotten(struct fn_zygote *f, uint64_t job_id)
{
    for (size_t i = 0; i < FNZ_FORGOTTEN; i++)
        if (job_id && f->forgotten[i] == job_id) {
            f->forgotten[i] = 0;
            return 1;
        }
    return 0;
}

static void drop_job(struct fn_zygote *f, struct fn_job *j)
{
    *j = f->jobs[--f->njobs];
}

/* Ends function zygote f. Its jobs are answered for: those running die with it (a SIGKILL
 * exit status), those still waiting for a worker get an ordinary one. */
static void retire(struct zygote_state *zs, struct fn_zygote *f)
{
    kill(f->pid, SIGKILL); /* our own child: reaped with the others */
    close(f->fd);
    struct fn_job *jobs = f->jobs;
    size_t n = f->njobs;
    memset(f, 0, sizeof *f);
    f->fd = -1;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].spawned) {
            zygote_send_msg(zs->ctrl_fd, ZYG_EXITED, SIGKILL, jobs[i].id, 0, -1);
        } else {
            struct zyg_request req = {.op = ZYG_SPAWN, .cpu_seconds = jobs[i].cpu_seconds,
                                      .job_id = jobs[i].id, .heap_bytes = jobs[i].heap_bytes};
            zygote_spawn(zs, &req);
        }
    }
    free(jobs);
}

/* In the new function zygote: never returns. */
static void fnz_child(struct zygote_state *zs, int up_fd, int code_fd, const struct zyg_request *req)
{
    /* nothing of the zygote's connections: not fnboxd's control socket, not other
     * function zygotes, not idle workers' sockets */
    close(zs->ctrl_fd);
    if (zs->pidns_alive_fd >= 0) close(zs->pidns_alive_fd);
    zs->pidns_alive_fd = -1;
    for (size_t i = 0; i < FNZ_MAX; i++)
        if (zs->fnz[i].used) close(zs->fnz[i].fd);
    memset(zs->fnz, 0, sizeof zs->fnz);
    for (size_t i = 0; i < zs->nidle; i++) close(zs->idle[i].gateway_fd);
    zs->nidle = 0;
    zs->nchildren = 0;
    zs->ctrl_fd = up_fd;
    zs->pidns_init = 0; /* the zygote's child, not its own */

    struct confine_params p = {.parent = zs->self,
                               .switch_uid = zs->cfg.switch_uid,
                               .uid = zs->cfg.worker_uid,
                               .gid = zs->cfg.worker_gid,
                               .seccomp = &zs->fnz_seccomp,
                               .limits = {.as_bytes = zs->hello.baseline_vm +
                                                      4 * req->heap_bytes + (256ull << 20)}};
    struct js_arena *arena = js_arena_create(arena_bytes_for(req->heap_bytes));
    if (!arena) _exit(WORKER_EXIT_NOMEM);
    p.limits.as_bytes += arena->size;
    rlim_t nproc = (rlim_t)zs->cfg.max_workers * 2 + (rlim_t)FNZ_MAX * (ZYGOTE_POOL_MAX + 1) + 64;
    if (confine_function_zygote(&p, nproc) != 0) _exit(WORKER_EXIT_CONFINE);
    zs->self = getpid(); /* as its workers see it (inside the PID namespace, if any) */
    zs->cfg.switch_uid = 0; /* it is the worker identity already: workers inherit it */

    struct frame f;
    if (frame_recv(code_fd, &f, FRAME_MAX_PAYLOAD, frame_now_ms() + CODE_WAIT_MS) != 0 ||
        f.type != FRAME_JOB)
        _exit(WORKER_EXIT_PROTOCOL);
    close(code_fd);
    build_heap(zs, arena, req, (const char *)f.data, f.len);
    zs->snapshot_workers = (req->flags & ZYG_LOAD_SNAPSHOT) != 0;
    frame_free(&f);
    zs->want_cpu = req->cpu_seconds; /* the idle pool: this function's limits class */
    zs->want_heap = req->heap_bytes;
    if (zygote_send_msg(up_fd, ZYG_FN_READY, 0, 0, 0, -1) != 0) _exit(WORKER_EXIT_PROTOCOL);
    zygote_serve(zs);
    _exit(0);
}

/* A free slot, or the least recently used function zygote idle long enough to replace. */
static struct fn_zygote *slot_for_new(struct zygote_state *zs)
{
    struct fn_zygote *lru = NULL;
    int64_t now = frame_now_ms();
    for (size_t i = 0; i < FNZ_MAX; i++) {
        struct fn_zygote *f = &zs->fnz[i];
        if (!f->used) return f;
        if (f->njobs == 0 && now - f->last_used_ms >= FNZ_EVICT_IDLE_MS &&
            (!lru || f->last_used_ms < lru->last_used_ms))
            lru = f;
    }
    if (lru) retire(zs, lru);
    return lru;
}

void fnz_load(struct zygote_state *zs, const struct zyg_request *req)
{
    struct fn_zygote *f = find(zs, req->fn_key) ? NULL : slot_for_new(zs);
    if (!f) {
        zygote_send_msg(zs->ctrl_fd, ZYG_SPAWN_FAILED, -EBUSY, req->job_id, 0, -1);
        return;
    }
    int up[2] = {-1, -1}, code[2] = {-1, -1};
    f->jobs = calloc((size_t)zs->cfg.max_workers + 1, sizeof *f->jobs);
    if (!f->jobs || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, up) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, code) < 0) {
        int err = errno ? errno : ENOMEM;
        for (int i = 0; i < 2; i++) {
            if (up[i] >= 0) close(up[i]);
            if (code[i] >= 0) close(code[i]);
        }
        free(f->jobs);
        f->jobs = NULL;
        zygote_send_msg(zs->ctrl_fd, ZYG_SPAWN_FAILED, -err, req->job_id, 0, -1);
        return;
    }
    pid_t pid = _Fork();
    if (pid == 0) {
        close(up[0]);
        close(code[0]);
        fnz_child(zs, up[1], code[1], req);
    }
    int err = errno;
    close(up[1]);
    close(code[1]);
    if (pid < 0) {
        close(up[0]);
        close(code[0]);
        free(f->jobs);
        f->jobs = NULL;
        zygote_send_msg(zs->ctrl_fd, ZYG_SPAWN_FAILED, -err, req->job_id, 0, -1);
        return;
    }
    f->used = 1;
    f->ready = 0;
    f->snapshot = (req->flags & ZYG_LOAD_SNAPSHOT) != 0;
    memcpy(f->key, req->fn_key, ZYG_KEY_LEN);
    f->pid = pid;
    f->fd = up[0];
    f->njobs = 0;
    f->last_used_ms = frame_now_ms();
    /* fnboxd sends the code straight to it: the zygote never reads a function's code */
    zygote_send_msg(zs->ctrl_fd, ZYG_SPAWNED, 0, req->job_id, pid, code[0]);
    close(code[0]);
}

int fnz_spawn(struct zygote_state *zs, const struct zyg_request *req)
{
    struct fn_zygote *f = find(zs, req->fn_key);
    if (!f || !f->ready || f->njobs > (size_t)zs->cfg.max_workers) return 0;
    /* never blocking: a function zygote that stops reading is retired, not waited for */
    if (send(f->fd, req, sizeof *req, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof *req) {
        retire(zs, f);
        return 0;
    }
    f->jobs[f->njobs++] = (struct fn_job){
        .id = req->job_id, .cpu_seconds = req->cpu_seconds, .heap_bytes = req->heap_bytes};
    f->last_used_ms = frame_now_ms();
    return 1;
}

void fnz_kill(struct zygote_state *zs, uint64_t job_id, int forget)
{
    for (size_t i = 0; i < FNZ_MAX; i++) {
        struct fn_zygote *f = &zs->fnz[i];
        struct fn_job *j = f->used ? job_of(f, job_id) : NULL;
        if (!j) continue;
        /* a job not yet handed a worker keeps waiting for one: only its worker is killed */
        int drop = forget && j->spawned;
        struct zyg_request kill_req = {.op = drop ? ZYG_KILL_FORGET : ZYG_KILL, .job_id = job_id};
        if (send(f->fd, &kill_req, sizeof kill_req, MSG_NOSIGNAL | MSG_DONTWAIT) !=
            (ssize_t)sizeof kill_req)
            retire(zs, f);
        else if (drop) {
            /* none is owed now; one it sent before reading this is let through once */
            f->forgotten[f->next_forgotten++ % FNZ_FORGOTTEN] = job_id;
            drop_job(f, j);
        }
        return;
    }
}

void fnz_message(struct zygote_state *zs, size_t i)
{
    struct fn_zygote *f = &zs->fnz[i];
    struct zyg_message m;
    int fd;
    ssize_t n = zygote_recv_msg(f->fd, &m, &fd, MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) return;
    if (n != (ssize_t)sizeof m) { /* it exited (a compile error, a limit) or spoke nonsense */
        if (fd >= 0) close(fd);
        retire(zs, f);
        return;
    }
    /* Anything outside the protocol — a second ready, a job that is not its, a worker
     * without a socket, an answer out of turn — retires it: it has parsed user code and is
     * trusted no more than a worker. */
    struct fn_job *j = m.op == ZYG_FN_READY ? NULL : job_of(f, m.job_id);
    if (m.op == ZYG_FN_READY && !f->ready && fd < 0) {
        f->ready = 1;
    } else if (j && m.op == ZYG_SPAWNED && fd >= 0 && !j->spawned) {
        j->spawned = 1;
        /* what kind of worker it is comes from the load, not from the function zygote */
        zygote_send_msg(zs->ctrl_fd, ZYG_SPAWNED,
                        ZYG_PRECOMPILED | (f->snapshot ? ZYG_SNAPSHOT : 0), m.job_id,
                        (pid_t)m.pid, fd);
    } else if (j && m.op == ZYG_SPAWN_FAILED && !j->spawned && fd < 0) {
        /* it could not fork (a limit): an ordinary worker does the job */
        struct zyg_request req = {.op = ZYG_SPAWN, .cpu_seconds = j->cpu_seconds,
                                  .job_id = j->id, .heap_bytes = j->heap_bytes};
        drop_job(f, j);
        zygote_spawn(zs, &req);
    } else if (j && m.op == ZYG_EXITED && j->spawned && fd < 0) {
        zygote_send_msg(zs->ctrl_fd, ZYG_EXITED, m.value, m.job_id, 0, -1);
        drop_job(f, j);
    } else if (!j && m.op == ZYG_EXITED && fd < 0 && was_forgotten(f, m.job_id)) {
        /* crossed our ZYG_KILL_FORGET: nobody waits for it */
    } else {
        if (fd >= 0) close(fd);
        retire(zs, f);
        return;
    }
    if (fd >= 0) close(fd);
}
