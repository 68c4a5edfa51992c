#include "sandbox/zygote_client.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/frame.h"
#include "common/log.h"
#include "sandbox/zygote_msg.h"

#define SPAWN_TIMEOUT_MS 10000

enum slot_state { SLOT_FREE, SLOT_WAITING, SLOT_SPAWNED, SLOT_FAILED };

struct slot {
    uint32_t gen;
    enum slot_state state;
    int fd, err, exited, status, kind; /* kind: ZYG_SPAWNED's value */
    pid_t pid;
    pthread_cond_t cv;
};

#define LOAD_MEMORY 64        /* function keys whose last load request is remembered */
#define LOAD_RETRY_MS 1000

struct load_attempt {
    uint8_t key[ZYG_KEY_LEN];
    int64_t at_ms;
};

struct zclient {
    int ctrl_fd;
    pid_t zygote_pid;
    int dead;
    int nslots;
    struct slot *slots;
    pthread_mutex_t mu, send_mu;
    pthread_t reader;
    struct load_attempt loads[LOAD_MEMORY]; /* under mu */
    unsigned next_load;
};

static uint64_t job_id_of(int idx, uint32_t gen)
{
    return ((uint64_t)gen << 20) | (uint64_t)idx;
}

/* The slot a message names, or NULL when that job was released. Call with mu held. */
static struct slot *slot_for(struct zclient *zc, uint64_t job_id)
{
    uint64_t idx = job_id & 0xFFFFF;
    if (idx >= (uint64_t)zc->nslots) return NULL;
    struct slot *s = &zc->slots[idx];
    if (s->state == SLOT_FREE || s->gen != (uint32_t)(job_id >> 20)) return NULL;
    return s;
}

static void handle_message(struct zclient *zc, const struct zyg_message *m, int fd)
{
    pthread_mutex_lock(&zc->mu);
    struct slot *s = slot_for(zc, m->job_id);
    if (s && m->op == ZYG_SPAWNED && s->state == SLOT_WAITING && fd >= 0) {
        s->state = SLOT_SPAWNED;
        s->fd = fd;
        s->pid = (pid_t)m->pid;
        s->kind = m->value;
        fd = -1;
    } else if (s && m->op == ZYG_SPAWN_FAILED && s->state == SLOT_WAITING) {
        s->state = SLOT_FAILED;
        s->err = m->value;
    } else if (s && m->op == ZYG_EXITED) {
        s->exited = 1;
        s->status = m->value;
    }
    if (s) pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&zc->mu);
    if (fd >= 0) close(fd); /* a socket nobody waits for: closing it ends that worker */
}

static void *reader_main(void *arg)
{
    struct zclient *zc = arg;
    for (;;) {
        struct zyg_message m;
        int fd;
        ssize_t n = zygote_recv_msg(zc->ctrl_fd, &m, &fd, 0);
        if (n != (ssize_t)sizeof m) {
            if (fd >= 0) close(fd);
            break;
        }
        handle_message(zc, &m, fd);
    }
    pthread_mutex_lock(&zc->mu);
    zc->dead = 1;
    for (int i = 0; i < zc->nslots; i++) pthread_cond_broadcast(&zc->slots[i].cv);
    pthread_mutex_unlock(&zc->mu);
    return NULL;
}

struct zclient *zclient_create(const struct zygote *z, int slots)
{
    struct zclient *zc = calloc(1, sizeof *zc);
    if (!zc) return NULL;
    zc->slots = calloc((size_t)slots, sizeof *zc->slots);
    if (!zc->slots || slots > 0xFFFFF) {
        free(zc->slots);
        free(zc);
        return NULL;
    }
    zc->ctrl_fd = z->ctrl_fd;
    zc->zygote_pid = z->pid;
    zc->nslots = slots;
    pthread_mutex_init(&zc->mu, NULL);
    pthread_mutex_init(&zc->send_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int i = 0; i < slots; i++) {
        pthread_cond_init(&zc->slots[i].cv, &ca);
        zc->slots[i].fd = -1;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_create(&zc->reader, NULL, reader_main, zc) != 0) {
        free(zc->slots);
        free(zc);
        return NULL;
    }
    return zc;
}

