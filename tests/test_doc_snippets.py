"""The docs run as written: every Python and console block of README.md and docs/*.md.

Each page runs in a scratch folder with a fresh store, its blocks in order, in one fresh
interpreter (tests/doc_snippet_runner.py): Python blocks share one namespace; console
blocks run their `$ ` lines through bash, with the venv's bin first on PATH (so `python`
and `modelver` resolve) and no MODELVER_URI. Output lines in console blocks are
illustrative and not compared. Other languages (text, toml, yaml, mermaid) are data.

Markers, HTML comments (invisible when rendered) right before a block:

* ``<!-- not run: REASON -->``: the block is skipped; the reason is required.
* ``<!-- file: NAME -->``: the block is written to NAME in the scratch folder, not run.
* ``<!-- setup`` then Python lines then ``-->``: hidden code run before the next block
  (fixtures such as the CSV files a snippet reads).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "doc_snippet_runner.py"
EXCLUDED = {
    "api.md": "generated from the docstrings by docs/gen_api.py (tests/test_docs.py)",
    "cli.md": "generated from the CLI's parser by docs/gen_cli.py (tests/test_docs.py)",
}
# Generated pages hold signatures and usage, not examples: they are checked against the
# code by tests/test_docs.py instead.
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md")
                                     if p.name not in EXCLUDED)]
RUN = ("python", "console")
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*(not run|file|setup)\b:?(.*?)(?:-->)?\s*$", re.S)


@dataclass
class Block:
    """A fenced block of a page and the markers before it."""

    line: int                       # the fence's line, 1-based
    lang: str
    code: str
    not_run: str | None = None
    file: str | None = None
    setup: list[tuple[int, str]] = field(default_factory=list)


def parse(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with their markers; a malformed marker
    (a `not run` without a reason, a marker with no block after it) raises."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: dict[str, object] = {}
    setup: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        text = lines[i]
        if text.startswith("<!--"):
            start = i
            while "-->" not in lines[i]:
                i += 1
            comment = "\n".join(lines[start:i + 1])
            marker = MARKER.match(comment)
            if marker:
                kind, rest = marker.group(1), marker.group(2).strip()
                if kind == "not run":
                    if not rest:
                        raise ValueError(f"{path.name}:{start + 1}: `not run` needs a reason")
                    pending["not_run"] = rest
                elif kind == "file":
                    pending["file"] = rest
                elif kind == "setup":
                    # The code sits on the lines between `<!-- setup` and `-->`.
                    setup.append((start + 1, "\n".join(lines[start + 1:i]) + "\n"))
            i += 1
            continue
        fence = FENCE.match(text)
        if fence:
            end = i + 1
            while not lines[end].startswith("```"):
                end += 1
            blocks.append(Block(line=i + 1, lang=fence.group(1),
                                code="\n".join(lines[i + 1:end]) + "\n",
                                not_run=pending.get("not_run"),  # type: ignore[arg-type]
                                file=pending.get("file"),  # type: ignore[arg-type]
                                setup=setup))
            pending, setup = {}, []
            i = end + 1
            continue
        if text.strip() and (pending or setup):
            raise ValueError(f"{path.name}:{i + 1}: a marker is not followed by a block")
        i += 1
    if pending or setup:
        raise ValueError(f"{path.name}: a marker at the end is not followed by a block")
    return blocks


def commands(code: str, first_line: int) -> list[tuple[int, str]]:
    """The `$ ` commands of a console block, with their line numbers; a command ending in
    a backslash continues on the next line."""
    found: list[tuple[int, str]] = []
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            line, command = first_line + 1 + i, lines[i][2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command += "\n" + lines[i]
            found.append((line, command))
        i += 1
    return found


def plan(blocks: list[Block]) -> list[dict[str, object]]:
    """What the runner does, in order: setup code, files written, blocks run."""
    steps: list[dict[str, object]] = []
    for block in blocks:
        steps.extend({"kind": "setup", "line": line, "code": code} for line, code in block.setup)
        if block.not_run is not None:
            continue
        if block.file is not None:
            steps.append({"kind": "file", "line": block.line, "name": block.file,
                          "code": block.code})
        elif block.lang == "python":
            steps.append({"kind": "python", "line": block.line, "code": block.code})
        elif block.lang == "console":
            steps.append({"kind": "console", "line": block.line,
                          "commands": commands(block.code, block.line)})
    return steps


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_the_page_runs_as_written(page: Path, tmp_path: Path) -> None:
    steps = plan(parse(page))
    if not any(step["kind"] in RUN for step in steps):
        return  # nothing to run: prose, tables and data blocks only
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "home").mkdir()
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps({"page": _id(page), "blocks": steps}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MODELVER_") and k not in ("PYTEST_CURRENT_TEST", "VIRTUAL_ENV")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               HOME=str(tmp_path / "home"), MODELVER_CACHE=str(tmp_path / "cache"),
               MODELVER_PROGRESS="0", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, str(RUNNER), str(spec)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-6000:]
        pytest.fail(f"{_id(page)} does not run as written:\n{output}", pytrace=False)


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_console_block_runs_a_command_or_says_why_not(page: Path) -> None:
    for block in parse(page):  # parse() refuses a `not run` marker without a reason
        assert block.not_run is None or block.not_run.strip()
        if block.lang == "console" and block.not_run is None and block.file is None:
            assert commands(block.code, block.line), (
                f"{_id(page)}:{block.line}: a console block with no `$ ` command runs "
                "nothing: prefix its commands with `$ `, or mark it `<!-- not run: ... -->`")


def test_the_parser_reads_markers_and_commands(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n<!-- not run: needs a GPU -->\n```python\nimport torch\n```\n\n"
        "<!-- setup\nopen('a.csv', 'w').write('x\\n1\\n')\n-->\n"
        "<!-- file: train.py -->\n```python\nprint(1)\n```\n\n"
        "```console\n$ python train.py \\\n  --fast\n1\n$ false\n$ echo $?\n1\n```\n"
        "```text\nnot code\n```\n", encoding="utf-8")
    gpu, train, console, text = parse(page)
    assert gpu.not_run == "needs a GPU" and gpu.lang == "python"
    assert train.file == "train.py" and train.setup[0][1].startswith("open('a.csv'")
    assert commands(console.code, console.line) == [
        (17, "python train.py \\\n  --fast"), (20, "false"), (21, "echo $?")]
    assert [step["kind"] for step in plan([gpu, train, console, text])] == [
        "setup", "file", "console"]


def test_a_not_run_marker_needs_a_reason(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- not run: -->\n```python\npass\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a reason"):
        parse(page)
