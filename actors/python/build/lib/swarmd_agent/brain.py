"""A brain: situations in, decisions out."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Union

from . import protocol
from .protocol import ProtocolError, Situation
from .session import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A decision (`protocol.go(...)`, `done()`, `failed(...)`) with what the
    journal should know of how it was made."""
    plan: dict
    model: Optional[str] = None
    prompt_hash: Optional[str] = None


Decide = Callable[[Situation], Union[dict, Answer]]


class Brain:
    """The brain of agent `agent` (spawned with `{"brain": "remote"}`).

    `decide(situation)` is called on a worker thread with the newest
    situation (an older one not yet taken is skipped: the runtime asks one
    question at a time and a late answer is ignored). Its answer goes back
    with its latency; an exception is logged and nothing is answered, so
    the runtime's deadline and fallback act.
    """

    def __init__(self, session: Session, agent: str, decide: Decide, name: Optional[str] = None):
        self.session = session
        self.agent = agent
        self.name = name
        self.decide = decide
        self.answered = 0
        self.refused = 0
        self._pending: Optional[Situation] = None
        self._wake = threading.Condition()
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name=f"brain-{agent}", daemon=True)
        self._worker.start()
        self._subscriber = session.subscribe(agent, "situation", self._heard)

    def close(self) -> None:
        self._subscriber.undeclare()
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._worker.join(timeout=5)

    def _heard(self, data: bytes) -> None:
        try:
            situation = protocol.situation_of(protocol.decode(data, self.agent))
        except ProtocolError as e:
            self.refused += 1
            log.warning("refused a situation for %s: %s", self.agent, e)
            return
        with self._wake:
            self._pending = situation
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopping or self._pending is not None)
                if self._stopping:
                    return
                situation, self._pending = self._pending, None
            started = time.monotonic()
            try:
                answer = self.decide(situation)
            except Exception:  # a brain's bug must not kill its worker
                log.exception("decide failed for %s on situation %s", self.agent, situation.seq)
                continue
            if not isinstance(answer, Answer):
                answer = Answer(answer)
            latency = int((time.monotonic() - started) * 1000)
            self.session.put(self.agent, "intent", protocol.intent(
                self.agent, situation.seq, answer.plan, self.name, answer.model,
                answer.prompt_hash, latency))
            self.answered += 1
