/* backend_docker: bottles as containers on their own --internal network, provisioned with docker
 * cp/exec. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "gate/gate.h"
#include "provision/ca.h"

#define GUEST_WORKSPACE "/workspace"
#define GUEST_CA_DIR "/usr/local/share/ca-certificates"

struct docker {
    char *docker;    /* the CLI */
    char *container; /* bottle-<name> */
    char *network;   /* bottle-<name> */
    char *gateway;   /* the network's gateway address on the host */
    char *bridge;    /* br-<id12>: where the INPUT rules apply */
    int first_port;
    bool network_made, container_made, rules_made;
};

static struct docker *D(struct bottle *b)
{
    if (!b->be_data) {
        struct docker *d = xcalloc(1, sizeof *d);
        const char *cli = getenv("BOTTLE_DOCKER");
        d->docker = xstrdup(cli && *cli ? cli : "docker");
        d->container = xasprintf("bottle-%s", b->name);
        d->network = xasprintf("bottle-%s", b->name);
        b->be_data = d;
    }
    return b->be_data;
}

static void docker_free(struct bottle *b)
{
    struct docker *d = b->be_data;
    if (!d)
        return;
    free(d->docker);
    free(d->container);
    free(d->network);
    free(d->gateway);
    free(d->bridge);
    free(d);
    b->be_data = NULL;
}

static char *docker_first_hop_listen(struct bottle *b, int agent_port)
{
    struct docker *d = D(b);
    d->first_port = agent_port;
    return xasprintf("%s:%d", d->gateway ? d->gateway : "127.0.0.1", agent_port);
}

static char *docker_gate_listen(struct bottle *b, int *port)
{
    struct docker *d = D(b);
    *port = PLAN_GATE_PORT;
    return xstrdup(d->gateway ? d->gateway : "127.0.0.1");
}

static char *docker_supervise_listen(struct bottle *b, int *port)
{
    struct docker *d = D(b);
    *port = PLAN_SUPERVISE_PORT;
    return xstrdup(d->gateway ? d->gateway : "127.0.0.1");
}

static char *first_line(const char *s)
{
    return xstrndup(s, strcspn(s, "\r\n"));
}

/* ---- network ------------------------------------------------------------------ */

static void on_inspect(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    char *line = first_line(out);
    char *sp = strchr(line, ' ');
    if (status != 0 || !sp || strlen(line) < 13) {
        bottle_step_done(b, -1, "docker network inspect failed; see its output");
        free(line);
        return;
    }
    *sp = '\0';
    d->bridge = xasprintf("br-%.12s", line);
    d->gateway = xstrdup(sp + 1);
    free(line);
    char *detail =
        xasprintf("internal network %s, gateway %s (%s)", d->network, d->gateway, d->bridge);
    bottle_step_done(b, 0, detail);
    free(detail);
}

static void on_net_create(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    if (status != 0) {
        bottle_step_done(b, -1,
                         "docker network create failed; is dockerd running? (see the "
                         "output above)");
        return;
    }
    d->network_made = true;
    const char *argv[] = {
        d->docker,  "network", "inspect", "-f", "{{.Id}} {{(index .IPAM.Config 0).Gateway}}",
        d->network, NULL};
    if (bottle_run(b, argv, NULL, on_inspect, NULL) != 0)
        bottle_step_done(b, -1, "cannot run docker");
}

static void on_stale_removed(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    const char *argv[] = {d->docker, "network",         "create",   "--internal",
                          "--label", "org.bottle.name", d->network, NULL};
    if (bottle_run(b, argv, NULL, on_net_create, NULL) != 0)
        bottle_step_done(b, -1, "cannot run docker");
}

