/* The pristine Duktape heap every worker inherits from the zygote.
 *
 * js_heap_create builds a heap with the capped allocator, keeps only the globals named in
 * the allowlist (runtime/js_heap.c: allowed_globals[]), removes the Function constructor
 * also where it is reachable through .constructor, and installs the host APIs (console,
 * secrets, fetch, crypto). It runs nothing of the user's. crypto needs js_crypto_init
 * (runtime/js_crypto.h) to have run first, before any seccomp filter.
 * Host APIs reach the worker's parent through the sink set with js_heap_set_log_sink. */
#ifndef FNBOX_JS_HEAP_H
#define FNBOX_JS_HEAP_H

#include <stddef.h>

#include "duktape.h"
#include "runtime/js_alloc.h"
#include "runtime/js_arena.h"

struct js_heap {
    duk_context *ctx;
    struct js_alloc_state alloc; /* an ordinary heap's accounting (see js_heap_alloc_state) */
    struct js_arena *arena;      /* NULL, or the arena the whole heap lives in */
    int precompiled; /* a function zygote's heap: the compiled program is on the value stack */
};

/* The file name errors in the function's own code carry (so that a line can be reported). */
#define JS_SOURCE_NAME "function.js"

/* Returns 0 or a negative errno; on failure nothing is left allocated. */
int js_heap_create(struct js_heap *h);

/* The same heap, built inside arena a (runtime/js_arena.h), so that js_heap_reset can later
 * put it back to the state it had when the arena was frozen. */
int js_heap_create_in_arena(struct js_heap *h, struct js_arena *a);
/* An arena heap back to its frozen state (the C side is unchanged: the heap, Duktape's
 * context and the allocator all live in the arena). 0 or a negative errno. */
int js_heap_reset(struct js_heap *h);
/* The accounting (cap, use, refusals) of h's allocator, wherever it lives. */
struct js_alloc_state *js_heap_alloc_state(struct js_heap *h);

/* Compiles the function's code as a program: 0 with the compiled function on top of the value
 * stack, or non-zero with the error there. In a worker, or once in a function zygote. */
int js_heap_compile(struct js_heap *h, const char *code, size_t len);
void js_heap_destroy(struct js_heap *h);

/* Host API calls (secrets.get, ...) go to the worker's parent over this socket as
 * FRAME_CALL, and block for its FRAME_REPLY. -1: no parent (host APIs throw). */
void js_heap_set_host_fd(int fd);

/* console.* calls this with one formatted, NUL-terminated line. */
typedef void (*js_log_sink)(void *arg, const char *line, size_t len);
void js_heap_set_log_sink(js_log_sink sink, void *arg);

#endif
