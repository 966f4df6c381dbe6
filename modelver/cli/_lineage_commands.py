"""CLI commands for lineage, diff, retention, garbage collection and holds."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import modelver

from ._commands import Output, command, plain, table

__all__ = ["cmd_diff", "cmd_gc", "cmd_hold", "cmd_lineage", "cmd_release", "cmd_retention",
           "cmd_used_by"]


def _diff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="NAME@REF of the first version")
    p.add_argument("b", metavar="B", help="NAME@REF of the second version")


@command("diff", "compare two versions' runs: params, data, code, seeds, environment, "
         "hardware, metrics", "modelver diff fraud@1.2.0 fraud@prod", _diff_args)
def cmd_diff(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver diff A B``."""
    d = store.diff(args.a, args.b)
    return Output(str(d), d.to_dict())


def _lineage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("--format", choices=("text", "dot", "mermaid"), default="text",
                   help="text tree (default), Graphviz DOT, or Mermaid")
    p.add_argument("--depth", type=int, default=None,
                   help="generations of parents and children to show (default: all)")


@command("lineage", "the datasets, runs and parent/child versions around a version",
         "modelver lineage fraud@prod --format mermaid", _lineage_args)
def cmd_lineage(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver lineage NAME@REF``."""
    graph = store.lineage(*modelver.split_ref(args.ref))
    if args.depth is not None:
        up, down = graph.upstream(args.depth), graph.downstream(args.depth)
        graph = modelver.Lineage(graph.root, {**up.nodes, **down.nodes},
                        tuple(dict.fromkeys(up.edges + down.edges)))
    draw: dict[str, Callable[[], str]] = {"text": graph.__str__, "dot": graph.to_dot,
                                          "mermaid": graph.to_mermaid}
    text = draw[args.format]()
    data = {"root": graph.root,
            "nodes": [{"id": n.id, "kind": n.kind, "label": n.label,
                       "aliases": list(n.aliases),
                       "deleted": plain(n.deleted) if n.deleted else None}
                      for n in graph.nodes.values()],
            "edges": [plain(e) for e in graph.edges]}
    return Output(text, data)


def _used_by_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="a file, folder, URL, or the sha256: digest "
                   "of a data fingerprint or of a data snapshot")


@command("used-by", "every version trained on a file, folder, URL or digest, directly or "
         "through parent versions", "modelver used-by data/train.csv", _used_by_args)
def cmd_used_by(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver used-by PATH``."""
    versions = store.used_by(args.path)
    rows = [[mv.ref, mv.created_at.strftime("%Y-%m-%d %H:%M"),
             f"deleted {mv.deleted.at:%Y-%m-%d}" if mv.deleted else ""] for mv in versions]
    return Output(table(rows, ["VERSION", "CREATED", "STATUS"]),
                  [plain(mv) for mv in versions])


def _retention_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="one model (default: every model)")
    p.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N versions")
    p.add_argument("--keep-within", metavar="AGE", help="keep versions newer than AGE (90d)")
    p.add_argument("--keep-tagged", action="append", default=[], metavar="KEY",
                   help="keep versions with this tag key (repeatable)")
    p.add_argument("--min-age", metavar="AGE", help="keep versions that ever served "
                   "behind an alias until AGE (7y) has passed since they last did")
    p.add_argument("--no-keep-aliased", action="store_true",
                   help="let versions an alias points to now be deleted")
    p.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    p.add_argument("--apply", action="store_true",
                   help="delete what the plan lists (the default unless --dry-run)")
    p.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation on a terminal")


@command("retention", "delete old versions' artifacts by policy (aliased and held versions "
         "are kept); records stay, marked deleted",
         "modelver retention fraud --keep-last 5 --keep-within 90d --dry-run", _retention_args)
def cmd_retention(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver retention [NAME] --keep-last N --keep-within AGE [--dry-run]``."""
    policy = modelver.RetentionPolicy(keep_last=args.keep_last, keep_within=args.keep_within,
                             keep_aliased=not args.no_keep_aliased,
                             keep_tagged=tuple(args.keep_tagged), min_age=args.min_age)
    plan = store.plan_retention(policy, args.name)
    data = plan.to_dict()
    data["applied"] = False
    if args.dry_run or not plan.deletions:
        return Output(str(plan) + ("\n(dry run: nothing deleted)" if args.dry_run else ""), data)
    if not args.yes and sys.stdin.isatty():
        print(plan)
        try:
            answer = input(f"delete the artifacts of {len(plan.deletions)} version(s)? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            return Output("nothing deleted", data, 1)
    tombstones = plan.apply()
    data["applied"] = True
    return Output(f"{plan}\ndeleted {len(tombstones)} version(s)", data)


def _gc_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    p.add_argument("--grace", default="1h", metavar="DURATION",
                   help="keep blobs written this recently, e.g. '1h' (default), '30min'")


@command("gc", "delete blobs that no record references (interrupted uploads, deleted "
         "versions)", "modelver gc --dry-run", _gc_args)
def cmd_gc(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver gc [--dry-run] [--grace 1h]``."""
    report = store.gc(dry_run=args.dry_run, grace=args.grace)
    return Output(str(report), plain(report))


def _hold_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("version", help="a version or any reference")
    p.add_argument("--reason", required=True, help="why, e.g. 'legal: case 1234'")


@command("hold", "protect a version from retention (a legal or operational hold)",
         "modelver hold fraud 1.2.0 --reason 'legal: case 1234'", _hold_args)
def cmd_hold(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver hold NAME VERSION --reason R``."""
    h = store.hold(args.name, args.version, args.reason)
    return Output(f"held {h.name}@{h.version}: {h.reason}", plain(h))


def _release_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("version", help="a version or any reference")
    p.add_argument("--reason", default="released")


@command("release", "release a hold placed with `modelver hold`",
         "modelver release fraud 1.2.0", _release_args)
def cmd_release(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver release NAME VERSION``."""
    h = store.release(args.name, args.version, args.reason)
    return Output(f"released {h.name}@{h.version}", plain(h))
