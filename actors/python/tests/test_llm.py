"""The LLM brain against a chat-completions server in this process."""

import json
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

from swarmd_agent.llm import LlmBrain, ModelError, parse_decision
from swarmd_agent.protocol import Situation

SITUATION = Situation(seq=3, summary={"at": [0, 0]}, task=None, deadline_ms=2000, trace=None)


def reply(message):
    return {"choices": [{"index": 0, "message": message}]}


class Parse(unittest.TestCase):
    def test_a_tool_call_is_the_decision(self):
        call = {"function": {"name": "decide", "arguments": '{"done": null}'}}
        self.assertEqual(parse_decision(reply({"tool_calls": [call]})), {"done": None})

    def test_json_content_is_the_decision_for_servers_without_tools(self):
        self.assertEqual(parse_decision(reply({"content": '{"go": "hover"}'})), {"go": "hover"})

    def test_anything_else_is_passed_on_for_the_runtime_to_refuse(self):
        self.assertEqual(parse_decision(reply({"content": "north!"})), "north!")
        self.assertIn("unreadable_reply", parse_decision({"error": "overloaded"}))


class Asking(unittest.TestCase):
    def setUp(self):
        self.seen = []
        test = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                test.seen.append((self.path, self.headers.get("Authorization"),
                                  json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
                data = json.dumps(reply({"content": '{"go": "hover"}'})).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def tearDown(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def test_the_model_is_asked_within_budgets_and_the_answer_is_stamped(self):
        brain = LlmBrain(self.url, "m1", {"const": "hover"}, api_key="k", max_tokens=64)
        answer = brain(SITUATION)
        self.assertEqual((answer.plan, answer.model, len(answer.prompt_hash)), ({"go": "hover"}, "m1", 16))
        path, auth, body = self.seen[0]
        self.assertEqual((path, auth, body["max_tokens"], body["model"]),
                         ("/v1/chat/completions", "Bearer k", 64, "m1"))
        self.assertEqual(body["tool_choice"]["function"]["name"], "decide")
        self.assertEqual(brain(SITUATION).prompt_hash, answer.prompt_hash, "same prompt, same hash")

    def test_an_unreachable_model_is_a_model_error(self):
        self.server.shutdown()
        self.server.server_close()
        brain = LlmBrain(self.url, "m1", {"const": "hover"}, timeout_s=0.5)
        self.server = None
        with self.assertRaises(ModelError):
            brain(SITUATION)


if __name__ == "__main__":
    unittest.main()
