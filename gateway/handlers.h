/* Route handlers (gateway/routes_*.c) and the helpers they share. Private to gateway/. */
#ifndef FNBOX_HANDLERS_H
#define FNBOX_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway/http.h"

#define MAX_PARAMS 2
typedef void (*handler_fn)(struct request *r, char *params[MAX_PARAMS]);

struct zyg_hello;
/* The active worker confinement the zygote reported (the one /readyz shows), as the
 * attestation report's "confinement" string (attestation/evidence.h: sorted tokens, "none"
 * for none) into out (EVIDENCE_CONFINEMENT_MAX bytes suffice); 0 or -ENOSPC. */
int confinement_string(const struct zyg_hello *h, char *out, size_t cap);

void h_healthz(struct request *r, char *p[MAX_PARAMS]);
void h_readyz(struct request *r, char *p[MAX_PARAMS]);
void h_metrics(struct request *r, char *p[MAX_PARAMS]);
void h_token_create(struct request *r, char *p[MAX_PARAMS]);
void h_token_list(struct request *r, char *p[MAX_PARAMS]);
void h_token_revoke(struct request *r, char *p[MAX_PARAMS]);
void h_function_deploy(struct request *r, char *p[MAX_PARAMS]);
void h_function_list(struct request *r, char *p[MAX_PARAMS]);
void h_function_get(struct request *r, char *p[MAX_PARAMS]);
void h_function_versions(struct request *r, char *p[MAX_PARAMS]);
void h_function_live(struct request *r, char *p[MAX_PARAMS]);
void h_function_delete(struct request *r, char *p[MAX_PARAMS]);
void h_function_invoke(struct request *r, char *p[MAX_PARAMS]);
void h_secret_put(struct request *r, char *p[MAX_PARAMS]);
void h_secret_list(struct request *r, char *p[MAX_PARAMS]);
void h_secret_delete(struct request *r, char *p[MAX_PARAMS]);
void h_audit_list(struct request *r, char *p[MAX_PARAMS]);
void h_audit_verify(struct request *r, char *p[MAX_PARAMS]);
void h_audit_checkpoint(struct request *r, char *p[MAX_PARAMS]);
void h_keys_list(struct request *r, char *p[MAX_PARAMS]);
void h_keys_rotate(struct request *r, char *p[MAX_PARAMS]);
void h_keys_challenge(struct request *r, char *p[MAX_PARAMS]);
void h_keys_export(struct request *r, char *p[MAX_PARAMS]);
void h_keys_import(struct request *r, char *p[MAX_PARAMS]);
void h_attestation(struct request *r, char *p[MAX_PARAMS]);

int64_t now_unix(void);

/* The body as a JSON object (or any value with any=1); replies 400 and returns NULL when
 * it is not. An empty body is NULL-but-OK only with any=1 (then json null is returned). */
json_t *body_json(struct request *r, int any);

/* The owner a request acts for: a developer its own; an admin ?owner= or "admin".
 * Replies 400/403 and returns NULL when ?owner= is invalid or not allowed. */
const char *acting_owner(struct request *r);

/* Whether the principal may manage (developer: own; admin: any) a function owned by owner.
 * Replies 403 and returns 0 when not. */
int may_manage(struct request *r, const char *owner);

/* Checks the {name} path parameter; replies 400 and returns 0 when invalid. */
int check_function_name(struct request *r, const char *name);

#endif
