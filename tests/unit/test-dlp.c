/* test-dlp: the default DLP patterns, the scanner's prefilter, URL views, redaction and the rules
 * loader. */
#include "test.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/dlp_rules.h"
#include "core/util.h"
#include "proxy/dlp.h"

/* Samples are generated, never written out: "{a:36}" is 36 characters from
 * alphabet a, so this file holds no string shaped like a real secret.
 * a alnum, h lower hex, l [0-9a-z], U [A-Z2-7], d digits, G bech32 upper. */
static char *mk(const char *fmt)
{
    static const char *const alpha[128] = {
        ['a'] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        ['h'] = "0123456789abcdef",
        ['l'] = "0123456789abcdefghijklmnopqrstuvwxyz",
        ['U'] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        ['d'] = "0123456789",
        ['G'] = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
    };
    static unsigned seed = 12345;
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = fmt; *p;) {
        if (p[0] == '{' && p[1] && p[2] == ':') {
            const char *set = alpha[(unsigned char)p[1]];
            char *end;
            long n = strtol(p + 3, &end, 10);
            CHECK(set && *end == '}');
            size_t sl = strlen(set);
            for (long i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                buf_append(&b, &set[(seed >> 16) % sl], 1);
            }
            p = end + 1;
        } else {
            buf_append(&b, p++, 1);
        }
    }
    return b.p;
}

static struct dlp *load_default(struct dlp_rules *r)
{
    struct diag_list d = {0};
    memset(r, 0, sizeof *r);
    if (dlp_rules_load_file(r, dlp_rules_default_path(), &d) != 0) {
        diag_print(&d, stderr);
        CHECK(0);
    }
    diag_free(&d);
    char *err = NULL;
    struct dlp *s = dlp_new(r, &err);
    if (!s)
        fprintf(stderr, "%s\n", err);
    CHECK(s);
    return s;
}

