/* test-tui-render: golden renders of each dashboard panel from fixture models, drawn off-screen and
 * read back from curscr. */
#include "test.h"

#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <wchar.h>

#include "core/event.h"
#include "core/util.h"
#include "tui/tui_model.h"
#include "tui/tui_screen.h"
#include "tui/tui_view.h"
#include "tui/tui_attach.h"
#include "tui/tui_session.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

/* The demo bottle's stream as the supervisor produced it (trimmed). */
static const char *const demo_events[] = {
    "{\"ts\":\"2026-11-29T06:13:32.699Z\",\"bottle\":\"demo\",\"type\":\"state\",\"state\":"
    "\"creating\"}",
    "{\"ts\":\"2026-11-29T06:13:32.699Z\",\"bottle\":\"demo\",\"type\":\"state\",\"state\":"
    "\"provisioning\"}",
    "{\"ts\":\"2026-11-29T06:13:32.699Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":"
    "\"network\",\"status\":\"start\",\"detail\":\"bubblewrap --unshare-net\"}",
    "{\"ts\":\"2026-11-29T06:13:32.699Z\",\"bottle\":\"demo\",\"type\":\"cmd\",\"step\":"
    "\"network\",\"argv\":[\"bwrap\",\"--version\"]}",
    "{\"ts\":\"2026-11-29T06:13:32.709Z\",\"bottle\":\"demo\",\"type\":\"output\",\"step\":"
    "\"network\",\"stream\":\"stdout\",\"line\":\"bubblewrap 0.8.0\"}",
    "{\"ts\":\"2026-11-29T06:13:32.711Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":"
    "\"network\",\"status\":\"ok\",\"ms\":12,\"detail\":\"bubblewrap 0.8.0: loopback only\"}",
    "{\"ts\":\"2026-11-29T06:13:32.711Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":"
    "\"proxies\",\"status\":\"start\",\"detail\":\"pipelock, then egress\"}",
    "{\"ts\":\"2026-11-29T06:13:32.711Z\",\"bottle\":\"demo\",\"type\":\"cmd\",\"step\":"
    "\"proxies\",\"argv\":[\"bottle-proxy\",\"pipelock\",\"--listen\",\"127.0.0.1:0\"]}",
    "{\"ts\":\"2026-11-29T06:13:32.780Z\",\"bottle\":\"demo\",\"type\":\"hop\",\"hop\":"
    "\"pipelock\",\"listen\":\"127.0.0.1:34473\",\"pid\":3081,\"status\":\"up\"}",
    "{\"ts\":\"2026-11-29T06:13:32.781Z\",\"bottle\":\"demo\",\"type\":\"cmd\",\"step\":"
    "\"proxies\",\"argv\":[\"bottle-proxy\",\"egress\",\"--listen\",\"127.0.0.1:0\"]}",
    "{\"ts\":\"2026-11-29T06:13:32.847Z\",\"bottle\":\"demo\",\"type\":\"hop\",\"hop\":\"egress\","
    "\"listen\":\"127.0.0.1:44641\",\"pid\":3082,\"status\":\"up\"}",
    "{\"ts\":\"2026-11-29T06:13:32.848Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":"
    "\"proxies\",\"status\":\"ok\",\"ms\":137,\"detail\":\"first hop egress listening\"}",
    "{\"ts\":\"2026-11-29T06:13:32.848Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":\"gate\","
    "\"status\":\"skip\",\"ms\":0,\"detail\":\"no git.repos\"}",
    "{\"ts\":\"2026-11-29T06:13:32.848Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":\"start\","
    "\"status\":\"ok\",\"ms\":0,\"detail\":\"relay 127.0.0.1:9099\"}",
    "{\"ts\":\"2026-11-29T06:13:33.016Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":\"ca\","
    "\"status\":\"ok\",\"ms\":167,\"detail\":\"egress CA "
    "trusted\",\"fingerprint\":\"6A:60:AA:AA:EF:9C:CD:B2:77:50:E5:D7:95:93:51:CD:F9:76:68:B8:1B:17:"
    "84:C7:12:5D:DA:7D:FC:A9:2C:41\"}",
    "{\"ts\":\"2026-11-29T06:13:33.016Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":"
    "\"prompt\",\"status\":\"ok\",\"ms\":0,\"detail\":\"mounted read-only\"}",
    "{\"ts\":\"2026-11-29T06:13:33.016Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":\"agent\","
    "\"status\":\"start\",\"detail\":\"sh\"}",
    "{\"ts\":\"2026-11-29T06:13:33.020Z\",\"bottle\":\"demo\",\"type\":\"step\",\"step\":\"agent\","
    "\"status\":\"ok\",\"ms\":5,\"detail\":\"pid 3091\"}",
    "{\"ts\":\"2026-11-29T06:13:33.020Z\",\"bottle\":\"demo\",\"type\":\"state\",\"state\":"
    "\"running\"}",
    "{\"ts\":\"2026-11-29T06:13:33.064Z\",\"bottle\":\"demo\",\"type\":\"output\",\"step\":"
    "\"agent\",\"stream\":\"stdout\",\"line\":\"demo-agent: round 1\"}",
    "{\"ts\":\"2026-11-29T06:13:33.204Z\",\"bottle\":\"demo\",\"type\":\"request\",\"hop\":"
    "\"egress\",\"id\":1,\"method\":\"GET\",\"scheme\":\"https\",\"host\":\"api.demo.test\","
    "\"port\":443,\"path\":\"/v1/"
    "hello\",\"status\":200,\"bytes_up\":0,\"bytes_down\":146,\"ms\":50,\"verdict\":\"allow\","
    "\"auth\":\"rewritten:api.demo.test\"}",
    "{\"ts\":\"2026-11-29T06:13:33.204Z\",\"bottle\":\"demo\",\"type\":\"request\",\"hop\":"
    "\"pipelock\",\"id\":1,\"method\":\"GET\",\"scheme\":\"https\",\"host\":\"api.demo.test\","
    "\"port\":443,\"path\":\"/v1/"
    "hello\",\"status\":200,\"bytes_up\":0,\"bytes_down\":146,\"ms\":49,\"verdict\":\"allow\","
    "\"rule\":\"api.demo.test\"}",
    "{\"ts\":\"2026-11-29T06:13:33.321Z\",\"bottle\":\"demo\",\"type\":\"request\",\"hop\":"
    "\"egress\",\"id\":2,\"method\":\"POST\",\"scheme\":\"https\",\"host\":\"api.demo.test\","
    "\"port\":443,\"path\":\"/v1/"
    "messages\",\"status\":200,\"bytes_up\":18,\"bytes_down\":146,\"ms\":1,\"verdict\":\"allow\","
    "\"auth\":\"rewritten:api.demo.test\"}",
    "{\"ts\":\"2026-11-29T06:13:33.436Z\",\"bottle\":\"demo\",\"type\":\"request\",\"hop\":"
    "\"egress\",\"id\":3,\"method\":\"GET\",\"scheme\":\"https\",\"host\":\"evil.demo.test\","
    "\"port\":443,\"path\":\"/"
    "upload\",\"status\":403,\"bytes_up\":0,\"bytes_down\":196,\"ms\":0,\"verdict\":\"block\","
    "\"reason\":\"host not in allowlist\"}",
    "{\"ts\":\"2026-11-29T06:13:33.437Z\",\"bottle\":\"demo\",\"type\":\"request\",\"hop\":"
    "\"pipelock\",\"id\":3,\"method\":\"GET\",\"scheme\":\"https\",\"host\":\"evil.demo.test\","
    "\"port\":443,\"path\":\"/"
    "upload\",\"status\":403,\"bytes_up\":0,\"bytes_down\":0,\"ms\":0,\"verdict\":\"block\","
    "\"reason\":\"host not in allowlist\"}",
    "{\"ts\":\"2026-11-29T06:13:33.500Z\",\"bottle\":\"demo\",\"type\":\"request\",\"hop\":"
    "\"egress\",\"id\":4,\"method\":\"GET\",\"scheme\":\"https\",\"host\":\"api.demo.test\","
    "\"port\":443,\"path\":\"/v1/"
    "search\",\"status\":403,\"bytes_up\":0,\"bytes_down\":120,\"ms\":2,\"verdict\":\"block\","
    "\"reason\":\"DLP: aws-access-key\"}",
    "{\"ts\":\"2026-11-29T06:13:34.000Z\",\"bottle\":\"demo\",\"type\":\"hop\",\"hop\":"
    "\"pipelock\",\"listen\":\"127.0.0.1:34473\",\"pid\":3081,\"status\":\"down\"}",
    "{\"ts\":\"2026-11-29T06:13:34.500Z\",\"bottle\":\"demo\",\"type\":\"hop\",\"hop\":"
    "\"pipelock\",\"listen\":\"127.0.0.1:34473\",\"pid\":3200,\"status\":\"restarted\"}",
};

