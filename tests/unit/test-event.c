/* test-event: the event stream's builders, line format, parser, log file, ring and state dir. */
#include "test.h"

#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>

#include "core/event.h"
#include "core/util.h"

static char dir[] = "/tmp/bottle-test-event-XXXXXX";

static void cleanup(void)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
    free(cmd);
}

static void setup(void)
{
    CHECK(mkdtemp(dir));
    atexit(cleanup);
}

/* Serialises EV, checks the result is exactly one line, parses it back and
 * checks it equals EV. Takes EV; returns the parsed copy (caller deletes). */
static cJSON *roundtrip(cJSON *ev)
{
    char *line = event_to_line(ev);
    size_t len = strlen(line);
    CHECK(len > 1);
    CHECK(strchr(line, '\n') == line + len - 1);
    const char *err = "unset";
    cJSON *back = event_parse_line(line, len, &err);
    if (!back)
        fprintf(stderr, "parse failed: %s\n  line: %s", err, line);
    CHECK(back);
    CHECK(err == NULL);
    CHECK(cJSON_Compare(ev, back, true));
    free(line);
    cJSON_Delete(ev);
    return back;
}

static const char *str(const cJSON *ev, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *ev, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);
    CHECK(cJSON_IsNumber(v));
    return v->valuedouble;
}

static bool has(const cJSON *ev, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(ev, key) != NULL;
}

static void ts_format(void)
{
    cJSON *ev = event_new("b1", "custom");
    const char *ts = str(ev, "ts");
    CHECK(ts);
    /* 2026-11-29T05:13:01.123Z */
    CHECK_INT(strlen(ts), 24);
    for (int i = 0; i < 24; i++) {
        switch (i) {
        case 4:
        case 7:
            CHECK(ts[i] == '-');
            break;
        case 10:
            CHECK(ts[i] == 'T');
            break;
        case 13:
        case 16:
            CHECK(ts[i] == ':');
            break;
        case 19:
            CHECK(ts[i] == '.');
            break;
        case 23:
            CHECK(ts[i] == 'Z');
            break;
        default:
            CHECK(isdigit((unsigned char)ts[i]));
        }
    }
    CHECK(strncmp(ts, "20", 2) == 0);
    /* Key order is part of the format: ts, bottle, type lead the line. */
    char *line = event_to_line(ev);
    CHECK(str_has_prefix(line, "{\"ts\":\""));
    CHECK(strstr(line, "\",\"bottle\":\"b1\",\"type\":\"custom\"}\n"));
    free(line);
    cJSON_Delete(ev);
}

static void builders_roundtrip(void)
{
    cJSON *e = roundtrip(event_state("b", "running"));
    CHECK_STR(str(e, "bottle"), "b");
    CHECK_STR(str(e, "type"), "state");
    CHECK_STR(str(e, "state"), "running");
    cJSON_Delete(e);

    e = roundtrip(event_step("b", "ca", "ok", 42, "made"));
    CHECK_STR(str(e, "type"), "step");
    CHECK_STR(str(e, "step"), "ca");
    CHECK_STR(str(e, "status"), "ok");
    CHECK_INT(num(e, "ms"), 42);
    CHECK_STR(str(e, "detail"), "made");
    cJSON_Delete(e);

    e = roundtrip(event_step("b", "image", "start", -1, NULL));
    CHECK(!has(e, "ms"));
    CHECK(!has(e, "detail"));
    cJSON_Delete(e);

    const char *argv[] = {"docker", "run", "--rm", "a b", NULL};
    e = roundtrip(event_cmd("b", "run", argv));
    CHECK_STR(str(e, "type"), "cmd");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "argv");
    CHECK(cJSON_IsArray(a));
    CHECK_INT(cJSON_GetArraySize(a), 4);
    CHECK_STR(cJSON_GetArrayItem(a, 0)->valuestring, "docker");
    CHECK_STR(cJSON_GetArrayItem(a, 3)->valuestring, "a b");
    cJSON_Delete(e);

    e = roundtrip(event_output("b", "run", "stderr", "warning: x"));
    CHECK_STR(str(e, "stream"), "stderr");
    CHECK_STR(str(e, "line"), "warning: x");
    cJSON_Delete(e);

    e = roundtrip(event_hop("b", "egress", "127.0.0.1:8080", 1234, "up"));
    CHECK_STR(str(e, "hop"), "egress");
    CHECK_STR(str(e, "listen"), "127.0.0.1:8080");
    CHECK_INT(num(e, "pid"), 1234);
    CHECK_STR(str(e, "status"), "up");
    cJSON_Delete(e);

    e = roundtrip(event_gate("b", "push", "work", "refs/heads/main"));
    CHECK_STR(str(e, "op"), "push");
    CHECK_STR(str(e, "repo"), "work");
    CHECK_STR(str(e, "refs"), "refs/heads/main");
    cJSON_Delete(e);

    e = roundtrip(event_supervise("b", "Bash", "t1", "allowed", "ls -la"));
    CHECK_STR(str(e, "tool"), "Bash");
    CHECK_STR(str(e, "id"), "t1");
    CHECK_STR(str(e, "status"), "allowed");
    CHECK_STR(str(e, "summary"), "ls -la");
    cJSON_Delete(e);
}

