/* backend_local: bottles as bubblewrap sandboxes with no network but a relay to the first hop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "gate/gate.h"
#include "gate/supervise.h"
#include "provision/ca.h"

/* Inside the sandbox: where the run dir (relay socket, CA) is mounted. */
#define SANDBOX_RUN "/run/bottle"
#define SANDBOX_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct local {
    struct bottle *b;
    char *sock;      /* host path of the first-hop relay socket */
    char *bundle;    /* host path of the composed CA bundle */
    char *ca_pem;    /* host path of the first hop's CA certificate copy in run_dir */
    char *gate_sock; /* host path of the git gate relay socket */
    char *sup_sock;  /* host path of the supervise server relay socket */
    char *gitconfig; /* the agent's ~/.gitconfig, in run_dir */
};

static struct local *L(struct bottle *b)
{
    if (!b->be_data) {
        struct local *l = xcalloc(1, sizeof *l);
        l->b = b;
        l->sock = xasprintf("%s/hop.sock", b->run_dir);
        l->bundle = xasprintf("%s/ca-bundle.crt", b->run_dir);
        l->ca_pem = xasprintf("%s/ca.pem", b->run_dir);
        l->gate_sock = xasprintf("%s/gate.sock", b->run_dir);
        l->sup_sock = xasprintf("%s/supervise.sock", b->run_dir);
        l->gitconfig = xasprintf("%s/gitconfig", b->run_dir);
        b->be_data = l;
    }
    return b->be_data;
}

static char *local_gate_listen(struct bottle *b, int *port)
{
    (void)b;
    *port = 0; /* a free host port; the sandbox sees 9418 through its relay */
    return xstrdup("127.0.0.1");
}

static char *local_supervise_listen(struct bottle *b, int *port)
{
    (void)b;
    *port = 0; /* the sandbox sees 9100 through its relay */
    return xstrdup("127.0.0.1");
}

static char *local_first_hop_listen(struct bottle *b, int agent_port)
{
    (void)b;
    (void)agent_port;
    return xstrdup("127.0.0.1:0");
}

/* ---- the sandbox's command line ---------------------------------------------- */

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static void add(struct strv *v, const char *a)
{
    strv_push(v, a);
}

static void add3(struct strv *v, const char *a, const char *b, const char *c)
{
    strv_push(v, a);
    strv_push(v, b);
    if (c)
        strv_push(v, c);
}

/* The bwrap command line up to and including "--"; the caller appends the
 * command. Host / is read-only; the operator's home, the state dirs, token
 * files and CA keys are masked; the workspace is writable. */