/* A bottle whose agent step failed: its output must be on screen without scrolling. */
static const char *const failed_events[] = {
    "{\"ts\":\"2026-11-29T07:00:00.000Z\",\"bottle\":\"broken\",\"type\":\"state\",\"state\":"
    "\"creating\"}",
    "{\"ts\":\"2026-11-29T07:00:00.000Z\",\"bottle\":\"broken\",\"type\":\"state\",\"state\":"
    "\"provisioning\"}",
    "{\"ts\":\"2026-11-29T07:00:00.010Z\",\"bottle\":\"broken\",\"type\":\"step\",\"step\":"
    "\"network\",\"status\":\"ok\",\"ms\":10,\"detail\":\"ok\"}",
    "{\"ts\":\"2026-11-29T07:00:00.100Z\",\"bottle\":\"broken\",\"type\":\"step\",\"step\":"
    "\"proxies\",\"status\":\"ok\",\"ms\":90,\"detail\":\"ok\"}",
    "{\"ts\":\"2026-11-29T07:00:00.200Z\",\"bottle\":\"broken\",\"type\":\"step\",\"step\":"
    "\"agent\",\"status\":\"start\",\"detail\":\"no-such-agent\"}",
    "{\"ts\":\"2026-11-29T07:00:00.201Z\",\"bottle\":\"broken\",\"type\":\"cmd\",\"step\":"
    "\"agent\",\"argv\":[\"bwrap\",\"--\",\"no-such-agent\"]}",
    "{\"ts\":\"2026-11-29T07:00:00.202Z\",\"bottle\":\"broken\",\"type\":\"output\",\"step\":"
    "\"agent\",\"stream\":\"stderr\",\"line\":\"sandbox-init: cannot run no-such-agent: No such "
    "file or directory\"}",
    "{\"ts\":\"2026-11-29T07:00:00.203Z\",\"bottle\":\"broken\",\"type\":\"step\",\"step\":"
    "\"agent\",\"status\":\"fail\",\"ms\":3,\"detail\":\"the agent exited 127\"}",
    "{\"ts\":\"2026-11-29T07:00:00.300Z\",\"bottle\":\"broken\",\"type\":\"state\",\"state\":"
    "\"stopping\"}",
    "{\"ts\":\"2026-11-29T07:00:00.400Z\",\"bottle\":\"broken\",\"type\":\"state\",\"state\":"
    "\"failed\"}",
};

static const char *const steps10[] = {"network", "proxies",   "gate",   "start",  "ca",
                                      "git",     "supervise", "prompt", "skills", "agent"};
static const bool skip10[] = {false, false, false, false, false, true, false, false, true, false};

static void feed(struct tui_model *m, struct tui_bottle *b, const char *const *ev, size_t n,
                 uint64_t now)
{
    for (size_t i = 0; i < n; i++) {
        const char *err = NULL;
        cJSON *o = event_parse_line(ev[i], strlen(ev[i]), &err);
        if (!o) {
            fprintf(stderr, "fixture %zu: %s\n", i, err);
            exit(1);
        }
        tui_model_apply(m, b, o, now);
        cJSON_Delete(o);
    }
}

static void fixture(struct tui_model *m)
{
    tui_model_init(m, 0);
    struct tui_bottle *d = tui_model_add(m, "demo", "local", "demo.yaml");
    tui_bottle_set_steps(d, steps10, skip10, 10);
    tui_bottle_set_hop(d, 0, "egress", "127.0.0.1:9099");
    tui_bottle_set_hop(d, 1, "pipelock", NULL);
    snprintf(d->upstream, sizeof d->upstream, "api.demo.test at 127.0.0.1:18443");
    feed(m, d, demo_events, sizeof demo_events / sizeof *demo_events, 1000);
    struct tui_bottle *f = tui_model_add(m, "broken", "docker", "broken.yaml");
    tui_bottle_set_steps(f, steps10, skip10, 10);
    feed(m, f, failed_events, sizeof failed_events / sizeof *failed_events, 1000);
    tui_model_add(m, "idle", "smolvm", "idle.yaml");
}

/* ---- off-screen rendering and read-back ---------------------------------------------------- */

struct rig {
    struct tui_screen scr;
    struct tui_model m;
    struct tui_view v;
};

static void rig_open(struct rig *r, int rows, int cols, bool utf8)
{
    if (!setlocale(LC_ALL, "C.UTF-8")) {
        fprintf(stderr, "no C.UTF-8 locale\n");
        exit(77);
    }
    CHECK(tui_screen_open_offscreen(&r->scr, rows, cols, utf8, false) == 0);
    fixture(&r->m);
    tui_view_init(&r->v, &r->scr, &r->m);
}

static void rig_close(struct rig *r)
{
    tui_view_free(&r->v);
    tui_screen_close(&r->scr);
    tui_model_free(&r->m);
}

/* The text of curscr's rectangle, trailing blanks trimmed, one line each. */
static char *read_back(int y0, int x0, int h, int w)
{
    struct buf out;
    buf_init(&out, 0);
    for (int y = y0; y < y0 + h; y++) {
        size_t start = out.len, keep = out.len;
        for (int x = x0; x < x0 + w; x++) {
            cchar_t cc;
            wchar_t wch[CCHARW_MAX + 1] = {0};
            attr_t at;
            short pair;
            if (mvwin_wch(curscr, y, x, &cc) == ERR)
                break;
            getcchar(&cc, wch, &at, &pair, NULL);
            char mb[MB_LEN_MAX * 2];
            mbstate_t st;
            memset(&st, 0, sizeof st);
            size_t n = wch[0] ? wcrtomb(mb, wch[0], &st) : 0;
            if (n == (size_t)-1 || n == 0) {
                mb[0] = ' ';
                n = 1;
            }
            buf_append(&out, mb, n);
            if (!(n == 1 && mb[0] == ' '))
                keep = out.len;
        }
        (void)start;
        out.len = keep;
        buf_append(&out, "\n", 1);
    }
    char *s = xstrndup(out.p ? out.p : "", out.len);
    buf_free(&out);
    return s;
}

static void render(struct rig *r, uint64_t now)
{
    tui_view_draw(&r->v, now);
    wnoutrefresh(stdscr);
    doupdate();
}

