/* event: the one event stream (DESIGN section 7): build, serialise to JSON lines, parse, persist,
 * fan out. */
#ifndef BOTTLE_CORE_EVENT_H
#define BOTTLE_CORE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* An event is a cJSON object with at least "ts" (RFC 3339, ms, UTC),
 * "bottle" and "type". Builders return a new object the caller owns. */
cJSON *event_new(const char *bottle, const char *type);

/* Typed builders for each type of DESIGN section 7. */
cJSON *event_state(const char *bottle, const char *state);
/* status: start, ok, fail, skip. ms < 0 omits "ms"; detail may be NULL. */
cJSON *event_step(const char *bottle, const char *step, const char *status, long ms,
                  const char *detail);
cJSON *event_cmd(const char *bottle, const char *step, const char *const *argv);
cJSON *event_output(const char *bottle, const char *step, const char *stream, const char *line);
cJSON *event_hop(const char *bottle, const char *hop, const char *listen, long pid,
                 const char *status);
cJSON *event_gate(const char *bottle, const char *op, const char *repo, const char *refs);
cJSON *event_supervise(const char *bottle, const char *tool, const char *id, const char *status,
                       const char *summary);

/* The fields of a `request` event. NULL strings and negative numbers are omitted. */
struct event_request {
    const char *hop;
    uint64_t id;
    const char *method;
    const char *scheme;
    const char *host;
    int port;
    const char *path;
    int status;
    uint64_t bytes_up;
    uint64_t bytes_down;
    long ms;
    const char *verdict; /* allow, block */
    const char *reason;
    const char *rule;
    const char *auth; /* e.g. "rewritten:api.anthropic.com" */
};
cJSON *event_request(const char *bottle, const struct event_request *r);

/* The longest line event_parse_line accepts (terminator included). */
#define EVENT_LINE_MAX ((size_t)1 << 20)

/* One line of JSON plus '\n'; the caller frees it. */
char *event_to_line(const cJSON *ev);
/* Parse one line back. Checks that ts, bottle and type are strings and that
 * the type's known fields have the right JSON types. On failure returns NULL
 * and sets *err to a static message. */
cJSON *event_parse_line(const char *line, size_t len, const char **err);

/* Append-only events.jsonl in a bottle's state dir. */
struct event_log {
    int fd;
};
int event_log_open(struct event_log *log, const char *path);  /* 0 or -errno */
int event_log_append(struct event_log *log, const cJSON *ev); /* 0 or -errno */
void event_log_close(struct event_log *log);

/* A bounded ring of serialised events with any number of readers. A reader
 * that falls more than CAPACITY behind loses the oldest events; its next read
 * reports how many it lost. Writers never block. */
struct event_ring {
    char **slots;
    size_t capacity;
    uint64_t head; /* sequence number of the next event written */
};
struct event_reader {
    uint64_t next; /* sequence number this reader wants next */
};
void event_ring_init(struct event_ring *r, size_t capacity);
void event_ring_free(struct event_ring *r);
/* Copies the serialised event into the ring. */
void event_ring_push(struct event_ring *r, const cJSON *ev);
void event_reader_init(struct event_reader *rd, const struct event_ring *r); /* from now on */
/* Returns the next line, '\n' included (owned by the ring, valid until overwritten) or NULL
 * when caught up. *dropped receives how many events were lost before it. */
const char *event_ring_read(struct event_ring *r, struct event_reader *rd, uint64_t *dropped);

/* $XDG_STATE_HOME/bottle/<name> (default ~/.local/state/bottle/<name>); new string. */
char *state_dir_for(const char *name);

#endif
