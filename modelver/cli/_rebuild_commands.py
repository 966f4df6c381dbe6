"""CLI commands to rebuild and audit versions: reproduce, checkout-data, audit."""

from __future__ import annotations

import argparse

import modelver

from ._commands import Output, command

__all__ = ["cmd_audit", "cmd_checkout_data", "cmd_reproduce"]


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("--workdir", metavar="DIR",
                   help="keep the scratch folder (code, data, scratch store) here")


@command("reproduce", "rebuild a version from its record in a fresh process and compare "
         "digests: exit 0 identical, 1 different, 2 could not reproduce",
         "modelver reproduce fraud@0.2.1", _reproduce_args)
def cmd_reproduce(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver reproduce NAME@REF``."""
    name, ref = modelver.split_ref(args.ref)
    try:
        result = store.reproduce(name, ref, workdir=args.workdir)
    except modelver.NotReproducible as exc:
        return Output(f"{args.ref}: COULD NOT REPRODUCE\n  {exc}",
                      {"status": "not reproduced", "error": str(exc)}, 2)
    return Output(str(result), result.to_dict(), result.exit_code)


def _checkout_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("key", metavar="KEY", help="the data argument, as `show` lists it")
    p.add_argument("dest", metavar="DEST", help="a new path, or an empty folder")


@command("checkout-data", "write a version's data snapshot back to disk, verified",
         "modelver checkout-data fraud@0.2.1 train_path ./restored", _checkout_args)
def cmd_checkout_data(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver checkout-data NAME@REF KEY DEST``."""
    name, ref = modelver.split_ref(args.ref)
    path = store.checkout_data(name, ref, args.key, args.dest)
    return Output(f"wrote {args.key} of {args.ref} to {path}", {"path": str(path)})


def _audit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to write the report (default: audit-NAME-VERSION.html); a "
                   ".json name writes the JSON, '-' prints the HTML")


@command("audit", "write one self-contained HTML report of a version for a reviewer: "
         "artifacts, lineage, captured context, alias history, holds, verify, "
         "reproductions (exit 1 when verify finds a problem)",
         "modelver audit fraud@prod -o report.html", _audit_args)
def cmd_audit(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver audit NAME@REF -o report.html``."""
    name, ref = modelver.split_ref(args.ref)
    report = store.audit(name, ref)
    code = 0 if report.ok else 1
    if args.output == "-":
        return Output(report.to_html(), report.to_dict(), code)
    path = report.save(args.output or f"audit-{report.version.name}-"
                       f"{report.version.version}.html")
    text = (f"wrote the audit of {report.ref} to {path} ({path.stat().st_size:,} bytes)\n"
            + str(report))
    return Output(text, {"path": str(path), "ref": report.ref, "ok": report.ok,
                         "problems": [str(p) for p in report.verify.problems]}, code)