/* Compare TEXT with tests/golden/tui/NAME.txt; UPDATE_GOLDEN=1 rewrites it. */
static void golden(const char *name, const char *text)
{
    const char *src = getenv("BOTTLE_SRC");
    if (!src)
        src = ".";
    char *path = xasprintf("%s/tests/golden/tui/%s.txt", src, name);
    if (getenv("UPDATE_GOLDEN")) {
        char *dir = xasprintf("%s/tests/golden/tui", src);
        mkdir_p(dir, 0755);
        free(dir);
        FILE *f = fopen(path, "w");
        CHECK(f);
        fputs(text, f);
        fclose(f);
        free(path);
        return;
    }
    size_t len = 0;
    char *want = file_read_all(path, 1 << 20, &len);
    if (!want) {
        fprintf(stderr, "missing golden %s (run with UPDATE_GOLDEN=1)\n--- got\n%s", path, text);
        exit(1);
    }
    if (strcmp(want, text) != 0) {
        fprintf(stderr, "%s differs\n--- want\n%s--- got\n%s", path, want, text);
        exit(1);
    }
    free(want);
    free(path);
}

static void panel_golden(struct rig *r, enum tui_panel_id id, const char *name)
{
    struct tui_rect rc = r->v.p[id]->r;
    char *t = read_back(rc.y, rc.x, rc.h, rc.w);
    golden(name, t);
    free(t);
}

static void screen_golden(struct rig *r, const char *name)
{
    char *t = read_back(0, 0, r->scr.rows, r->scr.cols);
    golden(name, t);
    free(t);
}

#define NOW (1000 + 65000) /* 1m05s after the fixture ran */

/* ---- tests -------------------------------------------------------------------------------- */

static void bottles_panel(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    r.v.sel = 1;
    render(&r, NOW);
    panel_golden(&r, TUI_P_BOTTLES, "bottles");
    rig_close(&r);
}

static void steps_panel_running(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    r.m.b[0]->steps[0].expanded = true; /* network: its command and output */
    render(&r, NOW);
    panel_golden(&r, TUI_P_STEPS, "steps-running");
    rig_close(&r);
}

static void steps_panel_failed(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    r.v.sel = 1;
    render(&r, NOW);
    panel_golden(&r, TUI_P_STEPS, "steps-failed");
    /* The failure and the output explaining it are on screen at once. */
    struct tui_rect rc = r.v.p[TUI_P_STEPS]->r;
    char *t = read_back(rc.y, rc.x, rc.h, rc.w);
    CHECK(strstr(t, "failed at 'agent'"));
    CHECK(strstr(t, "sandbox-init: cannot run"));
    CHECK(strstr(t, "no-such-agent: No such file"));
    free(t);
    rig_close(&r);
}

static void chain_panel(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    render(&r, NOW);
    panel_golden(&r, TUI_P_CHAIN, "chain");
    rig_close(&r);
}

static void requests_panel(void)
{
    struct rig r;
    rig_open(&r, 40, 160, true);
    render(&r, NOW);
    panel_golden(&r, TUI_P_REQUESTS, "requests-wide");
    rig_close(&r);
}

static void requests_filtered(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    enum tui_action act;
    size_t idx;
    const char *keys = "/evil\r";
    for (const char *k = keys; *k; k++)
        tui_view_key(&r.v, *k, &act, &idx);
    CHECK_STR(r.v.filter, "evil");
    render(&r, NOW);
    panel_golden(&r, TUI_P_REQUESTS, "requests-filter");
    tui_view_key(&r.v, 27, &act, &idx);
    tui_view_key(&r.v, 'b', &act, &idx);
    CHECK(r.v.blocked_only);
    render(&r, NOW);
    panel_golden(&r, TUI_P_REQUESTS, "requests-blocked");
    rig_close(&r);
}

static void cmdlog_panel(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, 'c', &act, &idx);
    render(&r, NOW);
    panel_golden(&r, TUI_P_CMDLOG, "cmdlog");
    rig_close(&r);
}

static void help_overlay(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, '?', &act, &idx);
    render(&r, NOW);
    panel_golden(&r, TUI_P_HELP, "help");
    rig_close(&r);
}

static void whole_ascii_80x24(void)
{
    struct rig r;
    rig_open(&r, 24, 80, false);
    render(&r, NOW);
    screen_golden(&r, "screen-ascii-80x24");
    char *t = read_back(0, 0, 24, 80);
    for (const char *p = t; *p; p++)
        CHECK((unsigned char)*p < 0x80);
    free(t);
    rig_close(&r);
}

static void whole_utf8_120x40(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    render(&r, NOW);
    screen_golden(&r, "screen-utf8-120x40");
    /* Resize in place: the layout follows. */
    tui_screen_resize_to(&r.scr, 24, 80);
    tui_view_layout(&r.v);
    render(&r, NOW);
    screen_golden(&r, "screen-utf8-resized-80x24");
    rig_close(&r);
}

/* ---- model and key behaviour ---------------------------------------------------------------- */

static void confirmations(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    enum tui_action act;
    size_t idx = 99;
    /* kill: k asks; anything but y cancels; y confirms for the selected bottle. */
    tui_view_key(&r.v, 'k', &act, &idx);
    CHECK(r.v.prompt == TUI_PROMPT_CONFIRM);
    tui_view_key(&r.v, 'n', &act, &idx);
    CHECK(act == TUI_ACT_NONE && r.v.prompt == TUI_PROMPT_NONE);
    tui_view_key(&r.v, 'k', &act, &idx);
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_KILL && idx == 0);
    /* launch: refused for a running bottle, asked for a stopped one. */
    tui_view_key(&r.v, 'n', &act, &idx);
    CHECK(r.v.prompt == TUI_PROMPT_NONE && strstr(r.v.msg, "running"));
    r.v.sel = 2;
    tui_view_key(&r.v, '\r', &act, &idx);
    CHECK(r.v.prompt == TUI_PROMPT_CONFIRM);
    tui_view_key(&r.v, 'Y', &act, &idx);
    CHECK(act == TUI_ACT_LAUNCH && idx == 2);
    tui_view_key(&r.v, 'r', &act, &idx);
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_RESTART && idx == 2);
    /* quit names the running bottles. */
    tui_view_key(&r.v, 'q', &act, &idx);
    CHECK(strstr(r.v.prompt_text, "1 running bottle"));
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_QUIT);
    rig_close(&r);
}

static void history_bounded(void)
{
    struct tui_model m;
    tui_model_init(&m, 5);
    struct tui_bottle *b = tui_model_add(&m, "x", "local", NULL);
    tui_bottle_set_hop(b, 0, "egress", NULL);
    for (int i = 0; i < 12; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"ts\":\"2026-11-29T06:00:00.000Z\",\"bottle\":\"x\",\"type\":\"request\","
                 "\"hop\":\"egress\",\"id\":%d,\"method\":\"GET\",\"host\":\"h%d\",\"path\":\"/\","
                 "\"status\":200,\"verdict\":\"%s\"}",
                 i, i, i % 3 ? "allow" : "block");
        const char *err;
        cJSON *o = event_parse_line(line, strlen(line), &err);
        CHECK(o);
        tui_model_apply(&m, b, o, 1);
        cJSON_Delete(o);
    }
    CHECK_INT(b->reqs.n, 5);
    CHECK_INT(b->requests, 12);
    CHECK_INT(b->blocks, 4);
    CHECK(tui_reqs_at(&b->reqs, 6) == NULL);
    CHECK_STR(tui_reqs_at(&b->reqs, 7)->host, "h7");
    CHECK_STR(tui_reqs_at(&b->reqs, 11)->host, "h11");
    CHECK_INT(b->hops[0].requests, 12);
    tui_model_free(&m);
}

