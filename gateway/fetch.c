#include "common/hex.h"
#include "gateway/fetch.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/proto.h"
#include "common/utf8.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define HEADERS_MAX 64
#define HEADER_BYTES_MAX (64u * 1024u)
#define CONNECT_TIMEOUT_MS 5000
#define LOW_SPEED_BYTES 16 /* per second ... */
#define LOW_SPEED_SECONDS 3 /* ... over this long, or the request fails */

static int fail(struct fetch_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct fetch_error *e, const char *code, const char *fmt, ...)
{
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap + 65536 + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int egress_config_init(struct egress_config *c, const char *const *cidrs, int n_cidrs,
                       const char *ca_file, char *err, size_t errlen)
{
    for (int i = 0; i < n_cidrs && i < FETCH_LIST_MAX; i++) {
        if (cidr_parse(cidrs[i], &c->open[c->n_open]) != 0) {
            snprintf(err, errlen, "--egress-allow-private: '%s' is not an address or CIDR",
                     cidrs[i]);
            return -1;
        }
        c->n_open++;
    }
    if (!ca_file) return 0; /* libcurl's default: the system store */
    size_t sys_len = 0, extra_len = 0;
    char *sys = read_file(SYSTEM_CA_BUNDLE, &sys_len); /* may be absent */
    char *extra = read_file(ca_file, &extra_len);
    if (!extra || !strstr(extra, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen, "--egress-ca-file %s: cannot read a PEM certificate", ca_file);
        free(sys);
        free(extra);
        return -1;
    }
    c->ca_pem = malloc(sys_len + extra_len + 2);
    if (!c->ca_pem) {
        free(sys);
        free(extra);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sys) memcpy(c->ca_pem, sys, sys_len);
    c->ca_pem[sys_len] = '\n';
    memcpy(c->ca_pem + sys_len + 1, extra, extra_len);
    c->ca_len = sys_len + 1 + extra_len;
    free(sys);
    free(extra);
    return 0;
}

void egress_config_free(struct egress_config *c)
{
    free(c->ca_pem);
    c->ca_pem = NULL;
}

/* The host exactly as the URL text writes it (lower-cased, no trailing dot). */
static int raw_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    if (!p) return -1;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) return -1;
    const char *end = p + n;
    const char *colon = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ':') colon = q;
    if (colon) end = colon;
    size_t len = (size_t)(end - p);
    while (len && p[len - 1] == '.') len--;
    if (len == 0 || len >= cap) return -1;
    for (size_t i = 0; i < len; i++) out[i] = (char)tolower((unsigned char)p[i]);
    out[len] = 0;
    return 0;
}

static int ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

static int header_ok(const char *name, const char *value)
{
    if (!*name || strlen(name) > 256 || strlen(value) > 8192) return 0;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p))) return 0;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n') return 0;
    /* the allowlist decides where a request goes: no Host override; framing is curl's */
    static const char *const reserved[] = {"host", "content-length", "transfer-encoding",
                                           "connection", "upgrade", "te", "expect"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcasecmp(name, reserved[i]) == 0) return 0;
    return 1;
}

static int list_allows(const char *const *list, int n, const char *host, int port, int def)
{
    for (int i = 0; i < n; i++)
        if (egress_host_allowed(list[i], host, port, def)) return 1;
    return 0;
}

