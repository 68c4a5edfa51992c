/* fnboxd: start-up order matters. The zygote is forked first, while this process has one
 * thread and no database or TLS state; then the store, the executor and the HTTP server
 * start; the main thread waits for SIGTERM/SIGINT and shuts down in reverse order. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "gateway/app.h"
#include "gateway/auth.h"
#include "gateway/invoke.h"
#include "gateway/checkpoint.h"
#include "gateway/http.h"
#include "gateway/routes.h"
#include "attestation/measurement.h"
#include "secrets/seal_root.h"

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
    return 0;
}

/* The data directory holds the database, the admin token and the sealing root: it must be
 * ours alone. A directory someone else prepared (or can write to) could hold a database
 * with their admin token in it. */
static int check_data_dir(const char *dir, long gateway_uid)
{
    struct stat st;
    if (lstat(dir, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode)) {
        LOG_E("data directory %s is not a directory (or is a symlink)", dir);
        return -ENOTDIR;
    }
    int ours = st.st_uid == geteuid() || (geteuid() == 0 && st.st_uid == (uid_t)gateway_uid);
    if (!ours || (st.st_mode & 022)) {
        LOG_E("data directory %s must be owned by uid %u and not writable by group or others "
              "(it is uid %u, mode %03o)",
              dir, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
        return -EACCES;
    }
    return 0;
}

/* First start: an admin token, written to DATA/admin.token (0600) before it is stored, and
 * renamed into place only once stored, so a crash leaves no token that does not work. */
static int bootstrap_admin(struct app *app)
{
    int64_t count;
    if (store_token_count(app->store, &count)) return -EIO;
    char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/admin.token", app->cfg.data_dir);
    snprintf(tmp, sizeof tmp, "%s/admin.token.tmp", app->cfg.data_dir);
    if (count > 0) {
        /* a crash between storing the first token and renaming its file left it in tmp */
        if (access(path, F_OK) != 0 && access(tmp, F_OK) == 0 && rename(tmp, path) == 0)
            LOG_I("recovered the admin token into %s", path);
        return 0;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    char token[TOKEN_LEN + 2], id[40];
    struct audit_record audit = {.time = (int64_t)time(NULL), .actor = "fnboxd",
                                 .action = "token.create", .outcome = "ok"};
    int rc = auth_token_create(app->store, ROLE_ADMIN, "admin", audit.time, 0, &audit, token, id);
    if (!rc) {
        size_t n = strlen(token);
        token[n] = '\n';
        if (write(fd, token, n + 1) != (ssize_t)(n + 1) || fsync(fd) < 0) rc = -errno;
    }
    OPENSSL_cleanse(token, sizeof token);
    if (close(fd) < 0 && !rc) rc = -errno;
    if (!rc && rename(tmp, path) < 0) rc = -errno;
    if (rc) unlink(tmp);
    else LOG_I("created the admin token in %s", path);
    return rc;
}

/* Root -> KEK -> DEKs. Runs after the zygote is forked, so no key ever enters its memory. */
static int open_keyring(struct app *app)
{
    char err[256] = "";
    struct seal_root root;
    enum seal_root_source source;
    enum seal_policy policy;
    uint8_t measurement[32] = {0};
    int rc = seal_policy_parse(app->cfg.sealing_policy, &policy);
    if (!rc && policy == SEAL_POLICY_MEASUREMENT && (rc = measure_self(measurement)))
        snprintf(err, sizeof err, "cannot measure the fnboxd executable");
    if (!rc)
        rc = seal_root_load_or_create(app->cfg.data_dir, app->cfg.sealing_root_file, &root,
                                      &source, err, sizeof err);
    if (rc) {
        LOG_E("sealing root: %s", err[0] ? err : strerror(-rc));
        return rc;
    }
    struct seal_kek kek;
    rc = seal_kek_derive(&root, app->tee_id, policy, measurement, &kek);
    seal_wipe(&root, sizeof root);
    if (!rc)
        rc = keyring_open(app->store, &kek, app->cfg.key_scheme, (int64_t)time(NULL), &app->keyring,
                          err, sizeof err);
    seal_wipe(&kek, sizeof kek);
    if (rc) {
        LOG_E("%s", err[0] ? err : "cannot derive the key-encryption key");
        LOG_E("(the key-encryption key also names the evidence provider, tee_id \"%s\" now: data "
              "sealed under another --attestation provider opens only under that one)",
              app->tee_id);
        return rc;
    }
    LOG_I("sealing: policy %s, root from %s, %zu data-encryption key(s), %s instance key",
          seal_policy_name(policy), seal_root_source_name(source), keyring_dek_count(app->keyring),
          app->cfg.key_scheme);
    return 0;
}

/* Started as root, the gateway runs on as --gateway-uid (not the workers' uid), with no
 * supplementary groups, no capabilities and not dumpable (it holds the keys). The data
 * directory and the database files become that user's; the sealing root and admin token
 * stay root's (the gateway needs neither after start-up). */
static int drop_privileges(struct app *app)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) PLOG_W("prctl(PR_SET_DUMPABLE)");
    if (geteuid() != 0) return 0;
    uid_t uid = (uid_t)app->cfg.gateway_uid;
    gid_t gid = (gid_t)app->cfg.gateway_uid;
    struct passwd *pw = getpwuid(uid);
    if (pw) gid = pw->pw_gid;
    if (uid == (uid_t)app->cfg.worker_uid) {
        LOG_E("--gateway-uid must differ from --worker-uid (workers must not share its identity)");
        return -EINVAL;
    }
    static const char *const owned[] = {"", "/fnbox.db", "/fnbox.db-wal", "/fnbox.db-shm",
                                        "/audit.checkpoint"};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s%s", app->cfg.data_dir, owned[i]);
        if (lchown(path, uid, gid) < 0 && errno != ENOENT) {
            PLOG_E("chown %s", path);
            return -errno;
        }
    }
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
            PLOG_E("prctl(PR_CAPBSET_DROP)");
            return -errno;
        }
    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        PLOG_E("cannot switch the gateway to uid %u", (unsigned)uid);
        return -errno;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) PLOG_W("prctl(PR_SET_DUMPABLE)");
    LOG_I("gateway runs as uid %u gid %u (the zygote keeps root to set worker identities)",
          (unsigned)uid, (unsigned)gid);
    return 0;
}