static void paused_view_holds(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    enum tui_action act;
    size_t idx;
    r.v.focus = TUI_P_REQUESTS;
    tui_view_key(&r.v, KEY_UP, &act, &idx);
    CHECK(!r.v.p[TUI_P_REQUESTS]->follow);
    render(&r, NOW);
    struct tui_rect rc = r.v.p[TUI_P_REQUESTS]->r;
    char *before = read_back(rc.y + 1, rc.x, rc.h - 1, rc.w);
    /* New requests arrive while paused: the rows on screen stay put. */
    feed(&r.m, r.m.b[0], demo_events + 20, 4, 2000);
    render(&r, NOW);
    char *after = read_back(rc.y + 1, rc.x, rc.h - 1, rc.w);
    CHECK_STR(after, before);
    tui_view_key(&r.v, KEY_END, &act, &idx);
    CHECK(r.v.p[TUI_P_REQUESTS]->follow);
    free(before);
    free(after);
    rig_close(&r);
}

static void restart_resets_run(void)
{
    struct tui_model m;
    fixture(&m);
    struct tui_bottle *b = m.b[1];
    CHECK(b->fail_step && b->state == TUI_ST_FAILED);
    feed(&m, b, failed_events, 1, 5000);
    CHECK(b->state == TUI_ST_CREATING);
    CHECK(b->fail_step == NULL);
    CHECK(b->steps[9].status == TUI_STEP_PENDING && b->steps[9].out.n == 0);
    CHECK(b->steps[8].status == TUI_STEP_SKIPPED);
    tui_model_free(&m);
}

static void hostile_text_is_inert(void)
{
    struct rig r;
    rig_open(&r, 24, 80, false);
    const char *ev =
        "{\"ts\":\"2026-11-29T06:13:40.000Z\",\"bottle\":\"demo\",\"type\":\"output\","
        "\"step\":\"network\",\"stream\":\"stdout\",\"line\":\"\\u001b]0;pwn\\u0007x\\u00e9\"}";
    feed(&r.m, r.m.b[0], &ev, 1, 2000);
    r.m.b[0]->steps[0].expanded = true;
    render(&r, NOW);
    struct tui_rect rc = r.v.p[TUI_P_STEPS]->r;
    char *t = read_back(rc.y, rc.x, rc.h, rc.w);
    CHECK(strstr(t, "?]0;pwn?x?"));
    free(t);
    rig_close(&r);
}

/* ---- attributes, mouse, keys ---------------------------------------------------------------- */

/* Row Y of curscr as one ASCII char per column (others as '?'), for finding columns. */
static void row_ascii(int y, char *out, int cols)
{
    for (int x = 0; x < cols; x++) {
        cchar_t cc;
        wchar_t wch[CCHARW_MAX + 1] = {0};
        attr_t at;
        short pair;
        out[x] = '?';
        if (mvwin_wch(curscr, y, x, &cc) == OK && getcchar(&cc, wch, &at, &pair, NULL) != ERR)
            out[x] = wch[0] >= 0x20 && wch[0] < 0x7f ? (char)wch[0] : '?';
    }
    out[cols] = '\0';
}

static attr_t cell_attr(int y, int x, short *pair)
{
    cchar_t cc;
    wchar_t wch[CCHARW_MAX + 1] = {0};
    attr_t at = 0;
    short pr = 0;
    mvwin_wch(curscr, y, x, &cc);
    getcchar(&cc, wch, &at, &pr, NULL);
    if (pair)
        *pair = pr;
    return at & ~A_COLOR;
}

/* The first screen row in Y0..Y1 whose text contains NEEDLE; *X gets its column. */
static int find_on_screen(struct rig *r, int y0, int y1, const char *needle, int *x)
{
    char line[512];
    for (int y = y0; y <= y1; y++) {
        row_ascii(y, line, r->scr.cols);
        const char *p = strstr(line, needle);
        if (p) {
            *x = (int)(p - line);
            return y;
        }
    }
    return -1;
}

static void filter_highlights_matches(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true); /* monochrome: the match is bold+underline */
    enum tui_action act;
    size_t idx;
    for (const char *k = "/EVIL\r"; *k; k++)
        tui_view_key(&r.v, *k, &act, &idx);
    render(&r, NOW);
    struct tui_rect rc = r.v.p[TUI_P_REQUESTS]->r;
    int x, y = find_on_screen(&r, rc.y + 2, rc.y + rc.h - 2, "evil.demo.test", &x);
    CHECK(y > 0);
    /* Case-insensitive: "evil" is drawn in the match role, the rest of the URL is not. */
    for (int i = 0; i < 4; i++)
        CHECK((cell_attr(y, x + i, NULL) & (A_UNDERLINE | A_BOLD)) == (A_UNDERLINE | A_BOLD));
    CHECK(!(cell_attr(y, x + 4, NULL) & A_UNDERLINE));
    CHECK(!(cell_attr(y, x + 6, NULL) & A_UNDERLINE));
    rig_close(&r);

    /* In colour, the match has its own colour pair. */
    CHECK(tui_screen_open_offscreen(&r.scr, 40, 120, true, true) == 0);
    fixture(&r.m);
    tui_view_init(&r.v, &r.scr, &r.m);
    CHECK(r.scr.color);
    for (const char *k = "/evil\r"; *k; k++)
        tui_view_key(&r.v, *k, &act, &idx);
    render(&r, NOW);
    y = find_on_screen(&r, rc.y + 2, rc.y + rc.h - 2, "evil.demo.test", &x);
    CHECK(y > 0);
    short pm = 0, pn = 0;
    cell_attr(y, x, &pm);
    cell_attr(y, x + 5, &pn);
    CHECK(pm != 0 && pm != pn);
    rig_close(&r);
}

static void monochrome_fallback(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    CHECK(!r.scr.color);
    /* Every role that carries meaning has a non-colour attribute, and failure
     * reads differently from success. */
    enum tui_role roles[] = {TUI_R_HEADER, TUI_R_FOCUS, TUI_R_SELECT, TUI_R_OK,
                             TUI_R_FAIL,   TUI_R_WARN,  TUI_R_RUN,    TUI_R_MATCH};
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++) {
        CHECK(tui_attr(&r.scr, roles[i]) != A_NORMAL);
        CHECK((tui_attr(&r.scr, roles[i]) & A_COLOR) == 0);
    }
    CHECK(tui_attr(&r.scr, TUI_R_FAIL) != tui_attr(&r.scr, TUI_R_OK));
    render(&r, NOW);
    /* Nothing on screen uses a colour pair. */
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 80; x++) {
            short pair = 0;
            cell_attr(y, x, &pair);
            CHECK(pair == 0);
        }
    /* The selected bottle's row is reversed, the failed bottle's state underlined. */
    int x, y = find_on_screen(&r, 1, 8, "demo", &x);
    CHECK(y > 0 && (cell_attr(y, x, NULL) & A_REVERSE));
    y = find_on_screen(&r, 1, 8, "failed", &x);
    CHECK(y > 0 && (cell_attr(y, x, NULL) & A_UNDERLINE));
    rig_close(&r);
}

