/* The snapshot arena: its allocator, and a Duktape heap built in it, frozen after a compile,
 * run, and reset — the heap must come back exactly as frozen, whatever the run did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/js_arena.h"
#include "runtime/js_heap.h"
#include "runtime/js_random.h"

#define ARENA_BYTES (64u << 20)

static void allocator_accounts_like_js_alloc(void **state)
{
    (void)state;
    struct js_arena *a = js_arena_create(ARENA_BYTES);
    assert_non_null(a);
    assert_int_equal(a->acct.used, 0);
    void *p = js_arena_alloc(a, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    assert_int_equal(a->acct.used, 116); /* size plus 16 bytes, as js_alloc charges */
    memset(p, 0xAB, 100);
    p = js_arena_realloc(a, p, 5000);
    assert_non_null(p);
    assert_int_equal(((unsigned char *)p)[99], 0xAB);
    assert_int_equal(a->acct.used, 5016);
    js_arena_free(a, p);
    assert_int_equal(a->acct.used, 0);
    assert_null(js_arena_alloc(a, 0));
    js_arena_destroy(a);
}

static void allocator_reuses_and_caps(void **state)
{
    (void)state;
    struct js_arena *a = js_arena_create(ARENA_BYTES);
    assert_non_null(a);
    void *x = js_arena_alloc(a, 40), *y = js_arena_alloc(a, 40);
    assert_non_null(x);
    assert_non_null(y);
    js_arena_free(a, x);
    assert_ptr_equal(js_arena_alloc(a, 33), x); /* same class: the freed block comes back */
    /* the cap refuses, and counts the refusal */
    a->acct.cap = a->acct.used + 1000;
    assert_null(js_arena_alloc(a, 2000));
    assert_int_equal(a->acct.refused, 1);
    assert_non_null(js_arena_alloc(a, 500));
    /* more than the arena holds is refused even without a cap */
    a->acct.cap = 0;
    assert_null(js_arena_alloc(a, ARENA_BYTES));
    assert_int_equal(a->acct.refused, 2);
    /* a growing large block at the top stays where it is */
    unsigned char *g = js_arena_alloc(a, 2048);
    for (size_t n = 4096; n <= (8u << 20); n *= 2) {
        unsigned char *again = js_arena_realloc(a, g, n);
        assert_ptr_equal(again, g);
    }
    assert_int_equal(js_arena_check(a), 0);
    js_arena_destroy(a);
}

/* Blocks round up by at most 7 bytes up to 1 KiB and 15 above: the distance between two
 * blocks carved from the top is the first one's length. (Power-of-two classes made a heap of
 * small arrays take twice the memory, and Duktape's collector 2-3x slower.) */
static void classes_are_tight(void **state)
{
    (void)state;
    struct js_arena *a = js_arena_create(ARENA_BYTES);
    assert_non_null(a);
    for (size_t n = 1; n < (3u << 20); n += n < 4096 ? 1 : n / 7) {
        unsigned char *p = js_arena_alloc(a, n), *q = js_arena_alloc(a, 1);
        assert_non_null(p);
        assert_non_null(q);
        size_t block = (size_t)(q - p), need = n + 8;
        assert_true(block >= need);
        if (need <= 1024) assert_true(block - need < 8);
        else assert_true(block - need < 16);
        assert_int_equal(block % 8, 0);
        js_arena_free(a, q);
        js_arena_free(a, p); /* both from the top: the top comes back down */
        assert_int_equal(a->acct.used, 0);
    }
    js_arena_destroy(a);
}

/* What a string grown a piece at a time does: each longer copy allocated, the shorter one freed.
 * Freed blocks merge and are reused, so the arena holds about the live data, not the sum of
 * every size ever asked for (which made such a loop fail with memory_limit). */
static void growing_blocks_reuse_freed_memory(void **state)
{
    (void)state;
    struct js_arena *a = js_arena_create(ARENA_BYTES);
    assert_non_null(a);
    unsigned char *s = NULL, *pin = NULL;
    size_t n = 0, peak_top = 0;
    for (int i = 0; i < 3000; i++) {
        unsigned char *longer = js_arena_alloc(a, n + 1024);
        assert_non_null(longer);
        if (s) memcpy(longer, s, n);
        memset(longer + n, i & 0xFF, 1024);
        js_arena_free(a, s);
        s = longer;
        n += 1024;
        if (i % 7 == 0) { /* small blocks pinned in between, as objects would be */
            pin = js_arena_alloc(a, 24);
            assert_non_null(pin);
        }
        if (a->top > peak_top) peak_top = a->top;
    }
    for (size_t k = 0; k < n; k++) assert_int_equal(s[k], (k / 1024) & 0xFF);
    assert_true(peak_top < 4 * n); /* the sum of all sizes would be ~1500 n */
    assert_int_equal(js_arena_check(a), 0);
    js_arena_destroy(a);
}

