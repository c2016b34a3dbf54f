/* plan: the launch plan a manifest implies: hop chain, trusted CA, steps, agent variables. */
#ifndef BOTTLE_CORE_PLAN_H
#define BOTTLE_CORE_PLAN_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "core/manifest.h"

/* Fixed ports the agent sees (DESIGN sections 5 and 6). Host-side ports of
 * hops that the bottle cannot reach are chosen at launch. */
#define PLAN_EGRESS_PORT 9099
#define PLAN_PIPELOCK_PORT 8888
#define PLAN_GATE_PORT 9418
#define PLAN_SUPERVISE_PORT 9100
/* What the agent is given instead of a real credential. */
#define PLAN_PLACEHOLDER "bottle-placeholder"

struct plan_hop {
    const char *name;   /* "egress" or "pipelock" */
    char *listen;       /* where it listens on the host */
    char *agent_addr;   /* how the agent reaches it; NULL when it cannot */
    const char *parent; /* next hop name, or "upstream" */
    char *ca_dir;       /* state dir path of its CA */
};

struct plan_step {
    const char *name;
    bool skip;
    char *detail;
};

struct plan {
    const struct manifest *m; /* borrowed */
    char *state_dir;
    struct plan_hop hops[2];
    size_t nhops;
    const char *trusted_ca; /* the first hop's name */
    struct plan_step steps[10];
    size_t nsteps;
    struct mf_kv *env; /* the agent's variables, in order */
    size_t nenv;
    size_t dlp_patterns; /* defaults (if on) + the manifest's; -1 if the defaults failed to load */
    bool dlp_defaults_ok;
    char *gate_addr;
    char *supervise_url;
};

/* Build the plan for M. Never fails; the caller frees it with plan_free. */
struct plan *plan_build(const struct manifest *m);
void plan_free(struct plan *p);
void plan_print_text(const struct plan *p, FILE *out);
cJSON *plan_to_json(const struct plan *p);

#endif