static void mouse_selects_and_scrolls(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    render(&r, NOW);
    struct tui_rect bp = r.v.p[TUI_P_BOTTLES]->r, rp = r.v.p[TUI_P_REQUESTS]->r,
                    sp = r.v.p[TUI_P_STEPS]->r;
    /* A click on the second bottle's row selects it and focuses the pane. */
    r.v.focus = TUI_P_REQUESTS;
    CHECK(tui_view_mouse(&r.v, bp.y + 3, bp.x + 3, BUTTON1_CLICKED) & TUI_REDRAW);
    CHECK_INT(r.v.sel, 1);
    CHECK(r.v.focus == TUI_P_BOTTLES);
    /* The wheel over the bottles pane moves the selection. */
    tui_view_mouse(&r.v, bp.y + 3, bp.x + 3, BUTTON5_PRESSED);
    CHECK_INT(r.v.sel, 2);
    tui_view_mouse(&r.v, bp.y + 3, bp.x + 3, BUTTON4_PRESSED);
    tui_view_mouse(&r.v, bp.y + 3, bp.x + 3, BUTTON4_PRESSED);
    CHECK_INT(r.v.sel, 0);
    /* The wheel over the requests pane scrolls it back and pauses it. */
    render(&r, NOW);
    int x;
    CHECK(find_on_screen(&r, rp.y, rp.y, "[following]", &x) == rp.y);
    CHECK(find_on_screen(&r, rp.y + 2, rp.y + rp.h - 2, "/v1/search", &x) > 0);
    tui_view_mouse(&r.v, rp.y + 5, rp.x + 10, BUTTON4_PRESSED);
    CHECK(!r.v.p[TUI_P_REQUESTS]->follow);
    CHECK(r.v.focus == TUI_P_BOTTLES); /* the wheel scrolls without moving focus */
    render(&r, NOW);
    CHECK(find_on_screen(&r, rp.y, rp.y, "[paused]", &x) == rp.y);
    CHECK(find_on_screen(&r, rp.y + 2, rp.y + rp.h - 2, "/v1/search", &x) < 0);
    /* ...and forward again; End resumes following. */
    tui_view_mouse(&r.v, rp.y + 5, rp.x + 10, BUTTON5_PRESSED);
    render(&r, NOW);
    CHECK(find_on_screen(&r, rp.y + 2, rp.y + rp.h - 2, "/v1/search", &x) > 0);
    /* The wheel over the steps pane moves the step cursor. */
    r.v.p[TUI_P_STEPS]->cursor = 0;
    tui_view_mouse(&r.v, sp.y + 3, sp.x + 3, BUTTON5_PRESSED);
    CHECK_INT(r.v.p[TUI_P_STEPS]->cursor, 1);
    /* A click anywhere closes the help overlay. */
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, '?', &act, &idx);
    CHECK(r.v.show_help);
    tui_view_mouse(&r.v, 20, 60, BUTTON1_CLICKED);
    CHECK(!r.v.show_help);
    rig_close(&r);
}

/* ---- approvals and gate ------------------------------------------------------------------------
 */

/* The demo agent asks a question, asks for a host, says something, and has
 * one request already denied; and it pushed two branches to the gate. */
static const char *const sup_events[] = {
    "{\"ts\":\"2026-11-29T06:13:40.000Z\",\"bottle\":\"demo\",\"type\":\"supervise\","
    "\"tool\":\"notify_operator\",\"id\":\"1\",\"status\":\"delivered\",\"summary\":\"tests "
    "are green\"}",
    "{\"ts\":\"2026-11-29T06:13:41.000Z\",\"bottle\":\"demo\",\"type\":\"supervise\","
    "\"tool\":\"request_egress\",\"id\":\"2\",\"status\":\"pending\",\"summary\":\"pypi.org: "
    "pip install\"}",
    "{\"ts\":\"2026-11-29T06:13:42.000Z\",\"bottle\":\"demo\",\"type\":\"supervise\","
    "\"tool\":\"request_egress\",\"id\":\"2\",\"status\":\"denied\",\"summary\":\"pypi.org\"}",
    "{\"ts\":\"2026-11-29T06:13:43.000Z\",\"bottle\":\"demo\",\"type\":\"supervise\","
    "\"tool\":\"ask_operator\",\"id\":\"3\",\"status\":\"pending\",\"summary\":\"which "
    "branch should I rebase on?\"}",
    "{\"ts\":\"2026-11-29T06:13:44.000Z\",\"bottle\":\"demo\",\"type\":\"supervise\","
    "\"tool\":\"request_egress\",\"id\":\"4\",\"status\":\"pending\",\"summary\":"
    "\"docs.demo.test: read the API docs\"}",
    "{\"ts\":\"2026-11-29T06:13:45.000Z\",\"bottle\":\"demo\",\"type\":\"gate\",\"op\":"
    "\"push\",\"repo\":\"project\",\"refs\":\"refs/heads/agent-fix "
    "000000000000..1a2b3c4d5e6f fix the flaky test\"}",
    "{\"ts\":\"2026-11-29T06:13:46.000Z\",\"bottle\":\"demo\",\"type\":\"gate\",\"op\":"
    "\"push\",\"repo\":\"project\",\"refs\":\"refs/heads/feature/docs "
    "abcdef012345..0f1e2d3c4b5a document the gate\"}",
};

static void feed_sup(struct rig *r)
{
    feed(&r->m, r->m.b[0], sup_events, sizeof sup_events / sizeof *sup_events, NOW - 30000);
}

static void approvals_panes(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    feed_sup(&r);
    struct tui_bottle *b = r.m.b[0];
    CHECK_INT(b->sup.npending, 2);
    CHECK_INT(b->sup.npushes, 2);
    render(&r, NOW);
    /* Pending calls are on screen with no key: a strip over the requests,
     * the bottle's marker, the status bar. */
    panel_golden(&r, TUI_P_APPROVALS, "approvals-strip");
    int x;
    CHECK(find_on_screen(&r, 39, 39, "2 pending approvals", &x) == 39);
    CHECK(find_on_screen(&r, 2, 8, "!2", &x) > 0);
    struct tui_rect rp = r.v.p[TUI_P_REQUESTS]->r, ap = r.v.p[TUI_P_APPROVALS]->r;
    CHECK(rp.h > 0 && rp.y == ap.y + ap.h);
    /* p focuses it, p again shows the history too. */
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, 'p', &act, &idx);
    CHECK(r.v.focus == TUI_P_APPROVALS);
    tui_view_key(&r.v, 'p', &act, &idx);
    CHECK(r.v.show_approvals);
    render(&r, NOW);
    panel_golden(&r, TUI_P_APPROVALS, "approvals-full");
    /* A resolved call leaves the pending list and shows in the history. */
    const char *ans = "{\"ts\":\"2026-11-29T06:14:00.000Z\",\"bottle\":\"demo\",\"type\":"
                      "\"supervise\",\"tool\":\"ask_operator\",\"id\":\"3\",\"status\":"
                      "\"answered\",\"summary\":\"main\"}";
    feed(&r.m, b, &ans, 1, NOW);
    CHECK_INT(b->sup.npending, 1);
    render(&r, NOW);
    CHECK(find_on_screen(&r, ap.y, ap.y + ap.h - 1,
                         "answered  which branch should I rebase on? -> main", &x) > 0);
    /* The run ends: what was pending is cancelled, the strip goes. */
    const char *stop = "{\"ts\":\"2026-11-29T06:15:00.000Z\",\"bottle\":\"demo\",\"type\":"
                       "\"state\",\"state\":\"stopped\"}";
    feed(&r.m, b, &stop, 1, NOW);
    CHECK_INT(b->sup.npending, 0);
    tui_view_key(&r.v, 'p', &act, &idx);
    CHECK(!r.v.show_approvals && r.v.focus != TUI_P_APPROVALS);
    render(&r, NOW);
    CHECK(r.v.p[TUI_P_APPROVALS]->r.h == 0);
    CHECK(find_on_screen(&r, 39, 39, "pending approval", &x) < 0);
    rig_close(&r);
}