static void request_roundtrip(void)
{
    struct event_request r = {
        .hop = "auth",
        .id = 17,
        .method = "POST",
        .scheme = "https",
        .host = "api.anthropic.com",
        .port = 443,
        .path = "/v1/messages",
        .status = 200,
        .bytes_up = 1234,
        .bytes_down = 99999,
        .ms = 350,
        .verdict = "allow",
        .auth = "rewritten:api.anthropic.com",
    };
    cJSON *e = roundtrip(event_request("b", &r));
    CHECK_STR(str(e, "type"), "request");
    CHECK_STR(str(e, "hop"), "auth");
    CHECK_INT(num(e, "id"), 17);
    CHECK_STR(str(e, "method"), "POST");
    CHECK_STR(str(e, "scheme"), "https");
    CHECK_STR(str(e, "host"), "api.anthropic.com");
    CHECK_INT(num(e, "port"), 443);
    CHECK_STR(str(e, "path"), "/v1/messages");
    CHECK_INT(num(e, "status"), 200);
    CHECK_INT(num(e, "bytes_up"), 1234);
    CHECK_INT(num(e, "bytes_down"), 99999);
    CHECK_INT(num(e, "ms"), 350);
    CHECK_STR(str(e, "verdict"), "allow");
    CHECK_STR(str(e, "auth"), "rewritten:api.anthropic.com");
    CHECK(!has(e, "reason"));
    CHECK(!has(e, "rule"));
    cJSON_Delete(e);

    /* A blocked request: no response, no timing, no path. */
    struct event_request blk = {.hop = "egress",
                                .id = 3,
                                .scheme = "https",
                                .host = "evil.com",
                                .ms = -1,
                                .verdict = "block",
                                .reason = "dlp",
                                .rule = "aws-key"};
    e = roundtrip(event_request("b", &blk));
    CHECK(!has(e, "port"));
    CHECK(!has(e, "status"));
    CHECK(!has(e, "ms"));
    CHECK(!has(e, "path"));
    CHECK(!has(e, "method"));
    CHECK_INT(num(e, "bytes_up"), 0);
    CHECK_STR(str(e, "verdict"), "block");
    CHECK_STR(str(e, "rule"), "aws-key");
    cJSON_Delete(e);
}

/* Parses TEXT (no terminator) and checks it fails with ERR. */
static void reject(const char *text, const char *want)
{
    const char *err = NULL;
    cJSON *e = event_parse_line(text, strlen(text), &err);
    if (e || !err || strcmp(err, want) != 0)
        fprintf(stderr, "input: %s\n  err: %s\n  want: %s\n", text, err ? err : "(null)", want);
    CHECK(!e);
    CHECK_STR(err, want);
}

#define HDR "\"ts\":\"2026-11-29T05:13:01.123Z\",\"bottle\":\"b\""

