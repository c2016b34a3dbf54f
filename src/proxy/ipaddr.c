/* ipaddr: IP literals in every spelling a resolver accepts, normalised and classified (loopback,
 * private, metadata, ...). */
#include "proxy/ipaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Longest host text worth looking at: a bracketed IPv6 address with a zone.
 * Anything longer is not an address in any spelling. */
#define HOST_MAX 256

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One dotted part the way inet_aton reads it: 0x.. hex, 0.. octal, else
 * decimal. "0x" alone is 0 (the WHATWG parser agrees). Returns 0 or -1. */
static int parse_part(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    size_t i = 0;
    if (n == 0)
        return -1;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        i = 1;
    }
    for (; i < n; i++) {
        int d = hexval(s[i]);
        if (d < 0 || (unsigned)d >= base)
            return -1;
        v = v * base + (unsigned)d;
        if (v > 0xffffffffull) /* stops overflow long before 64 bits wrap */
            return -1;
    }
    *out = v;
    return 0;
}

/* Does the label look like a number (so the host is meant as IPv4)? */
static bool label_is_numeric(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++)
            if (hexval(s[i]) < 0)
                return false;
        return true;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* 1 to 4 parts; the last fills the remaining bytes ("127.1", "2130706433"). */
static int parse_v4(const char *s, size_t n, uint32_t *out)
{
    uint64_t parts[4];
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (np == 4 || parse_part(s + start, i - start, &parts[np]) != 0)
            return -1;
        np++;
        start = i + 1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < np; i++) {
        if (parts[i] > 255)
            return -1;
        v |= parts[i] << (24 - 8 * i);
    }
    uint64_t last_max = 0xffffffffull >> (8 * (np - 1));
    if (parts[np - 1] > last_max)
        return -1;
    *out = (uint32_t)(v | parts[np - 1]);
    return 0;
}

static enum ipaddr_class class_v4(uint32_t a)
{
    if ((a >> 24) == 0)
        return IPADDR_UNSPECIFIED;
    if ((a >> 24) == 127)
        return IPADDR_LOOPBACK;
    if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8)
        return IPADDR_PRIVATE;
    if (a == 0xa9fea9feu || a == 0x646464c8u) /* 169.254.169.254, 100.100.100.200 */
        return IPADDR_METADATA;
    if ((a >> 16) == 0xa9fe)
        return IPADDR_LINK_LOCAL;
    if ((a >> 22) == (0x64400000u >> 22))
        return IPADDR_CGNAT;
    if (a == 0xffffffffu)
        return IPADDR_BROADCAST;
    if ((a >> 28) == 0xe)
        return IPADDR_MULTICAST;
    if ((a >> 28) == 0xf)
        return IPADDR_RESERVED;
    if ((a >> 8) == 0xc00000 || (a >> 17) == (0xc6120000u >> 17) || (a >> 8) == 0xc00002 ||
        (a >> 8) == 0xc63364 || (a >> 8) == 0xcb0071)
        return IPADDR_RESERVED; /* 192.0.0/24, 198.18/15, 192.0.2/24, 198.51.100/24, 203.0.113/24 */
    return IPADDR_PUBLIC;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static enum ipaddr_class class_v6(const uint8_t *b)
{
    static const uint8_t zero[16];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x54};
    if (memcmp(b, zero, 16) == 0)
        return IPADDR_UNSPECIFIED;
    if (memcmp(b, zero, 15) == 0 && b[15] == 1)
        return IPADDR_LOOPBACK;
    /* IPv4 carried inside IPv6 reaches the IPv4 address: judge that one. */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return class_v4(be32(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) { /* 6to4 */
        enum ipaddr_class c = class_v4(be32(b + 2));
        if (c != IPADDR_PUBLIC)
            return c;
    }
    if (memcmp(b, ec2, 16) == 0)
        return IPADDR_METADATA;
    if ((b[0] & 0xfe) == 0xfc)
        return IPADDR_PRIVATE;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return IPADDR_LINK_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return IPADDR_PRIVATE; /* deprecated site-local */
    if (b[0] == 0xff)
        return IPADDR_MULTICAST;
    if ((b[0] == 0x01 && b[1] == 0 && memcmp(b + 2, zero, 6) == 0) ||     /* 100::/64 discard */
        (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) || /* 2001:db8::/32 */
        (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1))
        return IPADDR_RESERVED; /* ... and 64:ff9b:1::/48, local-use NAT64 */
    return IPADDR_PUBLIC;
}

