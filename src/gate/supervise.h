/* supervise: the MCP server (Streamable HTTP, JSON-RPC 2.0) through which a bottle's agent reaches its operator. */
#ifndef BOTTLE_GATE_SUPERVISE_H
#define BOTTLE_GATE_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

struct supervise;

/* What the server tells its owner (the bottle): every tool call as a
 * `supervise` event, and egress approvals to act on. */
struct supervise_hooks {
    void *data;
    /* Takes EV (a `supervise` event). */
    void (*emit)(void *data, cJSON *ev);
    /* The operator approved HOST (SAVE: also into the manifest): add it to
     * the live allowlist. Returns 0 when that is under way, and the owner
     * then calls supervise_allow_done with CALL_ID once it took effect or
     * failed; -1 (with *ERR, a new string) when it cannot start. */
    int (*allow_host)(void *data, const char *host, bool save, const char *call_id, char **err);
};

/* Listen on HOST:PORT (PORT 0: pick one; supervise_port tells). BOTTLE
 * names the events. ASK_TIMEOUT_MS bounds how long ask_operator and
 * request_egress wait for the operator. Returns 0 or a negative libuv error. */
int supervise_start(uv_loop_t *loop, const char *bottle, const char *host, int port,
                    uint64_t ask_timeout_ms, const struct supervise_hooks *hooks,
                    struct supervise **out);
int supervise_port(const struct supervise *s);
/* The operator's side: answer a pending ask_operator, or decide a pending
 * request_egress. ID is the call id from the event. Returns 0, or -1 when no
 * such call is pending. */
int supervise_answer(struct supervise *s, const char *id, const char *answer);
int supervise_decide(struct supervise *s, const char *id, bool approve, bool save);
/* The allowlist change for an approved request_egress took effect (OK) or
 * not (WHY says why): the agent gets its answer now. */
void supervise_allow_done(struct supervise *s, const char *call_id, bool ok, const char *why);
/* Close the listener and every connection (pending calls get an error);
 * memory goes in the last close callback. */
void supervise_close(struct supervise *s);

/* The JSON-RPC layer alone, for tests and fuzzing: handle one request body,
 * return the response body (new string) or NULL for a notification. A call
 * that must wait for the operator returns NULL and sets *PENDING. */
char *supervise_handle(struct supervise *s, const char *body, size_t len, bool *pending,
                       void *conn);

#endif
