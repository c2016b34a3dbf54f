/* fuzz-hostmatch: host pattern matching and IP literal parsing over arbitrary pattern/host pairs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostmatch.h"
#include "proxy/ipaddr.h"

/* Input: PATTERN '\n' HOST (no newline: the whole input is both). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *host = strchr(buf, '\n');
    const char *pattern = buf;
    if (host)
        *host++ = 0;
    else
        host = buf;
    bool m = host_match(pattern, host);
    /* Invariants of pipelock's rule: "*.x" covers "x"; matching ignores case. */
    size_t pl = strlen(pattern);
    if (pl > 2 && pattern[0] == '*' && pattern[1] == '.' && pattern[pl - 1] != '.' &&
        !host_match(pattern, pattern + 2))
        abort();
    char *up = strdup(host);
    for (char *c = up; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c -= 32;
    if (host_match(pattern, up) != m)
        abort();
    free(up);

    struct ipaddr a;
    int rc = ipaddr_parse_n(host, strlen(host), &a);
    if (rc == 0) {
        /* The canonical text parses back to the same address. */
        struct ipaddr b;
        if (ipaddr_parse(a.text, &b) != 0 || memcmp(a.bytes, b.bytes, 16) != 0 || a.cls != b.cls ||
            strcmp(a.text, b.text) != 0)
            abort();
        (void)ipaddr_class_name(a.cls);
    } else if (rc != IPADDR_NAME && rc != IPADDR_INVALID) {
        abort();
    }
    rc = ipaddr_parse_n((const char *)data, size, &a);
    if (rc != 0 && rc != IPADDR_NAME && rc != IPADDR_INVALID)
        abort();
    free(buf);
    return 0;
}
