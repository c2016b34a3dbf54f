/* bottle-tui: the supervisor and dashboard's entry point; dispatches the headless subcommands. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/manifest.h"
#include "core/plan.h"

static const char usage[] =
    "usage: bottle-tui [PATH...]            open the dashboard (not built yet)\n"
    "       bottle-tui check [--json] PATH...  validate manifests, print launch plans\n"
    "       bottle-tui --help | --version\n"
    "\n"
    "check: validates each manifest and prints its launch plan: backend, the hop\n"
    "chain with where each hop listens and which CA the agent trusts, the ordered\n"
    "provisioning steps, the agent's variables (placeholders, never tokens), the\n"
    "DLP pattern count, allowlist and denylist. Errors go to stderr as\n"
    "file:line:column: message.\n"
    "  --json   one JSON object per manifest, one per line\n"
    "\n"
    "exit status: 0 all valid, 1 any invalid, 2 usage error\n";

static int cmd_check(int argc, char **argv)
{
    bool json = false;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fputs("bottle-tui check: name at least one manifest\n", stderr);
        fputs(usage, stderr);
        return 2;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        struct diag_list d = {0};
        struct manifest *m = manifest_load(argv[i], &d);
        diag_sort(&d);
        diag_print(&d, stderr);
        if (!m) {
            rc = 1;
            diag_free(&d);
            continue;
        }
        struct plan *p = plan_build(m);
        if (json) {
            cJSON *o = plan_to_json(p);
            char *s = cJSON_PrintUnformatted(o);
            printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        } else {
            if (i > optind)
                putchar('\n');
            plan_print_text(p, stdout);
        }
        if (!p->dlp_defaults_ok) {
            fprintf(stderr, "%s: error: the default DLP patterns failed to load\n", argv[i]);
            rc = 1;
        }
        plan_free(p);
        manifest_free(m);
        diag_free(&d);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("bottle-tui %s\n", BOTTLE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (argc > 1 && argv[1][0] == '-') {
        fprintf(stderr, "bottle-tui: unknown option '%s'\n", argv[1]);
        fputs(usage, stderr);
        return 2;
    }
    fputs("bottle-tui: the dashboard is not built yet; try 'bottle-tui check PATH'\n", stderr);
    return 2;
}
