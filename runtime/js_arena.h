/* A Duktape heap that can be put back, whole, to a snapshot.
 *
 * Every byte the heap allocates lives in one mapping of a memfd, this allocator's own
 * bookkeeping included (the struct js_arena below sits at the start of the mapping, and is the
 * udata Duktape passes back). js_arena_create maps it shared, to build the state worth keeping
 * (a heap with the function compiled); js_arena_freeze then maps those pages private at the
 * same address, the rest of the arena anonymous, cuts the memfd to the snapshot and seals it,
 * so that the pristine state can never change again and holds nothing more; js_arena_reset
 * drops every page written since (MADV_DONTNEED: a private file page reads the snapshot again,
 * an anonymous one zeros), which puts the heap, and the allocator, back to that state.
 *
 * Blocks (an 8-byte header included) up to 1 KiB come in 8-byte classes, each class with its
 * free list; larger ones are any multiple of 16 bytes. Free pieces of 32 bytes and more live in
 * bins by the power of two of their length, merged with free neighbours when freed (boundary
 * tags): an allocation takes a fit among the first few blocks of its bin or the head of a
 * larger bin, splits it, or else carves from the top; small requests take pieces of free
 * blocks before the top grows. When neither the bins nor the top can serve, the small free
 * lists are merged with their neighbours (as malloc_consolidate does; only once enough was
 * freed to them since the last time) and the bins searched in full. So a string grown a piece
 * at a time, buffers of ever larger sizes, or objects of one size dropped for objects of
 * another, reuse the memory the garbage gave back. The small free lists, and the compile's
 * free pieces, are forgotten at freeze, so that an invocation writes fresh pages at the top
 * rather than pages of the snapshot all over the arena.
 * Accounting and the cap are js_alloc's (runtime/js_alloc.h): a request is charged its size
 * plus 16 bytes, exactly as a malloc'd heap's, so limits mean the same everywhere; the arena is
 * made larger than the cap so that rounding cannot refuse what the cap admits, except under
 * fragmentation (then the request is refused and counted as over the cap).
 * User blocks are 8-byte aligned (Duktape's DUK_USE_ALIGN_BY on this platform). */
#ifndef FNBOX_JS_ARENA_H
#define FNBOX_JS_ARENA_H

#include <stddef.h>

#include "runtime/js_alloc.h"

#define JS_ARENA_SMALL_CLASSES 128 /* blocks of 8, 16, ... 1024 bytes */
#define JS_ARENA_LARGE_BINS 40     /* free larger blocks, by the power of two of their length */

struct js_arena {
    struct js_alloc_state acct; /* first: the arena is also the accounting state */
    size_t size;   /* of the mapping, in bytes */
    size_t top;    /* offset of the first byte never handed out */
    size_t high;   /* the highest top ever: what a reset must drop */
    int memfd;     /* -1 once frozen */
    int frozen;
    void *free_list[JS_ARENA_SMALL_CLASSES]; /* freed small blocks, by class */
    void *bins[JS_ARENA_LARGE_BINS];         /* free large blocks (merged with free neighbours) */
    size_t small_freed; /* bytes put on the small free lists since they were last merged */
};

/* A shared mapping of a new memfd, `size` bytes (rounded up to pages); NULL with errno set. */
struct js_arena *js_arena_create(size_t size);
/* Remaps the arena private at its own address and seals the memfd (write, grow, shrink, seal),
 * then closes it. 0 or a negative errno (the arena is unusable then). */
int js_arena_freeze(struct js_arena *a);
/* Back to the state at js_arena_freeze. 0 or a negative errno. */
int js_arena_reset(struct js_arena *a);
void js_arena_destroy(struct js_arena *a);

/* 0 when the arena's blocks are consistent (every block's length and boundary tags, no two free
 * large blocks side by side, none below the top, the bins holding exactly the free ones); a
 * negative number naming the first inconsistency otherwise. For tests; it walks every block. */
int js_arena_check(struct js_arena *a);

/* Duktape's allocation functions; udata is the struct js_arena. */
void *js_arena_alloc(void *udata, size_t size);
void *js_arena_realloc(void *udata, void *ptr, size_t size);
void js_arena_free(void *udata, void *ptr);

#endif
