#include "runtime/js_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#define FINE_STEP 8u /* small blocks, up to FINE_MAX bytes, come in 8-byte classes */
#define FINE_MAX 1024u
#define LARGE_STEP 16u /* large blocks: any multiple of 16 bytes above FINE_MAX */
/* A free block in a bin: its header, two links, its length in its last 8 bytes. Pieces smaller
 * than a large block stay in the bins too, where any request that fits (small ones) can use
 * them: handing a small request a whole 1-2 KiB block made 40x the charge unusable. */
#define FREE_MIN 32u
#define FIT_TRIES 8 /* blocks of the first bin tried before the next bins (whose heads all fit) */
#define SEAL_TRIES 100 /* F_SEAL_WRITE may briefly see a page still referenced (EBUSY) */

/* tag: a small block's class, or a large block's length / LARGE_STEP with TAG_LARGE; and
 * TAG_PREV_FREE when the block just below is a free large block (whose last 8 bytes then hold
 * its length: that is how a freed block finds its lower neighbour to merge with). */
#define TAG_LARGE 0x80000000u
#define TAG_PREV_FREE 0x40000000u
#define TAG_VALUE 0x3FFFFFFFu

struct block_header {
    uint32_t tag;
    uint32_t size; /* what was asked for (at most UINT32_MAX - CHARGE); 0: free */
};
_Static_assert(sizeof(struct block_header) == HDR, "block header size");

/* A free large block: its header, the links of its bin, ..., its length in its last 8 bytes. */
struct free_large {
    struct block_header h;
    struct free_large *next, *prev;
};
_Static_assert(FINE_MAX / FINE_STEP <= JS_ARENA_SMALL_CLASSES, "small classes");

static size_t round_up(size_t n, size_t step)
{
    return (n + step - 1) / step * step;
}

static size_t small_bytes(unsigned cls)
{
    return (size_t)(cls + 1) * FINE_STEP;
}

static int is_large(const struct block_header *h)
{
    return (h->tag & TAG_LARGE) != 0;
}

static size_t block_len(const struct block_header *h)
{
    size_t v = h->tag & TAG_VALUE;
    return is_large(h) ? v * LARGE_STEP : small_bytes((unsigned)v);
}

/* Bins of free large blocks by the power of two of their length. */
static unsigned bin_of(size_t len)
{
    unsigned b = 0;
    while (b + 1 < JS_ARENA_LARGE_BINS && ((size_t)FREE_MIN << (b + 1)) <= len) b++;
    return b;
}

static size_t page_round(size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    return (n + (size_t)page - 1) & ~((size_t)page - 1);
}

static size_t first_block_offset(void)
{
    return (sizeof(struct js_arena) + 63u) & ~(size_t)63u;
}

struct js_arena *js_arena_create(size_t size)
{
    if (size > SIZE_MAX / 2) {
        errno = EINVAL;
        return NULL;
    }
    size = page_round(size);
    if (size / LARGE_STEP > TAG_VALUE) { /* a tag holds a free block's length / 16 */
        errno = EINVAL;
        return NULL;
    }
    if (size < first_block_offset()) size = page_round(first_block_offset());
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
    a->top = a->high = first_block_offset();
    a->memfd = fd;
    return a;
}

static void forget_free_large(struct js_arena *a);

