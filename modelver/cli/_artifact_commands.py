"""CLI commands for an artifact's files: get."""

from __future__ import annotations

import argparse

import modelver

from ._commands import Output, command

__all__ = ["cmd_get"]


def _get_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="the folder to write into (default: NAME-VERSION); a new or empty "
                   "folder unless --force")
    p.add_argument("--artifact", metavar="MEMBER", help="only this member of a bundle")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty folder, replacing files of the same names")


@command("get", "write a version's artifact as files in their native form (a model.skops, "
         "a save_pretrained folder, the registered file), each verified",
         "modelver get fraud@prod -o ./fraud-model", _get_args)
def cmd_get(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver get NAME@REF -o PATH``."""
    name, ref = modelver.split_ref(args.ref)
    mv = store.resolve(name, ref)
    dest = args.output or f"{mv.name}-{mv.version}"
    path = store.export(name, mv.version, dest, artifact=args.artifact, force=args.force)
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()
                   ) if path.is_dir() else [path.name]
    text = f"wrote {mv.ref} ({mv.format}) to {path}\n" + "\n".join(f"  {f}" for f in files)
    return Output(text, {"ref": mv.ref, "format": mv.format, "digest": mv.digest,
                         "path": str(path), "files": files})