static void docker_network(struct bottle *b)
{
    struct docker *d = D(b);
    /* A container or network of the same name left by a crash would make
     * the create fail; a bottle name is the operator's to reuse. The old
     * network's INPUT rules (on its bridge br-<id>) go with it. */
    char *script = xasprintf(
        "%s rm -f %s >/dev/null 2>&1; "
        "id=$(%s network inspect -f '{{.Id}}' %s 2>/dev/null | cut -c1-12); "
        "if [ -n \"$id\" ]; then iptables -w -S INPUT 2>/dev/null | grep -- \"-i br-$id \" | "
        "sed 's/^-A /-D /' | while read -r r; do iptables -w $r; done; fi; "
        "%s network rm %s >/dev/null 2>&1; true",
        d->docker, d->container, d->docker, d->network, d->docker, d->network);
    const char *argv[] = {"sh", "-c", script, NULL};
    int rc = bottle_run(b, argv, NULL, on_stale_removed, NULL);
    free(script);
    if (rc != 0)
        bottle_step_done(b, -1, "cannot run sh");
}

/* ---- start --------------------------------------------------------------------- */

static void on_rules(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    if (status != 0) {
        bottle_step_done(b, -1,
                         "cannot install the iptables rules that keep the bottle to its "
                         "first hop");
        return;
    }
    d->rules_made = true;
    char *detail = xasprintf("container %s; from %s only %s:%d is reachable", d->container,
                             d->bridge, d->gateway, d->first_port);
    bottle_step_done(b, 0, detail);
    free(detail);
}

/* Removes the INPUT rules docker_start inserted. */
static char *rules_delete_script(struct docker *d)
{
    return xasprintf("iptables -w -D INPUT -i %s -p tcp --dport %d -j ACCEPT && "
                     "iptables -w -D INPUT -i %s -p tcp --dport %d -j ACCEPT && "
                     "iptables -w -D INPUT -i %s -p tcp --dport %d -j ACCEPT && "
                     "iptables -w -D INPUT -i %s -j DROP",
                     d->bridge, d->first_port, d->bridge, PLAN_GATE_PORT, d->bridge,
                     PLAN_SUPERVISE_PORT, d->bridge);
}

static void on_run(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    if (status != 0) {
        bottle_step_done(b, -1,
                         "docker run failed (is the image there? scripts/build-agent-image "
                         "builds bottle-agent:latest)");
        return;
    }
    d->container_made = true;
    /* The internal network has no route out, but the host itself answers on
     * the gateway address: admit the first hop's port, drop the rest.
     * Inserted in reverse so ACCEPT ends up above DROP. */
    char *script = xasprintf("iptables -w -I INPUT 1 -i %s -j DROP && "
                             "iptables -w -I INPUT 1 -i %s -p tcp --dport %d -j ACCEPT && "
                             "iptables -w -I INPUT 1 -i %s -p tcp --dport %d -j ACCEPT && "
                             "iptables -w -I INPUT 1 -i %s -p tcp --dport %d -j ACCEPT",
                             d->bridge, d->bridge, d->first_port, d->bridge, PLAN_GATE_PORT,
                             d->bridge, PLAN_SUPERVISE_PORT);
    const char *argv[] = {"sh", "-c", script, NULL};
    int rc = bottle_run(b, argv, NULL, on_rules, NULL);
    free(script);
    if (rc != 0)
        bottle_step_done(b, -1, "cannot run sh");
}

static void docker_start(struct bottle *b)
{
    struct docker *d = D(b);
    const struct manifest *m = b->m;
    char *ws = xasprintf("%s:" GUEST_WORKSPACE, m->workspace);
    char *gate = xasprintf("git-gate:%s", d->gateway);
    char *sup = xasprintf("supervise:%s", d->gateway);
    char *label = xasprintf("org.bottle.name=%s", b->name);
    const char *argv[] = {d->docker,   "run",        "-d",       "--name",     d->container,
                          "--network", d->network,   "--label",  label,        "--hostname",
                          "bottle",    "--add-host", gate,       "--add-host", sup,
                          "-v",        ws,           "--user",   "root",       "--entrypoint",
                          "sleep",     m->image,     "infinity", NULL};
    int rc = bottle_run(b, argv, NULL, on_run, NULL);
    free(ws);
    free(gate);
    free(sup);
    free(label);
    if (rc != 0)
        bottle_step_done(b, -1, "cannot run docker");
}

