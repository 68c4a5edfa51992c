#include "gateway/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
#define NBUCKETS (sizeof buckets / sizeof *buckets)

struct fn_counts {
    char name[64];
    unsigned long long by_outcome[OUTCOME_COUNT];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fn_counts *fns;
static size_t nfns, capfns;
static struct fn_counts other = {.name = "_other"};
static unsigned long long hist[NBUCKETS + 1];
static double hist_sum;
static unsigned long long hist_count;
static long busy;

/* fetches: by (host, outcome); hosts are capped like function names */
struct fetch_counts {
    char host[128];
    char outcome[32];
    unsigned long long count;
};
static struct fetch_counts *fetches;
static size_t nfetches, capfetches;
static unsigned long long fetch_bytes, fetch_hist[NBUCKETS + 1], fetch_hist_count;
static double fetch_hist_sum;

static struct fn_counts *find(const char *name)
{
    for (size_t i = 0; i < nfns; i++)
        if (strcmp(fns[i].name, name) == 0) return &fns[i];
    if (nfns == METRICS_MAX_FUNCTIONS) return &other;
    if (nfns == capfns) {
        size_t ncap = capfns ? capfns * 2 : 16;
        struct fn_counts *n = realloc(fns, ncap * sizeof *n);
        if (!n) return &other;
        fns = n;
        capfns = ncap;
    }
    struct fn_counts *c = &fns[nfns++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

void metrics_invocation(const char *function, enum outcome o, double seconds)
{
    pthread_mutex_lock(&mu);
    find(function)->by_outcome[o]++;
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b]) b++;
    hist[b]++;
    hist_sum += seconds;
    hist_count++;
    pthread_mutex_unlock(&mu);
}

void metrics_fetch(const char *host, const char *outcome, size_t bytes, double seconds)
{
    if (!host) host = "_refused";
    pthread_mutex_lock(&mu);
    struct fetch_counts *c = NULL;
    for (size_t i = 0; i < nfetches && !c; i++)
        if (strcmp(fetches[i].host, host) == 0 && strcmp(fetches[i].outcome, outcome) == 0)
            c = &fetches[i];
    if (!c && nfetches < METRICS_MAX_FUNCTIONS) {
        if (nfetches == capfetches) {
            size_t ncap = capfetches ? capfetches * 2 : 16;
            struct fetch_counts *n = realloc(fetches, ncap * sizeof *n);
            if (n) fetches = n, capfetches = ncap;
        }
        if (nfetches < capfetches) {
            c = &fetches[nfetches++];
            memset(c, 0, sizeof *c);
            snprintf(c->host, sizeof c->host, "%s", host);
            snprintf(c->outcome, sizeof c->outcome, "%s", outcome);
        }
    }
    if (c) c->count++;
    if (strcmp(outcome, "ok") == 0) {
        fetch_bytes += bytes;
        size_t b = 0;
        while (b < NBUCKETS && seconds > buckets[b]) b++;
        fetch_hist[b]++;
        fetch_hist_sum += seconds;
        fetch_hist_count++;
    }
    pthread_mutex_unlock(&mu);
}

static unsigned long long workers_by_kind[WORKER_KIND_COUNT], loads_by_result[2];

void metrics_worker_started(enum worker_kind kind)
{
    pthread_mutex_lock(&mu);
    if ((unsigned)kind < WORKER_KIND_COUNT) workers_by_kind[kind]++;
    pthread_mutex_unlock(&mu);
}

void metrics_function_zygote_load(int ok)
{
    pthread_mutex_lock(&mu);
    loads_by_result[ok ? 1 : 0]++;
    pthread_mutex_unlock(&mu);
}

void metrics_workers_busy(int delta)
{
    pthread_mutex_lock(&mu);
    busy += delta;
    pthread_mutex_unlock(&mu);
}

static void render_histogram(FILE *f, const char *name, const char *help,
                             const unsigned long long *counts, double sum,
                             unsigned long long count)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += counts[b];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, buckets[b], cum);
    }
    cum += counts[NBUCKETS];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, cum, name,
            sum, name, count);
}

char *metrics_render(long queue_depth, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return NULL;
    pthread_mutex_lock(&mu);
    fputs("# HELP fnbox_invocations_total Invocations by function and outcome.\n"
          "# TYPE fnbox_invocations_total counter\n", f);
    for (size_t i = 0; i <= nfns; i++) {
        const struct fn_counts *c = i < nfns ? &fns[i] : &other;
        for (int o = 0; o < OUTCOME_COUNT; o++)
            if (c->by_outcome[o])
                fprintf(f, "fnbox_invocations_total{function=\"%s\",outcome=\"%s\"} %llu\n",
                        c->name, outcome_code((enum outcome)o), c->by_outcome[o]);
    }
    render_histogram(f, "fnbox_invocation_duration_seconds", "Wall time of invocations.", hist,
                     hist_sum, hist_count);
    fputs("# HELP fnbox_fetches_total fetch() calls by host and outcome.\n"
          "# TYPE fnbox_fetches_total counter\n", f);
    for (size_t i = 0; i < nfetches; i++)
        fprintf(f, "fnbox_fetches_total{host=\"%s\",outcome=\"%s\"} %llu\n", fetches[i].host,
                fetches[i].outcome, fetches[i].count);
    fprintf(f, "# HELP fnbox_fetch_response_bytes_total Response bytes fetched.\n"
               "# TYPE fnbox_fetch_response_bytes_total counter\n"
               "fnbox_fetch_response_bytes_total %llu\n", fetch_bytes);
    render_histogram(f, "fnbox_fetch_duration_seconds", "Time of successful fetches.", fetch_hist,
                     fetch_hist_sum, fetch_hist_count);
    fprintf(f, "# HELP fnbox_workers_busy Workers running an invocation now.\n"
               "# TYPE fnbox_workers_busy gauge\nfnbox_workers_busy %ld\n", busy);
    fprintf(f, "# HELP fnbox_workers_total Workers started, by kind: compiling the function, "
               "precompiled by its function zygote, or a snapshot worker.\n"
               "# TYPE fnbox_workers_total counter\n"
               "fnbox_workers_total{kind=\"compiles\"} %llu\n"
               "fnbox_workers_total{kind=\"precompiled\"} %llu\n"
               "fnbox_workers_total{kind=\"snapshot\"} %llu\n",
            workers_by_kind[WORKER_KIND_COMPILES], workers_by_kind[WORKER_KIND_PRECOMPILED],
            workers_by_kind[WORKER_KIND_SNAPSHOT]);
    fprintf(f, "# HELP fnbox_snapshot_reuses_total Invocations served by a snapshot worker "
               "after its heap was reset.\n# TYPE fnbox_snapshot_reuses_total counter\n"
               "fnbox_snapshot_reuses_total %llu\n",
            workers_by_kind[WORKER_KIND_SNAPSHOT_REUSED]);
    fprintf(f, "# HELP fnbox_function_zygote_loads_total Function zygotes asked for, by result "
               "(refused: all in use, or the zygote failed).\n"
               "# TYPE fnbox_function_zygote_loads_total counter\n"
               "fnbox_function_zygote_loads_total{result=\"started\"} %llu\n"
               "fnbox_function_zygote_loads_total{result=\"refused\"} %llu\n",
            loads_by_result[1], loads_by_result[0]);
    fprintf(f, "# HELP fnbox_queue_depth Invocations waiting for a worker.\n"
               "# TYPE fnbox_queue_depth gauge\nfnbox_queue_depth %ld\n", queue_depth);
    pthread_mutex_unlock(&mu);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}
