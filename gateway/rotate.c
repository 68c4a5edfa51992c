#include "gateway/rotate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "gateway/keyring.h"

static pthread_mutex_t rotating = PTHREAD_MUTEX_INITIALIZER;

void keys_rotation_lock(void)
{
    pthread_mutex_lock(&rotating);
}

void keys_rotation_unlock(void)
{
    pthread_mutex_unlock(&rotating);
}

/* Rewraps one row under new_id. 1 moved, 0 skipped (changed meanwhile), -1 failed. */
static int rewrap_one(struct app *app, const struct secret_ref *row, const char *new_id)
{
    struct seal_secret_id id = {.owner = row->owner, .name = row->name,
                                .version = (uint64_t)row->version};
    uint8_t *pt = NULL, *blob = NULL;
    size_t pt_len = 0, blob_len = 0;
    int rc = keyring_open_secret(app->keyring, row->dek_id, &id, row->blob, row->blob_len, &pt,
                                 &pt_len);
    if (!rc) rc = keyring_seal(app->keyring, new_id, &id, pt, pt_len, &blob, &blob_len);
    if (pt) {
        seal_wipe(pt, pt_len);
        free(pt);
    }
    if (!rc) rc = store_secret_rewrap(app->store, row, new_id, blob, blob_len);
    free(blob);
    if (rc == -ESTALE) return 0;
    if (rc) {
        LOG_E("cannot rewrap %s/%s v%lld: %s", row->owner, row->name, (long long)row->version,
              strerror(-rc));
        return -1;
    }
    return 1;
}

int keys_rotate(struct app *app, const char *actor, json_t **out)
{
    pthread_mutex_lock(&rotating);
    struct audit_record audit = {.time = (int64_t)time(NULL), .actor = actor,
                                 .action = "keys.rotate", .outcome = "ok"};
    char new_id[40];
    int rc = keyring_rotate_in(app->keyring, app->store, audit.time, &audit, new_id);
    int64_t moved = 0, failed = 0, dropped = 0;
    while (!rc) {
        struct secret_ref *rows;
        size_t n;
        /* rows that failed stay behind; skip past them by asking for more than failed */
        if ((rc = store_secret_batch_not_under(app->store, new_id, ROTATE_BATCH + (size_t)failed,
                                               &rows, &n)))
            break;
        int64_t progress = 0;
        for (size_t i = 0; i < n; i++) {
            int r = rewrap_one(app, &rows[i], new_id);
            if (r > 0) progress++, moved++;
            else if (r < 0) failed++;
        }
        store_secret_refs_free(rows, n);
        if (n == 0 || progress == 0) break;
    }
    if (!rc) rc = store_dek_drop_unused(app->store, &dropped);
    json_t *deks = NULL;
    if (!rc) rc = store_dek_summary(app->store, &deks);
    pthread_mutex_unlock(&rotating);
    if (rc) return rc;
    *out = json_pack("{sssIsIsIso}", "active", new_id, "rewrapped", (json_int_t)moved, "failed",
                     (json_int_t)failed, "dropped", (json_int_t)dropped, "deks", deks);
    return *out ? 0 : -ENOMEM;
}