/* ---- ca ------------------------------------------------------------------------ */

static void on_ca_installed(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    bool ok;
    char *d =
        provision_ca_verdict(out, status, 0, b->fingerprint, b->hops[0].name, "container", &ok);
    bottle_step_done(b, ok ? 0 : -1, d);
    free(d);
}

static void on_ca_copied(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    if (status != 0) {
        bottle_step_done(b, -1, "docker cp of the CA failed");
        return;
    }
    /* One exec: chown, chmod, update-ca-certificates, fingerprint (the seed's
     * lesson: fewer round trips, and verify what happened). */
    const char *script = "f=" GUEST_CA_DIR "/bottle.crt && chown root:root \"$f\" && "
                         "chmod 0644 \"$f\" && update-ca-certificates 2>&1 && "
                         "openssl x509 -noout -fingerprint -sha256 -in \"$f\"";
    const char *argv[] = {d->docker, "exec", "-u", "root", d->container, "sh", "-c", script, NULL};
    if (bottle_run(b, argv, NULL, on_ca_installed, NULL) != 0)
        bottle_step_done(b, -1, "cannot run docker");
}

static void docker_ca(struct bottle *b)
{
    struct docker *d = D(b);
    char *src = xasprintf("%s/ca.pem", b->hops[0].ca_dir);
    char *err = NULL;
    free(b->fingerprint);
    b->fingerprint = provision_ca_fingerprint(src, &err);
    if (!b->fingerprint) {
        bottle_step_done(b, -1, err);
        free(err);
        free(src);
        return;
    }
    char *dst = xasprintf("%s:" GUEST_CA_DIR "/bottle.crt", d->container);
    const char *argv[] = {d->docker, "cp", src, dst, NULL};
    if (bottle_run(b, argv, NULL, on_ca_copied, NULL) != 0)
        bottle_step_done(b, -1, "cannot run docker");
    free(src);
    free(dst);
}

/* ---- prompt and skills: docker cp, then chown in one exec -------------------------- */

struct copy_ctx {
    char *guest;
    char *host;
    bool recursive;
};

static void on_chowned(struct bottle *b, int status, const char *out, void *arg)
{
    struct copy_ctx *c = arg;
    if (status != 0) {
        bottle_step_done(b, -1, "chown in the container failed");
    } else {
        char *dd = xasprintf("%s, owned by %s", c->guest, b->m->agent.user);
        bottle_step_done(b, 0, dd);
        free(dd);
    }
    free(c->guest);
    free(c->host);
    free(c);
}

static void on_copied(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    struct copy_ctx *c = arg;
    if (status != 0) {
        bottle_step_done(b, -1, "docker cp failed");
        free(c->guest);
        free(c->host);
        free(c);
        return;
    }
    const char *u = b->m->agent.user;
    char *script = xasprintf("chown %s %s:%s \"%s\" && chmod -R u+rwX,go+rX \"%s\"",
                             c->recursive ? "-R" : "", u, u, c->guest, c->guest);
    const char *argv[] = {d->docker, "exec", "-u", "root", d->container, "sh", "-c", script, NULL};
    int rc = bottle_run(b, argv, NULL, on_chowned, c);
    free(script);
    if (rc != 0)
        bottle_step_done(b, -1, "cannot run docker");
}

