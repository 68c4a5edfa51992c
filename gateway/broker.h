/* The broker: answers a worker's host calls for one invocation. Its identity (function,
 * version, owner, grants, invocation id, caller) is fixed when the invocation starts; the
 * worker only names the operation and its arguments.
 *
 * secrets.get(name): allowed only for a secret named in this version's grants and owned by
 * the function's owner. Either the value is delivered and a `secret.get ok` audit entry was
 * committed first, or the worker gets the same refusal ("not available") whether the secret
 * is not granted or does not exist, and a `denied` entry is written. If the audit entry
 * cannot be committed the value is not delivered (fail closed).
 *
 * fetch(url, options): at most max_fetches per invocation, within the invocation's deadline;
 * the egress policy and transfer are gateway/fetch.c's. A request that would carry a secret
 * value read in this invocation to a host outside that secret's `hosts` binding is refused
 * (secret_egress_denied) and audited. Every completed fetch is recorded in `fetches`. */
#ifndef FNBOX_BROKER_H
#define FNBOX_BROKER_H

#include <jansson.h>

#include "gateway/app.h"
#include "gateway/store.h"
#include "common/tlv.h"

/* A secret value this invocation has read, remembered (until broker_release wipes it) so
 * that fetch() can refuse to carry it to a host it is not bound to. */
struct seen_secret {
    char name[132];
    uint8_t *value;
    size_t len;
    json_t *hosts; /* NULL: not bound to any host */
};

#define SEEN_SECRETS_MAX 64
#define FETCH_DEFAULT_TIMEOUT_MS 10000

struct broker {
    struct app *app;
    const struct fn_version *fn;
    const char *invocation_id;
    const char *caller;
    int64_t deadline_ms;   /* the invocation's wall deadline (CLOCK_MONOTONIC ms) */
    int64_t max_fetches;
    json_t *grants;        /* parsed lazily from fn->secrets_json */
    json_t *allow_hosts;   /* parsed lazily from fn->allow_hosts_json */
    json_t *fetches;       /* provenance of each fetch, for the response (and receipts) */
    json_t *secrets_read;  /* names of the secrets delivered, in first-read order (receipts) */
    int64_t fetch_count;
    struct seen_secret seen[SEEN_SECRETS_MAX];
    size_t nseen;
};

/* A broker_fn (gateway/invoke.h). */
int broker_answer(void *arg, const uint8_t *call, size_t len, struct tlv_writer *reply);
void broker_release(struct broker *b);

#endif
