/* test-proxy-pipelock: pipelock's host, IP-literal, DLP and route-exemption decisions on a real
 * manifest. */
#include "core/dlp_rules.h"
#include "proxy/dlp.h"
#include "proxy/proxy_pipelock.h"
#include "test.h"

#define GHP "ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5A1b2C3"

static struct proxy_config *load(const char *mode)
{
    char *yaml = xasprintf("name: t\n"
                           "egress:\n"
                           "  routes:\n"
                           "    - host: api.x.test\n"
                           "      header: Authorization\n"
                           "      value: \"Bearer ${token}\"\n"
                           "      token: {env: TEST_PIPELOCK_TOKEN}\n"
                           "pipelock:\n"
                           "  mode: %s\n"
                           "  allow: [api.x.test, \"*.github.com\"]\n"
                           "  deny: [\"*.pastebin.com\"]\n"
                           "upstream:\n"
                           "  resolve: {10.1.2.3: \"127.0.0.1:1\", api.x.test: \"127.0.0.1:2\"}\n",
                           mode);
    setenv("TEST_PIPELOCK_TOKEN", "x", 1);
    struct diag_list d = {0};
    struct proxy_config *c = xcalloc(1, sizeof *c);
    c->refs = 1;
    c->role = PROXY_PIPELOCK;
    c->m = manifest_load_buffer("/tmp/t.yaml", yaml, strlen(yaml), &d);
    if (!c->m)
        diag_print(&d, stderr);
    CHECK(c->m != NULL);
    struct dlp_rules rules = {0};
    CHECK(dlp_rules_for_manifest(&rules, c->m, &d) == 0);
    char *err = NULL;
    c->dlp = dlp_new(&rules, &err);
    CHECK(c->dlp != NULL);
    dlp_rules_free(&rules);
    diag_free(&d);
    free(yaml);
    return c;
}

static const char *host_reason(struct proxy_config *c, const char *host, bool *block)
{
    struct proxy_verdict v;
    proxy_verdict_clear(&v);
    proxy_pipelock_check_host(c, host, &v);
    *block = v.block;
    return v.reason ? v.reason : "";
}

static void hosts(void)
{
    struct proxy_config *c = load("strict");
    bool b;
    CHECK_STR(host_reason(c, "api.x.test", &b), "");
    CHECK(!b);
    CHECK_STR(host_reason(c, "github.com", &b), ""); /* *.x matches x itself */
    CHECK_STR(host_reason(c, "evil.test", &b), "host not in allowlist");
    CHECK(b);
    CHECK_STR(host_reason(c, "a.pastebin.com", &b), "host denied");
    proxy_config_unref(c);
}

static void ip_literals(void)
{
    struct proxy_config *c = load("balanced");
    bool b;
    const char *internal[] = {"127.0.0.1",       "127.1",       "2130706433",       "0x7f.0.0.1",
                              "0177.0.0.1",      "::1",         "::ffff:127.0.0.1", "10.0.0.1",
                              "169.254.169.254", "192.168.0.1", "fe80::1",          "0.0.0.0"};
    for (size_t i = 0; i < ARRAY_SIZE(internal); i++) {
        CHECK_STR(host_reason(c, internal[i], &b), "internal address");
        CHECK(b);
    }
    CHECK_STR(host_reason(c, "10.1.2.3", &b), ""); /* named by upstream.resolve */
    CHECK(!b);
    CHECK_STR(host_reason(c, "8.8.8.8", &b), "");
    CHECK_STR(host_reason(c, "1.2.3.4.5", &b), "malformed IP literal");
    CHECK(b);
    proxy_config_unref(c);
}

static struct proxy_http_head head_with(const char *name, const char *value)
{
    struct proxy_http_head h = {0};
    h.method = xstrdup("GET");
    h.url = xstrdup("/");
    proxy_http_head_set(&h, name, value);
    return h;
}

static void dlp_and_exemption(void)
{
    struct proxy_config *c = load("strict");
    struct proxy_verdict v;
    struct proxy_http_head h = head_with("Authorization", "Bearer " GHP);
    /* the header egress sets on its route's host is exempt... */
    proxy_verdict_clear(&v);
    proxy_pipelock_check_head(c, "api.x.test", "https://api.x.test/", &h, &v);
    CHECK(!v.block);
    /* ...on that host only */
    proxy_verdict_clear(&v);
    proxy_pipelock_check_head(c, "other.github.com", "https://other.github.com/", &h, &v);
    CHECK(v.block && v.dlp);
    CHECK_STR(v.rule, "github-pat");
    proxy_http_head_free(&h);
    /* any other header on the route host is scanned */
    h = head_with("X-Debug", GHP);
    proxy_verdict_clear(&v);
    proxy_pipelock_check_head(c, "api.x.test", "https://api.x.test/", &h, &v);
    CHECK(v.block);
    proxy_http_head_free(&h);
    /* URL and body */
    h = head_with("Accept", "*/*");
    proxy_verdict_clear(&v);
    proxy_pipelock_check_head(c, "api.x.test", "https://api.x.test/?k=" GHP, &h, &v);
    CHECK(v.block && v.dlp);
    CHECK_STR(v.reason, "dlp: secret in URL");
    proxy_verdict_clear(&v);
    proxy_pipelock_check_head(c, "api.x.test", "https://api.x.test/?k=clean", &h, &v);
    CHECK(!v.block && !v.reason);
    proxy_http_head_free(&h);
    proxy_verdict_clear(&v);
    proxy_pipelock_check_body(c, "{\"t\":\"" GHP "\"}", strlen(GHP) + 8, &v);
    CHECK(v.block);
    CHECK_STR(v.reason, "dlp: secret in body");
    proxy_config_unref(c);
}

static void audit_reports_only(void)
{
    struct proxy_config *c = load("audit");
    struct proxy_verdict v;
    proxy_verdict_clear(&v);
    proxy_pipelock_check_host(c, "a.pastebin.com", &v);
    CHECK(!v.block);
    CHECK_STR(v.reason, "host denied");
    proxy_verdict_clear(&v);
    proxy_pipelock_check_body(c, GHP, strlen(GHP), &v);
    CHECK(!v.block && !v.dlp);
    CHECK(v.reason != NULL);
    proxy_config_unref(c);
}

TEST_MAIN(T(hosts), T(ip_literals), T(dlp_and_exemption), T(audit_reports_only))
