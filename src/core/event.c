/* event: the event stream (DESIGN section 7): build, serialise, parse, persist, fan out lines. */
#include "core/event.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

/* ---- builders ---------------------------------------------------------- */

cJSON *event_new(const char *bottle, const char *type)
{
    char ts[32];
    time_rfc3339_ms(ts, sizeof ts);
    cJSON *ev = cJSON_CreateObject();
    if (!ev)
        abort(); /* like xmalloc: callers cannot do better on OOM */
    /* Insertion order is output order: ts, bottle, type lead every line. */
    cJSON_AddStringToObject(ev, "ts", ts);
    cJSON_AddStringToObject(ev, "bottle", bottle ? bottle : "");
    cJSON_AddStringToObject(ev, "type", type ? type : "");
    return ev;
}

/* NULL means "not known": the field is left out rather than sent as null. */
static void add_str(cJSON *ev, const char *key, const char *val)
{
    if (val)
        cJSON_AddStringToObject(ev, key, val);
}

cJSON *event_state(const char *bottle, const char *state)
{
    cJSON *ev = event_new(bottle, "state");
    add_str(ev, "state", state);
    return ev;
}

cJSON *event_step(const char *bottle, const char *step, const char *status, long ms,
                  const char *detail)
{
    cJSON *ev = event_new(bottle, "step");
    add_str(ev, "step", step);
    add_str(ev, "status", status);
    if (ms >= 0)
        cJSON_AddNumberToObject(ev, "ms", (double)ms);
    add_str(ev, "detail", detail);
    return ev;
}

