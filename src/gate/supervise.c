/* supervise: the MCP server (Streamable HTTP, JSON-RPC 2.0) through which a bottle's agent reaches
 * its operator. */
#include "gate/supervise.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "core/event.h"
#include "core/util.h"

#define SUP_MAX_BODY (1u << 20)
#define SUP_MAX_HEAD (64u << 10)
#define SUP_TICK_MS 250
#define LATEST_PROTOCOL "2025-06-18"

struct pending;

struct sconn {
    struct supervise *s;
    uv_tcp_t tcp;
    llhttp_t parser;
    struct buf body;
    size_t head_bytes;
    bool complete, keep_alive, closing, waiting;
    char *leftover;
    size_t leftover_len;
    struct sconn *next, *prev;
};

struct pending {
    char *call_id;
    cJSON *rpc_id;
    char tool[32];
    char *host;
    struct sconn *c;
    uint64_t deadline;
    bool applying; /* approved; waiting for the allowlist change */
    bool save;
    struct pending *next;
};

struct supervise {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t tick;
    char *bottle;
    struct supervise_hooks hooks;
    uint64_t ask_timeout_ms;
    llhttp_settings_t settings;
    struct sconn *conns;
    struct pending *pend;
    unsigned seq;
    int port;
    int open;
    bool closing;
    char session[40];
};

static void emit(struct supervise *s, const char *tool, const char *id, const char *status,
                 const char *summary)
{
    if (!s->hooks.emit)
        return;
    char cut[201];
    snprintf(cut, sizeof cut, "%s", summary ? summary : "");
    s->hooks.emit(s->hooks.data, event_supervise(s->bottle, tool, id, status, cut));
}

/* ---- JSON-RPC -------------------------------------------------------------------- */

static cJSON *rpc_error(const cJSON *id, int code, const char *msg)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "jsonrpc", "2.0");
    cJSON_AddItemToObject(r, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON *e = cJSON_AddObjectToObject(r, "error");
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    return r;
}

static cJSON *rpc_result(const cJSON *id, cJSON *result)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "jsonrpc", "2.0");
    cJSON_AddItemToObject(r, "id", cJSON_Duplicate(id, 1));
    cJSON_AddItemToObject(r, "result", result);
    return r;
}

static cJSON *text_result(const char *text, bool is_error)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(res, "content");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "type", "text");
    cJSON_AddStringToObject(t, "text", text);
    cJSON_AddItemToArray(content, t);
    cJSON_AddBoolToObject(res, "isError", is_error);
    return res;
}

static cJSON *tool(const char *name, const char *desc, const char *const *args,
                   const char *const *arg_desc)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "description", desc);
    cJSON *schema = cJSON_AddObjectToObject(t, "inputSchema");
    cJSON_AddStringToObject(schema, "type", "object");
    cJSON *props = cJSON_AddObjectToObject(schema, "properties");
    cJSON *req = cJSON_AddArrayToObject(schema, "required");
    for (size_t i = 0; args[i]; i++) {
        cJSON *p = cJSON_AddObjectToObject(props, args[i]);
        cJSON_AddStringToObject(p, "type", "string");
        cJSON_AddStringToObject(p, "description", arg_desc[i]);
        cJSON_AddItemToArray(req, cJSON_CreateString(args[i]));
    }
    return t;
}

static cJSON *tools_list(void)
{
    static const char *const notify_a[] = {"message", NULL};
    static const char *const notify_d[] = {"what to tell the operator"};
    static const char *const ask_a[] = {"question", NULL};
    static const char *const ask_d[] = {"the question for the operator"};
    static const char *const egress_a[] = {"host", "reason", NULL};
    static const char *const egress_d[] = {"the host name to reach", "why the task needs it"};
    cJSON *res = cJSON_CreateObject();
    cJSON *tools = cJSON_AddArrayToObject(res, "tools");
    cJSON_AddItemToArray(tools, tool("notify_operator",
                                     "Show a message to the operator watching this bottle.",
                                     notify_a, notify_d));
    cJSON_AddItemToArray(tools, tool("ask_operator",
                                     "Ask the operator a question and wait for the typed answer.",
                                     ask_a, ask_d));
    cJSON_AddItemToArray(tools, tool("request_egress",
                                     "Ask the operator to allow a host that the proxy blocks; on "
                                     "approval requests to it pass for this run.",
                                     egress_a, egress_d));
    return res;
}

