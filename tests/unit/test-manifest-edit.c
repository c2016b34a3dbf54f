/* test-manifest-edit: adding a host to pipelock.allow in place, keeping comments and layout. */
#include "test.h"

#include <sys/stat.h>

#include "core/manifest.h"
#include "core/util.h"

static char dir[] = "/tmp/bottle-test-medit-XXXXXX";

static void cleanup(void)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
    free(cmd);
}

static void setup(void)
{
    static int done;
    if (done++)
        return;
    CHECK(mkdtemp(dir));
    atexit(cleanup);
    setenv("HOME", dir, 1);
}

/* Write YAML, add HOST, return the new text (or NULL with the error printed). */
static char *add(const char *yaml, const char *host, char **err)
{
    setup();
    char *path = xasprintf("%s/m.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    chmod(path, 0640);
    int rc = manifest_add_allow(path, host, err);
    char *text = rc == 0 ? file_read_all(path, 1 << 20, NULL) : NULL;
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_INT(sb.st_mode & 0777, 0640); /* the mode is kept */
    free(path);
    return text;
}

#define HEAD "name: t\nworkspace: .\n"

static void flow_list(void)
{
    char *err = NULL;
    char *t = add(HEAD "pipelock:\n  mode: strict # strict!\n  allow: [a.com, b.com] # hosts\n",
                  "pypi.org", &err);
    CHECK_STR(t, HEAD
              "pipelock:\n  mode: strict # strict!\n  allow: [a.com, b.com, pypi.org] # hosts\n");
    free(t);
}

static void empty_flow_list(void)
{
    char *err = NULL;
    char *t = add(HEAD "pipelock: {mode: strict, allow: []}\n", "pypi.org", &err);
    CHECK_STR(t, HEAD "pipelock: {mode: strict, allow: [pypi.org]}\n");
    free(t);
}

static void block_list(void)
{
    char *err = NULL;
    char *t =
        add(HEAD "pipelock:\n  allow:\n    - a.com   # first\n    - \"b.com\"\n  deny: [x.com]\n",
            "*.pypi.org", &err);
    CHECK_STR(t, HEAD "pipelock:\n  allow:\n    - a.com   # first\n    - \"b.com\"\n    - "
                      "\"*.pypi.org\"\n  deny: [x.com]\n");
    free(t);
}

static void block_list_at_eof_without_newline(void)
{
    char *err = NULL;
    char *t = add(HEAD "pipelock:\n  allow:\n  - a.com", "b.com", &err);
    CHECK_STR(t, HEAD "pipelock:\n  allow:\n  - a.com\n  - b.com\n");
    free(t);
}

static void no_allow_key(void)
{
    char *err = NULL;
    char *t = add(HEAD "pipelock:\n    mode: balanced\n", "b.com", &err);
    CHECK_STR(t, HEAD "pipelock:\n    allow: [b.com]\n    mode: balanced\n");
    free(t);
    t = add(HEAD "pipelock: {mode: balanced}\n", "b.com", &err);
    CHECK_STR(t, HEAD "pipelock: {allow: [b.com], mode: balanced}\n");
    free(t);
}

static void no_pipelock_key(void)
{
    char *err = NULL;
    char *t = add(HEAD "# the end", "b.com", &err);
    CHECK_STR(t, HEAD "# the end\npipelock:\n  allow: [b.com]\n");
    free(t);
}

static void already_there(void)
{
    char *err = NULL;
    char *t = add(HEAD "pipelock: {allow: [B.com]}\n", "b.com", &err);
    CHECK_STR(t, HEAD "pipelock: {allow: [B.com]}\n");
    free(t);
}

static void refusals(void)
{
    char *err = NULL;
    CHECK(add(HEAD "pipelock: {allow: [a.com]}\n", "not a host", &err) == NULL);
    CHECK(strstr(err, "not a host pattern"));
    free(err);
    /* A manifest that does not load now is left alone. */
    CHECK(add(HEAD "bogus: 1\n", "b.com", &err) == NULL);
    CHECK(strstr(err, "does not load now"));
    free(err);
    CHECK(add(HEAD "pipelock: {allow: a.com}\n", "b.com", &err) == NULL);
    CHECK(err != NULL);
    free(err);
    CHECK(add("{name: t, workspace: .}\n", "b.com", &err) == NULL);
    CHECK(strstr(err, "flow mapping"));
    free(err);
}

static void utf8_comments(void)
{
    char *err = NULL;
    char *t = add(HEAD "# café ☕\npipelock: {allow: [a.com]} # ünïcode\n", "b.com", &err);
    CHECK_STR(t, HEAD "# café ☕\npipelock: {allow: [a.com, b.com]} # ünïcode\n");
    free(t);
}

TEST_MAIN(T(flow_list), T(empty_flow_list), T(block_list), T(block_list_at_eof_without_newline),
          T(no_allow_key), T(no_pipelock_key), T(already_there), T(refusals), T(utf8_comments))
