#!/usr/bin/env python3
"""Fails when workspace crates depend on each other in a cycle, counting
normal, build and dev dependencies alike (DESIGN §12: dependencies point down)."""
import json
import subprocess
import sys

meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--no-deps"]))
names = {p["name"] for p in meta["packages"]}
edges = {p["name"]: sorted({d["name"] for d in p["dependencies"] if d["name"] in names})
         for p in meta["packages"]}

def cycle_from(start):
    stack, on_path = [(start, iter(edges[start]))], [start]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.pop()
        elif child in on_path:
            return on_path[on_path.index(child):] + [child]
        else:
            stack.append((child, iter(edges[child])))
            on_path.append(child)
    return None

for crate in sorted(names):
    found = cycle_from(crate)
    if found:
        sys.exit("dependency cycle between workspace crates: " + " -> ".join(found))
print(f"no dependency cycles among {len(names)} workspace crates (dev-dependencies included)")