static void on_parent_made(struct bottle *b, int status, const char *out, void *arg)
{
    struct docker *d = D(b);
    struct copy_ctx *c = arg;
    if (status != 0) {
        bottle_step_done(b, -1, "mkdir in the container failed");
        free(c->guest);
        free(c->host);
        free(c);
        return;
    }
    /* "dir/." copies the directory's contents (docker cp semantics). */
    char *src = c->recursive ? xasprintf("%s/.", c->host) : xstrdup(c->host);
    char *dst = xasprintf("%s:%s", d->container, c->guest);
    const char *argv[] = {d->docker, "cp", src, dst, NULL};
    if (bottle_run(b, argv, NULL, on_copied, c) != 0)
        bottle_step_done(b, -1, "cannot run docker");
    free(src);
    free(dst);
}

/* mkdir (as root) -> docker cp -> chown and chmod in one exec. */
static void copy_in(struct bottle *b, const char *host, const char *guest_rel, bool dir)
{
    struct docker *d = D(b);
    struct copy_ctx *c = xcalloc(1, sizeof *c);
    c->guest = xasprintf("/home/%s/%s", b->m->agent.user, guest_rel);
    c->host = xstrdup(host);
    c->recursive = dir;
    char *parent = dir ? xstrdup(c->guest) : path_dirname(c->guest);
    char *mk = xasprintf("mkdir -p \"%s\"", parent);
    const char *argv[] = {d->docker, "exec", "-u", "root", d->container, "sh", "-c", mk, NULL};
    if (bottle_run(b, argv, NULL, on_parent_made, c) != 0)
        bottle_step_done(b, -1, "cannot run docker");
    free(parent);
    free(mk);
}

/* The workspace (with its .git) is mounted at /workspace; the agent's
 * ~/.gitconfig sends the remotes to the gate on the network's gateway. */
