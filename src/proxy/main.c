/* bottle-proxy: the command line of one proxy hop (egress or pipelock) and of its CA. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <uv.h>

#include "proxy/proxy_ca.h"
#include "proxy/proxy_hop.h"

static const char usage[] =
    "usage: bottle-proxy egress   --listen ADDR:PORT --ca-dir DIR --config MANIFEST\n"
    "                             [--parent HOST:PORT] [--bottle NAME]\n"
    "       bottle-proxy pipelock --listen ADDR:PORT --ca-dir DIR --config MANIFEST\n"
    "                             [--allow-file FILE] [--bottle NAME]\n"
    "       bottle-proxy ca init DIR\n"
    "       bottle-proxy --help\n"
    "\n"
    "One hop of a bottle's proxy chain (agent -> egress -> pipelock -> upstream).\n"
    "  egress    terminates the agent's TLS with the hop CA and swaps the real\n"
    "            credential into the requests of egress.routes; with --parent,\n"
    "            every request goes on to pipelock as an absolute-form request.\n"
    "  pipelock  enforces pipelock.mode/allow/deny, refuses internal addresses,\n"
    "            and scans URLs, headers and bodies for secrets (DLP).\n"
    "  ca init   creates DIR/ca.pem and DIR/ca-key.pem when missing and prints\n"
    "            the CA's SHA-256 fingerprint.\n"
    "\n"
    "Options:\n"
    "  --listen ADDR:PORT        where to listen (port 0 picks one; the hop event says which)\n"
    "  --ca-dir DIR              the hop CA (created when missing; key mode 0600)\n"
    "  --config MANIFEST         the bottle manifest (egress:, pipelock:, upstream:)\n"
    "  --parent HOST:PORT        egress: the pipelock to forward to\n"
    "  --allow-file FILE         pipelock: more pipelock.allow hosts, one per line, with the\n"
    "                            manifest's host syntax (name, *.name or *); blank lines and\n"
    "                            '#' comments are ignored. A missing file adds none. Read at\n"
    "                            start and again on SIGHUP with the manifest; a bad line\n"
    "                            keeps the previous config (the reason goes to stderr)\n"
    "  --bottle NAME             the bottle named in events (default: the manifest's name);\n"
    "                            run so by a supervisor, the hop ends when its parent does\n"
    "  --header-timeout-ms MS    time allowed for a request head (default 30000)\n"
    "  --idle-timeout-ms MS      close connections idle in both directions (default 300000)\n"
    "  --connect-timeout-ms MS   upstream resolve + connect + TLS handshake (default 30000)\n"
    "\n"
    "stdout: one JSON event per line (hop, request). stderr: errors.\n"
    "SIGHUP reloads the manifest and the allow file (a bad one keeps the old config);\n"
    "SIGTERM drains and exits.\n";

static int ca_init(const char *dir)
{
    struct proxy_ca ca;
    char err[512], fp[128];
    if (proxy_ca_init(&ca, dir, err, sizeof err) != 0) {
        fprintf(stderr, "bottle-proxy: %s\n", err);
        return 1;
    }
    proxy_ca_fingerprint(&ca, fp, sizeof fp);
    printf("%s\n", fp);
    proxy_ca_free(&ca);
    return 0;
}

static int parse_ms(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || v == 0 || v > 86400000ULL)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "ca") == 0) {
        if (argc != 4 || strcmp(argv[2], "init") != 0) {
            fputs(usage, stderr);
            return 2;
        }
        return ca_init(argv[3]);
    }
    struct proxy_hop_options opt = {
        .header_timeout_ms = 30000,
        .idle_timeout_ms = 300000,
        .connect_timeout_ms = 30000,
    };
    if (strcmp(argv[1], "egress") == 0) {
        opt.role = PROXY_EGRESS;
    } else if (strcmp(argv[1], "pipelock") == 0) {
        opt.role = PROXY_PIPELOCK;
    } else {
        fprintf(stderr, "bottle-proxy: unknown command '%s'\n%s", argv[1], usage);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = NULL;
        uint64_t *ms = NULL;
        if (strcmp(a, "--listen") == 0)
            slot = &opt.listen;
        else if (strcmp(a, "--ca-dir") == 0)
            slot = &opt.ca_dir;
        else if (strcmp(a, "--config") == 0)
            slot = &opt.config;
        else if (strcmp(a, "--parent") == 0 && opt.role == PROXY_EGRESS)
            slot = &opt.parent;
        else if (strcmp(a, "--allow-file") == 0 && opt.role == PROXY_PIPELOCK)
            slot = &opt.allow_file;
        else if (strcmp(a, "--bottle") == 0)
            slot = &opt.bottle;
        else if (strcmp(a, "--header-timeout-ms") == 0)
            ms = &opt.header_timeout_ms;
        else if (strcmp(a, "--idle-timeout-ms") == 0)
            ms = &opt.idle_timeout_ms;
        else if (strcmp(a, "--connect-timeout-ms") == 0)
            ms = &opt.connect_timeout_ms;
        else if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "bottle-proxy: unknown option '%s'\n%s", a, usage);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "bottle-proxy: %s needs a value\n", a);
            return 2;
        }
        if (ms && parse_ms(v, ms) != 0) {
            fprintf(stderr, "bottle-proxy: %s: expected milliseconds, got '%s'\n", a, v);
            return 2;
        }
        if (slot)
            *slot = v;
        i++;
    }
    if (!opt.listen || !opt.ca_dir || !opt.config) {
        fprintf(stderr, "bottle-proxy: --listen, --ca-dir and --config are required\n%s", usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Run by a supervisor (--bottle): a hop must not outlive it, even when it
     * is SIGKILLed; SIGTERM drains as usual. */
    if (opt.bottle) {
        pid_t parent = getppid();
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            return 0;
    }
    uv_loop_t *loop = uv_default_loop();
    struct proxy_hop hop;
    if (proxy_hop_start(&hop, loop, &opt) != 0)
        return 1;
    /* Start-up (manifest, YAML, DLP compilation) leaves freed heap behind;
     * hand it back so an idle hop stays small. */
    malloc_trim(0);
    uv_run(loop, UV_RUN_DEFAULT);
    proxy_hop_free(&hop);
    uv_loop_close(loop);
    return 0;
}
