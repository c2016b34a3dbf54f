/* backend_smolvm: bottles as smolvm (libkrun) microVMs, driven through the `smolvm machine` CLI. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "gate/gate.h"
#include "gate/supervise.h"
#include "provision/ca.h"

#define GUEST_WORKSPACE "/workspace"
#define GUEST_CA "/usr/local/share/ca-certificates/bottle.crt"
/* What the plan writes where the first hop's real port goes. */
#define TSI_PLACEHOLDER "<same port, via TSI>"
/* Guest commands that should be quick get a deadline of their own, so a hung
 * exec channel fails the step instead of hanging the launch. */
#define EXEC_TIMEOUT "60s"
#define READY_TIMEOUT_MS 60000
#define READY_RETRY_MS 250
#define STOP_TIMEOUT_MS 30000
#define STOP_POLL_MS 100
#define MAX_RESTARTS 3

struct smolvm;
typedef void (*smolvm_next)(struct bottle *b);

struct smolvm {
    char *cli;     /* the smolvm CLI ($BOTTLE_SMOLVM or "smolvm") */
    char *machine; /* bottle-<name> */
    /* Test-only (BOTTLE_SMOLVM_UNSAFE_NO_READY=1): no readiness wait and one
     * exec per command, as the seed did before its fix, so the tests can
     * show that the CA check catches the warm-up race. */
    bool unsafe;
    bool created;
    long vm_pid;
    uv_timer_t timer; /* retries and polls; closed at the end of the teardown */
    smolvm_next on_timer;
    uint64_t t0, deadline;
    int probes, restarts;
    char *tmp_copy; /* a colon-free copy of a host file for `machine cp` */
    /* The unsafe CA path: one exec per command, outputs gathered. */
    size_t unsafe_i;
    int unsafe_update_status;
    struct buf unsafe_out;
};

static struct smolvm *S(struct bottle *b)
{
    if (!b->be_data) {
        struct smolvm *d = xcalloc(1, sizeof *d);
        const char *cli = getenv("BOTTLE_SMOLVM");
        d->cli = xstrdup(cli && *cli ? cli : "smolvm");
        d->machine = xasprintf("bottle-%s", b->name);
        const char *u = getenv("BOTTLE_SMOLVM_UNSAFE_NO_READY");
        d->unsafe = u && strcmp(u, "1") == 0;
        uv_timer_init(b->loop, &d->timer);
        d->timer.data = b;
        buf_init(&d->unsafe_out, 1u << 20);
        b->be_data = d;
    }
    return b->be_data;
}

