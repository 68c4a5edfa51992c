/* What every request handler can reach: configuration, store, workers, executor. One per
 * process, built by main.c; read-only after start-up except through each part's own API. */
#ifndef FNBOX_APP_H
#define FNBOX_APP_H

#include "attestation/provider.h"
#include "gateway/config.h"
#include "gateway/executor.h"
#include "gateway/fetch.h"
#include "gateway/snapshot_pool.h"
#include "gateway/keyring.h"
#include "gateway/store.h"
#include "sandbox/zygote.h"
#include "sandbox/zygote_client.h"

struct app {
    struct config cfg;
    struct store *store;
    struct zygote zygote;
    struct zclient *zc;
    struct snapshot_pool *snapshots; /* idle snapshot workers (gateway/snapshot_pool.h) */
    struct executor *ex;
    struct keyring *keyring;
    struct egress_config egress;
    struct evidence_provider *evidence; /* chosen at start-up (--attestation) */
    const char *tee_id; /* the provider's: "software", "tdx", "sev-snp" (also in the KEK) */
    uint8_t measurement[32]; /* attestation/measurement.h */
    int data_fd;        /* the data directory, opened before the privilege drop: its path
                         * may not be traversable by the gateway user afterwards */
};

#endif
