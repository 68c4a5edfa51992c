#include "cli/http_client.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/io.h"
#include "cli/util.h"

#define RESPONSE_MAX ((size_t)256 << 20)
#define CONNECT_TIMEOUT_S 10L

struct fnbox_client {
    CURL *curl;
    char *base;    /* as given, without trailing '/' */
    char *display; /* base without credentials */
    char *auth;    /* "Authorization: Bearer ..." or NULL; wiped on free */
    char *cacert;
    long timeout_s;
};

int fnbox_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void fnbox_http_global_cleanup(void)
{
    curl_global_cleanup();
}

static bool token_ok(const char *t)
{
    if (*t == '\0') return false;
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) return false;
    return true;
}

/* Checks the URL's scheme and builds its credential-free form; 0, or an FNBOX_HTTP_* error. */
static int check_url(struct fnbox_client *c, char *err, size_t errlen)
{
    int rc = FNBOX_HTTP_ELOCAL;
    char *scheme = NULL, *shown = NULL;
    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, c->base, 0);
    if (uc == CURLUE_OUT_OF_MEMORY) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (uc != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "the server URL must be an http:// or https:// URL");
        rc = FNBOX_HTTP_EINVAL;
        goto out;
    }
    if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &shown, 0) != CURLUE_OK) {
        snprintf(err, errlen, "the server URL cannot be used");
        rc = FNBOX_HTTP_EINVAL;
        goto out;
    }
    c->display = strdup(shown);
    if (c->display == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = FNBOX_HTTP_OK;
out:
    curl_free(scheme);
    curl_free(shown);
    curl_url_cleanup(u);
    return rc;
}

int fnbox_client_new(const struct fnbox_client_config *cfg, struct fnbox_client **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (cfg->token != NULL && !token_ok(cfg->token)) {
        /* never echo the token itself */
        snprintf(err, errlen,
                 "the token is empty or contains characters other than printable ASCII");
        return FNBOX_HTTP_EINVAL;
    }
    struct fnbox_client *c = calloc(1, sizeof *c);
    if (c == NULL) goto oom;
    c->timeout_s = cfg->timeout_s;
    c->base = strdup(cfg->url);
    if (c->base == NULL) goto oom;
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    int rc = check_url(c, err, errlen);
    if (rc != FNBOX_HTTP_OK) {
        fnbox_client_free(c);
        return rc;
    }
    if (cfg->token != NULL && asprintf(&c->auth, "Authorization: Bearer %s", cfg->token) < 0) {
        c->auth = NULL;
        goto oom;
    }
    if (cfg->cacert != NULL && (c->cacert = strdup(cfg->cacert)) == NULL) goto oom;
    c->curl = curl_easy_init();
    if (c->curl == NULL) goto oom;
    *out = c;
    return FNBOX_HTTP_OK;
oom:
    fnbox_client_free(c);
    snprintf(err, errlen, "out of memory");
    return FNBOX_HTTP_ELOCAL;
}

void fnbox_client_free(struct fnbox_client *c)
{
    if (c == NULL) return;
    if (c->curl != NULL) curl_easy_cleanup(c->curl);
    if (c->auth != NULL) fnbox_wipe_free(c->auth, strlen(c->auth));
    free(c->base);
    free(c->display);
    free(c->cacert);
    free(c);
}

const char *fnbox_client_display_url(const struct fnbox_client *c)
{
    return c->display;
}

char *fnbox_client_escape(struct fnbox_client *c, const char *s)
{
    char *e = curl_easy_escape(c->curl, s, 0);
    if (e == NULL) return NULL;
    char *copy = strdup(e);
    curl_free(e);
    return copy;
}

