/* Pure checks of what callers send: names, limits, allowlists, grants. No I/O.
 * Each *_parse function returns 0, or -1 with a message for the caller in err. */
#ifndef FNBOX_VALIDATE_H
#define FNBOX_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct fn_limits {
    int64_t timeout_ms;
    int64_t memory_mb;
    int64_t max_fetches;
    int64_t max_output_bytes;
};

extern const struct fn_limits fn_limits_default;

/* A version's isolation between invocations: "process" (0, the default: a fresh process
 * each) or "snapshot" (1: a snapshot worker, its heap reset to the compiled state each time).
 * 0, or -EINVAL for anything else (NULL included). */
int isolation_parse(const char *s, int *snapshot);
const char *isolation_name(int snapshot);

int valid_function_name(const char *s); /* [a-z0-9][a-z0-9_-]{0,62} */
int valid_owner(const char *s);         /* same shape as a function name */
int valid_secret_name(const char *s);   /* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
int valid_entry(const char *s);         /* a JS identifier, at most 128 bytes */

/* limits: a JSON object or NULL (defaults). Unknown keys, non-integers, values <= 0
 * (max_fetches may be 0) or above max are refused. */
int limits_parse(const json_t *limits, const struct fn_limits *max, struct fn_limits *out,
                 char *err, size_t errlen);
json_t *limits_to_json(const struct fn_limits *l);

/* allow_hosts: NULL or an array (<= 64) of "host", "host:port", "*.domain" or
 * {"host": ..., "pin": "sha256//BASE64"}. On success *out is a normalised copy (lower case). */
int allow_hosts_parse(const json_t *in, json_t **out, char *err, size_t errlen);

/* secrets: NULL or an array (<= 64) of names or {"name": ..., "hosts": [...]}.
 * *out is a normalised array of {"name", "hosts"?} objects. */
int grants_parse(const json_t *in, json_t **out, char *err, size_t errlen);

#endif
