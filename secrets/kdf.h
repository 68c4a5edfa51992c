/* HKDF-SHA256 (RFC 5869) without salt, the one key derivation secrets/ uses. Internal to
 * secrets/. info is usually an encoding built with aead.h's struct aad. 0, -EINVAL or -EIO
 * (out is then wiped). */
#ifndef FNBOX_KDF_H
#define FNBOX_KDF_H

#include <stddef.h>
#include <stdint.h>

int kdf_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len,
                    uint8_t *out, size_t out_len);

#endif