/* Random allocations, reallocations and frees of every size: contents kept, accounting exact,
 * the cap never passed, the block structure consistent throughout. */
static void random_operations_keep_the_arena_consistent(void **state)
{
    (void)state;
    enum { SLOTS = 800, OPS = 120000 };
    static struct {
        unsigned char *p;
        size_t n;
        unsigned char fill;
    } b[SLOTS];
    memset(b, 0, sizeof b);
    struct js_arena *a = js_arena_create(ARENA_BYTES);
    assert_non_null(a);
    a->acct.cap = 24u << 20;
    uint64_t x = 88172645463325252ull; /* xorshift: the same sequence every run */
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    for (int op = 0; op < OPS; op++) {
        size_t i = RND() % SLOTS, r = RND() % 100;
        size_t n = r < 60 ? 1 + RND() % 200 : r < 90 ? 1 + RND() % 5000 : r < 99 ? 1 + RND() % 100000 : 1 + RND() % 2000000;
        if (b[i].p)
            for (size_t k = 0; k < b[i].n; k += 97) assert_int_equal(b[i].p[k], b[i].fill);
        switch (RND() % 3) {
        case 0:
            if (b[i].p) break;
            b[i].p = js_arena_alloc(a, n);
            if (b[i].p) b[i].n = n;
            break;
        case 1:
            js_arena_free(a, b[i].p);
            b[i].p = NULL;
            continue;
        default: {
            if (!b[i].p) break;
            unsigned char *q = js_arena_realloc(a, b[i].p, n);
            if (!q) continue; /* refused: the old block stands */
            size_t kept = n < b[i].n ? n : b[i].n;
            for (size_t k = 0; k < kept; k += 97) assert_int_equal(q[k], b[i].fill);
            b[i].p = q;
            b[i].n = n;
        }
        }
        if (b[i].p) {
            b[i].fill = (unsigned char)RND();
            memset(b[i].p, b[i].fill, b[i].n);
        }
        if (op % 997 == 0) {
            size_t sum = 0;
            for (size_t k = 0; k < SLOTS; k++) sum += b[k].p ? b[k].n + 16 : 0;
            assert_int_equal(sum, a->acct.used);
            assert_true(sum <= a->acct.cap);
            assert_int_equal(js_arena_check(a), 0);
        }
    }
#undef RND
    for (size_t k = 0; k < SLOTS; k++) js_arena_free(a, b[k].p);
    assert_int_equal(a->acct.used, 0);
    assert_int_equal(js_arena_check(a), 0);
    js_arena_destroy(a);
}

/* An arena as a function zygote makes it for memory_mb 16: 3 x the cap + 64 MiB. */
static struct js_arena *capped_arena(size_t cap)
{
    struct js_arena *a = js_arena_create(3 * cap + (64u << 20));
    assert_non_null(a);
    a->acct.cap = cap;
    return a;
}

/* Objects of one size filling the cap, all dropped (in a collector's random order), then
 * objects of the next size: the small free lists are merged when nothing else is left, so a
 * large allocation still fits after every round (without, the arena filled at used = 0). */
static void dropped_small_objects_serve_other_sizes(void **state)
{
    (void)state;
    enum { CAP = 16u << 20 };
    struct js_arena *a = capped_arena(CAP);
    static void *p[(CAP / 24) + 16]; /* each charged its size + 16: 24 at least */
    uint64_t x = 12345;
    for (int round = 0; round < 12; round++) {
        size_t size = 8 + 8 * (size_t)round, n = 0;
        while ((p[n] = js_arena_alloc(a, size))) n++;
        assert_true(a->acct.used + size + 16 > a->acct.cap); /* stopped by the cap, not the arena */
        for (size_t i = n; i > 1; i--) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t j = x % i;
            void *t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
        for (size_t i = 0; i < n; i++) js_arena_free(a, p[i]);
        assert_int_equal(a->acct.used, 0);
        void *big = js_arena_alloc(a, 1u << 20);
        assert_non_null(big);
        js_arena_free(a, big);
        assert_int_equal(js_arena_check(a), 0);
    }
    js_arena_destroy(a);
}

/* A small request takes a piece of a free 1 KiB hole, not all of it: rounds of 1 KiB strings
 * pinned between small objects, the strings dropped and small objects made in their place, do
 * not fill the arena far below the cap. */
