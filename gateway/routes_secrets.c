/* Secret routes: put (a new sealed version each time), list (names and versions, never
 * values), delete. Every write is audited in the same transaction (fail closed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/handlers.h"

#define SECRET_VALUE_MAX (64u * 1024u)

struct seal_ctx {
    struct keyring *kr;
    const char *dek_id, *owner, *name;
    const uint8_t *value;
    size_t len;
};

static int seal_for_row(void *arg, int64_t version, uint8_t **blob, size_t *blob_len)
{
    struct seal_ctx *c = arg;
    struct seal_secret_id id = {.owner = c->owner, .name = c->name, .version = (uint64_t)version};
    return keyring_seal(c->kr, c->dek_id, &id, c->value, c->len, blob, blob_len);
}

/* jansson frees without wiping: overwrite a string value in place before letting it go. */
static void wipe_json_string(json_t *v)
{
    if (json_is_string(v)) seal_wipe((char *)json_string_value(v), json_string_length(v));
}

static int check_secret_name(struct request *r, const char *name)
{
    if (valid_secret_name(name)) return 1;
    http_reply_error(r, 400, "invalid_name", "secret names match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    return 0;
}

void h_secret_put(struct request *r, char *p[MAX_PARAMS])
{
    if (!check_secret_name(r, p[0])) return;
    const char *owner = acting_owner(r);
    if (!owner) return;
    json_t *body = body_json(r, 0);
    if (!body) return;
    json_t *value = json_object_get(body, "value");
    if (!json_is_string(value)) {
        http_reply_error(r, 400, "invalid_request", "value must be a string");
    } else if (json_string_length(value) > SECRET_VALUE_MAX) {
        http_reply_error(r, 413, "value_too_large", "secret values are at most %u bytes",
                         SECRET_VALUE_MAX);
    } else if (json_string_length(value) == 0) {
        http_reply_error(r, 400, "invalid_request", "value must not be empty");
    } else {
        char dek_id[40];
        keyring_active_id(r->app->keyring, dek_id);
        struct seal_ctx c = {.kr = r->app->keyring, .dek_id = dek_id, .owner = owner,
                             .name = p[0], .value = (const uint8_t *)json_string_value(value),
                             .len = json_string_length(value)};
        struct audit_record audit = {.time = now_unix(), .actor = r->who.owner,
                                     .action = "secret.put", .secret = p[0], .outcome = "ok"};
        int64_t version;
        int rc = store_secret_put(r->app->store, owner, p[0], dek_id, audit.time, seal_for_row, &c,
                                  &audit, &version);
        if (rc) http_reply_error(r, 500, "internal", "cannot store the secret");
        else http_reply_json(r, 201, json_pack("{sssI}", "name", p[0], "version", (json_int_t)version));
    }
    wipe_json_string(value);
    json_decref(body);
}

void h_secret_list(struct request *r, char *p[MAX_PARAMS])
{
    const char *owner = acting_owner(r);
    if (!owner) return;
    json_t *list;
    if (store_secret_list(r->app->store, owner, &list)) {
        http_reply_error(r, 500, "internal", "cannot list secrets");
        return;
    }
    http_reply_json(r, 200, json_pack("{so}", "secrets", list));
}

void h_secret_delete(struct request *r, char *p[MAX_PARAMS])
{
    if (!check_secret_name(r, p[0])) return;
    const char *owner = acting_owner(r);
    if (!owner) return;
    struct audit_record audit = {.time = now_unix(), .actor = r->who.owner,
                                 .action = "secret.delete", .secret = p[0], .outcome = "ok"};
    int rc = store_secret_delete(r->app->store, owner, p[0], &audit);
    if (rc == -ENOENT) http_reply_error(r, 404, "not_found", "no secret '%s'", p[0]);
    else if (rc) http_reply_error(r, 500, "internal", "cannot delete the secret");
    else http_reply_text(r, 204, NULL, 0, "application/json");
}
