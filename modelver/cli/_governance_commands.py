"""CLI commands for model cards and protected aliases: annotate, protect, approve."""

from __future__ import annotations

import argparse
from pathlib import Path

import modelver

from ._commands import Output, command, plain

__all__ = ["cmd_annotate", "cmd_approve", "cmd_protect"]


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


def _annotate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@VERSION")
    card = p.add_mutually_exclusive_group()
    card.add_argument("--description", metavar="TEXT",
                      help="the version's description (Markdown); '' clears it")
    card.add_argument("--description-file", metavar="FILE",
                      help="read the description from a file, e.g. MODEL_CARD.md")
    p.add_argument("--tag", metavar="KEY=VALUE", type=_tag, action="append", default=[],
                   help="set a tag (repeatable)")
    p.add_argument("--untag", metavar="KEY", action="append", default=[],
                   help="remove a tag (repeatable)")


@command("annotate", "add a description (model card) or tag changes to a version, as an "
         "append-only event; `show` prints the latest description",
         "modelver annotate fraud@0.3.0 --description-file MODEL_CARD.md --tag stage=beta",
         _annotate_args)
def cmd_annotate(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver annotate NAME@VERSION [--description TEXT | --description-file FILE]``."""
    name, ref = modelver.split_ref(args.ref)
    description = args.description
    if args.description_file is not None:
        try:
            description = Path(args.description_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise modelver.InvalidName(f"cannot read the description from "
                                       f"{args.description_file!r}: {exc}") from exc
    tags: dict[str, str | None] = dict(args.tag)
    tags.update({key: None for key in args.untag})
    note = store.annotate(name, ref, description=description, tags=tags or None)
    what = [] if note.description is None else [
        "description cleared" if not note.description else
        f"description set ({len(note.description):,} characters)"]
    what += [f"{k}={v}" if v is not None else f"-{k}" for k, v in sorted(note.tags.items())]
    return Output(f"annotated {note.name}@{note.version}: {', '.join(what)}", plain(note))


def _protect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("--approvals", metavar="N", type=int, default=1,
                   help="approvals by users other than the mover a move needs (default 1; "
                   "0 lifts the protection)")


@command("protect", "make moving an alias (promote or rollback) need approvals by other "
         "users; guards against mistakes, not against direct writes to the store",
         "modelver protect fraud prod --approvals 2", _protect_args)
def cmd_protect(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver protect NAME ALIAS --approvals N``."""
    guard = store.protect(args.name, args.alias, approvals=args.approvals)
    text = (f"{guard.name}@{guard.alias} is no longer protected" if not guard.approvals else
            f"{guard.name}@{guard.alias} is protected: a move needs {guard.approvals} "
            f"approval{'s' if guard.approvals != 1 else ''} by users other than the mover")
    return Output(text, plain(guard))


def _approve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@VERSION")
    p.add_argument("alias")
    p.add_argument("--reason")


@command("approve", "approve moving a protected alias to a version (your approval does not "
         "count for a move you make yourself)",
         "modelver approve fraud@0.3.0 prod --reason 'reviewed the model card'", _approve_args)
def cmd_approve(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver approve NAME@VERSION ALIAS [--reason TEXT]``."""
    name, ref = modelver.split_ref(args.ref)
    ok = store.approve(name, ref, args.alias, reason=args.reason)
    return Output(f"{ok.by} approved moving {ok.name}@{ok.alias} to {ok.version}", plain(ok))
