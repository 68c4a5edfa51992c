/* fnboxd's command line: every flag with its default and help text in one table
 * (gateway/config.c). config_parse returns 0, 1 when --help/--version was printed, or -1
 * after printing a usage error. */
#ifndef FNBOX_CONFIG_H
#define FNBOX_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/validate.h"

#define FNBOX_VERSION "0.1.0"
#define CONFIG_LIST_MAX 64

struct config {
    char listen[128];
    char data_dir[PATH_MAX];
    long worker_uid;
    long gateway_uid;
    struct fn_limits max; /* operator maxima for function limits */
    long max_workers, prefork, queue, threads, per_ip_connections, connection_timeout;
    long namespaces;       /* 0: enter no namespace (measured) */
    long function_zygotes; /* 1: precompiled workers from function zygotes (sandbox/fn_zygote.c) */
    long snapshot_max_uses; /* invocations one snapshot worker serves before it is replaced */
    long snapshot_idle_seconds;
    long snapshot_lanes; /* snapshot workers per function before more are started (0: CPUs) */ /* an idle snapshot worker older than this is ended */
    long max_body_bytes;
    long max_response_bytes;
    const char *egress_allow_private[CONFIG_LIST_MAX];
    int n_egress_allow_private;
    const char *egress_allow[CONFIG_LIST_MAX];
    int n_egress_allow;
    const char *egress_allow_http[CONFIG_LIST_MAX];
    int n_egress_allow_http;
    const char *egress_ca_file;
    char sealing_policy[16];
    const char *sealing_root_file;
    char key_scheme[16]; /* the instance key's: "p256" or "secp256k1" (attestation/ecsig.h) */
    const char *peer_measurements[CONFIG_LIST_MAX]; /* key export: accepted besides our own */
    int n_peer_measurements;
    int trust_software_peers; /* key export to software-only peers (development) */
    int trust_unverified_quotes; /* key export to tsm peers: fnbox cannot check quote chains */
    char attestation[16];  /* software | tsm | auto (attestation/provider.h) */
    char tsm_root[PATH_MAX]; /* configfs-tsm directory */
    int measure_only; /* --measure: print the measurement and exit */
};

int config_parse(int argc, char **argv, struct config *c);

#endif
