/* test-manifest: the manifest loader's typed result, defaults and path rules. */
#include "test.h"

#include <sys/stat.h>

#include "core/hostmatch.h"
#include "core/manifest.h"

static char dir[] = "/tmp/bottle-test-manifest-XXXXXX";

static void cleanup(void)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
    free(cmd);
}

static void setup(void)
{
    CHECK(mkdtemp(dir));
    atexit(cleanup);
    setenv("HOME", dir, 1);
    char *p = xasprintf("%s/tok", dir);
    FILE *f = fopen(p, "w");
    fputs("secret\n", f);
    fclose(f);
    chmod(p, 0600);
    free(p);
}

static struct manifest *load(const char *yaml, struct diag_list *d)
{
    char *path = xasprintf("%s/m.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    struct manifest *m = manifest_load(path, d);
    free(path);
    return m;
}

static void defaults(void)
{
    setup();
    struct diag_list d = {0};
    struct manifest *m = load("name: a\n", &d);
    CHECK(m);
    CHECK_INT(d.n, 0);
    CHECK_STR(m->name, "a");
    CHECK_INT(m->backend, BACKEND_LOCAL);
    CHECK(m->image == NULL);
    CHECK(m->agent.user == NULL);
    CHECK_STR(m->workspace, m->dir);
    CHECK_INT(m->agent.command.n, 1);
    CHECK_STR(m->agent.command.v[0], "claude");
    CHECK_INT(m->pipelock.mode, PIPELOCK_STRICT);
    CHECK(m->pipelock.dlp_defaults);
    CHECK(m->supervise.enabled);
    manifest_free(m);
    diag_free(&d);
}

static void docker_defaults(void)
{
    setup();
    struct diag_list d = {0};
    struct manifest *m = load("name: d\nbackend: docker\n", &d);
    CHECK(m);
    CHECK_STR(m->image, "bottle-agent:latest");
    CHECK_STR(m->agent.user, "node");
    manifest_free(m);
    diag_free(&d);
}

static void routes_and_paths(void)
{
    setup();
    struct diag_list d = {0};
    struct manifest *m = load("name: r\n"
                              "egress:\n"
                              "  routes:\n"
                              "    - host: API.Example.COM\n"
                              "      header: Authorization\n"
                              "      value: 'Bearer ${token}'\n"
                              "      token: {file: ~/tok}\n"
                              "      placeholder_env: TOK\n"
                              "pipelock:\n"
                              "  allow: ['*.example.com']\n"
                              "upstream:\n"
                              "  resolve: {Api.Example.com: '127.0.0.1:9'}\n",
                              &d);
    CHECK(m);
    CHECK_INT(m->egress.nroutes, 1);
    const struct mf_route *r = &m->egress.routes[0];
    CHECK_STR(r->host, "api.example.com");
    CHECK_STR(r->value, "Bearer ${token}");
    CHECK_INT(r->token_kind, TOKEN_FILE);
    char *want = xasprintf("%s/tok", dir);
    CHECK_STR(r->token_src, want);
    free(want);
    CHECK(manifest_route_for(m, "API.EXAMPLE.com") == r);
    CHECK(manifest_route_for(m, "example.com") == NULL);
    CHECK_STR(manifest_resolve_for(m, "api.example.com"), "127.0.0.1:9");
    CHECK_INT(r->pos.line, 4);
    CHECK_INT(r->pos.col, 13);
    manifest_free(m);
    diag_free(&d);
}

static void all_errors_reported(void)
{
    setup();
    struct diag_list d = {0};
    struct manifest *m = load("name: X\nbackend: nope\nfoo: 1\npipelock: {mode: x}\n", &d);
    CHECK(m == NULL);
    CHECK_INT(d.errors, 4);
    diag_sort(&d);
    CHECK_INT(d.v[0].line, 1);
    CHECK_INT(d.v[1].line, 2);
    CHECK_INT(d.v[2].line, 3);
    CHECK_INT(d.v[3].line, 4);
    CHECK_INT(d.v[3].col, 18);
    diag_free(&d);
}

static void token_permissions_warn(void)
{
    setup();
    char *p = xasprintf("%s/tok", dir);
    chmod(p, 0640);
    free(p);
    struct diag_list d = {0};
    struct manifest *m =
        load("name: w\npipelock: {mode: balanced}\negress:\n  routes:\n"
             "  - {host: a.b, header: X, value: '${token}', token: {file: ~/tok}}\n",
             &d);
    CHECK(m); /* a warning, not an error */
    CHECK_INT(d.n, 1);
    CHECK_INT(d.v[0].level, DIAG_WARNING);
    CHECK(strstr(d.v[0].msg, "readable by group or others (mode 0640)"));
    manifest_free(m);
    diag_free(&d);
}

static void hostmatch_rules(void)
{
    CHECK(host_match("*.x.com", "x.com"));
    CHECK(host_match("*.x.com", "a.b.x.com"));
    CHECK(host_match("*.x.com", "A.X.COM."));
    CHECK(!host_match("*.x.com", "evilx.com"));
    CHECK(!host_match("x.com", "a.x.com"));
    CHECK(host_match("*", "anything"));
}

TEST_MAIN(T(defaults), T(docker_defaults), T(routes_and_paths), T(all_errors_reported),
          T(token_permissions_warn), T(hostmatch_rules))
