"""Argument parsing and dispatch for the ``modelver`` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import modelver

from ._commands import COMMANDS, Output

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, "modelver.Store"], Any]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _global_options(p: argparse.ArgumentParser) -> None:
    """The options every command takes, before or after its name. Their default is to
    leave the attribute unset, so that a subcommand's parser does not overwrite what
    was given before the command's name."""
    p.add_argument("--store", metavar="URI", default=argparse.SUPPRESS,
                   help="store URI (default: MODELVER_URI or the nearest .modelver folder)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print JSON instead of text")
    p.add_argument("--offline", choices=("warn", "error"), default=argparse.SUPPRESS,
                   help="when a remote store cannot be reached: warn and answer from this "
                   "machine's copy (default), or fail")


def _add(sub: Any, name: str, handler: Handler, help_text: str, example: str
         ) -> argparse.ArgumentParser:
    doc = f"{help_text}\n\nexample:\n  {example}"
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=doc,
                                                formatter_class=_Formatter)
    _global_options(p)
    p.set_defaults(handler=handler)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to check that every command is documented)."""
    parser = argparse.ArgumentParser(
        prog="modelver", formatter_class=_Formatter,
        description="Version, promote, roll back and audit machine-learning models.\n\n"
                    "References are NAME@REF: a version (1.2.0), an alias (prod), latest, a "
                    "specifier (>=1.2,<2) or a digest prefix (sha256:3fa9).")
    parser.add_argument("--version", action="store_true", dest="show_version",
                        help="print modelver's version")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for spec in COMMANDS:
        p = _add(sub, spec.name, spec.handler, spec.help, spec.example)
        spec.arguments(p)
    return parser


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Show warnings as ``modelver: warning: …`` lines, without Python's file, line
    number and source line, while a command runs."""
    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        print(f"modelver: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.show_version:
        print(f"modelver {modelver.__version__}")
        return 0
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    args.json = getattr(args, "json", False)
    args.offline = getattr(args, "offline", "warn")
    args.store = getattr(args, "store", None)
    try:
        with _one_line_warnings():
            store = modelver.open(args.store, offline=args.offline)
            result = args.handler(args, store)
    except modelver.ModelverError as exc:
        print(f"modelver: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if not isinstance(result, Output):
        return 0
    try:
        if args.json:
            data = result.data() if callable(result.data) else result.data
            print(json.dumps(data, indent=2, sort_keys=True, default=str))
        elif result.text:
            print(result.text)
        sys.stdout.flush()
    except BrokenPipeError:
        # `modelver ls | head`: the reader has what it wanted. Point stdout at nothing
        # so that Python's own flush at exit does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return result.status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
