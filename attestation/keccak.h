/* Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not FIPS 202 SHA3-256's
 * 0x06): an Ethereum address is the last 20 bytes of Keccak-256 of the uncompressed public
 * point without its 0x04 prefix. OpenSSL 3.0's default provider offers SHA3-256 but no
 * KECCAK-256 (`openssl list -digest-algorithms`), so the permutation is here, small and
 * pure (no I/O, no allocation).
 *
 * keccak_sha3_256 runs the same sponge with the FIPS 202 padding: the unit tests compare it
 * with OpenSSL's SHA3-256 over many lengths, which checks the permutation, the absorbing and
 * the squeezing against an independent implementation; the two functions differ only in the
 * padding byte, which the Keccak-256 known answers check. */
#ifndef FNBOX_KECCAK_H
#define FNBOX_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define KECCAK256_LEN 32

/* Keccak-256 of len bytes at in (in may be NULL when len is 0). */
void keccak256(const void *in, size_t len, uint8_t out[KECCAK256_LEN]);

/* SHA3-256 through the same sponge (for the tests' cross-check with OpenSSL). */
void keccak_sha3_256(const void *in, size_t len, uint8_t out[KECCAK256_LEN]);

#endif
