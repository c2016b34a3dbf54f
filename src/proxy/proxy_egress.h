/* proxy_egress: egress's credential routes: load the real tokens, swap them into requests. */
#ifndef BOTTLE_PROXY_EGRESS_H
#define BOTTLE_PROXY_EGRESS_H

#include "core/manifest.h"
#include "core/util.h"
#include "proxy/proxy_http.h"

/* Read every route's token (file or environment), trimmed of trailing
 * whitespace. Returns 0 and an array of N strings in *TOKENS, or -1 with a
 * message naming the route (never the token) in ERRORS. */
int proxy_egress_load_tokens(const struct manifest *m, char ***tokens, size_t *n,
                             struct buf *errors);
/* Wipe and free what proxy_egress_load_tokens returned. */
void proxy_egress_free_tokens(char **tokens, size_t n);
/* The header value of ROUTE with "${token}" replaced by TOKEN (new string). */
char *proxy_egress_value(const struct mf_route *route, const char *token);
/* If HOST has a route, set its header on H (replacing what the agent sent)
 * and return the route; else NULL. */
const struct mf_route *proxy_egress_rewrite(const struct manifest *m, char *const *tokens,
                                            const char *host, struct proxy_http_head *h);

#endif
