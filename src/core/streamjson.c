/* streamjson: Claude Code's `--output-format stream-json --verbose` lines turned into a session
 * timeline (text, tool calls, tool results, totals) and rendered as plain display lines. */
#include "core/streamjson.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define ELLIPSIS_CP 0x2026u

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Decodes one code point from S (N > 0 bytes). Returns the bytes it takes (1 for an invalid or
 * truncated sequence, with *CP = UINT32_MAX). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = UINT32_MAX;
        return 1;
    }
    if (n < len) {
        *cp = UINT32_MAX;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = UINT32_MAX;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = UINT32_MAX;
        return 1;
    }
    *cp = v;
    return len;
}

/* Columns a code point takes: 0 for combining marks and zero-width characters, 2 for East
 * Asian wide and emoji, else 1. An approximation of wcwidth that needs no locale. */
static int cp_width(uint32_t cp)
{
    if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0x20d0 && cp <= 0x20ff))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
        (cp >= 0x3041 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
        (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
        (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

int streamjson_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    int w = 0;
    while (n) {
        uint32_t cp;
        size_t k = utf8_decode(p, n, &cp);
        w += cp == UINT32_MAX ? 1 : cp_width(cp);
        p += k, n -= k;
    }
    return w;
}

/* A copy of S[0..N) of at most MAX bytes; when cut, cut at a code point boundary and ended
 * with an ellipsis. */
static char *cut_copy(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return xstrndup(s, n);
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    char *p = xmalloc(k + sizeof ELLIPSIS);
    memcpy(p, s, k);
    memcpy(p + k, ELLIPSIS, sizeof ELLIPSIS);
    return p;
}

/* As cut_copy, without the leading and trailing whitespace of S. */
static char *trim_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (n && strchr(" \t\r\n", *s))
        s++, n--;
    return cut_copy(s, n, max);
}

/* ---- entries ----------------------------------------------------------------------------- */

void streamjson_entry_free(struct streamjson_entry *e)
{
    free(e->tool);
    free(e->text);
    e->tool = e->text = NULL;
}

void streamjson_list_free(struct streamjson_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        streamjson_entry_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Appends an entry; takes TOOL and TEXT. */
static void add(struct streamjson_list *l, enum streamjson_kind kind, char *tool, char *text)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (struct streamjson_entry){.kind = kind, .tool = tool, .text = text};
}

/* Compact JSON of ITEM, cut to MAX bytes. */
static char *json_cut(const cJSON *item, size_t max)
{
    char *js = cJSON_PrintUnformatted(item);
    if (!js)
        return xstrdup("?");
    char *r = cut_copy(js, strlen(js), max);
    free(js);
    return r;
}

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static bool get_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

static long long get_ll(const cJSON *o, const char *key)
{
    double d = 0;
    if (!get_num(o, key, &d) || !(d > 0))
        return 0;
    return d < 9e18 ? (long long)d : (long long)9e18;
}

/* ---- the parser -------------------------------------------------------------------------- */

void streamjson_init(struct streamjson *sj)
{
    memset(sj, 0, sizeof *sj);
}

static void remember_call(struct streamjson *sj, const char *id, const char *name)
{
    unsigned i = sj->calls_next++ % STREAMJSON_CALLS_SEEN;
    snprintf(sj->calls[i].id, sizeof sj->calls[i].id, "%s", id);
    snprintf(sj->calls[i].name, sizeof sj->calls[i].name, "%s", name);
}

static const char *called_tool(const struct streamjson *sj, const char *id)
{
    if (id && *id)
        for (unsigned i = 0; i < STREAMJSON_CALLS_SEEN; i++)
            if (strncmp(sj->calls[i].id, id, sizeof sj->calls[i].id - 1) == 0 &&
                sj->calls[i].name[0])
                return sj->calls[i].name;
    return "?";
}

/* The input field that says what a call does, by tool; NULL: show the input as JSON. */
static const char *summary_key(const char *tool)
{
    static const char *const map[][2] = {
        {"Bash", "command"},        {"Read", "file_path"},
        {"Write", "file_path"},     {"Edit", "file_path"},
        {"MultiEdit", "file_path"}, {"Grep", "pattern"},
        {"Glob", "pattern"},        {"NotebookEdit", "notebook_path"},
        {"WebFetch", "url"},        {"WebSearch", "query"},
        {"Task", "description"},    {"Agent", "description"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (strcmp(tool, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static char *summarize_input(const char *tool, const cJSON *input)
{
    const char *key = summary_key(tool);
    const char *v = key ? get_str(input, key) : NULL;
    if (!v)
        return json_cut(input, STREAMJSON_SUMMARY_MAX);
    /* Grep and Glob: the pattern, and where, when it says. */
    const char *path = strcmp(key, "pattern") == 0 ? get_str(input, "path") : NULL;
    if (!path)
        return trim_cut(v, STREAMJSON_SUMMARY_MAX);
    char *both = xasprintf("%s in %s", v, path);
    char *r = trim_cut(both, STREAMJSON_SUMMARY_MAX);
    free(both);
    return r;
}

/* A tool result's content: a string, or an array of blocks (text kept, others named). */
static char *result_text(const cJSON *content)
{
    if (cJSON_IsString(content))
        return trim_cut(content->valuestring, STREAMJSON_SUMMARY_MAX);
    if (!cJSON_IsArray(content))
        return content ? json_cut(content, STREAMJSON_SUMMARY_MAX) : xstrdup("");
    struct buf b;
    buf_init(&b, 0);
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content)
    {
        if (b.len > STREAMJSON_SUMMARY_MAX)
            break;
        const char *type = get_str(blk, "type");
        const char *text = get_str(blk, "text");
        if (b.len)
            buf_append(&b, "\n", 1);
        if (type && strcmp(type, "text") == 0 && text)
            buf_append(&b, text, strnlen(text, STREAMJSON_SUMMARY_MAX + 1));
        else
            buf_appendf(&b, "[%.40s]", type ? type : "?");
    }
    char *r = trim_cut(b.p ? b.p : "", STREAMJSON_SUMMARY_MAX);
    buf_free(&b);
    return r;
}

static bool on_init(struct streamjson *sj, const cJSON *o, struct streamjson_list *out)
{
    const char *model = get_str(o, "model");
    const char *cwd = get_str(o, "cwd");
    const char *version = get_str(o, "claude_code_version");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(o, "tools");
    snprintf(sj->model, sizeof sj->model, "%s", model ? model : "");
    struct buf b;
    buf_init(&b, 0);
    buf_appendf(&b, "%.200s", model ? model : "model ?");
    if (cJSON_IsArray(tools))
        buf_appendf(&b, ", %d tools", cJSON_GetArraySize(tools));
    if (version)
        buf_appendf(&b, ", v%.40s", version);
    /* The cwd last: it is the part to lose when the line is cut. */
    if (cwd)
        buf_appendf(&b, ", cwd %.1000s", cwd);
    add(out, STREAMJSON_INIT, NULL, cut_copy(b.p, b.len, STREAMJSON_SUMMARY_MAX));
    buf_free(&b);
    return true;
}

static bool on_assistant(struct streamjson *sj, const cJSON *o, struct streamjson_list *out)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (!cJSON_IsArray(content))
        return false;
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content)
    {
        const char *type = get_str(blk, "type");
        const char *text;
        if (type && strcmp(type, "text") == 0 && (text = get_str(blk, "text"))) {
            if (strspn(text, " \t\r\n") < strlen(text))
                add(out, STREAMJSON_TEXT, NULL, trim_cut(text, STREAMJSON_TEXT_MAX));
        } else if (type && strcmp(type, "thinking") == 0) {
            text = get_str(blk, "thinking");
            add(out, STREAMJSON_THINKING, NULL, trim_cut(text ? text : "", STREAMJSON_TEXT_MAX));
        } else if (type && strcmp(type, "tool_use") == 0 && get_str(blk, "name")) {
            const char *name = get_str(blk, "name");
            const char *id = get_str(blk, "id");
            const cJSON *input = cJSON_GetObjectItemCaseSensitive(blk, "input");
            if (id)
                remember_call(sj, id, name);
            add(out, STREAMJSON_TOOL_CALL, cut_copy(name, strlen(name), 64),
                input ? summarize_input(name, input) : xstrdup(""));
        } else {
            /* A block this renderer does not know (redacted_thinking, server tools, ...). */
            add(out, STREAMJSON_RAW, NULL, json_cut(blk, STREAMJSON_RAW_MAX));
        }
    }
    return true;
}

static bool on_user(struct streamjson *sj, const cJSON *o, struct streamjson_list *out)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (cJSON_IsString(content)) {
        add(out, STREAMJSON_USER, NULL, trim_cut(content->valuestring, STREAMJSON_TEXT_MAX));
        return true;
    }
    if (!cJSON_IsArray(content))
        return false;
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content)
    {
        const char *type = get_str(blk, "type");
        const char *text;
        if (type && strcmp(type, "tool_result") == 0) {
            const char *tool = called_tool(sj, get_str(blk, "tool_use_id"));
            bool err = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(blk, "is_error"));
            add(out, err ? STREAMJSON_TOOL_ERROR : STREAMJSON_TOOL_OK, xstrdup(tool),
                result_text(cJSON_GetObjectItemCaseSensitive(blk, "content")));
        } else if (type && strcmp(type, "text") == 0 && (text = get_str(blk, "text"))) {
            add(out, STREAMJSON_USER, NULL, trim_cut(text, STREAMJSON_TEXT_MAX));
        } else {
            add(out, STREAMJSON_RAW, NULL, json_cut(blk, STREAMJSON_RAW_MAX));
        }
    }
    return true;
}

