"""A drone's brain that asks a language model (the worked example).

    python llm_brain.py --agent d1 [--tenant default] [--endpoint tcp/127.0.0.1:7460]
        [--user agent.default --password KEY] --llm http://127.0.0.1:8080/v1 --model qwen2.5-7b

Credentials and endpoint default to `swarmd mesh credentials --tenant TENANT`;
the model's endpoint and name may come from SWARMD_LLM_URL and SWARMD_LLM_MODEL,
its key from OPENAI_API_KEY.
"""

import argparse
import json
import logging
import os
import signal
import subprocess
import threading

from swarmd_agent import Brain, Session
from swarmd_agent.llm import LlmBrain

#: The drones domain's intent (actors/drones): hover, or go to a point.
DRONE_INTENT = {"oneOf": [
    {"const": "hover"},
    {"type": "object", "required": ["go_to"], "properties": {"go_to": {
        "type": "object", "required": ["to"], "properties": {"to": {
            "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}}}},
]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agent", required=True)
    p.add_argument("--tenant", default="default")
    p.add_argument("--endpoint")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--llm", default=os.environ.get("SWARMD_LLM_URL"))
    p.add_argument("--model", default=os.environ.get("SWARMD_LLM_MODEL"))
    p.add_argument("--timeout", type=float, default=10.0, help="the model's time budget, s")
    p.add_argument("--max-tokens", type=int, default=256, help="the model's token budget")
    a = p.parse_args()
    if not a.llm or not a.model:
        p.error("--llm and --model (or SWARMD_LLM_URL and SWARMD_LLM_MODEL) are needed")
    if not a.user:
        creds = json.loads(subprocess.check_output(
            ["swarmd", "mesh", "credentials", "--tenant", a.tenant]))
        a.user, a.password = creds["user"], creds["password"]
        a.endpoint = a.endpoint or creds["endpoints"][0]
    logging.basicConfig(level=logging.INFO)
    llm = LlmBrain(a.llm, a.model, DRONE_INTENT, max_tokens=a.max_tokens, timeout_s=a.timeout)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Session([a.endpoint], a.tenant, a.user, a.password) as mesh:
        brain = Brain(mesh, a.agent, llm, name=f"llm_brain.py:{a.model}")
        print("ready", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            brain.close()


if __name__ == "__main__":
    main()
