/* Process-wide counters rendered in the Prometheus text format: invocations by function
 * and outcome, an invocation duration histogram, workers busy, queue depth. Thread-safe.
 * Distinct function labels are capped (METRICS_MAX_FUNCTIONS); the rest count as "_other". */
#ifndef FNBOX_METRICS_H
#define FNBOX_METRICS_H

#include <stddef.h>

#include "gateway/outcome.h"

#define METRICS_MAX_FUNCTIONS 1000

void metrics_invocation(const char *function, enum outcome o, double seconds);
void metrics_workers_busy(int delta);
enum worker_kind {
    WORKER_KIND_COMPILES,          /* an ordinary worker: it compiles the function */
    WORKER_KIND_PRECOMPILED,       /* forked by the function's zygote, compiled already */
    WORKER_KIND_SNAPSHOT,          /* a new snapshot worker (isolation "snapshot") */
    WORKER_KIND_SNAPSHOT_REUSED,   /* a snapshot worker serving again, its heap reset */
    WORKER_KIND_COUNT
};
/* A worker was handed an invocation. */
void metrics_worker_started(enum worker_kind kind);
/* A function zygote was asked for: started, or refused. */
void metrics_function_zygote_load(int ok);
/* One fetch: host (NULL when refused before a host was known), outcome ("ok" or a
 * FETCH_ERR_* code), response bytes and seconds. */
void metrics_fetch(const char *host, const char *outcome, size_t bytes, double seconds);
/* Returns a heap string (caller frees) or NULL. */
char *metrics_render(long queue_depth, size_t *len);

#endif
