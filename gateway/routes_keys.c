/* Key routes (admin): the DEKs, rotation, and migration to another instance
 * (gateway/migrate.h). */
#include "gateway/handlers.h"
#include "gateway/migrate.h"
#include "gateway/rotate.h"

void h_keys_list(struct request *r, char *p[MAX_PARAMS])
{
    json_t *deks;
    if (store_dek_summary(r->app->store, &deks)) http_reply_error(r, 500, "internal", "cannot list keys");
    else http_reply_json(r, 200, json_pack("{so}", "deks", deks));
}

void h_keys_rotate(struct request *r, char *p[MAX_PARAMS])
{
    json_t *out;
    if (keys_rotate(r->app, r->who.owner, &out))
        http_reply_error(r, 500, "internal", "rotation failed; run it again to finish (no secret is lost)");
    else http_reply_json(r, 200, out);
}

static void reply(struct request *r, int rc, json_t *body, const struct migrate_error *e, int status)
{
    if (rc) http_reply_error(r, e->status, e->code, "%s", e->message);
    else http_reply_json(r, status, body);
}

void h_keys_challenge(struct request *r, char *p[MAX_PARAMS])
{
    struct migrate_error e;
    json_t *out = NULL;
    int rc = migrate_challenge(&out, &e);
    reply(r, rc, out, &e, 201);
}

void h_keys_export(struct request *r, char *p[MAX_PARAMS])
{
    json_t *report = body_json(r, 0);
    if (!report) return;
    struct migrate_error e;
    json_t *bundle = NULL;
    int rc = migrate_export(r->app, r->who.owner, report, &bundle, &e);
    json_decref(report);
    reply(r, rc, bundle, &e, 200);
}

void h_keys_import(struct request *r, char *p[MAX_PARAMS])
{
    json_t *bundle = body_json(r, 0);
    if (!bundle) return;
    struct migrate_error e;
    json_t *out = NULL;
    int rc = migrate_import(r->app, r->who.owner, bundle, http_query(r, "source"), &out, &e);
    json_decref(bundle);
    reply(r, rc, out, &e, 200);
}
