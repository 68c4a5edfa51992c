#include "attestation/tsm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ATTR_WAIT_MS 2000  /* for the entry's attributes to appear */
#define QUOTE_WAIT_MS 2000 /* for an outblob that answers our inblob */
#define POLL_MS 5

struct tsm {
    char entry[PATH_MAX];
    enum quote_platform platform;
    pthread_mutex_t lock;
};

static void say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
    struct timespec ts = {0, POLL_MS * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int attr_path(const struct tsm *t, const char *attr, char *out, size_t cap)
{
    return snprintf(out, cap, "%s/%s", t->entry, attr) < (int)cap ? 0 : -ENAMETOOLONG;
}

/* Reads an attribute whole: up to cap bytes into buf (*n); -EFBIG when it holds more. */
static int read_attr(const struct tsm *t, const char *attr, uint8_t *buf, size_t cap, size_t *n)
{
    char path[PATH_MAX + 32];
    *n = 0;
    int rc = attr_path(t, attr, path, sizeof path);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    rc = 0;
    for (;;) {
        if (*n == cap) { /* full: one more byte means too large */
            uint8_t extra;
            ssize_t r = read(fd, &extra, 1);
            if (r < 0 && errno == EINTR) continue;
            rc = r == 0 ? 0 : r < 0 ? -errno : -EFBIG;
            break;
        }
        ssize_t r = read(fd, buf + *n, cap - *n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { rc = -errno; break; }
        if (r == 0) break;
        *n += (size_t)r;
    }
    close(fd);
    return rc;
}

/* A short text attribute (provider, generation) without its trailing newline. */
static int read_text(const struct tsm *t, const char *attr, char *out, size_t cap)
{
    size_t n;
    int rc = read_attr(t, attr, (uint8_t *)out, cap - 1, &n);
    if (rc) return rc;
    while (n && (out[n - 1] == '\n' || out[n - 1] == 0)) n--;
    out[n] = 0;
    return memchr(out, 0, n) ? -EBADMSG : 0;
}

static int write_inblob(const struct tsm *t, const uint8_t *data, size_t len)
{
    char path[PATH_MAX + 32];
    int rc = attr_path(t, "inblob", path, sizeof path);
    if (rc) return rc;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)w;
    }
    /* configfs hands a binary attribute's buffer to the driver on release: close's result is
     * the write's result */
    if (close(fd) < 0 && !rc) rc = -errno;
    return rc;
}

static const char *const ATTRS[] = {"inblob", "outblob", "provider", "generation"};

