#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void fnbox_log(char level, const char *func, int line, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    char out[1400];
    int n;
    if (err)
        n = snprintf(out, sizeof out, "%s.%03ldZ %c [%d] %s:%d %s: %s\n", when,
                     ts.tv_nsec / 1000000, level, (int)getpid(), func, line, msg, strerror(err));
    else
        n = snprintf(out, sizeof out, "%s.%03ldZ %c [%d] %s:%d %s\n", when, ts.tv_nsec / 1000000,
                     level, (int)getpid(), func, line, msg);
    if (n < 0) return;
    if ((size_t)n >= sizeof out) n = sizeof out - 1;
    /* one write per line so lines from threads and processes do not interleave */
    ssize_t w = write(STDERR_FILENO, out, (size_t)n);
    (void)w;
}
