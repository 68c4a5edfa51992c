#include "secrets/seal_transfer.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "secrets/aead.h"
#include "secrets/kdf.h"

static int spki_der(EVP_PKEY *k, uint8_t out[SEAL_TRANSFER_SPKI_MAX], size_t *len)
{
    int n = i2d_PUBKEY(k, NULL);
    if (n <= 0 || n > SEAL_TRANSFER_SPKI_MAX) return -EINVAL;
    uint8_t *p = out;
    if (i2d_PUBKEY(k, &p) != n) return -EIO;
    *len = (size_t)n;
    return 0;
}

/* z = ECDH(priv, pub), then TK = HKDF(z, info) with both public keys and the binding. */
static int derive(EVP_PKEY *priv, EVP_PKEY *pub, const uint8_t *eph, size_t eph_len,
                  const uint8_t *peer, size_t peer_len, const uint8_t *binding, size_t binding_len,
                  struct seal_transfer_key *tk)
{
    struct aad info;
    aad_init(&info, "fnbox dek transfer v1");
    aad_bytes(&info, eph, eph_len);
    aad_bytes(&info, peer, peer_len);
    aad_bytes(&info, binding, binding_len);
    if (info.err) return -EINVAL;
    uint8_t z[72];
    size_t zlen = sizeof z;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    int rc = -EIO;
    if (ctx && EVP_PKEY_derive_init(ctx) == 1) {
        /* a point off the curve or on another curve is refused here */
        if (EVP_PKEY_derive_set_peer_ex(ctx, pub, 1) != 1) rc = -EBADMSG;
        else if (EVP_PKEY_derive(ctx, z, &zlen) == 1) rc = 0;
    }
    EVP_PKEY_CTX_free(ctx);
    if (!rc) rc = kdf_hkdf_sha256(z, zlen, info.buf, info.len, tk->key, sizeof tk->key);
    OPENSSL_cleanse(z, sizeof z);
    if (rc) OPENSSL_cleanse(tk, sizeof *tk);
    return rc;
}

int seal_transfer_begin(EVP_PKEY *peer, const uint8_t *binding, size_t binding_len,
                        uint8_t eph_spki[SEAL_TRANSFER_SPKI_MAX], size_t *eph_len,
                        struct seal_transfer_key *tk)
{
    memset(tk, 0, sizeof *tk);
    *eph_len = 0;
    if (!peer || EVP_PKEY_get_base_id(peer) != EVP_PKEY_EC || binding_len > SEAL_TRANSFER_BINDING_MAX)
        return -EINVAL;
    uint8_t peer_spki[SEAL_TRANSFER_SPKI_MAX];
    size_t peer_len;
    int rc = spki_der(peer, peer_spki, &peer_len);
    if (rc) return rc;
    /* the ephemeral key takes its group from the peer key: same curve by construction */
    EVP_PKEY *eph = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
    if (!kctx || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, &eph) != 1) rc = -EIO;
    EVP_PKEY_CTX_free(kctx);
    if (!rc) rc = spki_der(eph, eph_spki, eph_len);
    if (!rc) rc = derive(eph, peer, eph_spki, *eph_len, peer_spki, peer_len, binding, binding_len, tk);
    EVP_PKEY_free(eph); /* clears the ephemeral private scalar */
    if (rc) *eph_len = 0;
    return rc;
}

int seal_transfer_accept(EVP_PKEY *own, const uint8_t *eph_spki, size_t eph_len,
                         const uint8_t *binding, size_t binding_len, struct seal_transfer_key *tk)
{
    memset(tk, 0, sizeof *tk);
    if (!own || !eph_spki || EVP_PKEY_get_base_id(own) != EVP_PKEY_EC ||
        binding_len > SEAL_TRANSFER_BINDING_MAX)
        return -EINVAL;
    if (eph_len == 0 || eph_len > SEAL_TRANSFER_SPKI_MAX) return -EBADMSG;
    const uint8_t *p = eph_spki;
    EVP_PKEY *eph = d2i_PUBKEY(NULL, &p, (long)eph_len);
    if (!eph || p != eph_spki + eph_len || EVP_PKEY_get_base_id(eph) != EVP_PKEY_EC) {
        EVP_PKEY_free(eph);
        return -EBADMSG;
    }
    uint8_t own_spki[SEAL_TRANSFER_SPKI_MAX];
    size_t own_len;
    int rc = spki_der(own, own_spki, &own_len);
    if (!rc) rc = derive(own, eph, eph_spki, eph_len, own_spki, own_len, binding, binding_len, tk);
    EVP_PKEY_free(eph);
    return rc;
}

static void dek_aad(struct aad *a, const char *dek_id)
{
    aad_init(a, "fnbox transferred dek v1");
    aad_str(a, dek_id);
}

int seal_transfer_dek_wrap(const struct seal_transfer_key *tk, const char *dek_id,
                           const uint8_t dek[SEAL_KEY_LEN], uint8_t blob[SEAL_DEK_BLOB_LEN])
{
    struct aad a;
    dek_aad(&a, dek_id);
    if (!tk || !dek || !blob) return -EINVAL;
    return aead_seal(tk->key, &a, dek, SEAL_KEY_LEN, blob);
}

int seal_transfer_dek_unwrap(const struct seal_transfer_key *tk, const char *dek_id,
                             const uint8_t *blob, size_t blob_len, uint8_t dek[SEAL_KEY_LEN])
{
    memset(dek, 0, SEAL_KEY_LEN);
    struct aad a;
    dek_aad(&a, dek_id);
    if (!tk || !blob) return -EINVAL;
    if (blob_len != SEAL_DEK_BLOB_LEN) return -EBADMSG;
    return aead_open(tk->key, &a, blob, blob_len, dek);
}
