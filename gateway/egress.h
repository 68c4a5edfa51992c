/* Egress policy for fetch(): pure decisions, no I/O, unit-tested.
 *
 * - egress_host_allowed: does host:port match an allowlist entry? Entries are "host"
 *   (the scheme's default port only), "host:port", or "*.domain" (exactly one more label).
 *   Comparison is on the lower-cased host without a trailing dot.
 * - egress_addr_allowed: may a connection go to this address? Public unicast addresses are
 *   allowed; loopback, private (RFC 1918, ULA), link-local, CGNAT, multicast, unspecified,
 *   broadcast, documentation, benchmarking and reserved ranges are refused unless one of
 *   the operator's CIDRs (--egress-allow-private) contains the address. IPv6 forms that
 *   embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96) are judged by
 *   that IPv4 address. */
#ifndef FNBOX_EGRESS_H
#define FNBOX_EGRESS_H

#include <stdint.h>
#include <sys/socket.h>

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix;
};

/* "10.0.0.0/8", "127.0.0.1" (a /32), "fd00::/8". 0 or -EINVAL. */
int cidr_parse(const char *text, struct cidr *out);

int egress_host_allowed(const char *entry, const char *host, int port, int default_port);

int egress_addr_allowed(const struct sockaddr *sa, const struct cidr *open, int n_open);

#endif