static const struct {
    const char *rule;
    const char *sample;
} samples[] = {
    {"anthropic-api-key", "x-api-key: sk-ant-api03-{a:93}AA"},
    {"anthropic-api-key", "sk-ant-admin01-{a:93}AA"},
    {"anthropic-oauth-token", "Bearer sk-ant-oat01-{a:95}"},
    {"openai-api-key", "\"key\": \"sk-proj-{a:120}\""},
    {"openai-api-key", "sk-svcacct-{a:64}"},
    {"openai-legacy-key", "sk-{a:20}T3BlbkFJ{a:20}"},
    {"openrouter-api-key", "sk-or-v1-{h:64}"},
    {"groq-api-key", "gsk_{a:52}"},
    {"xai-api-key", "xai-{a:80}"},
    {"perplexity-api-key", "pplx-{a:48}"},
    {"huggingface-token", "hf_{a:34}"},
    {"huggingface-org-token", "api_org_{a:34}"},
    {"replicate-api-token", "r8_{a:37}"},
    {"aws-access-key-id", "id=AKIA{U:16}"},
    {"aws-access-key-id", "ASIA{U:16}"},
    {"aws-secret-access-key", "aws_secret_access_key = {a:40}"},
    {"aws-secret-access-key", "\"SecretAccessKey\": \"{a:40}\""},
    {"google-api-key", "AIza{a:35}"},
    {"google-oauth-client-secret", "GOCSPX-{a:28}"},
    {"google-oauth-access-token", "ya29.{a:100}"},
    {"google-oauth-refresh-token", "1//0{a:60}"},
    {"gcp-service-account-key", "{\"type\": \"service_account\", \"project_id\": \"p\"}"},
    {"azure-storage-account-key",
     "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={a:86}==;"},
    {"azure-ad-client-secret", "secret: abc8Q~{a:32} "},
    {"digitalocean-token", "dop_v1_{h:64}"},
    {"alibaba-access-key-id", "LTAI{a:20}"},
    {"heroku-api-key", "HRKU-AA{a:58}"},
    {"databricks-token", "dapi{h:32}"},
    {"hashicorp-vault-token", "hvs.{a:90}"},
    {"terraform-cloud-token", "{a:14}.atlasv1.{a:64}"},
    {"pulumi-access-token", "pul-{h:40}"},
    {"doppler-token", "dp.pt.{a:43}"},
    {"github-pat", "ghp_{a:36}"},
    {"github-oauth-token", "gho_{a:36}"},
    {"github-user-token", "ghu_{a:36}"},
    {"github-app-token", "ghs_{a:36}"},
    {"github-refresh-token", "ghr_{a:76}"},
    {"github-fine-grained-pat", "github_pat_{a:22}_{a:59}"},
    {"gitlab-pat", "glpat-{a:20}"},
    {"gitlab-token", "glrt-{a:24}"},
    {"npm-token", "npm_{a:36}"},
    {"npmrc-auth-token", "//registry.npmjs.org/:_authToken={a:36}"},
    {"pypi-token", "pypi-AgEIcHlwaS5vcmc{a:80}"},
    {"docker-hub-pat", "dckr_pat_{a:27}"},
    {"atlassian-api-token", "ATATT3{a:180}"},
    {"slack-token", "xoxb-{d:12}-{d:12}-{a:24}"},
    {"slack-app-token", "xapp-1-{U:11}-{d:13}-{h:64}"},
    {"slack-webhook-url", "https://hooks.slack.com/services/T{U:8}/B{U:8}/{a:24}"},
    {"discord-bot-token", "MT{a:22}.{a:6}.{a:27}"},
    {"discord-webhook-url", "https://discord.com/api/webhooks/{d:18}/{a:68}"},
    {"telegram-bot-token", "{d:10}:AA{a:33}"},
    {"stripe-secret-key", "sk_live_{a:24}"},
    {"stripe-secret-key", "rk_test_{a:24}"},
    {"stripe-webhook-secret", "whsec_{a:32}"},
    {"square-token", "sq0atp-{a:22}"},
    {"shopify-token", "shpat_{h:32}"},
    {"sendgrid-api-key", "SG.{a:22}.{a:43}"},
    {"twilio-api-key", "SK{h:32}"},
    {"mailgun-api-key", "api:key-{l:32}"},
    {"mailchimp-api-key", "{h:32}-us6"},
    {"postman-api-key", "PMAK-{h:24}-{h:34}"},
    {"new-relic-user-key", "NRAK-{U:27}"},
    {"linear-api-key", "lin_api_{a:40}"},
    {"notion-token", "ntn_{a:46}"},
    {"sentry-token", "sntrys_{a:80}"},
    {"grafana-token", "glsa_{a:32}_{h:8}"},
    {"private-key-block", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"},
    {"private-key-block", "-----BEGIN OPENSSH PRIVATE KEY-----\n"},
    {"private-key-block", "-----BEGIN PGP PRIVATE KEY BLOCK-----"},
    {"putty-private-key", "PuTTY-User-Key-File-3: ssh-ed25519\n"},
    {"age-secret-key", "AGE-SECRET-KEY-1{G:58}"},
    {"jwt", "Authorization: Bearer eyJ{a:20}.eyJ{a:40}.{a:43}"},
    {"url-credentials", "git clone https://deploy:{a:20}@git.example.com/repo.git"},
    {"url-credentials", "postgres://app:{a:16}@db:5432/app"},
    {"url-query-credential", "GET /cb?state=1&password={a:16} HTTP/1.1"},
    {"url-query-credential", "https://x.example.com/hook?ACCESS_TOKEN={a:30}"},
    {"env-secret-assignment", "export MY_SERVICE_TOKEN={a:32}\n"},
    {"env-secret-assignment", "DB_PASSWORD: \"{a:20}\""},
};

static void every_default_pattern_has_a_sample(void)
{
    struct dlp_rules r;
    struct dlp *s = load_default(&r);
    CHECK(r.n >= 45);
    CHECK_INT(dlp_count(s), r.n);
    /* Every default runs behind the prefilter: that is what keeps DLP fast. */
    CHECK_INT(dlp_count_prefiltered(s), r.n);
    for (size_t i = 0; i < r.n; i++) {
        bool found = false;
        for (size_t k = 0; k < ARRAY_SIZE(samples); k++)
            found |= strcmp(samples[k].rule, r.v[i].name) == 0;
        if (!found)
            fprintf(stderr, "no sample for %s\n", r.v[i].name);
        CHECK(found);
    }
    dlp_free(s);
    dlp_rules_free(&r);
}

static void samples_hit_their_rule(void)
{
    struct dlp_rules r;
    struct dlp *s = load_default(&r);
    for (size_t k = 0; k < ARRAY_SIZE(samples); k++) {
        char *text = mk(samples[k].sample);
        struct dlp_match m = {0};
        int rc = dlp_scan(s, text, strlen(text), &m);
        if (rc != 1 || strcmp(m.rule, samples[k].rule) != 0)
            fprintf(stderr, "sample %zu (%s): rc %d rule %s\n", k, samples[k].rule, rc,
                    rc == 1 ? m.rule : "-");
        CHECK_INT(rc, 1);
        CHECK_STR(m.rule, samples[k].rule);
        CHECK_STR(m.where, "data");
        CHECK(m.offset < strlen(text) && m.length > 0 && m.offset + m.length <= strlen(text));
        /* The same secret deep inside a large clean body. */
        struct buf b;
        buf_init(&b, 0);
        for (int i = 0; i < 2000; i++)
            buf_appendf(&b, "{\"n\": %d, \"text\": \"nothing to see here\"},\n", i);
        size_t at = b.len;
        buf_append(&b, text, strlen(text));
        buf_appendf(&b, "\n{\"tail\": true}");
        rc = dlp_scan(s, b.p, b.len, &m);
        CHECK_INT(rc, 1);
        CHECK_STR(m.rule, samples[k].rule);
        CHECK(m.offset >= at);
        buf_free(&b);
        free(text);
    }
    dlp_free(s);
    dlp_rules_free(&r);
}

static const char *const clean[] = {
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Refactor the token "
    "counter.\"}]}",
    "{\"type\":\"object\",\"properties\":{\"password\":{\"type\":\"string\",\"minLength\":12}}}",
    "static int parse_key(const char *key) { return strcmp(key, \"secret\") == 0; }",
    "token = os.environ[\"GITHUB_TOKEN\"]\nheaders = {\"Authorization\": f\"Bearer {token}\"}",
    "The password is stored in the vault; ask the admin for the API key. Tokens expire hourly.",
    "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}\nSECRET_KEY_BASE=$(cat "
    "/run/secret)\nTOKEN=\"$TOKEN\"",
    "PASSWORD=changeme\nAPI_KEY=<your key here>",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b\nuuid 123e4567-e89b-12d3-a456-426614174000",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "git@github.com:org/repo.git and user@example.com and http://localhost:8080/path",
    "https://api.github.com/repos/a/b/pulls?state=open&per_page=100&page_token=abc",
    "the desk-ant-eater ran a task-proj-review; a key-value store; monkey-patch it",
    "CONTENT NOT FOUND AND THE MOTD IS EMPTY; NOTE: ENDPOINT IDENTIFIER OK",
    "printf(\"%s://%s:%s@%s\", scheme, user, pass, host);",
    "eyJhbGciOiJIUzI1NiJ9 is only a header",
    "Authorization: Bearer bottle-placeholder",
    "data:image/"
    "png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg"
    "==",
    "",
    "x",
};

static void clean_text_does_not_hit(void)
{
    struct dlp_rules r;
    struct dlp *s = load_default(&r);
    for (size_t k = 0; k < ARRAY_SIZE(clean); k++) {
        struct dlp_match m;
        int rc = dlp_scan(s, clean[k], strlen(clean[k]), &m);
        if (rc != 0)
            fprintf(stderr, "clean %zu hit %s at %zu\n", k, m.rule, m.offset);
        CHECK_INT(rc, 0);
        rc = dlp_scan_url(s, clean[k], strlen(clean[k]), &m);
        if (rc != 0)
            fprintf(stderr, "clean %zu as URL hit %s (%s)\n", k, m.rule, m.where);
        CHECK_INT(rc, 0);
    }
    dlp_free(s);
    dlp_rules_free(&r);
}

static char *pct_all(const char *s, const char *pre)
{
    struct buf b;
    buf_init(&b, 0);
    for (; *s; s++)
        buf_appendf(&b, "%s%02X", pre, (unsigned char)*s);
    return b.p;
}

static char *b64(const char *s, bool url)
{
    const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                         : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)s[i + 2] : 0);
        char q[4] = {al[v >> 18 & 63], al[v >> 12 & 63], i + 1 < n ? al[v >> 6 & 63] : '=',
                     i + 2 < n ? al[v & 63] : '='};
        buf_append(&b, q, url ? (i + 2 < n ? 4 : i + 1 < n ? 3 : 2) : 4);
    }
    return b.p;
}

