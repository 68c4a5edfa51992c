/* io: local input and diagnostics of the fnbox CLI (files, stdin, the terminal, stderr).
 * - fnbox_read_file(): the whole of PATH ("-" = stdin) into a NUL-terminated malloc'd buffer of
 *   at most max bytes; 0, or -1 with errno set (EFBIG when larger than max).
 * - fnbox_read_secret(): a secret value. On a terminal: prompt on stderr, one line read with
 *   echo off (the terminal is restored, also on SIGINT/SIGTERM/SIGHUP, which then still end
 *   the process). Otherwise all of stdin minus one trailing newline. Buffers it drops are
 *   wiped. 0, or -1 with errno set. The caller wipes and frees *out.
 * - fnbox_wipe_free(): wipe then free a buffer of n bytes.
 * - fnbox_errf(): "fnbox: " + message + newline on stderr. Never pass it a token or secret.
 * - fnbox_stop_on_signals(): SIGINT, SIGTERM and SIGHUP (unless ignored on entry) no longer end
 *   the process but set a flag that fnbox_stop_requested() reports; a second one ends it as
 *   usual. fnbox_sleep_ms() sleeps, returning early once a stop was requested.
 *   fnbox_monotonic_s(): CLOCK_MONOTONIC in seconds. */
#ifndef FNBOX_CLI_IO_H
#define FNBOX_CLI_IO_H

#include <stdbool.h>
#include <stddef.h>

int fnbox_read_file(const char *path, size_t max, char **out, size_t *out_len);
int fnbox_read_secret(const char *prompt, size_t max, char **out, size_t *out_len);
void fnbox_wipe_free(void *p, size_t n);
void fnbox_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fnbox_stop_on_signals(void);
bool fnbox_stop_requested(void);
void fnbox_sleep_ms(long ms);
double fnbox_monotonic_s(void);

/* One verdict line, "ok     what: detail" or "FAILED what: detail"; returns 1 when it
 * failed (for counting). */
int fnbox_check(bool ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
