/* gate: a bottle's git gate: bare copies of its repositories served by the real `git daemon`,
 * pushes reported as events. */
#ifndef BOTTLE_GATE_GATE_H
#define BOTTLE_GATE_GATE_H

#include <stdbool.h>

#include <uv.h>

#include "core/proc.h"

struct bottle;

struct gate {
    struct bottle *b;
    char *dir;    /* state_dir/gate: one bare repo per git.repos entry */
    char *pushes; /* dir/pushes.log: one line per ref update, from the hooks */
    char *host;   /* where git daemon listens */
    int port;
    struct proc *daemon;
    uv_timer_t timer; /* readiness probe, then the pushes.log watcher */
    uv_tcp_t probe;
    uv_connect_t probe_req;
    bool probing, ready, closing;
    int tries;
    long log_off;
    int open_handles;
};

/* The gate step: create or refresh the bare repos, start git daemon on
 * HOST:PORT (PORT 0: a free one), wait until it accepts; ends the step with
 * bottle_step_done. */
void gate_start(struct bottle *b, const char *host, int port);
/* Stop the daemon and close handles; CB runs when all is closed. */
void gate_stop(struct bottle *b, void (*cb)(struct bottle *b));
/* git's url.<gate>.insteadOf lines for the agent's ~/.gitconfig, for a gate
 * reachable at GATE_URL (e.g. "git://127.0.0.1:9418/"): each repository's
 * remote URLs point at the gate. Returns a new string. */
char *gate_gitconfig(struct bottle *b, const char *gate_url);

#endif
