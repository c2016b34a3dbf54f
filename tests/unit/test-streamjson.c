/* test-streamjson: golden renders of the recorded Claude Code stream-json fixtures, and the
 * parser's and renderer's edges (summaries, raw lines, bounds, UTF-8 cutting). */
#include "test.h"

#include <dirent.h>
#include <stdint.h>

#include "core/streamjson.h"
#include "core/util.h"

static const char *const fixtures[] = {"ok-tools", "failed-tool", "unknown-event"};

static char *src_path(const char *rel)
{
    const char *src = getenv("BOTTLE_SRC");
    if (!src) {
        fprintf(stderr, "BOTTLE_SRC is not set\n");
        exit(77);
    }
    return xasprintf("%s/%s", src, rel);
}

/* Feeds every line of TEXT, returns the entries. */
static void feed_all(struct streamjson *sj, const char *text, struct streamjson_list *out)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        streamjson_feed(sj, p, n, out);
        p += n + (nl ? 1 : 0);
    }
}

/* The whole timeline of a fixture at WIDTH, one display line per text line. */
static char *render_fixture(const char *name, int width, unsigned flags, struct strv *lines_out)
{
    /* STREAMJSON_FIXTURES: check a fresh recording instead (streamjson-record.sh). */
    const char *dir = getenv("STREAMJSON_FIXTURES");
    char *path = xasprintf("tests/fixtures/stream-json/%s.jsonl", name);
    char *full = dir ? xasprintf("%s/%s.jsonl", dir, name) : src_path(path);
    size_t len;
    char *text = file_read_all(full, 16 << 20, &len);
    if (!text)
        fprintf(stderr, "cannot read %s\n", full);
    CHECK(text);
    struct streamjson sj;
    streamjson_init(&sj);
    struct streamjson_list l = {0};
    feed_all(&sj, text, &l);
    struct strv lines = {0};
    for (size_t i = 0; i < l.n; i++)
        CHECK(streamjson_render(&l.v[i], width, flags, &lines) >= 1);
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < lines.n; i++)
        buf_appendf(&b, "%s\n", lines.v[i]);
    if (lines_out)
        *lines_out = lines;
    else
        strv_free(&lines);
    streamjson_list_free(&l);
    free(text);
    free(full);
    free(path);
    return b.p;
}

/* ---- golden renders ---------------------------------------------------------------------- */

static void golden(void)
{
    bool update = getenv("UPDATE_GOLDEN") && strcmp(getenv("UPDATE_GOLDEN"), "1") == 0;
    int failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
        char *got = render_fixture(fixtures[i], 80, 0, NULL);
        char *rel = xasprintf("tests/golden/stream-json/%s.txt", fixtures[i]);
        char *path = src_path(rel);
        if (update) {
            FILE *f = fopen(path, "w");
            CHECK(f);
            fputs(got, f);
            CHECK(fclose(f) == 0);
            printf("updated %s\n", path);
        } else {
            size_t len;
            char *want = file_read_all(path, 1 << 20, &len);
            if (!want || strcmp(want, got) != 0) {
                fprintf(stderr,
                        "golden %s differs (UPDATE_GOLDEN=1 rewrites it)\n--- want\n%s--- got\n%s",
                        rel, want ? want : "(missing)\n", got);
                failed++;
            }
            free(want);
        }
        free(path);
        free(rel);
        free(got);
    }
    CHECK(failed == 0);
}

/* What the goldens must show, checked apart from their exact layout. */
static void fixtures_content(void)
{
    char *ok = render_fixture("ok-tools", 80, 0, NULL);
    CHECK(strstr(ok, "== session  claude-sonnet-4-5, "));
    CHECK(strstr(ok, " tools, v2."));
    CHECK(strstr(ok, ", cwd /"));
    CHECK(strstr(ok, "-> Bash  ls\n"));
    CHECK(strstr(ok, "   Bash ok: notes.txt \xe2\x8f\x8e src\n"));
    CHECK(strstr(ok, "-> Read  /"));
    CHECK(strstr(ok, "-> Edit  /"));
    CHECK(strstr(ok, "   Edit ok: "));
    CHECK(strstr(ok, "== result  success, 4 turns, tokens "));
    free(ok);
    char *fail = render_fixture("failed-tool", 80, 0, NULL);
    CHECK(strstr(fail, "   Bash error: Exit code 1 \xe2\x8f\x8e cat: build.log: No such file"));
    CHECK(strstr(fail, "   Read error: File does not exist."));
    free(fail);
    char *unk = render_fixture("unknown-event", 80, 0, NULL);
    CHECK(strstr(unk, "?? {\"type\":\"telepathy\""));
    CHECK(strstr(unk, "?? Warning: this line is not JSON"));
    CHECK(strstr(unk, "== result  success, 1 turn, "));
    free(unk);
}

