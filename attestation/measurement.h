/* The measurement of this fnboxd: what it runs and how it is configured, as one SHA-256.
 *
 * measure_self hashes the executable (/proc/self/exe), measure_fd the zygote executable
 * (the one that runs user code; fnboxd execs exactly the bytes it hashed). measure_config
 * then hashes "fnbox-measurement-v1\n" "exe=" hex(exe hash) "\n" "zygote=" hex(zygote
 * hash) "\n" and one "key=value\n" line for each
 *   security-relevant setting, in a fixed order (seccomp policy version, limit maxima,
 *   egress lists sorted, private ranges sorted, max response bytes, sealing policy, instance
 *   key scheme),
 * so the same build with the same configuration always measures the same, and any change
 * to either changes it. measure_describe returns those exact bytes (for --measure).
 * The sealing policy `measurement` binds keys to the executable's hash alone (an operator
 * changing an allowlist must not lose every secret). The evidence provider (--attestation,
 * --tsm-root) is deliberately not measured: it decides how the evidence is made, not what
 * runs; each report names its provider and a tsm report carries the hardware's own quote,
 * so nothing is hidden by leaving it out, and --measure gives the same value on a build
 * machine without a TEE as on the TEE. 0 or a negative errno. */
#ifndef FNBOX_MEASUREMENT_H
#define FNBOX_MEASUREMENT_H

#include <stdint.h>

#include "gateway/config.h"

int measure_self(uint8_t out[32]);
int measure_fd(int fd, uint8_t out[32]);

/* The canonical description (malloc'd, NUL-terminated) and its SHA-256. */
int measure_config(const struct config *c, const uint8_t exe[32], const uint8_t zygote[32],
                   char **description, uint8_t out[32]);

#endif
