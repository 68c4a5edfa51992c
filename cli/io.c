#include "cli/io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

void fnbox_errf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fnbox: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fnbox_wipe_free(void *p, size_t n)
{
    if (p == NULL) return;
    explicit_bzero(p, n);
    free(p);
}

/* A growable byte buffer whose old copies are wiped when it moves. */
struct growbuf {
    char *p;
    size_t len, cap, max;
};

/* Makes room for `more` bytes plus a NUL; 0, or -1 with errno (ENOMEM, EFBIG). */
static int growbuf_reserve(struct growbuf *b, size_t more)
{
    if (more > b->max - b->len) {
        errno = EFBIG;
        return -1;
    }
    size_t need = b->len + more + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = malloc(cap);
    if (p == NULL) return -1;
    if (b->p != NULL) memcpy(p, b->p, b->len);
    fnbox_wipe_free(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Reads fd to EOF, or (stop_at_newline) up to and including the first newline; at most max
 * bytes (EFBIG beyond). */
static int read_fd(int fd, size_t max, bool stop_at_newline, struct growbuf *b)
{
    b->max = max + 1; /* room for one byte too many is how "too big" is seen */
    for (;;) {
        size_t chunk = stop_at_newline ? 256 : 65536;
        if (chunk > b->max - b->len) chunk = b->max - b->len;
        if (growbuf_reserve(b, chunk) != 0) return -1;
        ssize_t r = read(fd, b->p + b->len, chunk);
        if (r < 0) return -1; /* EINTR included: the prompt relies on it */
        if (r == 0) break;
        b->len += (size_t)r;
        b->p[b->len] = '\0';
        if (b->len > max) {
            errno = EFBIG;
            return -1;
        }
        if (stop_at_newline && memchr(b->p + b->len - (size_t)r, '\n', (size_t)r) != NULL) break;
    }
    if (b->p == NULL && growbuf_reserve(b, 0) != 0) return -1;
    b->p[b->len] = '\0';
    return 0;
}

int fnbox_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    int fd = STDIN_FILENO;
    if (strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
    }
    struct growbuf b = {0};
    int rc = read_fd(fd, max, false, &b);
    int saved = errno;
    if (fd != STDIN_FILENO) close(fd);
    if (rc != 0) {
        fnbox_wipe_free(b.p, b.cap);
        errno = saved;
        return -1;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSIG_PROMPT (sizeof prompt_signals / sizeof prompt_signals[0])

static int read_secret_tty(const char *prompt, size_t max, struct growbuf *b)
{
    struct termios old;
    if (tcgetattr(STDIN_FILENO, &old) != 0) return -1;

    struct sigaction sa, saved_sa[NSIG_PROMPT];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the read returns EINTR */
    sigemptyset(&sa.sa_mask);
    got_signal = 0;
    for (size_t i = 0; i < NSIG_PROMPT; i++) {
        if (sigaction(prompt_signals[i], &sa, &saved_sa[i]) != 0) {
            while (i-- > 0)
                sigaction(prompt_signals[i], &saved_sa[i], NULL);
            return -1;
        }
        if (saved_sa[i].sa_handler == SIG_IGN) /* ignored on entry: stays ignored */
            sigaction(prompt_signals[i], &saved_sa[i], NULL);
    }

    struct termios quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    int rc = -1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0) {
        fputs(prompt, stderr);
        fflush(stderr);
        rc = read_fd(STDIN_FILENO, max, true, b);
        int saved = errno;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        if (got_signal) fputc('\n', stderr);
        errno = saved;
    }
    int saved = errno;
    for (size_t i = 0; i < NSIG_PROMPT; i++)
        sigaction(prompt_signals[i], &saved_sa[i], NULL);
    if (got_signal) {
        fnbox_wipe_free(b->p, b->cap);
        b->p = NULL;
        raise(got_signal); /* the saved disposition decides, normally: terminate */
        saved = EINTR;
        rc = -1;
    }
    errno = saved;
    return rc;
}

int fnbox_read_secret(const char *prompt, size_t max, char **out, size_t *out_len)
{
    struct growbuf b = {0};
    int rc;
    if (isatty(STDIN_FILENO))
        rc = read_secret_tty(prompt, max, &b);
    else
        rc = read_fd(STDIN_FILENO, max, false, &b);
    if (rc != 0) {
        int saved = errno;
        fnbox_wipe_free(b.p, b.cap);
        errno = saved;
        return -1;
    }
    /* one trailing newline ("\n" or "\r\n") is the end of the line, not part of the value */
    if (b.len > 0 && b.p[b.len - 1] == '\n') b.len--;
    if (b.len > 0 && b.p[b.len - 1] == '\r') b.len--;
    b.p[b.len] = '\0';
    *out = b.p;
    *out_len = b.len;
    return 0;
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

int fnbox_stop_on_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = (int)SA_RESETHAND; /* no SA_RESTART: a sleep ends at once */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0) return -1;
        if (old.sa_handler == SIG_IGN) continue; /* ignored on entry (nohup): stays ignored */
        if (sigaction(sigs[i], &sa, NULL) != 0) return -1;
    }
    return 0;
}

bool fnbox_stop_requested(void)
{
    return stop_signal != 0;
}

void fnbox_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (!stop_signal && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double fnbox_monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fnbox_check(bool ok, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-7s%s: ", ok ? "ok" : "FAILED", what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    return ok ? 0 : 1;
}
