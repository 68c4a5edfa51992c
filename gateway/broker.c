#include "gateway/broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/proto.h"
#include "gateway/fetch.h"
#include "gateway/keyring.h"
#include "gateway/metrics.h"
#include "gateway/validate.h"

static int refuse(struct tlv_writer *reply, const char *message)
{
    int rc = tlv_put_u64(reply, REPLY_OK, 0);
    return rc ? rc : tlv_put_str(reply, REPLY_ERROR, message);
}

static int granted(struct broker *b, const char *name)
{
    if (!b->grants) b->grants = json_loads(b->fn->secrets_json, 0, NULL);
    size_t i;
    json_t *g;
    json_array_foreach(b->grants, i, g) {
        const char *n = json_string_value(json_object_get(g, "name"));
        if (n && strcmp(n, name) == 0) return 1;
    }
    return 0;
}

static int audit(struct broker *b, const char *secret, const char *outcome)
{
    struct audit_record a = {.time = (int64_t)time(NULL),
                             .actor = b->caller,
                             .action = "secret.get",
                             .function = b->fn->name,
                             .version = b->fn->version,
                             .invocation_id = b->invocation_id,
                             .secret = secret,
                             .outcome = outcome};
    return store_audit_append(b->app->store, &a);
}

static json_t *grant_hosts(struct broker *b, const char *name)
{
    size_t i;
    json_t *g;
    json_array_foreach(b->grants, i, g) {
        const char *n = json_string_value(json_object_get(g, "name"));
        if (n && strcmp(n, name) == 0) return json_object_get(g, "hosts");
    }
    return NULL;
}

static void remember(struct broker *b, const char *name, const uint8_t *value, size_t len)
{
    json_t *hosts = grant_hosts(b, name); /* NULL: unbound, may go to any allowlisted host */
    if (len == 0) return;
    for (size_t i = 0; i < b->nseen; i++)
        if (b->seen[i].len == len && memcmp(b->seen[i].value, value, len) == 0) return;
    if (b->nseen == SEEN_SECRETS_MAX) return;
    struct seen_secret *s = &b->seen[b->nseen];
    s->value = malloc(len);
    if (!s->value) return;
    memcpy(s->value, value, len);
    s->len = len;
    snprintf(s->name, sizeof s->name, "%.128s", name);
    s->hosts = hosts ? json_incref(hosts) : NULL;
    b->nseen++;
}

