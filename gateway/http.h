/* The HTTP server (libmicrohttpd, epoll, an internal thread pool) and one request's life.
 *
 * As soon as the headers are in, the route is matched and the token checked (routes_prepare):
 * a request that will be refused (404, 405, 401, 403, or a declared length over
 * --max-body-bytes: 413) is answered before any of its body is read. Otherwise the body is
 * collected up to --max-body-bytes (beyond: 413, nothing is parsed), then routes_run calls
 * the handler on the HTTP thread. A handler either sets the reply at once or
 * calls http_suspend and hands the work to the executor; the task sets the reply and calls
 * http_resume, so HTTP threads never block on a worker. Every reply is JSON unless a handler
 * says otherwise; every error is {"error":{"code","message"}}. */
#ifndef FNBOX_HTTP_H
#define FNBOX_HTTP_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gateway/app.h"
#include "gateway/auth.h"

struct request {
    struct app *app;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    char *body;
    size_t body_len, body_cap;
    int body_too_large;
    int dispatched, suspended;
    struct principal who;
    const void *route;  /* matched by routes_prepare */
    char *params[2];    /* path parameters, pointing into path */
    char path[1024];
    /* the reply */
    int replied;
    unsigned status;
    char *reply;
    size_t reply_len;
    const char *content_type;
    int retry_after; /* seconds, 0: no header */
};

void http_reply_json(struct request *r, unsigned status, json_t *body); /* steals body */
void http_reply_error(struct request *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* takes ownership of a malloc'd text */
void http_reply_text(struct request *r, unsigned status, char *text, size_t len,
                     const char *content_type);
void http_suspend(struct request *r);
void http_resume(struct request *r);
const char *http_query(struct request *r, const char *key);

struct MHD_Daemon *http_start(struct app *app);

#endif
