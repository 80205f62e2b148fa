"""A process that tries to be agent AGENT's body with the credential given.

    rogue_body.py ENDPOINT TENANT USER PASSWORD AGENT [--bad]

With SWARMD_TLS_CA, SWARMD_TLS_CERT and SWARMD_TLS_KEY set, it links over
mutual TLS with that certificate. Prints `refused: WHY` and exits 3 if the mesh will not have it; else sends
40 percepts at 20 Hz, prints `sent 40` and exits 0. With `--bad`, first
five frames that are not JSON and five of protocol version 2.
"""

import json
import os
import sys
import time

from swarmd_agent import Body, Session


def main():
    endpoint, tenant, user, password, agent, *flags = sys.argv[1:]
    tls = None
    if os.environ.get("SWARMD_TLS_CA"):
        tls = {"root_ca_certificate": os.environ["SWARMD_TLS_CA"], "enable_mtls": True,
               "connect_certificate": os.environ["SWARMD_TLS_CERT"],
               "connect_private_key": os.environ["SWARMD_TLS_KEY"]}
    try:
        mesh = Session([endpoint], tenant, user, password, connect_timeout=5, tls=tls)
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