static void sandbox_argv(struct bottle *b, struct strv *v)
{
    struct local *l = L(b);
    const struct manifest *m = b->m;
    const char *home = getenv("HOME");
    if (!home || !*home)
        home = "/root";
    char *state_root = path_dirname(b->state_dir);

    add(v, "bwrap");
    add(v, "--die-with-parent");
    add(v, "--unshare-net");
    add(v, "--unshare-pid");
    add(v, "--unshare-ipc");
    add(v, "--unshare-uts");
    add(v, "--unshare-cgroup-try");
    add3(v, "--hostname", "bottle", NULL);
    add3(v, "--ro-bind", "/", "/");
    add3(v, "--dev", "/dev", NULL);
    add3(v, "--proc", "/proc", NULL);
    add3(v, "--tmpfs", "/tmp", NULL);
    add3(v, "--tmpfs", "/run", NULL);
    /* The operator's home becomes an empty tmpfs: the agent's home. */
    add3(v, "--tmpfs", home, NULL);
    if (!under(state_root, home) && !under(state_root, "/tmp") && !under(state_root, "/run"))
        add3(v, "--tmpfs", state_root, NULL);
    add3(v, "--bind", m->workspace, m->workspace);
    add3(v, "--dir", SANDBOX_RUN, NULL);
    add3(v, "--ro-bind", l->ca_pem, SANDBOX_RUN "/ca.pem");
    add3(v, "--bind", l->sock, SANDBOX_RUN "/hop.sock");
    add3(v, "--ro-bind", l->bundle, SANDBOX_BUNDLE);
    add3(v, "--ro-bind", b->self_bin, SANDBOX_RUN "/bottle-init");
    if (b->supervise)
        add3(v, "--bind", l->sup_sock, SANDBOX_RUN "/supervise.sock");
    if (b->gate) {
        add3(v, "--bind", l->gate_sock, SANDBOX_RUN "/gate.sock");
        if (access(l->gitconfig, R_OK) == 0) { /* written by the git step */
            char *dst = xasprintf("%s/.gitconfig", home);
            add3(v, "--ro-bind", l->gitconfig, dst);
            free(dst);
        }
    }
    if (m->prompt) {
        char *dst = xasprintf("%s/.claude-bottle-prompt.txt", home);
        add3(v, "--ro-bind", m->prompt, dst);
        free(dst);
    }
    if (m->skills) {
        char *dst = xasprintf("%s/.claude/skills", home);
        add3(v, "--ro-bind", m->skills, dst);
        free(dst);
    }
    /* Token files the workspace bind (or a path outside home) would expose. */
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        const struct mf_route *r = &m->egress.routes[i];
        if (r->token_kind != TOKEN_FILE)
            continue;
        if (under(r->token_src, home) && !under(r->token_src, m->workspace))
            continue;
        if (under(r->token_src, "/tmp") || under(r->token_src, "/run"))
            continue;
        add3(v, "--ro-bind", "/dev/null", r->token_src);
    }
    add3(v, "--chdir", m->workspace, NULL);
    add(v, "--clearenv");
    const char *path = getenv("PATH");
    add3(v, "--setenv", "PATH", path ? path : "/usr/local/bin:/usr/bin:/bin");
    add3(v, "--setenv", "HOME", home);
    const char *user = getenv("USER");
    add3(v, "--setenv", "USER", user ? user : "bottle");
    add3(v, "--setenv", "LANG", "C.UTF-8");
    add3(v, "--setenv", "TERM", "xterm-256color");
    /* The plan's variables: proxies, CA bundles, placeholders, agent.env. */
    for (size_t i = 0; i < b->plan->nenv; i++)
        add3(v, "--setenv", b->plan->env[i].key, b->plan->env[i].value);
    free(state_root);
}

/* "--relay 127.0.0.1:PORT=unix:/run/bottle/hop.sock" for sandbox-init. */
static void init_argv(struct bottle *b, struct strv *v)
{
    const char *first = b->hops[0].name;
    int port = strcmp(first, "egress") == 0 ? PLAN_EGRESS_PORT : PLAN_PIPELOCK_PORT;
    add(v, "--");
    add(v, SANDBOX_RUN "/bottle-init");
    add(v, "sandbox-init");
    add(v, "--relay");
    strv_push_own(v, xasprintf("127.0.0.1:%d=unix:" SANDBOX_RUN "/hop.sock", port));
    if (b->gate) {
        add(v, "--relay");
        strv_push_own(v, xasprintf("127.0.0.1:%d=unix:" SANDBOX_RUN "/gate.sock", PLAN_GATE_PORT));
    }
    if (b->supervise) {
        add(v, "--relay");
        strv_push_own(
            v, xasprintf("127.0.0.1:%d=unix:" SANDBOX_RUN "/supervise.sock", PLAN_SUPERVISE_PORT));
        /* The home is a fresh tmpfs each run: register the server as the agent starts. */
        add(v, "--mcp");
        strv_push_own(v, xasprintf("http://127.0.0.1:%d/", PLAN_SUPERVISE_PORT));
    }
    add(v, "--");
}

/* ---- steps --------------------------------------------------------------------- */

static void on_bwrap_version(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    if (status != 0) {
        bottle_step_done(b, -1,
                         "bubblewrap (bwrap) is not installed or cannot run; "
                         "install the bubblewrap package");
        return;
    }
    char *d =
        xasprintf("%.*s: the sandbox gets its own loopback only", (int)strcspn(out, "\n"), out);
    bottle_step_done(b, 0, d);
    free(d);
}

static void local_network(struct bottle *b)
{
    const char *argv[] = {"bwrap", "--version", NULL};
    if (bottle_run(b, argv, NULL, on_bwrap_version, NULL) != 0)
        bottle_step_done(b, -1,
                         "bubblewrap (bwrap) is not installed; install the bubblewrap "
                         "package");
}

