"""The docs stay true: generated pages current, everything public documented, links alive."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

import modelver
from modelver.cli._main import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
TEST_REF = re.compile(r"tests/(test_\w+\.py)(?:::(test_\w+))?")


def _generator(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands() -> dict[str, tuple[str, object]]:
    commands: dict[str, tuple[str, object]] = _generator("gen_cli").commands(build_parser())
    return commands


def test_cli_md_is_generated_from_the_current_parser() -> None:
    expected = _generator("gen_cli").render()
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == expected, (
        "docs/cli.md is out of date: run python docs/gen_cli.py")


def test_api_md_is_generated_from_the_current_docstrings() -> None:
    expected = _generator("gen_api").render()
    assert (DOCS / "api.md").read_text(encoding="utf-8") == expected, (
        "docs/api.md is out of date: run python docs/gen_api.py")


def test_the_cli_has_commands() -> None:
    assert {"ls", "show", "promote", "rollback", "history", "verify", "lock"} <= set(_commands())


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_help_an_example_and_a_section_in_cli_md(name: str) -> None:
    help_line, parser = _commands()[name]
    assert help_line.strip(), f"`modelver {name}` has no help line"
    assert "example:" in (parser.description or ""), f"`modelver {name}` has no example"  # type: ignore[attr-defined]
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"## `modelver {name}`" in text


@pytest.mark.parametrize("name", sorted(modelver.__all__))
def test_every_public_name_has_a_docstring_and_an_api_entry(name: str) -> None:
    if name != "__version__":
        doc = inspect.getdoc(getattr(modelver, name))
        assert doc and doc.strip(), f"modelver.{name} has no docstring"
    assert f"### `modelver.{name}`" in (DOCS / "api.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, mailto: or an anchor in the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.name} links to missing files: {broken}"


def test_the_docs_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = {t.split("#", 1)[0] for t in LINK.findall(index)}
    missing = [p.name for p in PAGES if p.name != "index.md" and p.name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


def test_every_test_named_in_the_docs_exists() -> None:
    missing = []
    for page in PAGES:
        for file, func in TEST_REF.findall(page.read_text(encoding="utf-8")):
            path = ROOT / "tests" / file
            if not path.exists():
                missing.append(f"{page.name}: tests/{file}")
            elif func and not re.search(rf"^def {func}\(", path.read_text(encoding="utf-8"),
                                        re.MULTILINE):
                missing.append(f"{page.name}: tests/{file}::{func}")
    assert not missing, f"the docs name tests that do not exist: {missing}"
