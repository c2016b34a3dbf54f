/* dlp-bench: DLP scan throughput on clean 1 MiB JSON bodies (MB/s per core) and the cost of one
 * URL scan (ns), side by side with the naive way: every rule's PCRE2 (JIT) search over the body. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/diag.h"
#include "core/dlp_rules.h"
#include "proxy/dlp.h"

#define BODY_SIZE (1u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A clean JSON body like an agent's API traffic: messages of English-ish
 * words, ids, numbers. Deterministic. */
static char *clean_json(size_t size)
{
    static const char *const words[] = {
        "the",    "request", "function", "returns",   "value", "config",  "build",  "test",
        "commit", "branch",  "message",  "assistant", "user",  "tool",    "result", "file",
        "error",  "output",  "line",     "token",     "model", "content", "text",   "cache"};
    char *b = malloc(size + 1);
    size_t n = 0;
    unsigned seed = 7;
    n += (size_t)snprintf(b + n, size - n, "{\"model\":\"claude\",\"messages\":[");
    while (n + 200 < size) {
        seed = seed * 1103515245u + 12345u;
        n += (size_t)snprintf(b + n, size - n, "{\"role\":\"user\",\"id\":%u,\"content\":\"",
                              seed % 100000);
        for (int w = 0; w < 16; w++) {
            seed = seed * 1103515245u + 12345u;
            n += (size_t)snprintf(b + n, size - n, "%s ", words[(seed >> 16) % 24]);
        }
        n += (size_t)snprintf(b + n, size - n, "\"},");
    }
    while (n < size - 2)
        b[n++] = ' ';
    b[n++] = ']';
    b[n++] = '}';
    b[n] = '\0';
    return b;
}

int main(void)
{
    struct dlp_rules rules = {0};
    struct diag_list d = {0};
    if (dlp_rules_load_file(&rules, dlp_rules_default_path(), &d) != 0) {
        diag_print(&d, stderr);
        return 1;
    }
    char *err = NULL;
    struct dlp *dlp = dlp_new(&rules, &err);
    if (!dlp) {
        fprintf(stderr, "dlp-bench: %s\n", err);
        return 1;
    }
    char *body = clean_json(BODY_SIZE);
    struct dlp_match m;
    if (dlp_scan(dlp, body, BODY_SIZE, &m) != 0) {
        fprintf(stderr, "dlp-bench: the clean body hit rule %s\n", m.rule);
        return 1;
    }
    /* Body throughput, at least 2 s of scanning. */
    size_t iters = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < 2.0) {
        for (int i = 0; i < 16; i++)
            iters += dlp_scan(dlp, body, BODY_SIZE, &m) == 0;
        t = now_s();
    }
    double dlp_mbs = (double)iters * BODY_SIZE / (t - t0) / 1e6;
    /* The naive way, for the ratio: each rule's own JIT search over the body. */
    pcre2_code **re = calloc(rules.n, sizeof *re);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    for (size_t i = 0; i < rules.n; i++) {
        int ec;
        PCRE2_SIZE eo;
        re[i] =
            pcre2_compile((PCRE2_SPTR)rules.v[i].regex, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
        if (re[i])
            pcre2_jit_compile(re[i], PCRE2_JIT_COMPLETE);
    }
    size_t niters = 0;
    t0 = now_s();
    t = t0;
    while (t - t0 < 2.0) {
        for (size_t i = 0; i < rules.n; i++)
            if (re[i])
                pcre2_match(re[i], (PCRE2_SPTR)body, BODY_SIZE, 0, 0, md, NULL);
        niters++;
        t = now_s();
    }
    double naive_mbs = (double)niters * BODY_SIZE / (t - t0) / 1e6;
    for (size_t i = 0; i < rules.n; i++)
        pcre2_code_free(re[i]);
    free(re);
    pcre2_match_data_free(md);
    /* URLs: a typical API call, and one with query values to decode. */
    static const char *const urls[] = {
        "https://api.anthropic.com/v1/messages?beta=true",
        "https://registry.npmjs.org/@anthropic-ai%2fclaude-code?q=build+cache&page=2&id=4f2a9c",
    };
    double url_ns[2];
    for (int u = 0; u < 2; u++) {
        size_t len = strlen(urls[u]), k = 0;
        t0 = now_s();
        t = t0;
        while (t - t0 < 1.0) {
            for (int i = 0; i < 1000; i++)
                k += dlp_scan_url(dlp, urls[u], len, &m) == 0;
            t = now_s();
        }
        url_ns[u] = (t - t0) * 1e9 / (double)k;
    }
    printf("DLP (%zu patterns, %zu behind the prefilter)\n", dlp_count(dlp),
           dlp_count_prefiltered(dlp));
    printf("  clean 1 MiB JSON body   %8.0f MB/s per core   target >= 1000 MB/s: %s\n", dlp_mbs,
           dlp_mbs >= 1000 ? "met" : "NOT met");
    printf("  naive: each rule's PCRE2 JIT search %6.0f MB/s; the scanner is %.1fx that\n",
           naive_mbs, dlp_mbs / naive_mbs);
    printf("  URL, plain              %8.0f ns\n", url_ns[0]);
    printf("  URL, query to decode    %8.0f ns\n", url_ns[1]);
    free(body);
    dlp_free(dlp);
    dlp_rules_free(&rules);
    diag_free(&d);
    return 0;
}