static void small_requests_take_pieces_of_free_blocks(void **state)
{
    (void)state;
    enum { CAP = 16u << 20 };
    struct js_arena *a = capped_arena(CAP);
    void *hole = js_arena_alloc(a, 1032), *pin = js_arena_alloc(a, 8);
    js_arena_free(a, hole);
    unsigned char *s1 = js_arena_alloc(a, 8), *s2 = js_arena_alloc(a, 8);
    assert_ptr_equal(s2, s1 + 16); /* both from the hole */
    assert_true((void *)s2 < pin);
    js_arena_free(a, s2);
    js_arena_free(a, s1);
    js_arena_free(a, pin);
    static void *big[CAP / 1000];
    for (int round = 0; round < 20; round++) {
        size_t n = 0;
        for (;;) {
            void *b = js_arena_alloc(a, 1032);
            if (!b) break;
            if (!js_arena_alloc(a, 8)) {
                js_arena_free(a, b);
                break;
            }
            big[n++] = b;
        }
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) js_arena_free(a, big[i]);
        for (size_t i = 0; i < n; i++) js_arena_alloc(a, 8);
    }
    /* what remains allocated is what was asked for, and a 1 MiB request is refused only by
     * the cap: the arena itself is not full */
    size_t used = a->acct.used;
    void *m = js_arena_alloc(a, 1u << 20);
    if (!m) assert_true(used + (1u << 20) + 16 > CAP);
    assert_true(a->top < a->size);
    assert_int_equal(js_arena_check(a), 0);
    js_arena_destroy(a);
}

/* A large block cut down to a small size moves to a block of that size (TextEncoder.encode cuts
 * its 3 x len buffer to len): 8 MiB blocks cut to 1000 bytes do not fill the arena. */
static void shrinking_gives_memory_back(void **state)
{
    (void)state;
    enum { CAP = 16u << 20 };
    struct js_arena *a = capped_arena(CAP);
    int n = 0;
    for (; n < 1000; n++) {
        void *p = js_arena_alloc(a, 8u << 20);
        if (!p) break;
        assert_non_null(js_arena_realloc(a, p, 1000));
    }
    /* stopped by the cap (1016 charged per block), not after a dozen 8 MiB blocks */
    assert_true(n == 1000 || a->acct.used + (8u << 20) + 16 > CAP);
    assert_true(n > 100);
    assert_int_equal(js_arena_check(a), 0);
    js_arena_destroy(a);
}

/* Runs main() of the compiled program on top of the stack (consuming it); the result's
 * String() in out. 0, or non-zero when it threw. */
static int run_main(struct js_heap *h, char *out, size_t outlen)
{
    duk_context *ctx = h->ctx;
    int rc = duk_pcall(ctx, 0);
    if (rc == 0) {
        duk_pop(ctx);
        rc = duk_peval_string(ctx, "JSON.stringify(main())");
    }
    snprintf(out, outlen, "%s", duk_safe_to_string(ctx, -1));
    duk_pop(ctx);
    return rc;
}

static const char program[] =
    "var counter = 0;\n"
    "function main() {\n"
    "  counter++;\n"
    "  var g = (function () { return this; })();\n"
    "  g.leaked = (g.leaked || 0) + 1;\n"
    "  Object.prototype.mark = (Object.prototype.mark || 0) + 1;\n"
    "  var junk = []; for (var i = 0; i < 20000; i++) junk.push({i: i, s: 'x' + i});\n"
    "  return [counter, g.leaked, ({}).mark, junk.length, Math.random()];\n"
    "}\n";

static struct js_heap *frozen_heap(struct js_arena **arena_out)
{
    struct js_arena *a = js_arena_create(ARENA_BYTES);
    assert_non_null(a);
    static struct js_heap h;
    assert_int_equal(js_heap_create_in_arena(&h, a), 0);
    assert_int_equal(js_heap_compile(&h, program, strlen(program)), 0);
    duk_gc(h.ctx, 0);
    a->acct.cap = a->acct.used + (16u << 20);
    h.precompiled = 1;
    assert_int_equal(js_arena_freeze(a), 0);
    assert_int_equal(js_arena_check(a), 0);
    *arena_out = a;
    return &h;
}

