/* plan: the launch plan a manifest implies: hop chain, trusted CA, steps, agent variables. */
#include "core/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/dlp_rules.h"
#include "core/event.h"

static void env_add(struct plan *p, const char *k, const char *v)
{
    p->env = xrealloc(p->env, (p->nenv + 1) * sizeof *p->env);
    p->env[p->nenv++] = (struct mf_kv){xstrdup(k), xstrdup(v)};
}

static void step_add(struct plan *p, const char *name, bool skip, char *detail)
{
    p->steps[p->nsteps++] = (struct plan_step){name, skip, detail};
}

/* Where the first hop listens and how the agent reaches it, per backend. */
static void first_hop_addrs(const struct manifest *m, int port, char **listen, char **agent)
{
    switch (m->backend) {
    case BACKEND_DOCKER:
        *listen = xasprintf("<gateway of network bottle-%s>:%d", m->name, port);
        *agent = xasprintf("<gateway of network bottle-%s>:%d", m->name, port);
        break;
    case BACKEND_SMOLVM:
        *listen = xstrdup("127.0.0.1:<auto>");
        *agent = xstrdup("127.0.0.1:<same port, via TSI>");
        break;
    default:
        *listen = xstrdup("127.0.0.1:<auto> (host), relayed into the sandbox");
        *agent = xasprintf("127.0.0.1:%d", port);
        break;
    }
}

struct plan *plan_build(const struct manifest *m)
{
    struct plan *p = xcalloc(1, sizeof *p);
    p->m = m;
    p->state_dir = state_dir_for(m->name);
    bool routes = m->egress.nroutes > 0;

    /* Hop order (seed bug 1): with routes the agent's first hop is egress and
     * egress's parent is pipelock; without routes the agent dials pipelock. */
    if (routes) {
        struct plan_hop *e = &p->hops[p->nhops++];
        e->name = "egress";
        first_hop_addrs(m, PLAN_EGRESS_PORT, &e->listen, &e->agent_addr);
        e->parent = "pipelock";
        e->ca_dir = xasprintf("%s/ca/egress", p->state_dir);
        struct plan_hop *pl = &p->hops[p->nhops++];
        pl->name = "pipelock";
        pl->listen = xstrdup("127.0.0.1:<auto> (host loopback only)");
        pl->agent_addr = NULL;
        pl->parent = "upstream";
        pl->ca_dir = xasprintf("%s/ca/pipelock", p->state_dir);
    } else {
        struct plan_hop *pl = &p->hops[p->nhops++];
        pl->name = "pipelock";
        first_hop_addrs(m, PLAN_PIPELOCK_PORT, &pl->listen, &pl->agent_addr);
        pl->parent = "upstream";
        pl->ca_dir = xasprintf("%s/ca/pipelock", p->state_dir);
    }
    p->trusted_ca = p->hops[0].name;

    /* The gate and supervise server: reachable only from this bottle. */
    const char *gate_host = m->backend == BACKEND_DOCKER ? "git-gate" : "127.0.0.1";
    p->gate_addr = xasprintf("git://%s:%d/", gate_host, PLAN_GATE_PORT);
    p->supervise_url =
        xasprintf("http://%s:%d/", m->backend == BACKEND_DOCKER ? "supervise" : "127.0.0.1",
                  PLAN_SUPERVISE_PORT);

