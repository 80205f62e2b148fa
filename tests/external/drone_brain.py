"""A scripted brain for a swarmd drone: it first asks for a flight out of
the airspace (the reflex must refuse it), then flies each task's waypoints.

    drone_brain.py ENDPOINT TENANT USER PASSWORD AGENT UNSAFE_X,UNSAFE_Y
"""

import math
import sys
import time

from swarmd_agent import Answer, Brain, Session, done, go

UNSAFE_ANSWERS = 6


def main():
    endpoint, tenant, user, password, agent, unsafe = sys.argv[1:]
    unsafe = [float(c) for c in unsafe.split(",")]
    asked = {"n": 0}

    def decide(situation):
        here = situation.summary["at"]
        if situation.task is None:
            return Answer(go("hover"), model="scripted")
        asked["n"] += 1
        if asked["n"] <= UNSAFE_ANSWERS:
            return Answer(go({"go_to": {"to": unsafe}}), model="scripted", prompt_hash="unsafe")
        waypoints = situation.task["task"]["waypoints"]
        last = waypoints[-1]
        if math.dist(here, last) <= 1.0:
            return Answer(done(), model="scripted")
        return Answer(go({"go_to": {"to": last}}), model="scripted", prompt_hash="fly")

    with Session([endpoint], tenant, user, password) as mesh:
        brain = Brain(mesh, agent, decide, name="drone_brain.py")
        print("ready", flush=True)
        try:
            while True:
                time.sleep(1)
        finally:
            brain.close()


if __name__ == "__main__":
    main()
