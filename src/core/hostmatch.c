/* hostmatch: pipelock's host rules: wildcard allow/deny matching and the strict/balanced/audit
 * decision. */
#include "core/hostmatch.h"

#include <string.h>
#include <strings.h>

bool host_match(const char *pattern, const char *host)
{
    size_t hl = strlen(host);
    if (hl && host[hl - 1] == '.')
        hl--;
    if (strcmp(pattern, "*") == 0)
        return hl > 0;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *base = pattern + 2;
        size_t bl = strlen(base);
        if (hl == bl && strncasecmp(host, base, bl) == 0)
            return true;
        return hl > bl + 1 && host[hl - bl - 1] == '.' &&
               strncasecmp(host + hl - bl, base, bl) == 0;
    }
    return strlen(pattern) == hl && strncasecmp(pattern, host, hl) == 0;
}

const char *host_match_any(const struct strv *list, const char *host)
{
    for (size_t i = 0; i < list->n; i++)
        if (host_match(list->v[i], host))
            return list->v[i];
    return NULL;
}

enum host_verdict host_decide(const struct manifest *m, const char *host, const char **reason,
                              const char **rule)
{
    const char *r = host_match_any(&m->pipelock.deny, host);
    enum host_verdict v = HOST_ALLOW;
    *reason = NULL;
    *rule = NULL;
    if (r) {
        *reason = "host denied";
        *rule = r;
        v = HOST_BLOCK;
    } else if (m->pipelock.mode == PIPELOCK_STRICT) {
        r = host_match_any(&m->pipelock.allow, host);
        if (r) {
            *rule = r;
        } else {
            *reason = "host not in allowlist";
            v = HOST_BLOCK;
        }
    } else {
        *rule = host_match_any(&m->pipelock.allow, host);
    }
    if (v == HOST_BLOCK && m->pipelock.mode == PIPELOCK_AUDIT)
        return HOST_ALLOW; /* audit: report, do not block */
    return v;
}