static void local_start(struct bottle *b)
{
    struct local *l = L(b);
    struct bottle_hop *h = bottle_first_hop(b);
    char *listen = xasprintf("unix:%s", l->sock);
    struct relay *r;
    int rc = relay_start(b->loop, listen, h->listen, &r);
    free(listen);
    if (rc == 0)
        bottle_add_relay(b, r);
    if (rc == 0 && b->supervise) {
        char *from = xasprintf("unix:%s", l->sup_sock);
        char *to = xasprintf("127.0.0.1:%d", supervise_port(b->supervise));
        rc = relay_start(b->loop, from, to, &r);
        if (rc == 0)
            bottle_add_relay(b, r);
        free(from);
        free(to);
    }
    if (rc == 0 && b->gate) {
        char *from = xasprintf("unix:%s", l->gate_sock);
        char *to = xasprintf("%s:%d", b->gate->host, b->gate->port);
        rc = relay_start(b->loop, from, to, &r);
        if (rc == 0)
            bottle_add_relay(b, r);
        free(from);
        free(to);
    }
    if (rc != 0) {
        char *d = xasprintf("cannot relay %s to %s: %s", l->sock, h->listen, uv_strerror(rc));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    char *d = xasprintf("relay 127.0.0.1:%d in the sandbox -> %s -> %s",
                        strcmp(h->name, "egress") == 0 ? PLAN_EGRESS_PORT : PLAN_PIPELOCK_PORT,
                        l->sock, h->listen);
    bottle_step_done(b, 0, d);
    free(d);
}

static void on_ca_check(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    char *inside = provision_ca_parse_fingerprint(out);
    if (status != 0 || !strstr(out, SANDBOX_RUN "/ca.pem: OK")) {
        bottle_step_done(b, -1,
                         "the sandbox does not trust the first hop's CA: openssl verify "
                         "against its bundle failed (see the output above)");
    } else if (!inside || strcmp(inside, b->fingerprint) != 0) {
        char *d = xasprintf("the CA fingerprint inside the sandbox (%s) differs from the host's "
                            "(%s)",
                            inside ? inside : "none", b->fingerprint);
        bottle_step_done(b, -1, d);
        free(d);
    } else {
        char *d = xasprintf("%s CA trusted via the composed bundle; SHA-256 %s (checked inside)",
                            b->hops[0].name, b->fingerprint);
        bottle_step_done(b, 0, d);
        free(d);
    }
    free(inside);
}

static void local_ca(struct bottle *b)
{
    struct local *l = L(b);
    char *src = xasprintf("%s/ca.pem", b->hops[0].ca_dir);
    char *err = NULL;
    free(b->fingerprint);
    b->fingerprint = provision_ca_fingerprint(src, &err);
    int rc = b->fingerprint
                 ? provision_ca_compose_bundle(provision_ca_system_bundle(), src, l->bundle)
                 : -1;
    if (rc == 0)
        rc = provision_ca_compose_bundle("/dev/null", src, l->ca_pem);
    free(src);
    if (rc != 0) {
        char *d = err ? err : xasprintf("cannot write %s: %s", l->bundle, strerror(-rc));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    /* Ask the sandbox itself: is the CA in the bundle it sees, and what is
     * its fingerprint there? */
    struct strv v = {0};
    sandbox_argv(b, &v);
    add(&v, "--");
    add(&v, "sh");
    add(&v, "-c");
    add(&v, "openssl verify -CAfile " SANDBOX_BUNDLE " " SANDBOX_RUN "/ca.pem && "
            "openssl x509 -noout -fingerprint -sha256 -in " SANDBOX_RUN "/ca.pem");
    if (bottle_run(b, (const char *const *)v.v, NULL, on_ca_check, NULL) != 0)
        bottle_step_done(b, -1, "cannot run bwrap");
    strv_free(&v);
}

/* The workspace (and its .git) is mounted as it is; the gitconfig points
 * the remotes at the gate, mounted at ~/.gitconfig by sandbox_argv. */
static void local_git(struct bottle *b)
{
    struct local *l = L(b);
    char *cfg = gate_gitconfig(b, "git://127.0.0.1:9418/");
    FILE *f = fopen(l->gitconfig, "w");
    int ok = f && fputs(cfg, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    free(cfg);
    if (!ok) {
        char *d = xasprintf("cannot write %s: %s", l->gitconfig, strerror(errno));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    char *d = xasprintf("~/.gitconfig: %zu repo(s) -> git://127.0.0.1:%d/ (relay to the gate)",
                        b->m->git.nrepos, PLAN_GATE_PORT);
    bottle_step_done(b, 0, d);
    free(d);
}

/* The sandbox exists only while the agent runs, so nothing can be run in it
 * beforehand: the agent reaches the server at 127.0.0.1:9100 (its relay), and
 * sandbox-init registers it with `claude mcp add` just before the agent starts
 * when claude is there (a failure is printed, not fatal). */
static void local_supervise(struct bottle *b)
{
    char *d = xasprintf("reachable in the sandbox at http://127.0.0.1:%d/; registered with "
                        "`claude mcp add --transport http supervise http://127.0.0.1:%d/` as the "
                        "agent starts, when claude is on its PATH",
                        PLAN_SUPERVISE_PORT, PLAN_SUPERVISE_PORT);
    bottle_step_done(b, 0, d);
    free(d);
}

static void local_prompt(struct bottle *b)
{
    if (access(b->m->prompt, R_OK) != 0) {
        char *d = xasprintf("cannot read %s: %s", b->m->prompt, strerror(errno));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    bottle_step_done(b, 0, "mounted read-only at ~/.claude-bottle-prompt.txt");
}

static void local_skills(struct bottle *b)
{
    if (access(b->m->skills, R_OK | X_OK) != 0) {
        char *d = xasprintf("cannot read %s: %s", b->m->skills, strerror(errno));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    bottle_step_done(b, 0, "mounted read-only at ~/.claude/skills");
}

/* ---- the agent ----------------------------------------------------------------- */

/* Is the agent's command there? The sandbox sees the host's / read-only
 * and the workspace, so the host's PATH and the workspace answer it. */
static bool command_exists(const char *cmd, const char *workspace)
{
    if (strchr(cmd, '/')) {
        char *p = path_resolve(workspace, cmd);
        bool ok = access(p, X_OK) == 0;
        free(p);
        return ok;
    }
    const char *path = getenv("PATH");
    char *copy = xstrdup(path ? path : "/usr/bin:/bin");
    bool ok = false;
    for (char *save, *d = strtok_r(copy, ":", &save); d && !ok; d = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/%s", d, cmd);
        ok = access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    return ok;
}

static void local_agent(struct bottle *b)
{
    if (!command_exists(b->m->agent.command.v[0], b->m->workspace)) {
        char *d = xasprintf("the agent command '%s' is not found (PATH, or relative to the "
                            "workspace %s)",
                            b->m->agent.command.v[0], b->m->workspace);
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    struct strv v = {0};
    sandbox_argv(b, &v);
    init_argv(b, &v);
    for (size_t i = 0; i < b->m->agent.command.n; i++)
        add(&v, b->m->agent.command.v[i]);
    bottle_agent_spawn(b, (const char *const *)v.v);
    strv_free(&v);
}

static void local_free(struct bottle *b)
{
    struct local *l = b->be_data;
    if (!l)
        return;
    free(l->sock);
    free(l->bundle);
    free(l->ca_pem);
    free(l->gate_sock);
    free(l->sup_sock);
    free(l->gitconfig);
    free(l);
    b->be_data = NULL;
}

static void on_agent_gone(struct bottle *b)
{
    local_free(b);
    bottle_backend_torn_down(b);
}

/* bwrap --die-with-parent and the pid namespace take the whole sandbox down
 * with the agent. */
static void local_teardown(struct bottle *b)
{
    bottle_agent_stop(b, on_agent_gone);
}

const struct backend_ops backend_local = {
    .name = "local",
    .first_hop_listen = local_first_hop_listen,
    .gate_listen = local_gate_listen,
    .supervise_listen = local_supervise_listen,
    .supervise = local_supervise,
    .git = local_git,
    .network = local_network,
    .start = local_start,
    .ca = local_ca,
    .prompt = local_prompt,
    .skills = local_skills,
    .agent = local_agent,
    .teardown = local_teardown,
};
