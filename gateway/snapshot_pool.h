/* fnboxd's snapshot workers, counted per function and kept idle between invocations.
 *
 * A snapshot worker (sandbox/fn_zygote.c, runtime/js_arena.h) serves one function version
 * (its fn_key) job after job, its heap reset between them. The pool knows how many workers of
 * each key are alive (idle here, or running) and keeps the idle ones.
 *
 * Lanes: more runnable workers than cores only queue in the kernel (a 2-core machine with 16
 * running showed p99 latencies of 100+ ms against 4 ms with 2-4 of them, at the same
 * throughput). So an invocation waits for an idle worker when `lanes` of its function are alive
 * already, for as long as they keep coming back (a queue); only when none has come back for
 * stall_ms (they are blocked, in fetch() say) may it start one more. (A fixed wait spawned and
 * ended thousands of workers a second under a steady 64-connection load.) A worker coming back while its function has an idle
 * one already and more than `lanes` alive is ended instead: surplus workers do not outlive a
 * burst. At most per_key idle workers of one key and cap idle in all; one idle longer than
 * idle_ms is handed back to be ended.
 *
 * The pool only keeps records: ending a worker (closing its socket, asking the zygote to kill
 * it) is the caller's, for every record this module gives back, and the caller reports every
 * worker of a key that ends (snapshot_pool_gone), so that the counts stay true. Thread-safe. */
#ifndef FNBOX_SNAPSHOT_POOL_H
#define FNBOX_SNAPSHOT_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SNAPSHOT_KEY_LEN 32

struct snapshot_worker {
    uint8_t key[SNAPSHOT_KEY_LEN];
    uint64_t job_id; /* the zygote job it was spawned as: kill and exit status go by it */
    int fd;          /* fnboxd's end of its socket */
    pid_t pid;
    uint32_t uses;   /* invocations served so far */
    uint64_t busy_ms; /* their wall time, and a charge per reset: a bound on its CPU time */
    int64_t idle_since_ms;
};

struct snapshot_pool;

/* keys: how many distinct functions may have workers at once (a key beyond it gets none). */
struct snapshot_pool *snapshot_pool_create(size_t cap, size_t per_key, size_t keys, size_t lanes,
                                           int64_t idle_ms);
/* Every idle record goes to out (up to max); the pool is freed. Returns how many. */
size_t snapshot_pool_destroy(struct snapshot_pool *p, struct snapshot_worker *out, size_t max);

/* For an invocation of key: 1 with an idle worker in *out; 0 when the caller is to start a new
 * worker (counted alive from now: report it with snapshot_pool_gone if it never comes back
 * through snapshot_pool_put); -ENOSPC when the pool tracks too many keys (start an ordinary
 * worker, uncounted). While lanes of key are alive it waits for an idle one: until none has
 * come back for stall_ms, and at most until give_up_ms (CLOCK_MONOTONIC). */
int snapshot_pool_acquire(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN],
                          int64_t stall_ms, int64_t give_up_ms, struct snapshot_worker *out);
/* A worker of its key that served and may serve again. Returns 1 with *end filled when a
 * record must be ended (w itself when it is surplus or its key has per_key idle already, else
 * the least recently used idle one); that record is no longer counted alive. 0 otherwise. */
int snapshot_pool_put(struct snapshot_pool *p, const struct snapshot_worker *w, int64_t now_ms,
                      struct snapshot_worker *end);
/* A counted worker of key ended (or was never started). */
void snapshot_pool_gone(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN]);
/* Idle records older than idle_ms, moved to out (up to max), no longer counted alive. */
size_t snapshot_pool_expire(struct snapshot_pool *p, int64_t now_ms, struct snapshot_worker *out,
                            size_t max);
/* The same for records idle longer than older_than_ms (whatever the pool's idle_ms). */
size_t snapshot_pool_expire_older(struct snapshot_pool *p, int64_t now_ms, int64_t older_than_ms,
                                  struct snapshot_worker *out, size_t max);
size_t snapshot_pool_idle(struct snapshot_pool *p);

#endif
