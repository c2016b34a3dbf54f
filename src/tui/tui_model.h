/* tui_model: the dashboard's model of many bottles, changed only by events (DESIGN section 7). */
#ifndef BOTTLE_TUI_MODEL_H
#define BOTTLE_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tui/tui_model_sup.h"

struct tui_session;

/* Defaults for the bounded histories; a long-running dashboard stays flat. */
#define TUI_REQ_HISTORY 100000
#define TUI_CMD_HISTORY 2000
#define TUI_STEP_LINES 500

enum tui_state {
    TUI_ST_STOPPED,
    TUI_ST_CREATING,
    TUI_ST_PROVISIONING,
    TUI_ST_RUNNING,
    TUI_ST_STOPPING,
    TUI_ST_FAILED,
    TUI_ST_INVALID, /* the manifest does not load */
};
const char *tui_state_name(enum tui_state s);

enum tui_step_status { TUI_STEP_PENDING, TUI_STEP_RUNNING, TUI_STEP_OK, TUI_STEP_FAILED, TUI_STEP_SKIPPED };

/* A bounded ring of strings: the oldest is dropped when full. */
struct tui_lines {
    char **v;
    size_t cap, start, n;
    uint64_t dropped;
};
void tui_lines_push(struct tui_lines *l, char *s); /* takes S */
const char *tui_lines_get(const struct tui_lines *l, size_t i); /* 0 = oldest kept */
void tui_lines_clear(struct tui_lines *l);

struct tui_step {
    char name[16];
    enum tui_step_status status;
    long ms;
    char *detail;
    /* "$ cmd", "| stdout line", "! stderr line" */
    struct tui_lines out;
    bool expanded;
};

enum tui_hop_status { TUI_HOP_UNKNOWN, TUI_HOP_UP, TUI_HOP_DOWN };

struct tui_hop {
    char name[16];
    char *listen;
    char *agent_addr; /* how the agent reaches it (first hop only) */
    long pid;
    enum tui_hop_status status;
    int restarts;
    uint64_t requests, blocks;
};

/* One proxied request as one hop reported it. The strings share one allocation. */
struct tui_req {
    uint64_t seq;
    char time[13]; /* HH:MM:SS.mmm */
    char hop[12];
    char method[12];
    int status;
    long ms;
    long long bytes_up, bytes_down;
    bool blocked, rewritten;
    char *host; /* owns the block; path, reason, auth point into it */
    const char *path, *reason, *auth;
};

struct tui_reqs {
    struct tui_req *v;
    size_t cap, start, n;
    uint64_t next_seq; /* seq of the next request pushed; seq of v[oldest] = next_seq - n */
};
/* The request with sequence SEQ, or NULL when it was dropped or is not there yet. */
const struct tui_req *tui_reqs_at(const struct tui_reqs *r, uint64_t seq);

struct tui_cmd {
    char time[13];
    char step[16];
    char *argv; /* joined with spaces */
};

struct tui_bottle {
    char *name;
    char *backend;
    char *path;  /* the manifest file */
    char *error; /* why the manifest does not load (TUI_ST_INVALID) */
    enum tui_state state;
    uint64_t up_since_ms, up_until_ms; /* monotonic; uptime counts while running */
    struct tui_step steps[12];
    size_t nsteps;
    struct tui_hop hops[2];
    size_t nhops;
    char upstream[128];
    char *fingerprint;
    char *fail_step, *fail_msg;
    uint64_t requests, blocks; /* as the first hop saw them (every request passes it) */
    struct tui_reqs reqs;
    struct tui_cmd *cmds;
    size_t cmd_cap, cmd_start, ncmds;
    uint64_t events;
    struct tui_sup sup; /* supervise calls and gate pushes (tui_model_sup) */
    struct tui_session *session; /* the agent's output (tui_session.h); NULL until it speaks */
};

struct tui_model {
    struct tui_bottle **b;
    size_t n, cap;
    size_t req_cap, cmd_cap, line_cap;
};

void tui_model_init(struct tui_model *m, size_t req_cap);
void tui_model_free(struct tui_model *m);
/* Add a bottle (stopped) and return it; NAME, BACKEND, PATH are copied. */
struct tui_bottle *tui_model_add(struct tui_model *m, const char *name, const char *backend,
                                 const char *path);
/* The plan's steps and hops, in order (what a launch will do). */
void tui_bottle_set_steps(struct tui_bottle *b, const char *const *names, const bool *skip,
                          size_t n);
void tui_bottle_set_hop(struct tui_bottle *b, size_t i, const char *name, const char *agent_addr);
/* Apply one event. NOW_MS is the monotonic clock (uptime). Returns true when
 * anything visible changed. */
bool tui_model_apply(struct tui_model *m, struct tui_bottle *b, const cJSON *ev, uint64_t now_ms);
/* Uptime in ms at NOW_MS (0 when it never ran). */
uint64_t tui_bottle_uptime(const struct tui_bottle *b, uint64_t now_ms);
const struct tui_cmd *tui_bottle_cmd(const struct tui_bottle *b, size_t i); /* 0 = oldest */
/* Whether a bottle in this state has processes (launch not allowed). */
bool tui_state_live(enum tui_state s);

#endif