cJSON *event_cmd(const char *bottle, const char *step, const char *const *argv)
{
    cJSON *ev = event_new(bottle, "cmd");
    add_str(ev, "step", step);
    cJSON *a = cJSON_AddArrayToObject(ev, "argv");
    for (size_t i = 0; argv && argv[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(argv[i]));
    return ev;
}

cJSON *event_output(const char *bottle, const char *step, const char *stream, const char *line)
{
    cJSON *ev = event_new(bottle, "output");
    add_str(ev, "step", step);
    add_str(ev, "stream", stream);
    add_str(ev, "line", line);
    return ev;
}

cJSON *event_hop(const char *bottle, const char *hop, const char *listen, long pid,
                 const char *status)
{
    cJSON *ev = event_new(bottle, "hop");
    add_str(ev, "hop", hop);
    add_str(ev, "listen", listen);
    if (pid > 0) /* 0 is never a child's pid: it means "not running" */
        cJSON_AddNumberToObject(ev, "pid", (double)pid);
    add_str(ev, "status", status);
    return ev;
}

cJSON *event_gate(const char *bottle, const char *op, const char *repo, const char *refs)
{
    cJSON *ev = event_new(bottle, "gate");
    add_str(ev, "op", op);
    add_str(ev, "repo", repo);
    add_str(ev, "refs", refs);
    return ev;
}

cJSON *event_supervise(const char *bottle, const char *tool, const char *id, const char *status,
                       const char *summary)
{
    cJSON *ev = event_new(bottle, "supervise");
    add_str(ev, "tool", tool);
    add_str(ev, "id", id);
    add_str(ev, "status", status);
    add_str(ev, "summary", summary);
    return ev;
}

cJSON *event_request(const char *bottle, const struct event_request *r)
{
    cJSON *ev = event_new(bottle, "request");
    add_str(ev, "hop", r->hop);
    cJSON_AddNumberToObject(ev, "id", (double)r->id);
    add_str(ev, "method", r->method);
    add_str(ev, "scheme", r->scheme);
    add_str(ev, "host", r->host);
    if (r->port > 0)
        cJSON_AddNumberToObject(ev, "port", r->port);
    add_str(ev, "path", r->path);
    if (r->status > 0) /* 0: no response yet (blocked, or upstream failed) */
        cJSON_AddNumberToObject(ev, "status", r->status);
    cJSON_AddNumberToObject(ev, "bytes_up", (double)r->bytes_up);
    cJSON_AddNumberToObject(ev, "bytes_down", (double)r->bytes_down);
    if (r->ms >= 0)
        cJSON_AddNumberToObject(ev, "ms", (double)r->ms);
    add_str(ev, "verdict", r->verdict);
    add_str(ev, "reason", r->reason);
    add_str(ev, "rule", r->rule);
    add_str(ev, "auth", r->auth);
    return ev;
}

/* ---- serialise and parse ----------------------------------------------- */

char *event_to_line(const cJSON *ev)
{
    /* Unformatted output escapes every control byte (\n included), so the
     * result has no raw newline and is exactly one line. */
    char *json = cJSON_PrintUnformatted(ev);
    if (!json)
        abort();
    size_t n = strlen(json);
    char *line = xmalloc(n + 2);
    memcpy(line, json, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    cJSON_free(json);
    return line;
}

enum field_kind { F_STR, F_NUM, F_STRV };

struct field {
    const char *name;
    enum field_kind kind;
    const char *type_err;
    const char *const *values; /* allowed values of an enum string, NULL-terminated */
    const char *value_err;
    bool required;
};

/* Messages are built at compile time so that *err stays a static string. */
#define FS(n)                                                                                      \
    {                                                                                              \
        n, F_STR, "field '" n "' is not a string", NULL, NULL, false                               \
    }
#define FN(n)                                                                                      \
    {                                                                                              \
        n, F_NUM, "field '" n "' is not a finite number", NULL, NULL, false                        \
    }
#define FE(n, vals, req)                                                                           \
    {                                                                                              \
        n, F_STR, "field '" n "' is not a string", vals, "field '" n "' has an unknown value", req \
    }

static const char *const state_values[] = {"creating", "provisioning", "running", "stopping",
                                           "stopped",  "failed",       NULL};
static const char *const step_status_values[] = {"start", "ok", "fail", "skip", NULL};
static const char *const stream_values[] = {"stdout", "stderr", NULL};
static const char *const verdict_values[] = {"allow", "block", NULL};
static const char *const hop_status_values[] = {"up", "down", "restarted", NULL};

static const struct field state_fields[] = {FE("state", state_values, true), {0}};
static const struct field step_fields[] = {
    FS("step"), FE("status", step_status_values, false), FN("ms"), FS("detail"), FS("fingerprint"),
    {0}};
static const struct field cmd_fields[] = {
    FS("step"),
    {"argv", F_STRV, "field 'argv' is not an array of strings", NULL, NULL, false},
    {0}};
static const struct field output_fields[] = {
    FS("step"), FE("stream", stream_values, false), FS("line"), {0}};
static const struct field request_fields[] = {
    FS("hop"),      FN("id"),         FS("method"), FS("scheme"),
    FS("host"),     FN("port"),       FS("path"),   FN("status"),
    FN("bytes_up"), FN("bytes_down"), FN("ms"),     FE("verdict", verdict_values, false),
    FS("reason"),   FS("rule"),       FS("auth"),   {0}};
static const struct field hop_fields[] = {
    FS("hop"), FS("listen"), FN("pid"), FE("status", hop_status_values, false), {0}};
static const struct field gate_fields[] = {FS("op"), FS("repo"), FS("refs"), {0}};
static const struct field supervise_fields[] = {
    FS("tool"), FS("id"), FS("status"), FS("summary"), {0}};

static const struct {
    const char *type;
    const struct field *fields;
} known_types[] = {
    {"state", state_fields},   {"step", step_fields},           {"cmd", cmd_fields},
    {"output", output_fields}, {"request", request_fields},     {"hop", hop_fields},
    {"gate", gate_fields},     {"supervise", supervise_fields},
};

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Returns NULL when the field is absent or well-typed, else the message. */
static const char *check_field(const cJSON *ev, const struct field *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, f->name);
    if (!v)
        return f->required ? f->type_err : NULL;
    switch (f->kind) {
    case F_STR:
        if (!cJSON_IsString(v))
            return f->type_err;
        if (f->values && !in_list(v->valuestring, f->values))
            return f->value_err;
        return NULL;
    case F_NUM:
        /* A non-finite number would print as null and no longer parse. */
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? NULL : f->type_err;
    case F_STRV:
        if (!cJSON_IsArray(v))
            return f->type_err;
        for (const cJSON *e = v->child; e; e = e->next)
            if (!cJSON_IsString(e))
                return f->type_err;
        return NULL;
    }
    return f->type_err;
}

/* JSON has no infinity: cJSON reads 1e999 as one but writes it back as
 * null, so such a line would not survive being rewritten. Depth is bounded
 * by cJSON's nesting limit. */
static bool all_finite(const cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
            return false;
        if (v->child && !all_finite(v->child))
            return false;
    }
    return true;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A repeated top-level key is read as its first value here but as its last
 * by many other JSON readers; refuse the ambiguity. Sorting keeps a 1 MiB
 * line of keys at O(n log n). */
static bool has_duplicate_key(const cJSON *ev)
{
    size_t n = 0;
    for (const cJSON *c = ev->child; c; c = c->next)
        n++;
    if (n < 2)
        return false;
    const char **keys = xmalloc(n * sizeof *keys);
    n = 0;
    for (const cJSON *c = ev->child; c; c = c->next)
        keys[n++] = c->string;
    qsort(keys, n, sizeof *keys, cmp_key);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++)
        dup = strcmp(keys[i - 1], keys[i]) == 0;
    free(keys);
    return dup;
}

