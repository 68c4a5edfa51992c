#include "gateway/snapshot_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/frame.h"

struct key_count {
    uint8_t key[SNAPSHOT_KEY_LEN];
    size_t alive; /* idle here or running; 0: the entry is free */
    uint64_t returns; /* workers put back or ended: progress, for those waiting */
    pthread_cond_t cv; /* one of its workers came back or ended: wakes one waiter (a broadcast
                        * would wake every waiting invocation for each worker) */
};

struct snapshot_pool {
    pthread_mutex_t mu;
    size_t cap, per_key, nkeys, lanes, n, ncv;
    int64_t idle_ms;
    struct snapshot_worker *idle; /* in the order they were put: the oldest first */
    struct key_count *counts;
};

struct snapshot_pool *snapshot_pool_create(size_t cap, size_t per_key, size_t keys, size_t lanes,
                                           int64_t idle_ms)
{
    struct snapshot_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->idle = calloc(cap ? cap : 1, sizeof *p->idle);
    p->counts = calloc(keys ? keys : 1, sizeof *p->counts);
    pthread_condattr_t ca;
    int ok = p->idle && p->counts && pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
        for (; ok && p->ncv < keys; p->ncv++) ok = pthread_cond_init(&p->counts[p->ncv].cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok || pthread_mutex_init(&p->mu, NULL) != 0) {
        for (size_t i = 0; i < p->ncv; i++) pthread_cond_destroy(&p->counts[i].cv);
        free(p->idle);
        free(p->counts);
        free(p);
        return NULL;
    }
    p->cap = cap;
    p->per_key = per_key;
    p->nkeys = keys;
    p->lanes = lanes ? lanes : 1;
    p->idle_ms = idle_ms;
    return p;
}

size_t snapshot_pool_destroy(struct snapshot_pool *p, struct snapshot_worker *out, size_t max)
{
    if (!p) return 0;
    size_t n = p->n < max ? p->n : max;
    memcpy(out, p->idle, n * sizeof *out);
    for (size_t i = 0; i < p->ncv; i++) pthread_cond_destroy(&p->counts[i].cv);
    pthread_mutex_destroy(&p->mu);
    free(p->idle);
    free(p->counts);
    free(p);
    return n;
}

/* The count of key; with add, a free entry is taken for it when it has none. Call with mu. */
static struct key_count *count_of(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN],
                                  int add)
{
    struct key_count *free_entry = NULL;
    for (size_t i = 0; i < p->nkeys; i++) {
        struct key_count *c = &p->counts[i];
        if (c->alive && memcmp(c->key, key, SNAPSHOT_KEY_LEN) == 0) return c;
        if (!c->alive && !free_entry) free_entry = c;
    }
    if (!add || !free_entry) return NULL;
    memcpy(free_entry->key, key, SNAPSHOT_KEY_LEN);
    return free_entry;
}

static void count_down(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN])
{
    struct key_count *c = count_of(p, key, 0);
    if (!c) return;
    c->alive--;
    c->returns++;
    pthread_cond_signal(&c->cv); /* a lane is free: one waiter may start a worker */
}

/* Removes idle record i, keeping the others in order. Call with mu held. */
static struct snapshot_worker remove_at(struct snapshot_pool *p, size_t i)
{
    struct snapshot_worker w = p->idle[i];
    memmove(&p->idle[i], &p->idle[i + 1], (p->n - i - 1) * sizeof *p->idle);
    p->n--;
    return w;
}

static int take_idle(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN],
                     struct snapshot_worker *out)
{
    for (size_t i = p->n; i-- > 0;) /* the newest: its pages are the likeliest still cached */
        if (memcmp(p->idle[i].key, key, SNAPSHOT_KEY_LEN) == 0) {
            *out = remove_at(p, i);
            return 1;
        }
    return 0;
}

int snapshot_pool_acquire(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN],
                          int64_t stall_ms, int64_t give_up_ms, struct snapshot_worker *out)
{
    pthread_mutex_lock(&p->mu);
    int rc;
    uint64_t seen = 0;
    int64_t stalled_at = frame_now_ms() + stall_ms;
    for (int first = 1;; first = 0) {
        if (take_idle(p, key, out)) {
            rc = 1;
            break;
        }
        struct key_count *c = count_of(p, key, 1);
        if (!c) {
            rc = -ENOSPC;
            break;
        }
        int64_t now = frame_now_ms();
        if (first) seen = c->returns;
        if (c->returns != seen) { /* its workers are coming back: the wait is a queue, not a stall */
            seen = c->returns;
            stalled_at = now + stall_ms;
        }
        if (c->alive < p->lanes || now >= stalled_at || now >= give_up_ms) {
            c->alive++;
            rc = 0;
            break;
        }
        int64_t until = stalled_at < give_up_ms ? stalled_at : give_up_ms;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
        pthread_cond_timedwait(&c->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int snapshot_pool_put(struct snapshot_pool *p, const struct snapshot_worker *w, int64_t now,
                      struct snapshot_worker *end)
{
    pthread_mutex_lock(&p->mu);
    size_t same = 0;
    for (size_t i = 0; i < p->n; i++) same += memcmp(p->idle[i].key, w->key, SNAPSHOT_KEY_LEN) == 0;
    struct key_count *c = count_of(p, w->key, 0);
    int surplus = c && c->alive > p->lanes && same > 0;
    int ended = 0;
    if (surplus || same >= p->per_key || p->cap == 0) {
        *end = *w;
        ended = 1;
    } else {
        if (p->n == p->cap) {
            *end = remove_at(p, 0);
            ended = 1;
        }
        p->idle[p->n] = *w;
        p->idle[p->n++].idle_since_ms = now;
    }
    if (ended) count_down(p, end->key);
    if (!ended || end->job_id != w->job_id)
        if (c) {
            c->returns++;
            pthread_cond_signal(&c->cv); /* an idle worker for one waiter */
        }
    pthread_mutex_unlock(&p->mu);
    return ended;
}

void snapshot_pool_gone(struct snapshot_pool *p, const uint8_t key[SNAPSHOT_KEY_LEN])
{
    pthread_mutex_lock(&p->mu);
    count_down(p, key);
    pthread_mutex_unlock(&p->mu);
}

size_t snapshot_pool_expire(struct snapshot_pool *p, int64_t now, struct snapshot_worker *out,
                            size_t max)
{
    return snapshot_pool_expire_older(p, now, p->idle_ms, out, max);
}

size_t snapshot_pool_expire_older(struct snapshot_pool *p, int64_t now, int64_t older_than_ms,
                                  struct snapshot_worker *out, size_t max)
{
    size_t got = 0;
    pthread_mutex_lock(&p->mu);
    /* oldest first: stop at the first one still fresh */
    while (got < max && p->n > 0 && now - p->idle[0].idle_since_ms > older_than_ms) {
        out[got] = remove_at(p, 0);
        count_down(p, out[got++].key);
    }
    pthread_mutex_unlock(&p->mu);
    return got;
}

size_t snapshot_pool_idle(struct snapshot_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}
