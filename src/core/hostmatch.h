/* hostmatch: pipelock's host rules: wildcard allow/deny matching and the strict/balanced/audit
 * decision. */
#ifndef BOTTLE_CORE_HOSTMATCH_H
#define BOTTLE_CORE_HOSTMATCH_H

#include <stdbool.h>

#include "core/manifest.h"

/* Does HOST match PATTERN? Case-insensitive; a trailing dot on HOST is
 * ignored. "*.x.com" matches "a.x.com", "a.b.x.com" and "x.com" itself
 * (pipelock's rule); "*" matches everything; otherwise exact. */
bool host_match(const char *pattern, const char *host);
/* Does HOST match any pattern in LIST? Returns the matching pattern or NULL. */
const char *host_match_any(const struct strv *list, const char *host);

enum host_verdict { HOST_ALLOW, HOST_BLOCK };
/* The host decision of pipelock's config for HOST: deny wins; in strict mode
 * only allow-listed hosts pass; balanced passes what is not denied; audit
 * passes everything (a would-be block is reported via *reason but allowed).
 * *REASON (static string) and *RULE (the pattern, or NULL) say why. */
enum host_verdict host_decide(const struct manifest *m, const char *host, const char **reason,
                              const char **rule);

#endif