int fetch_prepare(const struct egress_config *c, const json_t *allow_hosts, const char *url,
                  const json_t *headers, struct fetch_target *t, struct fetch_error *e)
{
    memset(t, 0, sizeof *t);
    if (strlen(url) > 8192) return fail(e, FETCH_ERR_INVALID, "URL too long");
    CURLU *u = curl_url();
    if (!u) return fail(e, FETCH_ERR_INVALID, "out of memory");
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        fail(e, FETCH_ERR_INVALID, "not a valid URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)) {
        fail(e, FETCH_ERR_SCHEME,
             "only https (and http for hosts the operator allows) can be fetched");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        fail(e, FETCH_ERR_INVALID, "credentials in a URL are not allowed; send a header");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, CURLU_PUNYCODE) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        fail(e, FETCH_ERR_INVALID, "the URL has no host");
        goto out;
    }
    snprintf(t->scheme, sizeof t->scheme, "%s", strcasecmp(scheme, "https") == 0 ? "https" : "http");
    size_t hn = strlen(host);
    while (hn && host[hn - 1] == '.') hn--;
    if (hn == 0 || hn >= sizeof t->host || host[0] == '[') {
        fail(e, FETCH_ERR_HOST, "host '%.100s' is not allowed (IP literals other than dotted IPv4 "
                                "never are)", host);
        goto out;
    }
    for (size_t i = 0; i < hn; i++) t->host[i] = (char)tolower((unsigned char)host[i]);
    t->host[hn] = 0;
    t->port = atoi(port);
    char raw[256];
    if (raw_host(url, raw, sizeof raw) != 0 || (ascii(raw) && strcmp(raw, t->host) != 0)) {
        fail(e, FETCH_ERR_INVALID, "write the host in its plain form ('%.100s')", t->host);
        goto out;
    }
    int def = strcmp(t->scheme, "https") == 0 ? 443 : 80;
    const json_t *match = NULL;
    size_t i;
    json_t *entry;
    json_array_foreach((json_t *)allow_hosts, i, entry) {
        const char *h = json_is_string(entry) ? json_string_value(entry)
                                               : json_string_value(json_object_get(entry, "host"));
        if (h && egress_host_allowed(h, t->host, t->port, def)) {
            match = entry;
            break;
        }
    }
    if (!match || (c->n_allow && !list_allows(c->allow, c->n_allow, t->host, t->port, def))) {
        char hp[300];
        snprintf(hp, sizeof hp, "%.255s:%d", t->host, t->port);
        fail(e, FETCH_ERR_HOST, "%.120s is not in this function's allow_hosts", hp);
        goto out;
    }
    if (strcmp(t->scheme, "http") == 0 &&
        !list_allows(c->allow_http, c->n_allow_http, t->host, t->port, 80)) {
        fail(e, FETCH_ERR_SCHEME, "plain http to %.100s is not allowed by the operator; use https",
             t->host);
        goto out;
    }
    const char *pin = json_is_object(match) ? json_string_value(json_object_get(match, "pin")) : NULL;
    if (pin) snprintf(t->pin, sizeof t->pin, "%s", pin);
    const char *name;
    json_t *v;
    size_t nh = 0;
    json_object_foreach((json_t *)headers, name, v) {
        if (++nh > HEADERS_MAX || !json_is_string(v) || !header_ok(name, json_string_value(v)) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            fail(e, FETCH_ERR_INVALID, "header '%.64s' is not allowed (CR/LF/NUL, reserved name, "
                                       "or too many headers)", name);
            goto out;
        }
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return rc;
}

struct transfer {
    const struct egress_config *c;
    int address_refused;
    int too_large;
    uint8_t *body;
    size_t len, cap;
    EVP_MD_CTX *md;
    json_t *headers;
    size_t header_bytes;
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct transfer *x = arg;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        !egress_addr_allowed(&a->addr, x->c->open, x->c->n_open)) {
        x->address_refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *x = arg;
    size_t n = size * nmemb;
    if (n > x->c->max_response - x->len) {
        x->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (x->len + n > x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 16384;
        while (ncap < x->len + n) ncap *= 2;
        uint8_t *nb = realloc(x->body, ncap);
        if (!nb) return 0;
        x->body = nb;
        x->cap = ncap;
    }
    memcpy(x->body + x->len, data, n);
    x->len += n;
    EVP_DigestUpdate(x->md, data, n);
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *x = arg;
    size_t n = size * nmemb;
    x->header_bytes += n;
    if (x->header_bytes > HEADER_BYTES_MAX) return 0;
    const char *colon = memchr(data, ':', n);
    if (!colon || colon == data) return n; /* the status line, or the blank line */
    char name[128], value[8192];
    size_t nl = (size_t)(colon - data), vs = nl + 1;
    if (nl >= sizeof name) return n;
    for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)data[i]);
    name[nl] = 0;
    while (vs < n && (data[vs] == ' ' || data[vs] == '\t')) vs++;
    size_t ve = n;
    while (ve > vs && (data[ve - 1] == '\r' || data[ve - 1] == '\n' || data[ve - 1] == ' ')) ve--;
    if (ve - vs >= sizeof value) ve = vs + sizeof value - 1;
    memcpy(value, data + vs, ve - vs);
    value[ve - vs] = 0;
    size_t clean_len;
    char *clean = utf8_sanitize(value, strlen(value), &clean_len); /* headers need not be UTF-8 */
    if (!clean) return 0;
    snprintf(value, sizeof value, "%s", clean);
    free(clean);
    json_t *prev = json_object_get(x->headers, name);
    if (prev) { /* repeated header: join as HTTP does */
        char joined[8192 * 2 + 3];
        snprintf(joined, sizeof joined, "%s, %s", json_string_value(prev), value);
        json_object_set_new(x->headers, name, json_string(joined));
    } else {
        json_object_set_new(x->headers, name, json_string(value));
    }
    return n;
}