static int secrets_get(struct broker *b, const char *name, struct tlv_writer *reply)
{
    char message[200];
    snprintf(message, sizeof message, "secret '%.128s' is not available to this function", name);
    if (!valid_secret_name(name)) {
        audit(b, NULL, "denied");
        return refuse(reply, "secret names match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    struct secret_row row;
    int rc = granted(b, name) ? store_secret_get(b->app->store, b->fn->owner, name, &row) : -ENOENT;
    if (rc == -ENOENT) {
        audit(b, name, "denied");
        return refuse(reply, message);
    }
    if (rc) {
        audit(b, name, "error");
        return refuse(reply, "the secret store is unavailable");
    }
    struct seal_secret_id id = {.owner = b->fn->owner, .name = name, .version = (uint64_t)row.version};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    rc = keyring_open_secret(b->app->keyring, row.dek_id, &id, row.blob, row.blob_len, &pt, &pt_len);
    secret_row_free(&row);
    if (rc) {
        audit(b, name, "unseal_failed");
        return refuse(reply, "the secret could not be unsealed");
    }
    if (audit(b, name, "ok") != 0) { /* fail closed: no record, no value */
        seal_wipe(pt, pt_len);
        free(pt);
        return refuse(reply, "the audit log is unavailable; the secret was not delivered");
    }
    rc = tlv_put_u64(reply, REPLY_OK, 1);
    if (!rc) rc = tlv_put(reply, REPLY_VALUE, pt, pt_len);
    if (!rc) remember(b, name, pt, pt_len);
    if (!rc && b->secrets_read) {
        size_t i;
        json_t *n;
        int seen = 0;
        json_array_foreach(b->secrets_read, i, n) seen |= strcmp(json_string_value(n), name) == 0;
        if (!seen) json_array_append_new(b->secrets_read, json_string(name));
    }
    seal_wipe(pt, pt_len);
    free(pt);
    return rc;
}

static int refuse_code(struct tlv_writer *reply, const char *code, const char *message)
{
    int rc = refuse(reply, message);
    return rc ? rc : tlv_put_str(reply, REPLY_CODE, code);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes src into dst (at most n bytes); plus_space: '+' means ' ' (forms). */
static size_t pct_decode(const uint8_t *src, size_t n, uint8_t *dst, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (src[i] == '%' && i + 2 < n && (hi = hexval(src[i + 1])) >= 0 &&
            (lo = hexval(src[i + 2])) >= 0) {
            dst[o++] = (uint8_t)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = (plus_space && src[i] == '+') ? ' ' : src[i];
        }
    }
    return o;
}

/* Whether hay carries needle: as is, percent-encoded (encodeURIComponent), or form-encoded. A
 * function can always encode a value some other way first; this catches the ordinary ways. */
static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    if (!m || !hay || n < m) return 0;
    if (memmem(hay, n, needle, m)) return 1;
    uint8_t *dec = malloc(n);
    if (!dec) return 1; /* cannot tell: treat as carried (fail closed) */
    int found = 0;
    for (int plus = 0; plus < 2 && !found; plus++) {
        size_t d = pct_decode(hay, n, dec, plus);
        found = d >= m && memmem(dec, d, needle, m) != NULL;
    }
    seal_wipe(dec, n);
    free(dec);
    return found;
}

/* The first remembered secret that this request would carry to a host it is not bound to. */
static const struct seen_secret *egress_violation(struct broker *b, const struct fetch_target *t,
                                                  const char *url, const json_t *headers,
                                                  const uint8_t *body, size_t body_len)
{
    int def = strcmp(t->scheme, "https") == 0 ? 443 : 80;
    for (size_t i = 0; i < b->nseen; i++) {
        const struct seen_secret *s = &b->seen[i];
        if (!s->hosts) continue; /* not bound */
        int carried = contains((const uint8_t *)url, strlen(url), s->value, s->len) ||
                      contains(body, body_len, s->value, s->len);
        const char *name;
        json_t *v;
        json_object_foreach((json_t *)headers, name, v) {
            carried = carried ||
                      contains((const uint8_t *)name, strlen(name), s->value, s->len) ||
                      contains((const uint8_t *)json_string_value(v), json_string_length(v),
                               s->value, s->len);
        }
        if (!carried) continue;
        int bound = 0;
        size_t j;
        json_t *h;
        json_array_foreach(s->hosts, j, h) {
            const char *entry = json_is_string(h) ? json_string_value(h)
                                                  : json_string_value(json_object_get(h, "host"));
            if (entry && egress_host_allowed(entry, t->host, t->port, def)) bound = 1;
        }
        if (!bound) return s;
    }
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int do_fetch(struct broker *b, const char *url, const char *method, const char *headers_json,
                    const uint8_t *body, size_t body_len, int has_body, uint64_t timeout_ms,
                    struct tlv_writer *reply)
{
    struct app *app = b->app;
    if (++b->fetch_count > b->max_fetches) {
        metrics_fetch(NULL, FETCH_ERR_TOO_MANY, 0, 0);
        return refuse_code(reply, FETCH_ERR_TOO_MANY, "this invocation made more fetches than "
                                                      "limits.max_fetches allows");
    }
    if (!b->allow_hosts) b->allow_hosts = json_loads(b->fn->allow_hosts_json, 0, NULL);
    json_t *headers = headers_json ? json_loads(headers_json, 0, NULL) : json_object();
    if (!json_is_object(headers)) {
        json_decref(headers);
        return refuse_code(reply, FETCH_ERR_INVALID, "headers must be an object of strings");
    }
    struct fetch_target t;
    struct fetch_error e = {0};
    struct fetch_response res;
    int rc;
    if (fetch_prepare(&app->egress, b->allow_hosts, url, headers, &t, &e) != 0) {
        metrics_fetch(NULL, e.code, 0, 0);
        rc = refuse_code(reply, e.code, e.msg);
        json_decref(headers);
        return rc;
    }
    const struct seen_secret *leak = egress_violation(b, &t, url, headers, body, body_len);
    if (leak) {
        struct audit_record a = {.time = (int64_t)time(NULL), .actor = b->caller,
                                 .action = "secret.egress", .function = b->fn->name,
                                 .version = b->fn->version, .invocation_id = b->invocation_id,
                                 .secret = leak->name, .outcome = "denied"};
        store_audit_append(app->store, &a);
        metrics_fetch(t.host, FETCH_ERR_SECRET, 0, 0);
        char msg[300];
        snprintf(msg, sizeof msg, "secret '%.128s' may not be sent to %.100s", leak->name, t.host);
        json_decref(headers);
        return refuse_code(reply, FETCH_ERR_SECRET, msg);
    }
    int64_t left = b->deadline_ms - now_ms() - 50; /* leave the worker time to answer */
    int64_t limit = timeout_ms ? (int64_t)timeout_ms : FETCH_DEFAULT_TIMEOUT_MS;
    if (limit > left) limit = left;
    rc = fetch_perform(&app->egress, &t, url, method, headers, has_body ? body : NULL, body_len,
                       limit, &res, &e);
    json_decref(headers);
    if (rc) {
        metrics_fetch(t.host, e.code, 0, 0);
        return refuse_code(reply, e.code, e.msg);
    }
    metrics_fetch(t.host, "ok", res.body_len, res.seconds);
    /* The response goes to the caller (and into signed receipts): a URL that carries a secret
     * read in this invocation is recorded without its path and query. */
    char redacted[400];
    const char *prov_url = res.final_url;
    for (size_t i = 0; i < b->nseen; i++) {
        if (!contains((const uint8_t *)res.final_url, strlen(res.final_url), b->seen[i].value,
                      b->seen[i].len))
            continue;
        snprintf(redacted, sizeof redacted, "%s://%.255s:%d/[redacted]", t.scheme, t.host, t.port);
        prov_url = redacted;
        break;
    }
    json_t *prov = json_pack("{sssIss}", "url", prov_url, "status", (json_int_t)res.status,
                             "response_sha256", res.body_sha256);
    if (prov && res.tls_peer_sha256[0])
        json_object_set_new(prov, "tls_peer_sha256", json_string(res.tls_peer_sha256));
    if (prov) json_array_append_new(b->fetches, prov);
    char *hdrs = json_dumps(res.headers, JSON_COMPACT);
    rc = tlv_put_u64(reply, REPLY_OK, 1);
    if (!rc) rc = tlv_put_u64(reply, REPLY_STATUS, (uint64_t)res.status);
    if (!rc) rc = hdrs ? tlv_put_str(reply, REPLY_HEADERS, hdrs) : -ENOMEM;
    if (!rc) rc = tlv_put_str(reply, REPLY_URL, res.final_url);
    if (!rc) rc = tlv_put(reply, REPLY_VALUE, res.body, res.body_len);
    free(hdrs);
    fetch_response_free(&res);
    return rc;
}

int broker_answer(void *arg, const uint8_t *call, size_t len, struct tlv_writer *reply)
{
    struct broker *b = arg;
    struct tlv_reader r = {.p = call, .left = len};
    uint16_t tag;
    const uint8_t *d;
    size_t n;
    char op[32] = "", name[160] = "", method[16] = "GET";
    char *url = NULL, *headers = NULL;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    uint64_t timeout_ms = 0;
    int rc, have_name = 0, has_body = 0, bad = 0;
    while (!bad && (rc = tlv_next(&r, &tag, &d, &n)) == 1) {
        char *dst = tag == CALL_OP ? op : tag == CALL_NAME ? name : tag == CALL_METHOD ? method : NULL;
        size_t cap = tag == CALL_OP ? sizeof op : tag == CALL_NAME ? sizeof name : sizeof method;
        if (tag == CALL_URL || tag == CALL_HEADERS) {
            char **out = tag == CALL_URL ? &url : &headers;
            free(*out);
            *out = memchr(d, 0, n) ? NULL : strndup((const char *)d, n);
            bad = !*out;
        } else if (tag == CALL_BODY) {
            body = d, body_len = n, has_body = 1;
        } else if (tag == CALL_TIMEOUT_MS) {
            bad = tlv_get_u64(d, n, &timeout_ms) != 0;
        } else if (tag == CALL_NAME && (n >= cap || memchr(d, 0, n))) {
            name[0] = 0; /* an impossible name: refused and audited like any invalid one */
            have_name = 1;
        } else if (dst) {
            if (n >= cap || memchr(d, 0, n)) bad = 1;
            else {
                memcpy(dst, d, n);
                dst[n] = 0;
                if (tag == CALL_NAME) have_name = 1;
            }
        }
    }
    if (bad || rc < 0) rc = refuse_code(reply, FETCH_ERR_INVALID, "malformed host call");
    else if (strcmp(op, CALL_OP_SECRETS_GET) == 0 && have_name) rc = secrets_get(b, name, reply);
    else if (strcmp(op, CALL_OP_FETCH) == 0 && url)
        rc = do_fetch(b, url, method, headers, body, body_len, has_body, timeout_ms, reply);
    else rc = refuse(reply, "unknown host call");
    free(url);
    free(headers);
    return rc;
}

void broker_release(struct broker *b)
{
    json_decref(b->grants);
    json_decref(b->allow_hosts);
    json_decref(b->fetches);
    json_decref(b->secrets_read);
    b->grants = b->allow_hosts = b->fetches = b->secrets_read = NULL;
    for (size_t i = 0; i < b->nseen; i++) {
        seal_wipe(b->seen[i].value, b->seen[i].len);
        free(b->seen[i].value);
        json_decref(b->seen[i].hosts);
    }
    b->nseen = 0;
}
