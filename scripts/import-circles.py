#!/usr/bin/env python3
"""Finds import circles between the files of each crate: file A names something of file B
(`use crate::b::…`, `crate::b::…`, `super::b`) while B, directly or through others, names A.
Circles make a crate hard to read from the bottom up; `.ci/run` runs this and fails on one.

    scripts/import-circles.py            # prints the circles, exit status 1 if there are any

Module paths are resolved to files the simple way this workspace lays them out: `crate::a::b`
is src/a/b.rs or src/a/b/mod.rs if it exists, else src/a.rs (or src/a/mod.rs). References inside
`#[cfg(test)] mod tests` blocks are ignored (tests may use anything).
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_file(src: Path, parts):
    """The file holding `crate::parts…` (the longest prefix that is a file)."""
    for k in range(len(parts), 0, -1):
        base = src.joinpath(*parts[:k])
        for cand in (base.with_suffix(".rs"), base / "mod.rs"):
            if cand.is_file():
                return cand
    return None


def without_tests(text):
    """The code without its test module and comments (doc links name modules too)."""
    text = re.sub(r"//[^\n]*", "", text)
    m = re.search(r"#\[cfg\(test\)\]\s*mod [a-z_]*tests\s*\{", text)
    if not m:
        return text
    depth, i = 0, m.end() - 1
    while i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            break
    return text[: m.start()] + text[i:]


def edges(src: Path):
    graph = {}
    for f in src.rglob("*.rs"):
        text = without_tests(f.read_text())
        targets = set()
        # crate::a::b::{...} and crate::a::Item
        for m in re.finditer(r"\bcrate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)", text):
            parts = m.group(1).split("::")
            t = module_file(src, parts)
            if t and t != f:
                targets.add(t)
        # super::x from a file in a folder (mod.rs siblings)
        for m in re.finditer(r"\bsuper::([a-z_][a-z0-9_]*)", text):
            folder = f.parent if f.name != "mod.rs" else f.parent.parent
            t = module_file(folder, [m.group(1)])
            if t and t != f and t.parent == folder:
                targets.add(t)
        graph[f] = targets
    return graph


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    found = 0
    for src in sorted((ROOT / "crates").glob("*/src")) + [ROOT / "python" / "src"]:
        if not src.is_dir():
            continue
        for comp in cycles(edges(src)):
            found += 1
            names = sorted(str(p.relative_to(ROOT)) for p in comp)
            print("import circle: " + " ↔ ".join(names))
    if found:
        sys.exit(1)
    print("no import circles")


if __name__ == "__main__":
    main()
