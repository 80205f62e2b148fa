#!/usr/bin/env python3
"""Fails when a production source file (under some crate's src/) is over
500 lines: a file a newcomer can read in one sitting (DESIGN §14)."""
import pathlib
import sys

LIMIT = 500
root = pathlib.Path(__file__).resolve().parent.parent
long = []
for path in sorted(root.glob("**/src/**/*.rs")):
    if "target" in path.parts or path.name.endswith("tests.rs"):
        continue
    lines = path.read_text().count("\n")
    if lines > LIMIT:
        long.append(f"{path.relative_to(root)}: {lines} lines")
if long:
    sys.exit("over %d lines:\n  %s" % (LIMIT, "\n  ".join(long)))
print(f"every production file is at most {LIMIT} lines")
