/* dlp: the compiled DLP scanner: finds secrets in URLs, headers and bodies with PCRE2 behind a
 * literal prefilter. */
#ifndef BOTTLE_PROXY_DLP_H
#define BOTTLE_PROXY_DLP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/dlp_rules.h"

/* How a scan works, and what it costs:
 *
 * dlp_new() compiles every rule with PCRE2 (JIT when the platform has it)
 * and extracts from each regex a set of literals one of which every match
 * must contain ("ghp_", "-----BEGIN", the alternatives of "(?:sk_live_|...)").
 * A scan walks the input once through a 2-byte filter built from those
 * literals; only where a literal occurs does it run that rule's regex, and
 * only at the few start positions that could reach the literal. Clean text
 * therefore costs one table lookup per byte (>= 1 GB/s per core). A rule
 * with no usable literal is run as a whole-input PCRE2 search, which is
 * correct but much slower: keep manifest patterns literal-led.
 *
 * Matches never leave the scanner as text: a hit reports the rule's name
 * and where the match is, never the matched bytes, so callers can log it. */

struct dlp;

/* A hit. RULE points into the scanner (valid while it lives); WHERE is a
 * static string naming what was scanned: "data", "url", "url-decoded",
 * "query-value", "query-base64", "query-hex", "path-base64", "path-hex",
 * "header", "header-base64". OFFSET/LENGTH locate the match in the scanned
 * buffer for "data", "url" and "header" (in the value for headers); for
 * decoded views OFFSET is where the encoded component starts in the URL
 * (or header value) and LENGTH its encoded length. */
struct dlp_match {
    const char *rule;
    const char *where;
    size_t offset;
    size_t length;
};

/* Scan results besides 0 (clean) and 1 (hit). */
#define DLP_ERR_LIMIT                                                                              \
    (-2) /* PCRE2's match limit was hit and nothing else matched:                                  \
            the input is pathological; treat it as a block */

/* Request bodies larger than this are not buffered for scanning. */
#define DLP_BODY_LIMIT_DEFAULT ((size_t)5 << 20)

/* Compile RULES (copied; RULES may be freed afterwards). On failure returns
 * NULL and, when ERR is not NULL, sets *ERR to a malloc'd message naming the
 * rule and PCRE2's error and offset (the caller frees it). Zero rules make
 * a scanner that never hits. */
struct dlp *dlp_new(const struct dlp_rules *rules, char **err);
void dlp_free(struct dlp *d);
/* Number of rules. */
size_t dlp_count(const struct dlp *d);
/* How many rules run behind the literal prefilter (the rest are whole-input
 * searches). For tests and `bottle-tui check`. */
size_t dlp_count_prefiltered(const struct dlp *d);

/* Scan DATA[0..LEN) (binary-safe; no NUL needed). Returns 1 and fills *M on
 * the first hit, 0 when clean, or DLP_ERR_LIMIT. Reentrant: D is read-only
 * after dlp_new, so threads may share one scanner. */
int dlp_scan(const struct dlp *d, const char *data, size_t len, struct dlp_match *m);

/* Scan a request target: the raw URL; the percent-decoded URL (decoded up to
 * three times, for double encoding); each query value percent- and
 * '+'-decoded; and each query value and path segment that is valid base64,
 * base64url or hex, decoded. Returns like dlp_scan. */
int dlp_scan_url(const struct dlp *d, const char *url, size_t len, struct dlp_match *m);

/* Scan one header as "NAME: VALUE" (so patterns keyed on the header name,
 * like env-style assignments, see it), then VALUE alone. Which headers to
 * scan is the caller's choice: pipelock behind egress sees the real
 * credential that egress injected, which is expected there. */
int dlp_scan_header(const struct dlp *d, const char *name, size_t name_len, const char *value,
                    size_t value_len, struct dlp_match *m);

/* Cut URL to "scheme://host[:port]": no userinfo, path, query or fragment,
 * so a URL whose request was blocked by DLP can be logged without echoing
 * the secret. "https://u:p@api.x.com/a?k=s" -> "https://api.x.com". Without
 * a scheme ("host:443", "/path?q") the authority alone (possibly ""). Returns
 * a malloc'd string the caller frees. */
char *dlp_redact_url(const char *url);

/* A request body collected for one scan, bounded (curl's rule: past the
 * maximum is an error, not a realloc). Usage:
 *     struct dlp_body b; dlp_body_init(&b, 0);
 *     on each chunk: if (dlp_body_append(&b, p, n) != 0) -> too large
 *     at the end:    rc = dlp_scan(d, b.data, b.len, &m); dlp_body_free(&b);
 * Bodies over the limit are the caller's decision (pipelock blocks them in
 * strict mode rather than forwarding bytes it has not scanned). */
struct dlp_body {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;
    bool overflow; /* more than LIMIT bytes were offered; DATA holds the first LIMIT */
};
/* LIMIT 0 means DLP_BODY_LIMIT_DEFAULT. */
void dlp_body_init(struct dlp_body *b, size_t limit);
/* Returns 0, or -1 once the body passes its limit (the part that fits is kept). */
int dlp_body_append(struct dlp_body *b, const void *data, size_t len);
void dlp_body_free(struct dlp_body *b);

#endif
