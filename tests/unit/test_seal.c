/* Sealing: KEK derivation, DEK wrapping, secret encryption, the sealing root file, and the
 * sealed P-256 instance key. Known-answer vectors were computed independently (the openssl
 * CLI's HKDF and another AES-GCM implementation) from the formats documented in seal.h. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "secrets/seal.h"
#include "secrets/seal_p256.h"
#include "secrets/seal_root.h"
#include "secrets/seal_transfer.h"

#include <openssl/ec.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void counting(uint8_t *p, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(first + i);
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static struct seal_kek kek_of(const struct seal_root *root, enum seal_policy policy,
                              const uint8_t *measurement)
{
    struct seal_kek k;
    assert_int_equal(seal_kek_derive(root, "software", policy, measurement, &k), 0);
    return k;
}

static struct seal_root random_root(void)
{
    struct seal_root r;
    assert_int_equal(seal_dek_new(r.key), 0); /* any 32 random bytes */
    return r;
}

/* ---- policies and KEK derivation ---- */

static void policies(void **state)
{
    enum seal_policy p;
    assert_int_equal(seal_policy_parse("instance", &p), 0);
    assert_int_equal(p, SEAL_POLICY_INSTANCE);
    assert_int_equal(seal_policy_parse("measurement", &p), 0);
    assert_int_equal(p, SEAL_POLICY_MEASUREMENT);
    assert_int_equal(seal_policy_parse("signer", &p), -EINVAL);
    assert_int_equal(seal_policy_parse(NULL, &p), -EINVAL);
    assert_string_equal(seal_policy_name(SEAL_POLICY_MEASUREMENT), "measurement");
}

static void kek_known_answer(void **state)
{
    struct seal_root root;
    uint8_t m[SEAL_MEASUREMENT_LEN], want[SEAL_KEY_LEN];
    counting(root.key, sizeof root.key, 0x00);
    counting(m, sizeof m, 0x20);

    struct seal_kek k = kek_of(&root, SEAL_POLICY_INSTANCE, NULL);
    unhex("06c239725b8236d26b3e4b2872d375343d65d3338ac2d1962bc4278f444091ee", want, sizeof want);
    assert_memory_equal(k.key, want, sizeof want);

    k = kek_of(&root, SEAL_POLICY_MEASUREMENT, m);
    unhex("c25f106427ac1228232dec015b84024fe60076bde9b8ef9f2f5f7fb976a771ac", want, sizeof want);
    assert_memory_equal(k.key, want, sizeof want);
}

static void kek_inputs(void **state)
{
    struct seal_root root = random_root(), other = random_root();
    uint8_t m1[SEAL_MEASUREMENT_LEN], m2[SEAL_MEASUREMENT_LEN];
    counting(m1, sizeof m1, 1);
    memcpy(m2, m1, sizeof m2);
    m2[31] ^= 0x80;
    struct seal_kek a = kek_of(&root, SEAL_POLICY_INSTANCE, m1),
                    b = kek_of(&root, SEAL_POLICY_INSTANCE, m2),
                    c = kek_of(&root, SEAL_POLICY_MEASUREMENT, m1),
                    d = kek_of(&root, SEAL_POLICY_MEASUREMENT, m2),
                    e = kek_of(&other, SEAL_POLICY_INSTANCE, NULL), f;
    assert_memory_equal(a.key, b.key, SEAL_KEY_LEN); /* instance ignores the measurement */
    assert_memory_not_equal(a.key, c.key, SEAL_KEY_LEN);
    assert_memory_not_equal(c.key, d.key, SEAL_KEY_LEN);
    assert_memory_not_equal(a.key, e.key, SEAL_KEY_LEN);
    assert_int_equal(seal_kek_derive(&root, "tdx", SEAL_POLICY_INSTANCE, NULL, &f), 0);
    assert_memory_not_equal(a.key, f.key, SEAL_KEY_LEN);

    assert_int_equal(seal_kek_derive(&root, "software", SEAL_POLICY_MEASUREMENT, NULL, &f),
                     -EINVAL);
    assert_true(all_zero(f.key, SEAL_KEY_LEN));
    assert_int_equal(seal_kek_derive(&root, "", SEAL_POLICY_INSTANCE, NULL, &f), -EINVAL);
    assert_int_equal(seal_kek_derive(&root, NULL, SEAL_POLICY_INSTANCE, NULL, &f), -EINVAL);
    assert_int_equal(seal_kek_derive(&root, "software", (enum seal_policy)7, NULL, &f), -EINVAL);
}

/* ---- DEKs ---- */