/* The evidence provider, chosen and probed before the privilege drop: configfs-tsm entries
 * are made by root, and handed to the gateway's uid here (attestation/tsm.h). Its tee_id
 * goes into the key-encryption key, so it is known before the keyring opens. */
static int open_evidence(struct app *app)
{
    enum evidence_mode mode;
    if (evidence_mode_parse(app->cfg.attestation, &mode)) return -EINVAL;
    int as_root = geteuid() == 0;
    uid_t uid = (uid_t)app->cfg.gateway_uid;
    gid_t gid = (gid_t)app->cfg.gateway_uid;
    struct passwd *pw = as_root ? getpwuid(uid) : NULL;
    if (pw) gid = pw->pw_gid;
    char fallback[256], err[256];
    int rc = evidence_provider_open(mode, app->cfg.tsm_root, as_root, uid, gid, &app->evidence,
                                    fallback, sizeof fallback, err, sizeof err);
    if (rc) {
        LOG_E("--attestation tsm: %s; refusing to start (use --attestation software or auto "
              "where there is no TEE)", err);
        return rc;
    }
    app->tee_id = evidence_provider_tee_id(app->evidence);
    if (fallback[0])
        LOG_W("attestation: --attestation auto found no usable configfs-tsm (%s): using the "
              "software provider, NOT hardware-backed", fallback);
    LOG_I("attestation: provider %s, platform %s%s", evidence_provider_name(app->evidence),
          evidence_provider_platform(app->evidence),
          app->evidence && strcmp(evidence_provider_name(app->evidence), "software") == 0
              ? " (not hardware-backed)"
              : "");
    return 0;
}

static int worker_identity(const struct config *cfg, struct zygote_config *zc)
{
    zc->switch_uid = geteuid() == 0;
    zc->worker_uid = (uid_t)cfg->worker_uid;
    zc->worker_gid = (gid_t)cfg->worker_uid;
    zc->max_workers = (int)cfg->max_workers;
    zc->prefork = (int)cfg->prefork;
    zc->namespaces = cfg->namespaces != 0;
    zc->snapshot_max_uses = (uint32_t)cfg->snapshot_max_uses;
    if (!zc->switch_uid) return 0;
    struct passwd *pw = getpwuid(zc->worker_uid);
    if (pw) zc->worker_gid = pw->pw_gid;
    if (zc->worker_uid == 0) {
        LOG_E("--worker-uid 0 would run user code as root");
        return -EINVAL;
    }
    return 0;
}

/* Housekeeping: idle snapshot workers are ended on time even when no snapshot function is
 * invoked (they hold their function zygote, which another function may want). */