static void drop_tmp_copy(struct smolvm *d)
{
    if (d->tmp_copy) {
        unlink(d->tmp_copy);
        free(d->tmp_copy);
        d->tmp_copy = NULL;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct bottle *b = h->data;
    struct smolvm *d = b->be_data;
    drop_tmp_copy(d);
    buf_free(&d->unsafe_out);
    free(d->cli);
    free(d->machine);
    free(d);
    b->be_data = NULL;
    bottle_backend_torn_down(b);
}

static void on_timer(uv_timer_t *t)
{
    struct bottle *b = t->data;
    S(b)->on_timer(b);
}

static void later(struct bottle *b, uint64_t ms, smolvm_next fn)
{
    struct smolvm *d = S(b);
    d->on_timer = fn;
    uv_timer_start(&d->timer, on_timer, ms, 0);
}

/* bottle_run, but a command that cannot be spawned reaches CB as status 127,
 * so every chain has one place that handles failure. */
static void run(struct bottle *b, struct strv *v, const char *in, bottle_run_cb cb, void *arg)
{
    if (bottle_run(b, (const char *const *)v->v, in, cb, arg) != 0 && cb)
        cb(b, 127, "", arg);
    strv_free(v);
}

/* "smolvm machine SUB --name M" as the start of an argv. */
static struct strv machine_cmd(struct bottle *b, const char *sub)
{
    struct smolvm *d = S(b);
    struct strv v = {0};
    strv_push(&v, d->cli);
    strv_push(&v, "machine");
    strv_push(&v, sub);
    strv_push(&v, "--name");
    strv_push(&v, d->machine);
    return v;
}

/* `machine exec` of one `sh -c SCRIPT` as root (exec has no --user). */
static void exec_sh(struct bottle *b, const char *script, bottle_run_cb cb, void *arg)
{
    struct strv v = machine_cmd(b, "exec");
    strv_push(&v, "--timeout");
    strv_push(&v, EXEC_TIMEOUT);
    strv_push(&v, "--");
    strv_push(&v, "sh");
    strv_push(&v, "-c");
    strv_push(&v, script);
    run(b, &v, NULL, cb, arg);
}

/* The state in `status --json` output, or NULL (a new string). */
static char *parse_state(const char *out)
{
    cJSON *j = cJSON_Parse(out);
    const cJSON *s = cJSON_GetObjectItem(j, "state");
    char *r = cJSON_IsString(s) ? xstrdup(s->valuestring) : NULL;
    cJSON_Delete(j);
    return r;
}

static long parse_pid(const char *out)
{
    cJSON *j = cJSON_Parse(out);
    const cJSON *pid = cJSON_GetObjectItem(j, "pid");
    long r = cJSON_IsNumber(pid) ? (long)pid->valuedouble : 0;
    cJSON_Delete(j);
    return r;
}

/* `machine cp` splits both arguments on their first ':', so a host path with
 * a colon would be taken for a machine name: copy such a file to a
 * colon-free temporary path first. Returns the path to use (borrowed). */
static const char *colon_free(struct smolvm *d, const char *path, char **err)
{
    drop_tmp_copy(d);
    if (!strchr(path, ':'))
        return path;
    size_t len;
    char *data = file_read_all(path, 16u << 20, &len);
    char tmpl[] = "/tmp/bottle-smolvm-XXXXXX";
    int fd = data ? mkstemp(tmpl) : -1;
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
        *err = xasprintf("cannot stage %s for machine cp: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmpl);
        }
        free(data);
        return NULL;
    }
    close(fd);
    free(data);
    d->tmp_copy = xstrdup(tmpl);
    return d->tmp_copy;
}

/* ---- network: the CLI is there; no machine of ours is left from a crash --------- */

static void on_stale_deleted(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    char *ver = arg;
    struct smolvm *d = S(b);
    if (status != 0) {
        char *dd = xasprintf("a machine %s is left from an earlier run and `machine delete -f` "
                             "failed; see its output",
                             d->machine);
        bottle_step_done(b, -1, dd);
        free(dd);
    } else {
        char *dd = xasprintf("%s (removed a stale machine %s); TSI: the guest's 127.0.0.1 is "
                             "host loopback",
                             ver, d->machine);
        bottle_step_done(b, 0, dd);
        free(dd);
    }
    free(ver);
}

static void on_stale_status(struct bottle *b, int status, const char *out, void *arg)
{
    char *ver = arg;
    if (status == 0) {
        /* A bottle name is the operator's to reuse: always delete -f (a
         * plain delete would wait on a prompt). */
        struct strv v = machine_cmd(b, "delete");
        strv_push(&v, "-f");
        run(b, &v, NULL, on_stale_deleted, ver);
        return;
    }
    (void)out;
    char *dd = xasprintf("%s; TSI: the guest's 127.0.0.1 is host loopback", ver);
    bottle_step_done(b, 0, dd);
    free(dd);
    free(ver);
}

static void on_version(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    struct smolvm *d = S(b);
    if (status != 0) {
        char *dd = xasprintf("the smolvm CLI (%s) is not installed or cannot run; install "
                             "smolmachines' smolvm (it needs KVM) or set BOTTLE_SMOLVM",
                             d->cli);
        bottle_step_done(b, -1, dd);
        free(dd);
        return;
    }
    char *ver = xstrndup(out, strcspn(out, "\r\n"));
    struct strv v = machine_cmd(b, "status");
    strv_push(&v, "--json");
    run(b, &v, NULL, on_stale_status, ver);
}

static void smolvm_network(struct bottle *b)
{
    struct smolvm *d = S(b);
    struct strv v = {0};
    strv_push(&v, d->cli);
    strv_push(&v, "--version");
    run(b, &v, NULL, on_version, NULL);
}

/* The first hop, the git gate and the supervise server listen on host
 * loopback, on free ports; TSI takes the guest there. */
static char *smolvm_first_hop_listen(struct bottle *b, int agent_port)
{
    (void)b;
    (void)agent_port;
    return xstrdup("127.0.0.1:0");
}

