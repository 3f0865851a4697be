#!/usr/bin/env python3
"""Reports include cycles between the units of src/: a unit is a header and its .cc (a.h + a.cc), and a unit depends
on every unit whose header one of its files includes ("..." includes only). A cycle is a strongly connected
component of more than one unit; each is printed with the include lines that close it.

  scripts/include_cycles.py [DIR...]      DIRs under src/ to report on (default: all of src/)

Exit status 1 if a reported directory has a cycle."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def unit(path):
    return os.path.splitext(path)[0]


def graph():
    edges = {}
    for d, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(('.h', '.cc')):
                continue
            rel = os.path.relpath(os.path.join(d, f), ROOT)
            with open(os.path.join(ROOT, rel)) as fh:
                for inc in INCLUDE.findall(fh.read()):
                    if os.path.exists(os.path.join(ROOT, inc)) and unit(inc) != unit(rel):
                        edges.setdefault(unit(rel), {}).setdefault(unit(inc), rel)
            edges.setdefault(unit(rel), {})
    return edges


def components(edges):
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            c = []
            while True:
                w = stack.pop()
                on.discard(w)
                c.append(w)
                if w == v:
                    break
            if len(c) > 1:
                out.append(sorted(c))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    dirs = [d.rstrip('/') + '/' for d in sys.argv[1:]] or ['']
    edges = graph()
    found = 0
    for c in components(edges):
        if not any(u.startswith(d) for u in c for d in dirs):
            continue
        found += 1
        print(f'cycle of {len(c)} units:')
        for u in c:
            for w, via in sorted(edges[u].items()):
                if w in c:
                    print(f'  {via} includes {w}.h')
    print(f'{found} include cycle(s)')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