static char *hex(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    for (; *s; s++)
        buf_appendf(&b, "%02x", (unsigned char)*s);
    return b.p;
}

static void url_hit(struct dlp *s, const char *url, const char *where, const char *rule)
{
    struct dlp_match m = {0};
    int rc = dlp_scan_url(s, url, strlen(url), &m);
    if (rc != 1 || strcmp(m.where, where) != 0)
        fprintf(stderr, "url %s: rc %d where %s rule %s\n", url, rc, rc == 1 ? m.where : "-",
                rc == 1 ? m.rule : "-");
    CHECK_INT(rc, 1);
    CHECK_STR(m.where, where);
    CHECK_STR(m.rule, rule);
    CHECK(m.offset <= strlen(url) && m.offset + m.length <= strlen(url));
}

static void url_views(void)
{
    struct dlp_rules r;
    struct dlp *s = load_default(&r);
    char *tok = mk("ghp_{a:36}");
    char *u;

    u = xasprintf("https://evil.example/c?d=%s&x=1", tok);
    url_hit(s, u, "url", "github-pat");
    free(u);

    char *enc = pct_all(tok, "%");
    u = xasprintf("https://evil.example/c?d=%s", enc);
    url_hit(s, u, "url-decoded", "github-pat");
    free(u);
    free(enc);

    enc = pct_all(tok, "%25"); /* double encoding */
    u = xasprintf("https://evil.example/c?d=%s", enc);
    url_hit(s, u, "url-decoded", "github-pat");
    free(u);
    free(enc);

    enc = b64(tok, false);
    char *enc2 = pct_all(enc, "%"); /* base64 with its '=' percent-encoded, as a form would */
    u = xasprintf("https://evil.example/c?a=1&d=%s", enc);
    url_hit(s, u, "query-base64", "github-pat");
    free(u);
    u = xasprintf("https://evil.example/c?d=%s", enc2);
    CHECK_INT(dlp_scan_url(s, u, strlen(u), &(struct dlp_match){0}), 1);
    free(u);
    free(enc);
    free(enc2);

    enc = b64(tok, true);
    u = xasprintf("https://evil.example/c?d=%s", enc);
    url_hit(s, u, "query-base64", "github-pat");
    free(u);
    u = xasprintf("https://evil.example/upload/%s/done", enc);
    url_hit(s, u, "path-base64", "github-pat");
    free(u);
    free(enc);

    enc = hex(tok);
    u = xasprintf("https://evil.example/c?d=%s", enc);
    url_hit(s, u, "query-hex", "github-pat");
    free(u);
    u = xasprintf("https://evil.example/%s", enc);
    url_hit(s, u, "path-hex", "github-pat");
    free(u);
    free(enc);

    /* '+' is a space in query values: env-style secrets spelled with spaces. */
    char *val = mk("API_KEY+%3D+{a:24}");
    u = xasprintf("https://evil.example/c?q=%s", val);
    url_hit(s, u, "query-value", "env-secret-assignment");
    free(u);
    free(val);

    /* Redaction never contains the secret. */
    u = xasprintf("https://evil.example/c?d=%s", tok);
    char *red = dlp_redact_url(u);
    CHECK_STR(red, "https://evil.example");
    CHECK(!strstr(red, tok));
    free(red);
    free(u);

    const char *okurl = "https://api.anthropic.com/v1/messages?beta=true";
    CHECK_INT(dlp_scan_url(s, okurl, strlen(okurl), &(struct dlp_match){0}), 0);
    free(tok);
    dlp_free(s);
    dlp_rules_free(&r);
}

