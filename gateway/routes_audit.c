/* Audit routes (admin): the log with filters and its head, and a verification walk. A read
 * is itself audited; so is a refused one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/checkpoint.h"
#include "gateway/handlers.h"

static int admin_only(struct request *r)
{
    if (r->who.role == ROLE_ADMIN) return 1;
    struct audit_record a = {.time = now_unix(), .actor = r->who.owner, .action = "audit.read",
                             .outcome = "denied"};
    store_audit_append(r->app->store, &a);
    http_reply_error(r, 403, "forbidden", "only admins read the audit log");
    return 0;
}

static int query_int(struct request *r, const char *key, int64_t def, int64_t min, int64_t max,
                     int64_t *out)
{
    const char *v = http_query(r, key);
    if (!v) {
        *out = def;
        return 1;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max) {
        http_reply_error(r, 400, "invalid_request", "%s must be an integer in %lld..%lld", key,
                         (long long)min, (long long)max);
        return 0;
    }
    *out = n;
    return 1;
}

/* One JSON entry per line: the export format. */
static void reply_jsonl(struct request *r, json_t *entries)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    size_t i;
    json_t *e;
    int bad = !f;
    json_array_foreach(entries, i, e) {
        if (bad || json_dumpf(e, f, JSON_COMPACT) != 0 || fputc('\n', f) == EOF) bad = 1;
    }
    if (f && fclose(f) != 0) bad = 1;
    json_decref(entries);
    if (bad) {
        free(buf);
        http_reply_error(r, 500, "internal", "cannot export the audit log");
        return;
    }
    http_reply_text(r, 200, buf, size, "application/x-ndjson");
}

void h_audit_list(struct request *r, char *p[MAX_PARAMS])
{
    if (!admin_only(r)) return;
    struct audit_filter f = {.function = http_query(r, "function"),
                             .secret = http_query(r, "secret"),
                             .actor = http_query(r, "actor"),
                             .outcome = http_query(r, "outcome")};
    if (!query_int(r, "after", 0, 0, INT64_MAX, &f.after) ||
        !query_int(r, "limit", 100, 1, 1000, &f.limit) ||
        !query_int(r, "since", 0, 0, INT64_MAX, &f.since))
        return;
    json_t *entries;
    int64_t seq;
    char hash[AUDIT_HASH_HEX];
    if (store_audit_list(r->app->store, &f, &entries)) {
        http_reply_error(r, 500, "internal", "cannot read the audit log");
        return;
    }
    struct audit_record a = {.time = now_unix(), .actor = r->who.owner, .action = "audit.read",
                             .outcome = "ok"};
    if (store_audit_append(r->app->store, &a) || store_audit_head(r->app->store, &seq, hash)) {
        json_decref(entries); /* fail closed: an unaudited read is not served */
        http_reply_error(r, 503, "audit_unavailable", "the audit log cannot be written");
        return;
    }
    const char *format = http_query(r, "format");
    if (format && strcmp(format, "jsonl") == 0) {
        reply_jsonl(r, entries);
        return;
    }
    if (format && strcmp(format, "json") != 0) {
        json_decref(entries);
        http_reply_error(r, 400, "invalid_request", "format is json or jsonl");
        return;
    }
    http_reply_json(r, 200, json_pack("{sos{sIss}so}", "entries", entries, "head", "seq",
                                      (json_int_t)seq, "hash", hash, "checkpoint",
                                      checkpoint_latest()));
}

void h_audit_checkpoint(struct request *r, char *p[MAX_PARAMS])
{
    json_t *cp;
    if (checkpoint_now(r->app, &cp)) http_reply_error(r, 500, "internal", "cannot write a checkpoint");
    else http_reply_json(r, 201, cp);
}

void h_audit_verify(struct request *r, char *p[MAX_PARAMS])
{
    if (!admin_only(r)) return;
    int ok;
    int64_t entries, bad;
    char head[AUDIT_HASH_HEX];
    if (store_audit_verify(r->app->store, &ok, &entries, &bad, head)) {
        http_reply_error(r, 500, "internal", "cannot read the audit log");
        return;
    }
    int cp_ok;
    checkpoint_check(r->app, &cp_ok);
    json_t *body = json_pack("{sbsIsssoso}", "ok", ok && cp_ok != 0, "entries",
                             (json_int_t)entries, "head_hash", head, "checkpoint_ok",
                             cp_ok < 0 ? json_null() : json_boolean(cp_ok), "checkpoint",
                             checkpoint_latest());
    if (body && !ok) json_object_set_new(body, "first_bad_seq", json_integer(bad));
    if (body) json_object_set_new(body, "chain_ok", json_boolean(ok));
    http_reply_json(r, 200, body);
}
