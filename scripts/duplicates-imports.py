#!/usr/bin/env python3
"""Reads the output of `duplicates` (run in internal/) on stdin and says which
pairs lie wholly inside Go import blocks on both sides.

The duplicates tool says it passes over import lines, but the lines of a
grouped Go import block ("import ( ... )") are counted like code; this
script separates those pairs from the others. Run from internal/:

    duplicates --most 200 --seconds 200 | python3 ../scripts/duplicates-imports.py
"""
import re
import sys


def import_lines(path):
    lines = set()
    inside = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("import ("):
                inside = True
            if inside:
                lines.add(number)
                if line.strip() == ")":
                    inside = False
    return lines


pair = re.compile(r"^(D\d+) (\S+):(\d+)-(\d+) ~ (\S+):(\d+)-(\d+)")
imports, others = [], []
for row in sys.stdin:
    m = pair.match(row)
    if not m:
        continue
    name, f1, a1, b1, f2, a2, b2 = m.groups()
    sides = ((f1, int(a1), int(b1)), (f2, int(a2), int(b2)))
    if all(set(range(a, b + 1)) <= import_lines(f) for f, a, b in sides):
        imports.append(name)
    else:
        others.append(name)
print(f"{len(imports)} pairs inside import blocks on both sides: {' '.join(imports)}")
print(f"{len(others)} other pairs")