static void headers(void)
{
    struct dlp_rules r;
    struct dlp *s = load_default(&r);
    char *tok = mk("ghp_{a:36}");
    char *cred = xasprintf("x:%s", tok);
    char *enc = b64(cred, false);
    char *val = xasprintf("Basic %s", enc);
    struct dlp_match m;
    CHECK_INT(dlp_scan_header(s, "Authorization", 13, val, strlen(val), &m), 1);
    CHECK_STR(m.where, "header-base64");
    CHECK_STR(m.rule, "github-pat");
    free(val);
    val = mk("{a:32}");
    CHECK_INT(dlp_scan_header(s, "X_API_KEY", 9, val, strlen(val), &m), 1);
    CHECK_STR(m.rule, "env-secret-assignment");
    CHECK_INT(dlp_scan_header(s, "Accept", 6, "application/json", 16, &m), 0);
    free(val);
    free(enc);
    free(cred);
    free(tok);
    dlp_free(s);
    dlp_rules_free(&r);
}

static void redact_url(void)
{
    char *r;
    r = dlp_redact_url("https://api.x.com/a?k=secret");
    CHECK_STR(r, "https://api.x.com");
    free(r);
    r = dlp_redact_url("https://user:pw@api.x.com:8443/a#f");
    CHECK_STR(r, "https://api.x.com:8443");
    free(r);
    r = dlp_redact_url("http://[::1]:80?q");
    CHECK_STR(r, "http://[::1]:80");
    free(r);
    r = dlp_redact_url("api.x.com:443");
    CHECK_STR(r, "api.x.com:443");
    free(r);
    r = dlp_redact_url("/path?token=x");
    CHECK_STR(r, "");
    free(r);
    r = dlp_redact_url("");
    CHECK_STR(r, "");
    free(r);
}