static void dek_known_answer(void **state)
{
    struct seal_root root;
    counting(root.key, sizeof root.key, 0x00);
    struct seal_kek kek = kek_of(&root, SEAL_POLICY_INSTANCE, NULL);
    uint8_t blob[SEAL_DEK_BLOB_LEN], dek[SEAL_KEY_LEN], want[SEAL_KEY_LEN];
    unhex("01a0a1a2a3a4a5a6a7a8a9aaab6883b4804ba85b624267a6cc0520e736981b48d285243b7647f56ca78c"
          "b050b13f9acf715bf531416a404a72f60e9687",
          blob, sizeof blob);
    counting(want, sizeof want, 0x40);
    assert_int_equal(seal_dek_unwrap(&kek, "dek-1", blob, sizeof blob, dek), 0);
    assert_memory_equal(dek, want, sizeof want);
}

static void dek_wrap_round_trip(void **state)
{
    struct seal_root root = random_root(), wrong = random_root();
    struct seal_kek kek = kek_of(&root, SEAL_POLICY_INSTANCE, NULL),
                    bad = kek_of(&wrong, SEAL_POLICY_INSTANCE, NULL);
    uint8_t dek[SEAL_KEY_LEN], dek2[SEAL_KEY_LEN], got[SEAL_KEY_LEN];
    uint8_t blob[SEAL_DEK_BLOB_LEN], blob2[SEAL_DEK_BLOB_LEN];
    assert_int_equal(seal_dek_new(dek), 0);
    assert_int_equal(seal_dek_new(dek2), 0);
    assert_memory_not_equal(dek, dek2, SEAL_KEY_LEN);

    assert_int_equal(seal_dek_wrap(&kek, "dek-7", dek, blob), 0);
    assert_int_equal(blob[0], SEAL_FORMAT_V1);
    assert_int_equal(seal_dek_wrap(&kek, "dek-7", dek, blob2), 0);
    assert_memory_not_equal(blob, blob2, SEAL_DEK_BLOB_LEN); /* fresh nonce each time */
    assert_int_equal(seal_dek_unwrap(&kek, "dek-7", blob, sizeof blob, got), 0);
    assert_memory_equal(got, dek, SEAL_KEY_LEN);

    /* wrong root, wrong id, wrong length, every single bit flipped */
    assert_int_equal(seal_dek_unwrap(&bad, "dek-7", blob, sizeof blob, got), -EBADMSG);
    assert_true(all_zero(got, sizeof got));
    assert_int_equal(seal_dek_unwrap(&kek, "dek-8", blob, sizeof blob, got), -EBADMSG);
    assert_int_equal(seal_dek_unwrap(&kek, "dek-7", blob, sizeof blob - 1, got), -EBADMSG);
    for (size_t bit = 0; bit < 8 * sizeof blob; bit++) {
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(seal_dek_unwrap(&kek, "dek-7", blob, sizeof blob, got), -EBADMSG);
        assert_true(all_zero(got, sizeof got));
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(seal_dek_unwrap(&kek, "dek-7", blob, sizeof blob, got), 0);
    assert_int_equal(seal_dek_wrap(&kek, NULL, dek, blob), -EINVAL);
}

static void measurement_policy(void **state)
{
    struct seal_root root = random_root();
    uint8_t m1[SEAL_MEASUREMENT_LEN], m2[SEAL_MEASUREMENT_LEN];
    counting(m1, sizeof m1, 9);
    memcpy(m2, m1, sizeof m2);
    m2[0] ^= 1; /* the binary changed by one bit */
    uint8_t dek[SEAL_KEY_LEN], got[SEAL_KEY_LEN], blob[SEAL_DEK_BLOB_LEN];
    assert_int_equal(seal_dek_new(dek), 0);

    struct seal_kek k1 = kek_of(&root, SEAL_POLICY_MEASUREMENT, m1),
                    k2 = kek_of(&root, SEAL_POLICY_MEASUREMENT, m2);
    assert_int_equal(seal_dek_wrap(&k1, "d", dek, blob), 0);
    assert_int_equal(seal_dek_unwrap(&k1, "d", blob, sizeof blob, got), 0);
    assert_int_equal(seal_dek_unwrap(&k2, "d", blob, sizeof blob, got), -EBADMSG);
    /* nor can the instance policy open what the measurement policy sealed */
    struct seal_kek ki = kek_of(&root, SEAL_POLICY_INSTANCE, m1);
    assert_int_equal(seal_dek_unwrap(&ki, "d", blob, sizeof blob, got), -EBADMSG);

    /* the instance policy survives a changed measurement */
    assert_int_equal(seal_dek_wrap(&ki, "d", dek, blob), 0);
    struct seal_kek ki2 = kek_of(&root, SEAL_POLICY_INSTANCE, m2);
    assert_int_equal(seal_dek_unwrap(&ki2, "d", blob, sizeof blob, got), 0);
    assert_memory_equal(got, dek, SEAL_KEY_LEN);
}

/* ---- secrets ---- */

static const struct seal_secret_id alice_key = {.owner = "alice", .name = "api_key", .version = 3};

static void secret_known_answer(void **state)
{
    uint8_t dek[SEAL_KEY_LEN], blob[SEAL_SEALED_LEN(5)], pt[5];
    size_t n = 0;
    counting(dek, sizeof dek, 0x40);
    unhex("01a0a1a2a3a4a5a6a7a8a9aaabbfea6a538d364854bd662f3769b5c8cc49503942f0", blob,
          sizeof blob);
    assert_int_equal(
        seal_secret_decrypt(dek, "dek-1", &alice_key, blob, sizeof blob, pt, sizeof pt, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(pt, "hello", 5);
}

static void secret_round_trip(void **state)
{
    uint8_t dek[SEAL_KEY_LEN];
    assert_int_equal(seal_dek_new(dek), 0);
    const char *value = "sk_live_0123456789";
    size_t len = strlen(value), blen = 0, plen = 0;
    uint8_t blob[64], blob2[64], pt[64];
    assert_int_equal(seal_secret_encrypt(dek, "dek-1", &alice_key, (const uint8_t *)value, len,
                                         blob, sizeof blob, &blen),
                     0);
    assert_int_equal(blen, len + SEAL_OVERHEAD);
    assert_null(memmem(blob, blen, value, len)); /* not in the clear */
    assert_int_equal(
        seal_secret_decrypt(dek, "dek-1", &alice_key, blob, blen, pt, sizeof pt, &plen), 0);
    assert_int_equal(plen, len);
    assert_memory_equal(pt, value, len);

    /* the same value twice: different blobs */
    size_t blen2 = 0;
    assert_int_equal(seal_secret_encrypt(dek, "dek-1", &alice_key, (const uint8_t *)value, len,
                                         blob2, sizeof blob2, &blen2),
                     0);
    assert_memory_not_equal(blob, blob2, blen);

    /* an empty value round-trips too */
    assert_int_equal(
        seal_secret_encrypt(dek, "dek-1", &alice_key, NULL, 0, blob, sizeof blob, &blen), 0);
    assert_int_equal(blen, SEAL_OVERHEAD);
    assert_int_equal(seal_secret_decrypt(dek, "dek-1", &alice_key, blob, blen, NULL, 0, &plen), 0);
    assert_int_equal(plen, 0);

    /* buffers too small, arguments missing */
    assert_int_equal(seal_secret_encrypt(dek, "dek-1", &alice_key, (const uint8_t *)value, len,
                                         blob, len + SEAL_OVERHEAD - 1, &blen),
                     -ENOSPC);
    assert_int_equal(seal_secret_encrypt(dek, "dek-1", &alice_key, (const uint8_t *)value, len,
                                         blob, sizeof blob, &blen),
                     0);
    assert_int_equal(seal_secret_decrypt(dek, "dek-1", &alice_key, blob, blen, pt, len - 1, &plen),
                     -ENOSPC);
    struct seal_secret_id no_owner = {.owner = NULL, .name = "x", .version = 1};
    assert_int_equal(seal_secret_encrypt(dek, "dek-1", &no_owner, (const uint8_t *)value, len, blob,
                                         sizeof blob, &blen),
                     -EINVAL);
    assert_int_equal(seal_secret_encrypt(dek, NULL, &alice_key, (const uint8_t *)value, len, blob,
                                         sizeof blob, &blen),
                     -EINVAL);
}

/* Decrypting must fail with -EBADMSG and leave nothing in pt. */
static void assert_refused(const uint8_t *dek, const char *dek_id, const struct seal_secret_id *id,
                           const uint8_t *blob, size_t blen)
{
    uint8_t pt[256];
    size_t plen = 99;
    memset(pt, 0, sizeof pt);
    assert_int_equal(seal_secret_decrypt(dek, dek_id, id, blob, blen, pt, sizeof pt, &plen),
                     -EBADMSG);
    assert_int_equal(plen, 0);
    assert_true(all_zero(pt, sizeof pt));
}

static void secret_bit_flips(void **state)
{
    uint8_t dek[SEAL_KEY_LEN], blob[128];
    size_t blen = 0;
    assert_int_equal(seal_dek_new(dek), 0);
    const char *value = "a secret value";
    assert_int_equal(seal_secret_encrypt(dek, "dek-1", &alice_key, (const uint8_t *)value,
                                         strlen(value), blob, sizeof blob, &blen),
                     0);
    /* every bit of the blob: format, nonce, ciphertext, tag */
    for (size_t bit = 0; bit < 8 * blen; bit++) {
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_refused(dek, "dek-1", &alice_key, blob, blen);
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* every bit of each associated-data component */
    char owner[] = "alice", name[] = "api_key", dek_id[] = "dek-1";
    struct seal_secret_id id = {.owner = owner, .name = name, .version = alice_key.version};
    char *fields[] = {owner, name, dek_id};
    for (size_t f = 0; f < ARRAY_LEN(fields); f++)
        for (size_t bit = 0; bit < 8 * strlen(fields[f]); bit++) {
            fields[f][bit / 8] ^= (char)(1u << (bit % 8));
            assert_true(fields[f][bit / 8] != 0); /* still the same length */
            assert_refused(dek, dek_id, &id, blob, blen);
            fields[f][bit / 8] ^= (char)(1u << (bit % 8));
        }
    for (int bit = 0; bit < 64; bit++) {
        id.version = alice_key.version ^ (1ull << bit);
        assert_refused(dek, dek_id, &id, blob, blen);
    }
    id.version = alice_key.version;
    /* truncated blobs */
    for (size_t n = 0; n < blen; n++)
        assert_refused(dek, dek_id, &id, blob, n);
    /* a different DEK */
    uint8_t other[SEAL_KEY_LEN];
    assert_int_equal(seal_dek_new(other), 0);
    assert_refused(other, dek_id, &id, blob, blen);
    /* and untouched, it still opens */
    uint8_t pt[64];
    size_t plen = 0;
    assert_int_equal(seal_secret_decrypt(dek, dek_id, &id, blob, blen, pt, sizeof pt, &plen), 0);
    assert_memory_equal(pt, value, strlen(value));
}

static void secret_copied_to_another_row(void **state)
{
    uint8_t dek[SEAL_KEY_LEN], blob[64];
    size_t blen = 0;
    assert_int_equal(seal_dek_new(dek), 0);
    const uint8_t v[] = "v";
    struct seal_secret_id ab_c = {.owner = "ab", .name = "c", .version = 1};
    assert_int_equal(
        seal_secret_encrypt(dek, "dek-1", &ab_c, v, sizeof v, blob, sizeof blob, &blen), 0);
    const struct seal_secret_id elsewhere[] = {
        {.owner = "a", .name = "bc", .version = 1}, /* same concatenation */
        {.owner = "abc", .name = "", .version = 1},
        {.owner = "ab", .name = "d", .version = 1},  /* another name */
        {.owner = "bob", .name = "c", .version = 1}, /* another owner */
        {.owner = "ab", .name = "c", .version = 2},  /* another version */
        {.owner = "ab", .name = "c", .version = 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(elsewhere); i++)
        assert_refused(dek, "dek-1", &elsewhere[i], blob, blen);
    assert_refused(dek, "dek-2", &ab_c, blob, blen); /* another DEK id, same DEK bytes */
    assert_refused(dek, "dek-", &ab_c, blob, blen);
    /* and a wrapped DEK is not a secret, nor the reverse */
    struct seal_kek kek;
    memcpy(kek.key, dek, sizeof kek.key);
    uint8_t got[SEAL_KEY_LEN], wrapped[SEAL_DEK_BLOB_LEN];
    assert_int_equal(seal_dek_wrap(&kek, "dek-1", dek, wrapped), 0);
    assert_refused(dek, "dek-1", &ab_c, wrapped, sizeof wrapped);
    assert_int_equal(
        seal_secret_encrypt(dek, "dek-1", &ab_c, dek, sizeof dek, blob, sizeof blob, &blen), 0);
    assert_int_equal(seal_dek_unwrap(&kek, "dek-1", blob, blen, got), -EBADMSG);
}

#define NONCES 100000

static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, SEAL_NONCE_LEN);
}

static void nonces_unique(void **state)
{
    uint8_t dek[SEAL_KEY_LEN], blob[SEAL_SEALED_LEN(8)];
    size_t blen;
    assert_int_equal(seal_dek_new(dek), 0);
    uint8_t *nonces = malloc((size_t)NONCES * SEAL_NONCE_LEN);
    assert_non_null(nonces);
    for (size_t i = 0; i < NONCES; i++) {
        assert_int_equal(seal_secret_encrypt(dek, "dek-1", &alice_key, (const uint8_t *)"12345678",
                                             8, blob, sizeof blob, &blen),
                         0);
        memcpy(nonces + i * SEAL_NONCE_LEN, blob + 1, SEAL_NONCE_LEN);
    }
    qsort(nonces, NONCES, SEAL_NONCE_LEN, cmp_nonce);
    size_t dup = 0;
    for (size_t i = 1; i < NONCES; i++)
        if (memcmp(nonces + (i - 1) * SEAL_NONCE_LEN, nonces + i * SEAL_NONCE_LEN,
                   SEAL_NONCE_LEN) == 0)
            dup++;
    free(nonces);
    assert_int_equal(dup, 0);
}

/* ---- the sealing root ---- */

struct tmpdir {
    char path[64];
};

static int setup_dir(void **state)
{
    struct tmpdir *d = calloc(1, sizeof *d);
    if (!d) return -1;
    snprintf(d->path, sizeof d->path, "/tmp/fnbox-seal-XXXXXX");
    if (!mkdtemp(d->path)) return -1;
    unsetenv(SEAL_ROOT_ENV);
    *state = d;
    return 0;
}

static int teardown_dir(void **state)
{
    struct tmpdir *d = *state;
    DIR *dir = opendir(d->path);
    struct dirent *e;
    char p[512];
    while (dir && (e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", d->path, e->d_name);
            unlink(p);
        }
    if (dir) closedir(dir);
    rmdir(d->path);
    free(d);
    unsetenv(SEAL_ROOT_ENV);
    return 0;
}

static size_t entries(const char *path)
{
    DIR *dir = opendir(path);
    assert_non_null(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dir);
    return n;
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void root_created_then_reloaded(void **state)
{
    struct tmpdir *d = *state;
    struct seal_root r1, r2;
    enum seal_root_source src;
    char err[256], path[128];
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r1, &src, err, sizeof err), 0);
    assert_int_equal(src, SEAL_ROOT_DATA_FILE_CREATED);
    assert_false(all_zero(r1.key, sizeof r1.key));

    snprintf(path, sizeof path, "%s/%s", d->path, SEAL_ROOT_FILE_NAME);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, SEAL_KEY_LEN);
    assert_int_equal(entries(d->path), 1); /* no temporary file left behind */

    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r2, &src, err, sizeof err), 0);
    assert_int_equal(src, SEAL_ROOT_DATA_FILE);
    assert_memory_equal(r1.key, r2.key, SEAL_KEY_LEN);

    /* a second instance's root differs */
    struct tmpdir *d2 = NULL;
    assert_int_equal(setup_dir((void **)&d2), 0);
    assert_int_equal(seal_root_load_or_create(d2->path, NULL, &r2, &src, err, sizeof err), 0);
    assert_memory_not_equal(r1.key, r2.key, SEAL_KEY_LEN);
    teardown_dir((void **)&d2);

    /* a missing data directory is an error, not a silent new place */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope", d->path);
    assert_int_equal(seal_root_load_or_create(missing, NULL, &r2, &src, err, sizeof err), -ENOENT);
    assert_true(err[0] != 0);
}