static char *smolvm_loopback_listen(struct bottle *b, int *port)
{
    (void)b;
    *port = 0;
    return xstrdup("127.0.0.1");
}

/* ---- start: create, start, wait until the exec channel is ready --------------------- */

static void ready_poll(struct bottle *b);
static void machine_start(struct bottle *b);

static void start_fail(struct bottle *b, const char *why)
{
    struct smolvm *d = S(b);
    char *dd = xasprintf("machine %s: %s", d->machine, why);
    bottle_step_done(b, -1, dd);
    free(dd);
}

static void start_ok(struct bottle *b)
{
    struct smolvm *d = S(b);
    char *dd;
    if (d->unsafe)
        dd = xasprintf("machine %s running (PID %ld); readiness wait OFF "
                       "(BOTTLE_SMOLVM_UNSAFE_NO_READY, tests only)",
                       d->machine, d->vm_pid);
    else
        dd = xasprintf("machine %s running (PID %ld); exec channel ready after %d probe(s), "
                       "%llu ms%s",
                       d->machine, d->vm_pid, d->probes,
                       (unsigned long long)(time_mono_ms() - d->t0),
                       d->restarts ? " (restarted: it was unreachable)" : "");
    bottle_step_done(b, 0, dd);
    free(dd);
}

static bool past_deadline(struct bottle *b)
{
    struct smolvm *d = S(b);
    if (time_mono_ms() < d->deadline)
        return false;
    char *why = xasprintf("the exec channel did not become ready within %llu ms (%d probes)",
                          (unsigned long long)(d->deadline - d->t0), d->probes);
    start_fail(b, why);
    free(why);
    return true;
}

static void retry_ready(struct bottle *b)
{
    if (!past_deadline(b))
        later(b, READY_RETRY_MS, ready_poll);
}

/* Two execs back to back: right after start the second one is what the
 * warm-up race kills, so both passing means the channel has settled. */
static void on_probe2(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    (void)arg;
    if (status == 0)
        start_ok(b);
    else
        retry_ready(b);
}

static void probe(struct bottle *b, bottle_run_cb cb)
{
    struct smolvm *d = S(b);
    d->probes++;
    struct strv v = machine_cmd(b, "exec");
    strv_push(&v, "--timeout");
    strv_push(&v, "10s");
    strv_push(&v, "--");
    strv_push(&v, "true");
    run(b, &v, NULL, cb, NULL);
}

static void on_probe1(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    (void)arg;
    if (status == 0)
        probe(b, on_probe2);
    else
        retry_ready(b);
}

/* Restart an unreachable machine: stop, wait until stopped, start. */
static void restart_poll(struct bottle *b);

static void on_restart_status(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    char *st = status == 0 ? parse_state(out) : NULL;
    bool down = st && (strcmp(st, "stopped") == 0 || strcmp(st, "failed") == 0 ||
                       strcmp(st, "created") == 0);
    free(st);
    if (down)
        machine_start(b);
    else if (!past_deadline(b))
        later(b, STOP_POLL_MS, restart_poll);
}

static void restart_poll(struct bottle *b)
{
    struct strv v = machine_cmd(b, "status");
    strv_push(&v, "--json");
    run(b, &v, NULL, on_restart_status, NULL);
}

static void on_restart_stopped(struct bottle *b, int status, const char *out, void *arg)
{
    (void)status; /* "not running" is fine: the state poll decides */
    (void)out;
    (void)arg;
    restart_poll(b);
}

static void on_ready_status(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    struct smolvm *d = S(b);
    char *st = status == 0 ? parse_state(out) : NULL;
    if (st && strcmp(st, "running") == 0) {
        long pid = parse_pid(out);
        if (pid)
            d->vm_pid = pid;
        if (d->unsafe)
            start_ok(b);
        else
            probe(b, on_probe1);
    } else if (st && strcmp(st, "unreachable") == 0) {
        /* The VM runs but its agent does not answer: only a restart helps. */
        if (++d->restarts > MAX_RESTARTS) {
            start_fail(b, "still unreachable after restarts");
        } else {
            struct strv v = machine_cmd(b, "stop");
            run(b, &v, NULL, on_restart_stopped, NULL);
        }
    } else if (st && (strcmp(st, "stopped") == 0 || strcmp(st, "failed") == 0)) {
        char *why = xasprintf("the machine is %s right after start (see its console log)", st);
        start_fail(b, why);
        free(why);
    } else {
        retry_ready(b);
    }
    free(st);
}