static void parse_rejects(void)
{
    reject("not json", "not valid JSON");
    reject("", "not valid JSON");
    reject("[1,2]", "not a JSON object");
    reject("\"str\"", "not a JSON object");
    reject("{\"bottle\":\"b\",\"type\":\"state\",\"state\":\"running\"}",
           "missing or non-string field 'ts'");
    reject("{\"ts\":5,\"bottle\":\"b\",\"type\":\"x\"}", "missing or non-string field 'ts'");
    reject("{\"ts\":\"t\",\"type\":\"x\"}", "missing or non-string field 'bottle'");
    reject("{" HDR "}", "missing or non-string field 'type'");
    reject("{" HDR ",\"type\":null}", "missing or non-string field 'type'");
    /* Key lookup is case-sensitive: "TS" is not "ts". */
    reject("{\"TS\":\"t\",\"bottle\":\"b\",\"type\":\"x\"}", "missing or non-string field 'ts'");
    reject("{" HDR ",\"type\":\"state\",\"state\":\"dancing\"}",
           "field 'state' has an unknown value");
    reject("{" HDR ",\"type\":\"state\"}", "field 'state' is not a string");
    reject("{" HDR ",\"type\":\"state\",\"state\":1}", "field 'state' is not a string");
    reject("{" HDR ",\"type\":\"step\",\"step\":\"ca\",\"status\":\"done\"}",
           "field 'status' has an unknown value");
    reject("{" HDR ",\"type\":\"step\",\"step\":\"ca\",\"ms\":\"12\"}",
           "field 'ms' is not a finite number");
    reject("{" HDR ",\"type\":\"step\",\"ms\":1e999}", "field 'ms' is not a finite number");
    reject("{" HDR ",\"type\":\"step\",\"step\":7}", "field 'step' is not a string");
    reject("{" HDR ",\"type\":\"cmd\",\"argv\":\"ls\"}", "field 'argv' is not an array of strings");
    reject("{" HDR ",\"type\":\"cmd\",\"argv\":[\"ls\",1]}",
           "field 'argv' is not an array of strings");
    reject("{" HDR ",\"type\":\"output\",\"stream\":\"stdin\"}",
           "field 'stream' has an unknown value");
    reject("{" HDR ",\"type\":\"request\",\"verdict\":\"maybe\"}",
           "field 'verdict' has an unknown value");
    reject("{" HDR ",\"type\":\"request\",\"port\":\"443\"}",
           "field 'port' is not a finite number");
    reject("{" HDR ",\"type\":\"hop\",\"status\":\"sideways\"}",
           "field 'status' has an unknown value");
    reject("{" HDR ",\"type\":\"hop\",\"pid\":null}", "field 'pid' is not a finite number");
    reject("{" HDR ",\"type\":\"gate\",\"refs\":[\"a\"]}", "field 'refs' is not a string");
    reject("{" HDR ",\"type\":\"supervise\",\"id\":3}", "field 'id' is not a string");
    reject("{" HDR ",\"type\":\"state\",\"state\":\"running\",\"state\":\"dancing\"}",
           "duplicate top-level key");
    reject("{" HDR ",\"type\":\"future\",\"x\":{\"y\":[1,-1e400]}}", "number out of range");
    reject("{" HDR ",\"type\":\"x\"}{" HDR ",\"type\":\"x\"}",
           "trailing data after the JSON value");
    reject("{" HDR ",\"type\":\"x\"}\n{" HDR ",\"type\":\"x\"}",
           "trailing data after the JSON value");

    /* A NUL after the object hides a second payload: rejected. */
    static const char nul[] = "{" HDR ",\"type\":\"x\"}\0{}";
    const char *err = NULL;
    CHECK(!event_parse_line(nul, sizeof nul - 1, &err));
    CHECK_STR(err, "trailing data after the JSON value");

    /* Over-long: a valid event padded past 1 MiB. */
    size_t n = EVENT_LINE_MAX + 1;
    char *big = xmalloc(n);
    memset(big, ' ', n);
    memcpy(big, "{" HDR ",\"type\":\"x\"}", strlen("{" HDR ",\"type\":\"x\"}"));
    err = NULL;
    CHECK(!event_parse_line(big, n, &err));
    CHECK_STR(err, "line longer than 1 MiB");
    /* ...and the same at exactly the limit is fine (trailing blanks allowed). */
    cJSON *e = event_parse_line(big, EVENT_LINE_MAX, &err);
    CHECK(e);
    cJSON_Delete(e);
    free(big);

    /* err may be NULL. */
    CHECK(!event_parse_line("x", 1, NULL));
}

