"""swarmd agents' bodies and brains in Python, over the agent protocol on zenoh.

    from swarmd_agent import Session, Body
    with Session(["tcp/127.0.0.1:5600"], "acme", user, password) as mesh:
        body = Body(mesh, "d1", name="my-drone")
        body.send({...})              # the domain's percept, as JSON
        command = body.command(1.0)   # the reflex's command, or None
"""

from .body import Body
from .brain import Answer, Brain
from .protocol import (PROTOCOL_VERSION, Command, ProtocolError, Situation, done, failed, go)
from .session import Session

__all__ = ["Answer", "Body", "Brain", "Command", "PROTOCOL_VERSION", "ProtocolError", "Session",
           "Situation", "done", "failed", "go"]
