/* tui_app: the dashboard's runtime: bottles on the libuv loop, their events into the model, input and throttled redraw. */
#ifndef BOTTLE_TUI_APP_H
#define BOTTLE_TUI_APP_H

#include <stdbool.h>
#include <stddef.h>

struct tui_app_opts {
    const char *self_bin;  /* bottle-tui's own path (the sandbox init) */
    const char *proxy_bin; /* NULL: bottle-proxy next to self_bin */
    size_t req_history;    /* 0: TUI_REQ_HISTORY */
};

/* Open the dashboard on PATHS (manifest files are launched; directories are
 * scanned and their manifests listed as stopped) and run until the operator
 * quits or SIGINT/SIGTERM/SIGHUP arrives. Every bottle is stopped before it
 * returns. Returns the process exit status. */
int tui_app_run(char **paths, size_t npaths, const struct tui_app_opts *o);

#endif
