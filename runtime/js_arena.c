#include "runtime/js_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* An 8-byte header keeps blocks as dense as glibc's chunks: marking a heap of small objects
 * is bound by the cache, and 16-byte headers with coarse classes made Duktape's collector 2-3x
 * slower on 30,000 objects. Duktape needs 8-byte alignment on this platform (DUK_USE_ALIGN_BY). */
#define HDR 8u
/* What a block is charged against the cap: js_alloc's header, so that limits mean the same
 * whichever allocator a heap has. */
#define CHARGE 16u
#define FINE_STEP 8u     /* blocks up to FINE_MAX bytes come in 8-byte steps ... */
#define FINE_MAX 1024u
#define FINE_CLASSES (FINE_MAX / FINE_STEP)
#define SUB_CLASSES 8u   /* ... then eight to each doubling: at most 12.5% rounding (a
                          * 1 KiB array part plus its header must not take 2 KiB) */
#define SEAL_TRIES 100 /* F_SEAL_WRITE may briefly see a page still referenced (EBUSY) */

struct block_header {
    uint32_t cls;
    uint32_t size; /* what was asked for (at most UINT32_MAX - CHARGE) */
};
_Static_assert(sizeof(struct block_header) == HDR, "block header size");
_Static_assert(JS_ARENA_CLASSES >= FINE_CLASSES + SUB_CLASSES * 32, "classes up to 4 TiB");

static size_t class_bytes(unsigned cls)
{
    if (cls < FINE_CLASSES) return (size_t)(cls + 1) * FINE_STEP;
    unsigned group = (cls - FINE_CLASSES) / SUB_CLASSES, sub = (cls - FINE_CLASSES) % SUB_CLASSES + 1;
    size_t base = (size_t)FINE_MAX << group; /* the class lies in (base, 2 * base] */
    return base + base / SUB_CLASSES * sub;
}

/* The smallest class holding `need` bytes, or JS_ARENA_CLASSES when none does. */
static unsigned class_of(size_t need)
{
    if (need <= FINE_MAX) return (unsigned)((need + FINE_STEP - 1) / FINE_STEP) - 1;
    unsigned group = 0;
    while (group < 32 && ((size_t)FINE_MAX << (group + 1)) < need) group++;
    if (group == 32) return JS_ARENA_CLASSES;
    size_t base = (size_t)FINE_MAX << group, step = base / SUB_CLASSES;
    unsigned sub = (unsigned)((need - base + step - 1) / step); /* 1..SUB_CLASSES */
    return FINE_CLASSES + group * SUB_CLASSES + sub - 1;
}

static size_t first_block(void)
{
    return (sizeof(struct js_arena) + 63u) & ~(size_t)63u;
}

