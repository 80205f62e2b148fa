"""An OpenAI-compatible chat-completions server with canned answers, for tests.

    openai_stub.py PORT

Serves POST /v1/chat/completions. For the first request that carries a task
it answers malformed text; for the second it answers too late (5 s); after
that it answers by rule: fly to the task's last waypoint, or done when
there. Idle situations get "hover". Prints `ready`, then one line per
request: its number and what it answered.
"""

import json
import math
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "stub-model"
state = {"with_task": 0}


def answer(situation):
    if situation.get("task") is None:
        return "plain", {"go": "hover"}
    state["with_task"] += 1
    n = state["with_task"]
    if n == 1:
        return "malformed", "Sure! I think the drone should head north-ish."
    if n == 2:
        return "slow", {"go": "hover"}
    here = situation["summary"]["at"]
    last = situation["task"]["task"]["waypoints"][-1]
    if math.dist(here, last) <= 1.0:
        return "tool", {"done": None}
    return "tool", {"go": {"go_to": {"to": last}}}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["model"] == MODEL and body["tools"][0]["function"]["name"] == "decide"
        situation = json.loads(body["messages"][-1]["content"])
        how, decision = answer(situation)
        print(json.dumps({"answered": how}), flush=True)
        if how == "slow":
            time.sleep(5)
        if how == "malformed":
            message = {"role": "assistant", "content": decision}
        else:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call-1", "type": "function",
                "function": {"name": "decide", "arguments": json.dumps(decision)}}]}
        reply = {"id": "stub", "object": "chat.completion", "model": MODEL,
                 "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
        data = json.dumps(reply).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the brain gave up waiting: that is the point of a slow answer

    def log_message(self, *_):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
