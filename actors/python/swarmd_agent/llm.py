"""A brain that asks a language model: any OpenAI-compatible chat-completions
endpoint (llama.cpp's server, Ollama, vLLM, or a hosted one).

The model is shown the situation and the domain's decisions as a JSON
schema (offered as the one tool it must call, and stated in the prompt for
servers without tools), within a token budget and a time budget. Whatever
it answers is sent on as the decision: the runtime checks it against the
domain's types and journals an answer it cannot read as an invalid
decision, with the answer, before the domain's own planner acts. A model
that does not answer in time sends nothing: the runtime's deadline and
fallback act, and the miss is journaled. Each decision carries the model's
name and a hash of the prompt, so the flight recorder says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Optional

from .brain import Answer
from .protocol import Situation

SYSTEM = (
    "You are the planner of one agent in a swarm. Given its situation and its task, "
    "choose its next decision. Answer by calling the `decide` tool, or with only a JSON "
    "object matching this schema: {schema}"
)


class ModelError(RuntimeError):
    """The model could not be asked, or did not answer in time."""


@dataclass
class LlmBrain:
    """`decide` for a `Brain`: `url` is the server's base (`http://host:port/v1`).

    `intent_schema` is the JSON schema of the domain's intent (for the
    drones: `{"oneOf": [{"const": "hover"}, {"type": "object", ...}]}`).
    """

    url: str
    model: str
    intent_schema: dict
    api_key: Optional[str] = field(default_factory=lambda: os.environ.get("OPENAI_API_KEY"))
    max_tokens: int = 256
    timeout_s: float = 10.0
    temperature: float = 0.0

    def decision_schema(self) -> dict:
        return {
            "type": "object",
            "oneOf": [
                {"required": ["go"], "properties": {"go": self.intent_schema}},
                {"required": ["done"], "properties": {"done": {"type": "null"}}},
                {"required": ["failed"], "properties": {"failed": {"type": "string"}}},
            ],
        }

    def messages(self, situation: Situation) -> list:
        schema = json.dumps(self.decision_schema(), sort_keys=True)
        asked = {"summary": situation.summary, "task": situation.task}
        return [
            {"role": "system", "content": SYSTEM.format(schema=schema)},
            {"role": "user", "content": json.dumps(asked, sort_keys=True)},
        ]

    def __call__(self, situation: Situation) -> Answer:
        messages = self.messages(situation)
        prompt_hash = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16]
        reply = self.ask(messages, min(self.timeout_s, situation.deadline_ms / 1000.0))
        return Answer(plan=parse_decision(reply), model=self.model, prompt_hash=prompt_hash)

    def ask(self, messages: list, timeout: float) -> dict:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "tools": [{"type": "function", "function": {
                "name": "decide", "description": "The agent's next decision.",
                "parameters": self.decision_schema()}}],
            "tool_choice": {"type": "function", "function": {"name": "decide"}},
        }
        request = urllib.request.Request(
            self.url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read(1 << 20))
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
            raise ModelError(f"the model did not answer: {e}") from None


def parse_decision(reply: dict) -> Any:
    """The decision in a chat-completions reply: the `decide` tool's
    arguments, else the message's content as JSON, else the content as it
    is (the runtime journals what it cannot read)."""
    try:
        message = reply["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return {"unreadable_reply": str(reply)[:512]}
    for call in message.get("tool_calls") or []:
        arguments = call.get("function", {}).get("arguments")
        if arguments is not None:
            return _json_or_text(arguments)
    return _json_or_text(message.get("content") or "")


def _json_or_text(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text[:1024]
