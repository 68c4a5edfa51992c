#include "gateway/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_LONG, K_I64, K_LIST, K_FLAG, K_BOOL /* takes no value */ };

struct flag {
    const char *name;
    enum kind kind;
    size_t off;      /* into struct config */
    size_t cap;      /* K_STR: buffer size; K_LIST: offset of the count */
    long min, max;
    const char *def; /* default, as shown in --help */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)
static const struct flag flags[] = {
    {"listen", K_STR, OFF(listen), sizeof(((struct config *)0)->listen), 0, 0, "127.0.0.1:8080",
     "address and port to serve HTTP on"},
    {"data", K_STR, OFF(data_dir), PATH_MAX, 0, 0, "./var/fnbox",
     "data directory (database, admin.token); created on first start"},
    {"worker-uid", K_LONG, OFF(worker_uid), 0, 1, 4294967294L, "65534",
     "uid (and its group) workers run as when fnboxd starts as root"},
    {"gateway-uid", K_LONG, OFF(gateway_uid), 0, 1, 4294967294L, "65533",
     "uid (and its group) fnboxd itself switches to after start-up when started as root"},
    {"max-timeout-ms", K_I64, OFF(max.timeout_ms), 0, 100, 600000, "30000",
     "largest timeout_ms a function may ask for"},
    {"max-memory-mb", K_I64, OFF(max.memory_mb), 0, 1, 4096, "256",
     "largest memory_mb a function may ask for"},
    {"max-output-bytes", K_I64, OFF(max.max_output_bytes), 0, 1024, 64L << 20, "4194304",
     "largest max_output_bytes a function may ask for"},
    {"max-fetches", K_I64, OFF(max.max_fetches), 0, 0, 1000, "64",
     "largest max_fetches a function may ask for"},
    {"max-workers", K_LONG, OFF(max_workers), 0, 1, 4096, "16",
     "invocations (workers) running at once"},
    {"prefork", K_LONG, OFF(prefork), 0, 0, 8, "2",
     "confined idle workers the zygote keeps ready (0: fork on demand)"},
    {"queue", K_LONG, OFF(queue), 0, 1, 1000000, "256",
     "invocations waiting for a worker; beyond it: 503 overloaded"},
    {"threads", K_LONG, OFF(threads), 0, 1, 256, "2", "HTTP threads"},
    {"namespaces", K_LONG, OFF(namespaces), 0, 0, 1, "1",
     "1: the zygote and workers enter the namespaces the kernel allows; 0: none (as on a kernel "
     "that refuses them; for comparison)"},
    {"function-zygotes", K_LONG, OFF(function_zygotes), 0, 0, 1, "1",
     "1: compile each invoked function once, in a function zygote that forks its workers; "
     "0: every worker compiles"},
    {"snapshot-max-uses", K_LONG, OFF(snapshot_max_uses), 0, 1, 1000000, "1000",
     "invocations one snapshot worker (isolation \"snapshot\") serves before it is replaced"},
    {"snapshot-idle-seconds", K_LONG, OFF(snapshot_idle_seconds), 0, 1, 86400, "10",
     "an idle snapshot worker is ended after this long (checked every second)"},
    {"snapshot-lanes", K_LONG, OFF(snapshot_lanes), 0, 0, 4096, "0",
     "snapshot workers of one function an invocation waits for (briefly) before starting "
     "another (0: the number of CPUs)"},
    {"per-ip-connections", K_LONG, OFF(per_ip_connections), 0, 1, 100000, "256",
     "open connections allowed from one IP address"},
    {"connection-timeout", K_LONG, OFF(connection_timeout), 0, 1, 3600, "30",
     "seconds an idle connection is kept"},
    {"max-body-bytes", K_LONG, OFF(max_body_bytes), 0, 1024, 1L << 30, "2097152",
     "largest request body; beyond it: 413"},
    {"max-response-bytes", K_LONG, OFF(max_response_bytes), 0, 1024, 256L << 20, "2097152",
     "largest response body one fetch() may receive"},
    {"egress-allow-private", K_LIST, OFF(egress_allow_private), OFF(n_egress_allow_private), 0, 0,
     "(none)", "CIDR that fetch may reach although private (repeatable; fetch issue)"},
    {"egress-allow", K_LIST, OFF(egress_allow), OFF(n_egress_allow), 0, 0, "(any public host)",
     "host fetch may reach (repeatable; fetch issue)"},
    {"egress-allow-http", K_LIST, OFF(egress_allow_http), OFF(n_egress_allow_http), 0, 0, "(none)",
     "host fetch may reach over plain http (repeatable; fetch issue)"},
    {"egress-ca-file", K_STR, 0, 0, 0, 0, "(system CAs)", "extra CA for fetch (fetch issue)"},
    {"sealing-policy", K_STR, OFF(sealing_policy), 16, 0, 0, "instance",
     "instance (any build holding the root unseals) or measurement (bound to this binary)"},
    {"sealing-root-file", K_STR, 0, 0, 0, 0, "(FNBOX_SEALING_ROOT, else DATA/sealing.root)",
     "file holding the 32-byte sealing root (raw or 64 hex digits)"},
    {"key-scheme", K_STR, OFF(key_scheme), 16, 0, 0, "p256",
     "instance key: p256 (secp256r1, Neo N3) or secp256k1 (EVM ecrecover); each is kept"},
    {"peer-measurement", K_LIST, OFF(peer_measurements), OFF(n_peer_measurements), 0, 0,
     "(this instance's own)",
     "another measurement (64 lowercase hex digits) a key-export peer may have; repeatable"},
    {"trust-software-peers", K_BOOL, OFF(trust_software_peers), 0, 0, 0, "(off)",
     "export keys to peers whose report is software-only (development only: proves nothing)"},
    {"trust-unverified-quotes", K_BOOL, OFF(trust_unverified_quotes), 0, 0, 0, "(off)",
     "export keys to tsm peers although fnbox cannot check the quote's vendor signature chain"},
    {"attestation", K_STR, OFF(attestation), 16, 0, 0, "software",
     "evidence provider: software (no hardware), tsm (TDX/SEV-SNP quotes from configfs-tsm; "
     "refuse to start without it) or auto (tsm when usable, else software)"},
    {"tsm-root", K_STR, OFF(tsm_root), PATH_MAX, 0, 0, "/sys/kernel/config/tsm",
     "configfs-tsm directory (its report/ subdirectory makes quotes)"},
};
#define NFLAGS (sizeof flags / sizeof *flags)

