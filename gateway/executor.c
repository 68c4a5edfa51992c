#include "gateway/executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"

struct task {
    task_fn fn;
    void *arg;
};

struct executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *ring;
    int cap, head, count, stopping, nthreads;
    pthread_t *threads;
};

static void *run(void *arg)
{
    struct executor *ex = arg;
    for (;;) {
        pthread_mutex_lock(&ex->mu);
        while (ex->count == 0 && !ex->stopping) pthread_cond_wait(&ex->cv, &ex->mu);
        if (ex->count == 0) {
            pthread_mutex_unlock(&ex->mu);
            return NULL;
        }
        struct task t = ex->ring[ex->head];
        ex->head = (ex->head + 1) % ex->cap;
        ex->count--;
        pthread_mutex_unlock(&ex->mu);
        t.fn(t.arg);
    }
}

struct executor *executor_create(int threads, int queue_cap)
{
    struct executor *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    ex->cap = queue_cap;
    ex->ring = calloc((size_t)queue_cap, sizeof *ex->ring);
    ex->threads = calloc((size_t)threads, sizeof *ex->threads);
    if (!ex->ring || !ex->threads) goto fail;
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cv, NULL);
    for (; ex->nthreads < threads; ex->nthreads++) {
        if (pthread_create(&ex->threads[ex->nthreads], NULL, run, ex) != 0) {
            LOG_E("cannot start executor thread %d", ex->nthreads);
            executor_free(ex);
            return NULL;
        }
    }
    return ex;
fail:
    free(ex->ring);
    free(ex->threads);
    free(ex);
    return NULL;
}

int executor_submit(struct executor *ex, task_fn fn, void *arg)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->count == ex->cap || ex->stopping) {
        pthread_mutex_unlock(&ex->mu);
        return -EBUSY;
    }
    ex->ring[(ex->head + ex->count) % ex->cap] = (struct task){fn, arg};
    ex->count++;
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    return 0;
}

long executor_queue_depth(struct executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    long n = ex->count;
    pthread_mutex_unlock(&ex->mu);
    return n;
}

void executor_stop(struct executor *ex)
{
    if (!ex) return;
    pthread_mutex_lock(&ex->mu);
    int already = ex->stopping;
    ex->stopping = 1;
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    if (already) return;
    for (int i = 0; i < ex->nthreads; i++) pthread_join(ex->threads[i], NULL);
}

void executor_free(struct executor *ex)
{
    if (!ex) return;
    executor_stop(ex);
    pthread_mutex_destroy(&ex->mu);
    pthread_cond_destroy(&ex->cv);
    free(ex->ring);
    free(ex->threads);
    free(ex);
}
