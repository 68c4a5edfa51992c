/* fnboxd's side of the zygote's control socket, safe to use from many threads.
 *
 * A reader thread receives the zygote's messages and hands each to the slot of the job it
 * names. A job holds a slot from zclient_spawn until zclient_release; messages for a
 * released job (a late exit status) are dropped and a late socket is closed. At most
 * `slots` jobs exist at once: callers bound their concurrency to that.
 * Functions return 0 or a negative errno (-EPIPE once the zygote is gone, -ETIMEDOUT). */
#ifndef FNBOX_ZYGOTE_CLIENT_H
#define FNBOX_ZYGOTE_CLIENT_H

#include <stdint.h>
#include <sys/types.h>

#include "sandbox/zygote.h"

struct zclient;

struct worker_handle {
    uint64_t job_id;
    int fd;    /* the gateway's end of the worker socket; the caller closes it */
    pid_t pid;
    int precompiled; /* it holds the function compiled: send the job without code */
    int snapshot;    /* a snapshot worker: it may serve more jobs after a result */
};

struct zclient *zclient_create(const struct zygote *z, int slots);
void zclient_destroy(struct zclient *zc);
int zclient_alive(struct zclient *zc);

/* fn_key (ZYG_KEY_LEN bytes, or NULL): the function; a worker from its function zygote when
 * one is ready (out->precompiled), an ordinary one otherwise. */
int zclient_spawn(struct zclient *zc, uint32_t cpu_seconds, uint64_t heap_bytes,
                  const uint8_t *fn_key, struct worker_handle *out);
/* Asks for a function zygote compiling code for fn_key, unless one was asked for within the
 * last second (a function that cannot have one is not retried at every call). flags:
 * ZYG_LOAD_SNAPSHOT for a snapshot function. Runs in the
 * caller's thread after its invocation: it takes a job slot for the hand-over only. 0 or a
 * negative errno (-EBUSY: every function zygote is in use; -EALREADY: asked recently). */
int zclient_load(struct zclient *zc, const uint8_t fn_key[ZYG_KEY_LEN], uint32_t cpu_seconds,
                 uint64_t heap_bytes, uint32_t flags, const char *code, size_t len);
int zclient_kill(struct zclient *zc, uint64_t job_id);
/* The same for a job whose outcome is decided: the zygote reports no exit status for it,
 * which saves three process wake-ups per invocation. */
int zclient_kill_forget(struct zclient *zc, uint64_t job_id);
/* Waits for the worker's wait status until deadline_ms (CLOCK_MONOTONIC ms). */
int zclient_wait_exit(struct zclient *zc, uint64_t job_id, int64_t deadline_ms, int *status);
void zclient_release(struct zclient *zc, uint64_t job_id);

#endif