struct sink {
    char *p;
    size_t len, cap;
    bool too_big, oom;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb; /* size is 1 by contract */
    if (n > RESPONSE_MAX - s->len) {
        s->too_big = true;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *p = realloc(s->p, cap);
        if (p == NULL) {
            s->oom = true;
            return 0;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct fnbox_response *r = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    const size_t nl = sizeof name - 1;
    if (n > nl && strncasecmp(data, name, nl) == 0) {
        size_t i = nl;
        while (i < n && (data[i] == ' ' || data[i] == '\t'))
            i++;
        long v = 0;
        size_t digits = 0;
        while (i < n && data[i] >= '0' && data[i] <= '9' && digits < 9) {
            v = v * 10 + (data[i] - '0');
            i++;
            digits++;
        }
        if (digits > 0) r->retry_after = v;
    }
    return n;
}

/* Serialises body compactly into a malloc'd buffer; NULL when out of memory. */
static char *dump_body(const json_t *body, size_t *len)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(body, NULL, 0, flags);
    if (n == 0) return NULL;
    char *p = malloc(n);
    if (p == NULL) return NULL;
    if (json_dumpb(body, p, n, flags) != n) {
        fnbox_wipe_free(p, n);
        return NULL;
    }
    *len = n;
    return p;
}

static int add_header(struct curl_slist **list, const char *h)
{
    struct curl_slist *l = curl_slist_append(*list, h);
    if (l == NULL) return -1;
    *list = l;
    return 0;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(c->curl, opt, val) != CURLE_OK) {                                     \
            snprintf(err, errlen, "libcurl refused option %s", #opt);                              \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Either body (encoded here) or raw/raw_len (sent as they are) or neither. */
static int request(struct fnbox_client *c, const char *method, const char *path, const json_t *body,
                   const char *raw, size_t raw_len, struct fnbox_response *resp, char *err,
                   size_t errlen)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after = -1;
    int rc = FNBOX_HTTP_ELOCAL;
    char *url = NULL, *payload = NULL;
    size_t payload_len = 0;
    struct curl_slist *headers = NULL;
    struct sink sink = {0};
    char curl_err[CURL_ERROR_SIZE];
    curl_err[0] = '\0';

    if (asprintf(&url, "%s%s", c->base, path) < 0) {
        url = NULL;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (body != NULL && (payload = dump_body(body, &payload_len)) == NULL) {
        snprintf(err, errlen, "cannot encode the request body (out of memory)");
        goto out;
    }
    if (body == NULL && raw != NULL) {
        if ((payload = malloc(raw_len ? raw_len : 1)) == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        memcpy(payload, raw, raw_len);
        payload_len = raw_len;
    }
    if (add_header(&headers, "Accept: application/json") != 0 ||
        add_header(&headers, "Expect:") != 0 ||
        (payload != NULL && add_header(&headers, "Content-Type: application/json") != 0) ||
        (c->auth != NULL && add_header(&headers, c->auth) != 0)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }

    curl_easy_reset(c->curl);
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_NOPROGRESS, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, curl_err);
    SETOPT(CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    SETOPT(CURLOPT_TIMEOUT, c->timeout_s);
    SETOPT(CURLOPT_USERAGENT, "fnbox/" FNBOX_CLI_VERSION);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &sink);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, resp);
    if (c->cacert != NULL) SETOPT(CURLOPT_CAINFO, c->cacert);
    if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else {
        if (payload != NULL) {
            SETOPT(CURLOPT_POSTFIELDS, payload);
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len);
        } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            SETOPT(CURLOPT_POSTFIELDS, "");
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }

    CURLcode cc = curl_easy_perform(c->curl);
    if (cc != CURLE_OK) {
        if (sink.oom) {
            snprintf(err, errlen, "out of memory reading the response");
        } else if (sink.too_big) {
            snprintf(err, errlen, "the response is larger than %zu bytes", RESPONSE_MAX);
        } else {
            snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(cc));
            rc = FNBOX_HTTP_ECONNECT;
        }
        goto out;
    }
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK) {
        snprintf(err, errlen, "libcurl gave no response status");
        goto out;
    }
    if (sink.len > 0) {
        json_error_t jerr;
        resp->body = json_loadb(sink.p, sink.len, JSON_DECODE_ANY, &jerr);
        resp->raw = sink.p;
        resp->raw_len = sink.len;
        sink.p = NULL;
    }
    rc = FNBOX_HTTP_OK;
out:
    if (rc != FNBOX_HTTP_OK) resp->retry_after = -1;
    /* the request body may carry a secret value: wipe our copy */
    if (payload != NULL) fnbox_wipe_free(payload, payload_len);
    curl_slist_free_all(headers);
    free(sink.p);
    free(url);
    return rc;
}

int fnbox_request(struct fnbox_client *c, const char *method, const char *path, const json_t *body,
                  struct fnbox_response *resp, char *err, size_t errlen)
{
    return request(c, method, path, body, NULL, 0, resp, err, errlen);
}

int fnbox_request_raw(struct fnbox_client *c, const char *method, const char *path,
                      const char *body, size_t len, struct fnbox_response *resp, char *err,
                      size_t errlen)
{
    return request(c, method, path, NULL, body, len, resp, err, errlen);
}

void fnbox_response_free(struct fnbox_response *resp)
{
    json_decref(resp->body);
    free(resp->raw);
    memset(resp, 0, sizeof *resp);
    resp->retry_after = -1;
}