int js_arena_freeze(struct js_arena *a)
{
    if (a->frozen) return -EALREADY;
    int fd = a->memfd;
    size_t size = a->size;
    a->memfd = -1;
    a->frozen = 1; /* written while still shared: part of the snapshot */
    /* The holes the compile's garbage left are forgotten (the free large ones marked in use):
     * an invocation then allocates from the top, fresh pages side by side, instead of writing
     * into (and so copying) pages of the snapshot all over the arena. */
    memset(a->free_list, 0, sizeof a->free_list);
    a->small_freed = 0;
    forget_free_large(a);
    size_t snap = page_round(a->high);
    if (snap > size) snap = size;
    /* The snapshot's pages, private: from now on writes go to copies, the memfd keeps the
     * snapshot. Above it, anonymous memory: a write there must not first fill a hole of the
     * memfd (a page the memfd would keep, shared and uncounted, long after the invocation),
     * and MADV_DONTNEED gives it back. The memfd is cut to the snapshot and sealed. */
    int err = 0;
    if (mmap(a, snap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED ||
        (snap < size &&
         mmap((unsigned char *)a + snap, size - snap, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) ||
        ftruncate(fd, (off_t)snap) != 0)
        err = errno;
    int rc = err ? -err : -EBUSY;
    for (int i = 0; i < SEAL_TRIES && rc == -EBUSY; i++) {
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
            rc = 0;
        else if ((rc = -errno) == -EBUSY)
            poll(NULL, 0, 1); /* not usleep: clock_nanosleep is outside the zygote's filter */
    }
    close(fd);
    return rc;
}

int js_arena_reset(struct js_arena *a)
{
    if (!a->frozen) return -EINVAL;
    /* the header is in the range: after this, a->high is the snapshot's again */
    size_t used = page_round(a->high);
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

static struct block_header *at(struct js_arena *a, size_t offset)
{
    return (struct block_header *)((unsigned char *)a + offset);
}

static struct block_header *after(struct block_header *h, size_t len)
{
    return (struct block_header *)((unsigned char *)h + len);
}

static void set_footer(struct block_header *h, size_t len)
{
    memcpy((unsigned char *)h + len - sizeof len, &len, sizeof len);
}

/* The free large block just below h (h's tag has TAG_PREV_FREE). */
static struct block_header *below(struct block_header *h, size_t *len)
{
    memcpy(len, (unsigned char *)h - sizeof *len, sizeof *len);
    return (struct block_header *)((unsigned char *)h - *len);
}

/* TAG_PREV_FREE on the block at h, unless h is the top (no block there). */
static void mark_prev_free(struct js_arena *a, struct block_header *h, int free_below)
{
    if (offset_of(a, h) == a->top) return;
    if (free_below) h->tag |= TAG_PREV_FREE;
    else h->tag &= ~TAG_PREV_FREE;
}

static void bin_insert(struct js_arena *a, struct block_header *h, size_t len)
{
    struct free_large *f = (struct free_large *)h;
    void **bin = &a->bins[bin_of(len)];
    f->prev = NULL;
    f->next = *bin;
    if (f->next) f->next->prev = f;
    *bin = f;
}

static void bin_remove(struct js_arena *a, struct block_header *h, size_t len)
{
    struct free_large *f = (struct free_large *)h;
    if (f->prev) f->prev->next = f->next;
    else a->bins[bin_of(len)] = f->next;
    if (f->next) f->next->prev = f->prev;
}

/* [h, h + len) becomes a free large block (its lower neighbour is not one: they would have
 * merged), in its bin, announced to the block above. */
static void make_free(struct js_arena *a, struct block_header *h, size_t len)
{
    h->tag = TAG_LARGE | (uint32_t)(len / LARGE_STEP);
    h->size = 0;
    set_footer(h, len);
    bin_insert(a, h, len);
    mark_prev_free(a, after(h, len), 1);
}

/* Frees the large block h (any length): merged with free neighbours, or given back to the top. */
static void free_large_block(struct js_arena *a, struct block_header *h)
{
    size_t len = block_len(h), n_len;
    if (h->tag & TAG_PREV_FREE) {
        struct block_header *p = below(h, &n_len);
        bin_remove(a, p, n_len);
        h = p;
        len += n_len;
    }
    struct block_header *n = after(h, len);
    if (offset_of(a, n) == a->top) { /* the top comes down (nothing free lies below h) */
        a->top = offset_of(a, h);
        return;
    }
    if (is_large(n) && n->size == 0) {
        n_len = block_len(n);
        bin_remove(a, n, n_len);
        len += n_len;
    }
    make_free(a, h, len);
}

/* Carves need bytes (a multiple of LARGE_STEP) from the free block h of length len, taken out of
 * its bin already: the rest, if it can make a block, stays free. */
static struct block_header *carve(struct js_arena *a, struct block_header *h, size_t len,
                                  size_t need)
{
    if (len - need >= FREE_MIN) {
        h->tag = TAG_LARGE | (uint32_t)(need / LARGE_STEP);
        make_free(a, after(h, need), len - need);
    } else {
        h->tag = TAG_LARGE | (uint32_t)(len / LARGE_STEP);
        mark_prev_free(a, after(h, len), 0);
    }
    h->size = 1; /* allocated; the caller sets the size */
    return h;
}

/* need bytes at the top; NULL when the arena is full. */
static struct block_header *from_top(struct js_arena *a, size_t need)
{
    if (need > a->size - a->top) return NULL;
    struct block_header *h = at(a, a->top); /* nothing free lies below the top */
    a->top += need;
    if (a->top > a->high) a->high = a->top;
    h->tag = 0;
    h->size = 1;
    return h;
}

/* A free block of at least need bytes, carved: a first fit among the first FIT_TRIES blocks of
 * need's bin (all of them when thorough), else the head of the next bin that has one (every
 * block there fits). A bin's list is never walked at length on the way to the top. */
static struct block_header *take_free(struct js_arena *a, size_t need, int thorough)
{
    unsigned b = bin_of(need), tries = 0;
    for (struct free_large *f = a->bins[b]; f; f = f->next) {
        size_t len = block_len(&f->h);
        if (len >= need) {
            bin_remove(a, &f->h, len);
            return carve(a, &f->h, len, need);
        }
        if (!thorough && ++tries == FIT_TRIES) break;
    }
    while (++b < JS_ARENA_LARGE_BINS) {
        struct free_large *f = a->bins[b];
        if (!f) continue;
        size_t len = block_len(&f->h);
        bin_remove(a, &f->h, len);
        return carve(a, &f->h, len, need);
    }
    return NULL;
}

static void consolidate(struct js_arena *a);

/* need bytes for a block, when the free blocks' quick fit and the top both failed: every free
 * block of need's bin, after merging the small free lists when enough has gone there since they
 * last were (each merge walks the arena: the bytes freed since pay for it). */
static struct block_header *last_resort(struct js_arena *a, size_t need, size_t top_need)
{
    struct block_header *h = take_free(a, need, 1);
    if (h) return h;
    if (a->small_freed < need || a->small_freed < a->size / 64) return NULL;
    consolidate(a);
    h = take_free(a, need, 1);
    return h ? h : from_top(a, top_need);
}

/* A large block of at least need bytes. */
static struct block_header *take_large(struct js_arena *a, size_t need)
{
    struct block_header *h = take_free(a, need, 0);
    if (h) return h;
    h = from_top(a, need);
    if (!h) h = last_resort(a, need, need);
    if (h && !is_large(h)) h->tag = TAG_LARGE | (uint32_t)(need / LARGE_STEP); /* from the top */
    return h;
}

/* A small block of class cls: its free list (the link after the header), else a piece of a
 * free large block, else the top. Small blocks placed at the top would sit between the large
 * blocks of a growing string or buffer and stop the memory below them from being reused (as
 * malloc does, small requests are served from free memory before the top grows). */
static struct block_header *take_small(struct js_arena *a, unsigned cls)
{
    struct block_header *h = a->free_list[cls];
    if (h) {
        memcpy(&a->free_list[cls], (unsigned char *)h + HDR, sizeof(void *));
        h->size = 1; /* the tag, and its TAG_PREV_FREE, stay as they are */
        a->small_freed -= a->small_freed < small_bytes(cls) ? a->small_freed : small_bytes(cls);
        return h;
    }
    size_t need = round_up(small_bytes(cls), LARGE_STEP); /* what is left stays a multiple */
    h = take_free(a, need, 0);
    if (!h) {
        h = from_top(a, small_bytes(cls));
        if (h) {
            h->tag = cls;
            return h;
        }
        h = last_resort(a, need, small_bytes(cls));
        if (!h) return NULL;
        if (!is_large(h)) { /* from the top */
            h->tag = cls;
            return h;
        }
    }
    /* a piece of a free block (at most need + 16 bytes): a small block unless it is 1040 */
    size_t len = block_len(h);
    if (len <= FINE_MAX) h->tag = (uint32_t)(len / FINE_STEP) - 1;
    return h;
}

static void free_small_block(struct js_arena *a, struct block_header *h)
{
    size_t len = block_len(h);
    if (offset_of(a, h) + len == a->top) { /* the top comes down, past a free block below */
        a->top = offset_of(a, h);
        if (h->tag & TAG_PREV_FREE) {
            size_t p_len;
            struct block_header *p = below(h, &p_len);
            bin_remove(a, p, p_len);
            a->top = offset_of(a, p);
        }
        return;
    }
    unsigned cls = h->tag & TAG_VALUE;
    h->size = 0;
    a->small_freed += len;
    memcpy((unsigned char *)h + HDR, &a->free_list[cls], sizeof(void *));
    a->free_list[cls] = h;
}

/* The block for size bytes: 0 when size cannot be served at all. */
static size_t need_of(size_t size)
{
    size_t need = size + HDR;
    return need <= FINE_MAX ? round_up(need, FINE_STEP) : round_up(need, LARGE_STEP);
}

static struct block_header *take(struct js_arena *a, size_t need)
{
    return need <= FINE_MAX ? take_small(a, (unsigned)(need / FINE_STEP) - 1) : take_large(a, need);
}

static void give_back(struct js_arena *a, struct block_header *h)
{
    if (is_large(h)) free_large_block(a, h);
    else free_small_block(a, h);
}

void *js_arena_alloc(void *udata, size_t size)
{
    struct js_arena *a = udata;
    if (size == 0) return NULL; /* Duktape accepts NULL for a zero-size request */
    if (size > UINT32_MAX - CHARGE || !js_alloc_admit(&a->acct, size + CHARGE)) return NULL;
    struct block_header *h = take(a, need_of(size));
    if (!h) {
        a->acct.refused++; /* out of arena: reported as the memory limit, which it is */
        return NULL;
    }
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

/* Resizes the large block h in place to need bytes (a multiple of LARGE_STEP): shrinking gives
 * the tail back; growing takes the top or a free block above. 1 when done. */
static int resize_large(struct js_arena *a, struct block_header *h, size_t need)
{
    size_t len = block_len(h);
    struct block_header *n = after(h, len);
    int at_top = offset_of(a, n) == a->top;
    uint32_t keep = h->tag & TAG_PREV_FREE;
    if (need == len) return 1;
    if (need < len) {
        if (len - need < FREE_MIN && !at_top) return 1; /* too little to give back */
        h->tag = TAG_LARGE | keep | (uint32_t)(need / LARGE_STEP);
        struct block_header *tail = after(h, need);
        tail->tag = TAG_LARGE | (uint32_t)((len - need) / LARGE_STEP);
        tail->size = 1;
        free_large_block(a, tail);
        return 1;
    }
    if (at_top) {
        if (need - len > a->size - a->top) return 0;
        a->top += need - len;
        if (a->top > a->high) a->high = a->top;
        h->tag = TAG_LARGE | keep | (uint32_t)(need / LARGE_STEP);
        return 1;
    }
    if (!is_large(n) || n->size != 0 || len + block_len(n) < need) return 0;
    size_t n_len = block_len(n);
    bin_remove(a, n, n_len);
    /* h and the free block above are one free stretch now: carve h's new length from it */
    size_t total = len + n_len;
    carve(a, h, total, need);
    h->tag |= keep;
    return 1;
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
    size_t need = need_of(size), len = block_len(h);
    int in_place;
    if (is_large(h) && need > FINE_MAX) in_place = resize_large(a, h, need);
    else if (need <= len) in_place = len < 2 * need || len - need < FREE_MIN; /* else: moved */
    else in_place = 0; /* a small block never grows where it is */
    if (!in_place) { /* another block; only the growth was charged, as in js_alloc */
        struct block_header *moved = take(a, need);
        if (moved) {
            memcpy((unsigned char *)moved + HDR, ptr, old < size ? old : size);
            give_back(a, h);
            h = moved;
        } else if (need > len) {
            a->acct.refused++;
            return NULL;
        } /* else a shrink that found no other block: it stays where it is */
    }
    h->size = (uint32_t)size;
    js_alloc_account(&a->acct, size + CHARGE, old + CHARGE);
    return (unsigned char *)h + HDR;
}

static void push_small(struct js_arena *a, struct block_header *h, size_t len)
{
    unsigned cls = (unsigned)(len / FINE_STEP) - 1;
    h->tag = cls; /* the block below is not a free large one */
    h->size = 0;
    memcpy((unsigned char *)h + HDR, &a->free_list[cls], sizeof(void *));
    a->free_list[cls] = h;
}

/* The run [h, h + len) of free blocks (its neighbours in use) as free blocks again: one free
 * large block (after a 24-byte small one when len is an odd multiple of 8), or small ones. */
static void place_run(struct js_arena *a, struct block_header *h, size_t len)
{
    if (len % LARGE_STEP && len >= 24 + FREE_MIN) {
        push_small(a, h, 24);
        h = after(h, 24);
        len -= 24;
    }
    if (len % LARGE_STEP == 0 && len >= FREE_MIN) {
        make_free(a, h, len); /* the block above learns it */
        return;
    }
    while (len > 0) { /* 16, 24 or 40 bytes */
        size_t piece = len > FINE_MAX ? FINE_MAX : len;
        push_small(a, h, piece);
        h = after(h, piece);
        len -= piece;
    }
    mark_prev_free(a, h, 0);
}

/* Every run of neighbouring free blocks, small ones of the free lists included, merged into one
 * (malloc_consolidate): the small free lists otherwise keep memory for their class only. Walks
 * every block; only when an allocation found nothing (last_resort). */
static void consolidate(struct js_arena *a)
{
    memset(a->free_list, 0, sizeof a->free_list);
    memset(a->bins, 0, sizeof a->bins);
    a->small_freed = 0;
    size_t off = first_block_offset(), run = 0, run_len = 0;
    while (off < a->top) {
        struct block_header *h = at(a, off);
        size_t len = block_len(h);
        if (h->size == 0) { /* free, small or large (small ones forgotten at freeze too) */
            if (!run_len) run = off;
            run_len += len;
        } else if (run_len) {
            place_run(a, at(a, run), run_len);
            run_len = 0;
        }
        off += len;
    }
    if (run_len) a->top = run; /* free up to the top: the top comes down */
}

static void forget_free_large(struct js_arena *a)
{
    for (unsigned b = 0; b < JS_ARENA_LARGE_BINS; b++) {
        for (struct free_large *f = a->bins[b], *next; f; f = next) {
            next = f->next;
            f->h.size = 1; /* in use, by nobody */
            mark_prev_free(a, after(&f->h, block_len(&f->h)), 0);
        }
        a->bins[b] = NULL;
    }
}

int js_arena_check(struct js_arena *a)
{
    size_t off = first_block_offset(), free_large = 0, binned = 0;
    int prev_free_large = 0;
    while (off < a->top) {
        struct block_header *h = at(a, off);
        size_t len = block_len(h);
        if (len < 2 * HDR || len > a->top - off) return -1;
        if (!!(h->tag & TAG_PREV_FREE) != prev_free_large) return -2;
        int free_l = is_large(h) && h->size == 0;
        if (free_l) {
            size_t foot;
            memcpy(&foot, (unsigned char *)h + len - sizeof foot, sizeof foot);
            if (prev_free_large || foot != len || len < FREE_MIN) return -3;
            free_large++;
        }
        prev_free_large = free_l;
        off += len;
    }
    if (off != a->top || prev_free_large) return -4; /* a free block below the top */
    for (unsigned b = 0; b < JS_ARENA_LARGE_BINS; b++)
        for (struct free_large *f = a->bins[b]; f; f = f->next) {
            if (!is_large(&f->h) || f->h.size != 0 || bin_of(block_len(&f->h)) != b) return -5;
            if (++binned > free_large) return -6;
        }
    return binned == free_large ? 0 : -7;
}
