/* bottle: one running bottle: its state machine, provisioning steps, proxy hops, agent and
 * teardown. */
#ifndef BOTTLE_CORE_BOTTLE_H
#define BOTTLE_CORE_BOTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "core/event.h"
#include "core/manifest.h"
#include "core/plan.h"
#include "core/proc.h"
#include "core/relay.h"
#include "core/util.h"

enum bottle_state {
    BOTTLE_STOPPED, /* never launched, or torn down */
    BOTTLE_CREATING,
    BOTTLE_PROVISIONING,
    BOTTLE_RUNNING,
    BOTTLE_STOPPING,
    BOTTLE_FAILED,
};
const char *bottle_state_name(enum bottle_state s);

struct bottle;

/* Every event the bottle produces (already appended to its events.jsonl). */
typedef void (*bottle_event_cb)(struct bottle *b, const cJSON *ev);
/* The bottle is fully torn down: STATUS is the agent's exit status (128+sig
 * when killed) when it ended on its own, -1 when a step failed, or
 * BOTTLE_EXIT_STOPPED when bottle_stop ended it. */
#define BOTTLE_EXIT_STOPPED (-2)
typedef void (*bottle_done_cb)(struct bottle *b, int status);

struct bottle_hop {
    struct bottle *b;
    const char *name;  /* "egress" or "pipelock" */
    char *listen_want; /* what we ask for; after the first start, the real address */
    char *listen;      /* the real address from its hop event */
    char *ca_dir;
    const char *parent; /* index into hops, or NULL for upstream */
    struct proc *proc;
    long pid;
    bool up, ever_up, waiting_step;
    int restarts;
    uv_timer_t restart_timer;
    char last_err[512];
};

struct backend_ops;
struct allow_wait;

struct bottle {
    void *data; /* the caller's */
    uv_loop_t *loop;
    struct manifest *m; /* owned */
    struct plan *plan;  /* owned */
    const char *name;
    char *state_dir;
    char *run_dir; /* state_dir/run: sockets, composed CA bundle; removed on teardown */
    char *proxy_bin;
    char *self_bin;
    char *config_path; /* the manifest's absolute path, for the hops */
    enum bottle_state state;
    struct event_log log;
    bottle_event_cb on_event;
    bottle_done_cb on_done;

    const struct backend_ops *be;
    void *be_data;

    size_t step; /* index into plan->steps */
    uint64_t step_t0;
    bool step_running;
    struct proc *step_procs[8]; /* the step's commands still running */
    size_t nstep_procs;

    struct bottle_hop hops[2];
    size_t nhops;
    struct relay *relays[4]; /* local: unix sockets -> host services; closed at teardown */
    size_t nrelays;
    struct gate *gate;
    struct supervise *supervise;
    void (*gate_stopped_cb)(struct bottle *b);

    struct proc *agent;
    int agent_status;
    bool agent_exited;
    int transcript_fd;
    unsigned short agent_rows, agent_cols;                           /* its terminal's size */
    uint64_t agent_lines_t, agent_lines_budget, agent_lines_dropped; /* output rate limit */
    /* The agent's raw terminal output, for an attached operator (may be NULL). */
    void (*on_agent_raw)(struct bottle *b, const char *data, size_t len);
    uv_timer_t agent_timer; /* SIGKILL after the grace period */
    bool agent_timer_open;
    void (*agent_stop_cb)(struct bottle *b);

    char *fail_step;
    char *fail_msg;
    char *fingerprint; /* SHA-256 of the CA the agent trusts, "AB:CD:..." */

    char *allow_file; /* run_dir/allow: hosts the operator allowed for this run */
    struct allow_wait *allow_waits;
    uv_timer_t allow_timer;

    bool launched, stop_requested, tearing_down, finished;
    int teardown_pending;
    int teardown_phase;
    uv_timer_t kill_timer;
    int exit_status;
};

/* Create a bottle for M (ownership of M passes to the bottle). PROXY_BIN
 * and SELF_BIN name the bottle-proxy and bottle-tui executables. Nothing
 * runs until bottle_launch. Returns NULL with *ERR set (new string) on error. */
struct bottle *bottle_new(uv_loop_t *loop, struct manifest *m, const char *proxy_bin,
                          const char *self_bin, bottle_event_cb on_event, bottle_done_cb on_done,
                          char **err);
/* Run the plan: network, proxies, ..., agent. */
void bottle_launch(struct bottle *b);
/* Stop the agent and tear everything down; on_done follows. Idempotent. */
void bottle_stop(struct bottle *b);
/* Free a bottle whose on_done has run (or that never launched). */
void bottle_free(struct bottle *b);

/* Allow HOST (a pipelock host pattern) on the running bottle: it joins the
 * run's allow file, which pipelock reads with --allow-file, and with SAVE
 * also the manifest's pipelock.allow; pipelock reloads. CB (may be NULL)
 * runs once pipelock took the new list (RC 0) or did not (RC -1, MSG says
 * why), within a few seconds. Returns 0 when under way, or -1 with *ERR
 * (new string) when nothing was changed. */
typedef void (*bottle_allow_cb)(struct bottle *b, int rc, const char *msg, void *arg);
int bottle_allow_host(struct bottle *b, const char *host, bool save, bottle_allow_cb cb, void *arg,
                      char **err);

/* ---- for backends and provisioning steps ---------------------------------- */

/* Emit an event (takes EV): log it, hand it to on_event, free it. */
void bottle_emit(struct bottle *b, cJSON *ev);
/* The current step finished: RC 0 ok, >0 skipped, <0 failed (DETAIL says why). */
void bottle_step_done(struct bottle *b, int rc, const char *detail);
const char *bottle_step_name(const struct bottle *b);

/* Run ARGV for the current step: a cmd event, output events line by line;
 * CB gets the exit status (128+sig when killed) and the collected stdout
 * (bounded to 1 MiB). STDIN_DATA may be NULL. */
typedef void (*bottle_run_cb)(struct bottle *b, int status, const char *out, void *arg);
int bottle_run(struct bottle *b, const char *const *argv, const char *stdin_data, bottle_run_cb cb,
               void *arg);

/* The agent step: spawn ARGV as the agent (its output becomes `output`
 * events and the state dir's transcript; its exit ends the bottle) and end
 * the step. Returns 0, or fails the step and returns a negative error. */
int bottle_agent_spawn(struct bottle *b, const char *const *argv);
/* The agent runs under a pty the bottle owns: type into it, resize it.
 * Return 0 or a negative error (no agent running). */
int bottle_agent_input(struct bottle *b, const char *data, size_t len);
int bottle_agent_resize(struct bottle *b, unsigned short rows, unsigned short cols);
/* Teardown: SIGTERM the agent (SIGKILL after a grace period); CB runs once
 * it is gone, at once when there is none. */
void bottle_agent_stop(struct bottle *b, void (*cb)(struct bottle *b));
/* For a backend that runs the agent's process itself: it started / exited. */
void bottle_agent_started(struct bottle *b, struct proc *p);
void bottle_agent_exited(struct bottle *b, int status);

/* Keep R open for the bottle's life; closed at teardown. */
void bottle_add_relay(struct bottle *b, struct relay *r);
/* The first hop (the one the agent dials). */
struct bottle_hop *bottle_first_hop(struct bottle *b);
/* Backends call this when their teardown is complete. */
void bottle_backend_torn_down(struct bottle *b);

#endif