struct js_arena *js_arena_create(size_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    if (size > SIZE_MAX - (size_t)page) {
        errno = EINVAL;
        return NULL;
    }
    size = (size + (size_t)page - 1) & ~((size_t)page - 1);
    if (size < first_block()) size = (size_t)page;
    int fd = memfd_create("fnbox-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return NULL;
    if (ftruncate(fd, (off_t)size) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    struct js_arena *a = base; /* a fresh memfd reads as zeros: every free list is empty */
    a->size = size;
    a->top = a->high = first_block();
    a->memfd = fd;
    return a;
}

int js_arena_freeze(struct js_arena *a)
{
    if (a->frozen) return -EALREADY;
    int fd = a->memfd;
    size_t size = a->size;
    a->memfd = -1;
    a->frozen = 1; /* written while still shared: part of the snapshot */
    /* The holes the compile's garbage left are forgotten: an invocation then allocates from
     * the top, fresh pages side by side, instead of writing into (and so copying) pages of
     * the snapshot all over the arena. */
    memset(a->free_list, 0, sizeof a->free_list);
    /* the same pages, private: from now on writes go to copies, the memfd keeps the snapshot */
    if (mmap(a, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
        int err = errno;
        close(fd);
        return -err;
    }
    int rc = -EBUSY;
    for (int i = 0; i < SEAL_TRIES && rc == -EBUSY; i++) {
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
            rc = 0;
        else if ((rc = -errno) == -EBUSY)
            usleep(1000);
    }
    close(fd);
    return rc;
}

int js_arena_reset(struct js_arena *a)
{
    if (!a->frozen) return -EINVAL;
    /* the header is in the range: after this, a->high is the snapshot's again */
    size_t used = a->high;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    used = (used + (size_t)page - 1) & ~((size_t)page - 1);
    if (used > a->size) used = a->size;
    if (madvise(a, used, MADV_DONTNEED) != 0) return -errno;
    return 0;
}

void js_arena_destroy(struct js_arena *a)
{
    if (!a) return;
    int fd = a->memfd;
    munmap(a, a->size);
    if (fd >= 0) close(fd);
}

static struct block_header *header_of(void *ptr)
{
    return (struct block_header *)((unsigned char *)ptr - HDR);
}

static size_t offset_of(const struct js_arena *a, const void *p)
{
    return (size_t)((const unsigned char *)p - (const unsigned char *)a);
}

/* A block of class cls: from its free list, else from the top. NULL when the arena is full. */
static struct block_header *take_block(struct js_arena *a, unsigned cls)
{
    if (cls >= JS_ARENA_CLASSES) return NULL;
    void *p = a->free_list[cls];
    if (p) {
        memcpy(&a->free_list[cls], p, sizeof p); /* the next free block is stored in it */
        return p;
    }
    size_t bytes = class_bytes(cls);
    if (bytes > a->size - a->top) return NULL;
    struct block_header *h = (struct block_header *)((unsigned char *)a + a->top);
    a->top += bytes;
    if (a->top > a->high) a->high = a->top;
    return h;
}

static void give_back(struct js_arena *a, struct block_header *h)
{
    unsigned cls = h->cls;
    size_t bytes = class_bytes(cls);
    if (offset_of(a, h) + bytes == a->top) { /* the top block: the top comes down */
        a->top -= bytes;
        return;
    }
    void *next = a->free_list[cls];
    memcpy(h, &next, sizeof next); /* over the header: cls is read above */
    a->free_list[cls] = h;
}

void *js_arena_alloc(void *udata, size_t size)
{
    struct js_arena *a = udata;
    if (size == 0) return NULL; /* Duktape accepts NULL for a zero-size request */
    if (size > UINT32_MAX - CHARGE || !js_alloc_admit(&a->acct, size + CHARGE)) return NULL;
    unsigned cls = class_of(size + HDR);
    struct block_header *h = take_block(a, cls);
    if (!h) {
        a->acct.refused++; /* out of arena: reported as the memory limit, which it is */
        return NULL;
    }
    h->cls = cls;
    h->size = (uint32_t)size;
    js_alloc_account(&a->acct, size + CHARGE, 0);
    return (unsigned char *)h + HDR;
}

void js_arena_free(void *udata, void *ptr)
{
    struct js_arena *a = udata;
    if (!ptr) return;
    struct block_header *h = header_of(ptr);
    a->acct.used -= (size_t)h->size + CHARGE;
    give_back(a, h);
}

void *js_arena_realloc(void *udata, void *ptr, size_t size)
{
    struct js_arena *a = udata;
    if (!ptr) return js_arena_alloc(udata, size);
    if (size == 0) {
        js_arena_free(udata, ptr);
        return NULL;
    }
    struct block_header *h = header_of(ptr);
    size_t old = h->size;
    if (size > UINT32_MAX - CHARGE || (size > old && !js_alloc_admit(&a->acct, size - old)))
        return NULL;
    unsigned cls = class_of(size + HDR);
    int at_top = offset_of(a, h) + class_bytes(h->cls) == a->top;
    if (cls < JS_ARENA_CLASSES && at_top && class_bytes(cls) <= a->size - offset_of(a, h)) {
        /* the top block grows or shrinks where it is */
        a->top = offset_of(a, h) + class_bytes(cls);
        if (a->top > a->high) a->high = a->top;
        h->cls = cls;
    } else if (cls > h->cls) { /* a bigger block; only the growth was charged, as in js_alloc */
        struct block_header *moved = take_block(a, cls);
        if (!moved) {
            a->acct.refused++;
            return NULL;
        }
        moved->cls = cls;
        moved->size = (uint32_t)size;
        memcpy((unsigned char *)moved + HDR, ptr, old);
        give_back(a, h);
        js_alloc_account(&a->acct, size + CHARGE, old + CHARGE);
        return (unsigned char *)moved + HDR;
    }
    /* in place: the same block, or the top one resized */
    h->size = (uint32_t)size;
    js_alloc_account(&a->acct, size + CHARGE, old + CHARGE);
    return ptr;
}
