/* The measurement of this fnboxd: SHA-256 over its own executable (/proc/self/exe). The
 * attestation issue extends it with the security-relevant configuration. 0 or -errno. */
#ifndef FNBOX_MEASUREMENT_H
#define FNBOX_MEASUREMENT_H

#include <stdint.h>

int measure_self(uint8_t out[32]);

#endif
