#!/usr/bin/env python3
"""Import circles among a package's Python modules (module-level imports only; imports inside functions are
the usual way to break a circle, so they are not counted). Prints each circle and, last, "N modules in M
circles". Usage: import_cycles.py [--lazy] PACKAGE_DIR   (e.g. fastmask; --lazy also counts imports inside functions)

Copied from the project's shared tools; `tests/test_architecture.py` uses `import_graph` and `sccs`.
`python scripts/import_cycles.py --lazy fastmask` must print "0 modules in 0 circles"."""
import ast, os, sys

def modules(root):
    pkg = os.path.basename(os.path.abspath(root))
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".py", ".pyx")):
                rel = os.path.relpath(os.path.join(d, f), os.path.dirname(os.path.abspath(root)))
                name = rel.rsplit(".", 1)[0].replace(os.sep, ".")
                if name.endswith(".__init__"):
                    name = name[: -len(".__init__")]
                out[name] = os.path.join(d, f)
    return pkg, out

def edges(name, path, known, lazy=False):
    is_pkg = path.endswith("__init__.py")
    tree = ast.parse(open(path, encoding="utf-8").read())
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    for node in (list(ast.walk(tree)) if lazy else tree.body):   # module level unless lazy
        stmts = [node]
        if isinstance(node, (ast.If, ast.Try)):  # `if TYPE_CHECKING` is skipped below; try/except imports count
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                continue
            stmts = list(ast.walk(node))
        for s in stmts:
            if isinstance(s, ast.Import):
                for a in s.names:
                    if a.name in known:
                        yield a.name
            elif isinstance(s, ast.ImportFrom):
                if s.level:
                    parts = base[: len(base) - (s.level - 1)] if s.level > 1 else base
                    mod = ".".join(parts + ([s.module] if s.module else []))
                else:
                    mod = s.module or ""
                for a in s.names:
                    sub = f"{mod}.{a.name}"
                    if sub in known:
                        yield sub
                    elif mod in known:
                        yield mod

def sccs(graph):
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out

def import_graph(root, lazy=True):
    """{module: [modules it imports]} among the Python modules under `root` (a package dir).

    Cython sources are nodes (so `from . import _kernel` names them) but their cimports are not
    read. A submodule's import of its own ancestor package is not counted: Python has
    initialised that package before the submodule runs, so it is no design dependency.
    """
    pkg, mods = modules(root)
    return {m: sorted(set(e for e in edges(m, p, mods, lazy) if e != m and not m.startswith(e + ".")))
            for m, p in mods.items() if p.endswith(".py")}


if __name__ == "__main__":
    lazy = "--lazy" in sys.argv      # also count imports inside functions (a circle merely deferred)
    args = [a for a in sys.argv[1:] if a != "--lazy"]
    root = args[0] if args else "fastmask"
    circles = sccs(import_graph(root, lazy))
    for c in circles:
        print("circle:", " ".join(c))
    print(f"{sum(map(len, circles))} modules in {len(circles)} circles")
    sys.exit(1 if circles else 0)