static void root_unsafe_file_refused(void **state)
{
    struct tmpdir *d = *state;
    struct seal_root r, before;
    char err[256], path[128];
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &before, NULL, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/%s", d->path, SEAL_ROOT_FILE_NAME);

    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), -EACCES);
    assert_non_null(strstr(err, "0644"));
    assert_true(all_zero(r.key, sizeof r.key));
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), -EACCES);
    assert_int_equal(chmod(path, 0602), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), -EACCES);
    /* refused, never replaced: the file still holds the same root */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), 0);
    assert_memory_equal(r.key, before.key, SEAL_KEY_LEN);

    /* wrong size */
    assert_int_equal(unlink(path), 0);
    write_file(path, before.key, 31, 0600);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "31 bytes"));
    assert_int_equal(unlink(path), 0);

    /* a symlink */
    char target[160];
    snprintf(target, sizeof target, "%s/elsewhere", d->path);
    write_file(target, before.key, SEAL_KEY_LEN, 0600);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), -EACCES);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(unlink(path), 0);

    /* all zero bytes */
    uint8_t zero[SEAL_KEY_LEN] = {0};
    write_file(path, zero, sizeof zero, 0600);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, NULL, err, sizeof err), -EINVAL);
}

static void root_from_operator(void **state)
{
    struct tmpdir *d = *state;
    struct seal_root r, want;
    enum seal_root_source src;
    char err[256], path[128], hex[2 * SEAL_KEY_LEN + 2];
    counting(want.key, sizeof want.key, 0xc0);
    snprintf(path, sizeof path, "%s/operator.key", d->path);

    write_file(path, want.key, SEAL_KEY_LEN, 0644); /* raw; its mode is the operator's call */
    assert_int_equal(seal_root_load_or_create(d->path, path, &r, &src, err, sizeof err), 0);
    assert_int_equal(src, SEAL_ROOT_OPERATOR_FILE);
    assert_memory_equal(r.key, want.key, SEAL_KEY_LEN);

    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        sprintf(hex + 2 * i, "%02X", want.key[i]);
    hex[2 * SEAL_KEY_LEN] = '\n';
    write_file(path, hex, 2 * SEAL_KEY_LEN + 1, 0600); /* hex with a newline */
    memset(&r, 0, sizeof r);
    assert_int_equal(seal_root_load_or_create(d->path, path, &r, &src, err, sizeof err), 0);
    assert_memory_equal(r.key, want.key, SEAL_KEY_LEN);
    assert_int_equal(entries(d->path), 1); /* DATA/sealing.root was not created */

    write_file(path, hex, 2 * SEAL_KEY_LEN - 1, 0600);
    assert_int_equal(seal_root_load_or_create(d->path, path, &r, &src, err, sizeof err), -EINVAL);
    hex[5] = 'g';
    write_file(path, hex, 2 * SEAL_KEY_LEN, 0600);
    assert_int_equal(seal_root_load_or_create(d->path, path, &r, &src, err, sizeof err), -EINVAL);
    assert_null(strstr(err, "C0C1")); /* the root never appears in a message */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(seal_root_load_or_create(d->path, path, &r, &src, err, sizeof err), -ENOENT);
}

