#include "common/hex.h"
#include "gateway/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attestation/ecsig.h"
#include "common/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *latest;         /* the checkpoint JSON, or NULL */
static int64_t appends_at_last; /* store_audit_appends() when it was made */

static int message(int64_t seq, const char *hash, int64_t when, char *out, size_t cap)
{
    int n = snprintf(out, cap, "fnbox-audit-checkpoint-v1\n%" PRId64 "\n%s\n%" PRId64, seq, hash,
                     when);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static int write_file(int dir_fd, const char *text)
{
    static const char tmp[] = "audit.checkpoint.tmp", path[] = "audit.checkpoint";
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -errno;
    size_t n = strlen(text);
    int rc = (write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0)
                 ? 0
                 : -errno;
    if (close(fd) < 0 && !rc) rc = -errno;
    if (!rc && renameat(dir_fd, tmp, dir_fd, path) < 0) rc = -errno;
    if (!rc && fsync(dir_fd) < 0) rc = -errno;
    if (rc) unlinkat(dir_fd, tmp, 0);
    return rc;
}

static int check(struct app *app, int *ok, int *by_previous);

int checkpoint_init(struct app *app)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/audit.checkpoint", app->cfg.data_dir);
    json_error_t err;
    json_t *cp = json_load_file(path, 0, &err);
    if (!cp) return access(path, F_OK) == 0 ? -EINVAL : 0; /* none yet is fine */
    pthread_mutex_lock(&mu);
    json_decref(latest);
    latest = cp;
    pthread_mutex_unlock(&mu);
    int ok, by_previous = 0;
    if (check(app, &ok, &by_previous) == 0 && ok == 0)
        LOG_E("the audit log does not extend its last signed checkpoint (seq %lld): it was "
              "truncated, rolled back or altered; GET /v1/audit/verify reports it",
              (long long)json_integer_value(json_object_get(cp, "seq")));
    /* Signed by this instance's other-scheme key before the operator switched --key-scheme,
     * and the log still extends it: the head is re-signed now with the selected key, so the
     * checkpoint that reports carry is signed by the key they attest. (Not when it fails: a
     * fresh signature must never cover a rolled-back log.) */
    if (ok == 1 && by_previous && checkpoint_now(app, NULL) == 0)
        LOG_I("the audit checkpoint was signed by the previous key scheme's key: re-signed");
    return 0;
}

void checkpoint_release(void)
{
    pthread_mutex_lock(&mu);
    json_decref(latest);
    latest = NULL;
    pthread_mutex_unlock(&mu);
}

int checkpoint_now(struct app *app, json_t **out)
{
    int64_t seq, when = (int64_t)time(NULL);
    char hash[AUDIT_HASH_HEX], msg[256];
    EVP_PKEY *key = keyring_instance_key(app->keyring);
    struct ecsig sig;
    uint8_t pub[ECSIG_SPKI_MAX];
    size_t pub_len = 0;
    enum ecsig_scheme scheme = ECSIG_P256;
    char sig_hex[2 * ECSIG_DER_MAX + 1], pub_hex[2 * ECSIG_SPKI_MAX + 1];
    pthread_mutex_lock(&mu);
    int64_t appends = store_audit_appends(app->store);
    int rc = store_audit_head(app->store, &seq, hash);
    int n = rc ? -1 : message(seq, hash, when, msg, sizeof msg);
    if (!rc && n < 0) rc = -EINVAL;
    if (!rc) rc = ecsig_sign(key, msg, (size_t)n, &sig);
    if (!rc) rc = ecsig_spki(key, pub, &pub_len, &scheme);
    json_t *cp = NULL;
    if (!rc) {
        hex_encode(sig.der, sig.der_len, sig_hex);
        hex_encode(pub, pub_len, pub_hex);
        /* key_scheme is informative (public_key names its curve) and not signed */
        cp = json_pack("{sIsssIssssss}", "seq", (json_int_t)seq, "hash", hash, "time",
                       (json_int_t)when, "signature", sig_hex, "public_key", pub_hex,
                       "key_scheme", ecsig_scheme_name(scheme));
        char *text = cp ? json_dumps(cp, JSON_COMPACT) : NULL;
        rc = text ? write_file(app->data_fd, text) : -ENOMEM;
        free(text);
    }
    if (!rc) {
        json_decref(latest);
        latest = cp;
        appends_at_last = appends;
        if (out) *out = json_incref(cp);
    } else {
        json_decref(cp);
        LOG_E("cannot write an audit checkpoint: %s", strerror(-rc));
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void checkpoint_tick(struct app *app)
{
    pthread_mutex_lock(&mu);
    int due = store_audit_appends(app->store) - appends_at_last >= CHECKPOINT_EVERY;
    pthread_mutex_unlock(&mu);
    if (due) checkpoint_now(app, NULL);
}

json_t *checkpoint_latest(void)
{
    pthread_mutex_lock(&mu);
    json_t *cp = latest ? json_deep_copy(latest) : json_null();
    pthread_mutex_unlock(&mu);
    return cp;
}

/* 0 when the signature of the checkpoint message msg verifies under key (NULL: no). */
static int signed_by(EVP_PKEY *key, const char *msg, int n, const uint8_t *sig, size_t sig_len)
{
    uint8_t pub[ECSIG_SPKI_MAX];
    size_t pub_len;
    return key && ecsig_spki(key, pub, &pub_len, NULL) == 0 &&
                   ecsig_verify(pub, pub_len, msg, (size_t)n, sig, sig_len) == 0
               ? 0
               : -1;
}

/* checkpoint_check, and whether the signature is by the other scheme's key. */
static int check(struct app *app, int *ok, int *by_previous)
{
    json_t *cp = checkpoint_latest();
    *by_previous = 0;
    if (!json_is_object(cp)) {
        json_decref(cp);
        *ok = -1;
        return 0;
    }
    int64_t seq = json_integer_value(json_object_get(cp, "seq"));
    int64_t when = json_integer_value(json_object_get(cp, "time"));
    const char *hash = json_string_value(json_object_get(cp, "hash"));
    const char *sig_hex = json_string_value(json_object_get(cp, "signature"));
    uint8_t sig[ECSIG_DER_MAX];
    size_t sig_len;
    char msg[256], at[AUDIT_HASH_HEX];
    *ok = 0;
    int n = hash ? message(seq, hash, when, msg, sizeof msg) : -1;
    /* the signature must be ours: verify against our instance keys, not the file's key */
    int sig_ok = n > 0 && sig_hex && hex_decode(sig_hex, sig, sizeof sig, &sig_len) == 0;
    if (sig_ok && signed_by(keyring_instance_key(app->keyring), msg, n, sig, sig_len) != 0) {
        sig_ok = signed_by(keyring_previous_key(app->keyring), msg, n, sig, sig_len) == 0;
        *by_previous = sig_ok;
    }
    if (sig_ok) {
        if (seq == 0) *ok = strcmp(hash, AUDIT_GENESIS) == 0;
        else *ok = store_audit_hash_at(app->store, seq, at) == 0 && strcmp(at, hash) == 0;
    }
    json_decref(cp);
    return 0;
}

int checkpoint_check(struct app *app, int *ok)
{
    int by_previous;
    return check(app, ok, &by_previous);
}
