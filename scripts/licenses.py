#!/usr/bin/env python3
"""Licence policy check (an equivalent of `cargo deny check licenses`, with no extra install).

Every crate that a shipped binary or library links must carry a licence expression in which at
least one alternative is on the allow-list. GPL/AGPL/LGPL crates are refused outright: fw6 is
MIT OR Apache-2.0 and its library is linked into other people's programs. Dev-dependencies
(tests only) are not shipped and are not checked.
"""
import json
import re
import subprocess
import sys

ALLOWED = {
    "MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause",
    "ISC", "Zlib", "Unicode-3.0", "Unicode-DFS-2016", "MPL-2.0", "MPL-2.0+", "0BSD", "CC0-1.0",
    "Unlicense", "BSL-1.0",
}


def alternatives(expr):
    expr = expr.replace("/", " OR ").replace("(", " ").replace(")", " ")
    return [a.strip() for a in re.split(r"\s+OR\s+", expr) if a.strip()]


def acceptable(expr):
    for alt in alternatives(expr):
        parts = [p.strip() for p in re.split(r"\s+AND\s+", alt)]
        if all(p in ALLOWED for p in parts):
            return True
    return False


meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked",
     "--filter-platform", "x86_64-unknown-linux-gnu"]))
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
workspace = set(meta["workspace_members"])

# Walk normal and build dependencies from every workspace member, skipping dev-only edges.
shipped, todo = set(), list(workspace)
while todo:
    pid = todo.pop()
    if pid in shipped:
        continue
    shipped.add(pid)
    for dep in nodes[pid]["deps"]:
        kinds = {k["kind"] for k in dep["dep_kinds"]}
        if kinds - {"dev"}:
            todo.append(dep["pkg"])

bad = []
for pid in sorted(shipped - workspace):
    pkg = packages[pid]
    lic = pkg.get("license") or ""
    if not acceptable(lic):
        bad.append(f"{pkg['name']} {pkg['version']}: {lic or 'no licence field'}")

if bad:
    print("licence policy violated by:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print(f"licence policy ok: {len(shipped - workspace)} shipped crates")