static void root_from_environment(void **state)
{
    struct tmpdir *d = *state;
    struct seal_root r, want;
    enum seal_root_source src;
    char err[256], hex[2 * SEAL_KEY_LEN + 1];
    counting(want.key, sizeof want.key, 0x70);
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        sprintf(hex + 2 * i, "%02x", want.key[i]);

    assert_int_equal(setenv(SEAL_ROOT_ENV, hex, 1), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, &src, err, sizeof err), 0);
    assert_int_equal(src, SEAL_ROOT_ENVIRONMENT);
    assert_memory_equal(r.key, want.key, SEAL_KEY_LEN);
    assert_null(getenv(SEAL_ROOT_ENV)); /* consumed */
    assert_int_equal(entries(d->path), 0);

    hex[10] = 0;
    assert_int_equal(setenv(SEAL_ROOT_ENV, hex, 1), 0);
    assert_int_equal(seal_root_load_or_create(d->path, NULL, &r, &src, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, SEAL_ROOT_ENV));
    assert_null(getenv(SEAL_ROOT_ENV));
}

/* ---- the instance signing key ---- */

static void p256_known_answer(void **state)
{
    /* a key sealed by another implementation under the instance-policy KEK of
     * kek_known_answer, key_id "instance" */
    static const char blob_hex[] =
        "01b0b1b2b3b4b5b6b7b8b9babb1b55ec80eb505ab0c9fc4392fb68cfcebf1d554e3d7b826f05c6b3cae835"
        "341f31335c178f5660610ecaa2dcf1a636416c929876367077cbc9a4219f4f6385abb4dd4231b771e31d48"
        "8b0f65edc03a299efb98bb33d0c1a8f6dedee4d93c9baf5f9d487b29b1cddd590e1e109104de90b40a0cdc"
        "90eef803b38606b74c44703f528b9854de364e1a1f";
    static const char point_hex[] =
        "04471c3e758c4904285bba7e53118ed0f524adeb0757d25bd2f8e7b0d76dfa714cdd520f7aca8a8b917acc"
        "37f51de8f0c9bbe3ad858382e702dc25a12d09f7a858";
    struct seal_root root;
    counting(root.key, sizeof root.key, 0x00);
    struct seal_kek kek = kek_of(&root, SEAL_POLICY_INSTANCE, NULL);
    uint8_t blob[150];
    char hex[2 * SEAL_P256_POINT_LEN + 1];
    unhex(blob_hex, blob, sizeof blob);
    EVP_PKEY *key = NULL;
    assert_int_equal(seal_p256_unwrap(&kek, "instance", blob, sizeof blob, &key), 0);
    assert_int_equal(seal_p256_public_hex(key, hex), 0);
    assert_string_equal(hex, point_hex);
    EVP_PKEY_free(key);
}

