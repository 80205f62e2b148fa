"""A body: percepts out, commands in."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from . import protocol
from .protocol import Command, ProtocolError
from .session import Session

log = logging.getLogger(__name__)


class Body:
    """The body of agent `agent` (spawned with `{"body": "remote"}`).

    Call `send(percept)` each time the body senses (at least as often as
    the agent's `body_silent_ms`, or it halts in its safe state); read the
    reflex's latest command with `command()`, or be called with each by
    `on_command`. The command is what the reflex allows: obey it.
    """

    def __init__(self, session: Session, agent: str, name: Optional[str] = None,
                 on_command: Optional[Callable[[Command], None]] = None):
        self.session = session
        self.agent = agent
        self.name = name
        self.refused = 0
        self._seq = 0
        self._latest: Optional[Command] = None
        self._fresh = threading.Condition()
        self._handler = on_command
        self._subscriber = session.subscribe(agent, "command", self._heard)

    def send(self, percept: Any) -> int:
        """Publishes `percept`; returns its sequence number."""
        self._seq += 1
        self.session.put(self.agent, "percept",
                         protocol.percept(self.agent, self._seq, percept, self.name))
        return self._seq

    def command(self, timeout: Optional[float] = None, newer_than: int = 0) -> Optional[Command]:
        """The latest command with `seq > newer_than`, waiting up to `timeout` s for one."""
        with self._fresh:
            self._fresh.wait_for(lambda: self._latest is not None and self._latest.seq > newer_than,
                                 timeout)
            latest = self._latest
        return latest if latest is not None and latest.seq > newer_than else None

    def close(self) -> None:
        self._subscriber.undeclare()

    def _heard(self, data: bytes) -> None:
        try:
            command = protocol.command_of(protocol.decode(data, self.agent))
        except ProtocolError as e:
            self.refused += 1
            log.warning("refused a command for %s: %s", self.agent, e)
            return
        with self._fresh:
            self._latest = command
            self._fresh.notify_all()
        if self._handler is not None:
            self._handler(command)