    const char *bk = backend_kind_name(m->backend);
    step_add(p, "network", false,
             m->backend == BACKEND_DOCKER
                 ? xasprintf("docker network create --internal bottle-%s", m->name)
             : m->backend == BACKEND_SMOLVM
                 ? xstrdup("TSI: guest 127.0.0.1 maps to host loopback")
                 : xstrdup("bubblewrap --unshare-net: loopback only, relay to the first hop"));
    step_add(p, "proxies", false,
             routes ? xstrdup("pipelock, then egress --parent pipelock; wait until each listens")
                    : xstrdup("pipelock; wait until it listens"));
    step_add(
        p, "gate", false,
        xasprintf("git gate %s%s", p->gate_addr, m->supervise.enabled ? ", supervise server" : ""));
    step_add(p, "start", false,
             m->backend == BACKEND_LOCAL
                 ? xstrdup("bwrap: host / read-only, workspace writable, tmpfs home")
                 : xasprintf("%s %s from image %s", bk,
                             m->backend == BACKEND_DOCKER ? "container" : "machine", m->image));
    step_add(p, "ca", false,
             m->backend == BACKEND_LOCAL
                 ? xasprintf("%s CA in a composed bundle bind-mounted over the system bundle",
                             p->trusted_ca)
                 : xasprintf("%s CA: chown && chmod && update-ca-certificates (must report "
                             "1 added)",
                             p->trusted_ca));
    step_add(p, "git", m->git.nrepos == 0,
             m->git.nrepos ? xasprintf("%zu repo(s) via the gate (insteadOf)", m->git.nrepos)
                           : xstrdup("no git.repos"));
    step_add(p, "supervise", !m->supervise.enabled,
             m->supervise.enabled
                 ? xasprintf("claude mcp add --transport http supervise %s", p->supervise_url)
                 : xstrdup("supervise.enabled is false"));
    step_add(p, "prompt", !m->prompt, xstrdup(m->prompt ? m->prompt : "no prompt"));
    step_add(p, "skills", !m->skills, xstrdup(m->skills ? m->skills : "no skills"));
    step_add(p, "agent", false, xstrdup(m->agent.command.v[0]));

    /* The agent's variables: proxies, CA bundles, placeholders, then its own. */
    char *proxy = xasprintf("http://%s", p->hops[0].agent_addr);
    static const char *const proxy_vars[] = {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy",
                                             "http_proxy"};
    for (size_t i = 0; i < 4; i++)
        env_add(p, proxy_vars[i], proxy);
    free(proxy);
    /* NO_PROXY must not open a bypass: on local, loopback is the sandbox's own
     * (only relays live there); on smolvm, TSI maps 127.0.0.1 to the host, so
     * nothing is exempt there. */
    if (m->backend == BACKEND_LOCAL) {
        env_add(p, "NO_PROXY", "localhost,127.0.0.1");
        env_add(p, "no_proxy", "localhost,127.0.0.1");
    } else if (m->backend == BACKEND_DOCKER) {
        env_add(p, "NO_PROXY", "git-gate,supervise");
        env_add(p, "no_proxy", "git-gate,supervise");
    }
    static const char *const ca_vars[] = {"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO",
                                          "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"};
    for (size_t i = 0; i < 5; i++)
        env_add(p, ca_vars[i], "/etc/ssl/certs/ca-certificates.crt");
    for (size_t i = 0; i < m->egress.nroutes; i++)
        if (m->egress.routes[i].placeholder_env)
            env_add(p, m->egress.routes[i].placeholder_env, PLAN_PLACEHOLDER);
    /* The agent has a terminal, but no one pages through its output there:
     * `git log` and friends must not wait for a key (agent.env may override). */
    env_add(p, "PAGER", "cat");
    env_add(p, "GIT_PAGER", "cat");
    for (size_t i = 0; i < m->agent.nenv; i++)
        env_add(p, m->agent.env[i].key, m->agent.env[i].value);

    p->dlp_patterns = m->pipelock.npatterns;
    p->dlp_defaults_ok = true;
    if (m->pipelock.dlp_defaults) {
        struct dlp_rules rules = {0};
        struct diag_list d = {0};
        if (dlp_rules_load_file(&rules, dlp_rules_default_path(), &d) == 0)
            p->dlp_patterns += rules.n;
        else
            p->dlp_defaults_ok = false;
        dlp_rules_free(&rules);
        diag_free(&d);
    }
    return p;
}

