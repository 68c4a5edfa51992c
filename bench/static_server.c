/* Upstream HTTP server for the fetch benchmark (bench/run.sh builds and runs it).
 *
 *   static_server PORTFILE [SECONDS [THREADS]]
 *
 * Listens on 127.0.0.1 on a free port, writes the port number to PORTFILE (atomically, via
 * a rename), and answers every request, whatever its method and target, with the same small
 * JSON body {"price":3120.5} and a Content-Length. HTTP/1.1 connections are kept alive
 * unless the client asks for "Connection: close" (HTTP/1.0 only with "Connection:
 * keep-alive"); pipelined requests are answered in order. Request bodies with a
 * Content-Length are read and ignored; chunked request bodies are refused (501).
 *
 * THREADS threads (default 2) each run their own epoll loop and share the listening socket
 * (EPOLLEXCLUSIVE), so the server is not what limits the benchmark. The process exits after
 * SECONDS (default 300) or on SIGTERM/SIGINT, printing the number of responses to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY "{\"price\":3120.5}"
#define IN_CAP 8192
#define OUT_CAP 16384
#define MAX_THREADS 64

struct conn {
    int fd;
    int closing;  /* close once the output is flushed; read no more requests */
    int want_out; /* registered for EPOLLOUT */
    size_t in_len, out_off, out_len;
    char in[IN_CAP];
    char out[OUT_CAP];
};

static int listen_fd = -1;
static atomic_ulong n_responses, n_connections;
static char resp_keep[256], resp_close[256], resp_head_keep[256], resp_head_close[256];
static size_t resp_keep_len, resp_close_len, resp_head_keep_len, resp_head_close_len;

static void die(const char *what)
{
    fprintf(stderr, "static_server: %s: %s\n", what, strerror(errno));
    exit(1);
}

static size_t make_response(char *buf, size_t cap, int keep, int with_body)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     strlen(BODY), keep ? "" : "Connection: close\r\n", with_body ? BODY : "");
    return (size_t)n;
}

/* Case-insensitive search for a token in a header value (e.g. "close" in "Connection"). */
static int value_has(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= len; i++)
        if (strncasecmp(v + i, tok, tl) == 0) return 1;
    return 0;
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void set_interest(int ep, struct conn *c, int want_out)
{
    if (c->want_out == want_out) return;
    struct epoll_event ev = {.events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

static void queue_out(struct conn *c, const char *p, size_t n)
{
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void queue_error(struct conn *c, const char *status)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    if (c->out_len + (size_t)n <= OUT_CAP) queue_out(c, buf, (size_t)n);
    c->closing = 1;
}

/* Answers every complete request in c->in while there is room for the answer. */
static void parse_requests(struct conn *c)
{
    while (!c->closing) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end) {
            if (c->in_len == IN_CAP) queue_error(c, "431 Request Header Fields Too Large");
            return;
        }
        size_t head_len = (size_t)(end - c->in) + 4;
        char *line_end = memchr(c->in, '\r', head_len);
        size_t line_len = (size_t)(line_end - c->in);
        int http10 = line_len >= 8 && memcmp(line_end - 8, "HTTP/1.0", 8) == 0;
        int head = line_len >= 5 && memcmp(c->in, "HEAD ", 5) == 0;
        int keep = !http10;
        unsigned long body_len = 0;
        for (char *h = line_end + 2; h < end;) {
            char *eol = memmem(h, (size_t)(end + 2 - h), "\r\n", 2);
            char *colon = memchr(h, ':', (size_t)(eol - h));
            if (colon) {
                size_t nl = (size_t)(colon - h);
                char *v = colon + 1;
                size_t vl = (size_t)(eol - v);
                if (nl == 10 && strncasecmp(h, "Connection", 10) == 0) {
                    if (value_has(v, vl, "close"))
                        keep = 0;
                    else if (value_has(v, vl, "keep-alive"))
                        keep = 1;
                } else if (nl == 14 && strncasecmp(h, "Content-Length", 14) == 0) {
                    body_len = strtoul(v, NULL, 10);
                } else if (nl == 17 && strncasecmp(h, "Transfer-Encoding", 17) == 0) {
                    queue_error(c, "501 Not Implemented");
                    return;
                }
            }
            h = eol + 2;
        }
        if (body_len > IN_CAP - head_len) {
            queue_error(c, "413 Content Too Large");
            return;
        }
        if (c->in_len < head_len + body_len) return; /* the body is still on its way */
        const char *r;
        size_t rl;
        if (head) {
            r = keep ? resp_head_keep : resp_head_close;
            rl = keep ? resp_head_keep_len : resp_head_close_len;
        } else {
            r = keep ? resp_keep : resp_close;
            rl = keep ? resp_keep_len : resp_close_len;
        }
        if (c->out_len + rl > OUT_CAP) return; /* answer later, once the output drains */
        queue_out(c, r, rl);
        atomic_fetch_add_explicit(&n_responses, 1, memory_order_relaxed);
        size_t used = head_len + body_len;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (!keep) c->closing = 1;
    }
}

