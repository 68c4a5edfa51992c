#include "gateway/keyring.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "attestation/ecsig.h"
#include "secrets/seal_p256.h"

#define KEYRING_MAX 64

struct dek {
    char id[40];
    uint8_t key[SEAL_KEY_LEN];
};

struct keyring {
    pthread_mutex_t mu;
    struct seal_kek kek;
    /* the instance key of each scheme that has one stored (indexed by enum ecsig_scheme);
     * keys[scheme] signs, the other only verifies what it signed before a switch */
    EVP_PKEY *keys[2];
    enum ecsig_scheme scheme;
    struct dek deks[KEYRING_MAX];
    size_t n;
    size_t active;
};

static int random_id(const char *prefix, char out[40])
{
    uint8_t b[8];
    if (RAND_bytes(b, sizeof b) != 1) return -EIO;
    snprintf(out, 40, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3], b[4],
             b[5], b[6], b[7]);
    return 0;
}

/* Makes DEK n (not yet counted) and stores it: as the first DEK, or rotated in with audit. */
static int new_dek(struct keyring *kr, struct store *s, const struct seal_kek *kek, int64_t now,
                   const struct audit_record *audit)
{
    if (kr->n == KEYRING_MAX) return -ENOSPC;
    struct dek *d = &kr->deks[kr->n];
    uint8_t blob[SEAL_DEK_BLOB_LEN];
    int rc = random_id("dek_", d->id);
    if (!rc) rc = seal_dek_new(d->key);
    if (!rc) rc = seal_dek_wrap(kek, d->id, d->key, blob);
    if (!rc)
        rc = audit ? store_dek_rotate_in(s, d->id, blob, sizeof blob, now, audit)
                   : store_dek_insert(s, d->id, blob, sizeof blob, now);
    if (rc) {
        seal_wipe(d, sizeof *d);
        return rc;
    }
    kr->active = kr->n++;
    return 0;
}

/* The OpenSSL group of a scheme's keys (seal_ec_*). */
static const char *group_of(enum ecsig_scheme scheme)
{
    return scheme == ECSIG_SECP256K1 ? "secp256k1" : "prime256v1";
}

/* Unseals the stored instance key of scheme into kr->keys[scheme]; when there is none and
 * create is set, makes one and stores it sealed. -ENOENT: none stored and !create. */
static int load_instance_key(struct keyring *kr, struct store *s, const struct seal_kek *kek,
                             enum ecsig_scheme scheme, int create, int64_t now)
{
    const char *name = ecsig_scheme_name(scheme), *group = group_of(scheme);
    EVP_PKEY **key = &kr->keys[scheme];
    char id[40];
    uint8_t *sealed = NULL;
    size_t len = 0;
    int rc = store_instance_key_get(s, name, id, &sealed, &len);
    if (rc == 0) {
        rc = seal_ec_unwrap(group, kek, id, sealed, len, key);
        free(sealed);
        return rc;
    }
    if (rc != -ENOENT || !create) return rc;
    uint8_t blob[SEAL_P256_BLOB_MAX];
    /* a P-256 key keeps the first format's id prefix; the scheme is its own column */
    rc = random_id(scheme == ECSIG_SECP256K1 ? "ik1_" : "ik_", id);
    if (!rc) rc = seal_ec_new(group, key);
    if (!rc) rc = seal_ec_wrap(group, kek, id, *key, blob, sizeof blob, &len);
    if (!rc) rc = store_instance_key_put(s, name, id, blob, len, now);
    return rc;
}

