/* Our Duktape configuration, included by build/duk/duk_config.h in place of its
 * __OVERRIDE_DEFINES__ marker (see the Makefile). Each choice removes attack surface or a
 * shared-state hazard of forked heaps. */
#ifndef FNBOX_DUK_OVERRIDES_H
#define FNBOX_DUK_OVERRIDES_H

/* Math.random from a per-worker seeded generator (runtime/js_random.c): workers forked from
 * one heap would otherwise all produce the same sequence. */
double fnbox_js_random_double(void *udata);
#undef DUK_USE_GET_RANDOM_DOUBLE
#define DUK_USE_GET_RANDOM_DOUBLE(udata) fnbox_js_random_double(udata)

/* Hash every byte of a string: sparse hashing makes collisions cheap to manufacture. */
#define DUK_USE_STRHASH_DENSE

/* No reference counting: a worker lives for one invocation, so mark-and-sweep alone frees
 * enough, and refcount updates write to (so copy) the zygote's heap pages whenever a
 * pristine object is referenced. Measured: ~5% fewer page faults, ~10% more invocations/s. */
#undef DUK_USE_REFERENCE_COUNTING
#undef DUK_USE_DOUBLE_LINKED_HEAP

/* No bytecode dump/load: loading forged bytecode breaks every memory-safety assumption. */
#undef DUK_USE_BYTECODE_DUMP_SUPPORT

/* No user hooks into error creation/throw (Duktape.errCreate / errThrow). */
#undef DUK_USE_ERRCREATE
#undef DUK_USE_ERRTHROW

/* CBOR and performance cannot be compiled out here: the amalgamation's built-in tables are
 * pre-generated with them. js_heap.c deletes both globals (allowlist) instead. */

/* Errors must not carry host internals: no C file name or line (of Duktape's sources or
 * ours) in .fileName, .lineNumber or .stack. With no C call site to blame, Duktape blames
 * the innermost function.js frame, which is also the line the user wants. */
#undef DUK_FILE_MACRO
#define DUK_FILE_MACRO NULL
#undef DUK_LINE_MACRO
#define DUK_LINE_MACRO 0

/* A fatal error ends the worker with a distinct exit status instead of abort(). */
void fnbox_js_fatal(void *udata, const char *msg);
#undef DUK_USE_FATAL_HANDLER
#define DUK_USE_FATAL_HANDLER(udata, msg) fnbox_js_fatal((udata), (msg))

#endif