void zclient_destroy(struct zclient *zc)
{
    if (!zc) return;
    shutdown(zc->ctrl_fd, SHUT_RDWR); /* the zygote sees EOF, kills its workers and exits */
    pthread_join(zc->reader, NULL);
    close(zc->ctrl_fd);
    int status;
    if (waitpid(zc->zygote_pid, &status, 0) < 0) PLOG_W("waitpid(zygote)");
    for (int i = 0; i < zc->nslots; i++) {
        if (zc->slots[i].fd >= 0) close(zc->slots[i].fd);
        pthread_cond_destroy(&zc->slots[i].cv);
    }
    free(zc->slots);
    free(zc);
}

int zclient_alive(struct zclient *zc)
{
    pthread_mutex_lock(&zc->mu);
    int alive = !zc->dead;
    pthread_mutex_unlock(&zc->mu);
    return alive;
}

static int send_request(struct zclient *zc, const struct zyg_request *r)
{
    pthread_mutex_lock(&zc->send_mu);
    ssize_t n = send(zc->ctrl_fd, r, sizeof *r, MSG_NOSIGNAL);
    int err = errno;
    pthread_mutex_unlock(&zc->send_mu);
    if (n == (ssize_t)sizeof *r) return 0;
    return n < 0 ? -err : -EPROTO;
}

static int wait_on(struct zclient *zc, struct slot *s, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    int rc = pthread_cond_timedwait(&s->cv, &zc->mu, &ts);
    return rc == ETIMEDOUT ? -ETIMEDOUT : 0;
}

/* Takes a free slot for a new job; -EAGAIN when none, -EPIPE when the zygote is gone. */
static int take_slot(struct zclient *zc, uint64_t *job_id)
{
    pthread_mutex_lock(&zc->mu);
    int idx = -1;
    for (int i = 0; i < zc->nslots; i++)
        if (zc->slots[i].state == SLOT_FREE) {
            idx = i;
            break;
        }
    if (idx < 0 || zc->dead) {
        pthread_mutex_unlock(&zc->mu);
        return zc->dead ? -EPIPE : -EAGAIN;
    }
    struct slot *s = &zc->slots[idx];
    s->gen = (s->gen + 1) & 0xFFFFFFFu;
    s->state = SLOT_WAITING;
    s->fd = -1;
    s->exited = s->status = s->err = s->kind = 0;
    *job_id = job_id_of(idx, s->gen);
    pthread_mutex_unlock(&zc->mu);
    return 0;
}

/* Sends req (its job_id taken) and waits for the zygote's socket or refusal. */
static int request_socket(struct zclient *zc, struct zyg_request *req, struct worker_handle *out)
{
    int rc = send_request(zc, req);
    pthread_mutex_lock(&zc->mu);
    struct slot *s = slot_for(zc, req->job_id);
    int64_t deadline = frame_now_ms() + SPAWN_TIMEOUT_MS;
    while (!rc && s->state == SLOT_WAITING && !zc->dead) rc = wait_on(zc, s, deadline);
    if (!rc && s->state == SLOT_SPAWNED) {
        out->job_id = req->job_id;
        out->fd = s->fd;
        out->pid = s->pid;
        out->precompiled = (s->kind & ZYG_PRECOMPILED) != 0;
        out->snapshot = (s->kind & ZYG_SNAPSHOT) != 0;
        s->fd = -1; /* the caller owns it now */
    } else if (!rc) {
        rc = s->state == SLOT_FAILED ? s->err : -EPIPE;
    }
    pthread_mutex_unlock(&zc->mu);
    if (rc) zclient_release(zc, req->job_id);
    return rc;
}

