/* tui_session: one bottle's agent session as the dashboard keeps it: a bounded history of the
 * agent's output lines, read as a Claude Code stream-json timeline when that is what they are. */
#ifndef BOTTLE_TUI_SESSION_H
#define BOTTLE_TUI_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/streamjson.h"

/* The history is bounded both ways: at most this many entries, and at most
 * this many bytes of text; the oldest entries go first. An agent that floods
 * its terminal costs the dashboard at most this. */
#define TUI_SESSION_ENTRIES 5000
#define TUI_SESSION_BYTES ((size_t)4 << 20)
/* A plain output line longer than this is cut (the transcript has it whole). */
#define TUI_SESSION_LINE_MAX 4096

struct tui_session {
    struct streamjson sj;
    /* The agent speaks stream-json: lines go through streamjson_feed. Set by
     * the first line that parses as a stream-json event; until then each
     * line is kept as it came (a STREAMJSON_RAW entry). */
    bool timeline;
    struct streamjson_entry *v; /* a ring of CAP entries */
    size_t cap, start, n;
    size_t bytes;      /* text bytes kept */
    uint64_t next_seq; /* seq of the next entry; the oldest kept is next_seq - n */
    uint64_t dropped;  /* entries dropped to stay within the bounds */
    uint64_t lines;    /* output lines seen */
    bool partial;      /* the newest entry is a line still being written (a prompt) */
};

/* A new session; CAP 0 means TUI_SESSION_ENTRIES. */
struct tui_session *tui_session_new(size_t cap);
void tui_session_free(struct tui_session *s);
/* One output line of the agent (LEN bytes, no newline). */
void tui_session_push(struct tui_session *s, const char *line, size_t len);
/* The agent's unfinished last line (a prompt waiting for input): shown as
 * the newest entry until the next partial or whole line replaces it. Ignored
 * in a stream-json session. */
void tui_session_push_partial(struct tui_session *s, const char *line, size_t len);
/* The bottle runs again: a marker line, and stream-json detection starts over. */
void tui_session_new_run(struct tui_session *s);
/* The entry with sequence number SEQ, or NULL when it was dropped or is not there yet. */
const struct streamjson_entry *tui_session_at(const struct tui_session *s, uint64_t seq);
/* Sequence numbers of the oldest and newest entries kept (only when n > 0). */
static inline uint64_t tui_session_first(const struct tui_session *s)
{
    return s->next_seq - s->n;
}
static inline uint64_t tui_session_last(const struct tui_session *s)
{
    return s->next_seq - 1;
}
/* Whether LINE is a Claude Code stream-json event (a JSON object whose
 * "type" is one the CLI prints: system, assistant, user, result, stream_event). */
bool tui_session_is_streamjson(const char *line, size_t len);

#endif
