"""A process that tries to be agent AGENT's body with the credential given.

    rogue_body.py ENDPOINT TENANT USER PASSWORD AGENT [--bad]

Prints `refused: WHY` and exits 3 if the mesh will not have it; else sends
40 percepts at 20 Hz, prints `sent 40` and exits 0. With `--bad`, first
five frames that are not JSON and five of protocol version 2.
"""

import json
import sys
import time

from swarmd_agent import Body, Session


def main():
    endpoint, tenant, user, password, agent, *flags = sys.argv[1:]
    try:
        mesh = Session([endpoint], tenant, user, password, connect_timeout=5)
    except ConnectionError as e:
        print(f"refused: {e}", flush=True)
        sys.exit(3)
    with mesh:
        if "--bad" in flags:
            for _ in range(5):
                mesh._zenoh.put(mesh.key(agent, "percept"), b"\xff not json")
                mesh._zenoh.put(mesh.key(agent, "percept"),
                                json.dumps({"v": 2, "agent": agent, "seq": 1}).encode())
        body = Body(mesh, agent, name="rogue")
        for t in range(40):
            body.send({"at": [40.0, 2.0], "velocity": [0, 0], "battery": 1.0, "home": [40.0, 2.0],
                       "near": [], "t_ms": t * 50})
            time.sleep(0.05)
    print("sent 40", flush=True)


if __name__ == "__main__":
    main()