static void approvals_keys(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    feed_sup(&r);
    render(&r, NOW);
    screen_golden(&r, "screen-approvals-80x24");
    enum tui_action act;
    size_t idx = 99;
    /* y with the bottles pane focused reaches the oldest pending call: the question. */
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(r.v.prompt == TUI_PROMPT_INPUT);
    CHECK_STR(r.v.act_id, "3");
    for (const char *k = "use mainX"; *k; k++)
        tui_view_key(&r.v, *k, &act, &idx);
    tui_view_key(&r.v, KEY_BACKSPACE, &act, &idx);
    render(&r, NOW);
    int x;
    CHECK(find_on_screen(&r, 23, 23, "answer #3: use main", &x) == 23);
    tui_view_key(&r.v, '\r', &act, &idx);
    CHECK(act == TUI_ACT_ANSWER && idx == 0);
    CHECK_STR(r.v.input, "use main");
    /* Esc cancels a typed answer. */
    tui_view_key(&r.v, 'y', &act, &idx);
    tui_view_key(&r.v, 'x', &act, &idx);
    tui_view_key(&r.v, 27, &act, &idx);
    CHECK(act == TUI_ACT_NONE && r.v.prompt == TUI_PROMPT_NONE);
    /* The egress request: Enter approves for this run at once, d denies, S asks first. */
    r.v.focus = TUI_P_APPROVALS;
    tui_view_key(&r.v, KEY_DOWN, &act, &idx);
    tui_view_key(&r.v, '\r', &act, &idx);
    CHECK(act == TUI_ACT_APPROVE);
    CHECK_STR(r.v.act_id, "4");
    tui_view_key(&r.v, 'd', &act, &idx);
    CHECK(act == TUI_ACT_DENY);
    tui_view_key(&r.v, 'S', &act, &idx);
    CHECK(act == TUI_ACT_NONE && r.v.prompt == TUI_PROMPT_CONFIRM);
    CHECK(strstr(r.v.prompt_text, "docs.demo.test") && strstr(r.v.prompt_text, "manifest"));
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_APPROVE_SAVE);
    rig_close(&r);
}

static void requests_allow_blocked(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    enum tui_action act;
    size_t idx;
    r.v.focus = TUI_P_REQUESTS;
    /* Following: the newest blocked request is selected; it is a DLP block. */
    render(&r, NOW);
    const struct tui_req *q = tui_requests_selected(&r.v);
    CHECK(q && strcmp(q->host, "api.demo.test") == 0 && q->blocked);
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_NONE && r.v.prompt == TUI_PROMPT_NONE &&
          strstr(r.v.msg, "not the allowlist"));
    /* Up pauses and selects; up to the allowlist block. */
    tui_view_key(&r.v, KEY_UP, &act, &idx);
    q = tui_requests_selected(&r.v);
    CHECK(q && strcmp(q->host, "evil.demo.test") == 0);
    render(&r, NOW);
    int x;
    struct tui_rect rc = r.v.p[TUI_P_REQUESTS]->r;
    int y = find_on_screen(&r, rc.y + 2, rc.y + rc.h - 2, "evil.demo.test/upload", &x);
    CHECK(y > 0 && (cell_attr(y + 1, x, NULL) & A_REVERSE) &&
          !(cell_attr(y - 1, x, NULL) & A_REVERSE));
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(r.v.prompt == TUI_PROMPT_CONFIRM &&
          strstr(r.v.prompt_text, "Allow evil.demo.test for this run"));
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_ALLOW_HOST);
    CHECK_STR(r.v.act_arg, "evil.demo.test");
    tui_view_key(&r.v, 'S', &act, &idx);
    tui_view_key(&r.v, 'n', &act, &idx);
    CHECK(act == TUI_ACT_NONE);
    tui_view_key(&r.v, 'S', &act, &idx);
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_ALLOW_HOST_SAVE);
    rig_close(&r);
}

static void gate_pane(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    feed_sup(&r);
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, 'g', &act, &idx);
    CHECK(r.v.show_gate && r.v.focus == TUI_P_GATE);
    render(&r, NOW);
    panel_golden(&r, TUI_P_GATE, "gate");
    /* Enter on the second row (the older push) asks for its log. */
    tui_view_key(&r.v, KEY_DOWN, &act, &idx);
    tui_view_key(&r.v, '\r', &act, &idx);
    CHECK(act == TUI_ACT_GATE_LOG && r.v.act_idx == 0);
    /* What the app does with the log: the overlay and the question. */
    tui_view_overlay(&r.v, "Pushed to project: agent-fix (new..1a2b3c4d5e6f)",
                     xstrdup("1a2b3c4 fix the flaky test (agent, 2 minutes ago)\n"
                             "9f8e7d6 operator commit (op, 3 days ago)\n"));
    tui_view_confirm(&r.v, TUI_ACT_BRING_IN,
                     "Bring agent-fix into /src/project as "
                     "bottle/demo/agent-fix?");
    tui_sup_push_note(&r.m.b[0]->sup, 1, "brought in as bottle/demo/feature/docs", false);
    render(&r, NOW);
    panel_golden(&r, TUI_P_GATELOG, "gatelog");
    int x;
    CHECK(find_on_screen(&r, 39, 39, "Bring agent-fix into", &x) == 39);
    tui_view_key(&r.v, 'y', &act, &idx);
    CHECK(act == TUI_ACT_BRING_IN && r.v.overlay_text == NULL);
    render(&r, NOW);
    struct tui_rect gp = r.v.p[TUI_P_GATE]->r;
    CHECK(find_on_screen(&r, gp.y, gp.y + gp.h - 1, "brought in as bottle/demo/feature/docs", &x) >
          0);
    /* g again: back to the requests. */
    tui_view_key(&r.v, 'g', &act, &idx);
    CHECK(!r.v.show_gate && r.v.focus == TUI_P_REQUESTS);
    rig_close(&r);
}

/* Every key the dashboard answers, in every pane, is in the help overlay. */
static void help_lists_every_key(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    enum tui_panel_id focus[] = {TUI_P_BOTTLES,   TUI_P_STEPS, TUI_P_REQUESTS, TUI_P_CMDLOG,
                                 TUI_P_APPROVALS, TUI_P_GATE,  TUI_P_SESSION};
    int missing = 0;
    feed_sup(&r);
    for (size_t f = 0; f < sizeof focus / sizeof *focus; f++)
        for (int key = 1; key < KEY_MAX; key++) {
            if (key == KEY_RESIZE || key == KEY_MOUSE)
                continue;
            r.v.focus = focus[f];
            r.v.show_cmdlog = focus[f] == TUI_P_CMDLOG;
            r.v.show_gate = focus[f] == TUI_P_GATE;
            r.v.show_approvals = false;
            if (r.v.show_session != (focus[f] == TUI_P_SESSION)) {
                r.v.show_session = focus[f] == TUI_P_SESSION;
                tui_view_layout(&r.v);
            }
            tui_view_overlay(&r.v, NULL, NULL);
            r.v.show_help = false;
            r.v.prompt = TUI_PROMPT_NONE;
            r.v.sel = 0;
            enum tui_action act;
            size_t idx;
            int fl = tui_view_key(&r.v, key, &act, &idx);
            if (fl && !tui_help_lists_key(key)) {
                fprintf(stderr, "key %d (%s) is answered in pane %zu but not in the help\n", key,
                        keyname(key), f);
                missing++;
            }
        }
    CHECK_INT(missing, 0);
    rig_close(&r);
}

static void steps_expand_collapse(void)
{
    struct rig r;
    rig_open(&r, 40, 120, true);
    enum tui_action act;
    size_t idx;
    struct tui_rect sp = r.v.p[TUI_P_STEPS]->r;
    int x;
    render(&r, NOW);
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "bubblewrap 0.8.0", &x) < 0 ||
          find_on_screen(&r, sp.y, sp.y + sp.h - 1, "| bubblewrap", &x) < 0);
    r.v.focus = TUI_P_STEPS;
    r.v.p[TUI_P_STEPS]->cursor = 0;
    tui_view_key(&r.v, '\r', &act, &idx);
    CHECK(act == TUI_ACT_NONE); /* Enter in the steps pane expands, never launches */
    render(&r, NOW);
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "$ bwrap --version", &x) > 0);
    tui_view_key(&r.v, ' ', &act, &idx);
    render(&r, NOW);
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "$ bwrap --version", &x) < 0);
    tui_view_key(&r.v, 'e', &act, &idx);
    render(&r, NOW);
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "$ bwrap --version", &x) > 0);
    rig_close(&r);
}

