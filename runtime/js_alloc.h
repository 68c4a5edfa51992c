/* A capped allocator for a Duktape heap. Every block carries its size in a 16-byte header,
 * so the running total is exact. When an allocation would pass the cap it is refused:
 * Duktape turns that into a catchable "alloc failed" RangeError and the heap stays usable.
 * `refused` records that the cap was hit, so an uncaught failure can be reported as
 * memory_limit rather than a plain function error. */
#ifndef FNBOX_JS_ALLOC_H
#define FNBOX_JS_ALLOC_H

#include <stddef.h>

struct js_alloc_state {
    size_t used;  /* bytes currently allocated, headers included */
    size_t cap;   /* 0: no cap */
    size_t peak;
    int refused;  /* number of refused allocations */
};

/* Whether `add` more bytes fit under the cap (a refusal is counted in `refused`). */
int js_alloc_admit(struct js_alloc_state *st, size_t add);
/* Charges `add` bytes and releases `sub` (peak follows). */
void js_alloc_account(struct js_alloc_state *st, size_t add, size_t sub);

void *js_alloc(void *udata, size_t size);
void *js_realloc(void *udata, void *ptr, size_t size);
void js_free(void *udata, void *ptr);

#endif
