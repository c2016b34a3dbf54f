/* test-hostmatch: pipelock's wildcard host rule and the strict/balanced/audit decision. */
#include "test.h"

#include "core/hostmatch.h"

static void wildcard(void)
{
    CHECK(host_match("*.x.com", "x.com"));
    CHECK(host_match("*.x.com", "a.x.com"));
    CHECK(host_match("*.x.com", "a.b.x.com"));
    CHECK(!host_match("*.x.com", "evilx.com"));
    CHECK(!host_match("*.x.com", "x.com.evil.net"));
    CHECK(!host_match("*.x.com", "com"));
    CHECK(host_match("*", "anything.example"));
    CHECK(!host_match("*", ""));
    CHECK(host_match("api.x.com", "api.x.com"));
    CHECK(!host_match("api.x.com", "a.api.x.com"));
    CHECK(!host_match("api.x.com", "api.x.co"));
}

static void trailing_dot_and_case(void)
{
    CHECK(host_match("api.x.com", "api.x.com."));
    CHECK(host_match("*.x.com", "a.x.com."));
    CHECK(host_match("*.x.com", "x.com."));
    CHECK(host_match("API.X.com", "api.x.COM"));
    CHECK(host_match("*.X.COM", "A.b.x.com"));
    CHECK(!host_match("api.x.com", "api.x.com.."));
}

static void match_any(void)
{
    char *v[] = {"a.com", "*.b.com"};
    struct strv l = {v, 2};
    CHECK_STR(host_match_any(&l, "x.b.com"), "*.b.com");
    CHECK_STR(host_match_any(&l, "A.COM"), "a.com");
    CHECK(host_match_any(&l, "c.com") == NULL);
    struct strv empty = {0};
    CHECK(host_match_any(&empty, "a.com") == NULL);
}

static struct manifest *mk(enum pipelock_mode mode)
{
    static char *allow[] = {"api.anthropic.com", "*.github.com"};
    static char *deny[] = {"*.pastebin.com", "gist.github.com"};
    static struct manifest m;
    memset(&m, 0, sizeof m);
    m.pipelock.mode = mode;
    m.pipelock.allow = (struct strv){allow, 2};
    m.pipelock.deny = (struct strv){deny, 2};
    return &m;
}

static void decide(void)
{
    const char *reason, *rule;
    struct manifest *m = mk(PIPELOCK_STRICT);
    CHECK(host_decide(m, "api.anthropic.com", &reason, &rule) == HOST_ALLOW);
    CHECK(reason == NULL);
    CHECK_STR(rule, "api.anthropic.com");
    CHECK(host_decide(m, "codeload.github.com", &reason, &rule) == HOST_ALLOW);
    CHECK_STR(rule, "*.github.com");
    CHECK(host_decide(m, "example.com", &reason, &rule) == HOST_BLOCK);
    CHECK_STR(reason, "host not in allowlist");
    CHECK(rule == NULL);
    /* deny wins over a matching allow */
    CHECK(host_decide(m, "gist.github.com", &reason, &rule) == HOST_BLOCK);
    CHECK_STR(reason, "host denied");
    CHECK_STR(rule, "gist.github.com");
    CHECK(host_decide(m, "pastebin.com", &reason, &rule) == HOST_BLOCK);

    m = mk(PIPELOCK_BALANCED);
    CHECK(host_decide(m, "example.com", &reason, &rule) == HOST_ALLOW);
    CHECK(reason == NULL && rule == NULL);
    CHECK(host_decide(m, "x.pastebin.com", &reason, &rule) == HOST_BLOCK);
    CHECK_STR(rule, "*.pastebin.com");
    CHECK(host_decide(m, "gist.github.com", &reason, &rule) == HOST_BLOCK);

    /* audit: allowed, but the would-be block is reported */
    m = mk(PIPELOCK_AUDIT);
    CHECK(host_decide(m, "x.pastebin.com", &reason, &rule) == HOST_ALLOW);
    CHECK_STR(reason, "host denied");
    CHECK_STR(rule, "*.pastebin.com");
    CHECK(host_decide(m, "example.com", &reason, &rule) == HOST_ALLOW);
}

TEST_MAIN(T(wildcard), T(trailing_dot_and_case), T(match_any), T(decide))
