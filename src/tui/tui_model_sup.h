/* tui_model_sup: the dashboard's model of a bottle's supervise calls and gate pushes, changed only
 * by `supervise` and `gate` events (DESIGN section 7). */
#ifndef BOTTLE_TUI_MODEL_SUP_H
#define BOTTLE_TUI_MODEL_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* How many supervise calls and pushes a bottle keeps (oldest resolved dropped first). */
#define TUI_SV_HISTORY 64
#define TUI_PUSH_HISTORY 64

enum tui_sv_status {
    TUI_SV_PENDING,
    TUI_SV_DELIVERED, /* notify_operator */
    TUI_SV_ANSWERED,
    TUI_SV_APPROVED,
    TUI_SV_DENIED,
    TUI_SV_FAILED,
    TUI_SV_TIMEOUT,
    TUI_SV_CANCELLED,
};
const char *tui_sv_status_name(enum tui_sv_status s);

/* One supervise tool call: a question, an egress request or a notification. */
struct tui_sv {
    char tool[16]; /* notify_operator, ask_operator, request_egress */
    char id[32];   /* the server's call id (restarts from 1 each run) */
    char time[13]; /* HH:MM:SS.mmm of the first event */
    enum tui_sv_status status;
    uint64_t since_ms; /* monotonic: when it arrived (the age shown) */
    uint64_t done_ms;  /* monotonic: when it was resolved */
    char *summary;     /* the question, "host: reason", or the message */
    char *outcome;     /* the resolving event's summary (the answer, the host, why) */
    char host[256];    /* request_egress: the host asked for */
};

/* One push the gate reported. */
struct tui_push {
    char time[13];
    char *repo;
    char *refs;  /* "refs/heads/B OLD12..NEW12 subject", as the event has it */
    char *note;  /* what the operator did with it ("brought in as ..."); set by the app */
    bool failed; /* the note is an error */
};

struct tui_sup {
    struct tui_sv v[TUI_SV_HISTORY];
    size_t n; /* oldest first */
    size_t npending;
    struct tui_push pushes[TUI_PUSH_HISTORY];
    size_t npushes;    /* oldest first */
    uint64_t push_seq; /* pushes ever seen (a new one may draw attention) */
};

/* Apply a `supervise` or `gate` event. Returns true when anything changed. */
bool tui_sup_apply(struct tui_sup *s, const char *type, const cJSON *ev, uint64_t now_ms);
/* A run ended or a new one starts: what is still pending can no longer be answered. */
void tui_sup_end_run(struct tui_sup *s, uint64_t now_ms);
void tui_sup_free(struct tui_sup *s);
/* The I-th pending call (0 = oldest), or NULL. */
const struct tui_sv *tui_sup_pending(const struct tui_sup *s, size_t i);
/* The pending call with ID, or NULL. */
const struct tui_sv *tui_sup_find_pending(const struct tui_sup *s, const char *id);
/* Set (replace) the note on push I (0 = oldest); a note is the app's record of a bring-in. */
void tui_sup_push_note(struct tui_sup *s, size_t i, const char *note, bool failed);
/* The push's branch ("feature/x"), and its range ("abc..def") and subject, split from refs. */
void tui_push_split(const struct tui_push *p, char *branch, size_t nb, char *range, size_t nr,
                    const char **subject);

#endif