struct housekeeping {
    struct app *app;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *housekeeping_main(void *arg)
{
    struct housekeeping *hk = arg;
    pthread_mutex_lock(&hk->mu);
    while (!hk->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&hk->cv, &hk->mu, &ts);
        if (hk->stop) break;
        pthread_mutex_unlock(&hk->mu);
        invoke_snapshots_expire(hk->app->zc, hk->app->snapshots);
        pthread_mutex_lock(&hk->mu);
    }
    pthread_mutex_unlock(&hk->mu);
    return NULL;
}

static int housekeeping_start(struct housekeeping *hk, struct app *app, pthread_t *thread)
{
    pthread_condattr_t ca;
    *hk = (struct housekeeping){.app = app};
    if (pthread_mutex_init(&hk->mu, NULL) != 0 || pthread_condattr_init(&ca) != 0) return -1;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&hk->cv, &ca) ||
             pthread_create(thread, NULL, housekeeping_main, hk);
    pthread_condattr_destroy(&ca);
    return rc ? -1 : 0;
}

static void housekeeping_stop(struct housekeeping *hk, pthread_t thread)
{
    pthread_mutex_lock(&hk->mu);
    hk->stop = 1;
    pthread_cond_signal(&hk->cv);
    pthread_mutex_unlock(&hk->mu);
    pthread_join(thread, NULL);
}