/* Whatever the extractor decides, a scan must agree with a plain PCRE2
 * search over the same bytes. */
static void prefilter_agrees_with_pcre2(void)
{
    static const char *const res[] = {
        "(?i)ab(c|d)+x",
        "x{2,3}yz",
        "(?:foo|bar)[0-9]{2}",
        "a.bc",
        "(?<=q)abc",
        "\\bxyz\\b",
        "colou?r",
        "(ab|cd)(ef|gh)",
        "[[:digit:]]{3}-xyz",
        "ab|",
        "\\x41BC",
        "abc(?=def)",
        "(?i:HeLLo)",
        "z*",
        "(a)\\1b",
        "[]a]bc",
        "q[^a-c]{1,4}zz",
        "(?:ab){2,}c",
        "A\\.B\\-C",
        "(?i)(?:ABC|de)f",
        "(?<![a-z])ab[0-9]",
        "fo{0}bar",
        "(?:x|y)(?:ab|cd)ef",
        "a+b+c",
        "(?s)a.{0,3}bcd",
        "\\d{2}:[A-Z]{2}",
        "(?-i)ab(?i)cd",
        "(?#c)abc",
        "^abc",
    };
    const char *alpha = "abcdefghqrxyzABCDEFGHLOXYZ0123456789-.: ";
    unsigned seed = 7;
    for (size_t k = 0; k < ARRAY_SIZE(res); k++) {
        struct dlp_rule rule = {.name = "r", .regex = (char *)res[k]};
        struct dlp_rules rs = {.v = &rule, .n = 1};
        struct dlp *s = dlp_new(&rs, NULL);
        CHECK(s);
        int ec;
        PCRE2_SIZE off;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)res[k], PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
        CHECK(re);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        for (int t = 0; t < 3000; t++) {
            char text[64];
            size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 40;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                text[i] = alpha[(seed >> 16) % strlen(alpha)];
            }
            /* Seed some of the pattern's own bytes in, so matches happen. */
            for (size_t i = 0; i < strlen(res[k]) && i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                if ((seed >> 16) % 3 == 0)
                    text[i] = res[k][i];
            }
            struct dlp_match m;
            int want = pcre2_match(re, (PCRE2_SPTR)text, n, 0, 0, md, NULL) >= 0;
            int got = dlp_scan(s, text, n, &m);
            if (got != want)
                fprintf(stderr, "regex %s text '%.*s': scan %d pcre2 %d\n", res[k], (int)n, text,
                        got, want);
            CHECK_INT(got, want);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        dlp_free(s);
    }
}

