#include "gateway/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "gateway/routes.h"

void http_reply_text(struct request *r, unsigned status, char *text, size_t len,
                     const char *content_type)
{
    free(r->reply);
    r->reply = text;
    r->reply_len = len;
    r->status = status;
    r->content_type = content_type;
    r->replied = 1;
}

void http_reply_json(struct request *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        text = strdup(oom);
        status = 500;
    }
    http_reply_text(r, status, text, text ? strlen(text) : 0, "application/json");
}

void http_reply_error(struct request *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_reply_json(r, status, json_pack("{s{ssss}}", "error", "code", code, "message", msg));
}

void http_suspend(struct request *r)
{
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
}

void http_resume(struct request *r)
{
    MHD_resume_connection(r->conn);
}

const char *http_query(struct request *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result send_reply(struct request *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->reply_len, r->reply,
                                                                MHD_RESPMEM_MUST_FREE);
    if (!resp) return MHD_NO;
    r->reply = NULL; /* the response owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int append_body(struct request *r, const char *data, size_t len)
{
    size_t max = (size_t)r->app->cfg.max_body_bytes;
    if (r->body_too_large || len > max - r->body_len) {
        r->body_too_large = 1; /* keep reading, but store nothing more */
        return 0;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t ncap = r->body_cap ? r->body_cap : 1024;
        while (ncap < r->body_len + len + 1) ncap *= 2;
        char *nb = realloc(r->body, ncap);
        if (!nb) return -1;
        r->body = nb;
        r->body_cap = ncap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = 0;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct app *app = cls;
    struct request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->app = app;
        r->conn = conn;
        r->method = method;
        r->url = url;
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* refuse what will be refused before reading a byte of the body */
        if (routes_prepare(r) == 0 && cl &&
            strtoull(cl, NULL, 10) > (unsigned long long)app->cfg.max_body_bytes)
            http_reply_error(r, 413, "body_too_large", "request body over %ld bytes",
                             app->cfg.max_body_bytes);
        if (r->replied) {
            r->dispatched = 1;
            return send_reply(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->dispatched) { /* already answered: discard */
            *upload_size = 0;
            return MHD_YES;
        }
        if (append_body(r, upload, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->dispatched) {
        r->dispatched = 1;
        if (r->body_too_large)
            http_reply_error(r, 413, "body_too_large", "request body over %ld bytes",
                             app->cfg.max_body_bytes);
        else
            routes_run(r);
        /* A suspended request's reply belongs to the task until it resumes us: not a field
         * of it may be read before MHD calls back. */
        if (r->suspended) return MHD_YES;
    }
    if (!r->replied) {
        if (r->suspended) return MHD_YES;
        http_reply_error(r, 500, "internal", "no reply");
    }
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    if (!r) return;
    if (r->body) OPENSSL_cleanse(r->body, r->body_cap); /* bodies may carry secret values */
    free(r->body);
    free(r->reply);
    free(r);
    *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host) return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

struct MHD_Daemon *http_start(struct app *app)
{
    struct sockaddr_in sa;
    if (parse_listen(app->cfg.listen, &sa)) {
        LOG_E("--listen must be IPv4ADDR:PORT, got '%s'", app->cfg.listen);
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, app, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)app->cfg.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)app->cfg.connection_timeout, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)app->cfg.per_ip_connections, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(app->cfg.per_ip_connections * 4 + 64), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, app, MHD_OPTION_END);
    if (!d) LOG_E("cannot listen on %s", app->cfg.listen);
    return d;
}
