/* http_client: blocking JSON requests to fnboxd over libcurl.
 * fnbox_client_new() checks the base URL (http:// or https:// only) and the token (printable
 * ASCII), and keeps them; the token is only ever sent as "Authorization: Bearer". Redirects are
 * not followed (the token must not travel elsewhere).
 * fnbox_request() sends METHOD <base><path> with an optional JSON body and returns the status,
 * the body parsed as JSON (NULL when empty or not JSON) and the raw body. It returns
 * FNBOX_HTTP_OK when any HTTP response arrived (whatever its status), FNBOX_HTTP_ECONNECT when
 * none did (err holds curl's message), FNBOX_HTTP_ELOCAL on a local failure (out of memory).
 * fnbox_request_raw() is the same with a JSON body sent byte for byte as given (a signed
 * receipt hashes the body as sent, so the caller can hash the same bytes).
 * fnbox_client_escape() percent-encodes one path segment or query value (malloc'd, or NULL).
 * Call fnbox_http_global_init() once before any client exists. */
#ifndef FNBOX_CLI_HTTP_CLIENT_H
#define FNBOX_CLI_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

enum {
    FNBOX_HTTP_OK = 0,
    FNBOX_HTTP_ECONNECT = -1,
    FNBOX_HTTP_ELOCAL = -2,
    FNBOX_HTTP_EINVAL = -3, /* fnbox_client_new: unusable URL or token */
};

struct fnbox_client_config {
    const char *url;    /* base URL, e.g. http://127.0.0.1:8080 */
    const char *token;  /* NULL: no Authorization header */
    const char *cacert; /* NULL: the system CA store */
    long timeout_s;     /* whole request; 0: none */
};

struct fnbox_response {
    long status;
    json_t *body; /* owned; NULL when the body is empty or not JSON */
    char *raw;    /* owned, NUL-terminated; NULL when empty */
    size_t raw_len;
    long retry_after; /* seconds from Retry-After, or -1 */
};

struct fnbox_client;

int fnbox_http_global_init(void);
void fnbox_http_global_cleanup(void);
int fnbox_client_new(const struct fnbox_client_config *cfg, struct fnbox_client **out, char *err,
                     size_t errlen);
void fnbox_client_free(struct fnbox_client *c);
/* The base URL without any user:password, for messages. */
const char *fnbox_client_display_url(const struct fnbox_client *c);
char *fnbox_client_escape(struct fnbox_client *c, const char *s);
int fnbox_request(struct fnbox_client *c, const char *method, const char *path, const json_t *body,
                  struct fnbox_response *resp, char *err, size_t errlen);
int fnbox_request_raw(struct fnbox_client *c, const char *method, const char *path,
                      const char *body, size_t len, struct fnbox_response *resp, char *err,
                      size_t errlen);
void fnbox_response_free(struct fnbox_response *resp);

#endif
