"""Runs one documentation page's blocks, in order, in the current folder.

Started by tests/test_doc_snippets.py in a fresh interpreter per page, with a JSON file
that lists the page's blocks. Python blocks share one namespace, as a reader's session
would; console blocks run their `$ ` commands through bash. Only the standard library is
imported here, so the page's own imports are the first ones that run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
import types
from pathlib import Path


def _console_script(block: dict[str, object]) -> str:
    """A bash script for a console block: each command, then a check of its exit status
    (a command followed by `echo $?` is left for that line to show)."""
    commands: list[tuple[int, str]] = block["commands"]  # type: ignore[assignment]
    lines = []
    for index, (line, command) in enumerate(commands):
        lines.append(command)
        following = commands[index + 1][1].strip() if index + 1 < len(commands) else ""
        if following != "echo $?":
            lines.append(f'__rc=$?; [ "$__rc" -eq 0 ] || {{ echo "doc line {line}: '
                         f'exit status $__rc" >&2; exit "$__rc"; }}')
    return "\n".join(lines) + "\n"


def main(blocks_json: str) -> int:
    """Run every block of the page described in ``blocks_json``; 1 at the first failure."""
    spec = json.loads(Path(blocks_json).read_text(encoding="utf-8"))
    page: str = spec["page"]
    # The page's code runs as a script's would, in a fresh __main__ module (so a class it
    # defines, such as a torch module to register, can be imported back by name).
    script = types.ModuleType("__main__")
    sys.modules["__main__"] = script
    namespace = script.__dict__
    sys.path.insert(0, os.getcwd())
    for block in spec["blocks"]:
        where = f"{page}:{block['line']}"
        print(f"---- {where} ({block['kind']})", flush=True)
        if block["kind"] == "file":
            Path(block["name"]).write_text(block["code"], encoding="utf-8")
        elif block["kind"] in ("python", "setup"):
            # Padded so that a traceback names the line in the Markdown file.
            code = compile("\n" * block["line"] + block["code"], page, "exec")
            try:
                exec(code, namespace)  # noqa: S102 - running the documentation is the point
            except BaseException:
                traceback.print_exc()
                print(f"doc-snippet failed: {where}", flush=True)
                return 1
            sys.stdout.flush()
            sys.stderr.flush()
        else:
            done = subprocess.run(["bash", "-c", _console_script(block)], check=False)
            if done.returncode != 0:
                print(f"doc-snippet failed: {where}", flush=True)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
