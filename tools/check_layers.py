"""Fail on any import cycle among modelver's modules.

Every import counts: module level, inside functions, and under ``TYPE_CHECKING``.
The top-level package ``modelver/__init__.py`` is left out (it re-exports the public
names, so everything reaches it). Run ``python tools/check_layers.py``; it prints
each cycle and exits 1 when there is one, and the test suite runs it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "modelver"


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted name of a module file under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def absolute_module(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from … import`` in module ``current`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every modelver module that ``path`` imports, anywhere in its body."""
    current = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = absolute_module(current, is_package, node)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            # The longest prefix that is a module: `from . import x` may name a module.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != current:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    """module -> the modules it imports, the top-level package left out."""
    files = {module_name(p): p for p in (ROOT / PACKAGE).rglob("*.py")}
    modules = set(files)
    return {
        name: imports_of(path, modules) - {PACKAGE}
        for name, path in files.items()
        if name != PACKAGE
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    """Print the cycles (if any) and a one-line summary; 1 when there is a cycle."""
    edges = graph()
    found = cycles(edges)
    for component in found:
        print("cycle:", " <-> ".join(component))
    largest = max((ROOT / PACKAGE).rglob("*.py"), key=lambda p: len(p.read_text().splitlines()))
    print(f"{len(edges)} modules, {sum(len(e) for e in edges.values())} imports, "
          f"{len(found)} cycles; largest module {largest.relative_to(ROOT)} "
          f"({len(largest.read_text().splitlines())} lines)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