/* SHA-256 of the leaf certificate's DER, from libcurl's certificate info. */
static void peer_cert_sha256(CURL *h, char out[65])
{
    struct curl_certinfo *ci = NULL;
    out[0] = 0;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
        return;
    for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
        if (strncmp(s->data, "Cert:", 5) != 0) continue;
        BIO *bio = BIO_new_mem_buf(s->data + 5, -1);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        unsigned char *der = NULL;
        int len = x ? i2d_X509(x, &der) : -1;
        unsigned char md[32];
        unsigned int mdlen = 0;
        if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1)
            hex_encode(md, 32, out);
        OPENSSL_free(der);
        X509_free(x);
        BIO_free(bio);
        return;
    }
}

static const char *method_ok(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(m, ok[i]) == 0) return ok[i];
    return NULL;
}

int fetch_perform(const struct egress_config *c, const struct fetch_target *t, const char *url,
                  const char *method, const json_t *headers, const uint8_t *body, size_t body_len,
                  int64_t timeout_ms, struct fetch_response *out, struct fetch_error *e)
{
    memset(out, 0, sizeof *out);
    const char *m = method_ok(method ? method : "GET");
    if (!m) return fail(e, FETCH_ERR_INVALID, "method '%.16s' is not supported", method);
    if (body_len > c->max_request) return fail(e, FETCH_ERR_INVALID, "request body too large");
    if (timeout_ms <= 0) return fail(e, FETCH_ERR_TIMEOUT, "no time left for this fetch");
    struct transfer x = {.c = c, .headers = json_object(), .md = EVP_MD_CTX_new()};
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    int rc = -1;
    if (!h || !x.headers || !x.md || EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
        fail(e, FETCH_ERR_UPSTREAM, "out of memory");
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)headers, name, v) {
        char line[8192 + 300];
        snprintf(line, sizeof line, "%s: %s", name, json_string_value(v));
        struct curl_slist *nl = curl_slist_append(hl, line);
        if (!nl) {
            fail(e, FETCH_ERR_UPSTREAM, "out of memory");
            goto out;
        }
        hl = nl;
    }
    int https = strcmp(t->scheme, "https") == 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");        /* never a proxy from the environment */
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "fnbox/0.1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_SECONDS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    if (strcmp(m, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
        if (strcmp(m, "GET") == 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "GET");
    }
    if (https) {
        curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
        if (c->ca_pem) {
            struct curl_blob ca = {.data = c->ca_pem, .len = c->ca_len, .flags = CURL_BLOB_NOCOPY};
            curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
        }
        if (t->pin[0]) curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, t->pin);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CURLcode cc = curl_easy_perform(h);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (cc != CURLE_OK) {
        if (x.address_refused && cc == CURLE_COULDNT_CONNECT)
            fail(e, FETCH_ERR_ADDRESS, "%.100s resolves to an address fetch may not reach", t->host);
        else if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED)
            fail(e, FETCH_ERR_TOO_LARGE, "the response is larger than the cap");
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            fail(e, FETCH_ERR_TIMEOUT, "the request took too long or stalled (%s)",
                 curl_easy_strerror(cc));
        else if (cc == CURLE_COULDNT_RESOLVE_HOST)
            fail(e, FETCH_ERR_DNS, "cannot resolve %.100s", t->host);
        else if (cc == CURLE_COULDNT_CONNECT)
            fail(e, FETCH_ERR_CONNECT, "cannot connect to %.100s", t->host);
        else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
                 cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CERTPROBLEM ||
                 cc == CURLE_SSL_CACERT_BADFILE)
            fail(e, FETCH_ERR_TLS, "TLS failed: %s", curl_easy_strerror(cc));
        else
            fail(e, FETCH_ERR_UPSTREAM, "the request failed: %s", curl_easy_strerror(cc));
        goto out;
    }
    char *eff = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    out->final_url = strdup(eff ? eff : url);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!out->final_url || EVP_DigestFinal_ex(x.md, md, &mdlen) != 1) {
        fail(e, FETCH_ERR_UPSTREAM, "out of memory");
        goto out;
    }
    hex_encode(md, 32, out->body_sha256);
    if (https) peer_cert_sha256(h, out->tls_peer_sha256);
    out->headers = x.headers;
    x.headers = NULL;
    out->body = x.body;
    out->body_len = x.len;
    x.body = NULL;
    rc = 0;
out:
    if (rc) fetch_response_free(out);
    free(x.body);
    json_decref(x.headers);
    EVP_MD_CTX_free(x.md);
    curl_slist_free_all(hl);
    if (h) curl_easy_cleanup(h);
    return rc;
}

void fetch_response_free(struct fetch_response *r)
{
    json_decref(r->headers);
    free(r->body);
    free(r->final_url);
    memset(r, 0, sizeof *r);
}
