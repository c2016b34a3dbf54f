/* fuzz-dlp: the DLP scanner (body, URL and header views) over arbitrary bytes with the default
 * rules. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dlp_rules.h"
#include "proxy/dlp.h"

/* Compiling ~70 regexes per input would drown the fuzzer: load once, free
 * at exit so the leak checker stays quiet. */
static struct dlp *scanner;

static void free_scanner(void)
{
    dlp_free(scanner);
}

static struct dlp *get_scanner(void)
{
    if (scanner)
        return scanner;
    struct dlp_rules r = {0};
    struct diag_list d = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/dlp/default.yaml", BOTTLE_ASSETS_DIR);
    if (dlp_rules_load_file(&r, path, &d) != 0) {
        diag_print(&d, stderr);
        abort();
    }
    diag_free(&d);
    scanner = dlp_new(&r, NULL);
    dlp_rules_free(&r);
    if (!scanner)
        abort();
    atexit(free_scanner);
    return scanner;
}

static void check(int rc, const struct dlp_match *m, size_t len)
{
    if (rc < 0 && rc != DLP_ERR_LIMIT)
        abort();
    if (rc == 1 && (!m->rule || !m->where || m->offset > len || m->length > len - m->offset))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dlp *s = get_scanner();
    struct dlp_match m;
    const char *p = (const char *)data;
    check(dlp_scan(s, p, size, &m), &m, size);
    check(dlp_scan_url(s, p, size, &m), &m, size);
    /* The first line is a header name when it is short. */
    const char *nl = memchr(p, '\n', size);
    size_t nlen = nl ? (size_t)(nl - p) : 0;
    size_t vs = nl ? nlen + 1 : 0;
    int rc = dlp_scan_header(s, p, nlen, p + vs, size - vs, &m);
    if (rc < 0 && rc != DLP_ERR_LIMIT)
        abort();
    char *z = malloc(size + 1);
    memcpy(z, p, size);
    z[size] = 0;
    free(dlp_redact_url(z));
    free(z);
    return 0;
}