static void fill_v4(struct ipaddr *out, uint32_t a)
{
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    out->bytes[0] = (uint8_t)(a >> 24);
    out->bytes[1] = (uint8_t)(a >> 16);
    out->bytes[2] = (uint8_t)(a >> 8);
    out->bytes[3] = (uint8_t)a;
    out->cls = class_v4(a);
    snprintf(out->text, sizeof out->text, "%u.%u.%u.%u", out->bytes[0], out->bytes[1],
             out->bytes[2], out->bytes[3]);
}

static int fill_v6(struct ipaddr *out, const uint8_t *b)
{
    memset(out, 0, sizeof *out);
    out->family = AF_INET6;
    memcpy(out->bytes, b, 16);
    out->cls = class_v6(b);
    if (!inet_ntop(AF_INET6, b, out->text, sizeof out->text))
        return -1;
    return 0;
}

static int parse_v6(const char *s, size_t n, struct ipaddr *out)
{
    char tmp[HOST_MAX];
    const char *pct = memchr(s, '%', n);
    if (pct) {
        /* A zone names an interface, not a different address: drop it. */
        size_t zl = n - (size_t)(pct - s);
        if (zl < 2 || (zl >= 3 && pct[1] == '2' && pct[2] == '5' && zl == 3))
            return IPADDR_INVALID;
        n = (size_t)(pct - s);
    }
    if (n == 0 || n >= sizeof tmp)
        return IPADDR_INVALID;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    uint8_t b[16];
    if (inet_pton(AF_INET6, tmp, b) != 1)
        return IPADDR_INVALID;
    return fill_v6(out, b) == 0 ? 0 : IPADDR_INVALID;
}

int ipaddr_parse_n(const char *host, size_t n, struct ipaddr *out)
{
    if (n == 0 || n >= HOST_MAX)
        return n == 0 ? IPADDR_NAME : (memchr(host, ':', n) ? IPADDR_INVALID : IPADDR_NAME);
    if (memchr(host, 0, n))
        return IPADDR_INVALID;
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']')
            return IPADDR_INVALID;
        return parse_v6(host + 1, n - 2, out);
    }
    if (memchr(host, ':', n)) /* no name contains ':' */
        return parse_v6(host, n, out);
    if (host[n - 1] == '.') /* one trailing dot, as resolvers and browsers allow */
        n--;
    if (n == 0)
        return IPADDR_NAME;
    const char *last = host + n;
    while (last > host && last[-1] != '.')
        last--;
    if (!label_is_numeric(last, (size_t)(host + n - last)))
        return IPADDR_NAME;
    uint32_t a;
    if (parse_v4(host, n, &a) != 0)
        return IPADDR_INVALID;
    fill_v4(out, a);
    return 0;
}

int ipaddr_parse(const char *host, struct ipaddr *out)
{
    return ipaddr_parse_n(host, strlen(host), out);
}

int ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        fill_v4(out, ntohl(in->sin_addr.s_addr));
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return fill_v6(out, in6->sin6_addr.s6_addr);
    }
    return -1;
}

const char *ipaddr_class_name(enum ipaddr_class c)
{
    switch (c) {
    case IPADDR_PUBLIC:
        return "public";
    case IPADDR_LOOPBACK:
        return "loopback";
    case IPADDR_PRIVATE:
        return "private";
    case IPADDR_LINK_LOCAL:
        return "link-local";
    case IPADDR_METADATA:
        return "metadata";
    case IPADDR_UNSPECIFIED:
        return "unspecified";
    case IPADDR_CGNAT:
        return "cgnat";
    case IPADDR_MULTICAST:
        return "multicast";
    case IPADDR_BROADCAST:
        return "broadcast";
    case IPADDR_RESERVED:
        return "reserved";
    }
    return "unknown";
}

bool ipaddr_is_internal(const struct ipaddr *a)
{
    return a->cls != IPADDR_PUBLIC;
}
