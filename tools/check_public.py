"""Fail when the CLI or the pytest plugin uses a name that is not public.

The outer layers are built the way any program on modelver would be, so they may use
only ``import modelver`` and the names in ``modelver.__all__``: no ``from
modelver._x import``, no ``modelver._x``, no ``from .. import _x``. Inside
``modelver/cli/`` the CLI's own modules may import each other. ``__all__`` is read
from ``modelver/__init__.py`` without importing the package.

Run ``python tools/check_public.py``; it prints each offending line and exits 1 when
there is one, and the test suite runs it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_layers import absolute_module, module_name  # the sibling tool

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "modelver"
OWN = f"{PACKAGE}.cli"  # the CLI package: its modules may import each other


def outer_modules(root: Path = ROOT) -> list[Path]:
    """The files checked: every module of the CLI, and the pytest plugin."""
    return [*sorted((root / PACKAGE / "cli").rglob("*.py")),
            root / PACKAGE / "pytest_plugin.py"]


def public_names(root: Path = ROOT) -> set[str]:
    """``modelver.__all__``, read from the package's ``__init__.py``."""
    tree = ast.parse((root / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
            return set(ast.literal_eval(node.value))
    raise SystemExit(f"no literal __all__ in {root / PACKAGE / '__init__.py'}")


def _ours(module: str) -> bool:
    return module == OWN or module.startswith(OWN + ".")


def violations(path: Path, public: set[str], root: Path = ROOT) -> Iterator[str]:
    """``path:line: what`` for each use of a name outside the public API."""
    module = module_name(path, root)
    in_cli = _ours(module)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases = {PACKAGE}  # local names bound to the modelver package itself
    where = path.relative_to(root)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    aliases.add(alias.asname or PACKAGE)
                elif alias.name.startswith(PACKAGE + ".") and not (in_cli and _ours(alias.name)):
                    yield f"{where}:{node.lineno}: imports {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            source = absolute_module(module, path.name == "__init__.py", node)
            if source == PACKAGE:
                for alias in node.names:
                    if alias.name not in public:
                        yield (f"{where}:{node.lineno}: imports {PACKAGE}.{alias.name}, "
                               "which is not in modelver.__all__")
            elif source.startswith(PACKAGE + ".") and not (in_cli and _ours(source)):
                yield f"{where}:{node.lineno}: imports from {source}"
        elif isinstance(node, ast.Call):
            named = _dynamic_import(node)
            if named is not None and not (in_cli and _ours(named)):
                yield f"{where}:{node.lineno}: imports {named} by name"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr not in public
                and not (in_cli and node.attr == "cli")):
            yield (f"{where}:{node.lineno}: uses {PACKAGE}.{node.attr}, which is not in "
                   "modelver.__all__")


def _dynamic_import(node: ast.Call) -> str | None:
    """The modelver module an ``importlib.import_module("…")``/``__import__`` names."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and (
            arg.value.startswith(PACKAGE + ".")):
        return arg.value
    return None


def main() -> int:
    """Print every violation (if any) and a summary; 1 when there is one."""
    public = public_names()
    files = outer_modules()
    found = [v for path in files for v in violations(path, public)]
    for line in found:
        print(line)
    print(f"{len(files)} modules checked against {len(public)} public names, "
          f"{len(found)} non-public uses")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
