/* Hex and SHA-256 helpers shared by the gateway's modules (pure; libcrypto for the hash).
 * hex_encode writes 2n lower-case digits and a NUL. hex_decode accepts upper or lower case,
 * an even number of digits, at most cap bytes: 0, or -EINVAL. sha256_hex writes the 64-digit
 * digest of data and a NUL: 0, or -EIO. */
#ifndef FNBOX_HEX_H
#define FNBOX_HEX_H

#include <stddef.h>
#include <stdint.h>

void hex_encode(const uint8_t *in, size_t n, char *out);
int hex_decode(const char *in, uint8_t *out, size_t cap, size_t *len);
int sha256_hex(const void *data, size_t len, char out[65]);

#endif