static void fmt_duration(struct buf *b, long long ms)
{
    if (ms < 60000)
        buf_appendf(b, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        buf_appendf(b, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
    else
        buf_appendf(b, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
}

static bool on_result(struct streamjson *sj, const cJSON *o, struct streamjson_list *out)
{
    struct streamjson_totals *t = &sj->totals;
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(o, "usage");
    const char *subtype = get_str(o, "subtype");
    memset(t, 0, sizeof *t);
    t->have = true;
    t->is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_error"));
    snprintf(t->subtype, sizeof t->subtype, "%s", subtype ? subtype : "?");
    t->turns = get_ll(o, "num_turns");
    t->cached = get_ll(usage, "cache_read_input_tokens");
    t->tokens_in =
        get_ll(usage, "input_tokens") + get_ll(usage, "cache_creation_input_tokens") + t->cached;
    t->tokens_out = get_ll(usage, "output_tokens");
    double cost = 0;
    if (get_num(o, "total_cost_usd", &cost) && cost >= 0 && cost < 1e12)
        t->cost_usd = cost;
    t->duration_ms = get_ll(o, "duration_ms");

    struct buf b;
    buf_init(&b, 0);
    buf_appendf(&b, "%s%s, %lld turn%s, tokens %lld in", t->subtype, t->is_error ? " (error)" : "",
                t->turns, t->turns == 1 ? "" : "s", t->tokens_in);
    if (t->cached)
        buf_appendf(&b, " (%lld cached)", t->cached);
    buf_appendf(&b, " / %lld out, $%.4f, ", t->tokens_out, t->cost_usd);
    fmt_duration(&b, t->duration_ms);
    /* An error result says why: its result text, or its first error. */
    const char *why = t->is_error ? get_str(o, "result") : NULL;
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(o, "errors");
    if (t->is_error && !why && cJSON_IsArray(errors) && cJSON_IsString(errors->child))
        why = errors->child->valuestring;
    if (why)
        buf_appendf(&b, ": %.600s", why);
    add(out, STREAMJSON_RESULT, NULL, trim_cut(b.p, STREAMJSON_SUMMARY_MAX));
    buf_free(&b);
    return true;
}

static void add_raw(struct streamjson_list *out, const char *line, size_t len)
{
    add(out, STREAMJSON_RAW, NULL, cut_copy(line, len, STREAMJSON_RAW_MAX));
}

size_t streamjson_feed(struct streamjson *sj, const char *line, size_t len,
                       struct streamjson_list *out)
{
    size_t before = out->n;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    size_t lead = 0;
    while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
        lead++;
    if (lead == len)
        return 0;
    if (len > STREAMJSON_LINE_MAX) {
        add_raw(out, line, len);
        return 1;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, false);
    /* Trailing bytes after the JSON value make it not one event. */
    if (o && end)
        while (end < line + len && strchr(" \t", *end) && *end)
            end++;
    bool ok = false;
    const char *type = o && end == line + len && cJSON_IsObject(o) ? get_str(o, "type") : NULL;
    if (type) {
        const char *subtype = get_str(o, "subtype");
        if (strcmp(type, "system") == 0 && subtype && strcmp(subtype, "init") == 0)
            ok = on_init(sj, o, out);
        else if (strcmp(type, "assistant") == 0)
            ok = on_assistant(sj, o, out);
        else if (strcmp(type, "user") == 0)
            ok = on_user(sj, o, out);
        else if (strcmp(type, "result") == 0)
            ok = on_result(sj, o, out);
    }
    cJSON_Delete(o);
    if (!ok || out->n == before) {
        /* Not understood (or understood as nothing): the line itself, never nothing. */
        while (out->n > before)
            streamjson_entry_free(&out->v[--out->n]);
        add_raw(out, line, len);
    }
    return out->n - before;
}

/* ---- rendering --------------------------------------------------------------------------- */

/* Appends S to OUT as displayable text: control characters and invalid UTF-8 become '?', tabs
 * a space, CRs nothing. Newlines stay when KEEP_NL, else each run of line breaks (with the
 * spaces around it) becomes SEP. In ASCII mode the ellipsis is "...". */
static void sanitize(struct buf *out, const char *s, bool keep_nl, const char *sep, bool ascii)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    bool pending_sep = false;
    while (n) {
        uint32_t cp;
        size_t k = utf8_decode(p, n, &cp);
        if (cp == '\n' && !keep_nl) {
            while (out->len && out->p[out->len - 1] == ' ')
                out->p[--out->len] = '\0';
            pending_sep = out->len > 0;
        } else if (cp == '\r') {
            /* dropped */
        } else if (pending_sep && (cp == ' ' || cp == '\t')) {
            /* the spaces after a line break go with it */
        } else {
            if (pending_sep) {
                buf_append(out, sep, strlen(sep));
                pending_sep = false;
            }
            if (cp == '\t')
                buf_append(out, " ", 1);
            else if (cp == '\n')
                buf_append(out, "\n", 1);
            else if (cp == UINT32_MAX || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
                buf_append(out, "?", 1);
            else if (ascii && cp == ELLIPSIS_CP)
                buf_append(out, "...", 3);
            else
                buf_append(out, p, k);
        }
        p += k, n -= k;
    }
}

/* The longest prefix of S[0..N) that fits in WIDTH columns: returns its bytes, sets *USED. */
static size_t fit(const char *s, size_t n, int width, int *used)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t off = 0;
    int w = 0;
    while (off < n) {
        uint32_t cp;
        size_t k = utf8_decode(p + off, n - off, &cp);
        int cw = cp == UINT32_MAX ? 1 : cp_width(cp);
        if (w + cw > width)
            break;
        w += cw, off += k;
    }
    *used = w;
    return off;
}

/* Pushes PREFIX + S[0..N), without trailing spaces, cut to WIDTH columns; with MORE (or when it
 * does not fit) it ends in an ellipsis. */
static void push_line(struct strv *lines, const char *prefix, const char *s, size_t n, int width,
                      bool more, bool ascii)
{
    const char *ell = ascii ? "..." : ELLIPSIS;
    int ew = ascii ? 3 : 1;
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, prefix, strlen(prefix));
    buf_append(&b, s, n);
    while (b.len && b.p[b.len - 1] == ' ')
        b.p[--b.len] = '\0';
    int used;
    size_t all = fit(b.p, b.len, width, &used);
    if (all == b.len && !more) {
        strv_push_own(lines, b.p);
        return;
    }
    if (width < ew) { /* no room for the mark */
        b.p[all] = '\0';
        strv_push_own(lines, b.p);
        return;
    }
    size_t k = fit(b.p, b.len, width - ew, &used);
    while (k && b.p[k - 1] == ' ')
        k--;
    b.len = k;
    b.p[k] = '\0';
    buf_append(&b, ell, strlen(ell));
    strv_push_own(lines, b.p);
}

/* Word-wraps S (sanitized, with newlines) into lines of WIDTH columns; lines after the first are
 * indented by INDENT. At most MAX_LINES lines; the last one ends in an ellipsis when text was
 * left out. Returns the lines pushed. */
static size_t wrap(struct strv *lines, const char *s, int width, const char *indent,
                   size_t max_lines, bool ascii)
{
    int iw = streamjson_width(indent);
    if (iw >= width)
        indent = "", iw = 0;
    size_t count = 0;
    const char *p = s, *all_end = s + strlen(s);
    bool first = true;
    while (count < max_lines) {
        const char *end = memchr(p, '\n', (size_t)(all_end - p));
        if (!end)
            end = all_end;
        const char *q = p;
        do {
            int avail = first ? width : width - iw;
            const char *pre = first ? "" : indent;
            first = false;
            const char *r = q, *last_sp = NULL;
            int w = 0;
            while (r < end) {
                uint32_t cp;
                size_t k = utf8_decode((const unsigned char *)r, (size_t)(end - r), &cp);
                int cw = cp == UINT32_MAX ? 1 : cp_width(cp);
                if (w + cw > avail)
                    break;
                if (*r == ' ')
                    last_sp = r;
                w += cw, r += k;
            }
            const char *brk, *next;
            if (r >= end)
                brk = next = end;
            else if (last_sp && last_sp > q)
                brk = last_sp, next = last_sp + 1;
            else if (r == q) /* one character wider than the line: it cannot be shown */
                brk = q,
                next = q + utf8_decode((const unsigned char *)q, (size_t)(end - q), &(uint32_t){0});
            else
                brk = next = r;
            while (next < end && *next == ' ')
                next++;
            count++;
            bool left = next < end || end < all_end;
            if (count == max_lines && left) {
                push_line(lines, pre, q, (size_t)(brk - q), width, true, ascii);
                return count;
            }
            push_line(lines, pre, q, (size_t)(brk - q), width, false, ascii);
            q = next;
        } while (q < end);
        if (end >= all_end)
            break;
        p = end + 1;
    }
    return count;
}

size_t streamjson_render(const struct streamjson_entry *e, int width, unsigned flags,
                         struct strv *lines)
{
    bool ascii = flags & STREAMJSON_R_ASCII;
    const char *sep = ascii ? " | " : " \xe2\x8f\x8e "; /* U+23CE */
    if (width < 1)
        width = 1;
    const char *prefix = "";
    const char *indent = NULL; /* NULL: one line */
    size_t max_lines = 1;
    switch (e->kind) {
    case STREAMJSON_INIT:
        prefix = "== session  ";
        break;
    case STREAMJSON_TEXT:
        indent = "", max_lines = 400;
        break;
    case STREAMJSON_THINKING:
        prefix = "(thinking) ", indent = "  ", max_lines = 3;
        break;
    case STREAMJSON_USER:
        prefix = "user> ", indent = "  ", max_lines = 10;
        break;
    case STREAMJSON_TOOL_CALL:
        prefix = "-> ";
        break;
    case STREAMJSON_TOOL_OK:
    case STREAMJSON_TOOL_ERROR:
        prefix = "   ";
        break;
    case STREAMJSON_RESULT:
        prefix = "== result  ";
        break;
    case STREAMJSON_RAW:
        prefix = "?? ", indent = "   ", max_lines = 4;
        break;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, prefix, strlen(prefix));
    if (e->kind == STREAMJSON_TOOL_CALL) {
        sanitize(&b, e->tool ? e->tool : "?", false, sep, ascii);
        buf_append(&b, "  ", 2);
    } else if (e->kind == STREAMJSON_TOOL_OK || e->kind == STREAMJSON_TOOL_ERROR) {
        sanitize(&b, e->tool ? e->tool : "?", false, sep, ascii);
        buf_appendf(&b, " %s: ", e->kind == STREAMJSON_TOOL_OK ? "ok" : "error");
    }
    sanitize(&b, e->text ? e->text : "", indent != NULL, sep, ascii);
    size_t n;
    if (!indent) {
        push_line(lines, "", b.p, b.len, width, false, ascii);
        n = 1;
    } else {
        n = wrap(lines, b.p, width, indent, max_lines, ascii);
    }
    buf_free(&b);
    return n;
}
