"""Airframes simulated in Python, as the external bodies of swarmd drones.

    drones_body.py ENDPOINT TENANT USER PASSWORD AGENT:X,Y [AGENT:X,Y ...]

Each airframe senses at 20 Hz and flies the reflex's latest command (at most
8 m/s). Prints `ready` once on the mesh, then one JSON line per second per
airframe: where it is and the command in force.
"""

import json
import math
import sys
import time

from swarmd_agent import Body, Session

MAX_SPEED = 8.0
PERIOD = 0.05


class Airframe:
    def __init__(self, mesh, agent, home):
        self.agent, self.at, self.home = agent, list(home), list(home)
        self.velocity = [0.0, 0.0]
        self.body = Body(mesh, agent, name=f"drones_body.py:{agent}")

    def step(self, dt, t_ms):
        command = self.body.command(timeout=0)
        fly = command.command.get("fly") if command and isinstance(command.command, dict) else None
        v = fly["velocity"] if fly else [0.0, 0.0]
        speed = math.hypot(*v)
        if speed > MAX_SPEED:
            v = [c * MAX_SPEED / speed for c in v]
        self.velocity = v
        self.at = [self.at[0] + v[0] * dt, self.at[1] + v[1] * dt]
        self.body.send({"at": self.at, "velocity": v, "battery": 1.0, "home": self.home,
                        "near": [], "t_ms": t_ms})
        return command


def main():
    endpoint, tenant, user, password, *agents = sys.argv[1:]
    with Session([endpoint], tenant, user, password) as mesh:
        frames = []
        for spec in agents:
            agent, xy = spec.split(":")
            frames.append(Airframe(mesh, agent, [float(c) for c in xy.split(",")]))
        print("ready", flush=True)
        start = last_report = time.monotonic()
        while True:
            now = time.monotonic()
            t_ms = int((now - start) * 1000)
            commands = [f.step(PERIOD, t_ms) for f in frames]
            if now - last_report >= 1.0:
                last_report = now
                for f, c in zip(frames, commands):
                    print(json.dumps({"agent": f.agent, "at": f.at,
                                      "command": c.command if c else None}), flush=True)
            time.sleep(PERIOD)


if __name__ == "__main__":
    main()
