/* tui_session: one bottle's agent session as the dashboard keeps it: a bounded history of the
 * agent's output lines, read as a Claude Code stream-json timeline when that is what they are. */
#include "tui/tui_session.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/util.h"

struct tui_session *tui_session_new(size_t cap)
{
    struct tui_session *s = xcalloc(1, sizeof *s);
    s->cap = cap ? cap : TUI_SESSION_ENTRIES;
    streamjson_init(&s->sj);
    return s;
}

void tui_session_free(struct tui_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        streamjson_entry_free(&s->v[(s->start + i) % s->cap]);
    free(s->v);
    free(s);
}

static size_t entry_bytes(const struct streamjson_entry *e)
{
    return (e->text ? strlen(e->text) : 0) + (e->tool ? strlen(e->tool) : 0);
}

static void drop_oldest(struct tui_session *s)
{
    struct streamjson_entry *e = &s->v[s->start];
    s->bytes -= entry_bytes(e);
    streamjson_entry_free(e);
    s->start = (s->start + 1) % s->cap;
    s->n--;
    s->dropped++;
}

/* Takes E's strings. */
static void add(struct tui_session *s, struct streamjson_entry *e)
{
    if (!s->v)
        s->v = xcalloc(s->cap, sizeof *s->v);
    size_t nb = entry_bytes(e);
    while (s->n && (s->n == s->cap || s->bytes + nb > TUI_SESSION_BYTES))
        drop_oldest(s);
    s->v[(s->start + s->n++) % s->cap] = *e;
    s->bytes += nb;
    s->next_seq++;
}

bool tui_session_is_streamjson(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] != '{' || len > STREAMJSON_LINE_MAX)
        return false;
    cJSON *o = cJSON_ParseWithLength(line + i, len - i);
    bool yes = false;
    if (cJSON_IsObject(o)) {
        static const char *const types[] = {"system", "assistant", "user", "result",
                                            "stream_event"};
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
        for (size_t k = 0; cJSON_IsString(t) && k < sizeof types / sizeof *types; k++)
            yes = yes || strcmp(t->valuestring, types[k]) == 0;
    }
    cJSON_Delete(o);
    return yes;
}

/* A plain line is kept as a STREAMJSON_TEXT entry: drawn as it came, wrapped, no prefix. */
static void add_plain(struct tui_session *s, const char *line, size_t len)
{
    while (len && line[len - 1] == '\r')
        len--;
    size_t k = len;
    if (k > TUI_SESSION_LINE_MAX) {
        k = TUI_SESSION_LINE_MAX;
        while (k > 0 && ((unsigned char)line[k] & 0xc0) == 0x80)
            k--;
    }
    struct streamjson_entry e = {STREAMJSON_TEXT, NULL, xstrndup(line, k)};
    add(s, &e);
}

/* The newest entry goes again (it was an unfinished line). */
static void drop_partial(struct tui_session *s)
{
    if (!s->partial)
        return;
    s->partial = false;
    if (!s->n)
        return;
    struct streamjson_entry *e = &s->v[(s->start + s->n - 1) % s->cap];
    s->bytes -= entry_bytes(e);
    streamjson_entry_free(e);
    s->n--;
    s->next_seq--;
}

void tui_session_push_partial(struct tui_session *s, const char *line, size_t len)
{
    if (s->timeline)
        return;
    drop_partial(s);
    add_plain(s, line, len);
    s->partial = true;
}

void tui_session_push(struct tui_session *s, const char *line, size_t len)
{
    drop_partial(s);
    s->lines++;
    if (!s->timeline && tui_session_is_streamjson(line, len))
        s->timeline = true;
    if (!s->timeline) {
        add_plain(s, line, len);
        return;
    }
    /* Everything the parser returns is kept: an unknown event comes back as a raw entry. */
    struct streamjson_list l = {0};
    streamjson_feed(&s->sj, line, len, &l);
    for (size_t i = 0; i < l.n; i++)
        add(s, &l.v[i]);
    free(l.v);
}

void tui_session_new_run(struct tui_session *s)
{
    s->partial = false;
    s->timeline = false;
    streamjson_init(&s->sj);
    if (s->n) {
        static const char mark[] = "[bottle: the bottle started again]";
        add_plain(s, mark, sizeof mark - 1);
    }
}

const struct streamjson_entry *tui_session_at(const struct tui_session *s, uint64_t seq)
{
    uint64_t first = s->next_seq - s->n;
    if (seq < first || seq >= s->next_seq)
        return NULL;
    return &s->v[(s->start + (seq - first)) % s->cap];
}
