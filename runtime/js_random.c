#include "runtime/js_random.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

static uint64_t state[4];
static int seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(void)
{
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

int js_random_seed(void)
{
    uint64_t s[4];
    size_t got = 0;
    while (got < sizeof s) {
        ssize_t r = getrandom((unsigned char *)s + got, sizeof s - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        got += (size_t)r;
    }
    js_random_seed_with(s);
    OPENSSL_cleanse(s, sizeof s);
    return 0;
}

void js_random_seed_with(const uint64_t s[4])
{
    memcpy(state, s, sizeof state);
    if (!(state[0] | state[1] | state[2] | state[3])) state[0] = 1; /* all-zero is a fixed point */
    seeded = 1;
}

void js_random_forget(void)
{
    OPENSSL_cleanse(state, sizeof state);
    seeded = 0;
}

double fnbox_js_random_double(void *udata);
double fnbox_js_random_double(void *udata)
{
    (void)udata;
    if (!seeded) return 0.0; /* never in a worker; visible (always 0), and safe for sort() */
    return (double)(next() >> 11) * 0x1.0p-53; /* 53 random bits in [0, 1) */
}
