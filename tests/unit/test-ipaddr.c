/* test-ipaddr: IP literals in every spelling, their canonical form and class, and names left alone.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxy/ipaddr.h"

static void expect(const char *host, const char *text, enum ipaddr_class cls)
{
    struct ipaddr a;
    int rc = ipaddr_parse(host, &a);
    if (rc != 0 || strcmp(a.text, text) != 0 || a.cls != cls)
        fprintf(stderr, "%s: rc %d text %s class %s\n", host, rc, rc == 0 ? a.text : "-",
                rc == 0 ? ipaddr_class_name(a.cls) : "-");
    CHECK_INT(rc, 0);
    CHECK_STR(a.text, text);
    CHECK_STR(ipaddr_class_name(a.cls), ipaddr_class_name(cls));
    CHECK(ipaddr_is_internal(&a) == (cls != IPADDR_PUBLIC));
}

static void expect_rc(const char *host, int want)
{
    struct ipaddr a;
    int rc = ipaddr_parse(host, &a);
    if (rc != want)
        fprintf(stderr, "%s: rc %d, expected %d\n", host, rc, want);
    CHECK_INT(rc, want);
}

static void ipv4_spellings(void)
{
    expect("127.0.0.1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("2130706433", "127.0.0.1", IPADDR_LOOPBACK);
    expect("0177.0.0.1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("0x7f.0.0.1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("0X7F.0X0.0X0.0X1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("0x7f000001", "127.0.0.1", IPADDR_LOOPBACK);
    expect("017700000001", "127.0.0.1", IPADDR_LOOPBACK);
    expect("127.1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("127.0.1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("127.0.0.1.", "127.0.0.1", IPADDR_LOOPBACK);
    expect("0x7f.1", "127.0.0.1", IPADDR_LOOPBACK);
    expect("0xa9.254.0251.0376", "169.254.169.254", IPADDR_METADATA);
    expect("2852039166", "169.254.169.254", IPADDR_METADATA);
    expect("0", "0.0.0.0", IPADDR_UNSPECIFIED);
    expect("0x", "0.0.0.0", IPADDR_UNSPECIFIED);
    expect("8.8.8.8", "8.8.8.8", IPADDR_PUBLIC);
    expect("134744072", "8.8.8.8", IPADDR_PUBLIC);
}

static void ipv4_classes(void)
{
    expect("10.1.2.3", "10.1.2.3", IPADDR_PRIVATE);
    expect("172.16.0.1", "172.16.0.1", IPADDR_PRIVATE);
    expect("172.31.255.255", "172.31.255.255", IPADDR_PRIVATE);
    expect("172.32.0.1", "172.32.0.1", IPADDR_PUBLIC);
    expect("192.168.1.1", "192.168.1.1", IPADDR_PRIVATE);
    expect("169.254.1.1", "169.254.1.1", IPADDR_LINK_LOCAL);
    expect("169.254.169.254", "169.254.169.254", IPADDR_METADATA);
    expect("100.100.100.200", "100.100.100.200", IPADDR_METADATA);
    expect("100.64.0.1", "100.64.0.1", IPADDR_CGNAT);
    expect("100.127.255.255", "100.127.255.255", IPADDR_CGNAT);
    expect("100.128.0.1", "100.128.0.1", IPADDR_PUBLIC);
    expect("0.1.2.3", "0.1.2.3", IPADDR_UNSPECIFIED);
    expect("224.0.0.1", "224.0.0.1", IPADDR_MULTICAST);
    expect("255.255.255.255", "255.255.255.255", IPADDR_BROADCAST);
    expect("240.0.0.1", "240.0.0.1", IPADDR_RESERVED);
    expect("192.0.2.1", "192.0.2.1", IPADDR_RESERVED);
    expect("1.1.1.1", "1.1.1.1", IPADDR_PUBLIC);
}

static void ipv6(void)
{
    expect("::1", "::1", IPADDR_LOOPBACK);
    expect("[::1]", "::1", IPADDR_LOOPBACK);
    expect("[0:0:0:0:0:0:0:1]", "::1", IPADDR_LOOPBACK);
    expect("::", "::", IPADDR_UNSPECIFIED);
    expect("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", IPADDR_LOOPBACK);
    expect("::ffff:7f00:1", "::ffff:127.0.0.1", IPADDR_LOOPBACK);
    expect("::FFFF:A9FE:A9FE", "::ffff:169.254.169.254", IPADDR_METADATA);
    expect("::127.0.0.1", "::127.0.0.1", IPADDR_LOOPBACK);
    expect("64:ff9b::10.0.0.1", "64:ff9b::a00:1", IPADDR_PRIVATE);
    expect("2002:c0a8:0101::1", "2002:c0a8:101::1", IPADDR_PRIVATE);
    expect("fd00:ec2::254", "fd00:ec2::254", IPADDR_METADATA);
    expect("fd12:3456::1", "fd12:3456::1", IPADDR_PRIVATE);
    expect("fc00::1", "fc00::1", IPADDR_PRIVATE);
    expect("fe80::1", "fe80::1", IPADDR_LINK_LOCAL);
    expect("[fe80::1%eth0]", "fe80::1", IPADDR_LINK_LOCAL);
    expect("[fe80::1%25eth0]", "fe80::1", IPADDR_LINK_LOCAL);
    expect("ff02::1", "ff02::1", IPADDR_MULTICAST);
    expect("2001:db8::1", "2001:db8::1", IPADDR_RESERVED);
    expect("2606:4700:4700::1111", "2606:4700:4700::1111", IPADDR_PUBLIC);
    expect("[2a00:1450:4001:82a::200e]", "2a00:1450:4001:82a::200e", IPADDR_PUBLIC);
}

static void names_and_invalid(void)
{
    expect_rc("example.com", IPADDR_NAME);
    expect_rc("api.anthropic.com.", IPADDR_NAME);
    expect_rc("localhost", IPADDR_NAME);
    expect_rc("1.2.3.example", IPADDR_NAME);
    expect_rc("0x7f.example", IPADDR_NAME);
    expect_rc("a0x1", IPADDR_NAME);
    expect_rc("", IPADDR_NAME);
    expect_rc("1.2.3.256", IPADDR_INVALID);
    expect_rc("256.1.1.1", IPADDR_INVALID);
    expect_rc("1.2.3.4.5", IPADDR_INVALID);
    expect_rc("4294967296", IPADDR_INVALID);
    expect_rc("08.0.0.1", IPADDR_INVALID);
    expect_rc("1..1", IPADDR_INVALID);
    expect_rc("example.123", IPADDR_INVALID);
    expect_rc("[127.0.0.1]", IPADDR_INVALID);
    expect_rc("[::1", IPADDR_INVALID);
    expect_rc("::g", IPADDR_INVALID);
    expect_rc("[]", IPADDR_INVALID);
    expect_rc("[fe80::1%]", IPADDR_INVALID);
    expect_rc("1:2:3:4:5:6:7:8:9", IPADDR_INVALID);
    struct ipaddr a;
    CHECK_INT(ipaddr_parse_n("127.0.0.1junk", 9, &a), 0);
    CHECK_STR(a.text, "127.0.0.1");
    CHECK_INT(ipaddr_parse_n("1\0"
                             "27.0.0.1",
                             9, &a),
              IPADDR_INVALID);
}

static void from_sockaddr(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    struct ipaddr a;
    inet_pton(AF_INET, "10.0.0.7", &in.sin_addr);
    CHECK_INT(ipaddr_from_sockaddr((struct sockaddr *)&in, &a), 0);
    CHECK_STR(a.text, "10.0.0.7");
    CHECK(a.cls == IPADDR_PRIVATE && a.family == AF_INET);
    inet_pton(AF_INET6, "::ffff:169.254.169.254", &in6.sin6_addr);
    CHECK_INT(ipaddr_from_sockaddr((struct sockaddr *)&in6, &a), 0);
    CHECK(a.cls == IPADDR_METADATA && a.family == AF_INET6);
    struct sockaddr un = {.sa_family = AF_UNIX};
    CHECK_INT(ipaddr_from_sockaddr(&un, &a), -1);
}

TEST_MAIN(T(ipv4_spellings), T(ipv4_classes), T(ipv6), T(names_and_invalid), T(from_sockaddr))