static void parse_accepts(void)
{
    const char *err = "unset";
    /* Unknown types and unknown fields pass: newer writers may add them. */
    const char *l = "{" HDR ",\"type\":\"future\",\"state\":42,\"x\":[1,{}]}\r\n";
    cJSON *e = event_parse_line(l, strlen(l), &err);
    CHECK(e);
    CHECK(err == NULL);
    CHECK_STR(str(e, "type"), "future");
    cJSON_Delete(e);

    /* Known fields are optional except state.state. */
    l = "{" HDR ",\"type\":\"request\"}\n";
    e = event_parse_line(l, strlen(l), &err);
    CHECK(e);
    cJSON_Delete(e);

    /* Not NUL-terminated: only len bytes are read. */
    char buf[64];
    const char *s = "{\"ts\":\"t\",\"bottle\":\"b\",\"type\":\"x\"}";
    memset(buf, '}', sizeof buf);
    memcpy(buf, s, strlen(s));
    e = event_parse_line(buf, strlen(s), &err);
    CHECK(e);
    cJSON_Delete(e);
}

static void control_chars_one_line(void)
{
    const char nasty[] = "a\nb\r\nc\t\x01\x1b[31m\x7f \xff\xfe\xc3(\"\\/ \xe2\x82\xac end";
    cJSON *e = roundtrip(event_output("b", "run", "stdout", nasty));
    CHECK_STR(str(e, "line"), nasty);
    cJSON_Delete(e);

    cJSON *ev = event_output("b\n2", "s\r", "stdout", "\n\n\n");
    char *line = event_to_line(ev);
    CHECK(strchr(line, '\n') == line + strlen(line) - 1);
    CHECK(!strchr(line, '\r'));
    free(line);
    cJSON_Delete(roundtrip(ev));
}

static void ring_overflow(void)
{
    struct event_ring r;
    event_ring_init(&r, 4);
    struct event_reader rd;
    event_reader_init(&rd, &r);
    for (int i = 0; i < 10; i++) {
        char step[8];
        snprintf(step, sizeof step, "s%d", i);
        cJSON *ev = event_step("b", step, "ok", i, NULL);
        event_ring_push(&r, ev);
        cJSON_Delete(ev);
    }
    uint64_t dropped = 99;
    for (int i = 6; i < 10; i++) {
        const char *line = event_ring_read(&r, &rd, &dropped);
        CHECK(line);
        CHECK_INT(dropped, i == 6 ? 6 : 0);
        cJSON *e = event_parse_line(line, strlen(line), NULL);
        CHECK(e);
        CHECK_INT(num(e, "ms"), i);
        cJSON_Delete(e);
    }
    dropped = 99;
    CHECK(event_ring_read(&r, &rd, &dropped) == NULL);
    CHECK_INT(dropped, 0);
    event_ring_free(&r);
}

static void push_ms(struct event_ring *r, int ms)
{
    cJSON *ev = event_step("b", "x", "ok", ms, NULL);
    event_ring_push(r, ev);
    cJSON_Delete(ev);
}

static int read_ms(struct event_ring *r, struct event_reader *rd, uint64_t *dropped)
{
    const char *line = event_ring_read(r, rd, dropped);
    if (!line)
        return -1;
    cJSON *e = event_parse_line(line, strlen(line), NULL);
    CHECK(e);
    int ms = (int)num(e, "ms");
    cJSON_Delete(e);
    return ms;
}