/* A failure after a lot of output: its last lines and the reason are on an
 * 80x24 screen with no key pressed. */
static void failed_output_long(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    struct tui_bottle *b = r.m.b[1];
    feed(&r.m, b, failed_events, 5, 2000);
    for (int i = 0; i < 60; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"ts\":\"2026-11-29T07:00:01.000Z\",\"bottle\":\"broken\",\"type\":\"output\","
                 "\"step\":\"agent\",\"stream\":\"stdout\",\"line\":\"noise %d\"}",
                 i);
        const char *ev = line;
        feed(&r.m, b, &ev, 1, 2000);
    }
    const char *tail[] = {
        "{\"ts\":\"2026-11-29T07:00:02.000Z\",\"bottle\":\"broken\",\"type\":\"output\","
        "\"step\":\"agent\",\"stream\":\"stderr\",\"line\":\"FATAL: config.json missing\"}",
        "{\"ts\":\"2026-11-29T07:00:02.001Z\",\"bottle\":\"broken\",\"type\":\"step\",\"step\":"
        "\"agent\",\"status\":\"fail\",\"ms\":3,\"detail\":\"the agent exited 2\"}",
        "{\"ts\":\"2026-11-29T07:00:02.002Z\",\"bottle\":\"broken\",\"type\":\"state\","
        "\"state\":\"failed\"}",
    };
    feed(&r.m, b, tail, 3, 2000);
    r.v.sel = 1;
    render(&r, NOW);
    struct tui_rect sp = r.v.p[TUI_P_STEPS]->r;
    int x;
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "failed at 'agent'", &x) > 0);
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "FATAL: config.json missing", &x) > 0);
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "noise 59", &x) > 0);
    rig_close(&r);
}

static void too_small_and_back(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    tui_screen_resize_to(&r.scr, 8, 30);
    tui_view_layout(&r.v);
    render(&r, NOW);
    int x;
    CHECK(find_on_screen(&r, 0, 0, "too small", &x) == 0);
    tui_screen_resize_to(&r.scr, 24, 80);
    tui_view_layout(&r.v);
    render(&r, NOW);
    screen_golden(&r, "screen-utf8-resized-80x24");
    rig_close(&r);
}

/* ---- the session pane and the agent's terminal ---------------------------------------------- */

/* One line of agent output as the supervisor reports it. */
static void agent_line(struct tui_model *m, struct tui_bottle *b, const char *line)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "ts", "2026-11-29T06:14:00.000Z");
    cJSON_AddStringToObject(ev, "bottle", b->name);
    cJSON_AddStringToObject(ev, "type", "output");
    cJSON_AddStringToObject(ev, "step", "agent");
    cJSON_AddStringToObject(ev, "stream", "stdout");
    cJSON_AddStringToObject(ev, "line", line);
    tui_model_apply(m, b, ev, 2000);
    cJSON_Delete(ev);
}

/* Every line of a recorded stream-json fixture, as agent output of B. */
static void feed_fixture(struct tui_model *m, struct tui_bottle *b, const char *name)
{
    const char *src = getenv("BOTTLE_SRC");
    char *path = xasprintf("%s/tests/fixtures/stream-json/%s.jsonl", src ? src : ".", name);
    size_t len = 0;
    char *text = file_read_all(path, 1 << 24, &len);
    CHECK(text);
    for (char *p = text, *nl; p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            nl = text + len;
        *nl = '\0';
        agent_line(m, b, p);
    }
    free(text);
    free(path);
}

static void session_fixture(const char *fixture, int rows, int cols, const char *name)
{
    struct rig r;
    rig_open(&r, rows, cols, true);
    feed_fixture(&r.m, r.m.b[0], fixture);
    CHECK(r.m.b[0]->session && r.m.b[0]->session->timeline);
    enum tui_action act;
    size_t idx;
    CHECK(tui_view_key(&r.v, 's', &act, &idx) & TUI_HANDLED);
    CHECK(r.v.show_session && r.v.focus == TUI_P_SESSION);
    render(&r, NOW);
    panel_golden(&r, TUI_P_SESSION, name);
    rig_close(&r);
}

/* The recorded sessions render as timelines: text, calls with their input,
 * results (a failed one as an error), totals; the demo agent's plain line
 * before the stream-json began stays as it came. */
static void session_ok_tools(void)
{
    session_fixture("ok-tools", 40, 120, "session-ok-tools");
}

static void session_failed_tool(void)
{
    session_fixture("failed-tool", 40, 120, "session-failed-tool");
}

/* An event type the renderer does not know is shown raw, never dropped; at 80x24. */
static void session_unknown_event(void)
{
    session_fixture("unknown-event", 24, 80, "session-unknown-event-80x24");
    struct rig r;
    rig_open(&r, 24, 80, true);
    feed_fixture(&r.m, r.m.b[0], "unknown-event");
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, 's', &act, &idx);
    render(&r, NOW);
    int x;
    struct tui_rect sp = r.v.p[TUI_P_SESSION]->r;
    CHECK(find_on_screen(&r, sp.y, sp.y + sp.h - 1, "telepathy", &x) > 0);
    screen_golden(&r, "screen-session-80x24");
    rig_close(&r);
}

/* A prompt (an unfinished line) shows as the newest entry; the next partial
 * or the whole line replaces it; a stream-json session ignores partials. */
static void session_partial_prompt(void)
{
    struct tui_session *s = tui_session_new(0);
    tui_session_push(s, "hello", 5);
    tui_session_push_partial(s, "Continue? ", 10);
    tui_session_push_partial(s, "Continue? y", 11);
    CHECK_INT(s->n, 2);
    CHECK_STR(tui_session_at(s, 1)->text, "Continue? y");
    tui_session_push(s, "Continue? yes", 13);
    CHECK_INT(s->n, 2);
    CHECK_STR(tui_session_at(s, 1)->text, "Continue? yes");
    CHECK(!s->partial);
    tui_session_push(s, "next", 4);
    CHECK_INT(s->n, 3);
    const char *init = "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"m\",\"tools\":[]}";
    tui_session_push(s, init, strlen(init));
    size_t n = s->n;
    tui_session_push_partial(s, "{\"type\":", 8);
    CHECK_INT(s->n, n);
    tui_session_free(s);
}

/* Detection: plain lines stay plain until a stream-json event; an unknown
 * type alone does not switch; after the switch, what does not parse is raw. */
static void session_detects_streamjson(void)
{
    struct tui_session *s = tui_session_new(0);
    const char *plain = "$ echo attached-42";
    tui_session_push(s, plain, strlen(plain));
    const char *odd = "{\"type\":\"telepathy\"}";
    tui_session_push(s, odd, strlen(odd));
    CHECK(!s->timeline);
    CHECK_INT(s->n, 2);
    CHECK(tui_session_at(s, 0)->kind == STREAMJSON_TEXT);
    const char *init = "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"m\",\"tools\":[]}";
    tui_session_push(s, init, strlen(init));
    CHECK(s->timeline);
    CHECK(tui_session_at(s, 2)->kind == STREAMJSON_INIT);
    tui_session_push(s, "not json at all", 15);
    CHECK(tui_session_at(s, 3)->kind == STREAMJSON_RAW);
    CHECK_STR(tui_session_at(s, 3)->text, "not json at all");
    /* A new run: a marker, and detection starts over. */
    tui_session_new_run(s);
    CHECK(!s->timeline);
    CHECK(strstr(tui_session_at(s, tui_session_last(s))->text, "started again"));
    tui_session_free(s);
}

