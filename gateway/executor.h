/* A fixed pool of threads that run blocking tasks (invocations, syntax checks) fed from a
 * bounded queue. executor_submit never blocks: when the queue is full it returns -EBUSY and
 * the caller answers 503. No thread or process is ever created per request. */
#ifndef FNBOX_EXECUTOR_H
#define FNBOX_EXECUTOR_H

struct executor;

typedef void (*task_fn)(void *arg);

struct executor *executor_create(int threads, int queue_cap);
int executor_submit(struct executor *ex, task_fn fn, void *arg);
long executor_queue_depth(struct executor *ex);
/* Runs what is queued, then joins the threads; later submits get -EBUSY. The executor stays
 * valid (for executor_submit and executor_queue_depth) until executor_free. */
void executor_stop(struct executor *ex);
void executor_free(struct executor *ex);

#endif