static void ready_poll(struct bottle *b)
{
    struct strv v = machine_cmd(b, "status");
    strv_push(&v, "--json");
    run(b, &v, NULL, on_ready_status, NULL);
}

static void on_started(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    struct smolvm *d = S(b);
    if (status != 0) {
        start_fail(b, "`machine start` failed; see its output");
        return;
    }
    /* "Machine 'N' running (PID: P)" */
    const char *p = strstr(out, "(PID: ");
    if (p)
        d->vm_pid = strtol(p + 6, NULL, 10);
    ready_poll(b);
}

static void machine_start(struct bottle *b)
{
    struct strv v = machine_cmd(b, "start");
    run(b, &v, NULL, on_started, NULL);
}

static void on_created(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    (void)arg;
    struct smolvm *d = S(b);
    if (status != 0) {
        char *why = xasprintf("`machine create` failed for image %s (a local tarball or "
                              "directory works offline); see its output",
                              b->m->image);
        start_fail(b, why);
        free(why);
        return;
    }
    d->created = true;
    d->t0 = time_mono_ms();
    const char *t = getenv("BOTTLE_SMOLVM_READY_TIMEOUT_MS");
    d->deadline = d->t0 + (t && atol(t) > 0 ? (uint64_t)atol(t) : READY_TIMEOUT_MS);
    machine_start(b);
}

static void smolvm_start(struct bottle *b)
{
    const struct manifest *m = b->m;
    if (strchr(m->workspace, ':')) {
        bottle_step_done(b, -1,
                         "the workspace path contains ':', which `machine create -v "
                         "HOST:GUEST` cannot express");
        return;
    }
    struct strv v = machine_cmd(b, "create");
    strv_push(&v, "--image");
    strv_push(&v, m->image);
    /* TSI networking, outbound to host loopback only: the first hop. */
    strv_push(&v, "--net");
    strv_push(&v, "--outbound-localhost-only");
    strv_push(&v, "-v");
    strv_push_own(&v, xasprintf("%s:" GUEST_WORKSPACE, m->workspace));
    strv_push(&v, "-w");
    strv_push(&v, GUEST_WORKSPACE);
    strv_push(&v, "--");
    strv_push(&v, "sleep");
    strv_push(&v, "infinity");
    run(b, &v, NULL, on_created, NULL);
}

/* ---- ca ------------------------------------------------------------------------ */

static void ca_verify(struct bottle *b, int status, const char *out, int update_status)
{
    if (update_status == 128 + SIGKILL && !provision_ca_one_added(out)) {
        bottle_step_done(b, -1,
                         "update-ca-certificates was killed (SIGKILL, exit 137) before "
                         "it reported '1 added': the smolvm exec channel was not ready "
                         "(warm-up race); the agent's trust store does not have the CA");
        return;
    }
    bool ok;
    char *d = provision_ca_verdict(out, update_status, status, b->fingerprint, b->hops[0].name,
                                   "machine", &ok);
    bottle_step_done(b, ok ? 0 : -1, d);
    free(d);
}

static void on_ca_installed(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    /* The fold ends with openssl, so a status of 0 means every part ran;
     * otherwise the update's own words tell what went wrong. */
    ca_verify(b, status, out, status);
}

/* The unsafe path: chown, chmod, update-ca-certificates, openssl as four
 * execs, statuses ignored like the seed's first version; only the final
 * verification stands. */
static const char *const unsafe_cmds[] = {
    "chown root:root " GUEST_CA,
    "chmod 0644 " GUEST_CA,
    "update-ca-certificates 2>&1",
    "openssl x509 -noout -fingerprint -sha256 -in " GUEST_CA,
};

static void on_unsafe_step(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    struct smolvm *d = S(b);
    buf_appendf(&d->unsafe_out, "%s", out);
    if (d->unsafe_i == 2)
        d->unsafe_update_status = status;
    if (++d->unsafe_i < ARRAY_SIZE(unsafe_cmds)) {
        exec_sh(b, unsafe_cmds[d->unsafe_i], on_unsafe_step, NULL);
        return;
    }
    ca_verify(b, status, d->unsafe_out.p ? d->unsafe_out.p : "", d->unsafe_update_status);
}

