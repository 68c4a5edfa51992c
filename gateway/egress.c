#include "gateway/egress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cidr_parse(const char *text, struct cidr *out)
{
    char buf[64];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf) return -EINVAL;
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        char *end;
        *slash = 0;
        prefix = strtol(slash + 1, &end, 10);
        if (*end || slash[1] == 0) return -EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        if (prefix < 0) prefix = 32;
        if (prefix > 32) return -EINVAL;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        if (prefix < 0) prefix = 128;
        if (prefix > 128) return -EINVAL;
    } else {
        return -EINVAL;
    }
    out->prefix = (int)prefix;
    return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)full) != 0) return 0;
    if (!rest) return 1;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* Everything that is not public unicast. */
static const char *const v4_special[] = {
    "0.0.0.0/8",       "10.0.0.0/8",      "100.64.0.0/10",   "127.0.0.0/8",
    "169.254.0.0/16",  "172.16.0.0/12",   "192.0.0.0/24",    "192.0.2.0/24",
    "192.88.99.0/24",  "192.168.0.0/16",  "198.18.0.0/15",   "198.51.100.0/24",
    "203.0.113.0/24",  "224.0.0.0/4",     "240.0.0.0/4",     "255.255.255.255/32",
};
static const char *const v6_special[] = {
    "::/128",    "::1/128",     "100::/64",  "2001::/23", "2001:db8::/32", "2002::/16",
    "fc00::/7",  "fe80::/10",   "fec0::/10", "ff00::/8",
};

static int in_list(int family, const uint8_t *a, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cidr c;
        if (cidr_parse(list[i], &c) == 0 && c.family == family && prefix_match(a, c.addr, c.prefix))
            return 1;
    }
    return 0;
}

static int opened(int family, const uint8_t *a, const struct cidr *open, int n_open)
{
    for (int i = 0; i < n_open; i++)
        if (open[i].family == family && prefix_match(a, open[i].addr, open[i].prefix)) return 1;
    return 0;
}

static int v4_allowed(const uint8_t a[4], const struct cidr *open, int n_open)
{
    if (!in_list(AF_INET, a, v4_special, sizeof v4_special / sizeof *v4_special)) return 1;
    return opened(AF_INET, a, open, n_open);
}

int egress_addr_allowed(const struct sockaddr *sa, const struct cidr *open, int n_open)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_allowed((const uint8_t *)&in->sin_addr, open, n_open);
    }
    if (sa->sa_family != AF_INET6) return 0;
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t compat[12] = {0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    /* ::a.b.c.d (IPv4-compatible) but not :: and ::1, which the IPv6 list judges */
    int low_is_0_or_1 = !(a[12] | a[13] | a[14]) && a[15] <= 1;
    int is_compat = memcmp(a, compat, 12) == 0 && !low_is_0_or_1;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 || is_compat)
        return v4_allowed(a + 12, open, n_open);
    if (!in_list(AF_INET6, a, v6_special, sizeof v6_special / sizeof *v6_special)) return 1;
    return opened(AF_INET6, a, open, n_open);
}

int egress_host_allowed(const char *entry, const char *host, int port, int default_port)
{
    const char *colon = strrchr(entry, ':');
    size_t hostlen = strlen(entry);
    int want_port = default_port;
    if (colon) {
        want_port = atoi(colon + 1);
        hostlen = (size_t)(colon - entry);
    }
    if (port != want_port) return 0;
    size_t n = strlen(host);
    while (n && host[n - 1] == '.') n--; /* "api.example.com." is "api.example.com" */
    if (hostlen > 2 && entry[0] == '*' && entry[1] == '.') {
        /* one label, then exactly the domain */
        size_t dlen = hostlen - 1; /* ".domain" */
        if (n <= dlen || strncasecmp(host + n - dlen, entry + 1, dlen) != 0) return 0;
        size_t label = n - dlen;
        return memchr(host, '.', label) == NULL;
    }
    return n == hostlen && strncasecmp(host, entry, n) == 0;
}
