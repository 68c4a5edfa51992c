/* Logging to stderr with the source location. Formats are checked by the compiler.
 * LOG_E/LOG_W/LOG_I print a message; PLOG_E appends strerror(errno).
 * Never pass a secret or a token to these. */
#ifndef FNBOX_LOG_H
#define FNBOX_LOG_H

#include <errno.h>

void fnbox_log(char level, const char *func, int line, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define LOG_E(...) fnbox_log('E', __func__, __LINE__, 0, __VA_ARGS__)
#define LOG_W(...) fnbox_log('W', __func__, __LINE__, 0, __VA_ARGS__)
#define LOG_I(...) fnbox_log('I', __func__, __LINE__, 0, __VA_ARGS__)
#define PLOG_E(...) fnbox_log('E', __func__, __LINE__, errno, __VA_ARGS__)
#define PLOG_W(...) fnbox_log('W', __func__, __LINE__, errno, __VA_ARGS__)

#endif