static void on_ca_copied(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    (void)arg;
    struct smolvm *d = S(b);
    drop_tmp_copy(d);
    if (status != 0) {
        bottle_step_done(b, -1, "`machine cp` of the CA failed; see its output");
        return;
    }
    if (d->unsafe) {
        d->unsafe_i = 0;
        buf_reset(&d->unsafe_out);
        exec_sh(b, unsafe_cmds[0], on_unsafe_step, NULL);
        return;
    }
    /* One exec: chown, chmod, update-ca-certificates, fingerprint (the seed's
     * lesson: one round trip, and verify what happened). */
    exec_sh(b,
            "f=" GUEST_CA " && chown root:root \"$f\" && chmod 0644 \"$f\" && "
            "update-ca-certificates 2>&1 && openssl x509 -noout -fingerprint -sha256 -in \"$f\"",
            on_ca_installed, NULL);
}

static void smolvm_ca(struct bottle *b)
{
    struct smolvm *d = S(b);
    char *src = xasprintf("%s/ca.pem", b->hops[0].ca_dir);
    char *err = NULL;
    free(b->fingerprint);
    b->fingerprint = provision_ca_fingerprint(src, &err);
    const char *from = b->fingerprint ? colon_free(d, src, &err) : NULL;
    if (!from) {
        bottle_step_done(b, -1, err);
        free(err);
        free(src);
        return;
    }
    /* Copied as root; exec has no --user, so ownership is set in the exec. */
    struct strv v = {0};
    strv_push(&v, d->cli);
    strv_push(&v, "machine");
    strv_push(&v, "cp");
    strv_push(&v, "--mode");
    strv_push(&v, "0644");
    strv_push(&v, "--uid");
    strv_push(&v, "0");
    strv_push(&v, "--gid");
    strv_push(&v, "0");
    strv_push(&v, from);
    strv_push_own(&v, xasprintf("%s:" GUEST_CA, d->machine));
    run(b, &v, NULL, on_ca_copied, NULL);
    free(src);
}

/* ---- a file owned by the agent user: machine cp as root, then chown, chmod and a check
 * in one exec (git, prompt) ----------------------------------------------------------- */

struct owned_copy {
    char *guest;  /* absolute path in the machine */
    char *detail; /* what the step reports on success, before ", N bytes, owned by U" */
    long size;
};

static void owned_copy_free(struct owned_copy *c)
{
    free(c->guest);
    free(c->detail);
    free(c);
}

static void on_owned_checked(struct bottle *b, int status, const char *out, void *arg)
{
    struct owned_copy *c = arg;
    const char *u = b->m->agent.user;
    char *expect = xasprintf("%s %ld", u, c->size);
    size_t n = strcspn(out, "\n");
    if (status != 0 || n != strlen(expect) || strncmp(out, expect, n) != 0) {
        char *dd =
            xasprintf("%s in the machine is not '%s' (owner size); got '%.*s'%s", c->guest, expect,
                      (int)n, out, status == 128 + SIGKILL ? " (the check was SIGKILLed)" : "");
        bottle_step_done(b, -1, dd);
        free(dd);
    } else {
        char *dd = xasprintf("%s, %ld bytes, owned by %s", c->detail, c->size, u);
        bottle_step_done(b, 0, dd);
        free(dd);
    }
    free(expect);
    owned_copy_free(c);
}

static void on_owned_copied(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    struct owned_copy *c = arg;
    drop_tmp_copy(S(b));
    if (status != 0) {
        char *dd = xasprintf("`machine cp` to %s failed; see its output", c->guest);
        bottle_step_done(b, -1, dd);
        free(dd);
        owned_copy_free(c);
        return;
    }
    const char *u = b->m->agent.user;
    char *script = xasprintf("f='%s' && chown %s:%s \"$f\" && chmod 0644 \"$f\" && "
                             "stat -c '%%U %%s' \"$f\"",
                             c->guest, u, u);
    exec_sh(b, script, on_owned_checked, c);
    free(script);
}

/* Copy HOST to ~/REL in the machine, owned by the agent user, mode 0644; the
 * step ends with DETAIL (taken) on success. */
