/* Open routes: liveness, readiness (with the active confinement), Prometheus metrics. */
#include <stdlib.h>
#include <unistd.h>

#include "attestation/evidence.h"
#include "gateway/handlers.h"
#include "gateway/metrics.h"

int confinement_string(const struct zyg_hello *h, char *out, size_t cap)
{
    /* Only what the zygote measured and reported: caps_dropped and rlimits, which /readyz
     * shows as constant true, are not things a peer can tell apart, so they are not tokens. */
    unsigned m = (h->bounding_dropped ? EVIDENCE_CONF_BOUNDING_SET_DROPPED : 0) |
                 (h->fs_hidden ? EVIDENCE_CONF_FS_HIDDEN : 0) |
                 (h->ipc_ns ? EVIDENCE_CONF_IPC_NS : 0) | (h->net_ns ? EVIDENCE_CONF_NET_NS : 0) |
                 (h->no_new_privs ? EVIDENCE_CONF_NO_NEW_PRIVS : 0) |
                 (h->pid_ns ? EVIDENCE_CONF_PID_NS : 0) |
                 (h->seccomp ? EVIDENCE_CONF_SECCOMP : 0) |
                 (h->uid_switch ? EVIDENCE_CONF_UID_SWITCH : 0) |
                 (h->user_ns ? EVIDENCE_CONF_USER_NS : 0) |
                 (h->uts_ns ? EVIDENCE_CONF_UTS_NS : 0) |
                 (h->zygote_seccomp ? EVIDENCE_CONF_ZYGOTE_SECCOMP : 0);
    return evidence_confinement_string(m, out, cap);
}

void h_healthz(struct request *r, char *p[MAX_PARAMS])
{
    http_reply_json(r, 200, json_pack("{ss}", "status", "ok"));
}

void h_readyz(struct request *r, char *p[MAX_PARAMS])
{
    const struct zyg_hello *h = &r->app->zygote.hello;
    int alive = zclient_alive(r->app->zc);
    json_t *conf = json_pack(
        "{sbsbsbsbsbsbsbsbsbsosb}", "seccomp", h->seccomp, "no_new_privs", h->no_new_privs,
        "caps_dropped", 1, "bounding_set_dropped", h->bounding_dropped, "uid_switch",
        h->uid_switch, "user_namespace", h->user_ns, "net_namespace", h->net_ns, "ipc_namespace",
        h->ipc_ns, "rlimits", 1, "worker_uid",
        h->uid_switch ? json_integer(h->worker_uid) : json_null(), "zygote_seccomp",
        h->zygote_seccomp);
    if (conf) json_object_set_new(conf, "uts_namespace", json_boolean(h->uts_ns));
    if (conf) json_object_set_new(conf, "pid_namespace", json_boolean(h->pid_ns));
    if (conf) json_object_set_new(conf, "mount_namespace_empty_root", json_boolean(h->fs_hidden));
    if (conf) json_object_set_new(conf, "gateway_uid", json_integer((json_int_t)geteuid()));
    http_reply_json(r, alive ? 200 : 503,
                    json_pack("{sssosI}", "status", alive ? "ready" : "zygote_down", "confinement",
                              conf, "max_workers", (json_int_t)r->app->cfg.max_workers));
}

void h_metrics(struct request *r, char *p[MAX_PARAMS])
{
    size_t len;
    char *text = metrics_render(executor_queue_depth(r->app->ex), &len);
    if (!text) {
        http_reply_error(r, 500, "internal", "cannot render metrics");
        return;
    }
    http_reply_text(r, 200, text, len, "text/plain; version=0.0.4");
}
