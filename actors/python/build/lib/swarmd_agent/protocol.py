"""The agent protocol's messages and keys (actors/src/external/PROTOCOL.md).

Pure functions over JSON: no zenoh here, so they can be tested alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

#: The protocol version this package speaks; the runtime refuses any other.
PROTOCOL_VERSION = 1
#: The largest message either side accepts, in bytes.
MAX_MESSAGE_BYTES = 64 * 1024

CHANNELS = ("percept", "command", "situation", "intent")


class ProtocolError(ValueError):
    """A message that is not one of this protocol's, or not for this agent."""


def key(tenant: str, agent: str, channel: str) -> str:
    """The zenoh key of `agent`'s `channel`."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: one of {CHANNELS}")
    for part, name in ((tenant, "tenant"), (agent, "agent")):
        if not part or any(c in part for c in "/*$?#"):
            raise ValueError(f"{name} {part!r} cannot be part of a key")
    return f"swarmd/{tenant}/agent/{agent}/{channel}"


def encode(message: dict) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes, over {MAX_MESSAGE_BYTES}")
    return data


def decode(data: bytes, agent: str) -> dict:
    """`data` as a message for `agent`, checked as the runtime checks it."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes, over {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(data)
    except ValueError as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if not isinstance(message, dict):
        raise ProtocolError("not a JSON object")
    if message.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {message.get('v')!r}, this package speaks {PROTOCOL_VERSION}")
    if message.get("agent") != agent:
        raise ProtocolError(f"message for agent {message.get('agent')!r}, not {agent!r}")
    return message


def percept(agent: str, seq: int, value: Any, sender: Optional[str] = None) -> dict:
    message = {"v": PROTOCOL_VERSION, "agent": agent, "seq": seq, "percept": value}
    if sender:
        message["from"] = sender
    return message


def go(intent: Any) -> dict:
    """A decision to work towards the task by `intent`."""
    return {"go": intent}


def done() -> dict:
    """A decision that the task is done."""
    return {"done": None}


def failed(why: str) -> dict:
    """A decision that the task cannot be done, and why."""
    return {"failed": str(why)}


def intent(agent: str, seq: int, plan: dict, sender: Optional[str] = None, model: Optional[str] = None,
           prompt_hash: Optional[str] = None, latency_ms: Optional[int] = None) -> dict:
    """The answer to situation `seq`."""
    message = {"v": PROTOCOL_VERSION, "agent": agent, "seq": seq, "plan": plan}
    for name, value in (("from", sender), ("model", model), ("prompt_hash", prompt_hash),
                        ("latency_ms", latency_ms)):
        if value is not None:
            message[name] = value
    return message


@dataclass(frozen=True)
class Command:
    """What the reflex lets the body do: `after` is the newest percept's seq it saw."""
    seq: int
    after: int
    command: Any


@dataclass(frozen=True)
class Situation:
    """What the agent knows, and the task in hand, for a brain to decide on."""
    seq: int
    summary: Any
    task: Optional[dict]
    deadline_ms: int
    trace: Optional[str]


def command_of(message: dict) -> Command:
    try:
        return Command(int(message["seq"]), int(message["after"]), message["command"])
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError(f"not a command: {e}") from None


def situation_of(message: dict) -> Situation:
    try:
        return Situation(int(message["seq"]), message["summary"], message.get("task"),
                         int(message["deadline_ms"]), message.get("trace"))
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError(f"not a situation: {e}") from None
