#include "common/hex.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int hex_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(in);
    if (n % 2 || n / 2 > cap) return -EINVAL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

int sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        memset(out, '0', 64);
        out[64] = 0;
        return -EIO;
    }
    hex_encode(md, 32, out);
    return 0;
}