/* Sends what is queued. Returns -1 when the connection is to be closed. */
static int flush_out(int ep, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_interest(ep, c, 1);
            return 0;
        }
        return -1;
    }
    c->out_off = c->out_len = 0;
    if (c->closing) return -1;
    set_interest(ep, c, 0);
    return 0;
}

static void on_conn(int ep, struct conn *c, unsigned events)
{
    if (events & EPOLLOUT) {
        if (flush_out(ep, c) < 0) goto close;
        if (c->want_out) return;
        parse_requests(c); /* requests that waited for room in the output */
    } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (n == 0) goto close;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            goto close;
        }
        c->in_len += (size_t)n;
        parse_requests(c);
    }
    if (c->out_len > c->out_off || c->closing) {
        if (flush_out(ep, c) < 0) goto close;
    }
    return;
close:
    conn_close(ep, c);
}

static void on_accept(int ep)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return; /* EAGAIN (another thread took it), or EMFILE and the like: try later */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        atomic_fetch_add_explicit(&n_connections, 1, memory_order_relaxed);
    }
}

static void *loop(void *arg)
{
    (void)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) < 0) die("epoll_ctl(listen)");
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                on_accept(ep);
            else
                on_conn(ep, evs[i].data.ptr, evs[i].events);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: static_server PORTFILE [SECONDS [THREADS]]\n");
        return 2;
    }
    long seconds = argc > 2 ? strtol(argv[2], NULL, 10) : 300;
    long threads = argc > 3 ? strtol(argv[3], NULL, 10) : 2;
    if (seconds < 1 || seconds > 86400 || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "static_server: SECONDS must be 1..86400 and THREADS 1..%d\n", MAX_THREADS);
        return 2;
    }
    resp_keep_len = make_response(resp_keep, sizeof resp_keep, 1, 1);
    resp_close_len = make_response(resp_close, sizeof resp_close, 0, 1);
    resp_head_keep_len = make_response(resp_head_keep, sizeof resp_head_keep, 1, 0);
    resp_head_close_len = make_response(resp_head_close, sizeof resp_head_close, 0, 0);

    /* The worker threads inherit this mask: only the main thread takes the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) die("socket");
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind 127.0.0.1:0");
    if (listen(listen_fd, 4096) < 0) die("listen");
    socklen_t al = sizeof a;
    if (getsockname(listen_fd, (struct sockaddr *)&a, &al) < 0) die("getsockname");

    for (long i = 0; i < threads; i++) {
        pthread_t t;
        if ((errno = pthread_create(&t, NULL, loop, NULL)) != 0) die("pthread_create");
        pthread_detach(t);
    }

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f) die(tmp);
    fprintf(f, "%u\n", ntohs(a.sin_port));
    if (fclose(f) != 0 || rename(tmp, argv[1]) != 0) die(argv[1]);

    struct timespec deadline, now;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += seconds;
    const char *why = "time limit";
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            break;
        struct timespec left = {deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        int sig = sigtimedwait(&set, NULL, &left);
        if (sig > 0) {
            why = sig == SIGTERM ? "SIGTERM" : "SIGINT";
            break;
        }
        if (errno != EINTR && errno != EAGAIN) die("sigtimedwait");
    }
    fprintf(stderr, "static_server: stopping (%s) after %lu responses on %lu connections\n", why,
            atomic_load(&n_responses), atomic_load(&n_connections));
    _exit(0);
}