static void p256_sign_verify(void **state)
{
    EVP_PKEY *key = NULL, *other = NULL;
    assert_int_equal(seal_p256_new(&key), 0);
    assert_int_equal(seal_p256_new(&other), 0);
    uint8_t pub[SEAL_P256_SPKI_LEN], opub[SEAL_P256_SPKI_LEN], point[SEAL_P256_POINT_LEN];
    uint8_t sig[SEAL_P256_SIG_MAX];
    char hex[2 * SEAL_P256_POINT_LEN + 1];
    size_t slen = 0;
    assert_int_equal(seal_p256_public_der(key, pub), 0);
    assert_int_equal(seal_p256_public_der(other, opub), 0);
    assert_int_equal(seal_p256_public_point(key, point), 0);
    assert_int_equal(point[0], 0x04);
    assert_memory_equal(point, pub + sizeof pub - sizeof point, sizeof point);
    assert_int_equal(seal_p256_public_hex(key, hex), 0);
    assert_int_equal(strlen(hex), 130);
    assert_memory_equal(hex, "04", 2);

    uint8_t msg[] = "checkpoint seq=42 head=abcdef";
    assert_int_equal(seal_p256_sign(key, msg, sizeof msg, sig, &slen), 0);
    assert_true(slen > 8 && slen <= SEAL_P256_SIG_MAX);
    assert_int_equal(seal_p256_verify(pub, sizeof pub, msg, sizeof msg, sig, slen), 0);

    for (size_t bit = 0; bit < 8 * sizeof msg; bit += 7) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(seal_p256_verify(pub, sizeof pub, msg, sizeof msg, sig, slen), -EBADMSG);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    sig[slen - 1] ^= 1;
    assert_int_equal(seal_p256_verify(pub, sizeof pub, msg, sizeof msg, sig, slen), -EBADMSG);
    sig[slen - 1] ^= 1;
    assert_int_equal(seal_p256_verify(opub, sizeof opub, msg, sizeof msg, sig, slen), -EBADMSG);
    assert_int_equal(seal_p256_verify(pub, sizeof pub - 1, msg, sizeof msg, sig, slen), -EINVAL);
    assert_int_equal(seal_p256_verify(pub, sizeof pub, msg, sizeof msg, sig, slen), 0);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void p256_sealed(void **state)
{
    struct seal_root root = random_root(), wrong = random_root();
    struct seal_kek kek = kek_of(&root, SEAL_POLICY_INSTANCE, NULL),
                    bad = kek_of(&wrong, SEAL_POLICY_INSTANCE, NULL);
    EVP_PKEY *key = NULL, *back = NULL;
    uint8_t blob[SEAL_P256_BLOB_MAX], pub[SEAL_P256_SPKI_LEN], pub2[SEAL_P256_SPKI_LEN];
    uint8_t sig[SEAL_P256_SIG_MAX];
    size_t blen = 0, slen = 0;
    assert_int_equal(seal_p256_new(&key), 0);
    assert_int_equal(seal_p256_public_der(key, pub), 0);
    assert_int_equal(seal_p256_wrap(&kek, "instance", key, blob, sizeof blob, &blen), 0);
    assert_true(blen > SEAL_OVERHEAD && blen <= SEAL_P256_BLOB_MAX);
    EVP_PKEY_free(key);

    assert_int_equal(seal_p256_unwrap(&kek, "instance", blob, blen, &back), 0);
    assert_non_null(back);
    assert_int_equal(seal_p256_public_der(back, pub2), 0);
    assert_memory_equal(pub, pub2, sizeof pub);
    const uint8_t msg[] = "head";
    assert_int_equal(seal_p256_sign(back, msg, sizeof msg, sig, &slen), 0);
    assert_int_equal(seal_p256_verify(pub, sizeof pub, msg, sizeof msg, sig, slen), 0);
    EVP_PKEY_free(back);

    assert_int_equal(seal_p256_unwrap(&bad, "instance", blob, blen, &back), -EBADMSG);
    assert_null(back);
    assert_int_equal(seal_p256_unwrap(&kek, "instance-2", blob, blen, &back), -EBADMSG);
    assert_null(back);
    blob[blen / 2] ^= 0x10;
    assert_int_equal(seal_p256_unwrap(&kek, "instance", blob, blen, &back), -EBADMSG);
    assert_null(back);
    assert_int_equal(seal_p256_wrap(&kek, "instance", NULL, blob, sizeof blob, &blen), -EINVAL);

    /* a wrapped DEK is not a key pair, even under the same KEK and id */
    uint8_t dek[SEAL_KEY_LEN], wrapped[SEAL_DEK_BLOB_LEN];
    assert_int_equal(seal_dek_new(dek), 0);
    assert_int_equal(seal_dek_wrap(&kek, "instance", dek, wrapped), 0);
    assert_int_equal(seal_p256_unwrap(&kek, "instance", wrapped, sizeof wrapped, &back), -EBADMSG);
    assert_null(back);
}

/* ---- DEK transfer to a peer key (key migration) ---- */

static EVP_PKEY *ec_key(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    assert_non_null(k);
    return k;
}

static void transfer_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *peer = ec_key("P-256"), *other = ec_key("P-256");
    const uint8_t binding[] = "report-data-and-source-key";
    uint8_t eph[SEAL_TRANSFER_SPKI_MAX], dek[SEAL_KEY_LEN], blob[SEAL_DEK_BLOB_LEN],
        out[SEAL_KEY_LEN];
    size_t eph_len;
    struct seal_transfer_key tk, rk;
    assert_int_equal(seal_dek_new(dek), 0);
    assert_int_equal(seal_transfer_begin(peer, binding, sizeof binding, eph, &eph_len, &tk), 0);
    assert_int_equal(seal_transfer_dek_wrap(&tk, "dek_1", dek, blob), 0);

    /* the peer derives the same key and opens it */
    assert_int_equal(seal_transfer_accept(peer, eph, eph_len, binding, sizeof binding, &rk), 0);
    assert_memory_equal(tk.key, rk.key, sizeof tk.key);
    assert_int_equal(seal_transfer_dek_unwrap(&rk, "dek_1", blob, sizeof blob, out), 0);
    assert_memory_equal(out, dek, sizeof dek);
    /* under another id, it does not open */
    assert_int_equal(seal_transfer_dek_unwrap(&rk, "dek_2", blob, sizeof blob, out), -EBADMSG);
    /* every flipped bit is caught */
    for (size_t i = 0; i < sizeof blob; i++) {
        blob[i] ^= 0x01;
        assert_int_equal(seal_transfer_dek_unwrap(&rk, "dek_1", blob, sizeof blob, out), -EBADMSG);
        blob[i] ^= 0x01;
    }
    /* another binding, or another private key: another transfer key, nothing opens */
    const uint8_t other_binding[] = "report-data-and-source-kez";
    assert_int_equal(seal_transfer_accept(peer, eph, eph_len, other_binding, sizeof other_binding, &rk), 0);
    assert_int_equal(seal_transfer_dek_unwrap(&rk, "dek_1", blob, sizeof blob, out), -EBADMSG);
    assert_int_equal(seal_transfer_accept(other, eph, eph_len, binding, sizeof binding, &rk), 0);
    assert_int_equal(seal_transfer_dek_unwrap(&rk, "dek_1", blob, sizeof blob, out), -EBADMSG);
    /* a fresh ephemeral key every time */
    uint8_t eph2[SEAL_TRANSFER_SPKI_MAX];
    size_t eph2_len;
    struct seal_transfer_key tk2;
    assert_int_equal(seal_transfer_begin(peer, binding, sizeof binding, eph2, &eph2_len, &tk2), 0);
    assert_memory_not_equal(tk.key, tk2.key, sizeof tk.key);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(other);
}

