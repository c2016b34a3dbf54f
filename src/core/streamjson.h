/* streamjson: Claude Code's `--output-format stream-json --verbose` lines turned into a session
 * timeline (text, tool calls, tool results, totals) and rendered as plain display lines. */
#ifndef BOTTLE_CORE_STREAMJSON_H
#define BOTTLE_CORE_STREAMJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"

/* Lines longer than this are not handed to the JSON parser: they are kept
 * raw (cut), so one huge line costs at most this much to look at. */
#define STREAMJSON_LINE_MAX ((size_t)4 << 20)
/* Upper bounds, in bytes, of an entry's text by kind; longer is cut at a
 * UTF-8 boundary and marked with an ellipsis. */
#define STREAMJSON_TEXT_MAX 8192   /* assistant text, thinking, user text */
#define STREAMJSON_SUMMARY_MAX 512 /* a tool call's input summary, a tool result */
#define STREAMJSON_RAW_MAX 2048    /* a raw line */
/* How many recent tool calls are remembered to name the tool of a result. */
#define STREAMJSON_CALLS_SEEN 32

enum streamjson_kind {
    STREAMJSON_INIT,       /* system init: text is "model · N tools · cwd" */
    STREAMJSON_TEXT,       /* assistant text */
    STREAMJSON_THINKING,   /* assistant thinking */
    STREAMJSON_USER,       /* a user message that is text, not a tool result */
    STREAMJSON_TOOL_CALL,  /* tool: the tool's name; text: one-line summary of its input */
    STREAMJSON_TOOL_OK,    /* tool: the called tool's name ("?" if unseen); text: its output */
    STREAMJSON_TOOL_ERROR, /* as TOOL_OK, for a result with is_error */
    STREAMJSON_RESULT,     /* the final result event: text is its totals */
    STREAMJSON_RAW,        /* anything else, kept as it came: unknown types, non-JSON lines */
};

/* One timeline entry. Owns its strings. */
struct streamjson_entry {
    enum streamjson_kind kind;
    char *tool; /* TOOL_CALL, TOOL_OK, TOOL_ERROR: the tool's name; else NULL */
    char *text; /* never NULL; at most the kind's bound above plus an ellipsis */
};

struct streamjson_list {
    struct streamjson_entry *v;
    size_t n, cap;
};

/* Totals of the last result event. */
struct streamjson_totals {
    bool have;
    bool is_error;
    char subtype[32];     /* "success", "error_max_turns", ... */
    long long turns;      /* num_turns */
    long long tokens_in;  /* input tokens, including cache reads and writes */
    long long tokens_out; /* output tokens */
    long long cached;     /* cache_read_input_tokens, a part of tokens_in */
    double cost_usd;      /* total_cost_usd */
    long long duration_ms;
};

/* Per-session parser state: which tool each recent tool_use id called, and
 * the totals. Fixed size; no allocation of its own. */
struct streamjson {
    struct {
        char id[64];
        char name[64];
    } calls[STREAMJSON_CALLS_SEEN];
    unsigned calls_next;
    char model[64]; /* from the init event, "" before it */
    struct streamjson_totals totals;
};

void streamjson_init(struct streamjson *sj);

/* Parses one line (LEN bytes, no newline; a trailing CR is ignored) and
 * appends its entries to OUT. Returns how many it appended: 0 only for a blank
 * line, which carries nothing. Everything else yields at least one entry; what
 * is not understood becomes a STREAMJSON_RAW entry holding the line (cut to
 * STREAMJSON_RAW_MAX), never nothing. */
size_t streamjson_feed(struct streamjson *sj, const char *line, size_t len,
                       struct streamjson_list *out);

void streamjson_list_free(struct streamjson_list *l);
void streamjson_entry_free(struct streamjson_entry *e);

/* Render flags. */
#define STREAMJSON_R_ASCII 1u /* "..." and " | " instead of "…" and " ⏎ " */

/* Renders E as display lines, each at most WIDTH columns (WIDTH < 1 counts as
 * 1), appended to LINES (which owns them). Plain text: control characters and
 * invalid UTF-8 show as '?', nothing is cut inside a UTF-8 sequence, wide
 * characters count two columns. Text and raw entries wrap (raw to at most 4
 * lines); calls, results, init and totals are one line each. Returns how many
 * lines it appended (at least 1). */
size_t streamjson_render(const struct streamjson_entry *e, int width, unsigned flags,
                         struct strv *lines);

/* Display width of the UTF-8 string S as streamjson_render counts it. */
int streamjson_width(const char *s);

#endif
