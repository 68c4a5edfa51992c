#include "attestation/keccak.h"

#include <string.h>

#include <openssl/crypto.h>

#define RATE 136 /* bytes: 1600 bits of state minus a capacity of 2 × 256 */

static const uint64_t round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

static uint64_t rotl(uint64_t v, unsigned n)
{
    n &= 63;
    return n ? (v << n) | (v >> (64 - n)) : v;
}

/* Keccak-f[1600] on lanes a[x + 5y]. */
static void permute(uint64_t a[25])
{
    for (int round = 0; round < 24; round++) {
        /* theta: each lane gets the parity of two neighbouring columns */
        uint64_t c[5], d;
        for (int x = 0; x < 5; x++) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        for (int x = 0; x < 5; x++) {
            d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
            for (int y = 0; y < 25; y += 5) a[y + x] ^= d;
        }
        /* rho and pi together: walk the 24 lanes other than (0,0) along pi's cycle,
         * rotating lane t of the walk by (t+1)(t+2)/2 */
        int x = 1, y = 0;
        uint64_t cur = a[1];
        for (unsigned t = 0; t < 24; t++) {
            int nx = y, ny = (2 * x + 3 * y) % 5;
            x = nx;
            y = ny;
            uint64_t next = a[x + 5 * y];
            a[x + 5 * y] = rotl(cur, (t + 1) * (t + 2) / 2);
            cur = next;
        }
        /* chi: the only non-linear step, row by row */
        for (int row = 0; row < 25; row += 5) {
            uint64_t r[5];
            memcpy(r, a + row, sizeof r);
            for (int i = 0; i < 5; i++) a[row + i] = r[i] ^ (~r[(i + 1) % 5] & r[(i + 2) % 5]);
        }
        /* iota */
        a[0] ^= round_constants[round];
    }
}

/* XORs one byte into the state at byte offset i (lanes are little-endian). */
static void xor_byte(uint64_t a[25], size_t i, uint8_t b)
{
    a[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

static void sponge(const uint8_t *in, size_t len, uint8_t pad, uint8_t out[KECCAK256_LEN])
{
    uint64_t a[25] = {0};
    while (len >= RATE) {
        for (size_t i = 0; i < RATE; i++) xor_byte(a, i, in[i]);
        permute(a);
        in += RATE;
        len -= RATE;
    }
    for (size_t i = 0; i < len; i++) xor_byte(a, i, in[i]);
    xor_byte(a, len, pad);      /* the domain/padding bits after the message ... */
    xor_byte(a, RATE - 1, 0x80); /* ... and the final 1 bit of pad10*1 */
    permute(a);
    for (size_t i = 0; i < KECCAK256_LEN; i++) out[i] = (uint8_t)(a[i / 8] >> (8 * (i % 8)));
    OPENSSL_cleanse(a, sizeof a); /* the state may hold what was hashed */
}

void keccak256(const void *in, size_t len, uint8_t out[KECCAK256_LEN])
{
    sponge(in, len, 0x01, out);
}

void keccak_sha3_256(const void *in, size_t len, uint8_t out[KECCAK256_LEN])
{
    sponge(in, len, 0x06, out);
}