static void copy_owned(struct bottle *b, const char *host, const char *rel, char *detail)
{
    struct smolvm *d = S(b);
    struct stat st;
    errno = 0;
    if (stat(host, &st) != 0 || !S_ISREG(st.st_mode)) {
        char *dd =
            xasprintf("cannot read %s: %s", host, errno ? strerror(errno) : "not a regular file");
        bottle_step_done(b, -1, dd);
        free(dd);
        free(detail);
        return;
    }
    char *err = NULL;
    const char *from = colon_free(d, host, &err);
    if (!from) {
        bottle_step_done(b, -1, err);
        free(err);
        free(detail);
        return;
    }
    struct owned_copy *c = xcalloc(1, sizeof *c);
    c->guest = xasprintf("/home/%s/%s", b->m->agent.user, rel);
    c->detail = detail;
    c->size = (long)st.st_size;
    struct strv v = {0};
    strv_push(&v, d->cli);
    strv_push(&v, "machine");
    strv_push(&v, "cp");
    strv_push(&v, "--mode");
    strv_push(&v, "0600");
    strv_push(&v, from);
    strv_push_own(&v, xasprintf("%s:%s", d->machine, c->guest));
    run(b, &v, NULL, on_owned_copied, c);
}

/* ---- git: the workspace (and its .git) is mounted; ~/.gitconfig points the remotes at
 * the gate, which the guest reaches on host loopback through TSI ------------------------ */

static void smolvm_git(struct bottle *b)
{
    char *url = xasprintf("git://127.0.0.1:%d/", b->gate->port);
    char *cfg = gate_gitconfig(b, url);
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
        copy_owned(
            b, path, ".gitconfig",
            xasprintf("~/.gitconfig: %zu repo(s) -> %s (TSI to the gate)", b->m->git.nrepos, url));
    }
    free(path);
    free(url);
}

/* ---- supervise: claude mcp add, as the agent user, in one exec ------------------------ */

static void on_mcp_added(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    char *url = arg;
    char *dd;
    /* Not fatal (as the seed did): the agent may not be Claude Code. */
    if (status == 0)
        dd = xasprintf("registered with claude as 'supervise' (%s, via TSI)", url);
    else if (status == 3)
        dd = xasprintf("claude is not installed in the image; the server is at %s", url);
    else if (status == 128 + SIGKILL)
        dd = xasprintf("claude mcp add was killed (SIGKILL, exit 137); the server is at %s; "
                       "not fatal",
                       url);
    else
        dd = xasprintf("claude mcp add failed (exit %d, see the output above); the server is at "
                       "%s; not fatal",
                       status, url);
    bottle_step_done(b, status == 0 ? 0 : 1, dd);
    free(dd);
    free(url);
}

static void smolvm_supervise(struct bottle *b)
{
    const char *u = b->m->agent.user;
    char *url = xasprintf("http://127.0.0.1:%d/", supervise_port(b->supervise));
    struct strv v = machine_cmd(b, "exec");
    strv_push(&v, "-e");
    strv_push_own(&v, xasprintf("HOME=/home/%s", u));
    strv_push(&v, "-e");
    strv_push_own(&v, xasprintf("USER=%s", u));
    strv_push(&v, "-w");
    strv_push(&v, GUEST_WORKSPACE);
    strv_push(&v, "--timeout");
    strv_push(&v, EXEC_TIMEOUT);
    strv_push(&v, "--");
    strv_push(&v, "sh");
    strv_push(&v, "-c");
    /* exec has no --user: the agent's user is taken inside, in the same exec. */
    strv_push(&v, "command -v claude >/dev/null || exit 3; exec setpriv --reuid=\"$1\" "
                  "--regid=\"$1\" --init-groups -- claude mcp add --transport http supervise "
                  "\"$2\"");
    strv_push(&v, "sh");
    strv_push(&v, u);
    strv_push(&v, url);
    run(b, &v, NULL, on_mcp_added, url);
}

/* ---- prompt ----------------------------------------------------------------------- */

static void smolvm_prompt(struct bottle *b)
{
    copy_owned(b, b->m->prompt, ".claude-bottle-prompt.txt",
               xasprintf("/home/%s/.claude-bottle-prompt.txt", b->m->agent.user));
}

/* ---- skills: a directory; `machine cp` copies files only, so tar through exec -i ---- */

/* Regular files under DIR (symlinks not followed), added to *N; 0 or -errno. */
static int count_files(const char *dir, size_t *n)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dp))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            rc = -errno;
        else if (S_ISDIR(st.st_mode))
            rc = count_files(p, n);
        else if (S_ISREG(st.st_mode))
            (*n)++;
        free(p);
    }
    closedir(dp);
    return rc;
}

