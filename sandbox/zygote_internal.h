/* Internals shared by the zygote (zygote.c) and the function zygotes it forks
 * (fn_zygote.c). Private to sandbox/. */
#ifndef FNBOX_ZYGOTE_INTERNAL_H
#define FNBOX_ZYGOTE_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "runtime/js_heap.h"
#include "sandbox/zygote.h"
#include "sandbox/zygote_msg.h"

#define SLACK_AS_BYTES (64ull << 20)
#define ZYGOTE_POOL_MAX 8

struct child {
    uint64_t job_id; /* 0: an idle pre-forked worker, not yet handed out */
    pid_t pid;
    int pidfd; /* a function zygote signals its workers only through these (-1 elsewhere) */
};

/* A pre-forked worker, confined and blocked reading its socket, for one limits class. */
struct idle_worker {
    pid_t pid;
    int gateway_fd;
    uint32_t cpu_seconds;
    uint64_t heap_bytes;
};

#define FNZ_FORGOTTEN 256

/* A function zygote, as the zygote sees it: a child holding one function compiled, forking
 * precompiled workers for it (fn_zygote.c). */
struct fn_job {
    uint64_t id;
    int spawned;    /* its socket went to fnboxd */
    uint32_t cpu_seconds; /* the request, to give it an ordinary worker if this one dies */
    uint64_t heap_bytes;
};

struct fn_zygote {
    int used, ready;
    int snapshot; /* loaded with ZYG_LOAD_SNAPSHOT: its workers are snapshot workers */
    uint8_t key[ZYG_KEY_LEN];
    pid_t pid;
    int fd;               /* the control socket to it */
    int64_t last_used_ms;
    struct fn_job *jobs;  /* the jobs it serves, answered for if it dies */
    size_t njobs;
    /* jobs fnboxd let go (ZYG_KILL_FORGET) whose exit status may still be on its way */
    uint64_t forgotten[FNZ_FORGOTTEN];
    unsigned next_forgotten;
};

#define FNZ_MAX 16
#define FNZ_EVICT_IDLE_MS 2000 /* a function zygote unused this long may make room */

struct zygote_state {
    struct zygote_config cfg;
    int ctrl_fd, sig_fd;
    int pidns_alive_fd; /* the PID namespace's init exits when this closes (-1: none) */
    pid_t pidns_init;   /* that init (0: none) */
    pid_t self;
    struct js_heap heap;
    struct sock_fprog seccomp;
    struct sock_fprog snapshot_seccomp; /* a snapshot worker's: seccomp plus its own RLIMIT_CPU */
    int snapshot_workers; /* a snapshot function's zygote: it forks snapshot workers */
    struct sock_fprog fnz_seccomp; /* the function zygotes' extra layer */
    struct zyg_hello hello;
    struct child *children;
    size_t nchildren, cap;
    struct idle_worker idle[ZYGOTE_POOL_MAX];
    size_t nidle;
    int64_t refill_after_ms; /* back-off after an idle worker died: no fork storm */
    uint32_t want_cpu; /* the limits class to keep idle workers for: the last one asked */
    uint64_t want_heap;
    struct fn_zygote fnz[FNZ_MAX]; /* the zygote's function zygotes (none in a function zygote) */
};


/* An ordinary worker for req (from the idle pool or forked now), answered to fnboxd. */
void zygote_spawn(struct zygote_state *zs, const struct zyg_request *req);
/* The request loop (both kinds of zygote); returns when fnboxd (or the zygote) is gone. */
void zygote_serve(struct zygote_state *zs);

/* fn_zygote.c, in the zygote: */
/* ZYG_LOAD: forks a function zygote for req->fn_key (answering req->job_id). */
void fnz_load(struct zygote_state *zs, const struct zyg_request *req);
/* ZYG_SPAWN with a key: 1 when a ready function zygote took the job, 0 when there is none. */
int fnz_spawn(struct zygote_state *zs, const struct zyg_request *req);
/* ZYG_KILL: passes it to the function zygote serving the job, if any. */
void fnz_kill(struct zygote_state *zs, uint64_t job_id, int forget);
/* A message (or EOF) from function zygote i. */
void fnz_message(struct zygote_state *zs, size_t i);

#endif