/* Every line of every fixture at every width from 1 to 120 fits, and is valid UTF-8. */
static void widths(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
        for (int w = 1; w <= 120; w++) {
            for (unsigned flags = 0; flags <= STREAMJSON_R_ASCII; flags++) {
                struct strv lines = {0};
                char *all = render_fixture(fixtures[i], w, flags, &lines);
                for (size_t k = 0; k < lines.n; k++) {
                    if (streamjson_width(lines.v[k]) > w)
                        fprintf(stderr, "width %d: %s\n", w, lines.v[k]);
                    CHECK(streamjson_width(lines.v[k]) <= w);
                    CHECK(strchr(lines.v[k], '\n') == NULL);
                    if (flags & STREAMJSON_R_ASCII)
                        CHECK(strstr(lines.v[k], "\xe2\x80\xa6") == NULL);
                }
                strv_free(&lines);
                free(all);
            }
        }
    }
}

/* ---- parser ------------------------------------------------------------------------------ */

static struct streamjson_list feed1(struct streamjson *sj, const char *line)
{
    struct streamjson_list l = {0};
    streamjson_feed(sj, line, strlen(line), &l);
    return l;
}

static char *render1(const struct streamjson_entry *e, int width)
{
    struct strv lines = {0};
    streamjson_render(e, width, 0, &lines);
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < lines.n; i++)
        buf_appendf(&b, "%s%s", i ? "\n" : "", lines.v[i]);
    strv_free(&lines);
    return b.p;
}

static void call_summary(const char *tool, const char *input, const char *want)
{
    struct streamjson sj;
    streamjson_init(&sj);
    char *line =
        xasprintf("{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\","
                  "\"id\":\"t1\",\"name\":\"%s\",\"input\":%s}]}}",
                  tool, input);
    struct streamjson_list l = feed1(&sj, line);
    CHECK_INT(l.n, 1);
    CHECK_INT(l.v[0].kind, STREAMJSON_TOOL_CALL);
    CHECK_STR(l.v[0].tool, tool);
    CHECK_STR(l.v[0].text, want);
    streamjson_list_free(&l);
    free(line);
}

static void summaries(void)
{
    call_summary("Bash", "{\"command\":\"make -j2\",\"description\":\"Build\"}", "make -j2");
    call_summary("Read", "{\"file_path\":\"/w/a.c\",\"limit\":10}", "/w/a.c");
    call_summary("Write", "{\"file_path\":\"/w/b.c\",\"content\":\"int x;\"}", "/w/b.c");
    call_summary("Edit", "{\"file_path\":\"/w/c.c\",\"old_string\":\"a\",\"new_string\":\"b\"}",
                 "/w/c.c");
    call_summary("Grep", "{\"pattern\":\"TODO\"}", "TODO");
    call_summary("Grep", "{\"pattern\":\"TODO\",\"path\":\"src\"}", "TODO in src");
    call_summary("Glob", "{\"pattern\":\"**/*.c\"}", "**/*.c");
    call_summary("TodoWrite", "{\"todos\":[{\"content\":\"x\",\"status\":\"pending\"}]}",
                 "{\"todos\":[{\"content\":\"x\",\"status\":\"pending\"}]}");
    /* A known tool without its usual field: the JSON. */
    call_summary("Bash", "{\"cmd\":\"ls\"}", "{\"cmd\":\"ls\"}");
    /* A huge input: cut to the bound, at a code point, with an ellipsis. */
    struct buf big;
    buf_init(&big, 0);
    buf_append(&big, "{\"x\":\"", 6);
    for (int i = 0; i < 5000; i++)
        buf_append(&big, "\xc3\xa9", 2);
    buf_append(&big, "\"}", 2);
    struct streamjson sj;
    streamjson_init(&sj);
    char *line =
        xasprintf("{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\","
                  "\"id\":\"t1\",\"name\":\"mcp__x__y\",\"input\":%s}]}}",
                  big.p);
    struct streamjson_list l = feed1(&sj, line);
    CHECK_INT(l.n, 1);
    CHECK(strlen(l.v[0].text) <= STREAMJSON_SUMMARY_MAX + 3);
    CHECK(str_has_suffix(l.v[0].text, "\xe2\x80\xa6"));
    char *r = render1(&l.v[0], 40);
    CHECK(streamjson_width(r) == 40);
    CHECK(strncmp(r, "-> mcp__x__y  {\"x\":\"\xc3\xa9", 22) == 0);
    free(r);
    streamjson_list_free(&l);
    free(line);
    buf_free(&big);
}