static void transfer_refuses_bad_points(void **state)
{
    (void)state;
    EVP_PKEY *peer = ec_key("P-256"), *k1 = ec_key("secp256k1");
    uint8_t eph[SEAL_TRANSFER_SPKI_MAX];
    size_t eph_len;
    struct seal_transfer_key tk;
    /* an ephemeral key on another curve */
    assert_int_equal(seal_transfer_begin(k1, NULL, 0, eph, &eph_len, &tk), 0);
    assert_int_equal(seal_transfer_accept(peer, eph, eph_len, NULL, 0, &tk), -EBADMSG);
    /* garbage, truncation, trailing bytes */
    assert_int_equal(seal_transfer_begin(peer, NULL, 0, eph, &eph_len, &tk), 0);
    assert_int_equal(seal_transfer_accept(peer, eph, eph_len - 1, NULL, 0, &tk), -EBADMSG);
    eph[eph_len - 5] ^= 0x40; /* a point off the curve */
    assert_int_equal(seal_transfer_accept(peer, eph, eph_len, NULL, 0, &tk), -EBADMSG);
    assert_int_equal(seal_transfer_accept(peer, eph, 0, NULL, 0, &tk), -EBADMSG);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(k1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policies),
        cmocka_unit_test(kek_known_answer),
        cmocka_unit_test(kek_inputs),
        cmocka_unit_test(dek_known_answer),
        cmocka_unit_test(dek_wrap_round_trip),
        cmocka_unit_test(measurement_policy),
        cmocka_unit_test(secret_known_answer),
        cmocka_unit_test(secret_round_trip),
        cmocka_unit_test(secret_bit_flips),
        cmocka_unit_test(secret_copied_to_another_row),
        cmocka_unit_test(nonces_unique),
        cmocka_unit_test_setup_teardown(root_created_then_reloaded, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(root_unsafe_file_refused, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(root_from_operator, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(root_from_environment, setup_dir, teardown_dir),
        cmocka_unit_test(p256_known_answer),
        cmocka_unit_test(p256_sign_verify),
        cmocka_unit_test(p256_sealed),
        cmocka_unit_test(transfer_round_trip),
        cmocka_unit_test(transfer_refuses_bad_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