static char tmpdir[] = "/tmp/bottle-test-dlp-XXXXXX";

static void rm_tmpdir(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    free(cmd);
}

static char *write_file(const char *name, const char *text)
{
    if (strstr(tmpdir, "XXXXXX")) {
        CHECK(mkdtemp(tmpdir));
        atexit(rm_tmpdir);
    }
    char *p = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static bool has_diag(const struct diag_list *d, int line, int col, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].line == line && d->v[i].col == col && strstr(d->v[i].msg, needle))
            return true;
    diag_print(d, stderr);
    return false;
}

static void rules_file_errors(void)
{
    struct dlp_rules r = {0};
    struct diag_list d = {0};
    char *p = write_file("bad.yaml", "patterns:\n  - name: ok\n    regex: 'ab+'\n"
                                     "  - name: broken\n    regex: 'a(b'\n");
    CHECK_INT(dlp_rules_load_file(&r, p, &d), -1);
    CHECK(has_diag(&d, 5, 12, "missing closing parenthesis"));
    CHECK(has_diag(&d, 5, 12, "at offset 3"));
    CHECK(has_diag(&d, 5, 12, "'broken'"));
    CHECK_STR(d.v[0].file, p);
    CHECK_INT(r.n, 0);
    diag_free(&d);
    free(p);

    p = write_file("unknown.yaml", "patterns:\n  - name: x\n    regex: abc\n    severity: high\n");
    CHECK_INT(dlp_rules_load_file(&r, p, &d), -1);
    CHECK(has_diag(&d, 4, 5, "unknown key 'severity'"));
    diag_free(&d);
    free(p);

    p = write_file("top.yaml", "patterns: []\nrules: []\n");
    CHECK_INT(dlp_rules_load_file(&r, p, &d), -1);
    CHECK(has_diag(&d, 2, 1, "unknown key 'rules'"));
    diag_free(&d);
    free(p);

    p = write_file("dup.yaml", "patterns:\n  - {name: a, regex: x1}\n  - {name: a, regex: x2}\n"
                               "  - {name: b}\n  - [1]\n");
    CHECK_INT(dlp_rules_load_file(&r, p, &d), -1);
    CHECK(has_diag(&d, 3, 5, "duplicate pattern name 'a'"));
    CHECK(has_diag(&d, 4, 5, "missing 'regex'"));
    CHECK(has_diag(&d, 5, 5, "expected a {name, regex} mapping"));
    diag_free(&d);
    free(p);

    p = write_file("syntax.yaml", "patterns:\n  - name: [\n");
    CHECK_INT(dlp_rules_load_file(&r, p, &d), -1);
    CHECK(d.errors > 0 && d.v[0].line > 0);
    diag_free(&d);
    free(p);

    CHECK_INT(dlp_rules_load_file(&r, "/nonexistent/rules.yaml", &d), -1);
    diag_free(&d);
    dlp_rules_free(&r);

    /* dlp_new names the rule and PCRE2's message too. */
    struct dlp_rule bad = {.name = "bad", .regex = "[z"};
    struct dlp_rules rs = {.v = &bad, .n = 1};
    char *err = NULL;
    CHECK(dlp_new(&rs, &err) == NULL);
    CHECK(err && strstr(err, "'bad'") && strstr(err, "offset 2") &&
          strstr(err, "missing terminating ]"));
    free(err);
}