static void results_name_their_tool(void)
{
    struct streamjson sj;
    streamjson_init(&sj);
    struct streamjson_list l = feed1(
        &sj,
        "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"\\n\\nGo."
        "\\n\"},"
        "{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"Bash\",\"input\":{\"command\":\"true\"}},"
        "{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"Read\",\"input\":{\"file_path\":\"/"
        "x\"}}]}}");
    CHECK_INT(l.n, 3);
    CHECK_INT(l.v[0].kind, STREAMJSON_TEXT);
    CHECK_STR(l.v[0].text, "Go.");
    streamjson_list_free(&l);
    /* Results out of order, one as an array of blocks, one for an unseen call. */
    l = feed1(&sj,
              "{\"type\":\"user\",\"message\":{\"content\":["
              "{\"type\":\"tool_result\",\"tool_use_id\":\"b\",\"is_error\":true,"
              "\"content\":[{\"type\":\"text\",\"text\":\"no such file\"},{\"type\":\"image\"}]},"
              "{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":\"\"},"
              "{\"type\":\"tool_result\",\"tool_use_id\":\"zz\",\"content\":\"x\\ty\"}]}}");
    CHECK_INT(l.n, 3);
    CHECK_INT(l.v[0].kind, STREAMJSON_TOOL_ERROR);
    CHECK_STR(l.v[0].tool, "Read");
    CHECK_STR(l.v[0].text, "no such file\n[image]");
    char *r = render1(&l.v[0], 80);
    CHECK_STR(r, "   Read error: no such file \xe2\x8f\x8e [image]");
    free(r);
    CHECK_INT(l.v[1].kind, STREAMJSON_TOOL_OK);
    CHECK_STR(l.v[1].tool, "Bash");
    r = render1(&l.v[1], 80);
    CHECK_STR(r, "   Bash ok:");
    free(r);
    CHECK_STR(l.v[2].tool, "?");
    r = render1(&l.v[2], 80);
    CHECK_STR(r, "   ? ok: x y");
    free(r);
    streamjson_list_free(&l);
}

static void raw_kept(void)
{
    static const char *const lines[] = {
        "not json at all",
        "{\"type\":\"system\",\"subtype\":\"compact_boundary\"}",
        "{\"type\":\"stream_event\",\"event\":{}}",
        "{\"no_type\":1}",
        "[1,2,3]",
        "42",
        "{\"type\":\"assistant\"}",
        "{\"type\":\"assistant\",\"message\":{\"content\":[]}}",
        "{\"type\":\"user\",\"message\":{\"content\":5}}",
        "{\"type\":\"result\"} trailing",
        "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"  \"}]}}",
        "\xff\xfe garbage \x1b[31m red",
    };
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        struct streamjson sj;
        streamjson_init(&sj);
        struct streamjson_list l = feed1(&sj, lines[i]);
        if (l.n != 1 || l.v[0].kind != STREAMJSON_RAW)
            fprintf(stderr, "line %zu not kept raw: %s\n", i, lines[i]);
        CHECK_INT(l.n, 1);
        CHECK_INT(l.v[0].kind, STREAMJSON_RAW);
        CHECK_STR(l.v[0].text, lines[i]);
        streamjson_list_free(&l);
    }
    /* A block of unknown type inside a known event is kept too, beside the known ones. */
    struct streamjson sj;
    streamjson_init(&sj);
    struct streamjson_list l = feed1(
        &sj, "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"server_tool_use\","
             "\"name\":\"web\"},{\"type\":\"text\",\"text\":\"hi\"}]}}");
    CHECK_INT(l.n, 2);
    CHECK_INT(l.v[0].kind, STREAMJSON_RAW);
    CHECK_STR(l.v[0].text, "{\"type\":\"server_tool_use\",\"name\":\"web\"}");
    CHECK_INT(l.v[1].kind, STREAMJSON_TEXT);
    streamjson_list_free(&l);
    /* Control characters never reach the screen. */
    l = feed1(&sj, "\xff\xfe garbage \x1b[31m red\r");
    char *r = render1(&l.v[0], 80);
    CHECK_STR(r, "?? ?? garbage ?[31m red");
    free(r);
    streamjson_list_free(&l);
    /* Blank lines carry nothing. */
    l = feed1(&sj, "  \r");
    CHECK_INT(l.n, 0);
    streamjson_list_free(&l);
}

static void huge_line(void)
{
    size_t n = STREAMJSON_LINE_MAX + 10;
    char *line = xmalloc(n + 1);
    memset(line, 'a', n);
    memcpy(line, "{\"type\":\"assistant\",\"x\":\"", 25);
    line[n - 2] = '"', line[n - 1] = '}', line[n] = '\0';
    struct streamjson sj;
    streamjson_init(&sj);
    struct streamjson_list l = {0};
    CHECK_INT(streamjson_feed(&sj, line, n, &l), 1);
    CHECK_INT(l.v[0].kind, STREAMJSON_RAW);
    CHECK(strlen(l.v[0].text) <= STREAMJSON_RAW_MAX + 3);
    char *r = render1(&l.v[0], 50);
    /* Raw wraps to at most 4 lines and says it was cut. */
    int nl = 0;
    for (char *p = r; *p; p++)
        nl += *p == '\n';
    CHECK_INT(nl, 3);
    CHECK(str_has_suffix(r, "\xe2\x80\xa6"));
    free(r);
    streamjson_list_free(&l);
    free(line);
}

