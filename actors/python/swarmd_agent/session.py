"""A zenoh session to a swarmd node's agent gateway, with the tenant's credential."""

from __future__ import annotations

import json
import time
from typing import Optional, Sequence

import zenoh

from . import protocol


class Session:
    """One connection to a node's agent gateway, shared by the bodies and
    brains of a process.

    `endpoints` are the gateway's (`mesh.agents_listen`: `tcp/HOST:PORT`,
    `tls/...`); `user` and `password` the tenant's agent credential
    (`swarmd mesh credentials --tenant T`). Opening retries for up to
    `connect_timeout` seconds, so a process may start before its node;
    once open, zenoh re-establishes a lost link by itself.
    """

    def __init__(self, endpoints: Sequence[str], tenant: str, user: Optional[str] = None,
                 password: Optional[str] = None, mode: str = "client",
                 connect_timeout: float = 30.0, tls: Optional[dict] = None):
        protocol.key(tenant, "x", "percept")  # the tenant must fit in a key
        self.tenant = tenant
        config = zenoh.Config()
        settings = {
            "mode": mode,
            "connect/endpoints": list(endpoints),
            "scouting/multicast/enabled": False,
        }
        if user is not None:
            settings["transport/auth/usrpwd/user"] = user
            settings["transport/auth/usrpwd/password"] = password or ""
        for name, path in (tls or {}).items():
            settings[f"transport/link/tls/{name}"] = path
        for name, value in settings.items():
            config.insert_json5(name, json.dumps(value))
        self._zenoh = _open(config, connect_timeout)
        self._closed = False

    def key(self, agent: str, channel: str) -> str:
        return protocol.key(self.tenant, agent, channel)

    def put(self, agent: str, channel: str, message: dict) -> None:
        if self._closed:
            raise RuntimeError("the session is closed")
        self._zenoh.put(self.key(agent, channel), protocol.encode(message))

    def subscribe(self, agent: str, channel: str, handler):
        """Calls `handler(bytes)` for each message on `agent`'s `channel`."""
        return self._zenoh.declare_subscriber(
            self.key(agent, channel), lambda sample: handler(sample.payload.to_bytes()))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._zenoh.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _open(config: "zenoh.Config", timeout: float) -> "zenoh.Session":
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return zenoh.open(config)
        except Exception as e:  # zenoh raises ZError; a refused link is worth retrying
            if time.monotonic() + delay > deadline:
                raise ConnectionError(f"could not reach the mesh: {e}") from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
