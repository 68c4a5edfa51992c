/* The worker's single invocation: read one FRAME_JOB from fd, run it on the inherited heap,
 * answer with FRAME_RESULT or FRAME_ERROR (console lines go out as FRAME_LOG as they happen),
 * and return the process exit code. Called only after the worker is fully confined, so it
 * uses nothing but read(2)/write(2) on fd and memory. */
#ifndef FNBOX_WORKER_H
#define FNBOX_WORKER_H

#include "runtime/js_heap.h"

int worker_serve(struct js_heap *heap, int fd);

#endif
