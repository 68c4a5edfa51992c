/* The broker: answers a worker's host calls for one invocation. Its identity (function,
 * version, owner, grants, invocation id, caller) is fixed when the invocation starts; the
 * worker only names the operation and its arguments.
 *
 * secrets.get(name): allowed only for a secret named in this version's grants and owned by
 * the function's owner. Either the value is delivered and a `secret.get ok` audit entry was
 * committed first, or the worker gets the same refusal ("not available") whether the secret
 * is not granted or does not exist, and a `denied` entry is written. If the audit entry
 * cannot be committed the value is not delivered (fail closed). */
#ifndef FNBOX_BROKER_H
#define FNBOX_BROKER_H

#include <jansson.h>

#include "gateway/app.h"
#include "gateway/store.h"
#include "common/tlv.h"

struct broker {
    struct app *app;
    const struct fn_version *fn;
    const char *invocation_id;
    const char *caller;
    json_t *grants; /* parsed lazily from fn->secrets_json */
};

/* A broker_fn (gateway/invoke.h). */
int broker_answer(void *arg, const uint8_t *call, size_t len, struct tlv_writer *reply);
void broker_release(struct broker *b);

#endif
