#include "gateway/broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/proto.h"
#include "gateway/keyring.h"
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
    seal_wipe(pt, pt_len);
    free(pt);
    return rc;
}

int broker_answer(void *arg, const uint8_t *call, size_t len, struct tlv_writer *reply)
{
    struct broker *b = arg;
    struct tlv_reader r = {.p = call, .left = len};
    uint16_t tag;
    const uint8_t *d;
    size_t n;
    char op[32] = "", name[160] = "";
    int rc, have_name = 0;
    while ((rc = tlv_next(&r, &tag, &d, &n)) == 1) {
        char *dst = tag == CALL_OP ? op : tag == CALL_NAME ? name : NULL;
        size_t cap = tag == CALL_OP ? sizeof op : sizeof name;
        if (!dst) continue;
        if (n >= cap || memchr(d, 0, n)) return refuse(reply, "malformed host call");
        memcpy(dst, d, n);
        dst[n] = 0;
        if (tag == CALL_NAME) have_name = 1;
    }
    if (rc < 0) return refuse(reply, "malformed host call");
    if (strcmp(op, CALL_OP_SECRETS_GET) == 0 && have_name) return secrets_get(b, name, reply);
    return refuse(reply, "unknown host call");
}

void broker_release(struct broker *b)
{
    json_decref(b->grants);
    b->grants = NULL;
}