static void rules_for_manifest(void)
{
    struct manifest m;
    memset(&m, 0, sizeof m);
    struct mf_dlp_pattern pats[2] = {
        {.name = "internal-key", .regex = "ik_[A-Za-z0-9]{32}", .pos = {3, 5}},
        {.name = "github-pat", .regex = "ghp_NEVERMATCHES", .pos = {4, 5}},
    };
    m.file = "m.yaml";
    m.pipelock.dlp_defaults = true;
    m.pipelock.patterns = pats;
    m.pipelock.npatterns = 2;
    struct dlp_rules r = {0}, def = {0};
    struct diag_list d = {0};
    CHECK_INT(dlp_rules_load_file(&def, dlp_rules_default_path(), &d), 0);
    CHECK_INT(dlp_rules_for_manifest(&r, &m, &d), 0);
    CHECK_INT(r.n, def.n + 1); /* github-pat replaced, internal-key added */
    struct dlp *s = dlp_new(&r, NULL);
    CHECK(s);
    char *t = mk("ik_{a:32}");
    struct dlp_match hit;
    CHECK_INT(dlp_scan(s, t, strlen(t), &hit), 1);
    CHECK_STR(hit.rule, "internal-key");
    free(t);
    t = mk("ghp_{a:36}");
    CHECK_INT(dlp_scan(s, t, strlen(t), &hit), 0);
    free(t);
    dlp_free(s);
    dlp_rules_free(&r);

    m.pipelock.dlp_defaults = false;
    CHECK_INT(dlp_rules_for_manifest(&r, &m, &d), 0);
    CHECK_INT(r.n, 2);
    dlp_rules_free(&r);

    pats[0].regex = "ik_(";
    CHECK_INT(dlp_rules_for_manifest(&r, &m, &d), -1);
    CHECK(has_diag(&d, 3, 5, "missing closing parenthesis"));
    diag_free(&d);
    dlp_rules_free(&def);
}

static void default_path_override(void)
{
    setenv("BOTTLE_ASSETS", "/opt/x", 1);
    CHECK_STR(dlp_rules_default_path(), "/opt/x/dlp/default.yaml");
    unsetenv("BOTTLE_ASSETS");
    CHECK_STR(dlp_rules_default_path(), BOTTLE_ASSETS_DIR "/dlp/default.yaml");
}

static void body_limit(void)
{
    struct dlp_body b;
    dlp_body_init(&b, 10);
    CHECK_INT(dlp_body_append(&b, "0123456", 7), 0);
    CHECK_INT(dlp_body_append(&b, "789abc", 6), -1);
    CHECK(b.overflow);
    CHECK_INT(b.len, 10);
    CHECK(memcmp(b.data, "0123456789", 10) == 0);
    dlp_body_free(&b);
    dlp_body_init(&b, 0);
    CHECK_INT(b.limit, DLP_BODY_LIMIT_DEFAULT);
    dlp_body_free(&b);
}

static void empty_scanner(void)
{
    struct dlp_rules rs = {0};
    struct dlp *s = dlp_new(&rs, NULL);
    struct dlp_match m;
    CHECK(s);
    CHECK_INT(dlp_count(s), 0);
    CHECK_INT(dlp_scan(s, "abc", 3, &m), 0);
    CHECK_INT(dlp_scan_url(s, "http://x/?a=b", 13, &m), 0);
    dlp_free(s);
}

TEST_MAIN(T(every_default_pattern_has_a_sample), T(samples_hit_their_rule),
          T(clean_text_does_not_hit), T(url_views), T(headers), T(redact_url),
          T(prefilter_agrees_with_pcre2), T(rules_file_errors), T(rules_for_manifest),
          T(default_path_override), T(body_limit), T(empty_scanner))