void plan_free(struct plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nhops; i++) {
        free(p->hops[i].listen);
        free(p->hops[i].agent_addr);
        free(p->hops[i].ca_dir);
    }
    for (size_t i = 0; i < p->nsteps; i++)
        free(p->steps[i].detail);
    for (size_t i = 0; i < p->nenv; i++) {
        free(p->env[i].key);
        free(p->env[i].value);
    }
    free(p->env);
    free(p->state_dir);
    free(p->gate_addr);
    free(p->supervise_url);
    free(p);
}

static void print_list(FILE *out, const char *label, const struct strv *v)
{
    fprintf(out, "  %-12s", label);
    if (v->n == 0)
        fputs(" (none)", out);
    for (size_t i = 0; i < v->n; i++)
        fprintf(out, "%s%s", i ? ", " : " ", v->v[i]);
    fputc('\n', out);
}

void plan_print_text(const struct plan *p, FILE *out)
{
    const struct manifest *m = p->m;
    fprintf(out, "bottle %s (%s)\n", m->name, m->file);
    fprintf(out, "  backend      %s%s%s\n", backend_kind_name(m->backend),
            m->image ? ", image " : "", m->image ? m->image : "");
    fprintf(out, "  workspace    %s\n", m->workspace);
    fprintf(out, "  state        %s\n", p->state_dir);
    fprintf(out, "  chain        agent");
    for (size_t i = 0; i < p->nhops; i++)
        fprintf(out, " -> %s", p->hops[i].name);
    fprintf(out, " -> upstream\n");
    for (size_t i = 0; i < p->nhops; i++) {
        const struct plan_hop *h = &p->hops[i];
        fprintf(out, "    %-9s listens %s; ", h->name, h->listen);
        if (h->agent_addr)
            fprintf(out, "agent dials %s", h->agent_addr);
        else
            fprintf(out, "not reachable from the bottle");
        fprintf(out, "; next: %s\n", h->parent);
    }
    fprintf(out, "  agent trusts the %s CA (%s/ca.pem)\n", p->trusted_ca, p->hops[0].ca_dir);
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        const struct mf_route *r = &m->egress.routes[i];
        fprintf(out, "  route        %s: egress sets %s from %s %s%s%s\n", r->host, r->header,
                r->token_kind == TOKEN_FILE ? "file" : "env", r->token_src,
                r->placeholder_env ? "; agent sees " : "",
                r->placeholder_env ? r->placeholder_env : "");
    }
    fprintf(out, "  steps\n");
    for (size_t i = 0; i < p->nsteps; i++)
        fprintf(out, "    %2zu %-10s %s%s\n", i + 1, p->steps[i].name,
                p->steps[i].skip ? "skip: " : "", p->steps[i].detail);
    fprintf(out, "  agent        %s", m->agent.command.v[0]);
    for (size_t i = 1; i < m->agent.command.n; i++)
        fprintf(out, " %s", m->agent.command.v[i]);
    fputc('\n', out);
    if (m->agent.user)
        fprintf(out, "  user         %s\n", m->agent.user);
    fprintf(out, "  env\n");
    for (size_t i = 0; i < p->nenv; i++)
        fprintf(out, "    %s=%s\n", p->env[i].key, p->env[i].value);
    fprintf(out, "  pipelock     mode %s, %zu DLP patterns (%s)\n",
            pipelock_mode_name(m->pipelock.mode), p->dlp_patterns,
            !m->pipelock.dlp_defaults ? "defaults off"
            : p->dlp_defaults_ok      ? "defaults + own"
                                      : "DEFAULTS FAILED TO LOAD");
    print_list(out, "allow", &m->pipelock.allow);
    print_list(out, "deny", &m->pipelock.deny);
    if (m->pipelock.passthrough.n)
        print_list(out, "passthrough", &m->pipelock.passthrough);
    fprintf(out, "  git gate     %s (%zu repo(s))\n", p->gate_addr, m->git.nrepos);
    fprintf(out, "  supervise    %s\n", m->supervise.enabled ? p->supervise_url : "off");
}

