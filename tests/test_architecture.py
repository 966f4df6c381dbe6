"""The layering rules of the code base, checked on the source itself."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "modelver"
_SQL = re.compile(r"\b(SELECT \S|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|"
                  r"CREATE (TABLE|INDEX|TRIGGER)|DROP (TABLE|TRIGGER)|WITH RECURSIVE|PRAGMA \w|"
                  r"BEGIN (IMMEDIATE|EXCLUSIVE)|SAVEPOINT \w|ROLLBACK|COMMIT\b)")


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_no_module_imports_its_way_back_into_itself() -> None:
    layers = _tool("check_layers")
    assert layers.cycles(layers.graph()) == []


def test_the_cycle_checker_sees_lazy_and_type_checking_imports() -> None:
    layers = _tool("check_layers")
    edges = layers.graph()
    # _store imports _load inside a method; _store_queries imports _diff only under
    # TYPE_CHECKING.
    assert "modelver._load" in edges["modelver._store"]
    assert "modelver._diff" in edges["modelver._store_queries"]
    assert layers.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module except docstrings (which may name SQL)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_sql_lives_only_in_the_read_model_and_the_backends() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("_index/", "backends/")):
            continue
        offenders += [f"{rel}:{line}" for line, text in _string_constants(path)
                      if _SQL.search(text)]
    assert offenders == []


def test_the_sql_check_finds_a_query_outside_the_read_model(tmp_path: Path) -> None:
    path = tmp_path / "policy.py"
    path.write_text('"""Docs may say BEGIN IMMEDIATE."""\nQ = "SELECT version FROM versions"\n')
    assert [line for line, text in _string_constants(path) if _SQL.search(text)] == [2]


def test_no_module_is_over_500_lines() -> None:
    long = {p.relative_to(ROOT).as_posix(): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}
