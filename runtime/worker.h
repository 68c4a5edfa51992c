/* The worker's single invocation: read one FRAME_JOB from fd, run it on the inherited heap,
 * answer with FRAME_RESULT or FRAME_ERROR (console lines go out as FRAME_LOG as they happen),
 * and return the process exit code. Called only after the worker is fully confined, so it
 * uses nothing but read(2)/write(2) on fd and memory. */
#ifndef FNBOX_WORKER_H
#define FNBOX_WORKER_H

#include "runtime/js_heap.h"

int worker_serve(struct js_heap *heap, int fd);

/* A snapshot worker's life (heap: an arena heap, js_heap_create_in_arena, precompiled): one
 * job after another, each on the heap as it was frozen — after a result the heap is reset
 * before the next job is read. before_job runs first each time (reseed, re-arm limits); it
 * returns non-zero to stop. Ends at the first error, limit, or protocol fault (the worker is
 * then replaced), or when fd closes; returns the exit code. */
int worker_serve_snapshot(struct js_heap *heap, int fd, int (*before_job)(void *), void *arg);

#endif