static void docker_git(struct bottle *b)
{
    char *cfg = gate_gitconfig(b, "git://git-gate:9418/");
    char *path = xasprintf("%s/gitconfig", b->run_dir);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(cfg, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    free(cfg);
    if (!ok) {
        char *dd = xasprintf("cannot write %s: %s", path, strerror(errno));
        bottle_step_done(b, -1, dd);
        free(dd);
    } else {
        copy_in(b, path, ".gitconfig", false);
    }
    free(path);
}

static void on_mcp_added(struct bottle *b, int status, const char *out, void *arg)
{
    /* Not fatal (as the seed did): the agent may not be Claude Code. */
    if (status == 3)
        bottle_step_done(b, 1,
                         "claude is not installed in the image; the server is at "
                         "http://supervise:9100/");
    else if (status != 0)
        bottle_step_done(b, 1, "claude mcp add failed (see the output above); not fatal");
    else
        bottle_step_done(b, 0, "registered with claude as 'supervise' (http://supervise:9100/)");
}

static void docker_supervise(struct bottle *b)
{
    struct docker *d = D(b);
    const char *script = "command -v claude >/dev/null || exit 3; "
                         "claude mcp add --transport http supervise http://supervise:9100/";
    const char *argv[] = {d->docker, "exec", "-u", b->m->agent.user, d->container, "sh",
                          "-c",      script, NULL};
    if (bottle_run(b, argv, NULL, on_mcp_added, NULL) != 0)
        bottle_step_done(b, 1, "cannot run docker; not fatal");
}

static void docker_prompt(struct bottle *b)
{
    copy_in(b, b->m->prompt, ".claude-bottle-prompt.txt", false);
}

static void docker_skills(struct bottle *b)
{
    copy_in(b, b->m->skills, ".claude/skills", true);
}

/* ---- agent --------------------------------------------------------------------- */

static void teardown_remove(struct bottle *b);

static void agent_spawn(struct bottle *b);

static void on_command_checked(struct bottle *b, int status, const char *out, void *arg)
{
    if (status != 0) {
        char *dd = xasprintf("the agent command '%s' is not found in the container (as %s)",
                             b->m->agent.command.v[0], b->m->agent.user);
        bottle_step_done(b, -1, dd);
        free(dd);
        return;
    }
    agent_spawn(b);
}

/* Check the command exists first: a missing one must fail the step with a
 * clear cause rather than look like an agent that exited 127. */
static void docker_agent(struct bottle *b)
{
    struct docker *d = D(b);
    const char *argv[] = {d->docker,
                          "exec",
                          "-u",
                          b->m->agent.user,
                          "-w",
                          GUEST_WORKSPACE,
                          d->container,
                          "sh",
                          "-c",
                          "command -v \"$0\"",
                          b->m->agent.command.v[0],
                          NULL};
    if (bottle_run(b, argv, NULL, on_command_checked, NULL) != 0)
        bottle_step_done(b, -1, "cannot run docker");
}

static void agent_spawn(struct bottle *b)
{
    struct docker *d = D(b);
    const struct manifest *m = b->m;
    struct strv v = {0};
    strv_push(&v, d->docker);
    strv_push(&v, "exec");
    /* The supervisor's pty is docker's terminal; docker gives the agent one in turn. */
    strv_push(&v, "-i");
    strv_push(&v, "-t");
    strv_push(&v, "-u");
    strv_push(&v, m->agent.user);
    strv_push(&v, "-w");
    strv_push(&v, GUEST_WORKSPACE);
    char *home = xasprintf("HOME=/home/%s", m->agent.user);
    strv_push(&v, "-e");
    strv_push_own(&v, home);
    for (size_t i = 0; i < b->plan->nenv; i++) {
        const char *val = b->plan->env[i].value;
        strv_push(&v, "-e");
        /* The plan names the gateway abstractly; the real address is known now. */
        if (strstr(val, "<gateway of network"))
            strv_push_own(
                &v, xasprintf("%s=http://%s:%d", b->plan->env[i].key, d->gateway, d->first_port));
        else
            strv_push_own(&v, xasprintf("%s=%s", b->plan->env[i].key, val));
    }
    strv_push(&v, d->container);
    for (size_t i = 0; i < m->agent.command.n; i++)
        strv_push(&v, m->agent.command.v[i]);
    bottle_agent_spawn(b, (const char *const *)v.v);
    strv_free(&v);
}

/* ---- teardown: container, rules, network ------------------------------------------- */

static void on_removed(struct bottle *b, int status, const char *out, void *arg)
{
    docker_free(b);
    bottle_backend_torn_down(b);
}

static void teardown_remove(struct bottle *b)
{
    struct docker *d = D(b);
    struct buf s;
    buf_init(&s, 0);
    buf_appendf(&s, "rc=0; ");
    if (d->container_made || !d->network_made)
        buf_appendf(&s, "%s rm -f %s >/dev/null 2>&1; ", d->docker, d->container);
    if (d->rules_made) {
        char *r = rules_delete_script(d);
        buf_appendf(&s, "%s || rc=1; ", r);
        free(r);
    }
    if (d->network_made)
        buf_appendf(&s, "%s network rm %s >/dev/null || rc=1; ", d->docker, d->network);
    buf_appendf(&s, "exit $rc");
    const char *argv[] = {"sh", "-c", s.p, NULL};
    if (bottle_run(b, argv, NULL, on_removed, NULL) != 0) {
        docker_free(b);
        bottle_backend_torn_down(b);
    }
    buf_free(&s);
}

/* The docker exec client goes first; removing the container then ends the
 * agent's processes inside it, and the rules and network follow. */
static void docker_teardown(struct bottle *b)
{
    bottle_agent_stop(b, teardown_remove);
}

const struct backend_ops backend_docker = {
    .name = "docker",
    .first_hop_listen = docker_first_hop_listen,
    .gate_listen = docker_gate_listen,
    .supervise_listen = docker_supervise_listen,
    .supervise = docker_supervise,
    .git = docker_git,
    .network = docker_network,
    .start = docker_start,
    .ca = docker_ca,
    .prompt = docker_prompt,
    .skills = docker_skills,
    .agent = docker_agent,
    .teardown = docker_teardown,
};
