/* The sealing root: 32 secret bytes per instance from which every KEK derives (seal.h).
 * This is the one place a root comes from; a KMS- or hardware-derived root plugs in here.
 *
 * Sources, first match wins:
 *   1. root_file (the operator's --sealing-root-file): exactly 32 raw bytes, or 64 hex
 *      characters optionally followed by one newline. Symlinks are followed (mounted secrets
 *      are often symlinks) and its mode is the operator's business.
 *   2. the environment variable FNBOX_SEALING_ROOT: exactly 64 hex characters. Whenever the
 *      variable is present it is consumed: its value is overwritten in place and the variable
 *      unset, so neither processes forked later nor /proc/PID/environ show it. Load the root
 *      before forking anything.
 *   3. DATA/sealing.root: exactly 32 raw bytes in a regular file (not a symlink) owned by the
 *      effective uid, with no group or other permission bits (0600 or stricter). Anything
 *      else is refused with a clear message, never repaired or replaced. Missing at first
 *      start: 32 bytes from RAND_priv_bytes are written to a fresh temporary file in DATA
 *      (O_CREAT|O_EXCL, 0600), fsynced, linked into place with link(2) (which, unlike rename,
 *      never replaces a root that appeared meanwhile: the one already there wins), the
 *      directory fsynced, and the file then loaded like any other. An existing root is never
 *      overwritten. data_dir must exist.
 * A root of all zero bytes is refused from every source.
 *
 * Returns 0, or a negative errno (-EINVAL malformed, -EACCES unsafe ownership or mode,
 * -ENOENT missing operator file, -EIO ...) with a one-line reason in err. The root itself
 * never appears in a message; buffers that held it are wiped. */
#ifndef FNBOX_SEAL_ROOT_H
#define FNBOX_SEAL_ROOT_H

#include <stddef.h>

#include "secrets/seal.h"

#define SEAL_ROOT_FILE_NAME "sealing.root"
#define SEAL_ROOT_ENV "FNBOX_SEALING_ROOT"

enum seal_root_source {
    SEAL_ROOT_OPERATOR_FILE = 0,
    SEAL_ROOT_ENVIRONMENT,
    SEAL_ROOT_DATA_FILE,         /* DATA/sealing.root, already there */
    SEAL_ROOT_DATA_FILE_CREATED, /* DATA/sealing.root, created by this call */
};

/* source may be NULL. On failure *out is zeroed. */
int seal_root_load_or_create(const char *data_dir, const char *root_file, struct seal_root *out,
                             enum seal_root_source *source, char *err, size_t errlen);

/* "operator-file", "environment", "data-file", "data-file-created". */
const char *seal_root_source_name(enum seal_root_source s);

#endif
