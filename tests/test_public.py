"""The public face: ``modelver.__all__`` is complete, documented, and all the outer layers use."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import modelver

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_tools_{name}", ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_public = _tool("check_public")


def _violations(tmp_path: Path, relative: str, source: str) -> list[str]:
    """What the checker says of ``source`` placed at ``relative`` in a copy of the package."""
    (tmp_path / "modelver" / "cli").mkdir(parents=True)
    (tmp_path / "modelver" / "__init__.py").write_text(
        (ROOT / "modelver" / "__init__.py").read_text(encoding="utf-8"))
    path = tmp_path / relative
    path.write_text(source)
    return list(check_public.violations(path, check_public.public_names(tmp_path), tmp_path))


@pytest.mark.parametrize("name", sorted(modelver.__all__))
def test_every_public_name_exists_and_has_a_docstring(name: str) -> None:
    obj = getattr(modelver, name)
    if name != "__version__":
        assert (inspect.getdoc(obj) or "").strip(), f"modelver.{name} has no docstring"


def test_dir_lists_exactly_the_public_names_sorted() -> None:
    assert dir(modelver) == sorted(modelver.__all__)
    assert len(set(modelver.__all__)) == len(modelver.__all__)


def test_the_result_types_users_receive_are_public() -> None:
    for name in ("Diff", "Lineage", "LineageNode", "LineageEdge", "RetentionPlan",
                 "PlannedDeletion", "GcReport", "VerifyReport", "Problem", "TransferReport",
                 "VersionList", "RunList", "AliasHistory", "LockFile", "LockEntry", "LockMove",
                 "Hold", "Tombstone"):
        assert name in modelver.__all__, name
        assert isinstance(getattr(modelver, name), type)


def test_the_cli_and_the_pytest_plugin_use_only_public_names() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "check_public.py")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("source", [
    "from modelver._resolve import split_ref\n",
    "from .._serde import unstructure\n",
    "from .. import _locking\n",
    "import modelver._config\n",
    "import modelver\nx = modelver._config._configured\n",
    "import modelver as mv\nx = mv.not_a_public_name\n",
    "import importlib\nimportlib.import_module('modelver._lineage')\n",
])
def test_the_checker_catches_a_private_name(tmp_path: Path, source: str) -> None:
    assert _violations(tmp_path, "modelver/cli/_x.py", source)


@pytest.mark.parametrize("source", [
    "import modelver\nx = modelver.Store\n",
    "from modelver import Lineage, split_ref\n",
    "from .. import Diff\n",
    "from ._commands import Output\n",
    "from . import _commands\n",
    "import modelver.cli._commands\n",
])
def test_the_checker_allows_public_names_and_the_clis_own_modules(
        tmp_path: Path, source: str) -> None:
    assert _violations(tmp_path, "modelver/cli/_x.py", source) == []


def test_the_plugin_may_not_import_the_cli_internals(tmp_path: Path) -> None:
    assert _violations(tmp_path, "modelver/pytest_plugin.py",
                       "from modelver.cli._commands import plain\n")


def test_pin_loads_the_pinned_version_inside_the_block_only(store: modelver.Store) -> None:
    store.register("fraud", {"v": 1}, version="1.0.0")
    store.register("fraud", {"v": 2}, version="2.0.0")
    store.promote("fraud", "2.0.0", "prod")
    with modelver.pin(FRAUD="1.0.0") as pins:
        assert pins == {"fraud": "1.0.0"}
        assert store.load("fraud", "prod") == {"v": 1}
        with modelver.pin({"fraud": "2.0.0"}):
            assert store.load("fraud", "prod") == {"v": 2}
        assert store.load("fraud", "latest") == {"v": 1}
    assert store.load("fraud", "prod") == {"v": 2}


def test_pin_refuses_an_invalid_name() -> None:
    with pytest.raises(modelver.InvalidName), modelver.pin({"../x": "1.0.0"}):
        pass  # pragma: no cover


def test_configured_reads_back_what_configure_set(store: modelver.Store) -> None:
    assert modelver.configured() is store  # the fixture configured it
    other = modelver.open(store.uri)
    try:
        assert modelver.configure(other) is other and modelver.configured() is other
        assert modelver.configure(None) is None and modelver.configured() is None
    finally:
        modelver.configure(store)
        other.close()


@pytest.mark.parametrize(("text", "parts"), [("fraud@prod", ("fraud", "prod")),
                                             ("Fraud", ("fraud", "latest")),
                                             ("fraud@>=1.2,<2", ("fraud", ">=1.2,<2"))])
def test_split_ref_parses_the_name_at_ref_text(text: str, parts: tuple[str, str]) -> None:
    assert modelver.split_ref(text) == parts
