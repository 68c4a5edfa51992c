/* Math.random for Duktape (wired in by duk_overrides.h): xoshiro256** seeded per process.
 * js_random_seed must be called in every worker after fork, before user code runs;
 * until then it returns 0 every time, so a missed reseed is visible rather than silently
 * shared (not NaN: Duktape's sort() draws pivots from it). */
#ifndef FNBOX_JS_RANDOM_H
#define FNBOX_JS_RANDOM_H

#include <stdint.h>

/* Seeds from getrandom(2). Returns 0 or -errno. */
int js_random_seed(void);
/* For tests: seed with fixed words. */
void js_random_seed_with(const uint64_t s[4]);
void js_random_forget(void);

#endif