static void usage(FILE *f)
{
    fprintf(f, "usage: fnboxd [flags]\n\nfnboxd serves sandboxed JavaScript functions over HTTP.\n\n");
    for (size_t i = 0; i < NFLAGS; i++)
        fprintf(f, "  --%-22s %s (default: %s)\n", flags[i].name, flags[i].help, flags[i].def);
    fprintf(f, "  --%-22s %s\n  --%-22s %s\n  --%-22s %s\n", "help", "show this text", "version",
            "show the version", "measure",
            "print the measurement of this binary with these flags, and exit");
}

static int set_flag(struct config *c, const struct flag *fl, const char *arg)
{
    char *base = (char *)c;
    if (strcmp(fl->name, "egress-ca-file") == 0) {
        c->egress_ca_file = arg;
        return 0;
    }
    if (strcmp(fl->name, "sealing-root-file") == 0) {
        c->sealing_root_file = arg;
        return 0;
    }
    if (strcmp(fl->name, "peer-measurement") == 0 && strspn(arg, "0123456789abcdef") != 64)
        return -1;
    if (strcmp(fl->name, "peer-measurement") == 0 && arg[64]) return -1;
    if (strcmp(fl->name, "sealing-policy") == 0 && strcmp(arg, "instance") != 0 &&
        strcmp(arg, "measurement") != 0)
        return -1;
    if (strcmp(fl->name, "key-scheme") == 0 && strcmp(arg, "p256") != 0 &&
        strcmp(arg, "secp256k1") != 0)
        return -1;
    if (strcmp(fl->name, "attestation") == 0 && strcmp(arg, "software") != 0 &&
        strcmp(arg, "tsm") != 0 && strcmp(arg, "auto") != 0)
        return -1;
    switch (fl->kind) {
    case K_STR:
        if (strlen(arg) == 0 || strlen(arg) >= fl->cap) return -1;
        memcpy(base + fl->off, arg, strlen(arg) + 1);
        return 0;
    case K_LONG:
    case K_I64: {
        char *end;
        errno = 0;
        long long v = strtoll(arg, &end, 10);
        if (errno || *end || end == arg || v < fl->min || v > fl->max) return -1;
        if (fl->kind == K_LONG) *(long *)(base + fl->off) = (long)v;
        else *(int64_t *)(base + fl->off) = v;
        return 0;
    }
    case K_LIST: {
        int *n = (int *)(base + fl->cap);
        if (*n == CONFIG_LIST_MAX || !*arg) return -1;
        ((const char **)(base + fl->off))[(*n)++] = arg;
        return 0;
    }
    case K_FLAG: return 0;
    case K_BOOL: *(int *)(base + fl->off) = 1; return 0;
    }
    return -1;
}

int config_parse(int argc, char **argv, struct config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].kind != K_LIST && flags[i].def[0] != '(' && set_flag(c, &flags[i], flags[i].def))
            return -1;
    struct option opts[NFLAGS + 4];
    for (size_t i = 0; i < NFLAGS; i++)
        opts[i] = (struct option){flags[i].name,
                                  flags[i].kind == K_BOOL ? no_argument : required_argument, NULL,
                                  (int)i};
    opts[NFLAGS] = (struct option){"help", no_argument, NULL, 'h'};
    opts[NFLAGS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    opts[NFLAGS + 2] = (struct option){"measure", no_argument, NULL, 'M'};
    opts[NFLAGS + 3] = (struct option){0, 0, 0, 0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 1;
        }
        if (ch == 'V') {
            printf("fnboxd %s\n", FNBOX_VERSION);
            return 1;
        }
        if (ch == 'M') {
            c->measure_only = 1;
            continue;
        }
        if (ch < 0 || (size_t)ch >= NFLAGS) {
            usage(stderr);
            return -1;
        }
        if (set_flag(c, &flags[ch], optarg)) {
            fprintf(stderr, "fnboxd: invalid value for --%s: '%s'\n", flags[ch].name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fnboxd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}
