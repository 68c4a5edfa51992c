/* What every request handler can reach: configuration, store, workers, executor. One per
 * process, built by main.c; read-only after start-up except through each part's own API. */
#ifndef FNBOX_APP_H
#define FNBOX_APP_H

#include "gateway/config.h"
#include "gateway/executor.h"
#include "gateway/fetch.h"
#include "gateway/keyring.h"
#include "gateway/store.h"
#include "sandbox/zygote.h"
#include "sandbox/zygote_client.h"

struct app {
    struct config cfg;
    struct store *store;
    struct zygote zygote;
    struct zclient *zc;
    struct executor *ex;
    struct keyring *keyring;
    struct egress_config egress;
    const char *tee_id; /* "software" until hardware evidence providers exist */
    uint8_t measurement[32]; /* attestation/measurement.h */
    int data_fd;        /* the data directory, opened before the privilege drop: its path
                         * may not be traversable by the gateway user afterwards */
};

#endif
