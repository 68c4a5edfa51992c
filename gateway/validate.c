#include "gateway/validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 64

const struct fn_limits fn_limits_default = {
    .timeout_ms = 5000, .memory_mb = 64, .max_fetches = 8, .max_output_bytes = 1048576};

static int name_like(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > maxlen) return 0;
    if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0]))) return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '_' || c == '-')) return 0;
    }
    return 1;
}

int valid_function_name(const char *s)
{
    return name_like(s, 63);
}

int valid_owner(const char *s)
{
    return name_like(s, 63);
}

int valid_secret_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = isalnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok || c > 127) return 0;
    }
    return 1;
}

int valid_entry(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c < 128 && isalpha(c)) || c == '_' || c == '$' || (i > 0 && isdigit(c));
        if (!ok) return 0;
    }
    return 1;
}

static const struct {
    const char *key;
    size_t off;
    int zero_ok;
} limit_keys[] = {
    {"timeout_ms", offsetof(struct fn_limits, timeout_ms), 0},
    {"memory_mb", offsetof(struct fn_limits, memory_mb), 0},
    {"max_fetches", offsetof(struct fn_limits, max_fetches), 1},
    {"max_output_bytes", offsetof(struct fn_limits, max_output_bytes), 0},
};

int limits_parse(const json_t *limits, const struct fn_limits *max, struct fn_limits *out,
                 char *err, size_t errlen)
{
    *out = fn_limits_default;
    /* a default above the operator's maximum is lowered to it */
    for (size_t i = 0; i < sizeof limit_keys / sizeof *limit_keys; i++) {
        int64_t *v = (int64_t *)((char *)out + limit_keys[i].off);
        int64_t m = *(const int64_t *)((const char *)max + limit_keys[i].off);
        if (*v > m) *v = m;
    }
    if (!limits || json_is_null(limits)) return 0;
    if (!json_is_object(limits)) {
        snprintf(err, errlen, "limits must be an object");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)limits, key, val) {
        size_t i;
        for (i = 0; i < sizeof limit_keys / sizeof *limit_keys; i++)
            if (strcmp(key, limit_keys[i].key) == 0) break;
        if (i == sizeof limit_keys / sizeof *limit_keys) {
            snprintf(err, errlen, "unknown limit '%.64s'", key);
            return -1;
        }
        int64_t m = *(const int64_t *)((const char *)max + limit_keys[i].off);
        if (!json_is_integer(val)) {
            snprintf(err, errlen, "limit %s must be an integer", key);
            return -1;
        }
        json_int_t v = json_integer_value(val);
        if (v < (limit_keys[i].zero_ok ? 0 : 1) || v > m) {
            snprintf(err, errlen, "limit %s must be between %d and %lld", key,
                     limit_keys[i].zero_ok ? 0 : 1, (long long)m);
            return -1;
        }
        *(int64_t *)((char *)out + limit_keys[i].off) = v;
    }
    return 0;
}

json_t *limits_to_json(const struct fn_limits *l)
{
    return json_pack("{sIsIsIsI}", "timeout_ms", (json_int_t)l->timeout_ms, "memory_mb",
                     (json_int_t)l->memory_mb, "max_fetches", (json_int_t)l->max_fetches,
                     "max_output_bytes", (json_int_t)l->max_output_bytes);
}

/* host, host:port or *.domain; letters, digits, '-' and '.'; lower-cased into out. */
static int host_entry_ok(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n == 0 || n >= outlen || n > 260) return 0;
    const char *colon = strrchr(in, ':');
    size_t hostlen = colon ? (size_t)(colon - in) : n;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || colon[1] == 0 || port < 1 || port > 65535) return 0;
    }
    size_t start = 0;
    if (hostlen > 2 && in[0] == '*' && in[1] == '.') start = 2;
    if (hostlen <= start || hostlen - start > 253) return 0;
    for (size_t i = start; i < hostlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(isalnum(c) || c == '-' || c == '.') || c > 127) return 0;
        if (c == '.' && (i == start || in[i - 1] == '.')) return 0;
    }
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = 0;
    return 1;
}

int allow_hosts_parse(const json_t *in, json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    if (!*out) return -1;
    if (!in || json_is_null(in)) return 0;
    if (!json_is_array(in) || json_array_size(in) > LIST_MAX) {
        snprintf(err, errlen, "allow_hosts must be an array of at most %d entries", LIST_MAX);
        goto bad;
    }
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)in, i, v) {
        char host[300];
        const char *h = json_is_string(v) ? json_string_value(v)
                        : json_is_object(v) ? json_string_value(json_object_get(v, "host"))
                                            : NULL;
        const json_t *pin = json_is_object(v) ? json_object_get(v, "pin") : NULL;
        if (!h || !host_entry_ok(h, host, sizeof host)) {
            snprintf(err, errlen, "allow_hosts[%zu] is not a host, host:port or *.domain", i);
            goto bad;
        }
        if (pin && (!json_is_string(pin) || strncmp(json_string_value(pin), "sha256//", 8) != 0)) {
            snprintf(err, errlen, "allow_hosts[%zu].pin must be \"sha256//BASE64\"", i);
            goto bad;
        }
        json_t *e = pin ? json_pack("{sssO}", "host", host, "pin", pin) : json_string(host);
        if (!e || json_array_append_new(*out, e)) goto bad;
    }
    return 0;
bad:
    json_decref(*out);
    *out = NULL;
    return -1;
}

int grants_parse(const json_t *in, json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    if (!*out) return -1;
    if (!in || json_is_null(in)) return 0;
    if (!json_is_array(in) || json_array_size(in) > LIST_MAX) {
        snprintf(err, errlen, "secrets must be an array of at most %d entries", LIST_MAX);
        goto bad;
    }
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)in, i, v) {
        const char *name = json_is_string(v) ? json_string_value(v)
                           : json_is_object(v) ? json_string_value(json_object_get(v, "name"))
                                               : NULL;
        if (!name || !valid_secret_name(name)) {
            snprintf(err, errlen, "secrets[%zu] is not a valid secret name", i);
            goto bad;
        }
        json_t *g = json_pack("{ss}", "name", name);
        if (!g) goto bad;
        const json_t *hosts = json_is_object(v) ? json_object_get(v, "hosts") : NULL;
        if (hosts) {
            json_t *norm;
            if (allow_hosts_parse(hosts, &norm, err, errlen)) {
                json_decref(g);
                goto bad;
            }
            json_object_set_new(g, "hosts", norm);
        }
        if (json_array_append_new(*out, g)) goto bad;
    }
    return 0;
bad:
    json_decref(*out);
    *out = NULL;
    return -1;
}

int isolation_parse(const char *s, int *snapshot)
{
    if (s && strcmp(s, "process") == 0) *snapshot = 0;
    else if (s && strcmp(s, "snapshot") == 0) *snapshot = 1;
    else return -EINVAL;
    return 0;
}

const char *isolation_name(int snapshot)
{
    return snapshot ? "snapshot" : "process";
}
