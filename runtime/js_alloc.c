#include "runtime/js_alloc.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#define HDR 16u /* keeps the user block max_align_t aligned */
_Static_assert(HDR >= sizeof(size_t) && HDR % alignof(max_align_t) == 0, "header alignment");

int js_alloc_admit(struct js_alloc_state *st, size_t add)
{
    if (st->cap && (add > st->cap || st->used > st->cap - add)) {
        st->refused++;
        return 0;
    }
    return 1;
}

void js_alloc_account(struct js_alloc_state *st, size_t add, size_t sub)
{
    st->used = st->used + add - sub;
    if (st->used > st->peak) st->peak = st->used;
}

void *js_alloc(void *udata, size_t size)
{
    struct js_alloc_state *st = udata;
    if (size == 0) return NULL; /* Duktape accepts NULL for a zero-size request */
    if (size > SIZE_MAX - HDR || !js_alloc_admit(st, size + HDR)) return NULL;
    unsigned char *p = malloc(size + HDR);
    if (!p) return NULL;
    *(size_t *)p = size;
    js_alloc_account(st, size + HDR, 0);
    return p + HDR;
}

void *js_realloc(void *udata, void *ptr, size_t size)
{
    struct js_alloc_state *st = udata;
    if (!ptr) return js_alloc(udata, size);
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old = *(size_t *)base;
    if (size == 0) {
        js_free(udata, ptr);
        return NULL;
    }
    if (size > SIZE_MAX - HDR) return NULL;
    if (size > old && !js_alloc_admit(st, size - old)) return NULL;
    unsigned char *p = realloc(base, size + HDR);
    if (!p) return NULL;
    *(size_t *)p = size;
    js_alloc_account(st, size + HDR, old + HDR);
    return p + HDR;
}

void js_free(void *udata, void *ptr)
{
    struct js_alloc_state *st = udata;
    if (!ptr) return;
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old = *(size_t *)base;
    st->used -= old + HDR;
    free(base);
}