int tsm_open(const char *root, int chown_to_uid, uid_t uid, gid_t gid, struct tsm **out,
             char *why, size_t whylen)
{
    *out = NULL;
    say(why, whylen, "%s", "");
    char report[PATH_MAX];
    struct stat st;
    if (!root || snprintf(report, sizeof report, "%s/report", root) >= (int)sizeof report)
        return -ENAMETOOLONG;
    int bad = stat(report, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (bad) {
        say(why, whylen, "%s: %s: no configfs-tsm here (it needs Linux 6.7+ in a TDX or SEV-SNP "
            "guest, and configfs mounted)", report, strerror(bad));
        return -ENOENT;
    }
    struct tsm *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    if (snprintf(t->entry, sizeof t->entry, "%s/fnboxd-%ld", report, (long)getpid()) >=
        (int)sizeof t->entry) {
        free(t);
        return -ENAMETOOLONG;
    }
    int rc = 0;
    if (mkdir(t->entry, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        say(why, whylen, "cannot make %s: %s", t->entry, strerror(-rc));
        free(t);
        return rc;
    }
    /* the kernel makes the attributes with the entry; a stand-in may take a moment */
    int64_t deadline = now_ms() + ATTR_WAIT_MS;
    for (size_t i = 0; i < sizeof ATTRS / sizeof *ATTRS;) {
        char path[PATH_MAX + 32];
        if ((rc = attr_path(t, ATTRS[i], path, sizeof path))) break;
        if (access(path, F_OK) == 0) {
            i++;
            continue;
        }
        if (now_ms() > deadline) {
            rc = -ENOENT;
            say(why, whylen, "%s did not appear: %s is not configfs-tsm (and no stand-in answers)",
                path, report);
            break;
        }
        nap();
    }
    char provider[64];
    if (!rc && (rc = read_text(t, "provider", provider, sizeof provider)))
        say(why, whylen, "cannot read %s/provider: %s", t->entry, strerror(-rc));
    if (!rc && (t->platform = quote_platform_from_tsm(provider)) == QUOTE_NONE) {
        rc = -ENOTSUP;
        say(why, whylen, "configfs-tsm provider \"%.32s\" is not supported (tdx_guest, sev_guest)",
            provider);
    }
    if (!rc && chown_to_uid) {
        char path[PATH_MAX + 32];
        if ((rc = attr_path(t, "inblob", path, sizeof path)) == 0 &&
            (chown(t->entry, uid, gid) < 0 || chown(path, uid, gid) < 0)) {
            rc = -errno;
            say(why, whylen, "cannot hand %s to uid %u: %s", t->entry, (unsigned)uid,
                strerror(-rc));
        }
    }
    if (!rc && (rc = pthread_mutex_init(&t->lock, NULL)) != 0) rc = -rc;
    if (rc) {
        rmdir(t->entry); /* only works on real configfs, or an empty stand-in */
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

enum quote_platform tsm_platform(const struct tsm *t)
{
    return t ? t->platform : QUOTE_NONE;
}

/* One read of generation, outblob, generation: 0 with the quote when consistent and ours,
 * -EAGAIN (why says what) to try again, or another error. */
static int read_once(struct tsm *t, const uint8_t rd[QUOTE_REPORT_DATA_LEN], uint8_t *buf,
                     size_t *len, char *why, size_t whylen)
{
    char g1[32], g2[32];
    int rc = read_text(t, "generation", g1, sizeof g1);
    if (!rc) rc = read_attr(t, "outblob", buf, QUOTE_MAX, len);
    if (!rc) rc = read_text(t, "generation", g2, sizeof g2);
    if (rc) {
        say(why, whylen, "reading %s: %s", t->entry, strerror(-rc));
        return rc == -EFBIG ? rc : -EAGAIN;
    }
    if (strcmp(g1, g2) != 0) {
        say(why, whylen, "another writer changed %s while it was read (generation %.20s -> "
            "%.20s)", t->entry, g1, g2);
        return -EAGAIN;
    }
    struct quote_info qi;
    char qwhy[160];
    if (quote_parse(t->platform, buf, *len, &qi, qwhy, sizeof qwhy)) {
        say(why, whylen, "outblob refused: %s", qwhy);
        return -EAGAIN;
    }
    if (memcmp(qi.report_data, rd, QUOTE_REPORT_DATA_LEN) != 0) {
        say(why, whylen, "outblob carries other report data than was written to inblob");
        return -EAGAIN;
    }
    return 0;
}

int tsm_quote(struct tsm *t, const uint8_t report_data[QUOTE_REPORT_DATA_LEN], uint8_t **quote,
              size_t *len, char *why, size_t whylen)
{
    *quote = NULL;
    *len = 0;
    say(why, whylen, "%s", "");
    uint8_t *buf = malloc(QUOTE_MAX);
    if (!buf) return -ENOMEM;
    pthread_mutex_lock(&t->lock);
    int rc = write_inblob(t, report_data, QUOTE_REPORT_DATA_LEN);
    if (rc) say(why, whylen, "writing %s/inblob: %s", t->entry, strerror(-rc));
    int64_t deadline = now_ms() + QUOTE_WAIT_MS;
    while (!rc) {
        rc = read_once(t, report_data, buf, len, why, whylen);
        if (rc != -EAGAIN) break;
        if (now_ms() > deadline) {
            rc = -ETIMEDOUT; /* why: the last attempt's reason */
            break;
        }
        rc = 0;
        nap();
    }
    pthread_mutex_unlock(&t->lock);
    if (rc) {
        free(buf);
        *len = 0;
        return rc;
    }
    *quote = buf;
    return 0;
}

void tsm_close(struct tsm *t)
{
    if (!t) return;
    rmdir(t->entry);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
