/* proxy_pipelock: pipelock's checks: host rules, IP literals, SNI/Host agreement, DLP. */
#include "proxy/proxy_pipelock.h"

#include <stdio.h>
#include <string.h>

#include "core/hostmatch.h"
#include "proxy/dlp.h"
#include "proxy/ipaddr.h"

void proxy_verdict_clear(struct proxy_verdict *v)
{
    memset(v, 0, sizeof *v);
}

static void set(struct proxy_verdict *v, bool audit, bool dlp, const char *reason, const char *rule)
{
    v->block = !audit;
    v->dlp = dlp && !audit;
    v->reason = reason;
    snprintf(v->rule, sizeof v->rule, "%s", rule ? rule : "");
}

void proxy_pipelock_check_host(const struct proxy_config *cfg, const char *host,
                               struct proxy_verdict *v)
{
    const struct manifest *m = cfg->m;
    bool audit = m->pipelock.mode == PIPELOCK_AUDIT;
    struct ipaddr ip;
    int rc = ipaddr_parse(host, &ip);
    if (rc == IPADDR_INVALID) {
        set(v, false, false, "malformed IP literal", host);
        return;
    }
    /* A resolve override says the operator meant this host, internal or not. */
    if (rc == 0 && ipaddr_is_internal(&ip) && !manifest_resolve_for(m, host) &&
        !manifest_resolve_for(m, ip.text)) {
        set(v, audit, false, "internal address", ipaddr_class_name(ip.cls));
        return;
    }
    const char *reason = NULL, *rule = NULL;
    /* Match allow/deny on the canonical spelling, so "0x7f.1" cannot dodge a rule. */
    const char *name = rc == 0 ? ip.text : host;
    enum host_verdict hv = host_decide(m, name, &reason, &rule);
    if (hv == HOST_BLOCK) {
        set(v, false, false, reason, rule);
    } else if (reason) {
        set(v, true, false, reason, rule); /* audit: reported, allowed */
    } else if (rule) {
        snprintf(v->rule, sizeof v->rule, "%s", rule);
    }
}

static const char *where_reason(const char *where)
{
    if (strcmp(where, "url") == 0 || strncmp(where, "url-", 4) == 0 ||
        strncmp(where, "query", 5) == 0 || strncmp(where, "path", 4) == 0)
        return "dlp: secret in URL";
    return "dlp: secret in request";
}

void proxy_pipelock_check_head(const struct proxy_config *cfg, const char *host, const char *url,
                               const struct proxy_http_head *h, struct proxy_verdict *v)
{
    if (!cfg->dlp)
        return;
    bool audit = cfg->m->pipelock.mode == PIPELOCK_AUDIT;
    struct dlp_match dm;
    int rc = dlp_scan_url(cfg->dlp, url, strlen(url), &dm);
    if (rc != 0) {
        set(v, audit, true, rc == 1 ? where_reason(dm.where) : "dlp: scan limit",
            rc == 1 ? dm.rule : NULL);
        return;
    }
    const struct mf_route *route = manifest_route_for(cfg->m, host);
    for (size_t i = 0; i < h->nh; i++) {
        /* egress put the real credential there on purpose */
        if (route && str_ieq(route->header, h->h[i].name))
            continue;
        rc = dlp_scan_header(cfg->dlp, h->h[i].name, strlen(h->h[i].name), h->h[i].value,
                             strlen(h->h[i].value), &dm);
        if (rc != 0) {
            set(v, audit, true, rc == 1 ? "dlp: secret in header" : "dlp: scan limit",
                rc == 1 ? dm.rule : NULL);
            return;
        }
    }
}

void proxy_pipelock_check_body(const struct proxy_config *cfg, const char *body, size_t len,
                               struct proxy_verdict *v)
{
    if (!cfg->dlp || len == 0)
        return;
    bool audit = cfg->m->pipelock.mode == PIPELOCK_AUDIT;
    struct dlp_match dm;
    int rc = dlp_scan(cfg->dlp, body, len, &dm);
    if (rc != 0)
        set(v, audit, true, rc == 1 ? "dlp: secret in body" : "dlp: scan limit",
            rc == 1 ? dm.rule : NULL);
}

bool proxy_pipelock_passthrough(const struct proxy_config *cfg, const char *host)
{
    return host_match_any(&cfg->m->pipelock.passthrough, host) != NULL;
}