static void totals(void)
{
    struct streamjson sj;
    streamjson_init(&sj);
    struct streamjson_list l = feed1(
        &sj,
        "{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"is_error\":true,\"num_turns\":12,"
        "\"duration_ms\":125400,\"total_cost_usd\":1.23456,\"usage\":{\"input_tokens\":10,"
        "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":5000,"
        "\"output_tokens\":777},\"errors\":[\"Reached maximum number of turns (12)\"]}");
    CHECK_INT(l.n, 1);
    CHECK_INT(l.v[0].kind, STREAMJSON_RESULT);
    CHECK(sj.totals.have && sj.totals.is_error);
    CHECK_INT(sj.totals.turns, 12);
    CHECK_INT(sj.totals.tokens_in, 5110);
    CHECK_INT(sj.totals.tokens_out, 777);
    CHECK_INT(sj.totals.cached, 5000);
    CHECK_INT(sj.totals.duration_ms, 125400);
    CHECK_STR(sj.totals.subtype, "error_max_turns");
    CHECK_STR(l.v[0].text, "error_max_turns (error), 12 turns, tokens 5110 in (5000 cached) / 777 "
                           "out, $1.2346, 2m05s: Reached maximum number of turns (12)");
    streamjson_list_free(&l);
    /* Nonsense numbers do not become nonsense totals. */
    l = feed1(
        &sj,
        "{\"type\":\"result\",\"num_turns\":-4,\"total_cost_usd\":\"x\",\"duration_ms\":1e300}");
    CHECK_INT(sj.totals.turns, 0);
    CHECK(sj.totals.cost_usd == 0);
    CHECK_STR(l.v[0].text, "?, 0 turns, tokens 0 in / 0 out, $0.0000, 2500000000000h00m");
    streamjson_list_free(&l);
}

/* ---- renderer ---------------------------------------------------------------------------- */

static void wrapping(void)
{
    struct streamjson_entry e = {.kind = STREAMJSON_TEXT,
                                 .text = "The quick brown fox jumps over the lazy dog.\n\n"
                                         "Second paragraph: aaaaaaaaaaaaaaaaaaaaaaaaa end"};
    char *r = render1(&e, 20);
    CHECK_STR(r, "The quick brown fox\njumps over the lazy\ndog.\n\nSecond paragraph:\n"
                 "aaaaaaaaaaaaaaaaaaaa\naaaaa end");
    free(r);
    /* Wide characters count two columns and are never split. */
    e.text = "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2"; /* 5 CJK = 10 cols */
    r = render1(&e, 4);
    CHECK_STR(r, "\xe6\xbc\xa2\xe5\xad\x97\n\xe6\xbc\xa2\xe5\xad\x97\n\xe6\xbc\xa2");
    free(r);
    /* One line kinds cut with an ellipsis, at a code point boundary. */
    struct streamjson_entry c = {.kind = STREAMJSON_TOOL_CALL,
                                 .tool = "Bash",
                                 .text = "echo \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\nls -la"};
    r = render1(&c, 14);
    CHECK_STR(r, "-> Bash  echo\xe2\x80\xa6");
    free(r);
    r = render1(&c, 15); /* a space before the mark is trimmed */
    CHECK_STR(r, "-> Bash  echo\xe2\x80\xa6");
    free(r);
    r = render1(&c, 16);
    CHECK_STR(r, "-> Bash  echo \xc3\xa9\xe2\x80\xa6");
    free(r);
    r = render1(&c, 80);
    CHECK_STR(r, "-> Bash  echo \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 \xe2\x8f\x8e ls -la");
    free(r);
    struct strv lines = {0};
    streamjson_render(&c, 15, STREAMJSON_R_ASCII, &lines);
    CHECK_STR(lines.v[0], "-> Bash  ech...");
    strv_free(&lines);
    streamjson_render(&c, 80, STREAMJSON_R_ASCII, &lines);
    CHECK_STR(lines.v[0], "-> Bash  echo \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 | ls -la");
    strv_free(&lines);
    /* Widths below one still give one line. */
    CHECK_INT(streamjson_render(&c, 0, 0, &lines), 1);
    CHECK(streamjson_width(lines.v[0]) <= 1);
    strv_free(&lines);
}

TEST_MAIN(T(golden), T(fixtures_content), T(widths), T(summaries), T(results_name_their_tool),
          T(raw_kept), T(huge_line), T(totals), T(wrapping))