int keyring_open(struct store *s, const struct seal_kek *kek, const char *key_scheme, int64_t now,
                 struct keyring **out, char *err, size_t errlen)
{
    enum ecsig_scheme scheme;
    if (ecsig_scheme_parse(key_scheme, &scheme)) {
        snprintf(err, errlen, "unknown key scheme (p256 or secp256k1)");
        return -EINVAL;
    }
    struct keyring *kr = calloc(1, sizeof *kr);
    if (!kr) return -ENOMEM;
    kr->scheme = scheme;
    pthread_mutex_init(&kr->mu, NULL);
    struct dek_row *rows = NULL;
    size_t n = 0;
    int rc = store_dek_list(s, &rows, &n);
    if (rc) {
        snprintf(err, errlen, "cannot read the data-encryption keys from the database");
        goto fail;
    }
    if (n > KEYRING_MAX) {
        snprintf(err, errlen, "%zu data-encryption keys stored; at most %d supported", n,
                 KEYRING_MAX);
        rc = -ENOSPC;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        struct dek *d = &kr->deks[kr->n];
        snprintf(d->id, sizeof d->id, "%s", rows[i].id);
        rc = seal_dek_unwrap(kek, d->id, rows[i].wrapped, rows[i].wrapped_len, d->key);
        if (rc) {
            snprintf(err, errlen,
                     "data-encryption key %s cannot be unsealed: this is not the sealing root, "
                     "policy or measurement it was sealed under (refusing to start)",
                     rows[i].id);
            goto fail;
        }
        if (strcmp(rows[i].state, "active") == 0) kr->active = kr->n;
        kr->n++;
    }
    if (kr->n == 0 && (rc = new_dek(kr, s, kek, now, NULL))) {
        snprintf(err, errlen, "cannot create the first data-encryption key");
        goto fail;
    }
    if ((rc = load_instance_key(kr, s, kek, scheme, 1, now))) {
        snprintf(err, errlen, "the %s instance key cannot be unsealed or created", key_scheme);
        goto fail;
    }
    /* the other scheme's key, if an earlier start made one: kept (never replaced or
     * deleted), and loaded to recognise what it signed */
    enum ecsig_scheme other = scheme == ECSIG_P256 ? ECSIG_SECP256K1 : ECSIG_P256;
    rc = load_instance_key(kr, s, kek, other, 0, now);
    if (rc && rc != -ENOENT) {
        snprintf(err, errlen, "the %s instance key cannot be unsealed",
                 ecsig_scheme_name(other));
        goto fail;
    }
    rc = 0;
    kr->kek = *kek;
    store_dek_rows_free(rows, n);
    *out = kr;
    return 0;
fail:
    store_dek_rows_free(rows, n);
    keyring_close(kr);
    return rc;
}

void keyring_close(struct keyring *kr)
{
    if (!kr) return;
    EVP_PKEY_free(kr->keys[0]);
    EVP_PKEY_free(kr->keys[1]);
    pthread_mutex_destroy(&kr->mu);
    seal_wipe(kr, sizeof *kr);
    free(kr);
}

EVP_PKEY *keyring_instance_key(struct keyring *kr)
{
    return kr->keys[kr->scheme];
}

EVP_PKEY *keyring_previous_key(struct keyring *kr)
{
    return kr->keys[kr->scheme == ECSIG_P256 ? ECSIG_SECP256K1 : ECSIG_P256];
}

