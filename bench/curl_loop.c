/* Plain libcurl baseline for the fetch benchmark (bench/run.sh builds and runs it).
 *
 *   curl_loop URL CONCURRENCY SECONDS [MAX_REQUESTS [EXPECTED_BODY]]
 *
 * CONCURRENCY threads each GET URL in a loop, the way fnboxd's broker performs a fetch():
 * a fresh easy handle per request (no connection reuse, no shared cache), no proxy, no
 * .netrc, no redirects, body collected in memory. The run stops after SECONDS or, when
 * MAX_REQUESTS is given and not 0, after that many requests in all, whichever comes first.
 * A request counts as an error unless libcurl succeeds, the status is 200 and (when
 * EXPECTED_BODY is given) the body is exactly EXPECTED_BODY. Prints one line:
 *
 *   CURLLOOP requests=N errors=E duration_s=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
 *
 * where rps counts successful requests only and the latencies are over all requests.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 256
#define BODY_CAP 4096

static const char *url, *expected;
static double deadline;
static long max_requests;
static atomic_long issued;
static atomic_int reported;

struct worker {
    pthread_t t;
    unsigned long ok, errors;
    double *lat; /* milliseconds */
    size_t n_lat, cap_lat;
};

struct body {
    char buf[BODY_CAP];
    size_t len;
    int overflow;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;
    if (len > BODY_CAP - b->len) {
        b->overflow = 1;
        return len; /* keep reading; the request is an error anyway */
    }
    memcpy(b->buf + b->len, p, len);
    b->len += len;
    return len;
}

static void report_once(const char *fmt, const char *detail)
{
    if (atomic_exchange(&reported, 1) == 0) fprintf(stderr, fmt, detail);
}

static int one_request(void)
{
    struct body b = {.len = 0};
    CURL *h = curl_easy_init();
    if (!h) {
        report_once("curl_loop: %s\n", "curl_easy_init failed");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "fnbox-bench/curl_loop");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        report_once("curl_loop: first error: %s\n", curl_easy_strerror(cc));
        return -1;
    }
    if (status != 200) {
        report_once("curl_loop: first error: %s\n", "status is not 200");
        return -1;
    }
    if (expected && (b.overflow || b.len != strlen(expected) || memcmp(b.buf, expected, b.len))) {
        report_once("curl_loop: first error: %s\n", "unexpected body");
        return -1;
    }
    return 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        double t0 = now_s();
        if (t0 >= deadline) break;
        if (max_requests > 0 && atomic_fetch_add(&issued, 1) >= max_requests) break;
        int rc = one_request();
        double ms = (now_s() - t0) * 1000.0;
        if (rc == 0)
            w->ok++;
        else
            w->errors++;
        if (w->n_lat == w->cap_lat) {
            size_t cap = w->cap_lat ? 2 * w->cap_lat : 4096;
            double *p = realloc(w->lat, cap * sizeof *p);
            if (!p) continue; /* latency not recorded; counts still are */
            w->lat = p;
            w->cap_lat = cap;
        }
        w->lat[w->n_lat++] = ms;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    if (n == 0) return 0.0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr,
                "usage: curl_loop URL CONCURRENCY SECONDS [MAX_REQUESTS [EXPECTED_BODY]]\n");
        return 2;
    }
    url = argv[1];
    long conc = strtol(argv[2], NULL, 10);
    double secs = strtod(argv[3], NULL);
    max_requests = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
    expected = argc > 5 ? argv[5] : NULL;
    if (conc < 1 || conc > MAX_THREADS || !(secs > 0 && secs <= 3600) || max_requests < 0) {
        fprintf(stderr,
                "curl_loop: CONCURRENCY must be 1..%d, SECONDS in (0, 3600], "
                "MAX_REQUESTS >= 0\n",
                MAX_THREADS);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fprintf(stderr, "curl_loop: curl_global_init failed\n");
        return 1;
    }
    struct worker *w = calloc((size_t)conc, sizeof *w);
    if (!w) return 1;
    double start = now_s();
    deadline = start + secs;
    long started = 0;
    for (; started < conc; started++)
        if (pthread_create(&w[started].t, NULL, run, &w[started]) != 0) break;
    if (started == 0) {
        fprintf(stderr, "curl_loop: pthread_create failed\n");
        return 1;
    }
    unsigned long ok = 0, errors = 0;
    size_t n_lat = 0;
    for (long i = 0; i < started; i++) {
        pthread_join(w[i].t, NULL);
        ok += w[i].ok;
        errors += w[i].errors;
        n_lat += w[i].n_lat;
    }
    double dur = now_s() - start;
    double *all = malloc((n_lat ? n_lat : 1) * sizeof *all);
    if (!all) return 1;
    size_t k = 0;
    for (long i = 0; i < started; i++) {
        if (w[i].n_lat) memcpy(all + k, w[i].lat, w[i].n_lat * sizeof *all);
        k += w[i].n_lat;
        free(w[i].lat);
    }
    qsort(all, n_lat, sizeof *all, cmp_double);
    printf("CURLLOOP requests=%lu errors=%lu duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f threads=%ld\n",
           ok + errors, errors, dur, dur > 0 ? (double)ok / dur : 0.0, pct(all, n_lat, 50),
           pct(all, n_lat, 90), pct(all, n_lat, 99), n_lat ? all[n_lat - 1] : 0.0, started);
    free(all);
    free(w);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