static cJSON *strv_json(const struct strv *v)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < v->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v->v[i]));
    return a;
}

cJSON *plan_to_json(const struct plan *p)
{
    const struct manifest *m = p->m;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", m->file);
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "backend", backend_kind_name(m->backend));
    if (m->image)
        cJSON_AddStringToObject(o, "image", m->image);
    cJSON_AddStringToObject(o, "workspace", m->workspace);
    cJSON_AddStringToObject(o, "state_dir", p->state_dir);
    cJSON *hops = cJSON_AddArrayToObject(o, "hops");
    for (size_t i = 0; i < p->nhops; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "hop", p->hops[i].name);
        cJSON_AddStringToObject(h, "listen", p->hops[i].listen);
        if (p->hops[i].agent_addr)
            cJSON_AddStringToObject(h, "agent_addr", p->hops[i].agent_addr);
        else
            cJSON_AddNullToObject(h, "agent_addr");
        cJSON_AddStringToObject(h, "next", p->hops[i].parent);
        cJSON_AddStringToObject(h, "ca", p->hops[i].ca_dir);
        cJSON_AddItemToArray(hops, h);
    }
    cJSON_AddStringToObject(o, "trusted_ca", p->trusted_ca);
    cJSON *routes = cJSON_AddArrayToObject(o, "routes");
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        const struct mf_route *r = &m->egress.routes[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "host", r->host);
        cJSON_AddStringToObject(j, "header", r->header);
        cJSON_AddStringToObject(j, "token_source", r->token_kind == TOKEN_FILE ? "file" : "env");
        cJSON_AddStringToObject(j, "token_ref", r->token_src);
        if (r->placeholder_env)
            cJSON_AddStringToObject(j, "placeholder_env", r->placeholder_env);
        cJSON_AddItemToArray(routes, j);
    }
    cJSON *steps = cJSON_AddArrayToObject(o, "steps");
    for (size_t i = 0; i < p->nsteps; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "step", p->steps[i].name);
        cJSON_AddBoolToObject(s, "skip", p->steps[i].skip);
        cJSON_AddStringToObject(s, "detail", p->steps[i].detail);
        cJSON_AddItemToArray(steps, s);
    }
    cJSON *agent = cJSON_AddObjectToObject(o, "agent");
    cJSON_AddItemToObject(agent, "command", strv_json(&m->agent.command));
    if (m->agent.user)
        cJSON_AddStringToObject(agent, "user", m->agent.user);
    cJSON *env = cJSON_AddObjectToObject(agent, "env");
    for (size_t i = 0; i < p->nenv; i++)
        cJSON_AddStringToObject(env, p->env[i].key, p->env[i].value);
    cJSON *pl = cJSON_AddObjectToObject(o, "pipelock");
    cJSON_AddStringToObject(pl, "mode", pipelock_mode_name(m->pipelock.mode));
    cJSON_AddNumberToObject(pl, "dlp_patterns", (double)p->dlp_patterns);
    cJSON_AddBoolToObject(pl, "dlp_defaults", m->pipelock.dlp_defaults);
    cJSON_AddItemToObject(pl, "allow", strv_json(&m->pipelock.allow));
    cJSON_AddItemToObject(pl, "deny", strv_json(&m->pipelock.deny));
    cJSON_AddItemToObject(pl, "passthrough", strv_json(&m->pipelock.passthrough));
    cJSON *gate = cJSON_AddObjectToObject(o, "git");
    cJSON_AddStringToObject(gate, "gate", p->gate_addr);
    cJSON *repos = cJSON_AddArrayToObject(gate, "repos");
    for (size_t i = 0; i < m->git.nrepos; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", m->git.repos[i].name);
        cJSON_AddStringToObject(r, "path", m->git.repos[i].path);
        cJSON_AddItemToArray(repos, r);
    }
    if (m->supervise.enabled)
        cJSON_AddStringToObject(o, "supervise", p->supervise_url);
    else
        cJSON_AddNullToObject(o, "supervise");
    return o;
}
