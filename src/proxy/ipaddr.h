/* ipaddr: IP literals in every spelling a resolver accepts, normalised and classified (loopback,
 * private, metadata, ...). */
#ifndef BOTTLE_PROXY_IPADDR_H
#define BOTTLE_PROXY_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What an address reaches. Everything but IPADDR_PUBLIC is "internal" and
 * refused by pipelock unless an `upstream.resolve` override names the host. */
enum ipaddr_class {
    IPADDR_PUBLIC,
    IPADDR_LOOPBACK,    /* 127/8, ::1 */
    IPADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10 */
    IPADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    IPADDR_METADATA,    /* 169.254.169.254, 100.100.100.200, fd00:ec2::254 */
    IPADDR_UNSPECIFIED, /* 0/8, :: (0.0.0.0 reaches the local host on Linux) */
    IPADDR_CGNAT,       /* 100.64/10 (also tailnets) */
    IPADDR_MULTICAST,   /* 224/4, ff00::/8 */
    IPADDR_BROADCAST,   /* 255.255.255.255 */
    IPADDR_RESERVED,    /* 240/4, 192.0.0/24, 198.18/15, documentation ranges, 100::/64 */
};

/* Longest canonical text: a full IPv6 address with an embedded IPv4 tail. */
#define IPADDR_TEXT_MAX 48

struct ipaddr {
    int family;                 /* AF_INET or AF_INET6 */
    uint8_t bytes[16];          /* network order; the first 4 for AF_INET */
    enum ipaddr_class cls;      /* for IPv4 embedded in IPv6 (mapped ::ffff:a.b.c.d,
                                   compat ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16)
                                   the embedded address's class when it is not public */
    char text[IPADDR_TEXT_MAX]; /* canonical: "127.0.0.1", "::1", "::ffff:127.0.0.1" */
};

/* ipaddr_parse results besides 0. */
#define IPADDR_NAME (-1) /* not an IP literal: a name, to be resolved */
#define IPADDR_INVALID                                                                             \
    (-2) /* looks numeric (bracketed, contains ':', or the last                                    \
            label is a number) but is no valid address: refuse */

/* Parse HOST (no port) as an IP literal in any spelling inet_aton and the
 * WHATWG URL parser accept: "2130706433", "0177.0.0.1", "0x7f.0.0.1",
 * "127.1", one trailing dot; IPv6 bare or in brackets, with an optional
 * zone ("%eth0" or "%25eth0", dropped). Returns 0 and fills OUT, or
 * IPADDR_NAME, or IPADDR_INVALID. Callers that go on to connect must use
 * OUT->text (or OUT->bytes), never the raw host, so the check and the
 * connection agree. */
int ipaddr_parse(const char *host, struct ipaddr *out);
/* The same over HOST[0..LEN) (need not be NUL-terminated). */
int ipaddr_parse_n(const char *host, size_t len, struct ipaddr *out);
/* Fill OUT from a resolved address (AF_INET or AF_INET6), so names are
 * checked after resolution by the same rules. Returns 0 or -1. */
int ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out);
/* "public", "loopback", "private", "link-local", "metadata", "unspecified",
 * "cgnat", "multicast", "broadcast", "reserved". Static string. */
const char *ipaddr_class_name(enum ipaddr_class c);
/* Anything but IPADDR_PUBLIC. */
bool ipaddr_is_internal(const struct ipaddr *a);

#endif