static const char *check_event(const cJSON *ev)
{
    static const char *const base[] = {"ts", "bottle", "type"};
    static const char *const base_err[] = {"missing or non-string field 'ts'",
                                           "missing or non-string field 'bottle'",
                                           "missing or non-string field 'type'"};
    if (!cJSON_IsObject(ev))
        return "not a JSON object";
    if (has_duplicate_key(ev))
        return "duplicate top-level key";
    for (size_t i = 0; i < ARRAY_SIZE(base); i++)
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, base[i])))
            return base_err[i];
    const char *type = cJSON_GetObjectItemCaseSensitive(ev, "type")->valuestring;
    for (size_t i = 0; i < ARRAY_SIZE(known_types); i++) {
        if (strcmp(type, known_types[i].type) != 0)
            continue;
        for (const struct field *f = known_types[i].fields; f->name; f++) {
            const char *e = check_field(ev, f);
            if (e)
                return e;
        }
        break;
    }
    /* Unknown types and fields pass (newer writers may add them), as long as
     * they can be written back unchanged. */
    return all_finite(ev->child) ? NULL : "number out of range";
}

cJSON *event_parse_line(const char *line, size_t len, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    *err = NULL;
    if (len > EVENT_LINE_MAX) {
        *err = "line longer than 1 MiB";
        return NULL;
    }
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    /* A private NUL-terminated copy: the caller's buffer need not be
     * terminated, and cJSON is then never trusted to stop at len alone. */
    char *copy = xmalloc(len + 1);
    memcpy(copy, line, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *ev = cJSON_ParseWithLengthOpts(copy, len, &end, false);
    if (!ev) {
        *err = "not valid JSON";
        goto out;
    }
    /* Only blanks may follow the value: two objects on one line, or a NUL
     * hiding a second payload, are not one event. */
    for (const char *p = end; p < copy + len; p++) {
        if (*p != ' ' && *p != '\t') {
            *err = "trailing data after the JSON value";
            goto fail;
        }
    }
    *err = check_event(ev);
    if (*err)
        goto fail;
out:
    free(copy);
    return ev;
fail:
    cJSON_Delete(ev);
    ev = NULL;
    goto out;
}

/* ---- events.jsonl ------------------------------------------------------ */

int event_log_open(struct event_log *log, const char *path)
{
    log->fd = -1;
    char *dir = path_dirname(path);
    int rc = mkdir_p(dir, 0700); /* the state dir holds the CA key: owner only */
    free(dir);
    if (rc < 0)
        return rc;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    log->fd = fd;
    return 0;
}

int event_log_append(struct event_log *log, const cJSON *ev)
{
    if (log->fd < 0)
        return -EBADF;
    char *line = event_to_line(ev);
    size_t len = strlen(line), off = 0;
    int rc = 0;
    /* O_APPEND makes each write() land at the end; one write per line keeps
     * lines from concurrent writers whole in practice. */
    while (off < len) {
        ssize_t n = write(log->fd, line + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        off += (size_t)n;
    }
    free(line);
    return rc;
}

void event_log_close(struct event_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    log->fd = -1;
}

/* ---- ring -------------------------------------------------------------- */

void event_ring_init(struct event_ring *r, size_t capacity)
{
    r->capacity = capacity ? capacity : 1; /* 0 would divide by zero */
    r->slots = xcalloc(r->capacity, sizeof *r->slots);
    r->head = 0;
}

void event_ring_free(struct event_ring *r)
{
    for (size_t i = 0; r->slots && i < r->capacity; i++)
        free(r->slots[i]);
    free(r->slots);
    r->slots = NULL;
    r->capacity = 0;
    r->head = 0;
}

void event_ring_push(struct event_ring *r, const cJSON *ev)
{
    char **slot = &r->slots[r->head % r->capacity];
    free(*slot);
    *slot = event_to_line(ev);
    r->head++;
}

void event_reader_init(struct event_reader *rd, const struct event_ring *r)
{
    rd->next = r->head;
}

const char *event_ring_read(struct event_ring *r, struct event_reader *rd, uint64_t *dropped)
{
    uint64_t lost = 0;
    const char *line = NULL;
    if (rd->next < r->head) {
        uint64_t oldest = r->head > r->capacity ? r->head - r->capacity : 0;
        if (rd->next < oldest) {
            lost = oldest - rd->next;
            rd->next = oldest;
        }
        line = r->slots[rd->next % r->capacity];
        rd->next++;
    }
    if (dropped)
        *dropped = lost;
    return line;
}

/* ---- state dir --------------------------------------------------------- */

char *state_dir_for(const char *name)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    /* The XDG spec says a relative value is invalid and must be ignored. */
    if (xdg && xdg[0] == '/')
        return xasprintf("%s/bottle/%s", xdg, name);
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return NULL;
    return xasprintf("%s/.local/state/bottle/%s", home, name);
}