static void ring_two_readers(void)
{
    struct event_ring r;
    event_ring_init(&r, 4);
    struct event_reader a, b;
    uint64_t d;
    event_reader_init(&a, &r);
    push_ms(&r, 0);
    push_ms(&r, 1);
    event_reader_init(&b, &r); /* from now on: sees 2.. only */
    push_ms(&r, 2);
    CHECK_INT(read_ms(&r, &a, &d), 0);
    CHECK_INT(d, 0);
    CHECK_INT(read_ms(&r, &b, &d), 2);
    CHECK_INT(d, 0);
    CHECK_INT(read_ms(&r, &b, &d), -1);
    for (int i = 3; i < 7; i++)
        push_ms(&r, i); /* ring now holds 3..6; a wants 1, b wants 3 */
    CHECK_INT(read_ms(&r, &a, &d), 3);
    CHECK_INT(d, 2);
    CHECK_INT(read_ms(&r, &b, &d), 3);
    CHECK_INT(d, 0);
    CHECK_INT(read_ms(&r, &a, &d), 4);
    CHECK_INT(d, 0);
    /* A reader created now is caught up. */
    struct event_reader c;
    event_reader_init(&c, &r);
    CHECK(event_ring_read(&r, &c, NULL) == NULL);
    event_ring_free(&r);
}

static void event_log(void)
{
    setup();
    char *path = xasprintf("%s/state/bottle/demo/events.jsonl", dir);
    struct event_log log;
    CHECK_INT(event_log_open(&log, path), 0);
    cJSON *evs[3] = {event_state("demo", "creating"), event_step("demo", "ca", "start", -1, NULL),
                     event_output("demo", "run", "stdout", "hi\nthere")};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(event_log_append(&log, evs[i]), 0);
    }
    event_log_close(&log);
    CHECK_INT(log.fd, -1);
    CHECK_INT(event_log_append(&log, evs[0]), -EBADF);

    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    char *d = path_dirname(path);
    CHECK(stat(d, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    free(d);
    d = xasprintf("%s/state", dir);
    CHECK(stat(d, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    free(d);

    /* Reopening appends rather than truncating. */
    CHECK_INT(event_log_open(&log, path), 0);
    event_log_close(&log);

    size_t len = 0;
    char *text = file_read_all(path, 1 << 20, &len);
    CHECK(text);
    int lines = 0;
    for (char *p = text, *nl; (nl = memchr(p, '\n', len - (size_t)(p - text))); p = nl + 1) {
        CHECK(lines < 3);
        const char *err = NULL;
        cJSON *e = event_parse_line(p, (size_t)(nl - p) + 1, &err);
        CHECK(e);
        CHECK(cJSON_Compare(e, evs[lines], true));
        cJSON_Delete(e);
        lines++;
    }
    CHECK_INT(lines, 3);
    CHECK(text[len - 1] == '\n');
    free(text);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(evs[i]);

    /* An unwritable parent is reported as -errno. */
    char *bad = xasprintf("%s/file", dir);
    FILE *f = fopen(bad, "w");
    CHECK(f);
    fclose(f);
    char *under = xasprintf("%s/sub/events.jsonl", bad);
    CHECK_INT(event_log_open(&log, under), -ENOTDIR);
    CHECK_INT(log.fd, -1);
    free(under);
    free(bad);
    free(path);
}

static void state_dir(void)
{
    setup();
    setenv("HOME", dir, 1);
    unsetenv("XDG_STATE_HOME");
    char *want = xasprintf("%s/.local/state/bottle/demo", dir);
    char *got = state_dir_for("demo");
    CHECK_STR(got, want);
    free(got);

    /* Relative XDG_STATE_HOME is invalid per the spec: ignored. */
    setenv("XDG_STATE_HOME", "rel/state", 1);
    got = state_dir_for("demo");
    CHECK_STR(got, want);
    free(got);
    free(want);

    setenv("XDG_STATE_HOME", "/var/xdg", 1);
    got = state_dir_for("demo");
    CHECK_STR(got, "/var/xdg/bottle/demo");
    free(got);
}

TEST_MAIN(T(ts_format), T(builders_roundtrip), T(request_roundtrip), T(parse_rejects),
          T(parse_accepts), T(control_chars_one_line), T(ring_overflow), T(ring_two_readers),
          T(event_log), T(state_dir))