static void on_skills_copied(struct bottle *b, int status, const char *out, void *arg)
{
    size_t *want = arg;
    char *end = NULL;
    long got = strtol(out, &end, 10);
    if (status != 0 || end == out || got != (long)*want) {
        char *dd = xasprintf("skills copy into the machine failed (%zu file(s) on the host, "
                             "%.*s in the machine); see the output above",
                             *want, (int)strcspn(out, "\n"), *out ? out : "none");
        bottle_step_done(b, -1, dd);
        free(dd);
    } else {
        char *dd = xasprintf("/home/%s/.claude/skills: %zu file(s), owned by %s", b->m->agent.user,
                             *want, b->m->agent.user);
        bottle_step_done(b, 0, dd);
        free(dd);
    }
    free(want);
}

static void smolvm_skills(struct bottle *b)
{
    struct smolvm *d = S(b);
    const char *u = b->m->agent.user;
    size_t n = 0;
    int rc = count_files(b->m->skills, &n);
    if (rc != 0) {
        char *dd =
            xasprintf("cannot read the skills directory %s: %s", b->m->skills, strerror(-rc));
        bottle_step_done(b, -1, dd);
        free(dd);
        return;
    }
    size_t *want = xmalloc(sizeof *want);
    *want = n;
    /* One exec: unpack as root, chown, chmod, count what arrived. */
    char *guest = xasprintf("d=/home/%s/.claude/skills && mkdir -p \"$d\" && "
                            "tar -C \"$d\" --no-same-owner -xf - && "
                            "chown -R %s:%s /home/%s/.claude && chmod -R u+rwX,go+rX \"$d\" && "
                            "find \"$d\" -type f | wc -l",
                            u, u, u, u);
    struct strv v = {0};
    strv_push(&v, "sh");
    strv_push(&v, "-c");
    strv_push(&v, "tar -C \"$0\" -cf - . | \"$1\" machine exec --name \"$2\" -i --timeout "
                  "\"$3\" -- sh -c \"$4\"");
    strv_push(&v, b->m->skills);
    strv_push(&v, d->cli);
    strv_push(&v, d->machine);
    strv_push(&v, EXEC_TIMEOUT);
    strv_push_own(&v, guest);
    run(b, &v, NULL, on_skills_copied, want);
}

/* ---- agent ------------------------------------------------------------------------ */

/* "exec --name M [-e ...] -w /workspace [-i -t --stream] -- setpriv ... --": the
 * agent's user is taken inside the guest, since exec has no --user. */
static struct strv agent_exec(struct bottle *b, bool with_env)
{
    const char *u = b->m->agent.user;
    struct strv v = machine_cmd(b, "exec");
    if (with_env) {
        strv_push(&v, "-e");
        strv_push_own(&v, xasprintf("HOME=/home/%s", u));
        strv_push(&v, "-e");
        strv_push_own(&v, xasprintf("USER=%s", u));
        for (size_t i = 0; i < b->plan->nenv; i++) {
            const char *k = b->plan->env[i].key, *val = b->plan->env[i].value;
            strv_push(&v, "-e");
            /* The plan names the port abstractly; the real one is known now. */
            if (strstr(val, TSI_PLACEHOLDER))
                strv_push_own(&v, xasprintf("%s=http://%s", k, b->hops[0].listen));
            else
                strv_push_own(&v, xasprintf("%s=%s", k, val));
        }
    }
    strv_push(&v, "-w");
    strv_push(&v, GUEST_WORKSPACE);
    if (with_env) {
        /* The agent: the supervisor's pty is smolvm's terminal, and the guest's. */
        strv_push(&v, "-i");
        strv_push(&v, "-t");
        strv_push(&v, "--stream");
    } else {
        strv_push(&v, "--timeout");
        strv_push(&v, EXEC_TIMEOUT);
    }
    strv_push(&v, "--");
    strv_push(&v, "setpriv");
    strv_push_own(&v, xasprintf("--reuid=%s", u));
    strv_push_own(&v, xasprintf("--regid=%s", u));
    strv_push(&v, "--init-groups");
    strv_push(&v, "--");
    return v;
}

