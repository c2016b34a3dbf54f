#!/usr/bin/env python3
"""anthropic_mock: a scripted Anthropic Messages API on 127.0.0.1 (python3 stdlib only).

usage: anthropic_mock.py --scenario NAME --portfile FILE [--log FILE] [--port N] [--cwd DIR]

Answers POST /v1/messages with the scenario's next scripted assistant turn,
as Server-Sent Events when the request has "stream": true, else as one JSON
message. The turn is picked by how many assistant messages the request's
conversation already holds, so the CLI's own retries and side requests do not
shift the script. Requests without tools (the CLI's helper calls: titles,
command-prefix checks, quota probes) get a short text answer. Anything else
(count_tokens, unknown paths) gets a harmless JSON answer. Every request is
logged as one JSON line to --log. "{cwd}" in a scenario is replaced by --cwd.

Scenarios:
  hello   one text answer, no tools
  tools   Bash `ls`, Read a file, Edit it, then a final text
  fail    a Bash command that exits non-zero, a Read of a missing file, then a final text
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Each scenario is a list of assistant turns; each turn is (content blocks, stop reason).
SCENARIOS = {
    "hello": [
        ([{"type": "text", "text": "Hello from the mock. Nothing to run for this one."}], "end_turn"),
    ],
    "tools": [
        ([{"type": "text", "text": "I'll list the files in the working directory first."},
          {"type": "tool_use", "id": "toolu_01ListFiles", "name": "Bash",
           "input": {"command": "ls", "description": "List files in the working directory"}}],
         "tool_use"),
        ([{"type": "text", "text": "Now let me read the notes file."},
          {"type": "tool_use", "id": "toolu_02ReadNotes", "name": "Read",
           "input": {"file_path": "{cwd}/notes.txt"}}],
         "tool_use"),
        ([{"type": "tool_use", "id": "toolu_03EditNotes", "name": "Edit",
           "input": {"file_path": "{cwd}/notes.txt", "old_string": "tests: ctest",
                     "new_string": "tests: ctest --output-on-failure"}}],
         "tool_use"),
        ([{"type": "text", "text":
           "The directory holds `notes.txt` and `src/`. The notes say the build uses CMake "
           "and that the tests run under ctest; I made ctest print failures. "
           "Résumé: all good ✓"}],
         "end_turn"),
    ],
    "fail": [
        ([{"type": "text", "text": "Let me check the build log."},
          {"type": "tool_use", "id": "toolu_01CatLog", "name": "Bash",
           "input": {"command": "cat build.log && make -C /nonexistent",
                     "description": "Show the build log"}}],
         "tool_use"),
        ([{"type": "tool_use", "id": "toolu_02ReadMissing", "name": "Read",
           "input": {"file_path": "{cwd}/missing.txt"}}],
         "tool_use"),
        ([{"type": "text", "text":
           "Both attempts failed: there is no build.log and no missing.txt in this directory. "
           "Run the build first, then ask again."}],
         "end_turn"),
    ],
}

HELPER_TEXT = "none"


def subst(obj, cwd):
    if isinstance(obj, str):
        return obj.replace("{cwd}", cwd)
    if isinstance(obj, list):
        return [subst(x, cwd) for x in obj]
    if isinstance(obj, dict):
        return {k: subst(v, cwd) for k, v in obj.items()}
    return obj


def approx_tokens(body):
    return max(1, len(json.dumps(body)) // 4)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log_req(self, rec):
        with self.server.lock, open(self.server.logfile, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def send_json(self, code, obj):
        out = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("request-id", "req_mock")
        self.end_headers()
        self.wfile.write(out)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def do_GET(self):
        self.log_req({"method": "GET", "path": self.path})
        self.send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                        "message": "mock: no such path"}})

    do_HEAD = do_DELETE = do_PUT = do_GET

    def do_POST(self):
        body = self.read_body()
        path = self.path.split("?")[0]
        msgs = body.get("messages") or []
        last = msgs[-1] if msgs else {}
        rec = {"method": "POST", "path": self.path, "model": body.get("model"),
               "stream": body.get("stream", False), "tools": len(body.get("tools") or []),
               "messages": len(msgs), "max_tokens": body.get("max_tokens"),
               "last": json.dumps(last.get("content"))[:300]}
        if path.endswith("/count_tokens"):
            self.log_req(dict(rec, answer="count"))
            self.send_json(200, {"input_tokens": approx_tokens(body)})
            return
        if not path.endswith("/v1/messages"):
            self.log_req(dict(rec, answer="404"))
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": "mock: no such path"}})
            return
        script = self.server.script
        if not body.get("tools"):
            blocks, stop = [{"type": "text", "text": HELPER_TEXT}], "end_turn"
            rec["answer"] = "helper"
        else:
            turn = sum(1 for m in msgs if m.get("role") == "assistant")
            turn = min(turn, len(script) - 1)
            blocks, stop = script[turn]
            rec["answer"] = "turn %d" % turn
        self.log_req(rec)
        blocks = subst(blocks, self.server.cwd)
        model = body.get("model") or "claude-sonnet-4-5"
        usage_in = approx_tokens(body)
        usage_out = max(1, len(json.dumps(blocks)) // 4)
        with self.server.lock:
            self.server.n += 1
            msg_id = "msg_mock%04d" % self.server.n
        if body.get("stream"):
            self.stream(msg_id, model, blocks, stop, usage_in, usage_out)
        else:
            self.send_json(200, {"id": msg_id, "type": "message", "role": "assistant",
                                 "model": model, "content": blocks, "stop_reason": stop,
                                 "stop_sequence": None,
                                 "usage": {"input_tokens": usage_in, "output_tokens": usage_out}})

    def event(self, name, data):
        self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())
        self.wfile.flush()

    def stream(self, msg_id, model, blocks, stop, usage_in, usage_out):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("request-id", "req_mock")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage_in, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}})
        self.event("ping", {"type": "ping"})
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                self.event("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}})
                text = b["text"]
                # Two deltas, split on a word boundary, like the real API's chunking.
                cut = text.find(" ", len(text) // 2)
                parts = [text] if cut < 0 else [text[:cut], text[cut:]]
                for p in parts:
                    self.event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta", "text": p}})
            else:
                self.event("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "tool_use",
                                                                     "id": b["id"],
                                                                     "name": b["name"],
                                                                     "input": {}}})
                js = json.dumps(b["input"])
                for k in range(0, len(js), 16):
                    self.event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": js[k:k + 16]}})
            self.event("content_block_stop", {"type": "content_block_stop", "index": i})
        self.event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": usage_out}})
        self.event("message_stop", {"type": "message_stop"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--portfile", required=True)
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cwd", default=os.getcwd())
    a = ap.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.logfile = a.log
    srv.script = SCENARIOS[a.scenario]
    srv.cwd = a.cwd
    srv.lock = threading.Lock()
    srv.n = 0
    with open(a.portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.portfile + ".tmp", a.portfile)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
