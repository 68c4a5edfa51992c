/* fetch() on the gateway side: check a request against the egress policy, then perform it
 * with libcurl. The function never touches the network; this code decides and does it.
 *
 * fetch_prepare parses the URL with curl_url (http/https only, no userinfo, the host as
 * written must be the canonical host: no numeric IPv4 forms like 2130706433 or 0x7f.1),
 * requires the host:port to match the function's allow_hosts and, when the operator gave
 * --egress-allow, one of those too; plain http only for --egress-allow-http hosts. Header
 * names and values may not contain CR, LF or NUL.
 * fetch_perform connects only to addresses egress_addr_allowed accepts (checked in the
 * open-socket callback on the address actually connected to, for every address DNS gave),
 * follows no redirect, uses no proxy, .netrc or cookie, verifies TLS (system CAs plus
 * --egress-ca-file; a pinned public key when the allowlist entry has one), bounds time (the
 * request's timeout, the invocation's deadline, a low-speed limit) and the response size
 * (counted as it arrives), and records provenance: final URL, status, SHA-256 of the body,
 * SHA-256 of the TLS peer certificate (DER).
 * Both return 0, or -1 with err_code (a FETCH_ERR_* of common/proto.h) and err_msg set. */
#ifndef FNBOX_FETCH_H
#define FNBOX_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway/egress.h"

#define FETCH_LIST_MAX 64

struct egress_config {
    struct cidr open[FETCH_LIST_MAX]; /* --egress-allow-private */
    int n_open;
    const char *const *allow; /* --egress-allow (none: any host a function lists) */
    int n_allow;
    const char *const *allow_http; /* --egress-allow-http */
    int n_allow_http;
    char *ca_pem; /* system CAs + --egress-ca-file, or NULL for libcurl's default */
    size_t ca_len;
    size_t max_response; /* bytes */
    size_t max_request;  /* bytes */
};

struct fetch_target {
    char scheme[8];
    char host[256];
    int port;
    char pin[128]; /* "sha256//..." or "" */
};

struct fetch_response {
    long status;
    json_t *headers; /* lower-case name -> value */
    uint8_t *body;
    size_t body_len;
    char *final_url;
    char body_sha256[65];
    char tls_peer_sha256[65]; /* "" for http */
    double seconds;
};

struct fetch_error {
    const char *code;
    char msg[256];
};

/* Loads the CA bundle (system + extra) and parses the CIDRs. 0 or -1 with a message. */
int egress_config_init(struct egress_config *c, const char *const *cidrs, int n_cidrs,
                       const char *ca_file, char *err, size_t errlen);
void egress_config_free(struct egress_config *c);

int fetch_prepare(const struct egress_config *c, const json_t *allow_hosts, const char *url,
                  const json_t *headers, struct fetch_target *t, struct fetch_error *e);

int fetch_perform(const struct egress_config *c, const struct fetch_target *t, const char *url,
                  const char *method, const json_t *headers, const uint8_t *body, size_t body_len,
                  int64_t timeout_ms, struct fetch_response *out, struct fetch_error *e);
void fetch_response_free(struct fetch_response *r);

#endif