static void on_command_checked(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    (void)arg;
    if (status != 0) {
        char *dd = xasprintf("the agent command '%s' is not found in the machine (as %s)",
                             b->m->agent.command.v[0], b->m->agent.user);
        bottle_step_done(b, -1, dd);
        free(dd);
        return;
    }
    struct strv v = agent_exec(b, true);
    for (size_t i = 0; i < b->m->agent.command.n; i++)
        strv_push(&v, b->m->agent.command.v[i]);
    bottle_agent_spawn(b, (const char *const *)v.v);
    strv_free(&v);
}

/* Check the command exists first: a missing one must fail the step with a
 * clear cause rather than look like an agent that exited 127. */
static void smolvm_agent(struct bottle *b)
{
    struct strv v = agent_exec(b, false);
    strv_push(&v, "sh");
    strv_push(&v, "-c");
    strv_push(&v, "command -v \"$0\"");
    strv_push(&v, b->m->agent.command.v[0]);
    run(b, &v, NULL, on_command_checked, NULL);
}

/* ---- teardown: stop, wait until stopped, delete -f -------------------------------- */

static void teardown_done(struct bottle *b)
{
    struct smolvm *d = S(b);
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

static void on_gone_checked(struct bottle *b, int status, const char *out, void *arg)
{
    (void)out;
    (void)arg;
    if (status == 0)
        bottle_emit(b, event_output(b->name, "teardown", "stderr",
                                    "the machine is still listed after `machine delete -f`"));
    teardown_done(b);
}

static void on_deleted(struct bottle *b, int status, const char *out, void *arg)
{
    (void)status;
    (void)out;
    (void)arg;
    struct strv v = machine_cmd(b, "status");
    strv_push(&v, "--json");
    run(b, &v, NULL, on_gone_checked, NULL);
}

static void delete_machine(struct bottle *b)
{
    struct strv v = machine_cmd(b, "delete");
    strv_push(&v, "-f");
    run(b, &v, NULL, on_deleted, NULL);
}

static void stopped_poll(struct bottle *b);

static void on_stopped_status(struct bottle *b, int status, const char *out, void *arg)
{
    (void)arg;
    struct smolvm *d = S(b);
    char *st = status == 0 ? parse_state(out) : NULL;
    bool running = st && (strcmp(st, "running") == 0 || strcmp(st, "unreachable") == 0);
    free(st);
    if (running && time_mono_ms() < d->deadline) {
        later(b, STOP_POLL_MS, stopped_poll);
        return;
    }
    if (running)
        bottle_emit(b, event_output(b->name, "teardown", "stderr",
                                    "the machine did not stop in time; deleting it with -f"));
    delete_machine(b);
}

static void stopped_poll(struct bottle *b)
{
    struct strv v = machine_cmd(b, "status");
    strv_push(&v, "--json");
    run(b, &v, NULL, on_stopped_status, NULL);
}

static void on_stop(struct bottle *b, int status, const char *out, void *arg)
{
    (void)status; /* not running is fine; the poll decides */
    (void)out;
    (void)arg;
    stopped_poll(b);
}

static void teardown_machine(struct bottle *b)
{
    struct smolvm *d = S(b);
    if (!d->created) {
        teardown_done(b);
        return;
    }
    d->deadline = time_mono_ms() + STOP_TIMEOUT_MS;
    struct strv v = machine_cmd(b, "stop");
    run(b, &v, NULL, on_stop, NULL);
}

/* Stopping the machine ends the agent's exec (the CLI then exits); the
 * agent stop that follows covers a CLI that lingers. */
static void smolvm_teardown(struct bottle *b)
{
    struct smolvm *d = S(b);
    uv_timer_stop(&d->timer);
    if (b->agent && d->created) {
        struct strv v = machine_cmd(b, "stop");
        run(b, &v, NULL, NULL, NULL);
    }
    bottle_agent_stop(b, teardown_machine);
}

const struct backend_ops backend_smolvm = {
    .name = "smolvm",
    .first_hop_listen = smolvm_first_hop_listen,
    .gate_listen = smolvm_loopback_listen,
    .supervise_listen = smolvm_loopback_listen,
    .network = smolvm_network,
    .start = smolvm_start,
    .ca = smolvm_ca,
    .git = smolvm_git,
    .supervise = smolvm_supervise,
    .prompt = smolvm_prompt,
    .skills = smolvm_skills,
    .agent = smolvm_agent,
    .teardown = smolvm_teardown,
};
