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
/* A worker was handed an invocation: precompiled (from a function zygote) or not. */
void metrics_worker_started(int precompiled);
/* A function zygote was asked for: started, or refused. */
void metrics_function_zygote_load(int ok);
/* One fetch: host (NULL when refused before a host was known), outcome ("ok" or a
 * FETCH_ERR_* code), response bytes and seconds. */
void metrics_fetch(const char *host, const char *outcome, size_t bytes, double seconds);
/* Returns a heap string (caller frees) or NULL. */
char *metrics_render(long queue_depth, size_t *len);

#endif
