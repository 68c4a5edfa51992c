/* The pristine heap: globals allowlist, Function unreachable, capped allocator, Math.random
 * seeding. Runs JS through the C API on a heap built exactly as the zygote builds it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/js_heap.h"
#include "runtime/js_random.h"

static int setup(void **state)
{
    struct js_heap *h = calloc(1, sizeof *h);
    if (!h || js_heap_create(h)) return -1;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct js_heap *h = *state;
    js_heap_destroy(h);
    free(h);
    js_random_forget();
    return 0;
}

/* Evaluates src; returns its String() value (static buffer). */
static const char *eval(struct js_heap *h, const char *src)
{
    static char out[512];
    duk_context *ctx = h->ctx;
    if (duk_peval_string(ctx, src) != 0) snprintf(out, sizeof out, "THROW %s", duk_safe_to_string(ctx, -1));
    else snprintf(out, sizeof out, "%s", duk_safe_to_string(ctx, -1));
    duk_pop(ctx);
    return out;
}

static void unsafe_globals_are_gone(void **state)
{
    struct js_heap *h = *state;
    const char *gone[] = {"eval", "Function", "Duktape", "CBOR", "performance", "require", "print"};
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
        char src[64];
        snprintf(src, sizeof src, "typeof %s", gone[i]);
        assert_string_equal(eval(h, src), "undefined");
    }
    assert_string_equal(eval(h, "typeof JSON.parse + typeof Math.max + typeof console.log"),
                        "functionfunctionfunction");
}

static void function_constructor_unreachable(void **state)
{
    struct js_heap *h = *state;
    assert_string_equal(eval(h, "(function(){}).constructor === Object"), "true");
    assert_string_equal(eval(h, "Object.getPrototypeOf(function(){}).constructor === Object"), "true");
    assert_string_equal(eval(h, "console.log.constructor === Object"), "true");
    assert_string_equal(eval(h, "(function(){}).bind(null).constructor === Object"), "true");
    const char *r = eval(h, "(function(){}).constructor('return 1')()");
    assert_true(strncmp(r, "THROW", 5) == 0);
}

static void allocator_cap_is_catchable(void **state)
{
    struct js_heap *h = *state;
    h->alloc.cap = h->alloc.used + (4u << 20);
    const char *r = eval(h, "var caught = 'no';"
                            "try { var a = []; for (;;) a.push(new Array(1000).join('x') + a.length); }"
                            "catch (e) { caught = e.message; } a = null; caught");
    assert_string_equal(r, "alloc failed");
    assert_true(h->alloc.refused > 0);
    assert_true(h->alloc.used <= h->alloc.cap);
    /* the heap is still usable after the failure */
    assert_string_equal(eval(h, "[1,2,3].map(function(x){return x*2}).join(',')"), "2,4,6");
}

static void random_needs_seed_and_differs(void **state)
{
    struct js_heap *h = *state;
    js_random_forget();
    assert_string_equal(eval(h, "String(Math.random()) + String(Math.random())"), "00");
    uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    char first[64], again[64];
    js_random_seed_with(a);
    snprintf(first, sizeof first, "%s", eval(h, "String(Math.random())"));
    js_random_seed_with(a);
    snprintf(again, sizeof again, "%s", eval(h, "String(Math.random())"));
    assert_string_equal(first, again); /* same seed, same value: the seed is what is used */
    js_random_seed_with(b);
    assert_string_not_equal(first, eval(h, "String(Math.random())"));
    assert_int_equal(js_random_seed(), 0);
    double v = atof(eval(h, "String(Math.random())"));
    assert_true(v >= 0 && v < 1);
}

static int lines;
static void sink(void *arg, const char *line, size_t len)
{
    (void)len;
    lines++;
    strncpy(arg, line, 127);
}

static void console_formats_arguments(void **state)
{
    struct js_heap *h = *state;
    char got[128] = "";
    js_heap_set_log_sink(sink, got);
    eval(h, "console.log('a', 1, {b: [2]}, null, undefined)");
    assert_int_equal(lines, 1);
    assert_string_equal(got, "a 1 {\"b\":[2]} null undefined");
    eval(h, "var o = {}; o.self = o; console.warn(o)"); /* a cycle must not throw */
    assert_int_equal(lines, 2);
    js_heap_set_log_sink(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unsafe_globals_are_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(function_constructor_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(allocator_cap_is_catchable, setup, teardown),
        cmocka_unit_test_setup_teardown(random_needs_seed_and_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(console_formats_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