int zclient_spawn(struct zclient *zc, uint32_t cpu_seconds, uint64_t heap_bytes,
                  const uint8_t *fn_key, struct worker_handle *out)
{
    struct zyg_request req = {.op = ZYG_SPAWN, .cpu_seconds = cpu_seconds, .heap_bytes = heap_bytes};
    if (fn_key) memcpy(req.fn_key, fn_key, ZYG_KEY_LEN);
    int rc = take_slot(zc, &req.job_id);
    return rc ? rc : request_socket(zc, &req, out);
}

/* 1 when fn_key was asked for within LOAD_RETRY_MS (else records this attempt). */
static int asked_recently(struct zclient *zc, const uint8_t fn_key[ZYG_KEY_LEN])
{
    int64_t now = frame_now_ms();
    pthread_mutex_lock(&zc->mu);
    int recent = 0;
    struct load_attempt *slot = &zc->loads[zc->next_load % LOAD_MEMORY];
    for (int i = 0; i < LOAD_MEMORY; i++)
        if (memcmp(zc->loads[i].key, fn_key, ZYG_KEY_LEN) == 0) {
            recent = now - zc->loads[i].at_ms < LOAD_RETRY_MS;
            slot = &zc->loads[i];
            break;
        }
    if (!recent) {
        if (memcmp(slot->key, fn_key, ZYG_KEY_LEN) != 0) zc->next_load++;
        memcpy(slot->key, fn_key, ZYG_KEY_LEN);
        slot->at_ms = now;
    }
    pthread_mutex_unlock(&zc->mu);
    return recent;
}

int zclient_load(struct zclient *zc, const uint8_t fn_key[ZYG_KEY_LEN], uint32_t cpu_seconds,
                 uint64_t heap_bytes, uint32_t flags, const char *code, size_t len)
{
    if (asked_recently(zc, fn_key)) return -EALREADY;
    struct zyg_request req = {
        .op = ZYG_LOAD, .cpu_seconds = cpu_seconds, .heap_bytes = heap_bytes, .flags = flags};
    memcpy(req.fn_key, fn_key, ZYG_KEY_LEN);
    struct worker_handle h;
    int rc = take_slot(zc, &req.job_id);
    if (!rc) rc = request_socket(zc, &req, &h);
    if (rc) return rc;
    /* the function zygote reads its code from this socket, then compiles */
    rc = frame_send(h.fd, FRAME_JOB, code, len);
    close(h.fd);
    zclient_release(zc, h.job_id);
    return rc;
}

int zclient_kill(struct zclient *zc, uint64_t job_id)
{
    struct zyg_request req = {.op = ZYG_KILL, .job_id = job_id};
    return send_request(zc, &req);
}

int zclient_kill_forget(struct zclient *zc, uint64_t job_id)
{
    struct zyg_request req = {.op = ZYG_KILL_FORGET, .job_id = job_id};
    return send_request(zc, &req);
}

int zclient_wait_exit(struct zclient *zc, uint64_t job_id, int64_t deadline_ms, int *status)
{
    pthread_mutex_lock(&zc->mu);
    struct slot *s = slot_for(zc, job_id);
    int rc = s ? 0 : -ENOENT;
    while (!rc && !s->exited && !zc->dead) rc = wait_on(zc, s, deadline_ms);
    if (!rc && s->exited) *status = s->status;
    else if (!rc) rc = -EPIPE;
    pthread_mutex_unlock(&zc->mu);
    return rc;
}

void zclient_release(struct zclient *zc, uint64_t job_id)
{
    pthread_mutex_lock(&zc->mu);
    struct slot *s = slot_for(zc, job_id);
    if (s) {
        if (s->fd >= 0) close(s->fd);
        s->fd = -1;
        s->state = SLOT_FREE;
    }
    pthread_mutex_unlock(&zc->mu);
}