int main(int argc, char **argv)
{
    static struct app app;
    static struct housekeeping hk;
    pthread_t hk_thread;
    int hk_running = 0;
    int rc = config_parse(argc, argv, &app.cfg);
    if (rc) return rc > 0 ? 0 : 2;

    char zygote_path[PATH_MAX];
    int zygote_fd = zygote_executable_open(zygote_path);
    if (zygote_fd < 0) {
        LOG_E("cannot open the zygote executable %s: %s (it is built and installed next to "
              "fnboxd: a regular file owned by root or fnboxd's user, not writable by group or "
              "others)", zygote_path, strerror(-zygote_fd));
        return 1;
    }
    {
        uint8_t exe[32], zyg[32];
        char *description = NULL;
        if (measure_self(exe) != 0 || measure_fd(zygote_fd, zyg) != 0 ||
            measure_config(&app.cfg, exe, zyg, &description, app.measurement)) {
            LOG_E("cannot measure this fnboxd");
            return 1;
        }
        if (app.cfg.measure_only) {
            printf("%s", description);
            printf("measurement=");
            for (int i = 0; i < 32; i++) printf("%02x", app.measurement[i]);
            printf("\n");
            free(description);
            return 0;
        }
        free(description);
    }
    if (app.cfg.trust_software_peers)
        LOG_W("--trust-software-peers: keys may be exported to peers whose report is "
              "software-only, which proves nothing about what runs there. DEVELOPMENT ONLY.");
    if (app.cfg.trust_unverified_quotes)
        LOG_W("--trust-unverified-quotes: keys may be exported to tsm peers whose quote's vendor "
              "signature chain fnbox does not check; check it with the vendor's tools first.");
    signal(SIGPIPE, SIG_IGN); /* a client or worker that hung up is an error code, not a death */
    umask(077);              /* the database, WAL and keys are for fnboxd alone */
    if ((rc = mkdir_p(app.cfg.data_dir, 0700))) {
        LOG_E("cannot create data directory %s: %s", app.cfg.data_dir, strerror(-rc));
        return 1;
    }
    if (check_data_dir(app.cfg.data_dir, app.cfg.gateway_uid)) return 1;
    struct zygote_config zcfg;
    if (worker_identity(&app.cfg, &zcfg)) return 2;
    rc = zygote_start(&zcfg, zygote_fd, &app.zygote);
    close(zygote_fd);
    if (rc) {
        LOG_E("cannot start the zygote %s: %s", zygote_path, strerror(-rc));
        return 1;
    }
    app.data_fd = open(app.cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (app.data_fd < 0) {
        PLOG_E("cannot open the data directory %s", app.cfg.data_dir);
        kill(app.zygote.pid, SIGKILL);
        return 1;
    }

    /* From here on threads exist: block the shutdown signals everywhere, wait for them here. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    int exit_code = 1;
    MHD_socket listen_fd = MHD_INVALID_SOCKET;
    struct MHD_Daemon *httpd = NULL;
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/fnbox.db", app.cfg.data_dir);
    char err[256];
    app.egress.allow = app.cfg.egress_allow;
    app.egress.n_allow = app.cfg.n_egress_allow;
    app.egress.allow_http = app.cfg.egress_allow_http;
    app.egress.n_allow_http = app.cfg.n_egress_allow_http;
    app.egress.max_response = (size_t)app.cfg.max_response_bytes;
    app.egress.max_request = 1u << 20;
    if (egress_config_init(&app.egress, app.cfg.egress_allow_private,
                           app.cfg.n_egress_allow_private, app.cfg.egress_ca_file, err, sizeof err)) {
        LOG_E("%s", err);
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        LOG_E("cannot initialise libcurl");
        goto out;
    }
    if (open_evidence(&app)) goto out;
    if (store_open(db, &app.store)) goto out;
    if (open_keyring(&app)) goto out;
    if (checkpoint_init(&app)) {
        LOG_E("%s/audit.checkpoint is not a checkpoint; refusing to start", app.cfg.data_dir);
        goto out;
    }
    if ((rc = bootstrap_admin(&app))) {
        LOG_E("cannot create the admin token: %s", strerror(-rc));
        goto out;
    }
    /* Everything that needs root is done: the zygote (which keeps root to set workers'
     * identities) is forked, the database is open, the keys are loaded. No thread exists yet,
     * so the identity and the bounding set change for the whole process. */
    if (drop_privileges(&app)) goto out;
    if ((rc = evidence_provider_check(app.evidence, err, sizeof err))) {
        LOG_E("attestation: the %s provider does not work as uid %u (%s); refusing to start",
              evidence_provider_name(app.evidence), (unsigned)geteuid(), err);
        goto out;
    }
    /* idle snapshot workers keep their job slot: room for them besides the running ones */
    size_t snapshot_idle_max = (size_t)app.cfg.max_workers * 2;
    long lanes = app.cfg.snapshot_lanes ? app.cfg.snapshot_lanes : sysconf(_SC_NPROCESSORS_ONLN);
    app.snapshots = snapshot_pool_create(snapshot_idle_max, (size_t)app.cfg.max_workers,
                                         snapshot_idle_max + (size_t)app.cfg.max_workers,
                                         lanes > 0 ? (size_t)lanes : 1,
                                         (int64_t)app.cfg.snapshot_idle_seconds * 1000);
    app.zc = zclient_create(&app.zygote, (int)(app.cfg.max_workers + snapshot_idle_max + 1));
    if (!app.zc || !app.snapshots) {
        LOG_E("cannot start the zygote client");
        goto out;
    }
    if (housekeeping_start(&hk, &app, &hk_thread) != 0) {
        LOG_E("cannot start the housekeeping thread");
        goto out;
    }
    hk_running = 1;
    app.ex = executor_create((int)app.cfg.max_workers, (int)app.cfg.queue);
    if (!app.ex) goto out;
    httpd = http_start(&app);
    if (!httpd) goto out;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(httpd, MHD_DAEMON_INFO_BIND_PORT);
    char host[128];
    snprintf(host, sizeof host, "%s", app.cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon) *colon = 0;
    fprintf(stderr, "fnboxd: listening on http://%s:%u (data %s)\n", host,
            info ? info->port : 0u, app.cfg.data_dir);

    int sig;
    sigwait(&stop, &sig);
    LOG_I("signal %d: shutting down", sig);
    listen_fd = MHD_quiesce_daemon(httpd); /* stop accepting; finish what is in flight */
    exit_code = 0;
out:
    executor_stop(app.ex); /* runs queued invocations, resumes their requests */
    if (httpd) {
        for (int i = 0; i < 50; i++) { /* give resumed replies a moment to go out */
            const union MHD_DaemonInfo *ci =
                MHD_get_daemon_info(httpd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
            if (!ci || ci->num_connections == 0) break;
            usleep(20000);
        }
        MHD_stop_daemon(httpd);
        if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd); /* quiesce handed it to us */
    }
    executor_free(app.ex); /* only now: until MHD stopped, a connection could still submit */
    if (exit_code == 0 && app.keyring) checkpoint_now(&app, NULL); /* the head as we leave it */
    checkpoint_release();
    if (hk_running) housekeeping_stop(&hk, hk_thread);
    invoke_snapshots_end(app.zc, app.snapshots);
    zclient_destroy(app.zc);
    if (!app.zc) kill(app.zygote.pid, SIGKILL);
    keyring_close(app.keyring);
    evidence_provider_close(app.evidence);
    egress_config_free(&app.egress);
    store_close(app.store);
    return exit_code;
}