static bool valid_host(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
        return false;
    for (const char *p = h; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
            return false;
    return true;
}

static const char *arg_str(const cJSON *args, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* One request object: a response object, NULL for a notification, or NULL
 * with *PENDING set when the call waits for the operator. */
static cJSON *handle_one(struct supervise *s, const cJSON *req, bool *pending, void *conn,
                         bool batched)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(req, "jsonrpc");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(req, "method");
    if (!cJSON_IsObject(req) || !cJSON_IsString(jv) || strcmp(jv->valuestring, "2.0") != 0 ||
        !cJSON_IsString(method) || (id && !cJSON_IsString(id) && !cJSON_IsNumber(id)))
        return rpc_error(cJSON_IsString(id) || cJSON_IsNumber(id) ? id : NULL, -32600,
                         "invalid request: want {\"jsonrpc\":\"2.0\",\"method\":...}");
    const char *m = method->valuestring;
    if (!id) /* a notification (notifications/initialized, cancelled, ...): no answer */
        return NULL;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
    if (strcmp(m, "initialize") == 0) {
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
        const char *want = cJSON_IsString(pv) ? pv->valuestring : "";
        const char *ver = strcmp(want, "2025-03-26") == 0 ? "2025-03-26" : LATEST_PROTOCOL;
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "protocolVersion", ver);
        cJSON *caps = cJSON_AddObjectToObject(res, "capabilities");
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", false);
        cJSON *info = cJSON_AddObjectToObject(res, "serverInfo");
        cJSON_AddStringToObject(info, "name", "bottle-supervise");
        cJSON_AddStringToObject(info, "version", BOTTLE_VERSION);
        cJSON_AddStringToObject(res, "instructions",
                                "Tools that reach the operator watching this sandbox: tell them "
                                "things, ask them questions, ask for network access.");
        return rpc_result(id, res);
    }
    if (strcmp(m, "ping") == 0)
        return rpc_result(id, cJSON_CreateObject());
    if (strcmp(m, "tools/list") == 0)
        return rpc_result(id, tools_list());
    if (strcmp(m, "tools/call") != 0)
        return rpc_error(id, -32601, "method not found");

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    if (!cJSON_IsString(name))
        return rpc_error(id, -32602, "invalid params: tools/call wants a tool 'name'");
    const char *tn = name->valuestring;
    char call_id[32];
    snprintf(call_id, sizeof call_id, "%u", ++s->seq);
    if (strcmp(tn, "notify_operator") == 0) {
        const char *msg = arg_str(args, "message");
        if (!msg)
            return rpc_error(id, -32602, "invalid params: notify_operator wants 'message'");
        emit(s, tn, call_id, "delivered", msg);
        return rpc_result(id, text_result("delivered to the operator", false));
    }
    if (strcmp(tn, "ask_operator") != 0 && strcmp(tn, "request_egress") != 0)
        return rpc_error(id, -32602, "invalid params: unknown tool");
    const char *q = arg_str(args, strcmp(tn, "ask_operator") == 0 ? "question" : "host");
    if (!q)
        return rpc_error(id, -32602,
                         strcmp(tn, "ask_operator") == 0
                             ? "invalid params: ask_operator wants 'question'"
                             : "invalid params: request_egress wants 'host'");
    if (strcmp(tn, "request_egress") == 0 && !valid_host(q))
        return rpc_error(id, -32602, "invalid params: 'host' is not a host name");
    if (batched || !conn)
        return rpc_error(id, -32600, "this tool waits for the operator; send it on its own");
    struct pending *p = xcalloc(1, sizeof *p);
    p->call_id = xstrdup(call_id);
    p->rpc_id = cJSON_Duplicate(id, 1);
    snprintf(p->tool, sizeof p->tool, "%s", tn);
    p->c = conn;
    p->deadline = time_mono_ms() + s->ask_timeout_ms;
    char *summary;
    if (strcmp(tn, "request_egress") == 0) {
        p->host = xstrdup(q);
        for (char *c = p->host; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        const char *reason = arg_str(args, "reason");
        summary = xasprintf("%s: %s", p->host, reason ? reason : "(no reason given)");
    } else {
        summary = xstrdup(q);
    }
    p->next = s->pend;
    s->pend = p;
    emit(s, tn, call_id, "pending", summary);
    free(summary);
    *pending = true;
    return NULL;
}

char *supervise_handle(struct supervise *s, const char *body, size_t len, bool *pending, void *conn)
{
    *pending = false;
    cJSON *req = cJSON_ParseWithLength(body, len);
    cJSON *resp = NULL;
    if (!req) {
        resp = rpc_error(NULL, -32700, "parse error: the body is not JSON");
    } else if (cJSON_IsArray(req)) {
        resp = cJSON_CreateArray();
        const cJSON *it;
        cJSON_ArrayForEach(it, req)
        {
            cJSON *r = handle_one(s, it, pending, conn, true);
            if (r)
                cJSON_AddItemToArray(resp, r);
        }
        if (cJSON_GetArraySize(resp) == 0) {
            cJSON_Delete(resp);
            resp = cJSON_GetArraySize(req) == 0 ? rpc_error(NULL, -32600, "empty batch") : NULL;
        }
    } else {
        resp = handle_one(s, req, pending, conn, false);
    }
    cJSON_Delete(req);
    if (!resp)
        return NULL;
    char *out = cJSON_PrintUnformatted(resp);
    cJSON_Delete(resp);
    return out;
}

/* ---- HTTP ------------------------------------------------------------------------ */

static void on_conn_closed(uv_handle_t *h)
{
    struct sconn *c = h->data;
    struct supervise *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_free(&c->body);
    free(c->leftover);
    free(c);
    if (--s->open == 0) {
        free(s->bottle);
        free(s);
    }
}

static void drop_pending_of(struct supervise *s, struct sconn *c)
{
    for (struct pending **pp = &s->pend; *pp;) {
        struct pending *p = *pp;
        if (p->c == c) {
            *pp = p->next;
            emit(s, p->tool, p->call_id, "cancelled", "the agent's connection closed");
            cJSON_Delete(p->rpc_id);
            free(p->call_id);
            free(p->host);
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

static void conn_close(struct sconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    drop_pending_of(c->s, c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

struct wreq {
    uv_write_t w;
    char *data;
    struct sconn *c;
    bool close_after;
};

static void feed(struct sconn *c, const char *data, size_t len);

static void on_written(uv_write_t *w, int status)
{
    struct wreq *q = (struct wreq *)w;
    struct sconn *c = q->c;
    bool close_after = q->close_after;
    free(q->data);
    free(q);
    if (c->closing)
        return;
    if (status < 0 || close_after) {
        conn_close(c);
        return;
    }
    /* Ready for the next request on this connection. */
    c->waiting = false;
    c->complete = false;
    buf_reset(&c->body);
    c->head_bytes = 0;
    llhttp_resume(&c->parser);
    char *left = c->leftover;
    size_t n = c->leftover_len;
    c->leftover = NULL;
    c->leftover_len = 0;
    if (left) {
        feed(c, left, n);
        free(left);
    }
}

static void respond(struct sconn *c, int status, const char *reason, const char *ctype,
                    const char *body, const char *extra)
{
    size_t blen = body ? strlen(body) : 0;
    bool close_after = !c->keep_alive || status >= 400;
    char *msg =
        xasprintf("HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s%s%s\r\n%s", status, reason, blen,
                  ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                  extra ? extra : "", close_after ? "Connection: close\r\n" : "", body ? body : "");
    struct wreq *q = xcalloc(1, sizeof *q);
    q->data = msg;
    q->c = c;
    q->close_after = close_after;
    uv_buf_t b = uv_buf_init(msg, (unsigned)strlen(msg));
    if (uv_write(&q->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(msg);
        free(q);
        conn_close(c);
    }
}

static void respond_json(struct sconn *c, const char *json)
{
    char *extra = xasprintf("Mcp-Session-Id: %s\r\n", c->s->session);
    respond(c, 200, "OK", "application/json", json, extra);
    free(extra);
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct sconn *c = p->data;
    if (buf_append(&c->body, at, len) != 0) {
        llhttp_set_error_reason(p, "body too large");
        return HPE_USER;
    }
    return 0;
}

static int on_header_bytes(llhttp_t *p, const char *at, size_t len)
{
    struct sconn *c = p->data;
    (void)at;
    c->head_bytes += len;
    return c->head_bytes > SUP_MAX_HEAD ? HPE_USER : 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct sconn *c = p->data;
    c->complete = true;
    c->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED; /* one request at a time */
}

static void handle_request(struct sconn *c)
{
    int method = llhttp_get_method(&c->parser);
    c->waiting = true;
    if (method == HTTP_GET) {
        /* No server-initiated stream: the spec's answer is 405. */
        respond(c, 405, "Method Not Allowed", "text/plain", "POST JSON-RPC here\n",
                "Allow: POST, DELETE\r\n");
        return;
    }
    if (method == HTTP_DELETE) {
        respond(c, 200, "OK", NULL, NULL, NULL);
        return;
    }
    if (method != HTTP_POST) {
        respond(c, 405, "Method Not Allowed", "text/plain", "POST JSON-RPC here\n",
                "Allow: POST, DELETE\r\n");
        return;
    }
    bool pending = false;
    char *out = supervise_handle(c->s, c->body.p ? c->body.p : "", c->body.len, &pending, c);
    if (pending) {
        uv_read_stop((uv_stream_t *)&c->tcp); /* the answer comes from the operator */
        return;
    }
    if (!out) {
        respond(c, 202, "Accepted", NULL, NULL, NULL);
        return;
    }
    respond_json(c, out);
    free(out);
}

static void feed(struct sconn *c, const char *data, size_t len)
{
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    if (e == HPE_PAUSED && c->complete) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos ? (size_t)(pos - data) : len;
        if (used < len) {
            c->leftover = xmalloc(len - used);
            memcpy(c->leftover, data + used, len - used);
            c->leftover_len = len - used;
        }
        handle_request(c);
        return;
    }
    if (e != HPE_OK) {
        c->keep_alive = false;
        c->waiting = true;
        bool big = c->body.max && c->body.len >= c->body.max;
        respond(c, big ? 413 : 400, big ? "Payload Too Large" : "Bad Request", "text/plain",
                "bad HTTP request\n", NULL);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(suggested);
    b->len = suggested;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct sconn *c = st->data;
    if (n < 0) {
        free(b->base);
        conn_close(c);
        return;
    }
    if (n > 0 && !c->waiting) {
        feed(c, b->base, (size_t)n);
    } else if (n > 0) {
        /* Bytes while a response is pending: keep them for after it. */
        c->leftover = xrealloc(c->leftover, c->leftover_len + (size_t)n);
        memcpy(c->leftover + c->leftover_len, b->base, (size_t)n);
        c->leftover_len += (size_t)n;
        if (c->leftover_len > SUP_MAX_BODY)
            conn_close(c);
    }
    free(b->base);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct supervise *s = server->data;
    if (status < 0 || s->closing)
        return;
    struct sconn *c = xcalloc(1, sizeof *c);
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->open++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    buf_init(&c->body, SUP_MAX_BODY);
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- the operator's side ----------------------------------------------------------- */

static struct pending *take(struct supervise *s, const char *id, const char *tool, bool applying)
{
    for (struct pending **pp = &s->pend; *pp; pp = &(*pp)->next) {
        struct pending *p = *pp;
        if (strcmp(p->call_id, id) == 0 && (!tool || strcmp(p->tool, tool) == 0) &&
            p->applying == applying) {
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static void finish(struct pending *p, cJSON *result)
{
    struct sconn *c = p->c;
    cJSON *resp = rpc_result(p->rpc_id, result);
    char *out = cJSON_PrintUnformatted(resp);
    cJSON_Delete(resp);
    if (!c->closing) {
        respond_json(c, out);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    free(out);
    cJSON_Delete(p->rpc_id);
    free(p->call_id);
    free(p->host);
    free(p);
}

int supervise_answer(struct supervise *s, const char *id, const char *answer)
{
    struct pending *p = take(s, id, "ask_operator", false);
    if (!p)
        return -1;
    emit(s, p->tool, p->call_id, "answered", answer);
    finish(p, text_result(answer, false));
    return 0;
}

int supervise_decide(struct supervise *s, const char *id, bool approve, bool save)
{
    struct pending *p = take(s, id, "request_egress", false);
    if (!p)
        return -1;
    if (!approve) {
        char *text = xasprintf("denied: the operator did not allow %s", p->host);
        emit(s, p->tool, p->call_id, "denied", p->host);
        finish(p, text_result(text, true));
        free(text);
        return 0;
    }
    char *err = NULL;
    if (!s->hooks.allow_host ||
        s->hooks.allow_host(s->hooks.data, p->host, save, p->call_id, &err) != 0) {
        char *why = xasprintf("%s: %s", p->host, err ? err : "no allowlist to change");
        emit(s, p->tool, p->call_id, "failed", why);
        free(why);
        char *text = xasprintf("approved, but the allowlist could not be updated: %s",
                               err ? err : "no allowlist to change");
        finish(p, text_result(text, true));
        free(text);
        free(err);
        return 0;
    }
    /* Back in the list until the allowlist change lands. */
    p->applying = true;
    p->save = save;
    p->next = s->pend;
    s->pend = p;
    return 0;
}

void supervise_allow_done(struct supervise *s, const char *call_id, bool ok, const char *why)
{
    struct pending *p = s ? take(s, call_id, "request_egress", true) : NULL;
    if (!p)
        return;
    char *text;
    if (ok) {
        text = xasprintf("approved: %s is allowed %s", p->host,
                         p->save ? "from now on (saved to the manifest)" : "for this run");
        emit(s, p->tool, p->call_id, "approved", p->host);
    } else {
        text = xasprintf("approved, but the allowlist could not be updated: %s",
                         why ? why : "unknown error");
        char *sum = xasprintf("%s: %s", p->host, why ? why : "unknown error");
        emit(s, p->tool, p->call_id, "failed", sum);
        free(sum);
    }
    finish(p, text_result(text, !ok));
    free(text);
}

static void on_tick(uv_timer_t *t)
{
    struct supervise *s = t->data;
    uint64_t now = time_mono_ms();
    for (struct pending **pp = &s->pend; *pp;) {
        struct pending *p = *pp;
        if (p->applying || p->deadline > now) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        emit(s, p->tool, p->call_id, "timeout", "no answer from the operator");
        char *text = xasprintf("no answer from the operator within %llu s",
                               (unsigned long long)(s->ask_timeout_ms / 1000));
        finish(p, text_result(text, true));
        free(text);
    }
}

/* ---- life cycle -------------------------------------------------------------------- */

static void on_server_handle_closed(uv_handle_t *h)
{
    struct supervise *s = h->data;
    if (--s->open == 0) {
        free(s->bottle);
        free(s);
    }
}

int supervise_start(uv_loop_t *loop, const char *bottle, const char *host, int port,
                    uint64_t ask_timeout_ms, const struct supervise_hooks *hooks,
                    struct supervise **out)
{
    struct supervise *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->bottle = xstrdup(bottle);
    s->hooks = *hooks;
    s->ask_timeout_ms = ask_timeout_ms;
    snprintf(s->session, sizeof s->session, "bottle-%s-%llx", bottle,
             (unsigned long long)time_mono_ms());
    llhttp_settings_init(&s->settings);
    s->settings.on_body = on_body;
    s->settings.on_header_field = on_header_bytes;
    s->settings.on_header_value = on_header_bytes;
    s->settings.on_url = on_header_bytes;
    s->settings.on_message_complete = on_message_complete;
    uv_tcp_init(loop, &s->listener);
    uv_timer_init(loop, &s->tick);
    s->listener.data = s->tick.data = s;
    s->open = 2;
    struct sockaddr_in sa;
    int rc = uv_ip4_addr(host, port, &sa);
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
    if (rc != 0) {
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
        uv_close((uv_handle_t *)&s->tick, on_server_handle_closed);
        return rc;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_timer_start(&s->tick, on_tick, SUP_TICK_MS, SUP_TICK_MS);
    *out = s;
    return 0;
}

int supervise_port(const struct supervise *s)
{
    return s->port;
}

void supervise_close(struct supervise *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    for (struct sconn *c = s->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->tick, on_server_handle_closed);
}