static void reset_gives_back_the_frozen_heap(void **state)
{
    (void)state;
    struct js_arena *a;
    struct js_heap *h = frozen_heap(&a);
    size_t used0 = a->acct.used, high0 = a->high;
    char out[256];
    double seen[5];
    for (int i = 0; i < 5; i++) {
        uint64_t seed[4] = {(uint64_t)i + 1, (uint64_t)i + 11, 3, 4}; /* as a worker reseeds */
        js_random_seed_with(seed);
        assert_int_equal(run_main(h, out, sizeof out), 0);
        /* counter, leaked, mark and the garbage: exactly as in a fresh heap, every time */
        assert_memory_equal(out, "[1,1,1,20000,", 13);
        seen[i] = strtod(out + 13, NULL);
        assert_true(a->acct.used > used0);
        assert_int_equal(js_arena_check(a), 0);
        assert_int_equal(js_heap_reset(h), 0);
        assert_int_equal(js_arena_check(a), 0);
        assert_int_equal(a->acct.used, used0);
        assert_int_equal(a->high, high0);
    }
    for (int i = 1; i < 5; i++) assert_true(seen[i] != seen[0]); /* reseeded, not replayed */
    js_random_forget();
    js_arena_destroy(a);
}

static void reset_after_memory_limit(void **state)
{
    (void)state;
    struct js_arena *a;
    struct js_heap *h = frozen_heap(&a);
    duk_context *ctx = h->ctx;
    duk_pop(ctx); /* the program: this run only allocates */
    int rc = duk_peval_string(ctx, "var s = 'x'; while (true) s = s + s; 1");
    assert_int_not_equal(rc, 0);
    assert_true(a->acct.refused > 0);
    duk_pop(ctx);
    assert_int_equal(js_heap_reset(h), 0);
    assert_int_equal(a->acct.refused, 0);
    char out[256];
    uint64_t seed[4] = {9, 9, 9, 9};
    js_random_seed_with(seed);
    assert_int_equal(run_main(h, out, sizeof out), 0);
    assert_memory_equal(out, "[1,1,1,20000,", 13);
    js_random_forget();
    js_arena_destroy(a);
}

static void frozen_arena_is_a_private_mapping(void **state)
{
    (void)state;
    struct js_arena *a;
    frozen_heap(&a);
    assert_int_equal(a->memfd, -1);
    assert_int_equal(js_arena_freeze(a), -EALREADY);
    /* the mapping is private now: writes stay in this process, the memfd keeps the snapshot */
    FILE *maps = fopen("/proc/self/maps", "re");
    assert_non_null(maps);
    char line[512];
    int found = 0, above = 0;
    unsigned long lo, hi, snap_end = 0;
    char perms[8];
    while (fgets(line, sizeof line, maps)) {
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        if (lo == (unsigned long)a) {
            found = 1;
            assert_string_equal(perms, "rw-p");
            assert_non_null(strstr(line, "fnbox-snapshot"));
            snap_end = hi; /* the memfd holds the snapshot, no more */
            assert_true(hi - lo >= a->high && hi - lo < a->high + 4096);
        } else if (snap_end && lo == snap_end) {
            /* above the snapshot: anonymous memory, not holes of the memfd that a write would
             * fill for good */
            above = 1;
            assert_string_equal(perms, "rw-p");
            assert_null(strstr(line, "fnbox-snapshot"));
            assert_int_equal(hi, (unsigned long)a + a->size);
        }
    }
    fclose(maps);
    assert_true(found);
    assert_true(above);
    /* a page written above the snapshot reads as zeros after a reset */
    unsigned char *fresh = (unsigned char *)a + snap_end - (unsigned long)a + 8192;
    size_t high0 = a->high;
    a->high = (size_t)(fresh - (unsigned char *)a) + 1; /* as an invocation's allocations would */
    memset(fresh, 0x5A, 1);
    assert_int_equal(js_heap_reset(&(struct js_heap){.arena = a}), 0);
    assert_int_equal(fresh[0], 0);
    assert_int_equal(a->high, high0);
    size_t before = a->top;
    a->top += 4096; /* as an invocation would */
    assert_int_equal(js_heap_reset(&(struct js_heap){.arena = a}), 0);
    assert_int_equal(a->top, before);
    js_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocator_accounts_like_js_alloc),
        cmocka_unit_test(allocator_reuses_and_caps),
        cmocka_unit_test(classes_are_tight),
        cmocka_unit_test(growing_blocks_reuse_freed_memory),
        cmocka_unit_test(random_operations_keep_the_arena_consistent),
        cmocka_unit_test(dropped_small_objects_serve_other_sizes),
        cmocka_unit_test(small_requests_take_pieces_of_free_blocks),
        cmocka_unit_test(shrinking_gives_memory_back),
        cmocka_unit_test(reset_gives_back_the_frozen_heap),
        cmocka_unit_test(reset_after_memory_limit),
        cmocka_unit_test(frozen_arena_is_a_private_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
