#include "secrets/seal_root.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define HEX_LEN (2 * SEAL_KEY_LEN)

static const char *const source_names[] = {"operator-file", "environment", "data-file",
                                           "data-file-created"};

const char *seal_root_source_name(enum seal_root_source s)
{
    return (s >= SEAL_ROOT_OPERATOR_FILE && s <= SEAL_ROOT_DATA_FILE_CREATED) ? source_names[s]
                                                                              : "";
}

__attribute__((format(printf, 4, 5))) static int fail(int rc, char *err, size_t errlen,
                                                      const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 0 when in[0..HEX_LEN) are hex digits; out then holds the bytes. */
static int hex_decode(const char *in, uint8_t out[SEAL_KEY_LEN])
{
    for (size_t i = 0; i < SEAL_KEY_LEN; i++) {
        int hi = hex_digit((unsigned char)in[2 * i]), lo = hex_digit((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out, SEAL_KEY_LEN);
            return -EINVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int all_zero(const uint8_t k[SEAL_KEY_LEN])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        acc |= k[i];
    return acc == 0;
}

/* Reads up to cap bytes (stops at end of file); *n receives the count. */
static int read_upto(int fd, uint8_t *buf, size_t cap, size_t *n)
{
    *n = 0;
    while (*n < cap) {
        ssize_t r = read(fd, buf + *n, cap - *n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) break;
        *n += (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static int from_operator_file(const char *path, struct seal_root *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return fail(-e, err, errlen, "sealing root file %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(-EINVAL, err, errlen, "sealing root file %s: not a regular file", path);
    }
    uint8_t buf[HEX_LEN + 2];
    size_t n = 0;
    int rc = read_upto(fd, buf, sizeof buf, &n);
    close(fd);
    if (rc) {
        OPENSSL_cleanse(buf, sizeof buf);
        return fail(rc, err, errlen, "sealing root file %s: %s", path, strerror(-rc));
    }
    if (n == SEAL_KEY_LEN)
        memcpy(out->key, buf, SEAL_KEY_LEN);
    else if (n == HEX_LEN || (n == HEX_LEN + 1 && buf[HEX_LEN] == '\n'))
        rc = hex_decode((const char *)buf, out->key);
    else
        rc = -EINVAL;
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc)
        return fail(rc, err, errlen,
                    "sealing root file %s: must hold exactly 32 raw bytes or 64 hex characters",
                    path);
    return 0;
}

/* Reads the value, then wipes it in place and unsets the variable. */
static int from_environment(char *value, struct seal_root *out, char *err, size_t errlen)
{
    size_t n = strlen(value);
    int rc = n == HEX_LEN ? hex_decode(value, out->key) : -EINVAL;
    OPENSSL_cleanse(value, n);
    unsetenv(SEAL_ROOT_ENV);
    if (rc) return fail(rc, err, errlen, SEAL_ROOT_ENV " must be exactly 64 hex characters");
    return 0;
}

/* Loads DATA/sealing.root; -ENOENT (err untouched) when there is none. */
static int load_data_file(const char *path, struct seal_root *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) return -ENOENT;
    if (fd < 0 && errno == ELOOP)
        return fail(-EACCES, err, errlen, "%s is a symbolic link: refusing to use it", path);
    if (fd < 0) {
        int e = errno;
        return fail(-e, err, errlen, "%s: %s", path, strerror(e));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = fail(-errno, err, errlen, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = fail(-EACCES, err, errlen, "%s is not a regular file: refusing to use it", path);
    else if (st.st_uid != geteuid())
        rc = fail(-EACCES, err, errlen,
                  "%s is owned by uid %u, not by this process (uid %u): refusing to use it", path,
                  (unsigned)st.st_uid, (unsigned)geteuid());
    else if (st.st_mode & (S_IRWXG | S_IRWXO))
        rc = fail(-EACCES, err, errlen,
                  "%s has mode %04o: group or others may access it; refusing to use it "
                  "(chmod 600 it if it has not leaked)",
                  path, (unsigned)(st.st_mode & 07777));
    else if (st.st_size != SEAL_KEY_LEN)
        rc = fail(-EINVAL, err, errlen, "%s is %lld bytes, not %d: refusing to use it", path,
                  (long long)st.st_size, SEAL_KEY_LEN);
    if (rc) {
        close(fd);
        return rc;
    }
    uint8_t buf[SEAL_KEY_LEN + 1];
    size_t n = 0;
    rc = read_upto(fd, buf, sizeof buf, &n);
    close(fd);
    if (!rc && n != SEAL_KEY_LEN) rc = -EINVAL;
    if (!rc) memcpy(out->key, buf, SEAL_KEY_LEN);
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc) return fail(rc, err, errlen, "%s: could not read exactly 32 bytes", path);
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Creates DATA/sealing.root unless it exists by the time it is linked into place. */
static int create_data_file(const char *dir, const char *path, char *err, size_t errlen)
{
    uint8_t key[SEAL_KEY_LEN], tag[8];
    char tmp[PATH_MAX];
    if (RAND_bytes(tag, sizeof tag) != 1)
        return fail(-EIO, err, errlen, "the random generator failed");
    int len = snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%02x%02x%02x%02x%02x%02x%02x%02x", dir,
                       SEAL_ROOT_FILE_NAME, (long)getpid(), tag[0], tag[1], tag[2], tag[3], tag[4],
                       tag[5], tag[6], tag[7]);
    if (len < 0 || (size_t)len >= sizeof tmp)
        return fail(-ENAMETOOLONG, err, errlen, "%s: path too long", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        return fail(-e, err, errlen, "cannot create the sealing root in %s: %s", dir, strerror(e));
    }
    int rc = 0;
    if (fchmod(fd, 0600) != 0) rc = -errno;
    if (!rc && RAND_priv_bytes(key, sizeof key) != 1) rc = -EIO;
    if (!rc) rc = write_all(fd, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    if (!rc && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && !rc) rc = -errno;
    if (!rc && link(tmp, path) != 0 && errno != EEXIST) rc = -errno; /* EEXIST: theirs wins */
    if (unlink(tmp) != 0 && !rc) rc = -errno;
    if (!rc) rc = fsync_dir(dir);
    if (rc) {
        unlink(tmp);
        return fail(rc, err, errlen, "cannot create %s: %s", path, strerror(-rc));
    }
    return 0;
}

static int from_data_dir(const char *dir, struct seal_root *out, enum seal_root_source *source,
                         char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (!dir || !*dir) return fail(-EINVAL, err, errlen, "no data directory given");
    int len = snprintf(path, sizeof path, "%s/%s", dir, SEAL_ROOT_FILE_NAME);
    if (len < 0 || (size_t)len >= sizeof path)
        return fail(-ENAMETOOLONG, err, errlen, "%s: path too long", dir);
    *source = SEAL_ROOT_DATA_FILE;
    int rc = load_data_file(path, out, err, errlen);
    if (rc != -ENOENT) return rc;
    rc = create_data_file(dir, path, err, errlen);
    if (rc) return rc;
    *source = SEAL_ROOT_DATA_FILE_CREATED;
    rc = load_data_file(path, out, err, errlen);
    if (rc == -ENOENT) return fail(-EIO, err, errlen, "%s vanished after creation", path);
    return rc;
}

int seal_root_load_or_create(const char *data_dir, const char *root_file, struct seal_root *out,
                             enum seal_root_source *source, char *err, size_t errlen)
{
    enum seal_root_source src = SEAL_ROOT_OPERATOR_FILE;
    char *env = getenv(SEAL_ROOT_ENV);
    int rc;
    if (err && errlen) err[0] = 0;
    memset(out, 0, sizeof *out);
    if (root_file) {
        rc = from_operator_file(root_file, out, err, errlen);
        if (env) { /* consumed even when unused: no child should inherit it */
            OPENSSL_cleanse(env, strlen(env));
            unsetenv(SEAL_ROOT_ENV);
        }
    } else if (env) {
        src = SEAL_ROOT_ENVIRONMENT;
        rc = from_environment(env, out, err, errlen);
    } else {
        rc = from_data_dir(data_dir, out, &src, err, errlen);
    }
    if (!rc && all_zero(out->key))
        rc = fail(-EINVAL, err, errlen, "the sealing root (%s) is all zero bytes: refusing it",
                  seal_root_source_name(src));
    if (rc) {
        OPENSSL_cleanse(out, sizeof *out);
        return rc;
    }
    if (source) *source = src;
    return 0;
}