int keyring_rotate_in(struct keyring *kr, struct store *s, int64_t now,
                      const struct audit_record *audit, char *new_id)
{
    pthread_mutex_lock(&kr->mu);
    int rc = new_dek(kr, s, &kr->kek, now, audit);
    if (!rc) snprintf(new_id, 40, "%s", kr->deks[kr->active].id);
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

size_t keyring_dek_count(const struct keyring *kr)
{
    return kr->n;
}

void keyring_active_id(struct keyring *kr, char dek_id[40])
{
    pthread_mutex_lock(&kr->mu);
    snprintf(dek_id, 40, "%s", kr->deks[kr->active].id);
    pthread_mutex_unlock(&kr->mu);
}

int keyring_seal(struct keyring *kr, const char *dek_id, const struct seal_secret_id *id,
                 const uint8_t *pt, size_t len, uint8_t **blob, size_t *blob_len)
{
    uint8_t *b = malloc(SEAL_SEALED_LEN(len));
    if (!b) return -ENOMEM;
    int rc = -ENOENT;
    pthread_mutex_lock(&kr->mu);
    for (size_t i = 0; i < kr->n; i++) {
        if (strcmp(kr->deks[i].id, dek_id) != 0) continue;
        rc = seal_secret_encrypt(kr->deks[i].key, dek_id, id, pt, len, b, SEAL_SEALED_LEN(len),
                                 blob_len);
        break;
    }
    pthread_mutex_unlock(&kr->mu);
    if (rc) {
        free(b);
        return rc;
    }
    *blob = b;
    return 0;
}

int keyring_open_secret(struct keyring *kr, const char *dek_id, const struct seal_secret_id *id,
                        const uint8_t *blob, size_t blob_len, uint8_t **pt, size_t *pt_len)
{
    size_t cap = SEAL_OPENED_LEN(blob_len);
    uint8_t *p = malloc(cap ? cap : 1);
    if (!p) return -ENOMEM;
    int rc = -EBADMSG;
    pthread_mutex_lock(&kr->mu);
    for (size_t i = 0; i < kr->n; i++) {
        if (strcmp(kr->deks[i].id, dek_id) != 0) continue;
        rc = seal_secret_decrypt(kr->deks[i].key, dek_id, id, blob, blob_len, p, cap ? cap : 1,
                                 pt_len);
        break;
    }
    pthread_mutex_unlock(&kr->mu);
    if (rc) {
        free(p);
        return rc;
    }
    *pt = p;
    return 0;
}

int keyring_transfer_out(struct keyring *kr, const struct seal_transfer_key *tk,
                         const char *dek_id, uint8_t blob[SEAL_DEK_BLOB_LEN])
{
    int rc = -ENOENT;
    pthread_mutex_lock(&kr->mu);
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->deks[i].id, dek_id) == 0) {
            rc = seal_transfer_dek_wrap(tk, dek_id, kr->deks[i].key, blob);
            break;
        }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

/* The slot holding dek_id, or kr->n. Called with kr->mu held. */
static size_t find_locked(const struct keyring *kr, const char *dek_id)
{
    size_t i = 0;
    while (i < kr->n && strcmp(kr->deks[i].id, dek_id) != 0) i++;
    return i;
}

int keyring_transfer_open(struct keyring *kr, const struct seal_transfer_key *tk,
                          const char *dek_id, const uint8_t *blob, size_t blob_len,
                          uint8_t key[SEAL_KEY_LEN], uint8_t wrapped[SEAL_DEK_BLOB_LEN],
                          int *held)
{
    *held = 0;
    if (strlen(dek_id) >= sizeof kr->deks[0].id) return -EINVAL;
    int rc = seal_transfer_dek_unwrap(tk, dek_id, blob, blob_len, key);
    if (!rc) rc = seal_dek_wrap(&kr->kek, dek_id, key, wrapped);
    if (!rc) {
        pthread_mutex_lock(&kr->mu);
        size_t i = find_locked(kr, dek_id);
        if (i < kr->n) {
            /* a known id under another key would make our rows unreadable: refuse */
            if (CRYPTO_memcmp(kr->deks[i].key, key, SEAL_KEY_LEN) != 0) rc = -EEXIST;
            else *held = 1;
        }
        pthread_mutex_unlock(&kr->mu);
    }
    if (rc) {
        seal_wipe(key, SEAL_KEY_LEN);
        seal_wipe(wrapped, SEAL_DEK_BLOB_LEN);
    }
    return rc;
}

int keyring_room(struct keyring *kr, size_t n)
{
    pthread_mutex_lock(&kr->mu);
    int rc = n <= KEYRING_MAX - kr->n ? 0 : -ENOSPC;
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

int keyring_add(struct keyring *kr, const char *dek_id, const uint8_t key[SEAL_KEY_LEN])
{
    if (strlen(dek_id) >= sizeof kr->deks[0].id) return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&kr->mu);
    size_t i = find_locked(kr, dek_id);
    if (i < kr->n) {
        if (CRYPTO_memcmp(kr->deks[i].key, key, SEAL_KEY_LEN) != 0) rc = -EEXIST;
    } else if (kr->n == KEYRING_MAX) {
        rc = -ENOSPC;
    } else {
        struct dek *d = &kr->deks[kr->n++];
        snprintf(d->id, sizeof d->id, "%s", dek_id);
        memcpy(d->key, key, SEAL_KEY_LEN);
    }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}
