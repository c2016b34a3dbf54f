/* backend: the vtable every bottle backend (local, docker, smolvm) implements. */
#ifndef BOTTLE_BACKEND_BACKEND_H
#define BOTTLE_BACKEND_BACKEND_H

#include "core/bottle.h"

/* Each step function starts asynchronous work and ends it with
 * bottle_step_done(); teardown ends with bottle_backend_torn_down(). */
struct backend_ops {
    const char *name;
    /* Where the first hop listens on the host, e.g. "127.0.0.1:0"; new string. */
    char *(*first_hop_listen)(struct bottle *b, int agent_port);
    /* Where the git gate and the supervise server listen on the host; *PORT
     * 0 means pick one. */
    char *(*gate_listen)(struct bottle *b, int *port);
    char *(*supervise_listen)(struct bottle *b, int *port);
    void (*network)(struct bottle *b);
    void (*start)(struct bottle *b);
    void (*ca)(struct bottle *b);
    /* ~/.gitconfig pointing the repositories' remotes at the gate. */
    void (*git)(struct bottle *b);
    /* Register the supervise server with the agent (claude mcp add); a
     * failure is reported but not fatal. */
    void (*supervise)(struct bottle *b);
    void (*prompt)(struct bottle *b);
    void (*skills)(struct bottle *b);
    void (*agent)(struct bottle *b);
    /* Stop the agent if it runs, remove what the backend created. */
    void (*teardown)(struct bottle *b);
};

extern const struct backend_ops backend_local;
extern const struct backend_ops backend_docker;
extern const struct backend_ops backend_smolvm;

const struct backend_ops *backend_for(enum backend_kind k);

#endif