/* The history is bounded in entries and bytes; the pane follows, pauses
 * (new output does not move a paused view), resumes, and reaches the oldest. */
static void session_bounded_and_scrolls(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    struct tui_bottle *b = r.m.b[0];
    char line[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(line, sizeof line, "line %d", i);
        agent_line(&r.m, b, line);
    }
    CHECK_INT(b->session->n, TUI_SESSION_ENTRIES);
    enum tui_action act;
    size_t idx;
    tui_view_key(&r.v, 's', &act, &idx);
    render(&r, NOW);
    struct tui_rect sp = r.v.p[TUI_P_SESSION]->r;
    int x, bottom = sp.y + sp.h - 2;
    CHECK(find_on_screen(&r, bottom, bottom, "line 19999", &x) == bottom);
    CHECK(find_on_screen(&r, sp.y, sp.y, "[following]", &x) == sp.y);
    for (int i = 0; i < 5; i++)
        tui_view_key(&r.v, KEY_UP, &act, &idx);
    for (int i = 20000; i < 20100; i++) {
        snprintf(line, sizeof line, "line %d", i);
        agent_line(&r.m, b, line);
    }
    render(&r, NOW);
    CHECK(find_on_screen(&r, bottom, bottom, "line 19994", &x) == bottom);
    CHECK(find_on_screen(&r, sp.y, sp.y, "[paused]", &x) == sp.y);
    tui_view_key(&r.v, KEY_DOWN, &act, &idx);
    render(&r, NOW);
    CHECK(find_on_screen(&r, bottom, bottom, "line 19995", &x) == bottom);
    tui_view_key(&r.v, 'f', &act, &idx);
    render(&r, NOW);
    CHECK(find_on_screen(&r, bottom, bottom, "line 20099", &x) == bottom);
    tui_view_key(&r.v, KEY_HOME, &act, &idx);
    render(&r, NOW);
    CHECK(find_on_screen(&r, sp.y + 1, sp.y + 1, "line 15100", &x) == sp.y + 1);
    tui_view_key(&r.v, KEY_PPAGE, &act, &idx); /* at the top already: stays */
    render(&r, NOW);
    CHECK(find_on_screen(&r, sp.y + 1, sp.y + 1, "line 15100", &x) == sp.y + 1);
    tui_view_key(&r.v, 'G', &act, &idx);
    render(&r, NOW);
    CHECK(find_on_screen(&r, bottom, bottom, "line 20099", &x) == bottom);
    /* Long lines: the byte bound holds. */
    char *big = xmalloc(9001);
    memset(big, 'x', 9000);
    big[9000] = '\0';
    for (int i = 0; i < 3000; i++)
        agent_line(&r.m, b, big);
    free(big);
    CHECK(b->session->bytes <= TUI_SESSION_BYTES);
    CHECK(b->session->n < 3000);
    render(&r, NOW);
    rig_close(&r);
}

/* a attaches to a running agent, i types a line to it; neither to a stopped one.
 * The session takes the lower area: Tab skips the hidden steps; c gives the area back. */
static void session_keys(void)
{
    struct rig r;
    rig_open(&r, 24, 80, true);
    enum tui_action act;
    size_t idx = 99;
    tui_view_key(&r.v, 'a', &act, &idx);
    CHECK(act == TUI_ACT_ATTACH && idx == 0);
    tui_view_key(&r.v, 'i', &act, &idx);
    CHECK(act == TUI_ACT_NONE && r.v.prompt == TUI_PROMPT_INPUT);
    for (const char *k = "echo hi"; *k; k++)
        tui_view_key(&r.v, *k, &act, &idx);
    render(&r, NOW);
    int x;
    CHECK(find_on_screen(&r, 23, 23, "type to demo", &x) == 23);
    CHECK(find_on_screen(&r, 23, 23, "echo hi", &x) == 23);
    tui_view_key(&r.v, '\r', &act, &idx);
    CHECK(act == TUI_ACT_SEND && idx == 0);
    CHECK_STR(r.v.input, "echo hi");
    r.v.sel = 1; /* failed: no agent */
    tui_view_key(&r.v, 'a', &act, &idx);
    CHECK(act == TUI_ACT_NONE && strstr(r.v.msg, "no agent"));
    tui_view_key(&r.v, 'i', &act, &idx);
    CHECK(r.v.prompt == TUI_PROMPT_NONE);
    r.v.sel = 0;
    tui_view_key(&r.v, 's', &act, &idx);
    CHECK(r.v.show_session && r.v.focus == TUI_P_SESSION);
    CHECK(r.v.p[TUI_P_STEPS]->r.h == 0 && r.v.p[TUI_P_SESSION]->r.w == 80);
    tui_view_key(&r.v, '\t', &act, &idx);
    CHECK(r.v.focus == TUI_P_BOTTLES);
    tui_view_key(&r.v, '\t', &act, &idx);
    CHECK(r.v.focus == TUI_P_SESSION);
    render(&r, NOW);
    struct tui_rect sp = r.v.p[TUI_P_SESSION]->r;
    CHECK(find_on_screen(&r, sp.y, sp.y, "Session demo", &x) == sp.y);
    CHECK(find_on_screen(&r, sp.y + 1, sp.y + 1, "demo-agent: round 1", &x) == sp.y + 1);
    tui_view_key(&r.v, 'c', &act, &idx);
    CHECK(!r.v.show_session && r.v.show_cmdlog && r.v.p[TUI_P_STEPS]->r.h > 0);
    tui_view_key(&r.v, 's', &act, &idx);
    tui_view_key(&r.v, 's', &act, &idx);
    CHECK(!r.v.show_session && r.v.focus != TUI_P_SESSION);
    rig_close(&r);
}

static void attach_key_names(void)
{
    char name[16];
    CHECK_INT(tui_attach_parse_key("^]", name), 0x1d);
    CHECK_STR(name, "Ctrl-]");
    CHECK_INT(tui_attach_parse_key("C-b", name), 2);
    CHECK_STR(name, "Ctrl-B");
    CHECK_INT(tui_attach_parse_key("ctrl-a", name), 1);
    CHECK_INT(tui_attach_parse_key("0x1c", name), 0x1c);
    CHECK_INT(tui_attach_parse_key("x", name), -1);
    CHECK_INT(tui_attach_parse_key("C-1", name), -1);
    CHECK_INT(tui_attach_parse_key("0x41", name), -1);
    struct tui_tail t = {0};
    char chunk[5000];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 10; i++)
        tui_tail_append(&t, chunk, sizeof chunk);
    tui_tail_append(&t, "END", 3);
    CHECK_INT(t.len, TUI_TAIL_MAX);
    CHECK(t.cut && memcmp(t.p + t.len - 3, "END", 3) == 0);
    tui_tail_clear(&t);
}

TEST_MAIN(T(bottles_panel), T(steps_panel_running), T(steps_panel_failed), T(chain_panel),
          T(requests_panel), T(requests_filtered), T(cmdlog_panel), T(help_overlay),
          T(whole_ascii_80x24), T(whole_utf8_120x40), T(confirmations), T(history_bounded),
          T(paused_view_holds), T(restart_resets_run), T(hostile_text_is_inert),
          T(filter_highlights_matches), T(monochrome_fallback), T(mouse_selects_and_scrolls),
          T(help_lists_every_key), T(steps_expand_collapse), T(failed_output_long),
          T(too_small_and_back), T(approvals_panes), T(approvals_keys), T(requests_allow_blocked),
          T(gate_pane), T(session_ok_tools), T(session_failed_tool), T(session_unknown_event),
          T(session_detects_streamjson), T(session_bounded_and_scrolls), T(session_keys),
          T(attach_key_names), T(session_partial_prompt))
