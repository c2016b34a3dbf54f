/* proxy_pipelock: pipelock's checks: host rules, IP literals, SNI/Host agreement, DLP. */
#ifndef BOTTLE_PROXY_PIPELOCK_H
#define BOTTLE_PROXY_PIPELOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy_config.h"
#include "proxy/proxy_http.h"

/* A check's outcome. REASON is a short static phrase (it goes into the
 * X-Bottle-Block header and the event); RULE names the host pattern or DLP
 * rule. In audit mode a would-be block has BLOCK false and REASON set. */
struct proxy_verdict {
    bool block;
    bool dlp; /* the block came from DLP: log the URL cut to scheme and host */
    const char *reason;
    char rule[128];
};

void proxy_verdict_clear(struct proxy_verdict *v);

/* The host rules for HOST (a name or an IP literal in any spelling). */
void proxy_pipelock_check_host(const struct proxy_config *cfg, const char *host,
                               struct proxy_verdict *v);
/* DLP over URL (absolute) and every header of H; the route header for
 * HOST is exempt. */
void proxy_pipelock_check_head(const struct proxy_config *cfg, const char *host, const char *url,
                               const struct proxy_http_head *h, struct proxy_verdict *v);
/* DLP over a whole request body. */
void proxy_pipelock_check_body(const struct proxy_config *cfg, const char *body, size_t len,
                               struct proxy_verdict *v);
/* Is HOST tunnelled without interception? */
bool proxy_pipelock_passthrough(const struct proxy_config *cfg, const char *host);

#endif
