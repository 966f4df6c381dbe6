"""CLI commands that query across versions: search."""

from __future__ import annotations

import argparse

import modelver

from ._commands import Output, command, plain, table

__all__ = ["cmd_search"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text!r}")
    return value


def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="search the versions of this model only")
    p.add_argument("--where", metavar="EXPR",
                   help="a filter such as \"metrics.auc > 0.9 and tags.team == 'risk'\" over "
                   "name, version, created_at, created_by, format, alias, params.KEY, "
                   "metrics.KEY, tags.KEY and data.KEY.digest")
    p.add_argument("--order-by", metavar="EXPR",
                   help="fields with asc or desc, such as 'metrics.auc desc, version' "
                   "(default: newest first)")
    p.add_argument("--limit", metavar="N", type=_positive, help="at most N versions")


@command("search", "find versions by their params, metrics, tags, aliases, data and "
         "record fields, across models or in one",
         "modelver search fraud --where \"metrics.auc > 0.9\" --order-by \"metrics.auc desc\" "
         "--limit 5", _search_args)
def cmd_search(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver search [NAME] [--where EXPR] [--order-by EXPR] [--limit N]``."""
    found = store.search(args.name, where=args.where, order_by=args.order_by, limit=args.limit)
    rows = [[mv.name, mv.version, mv.digest[:19], mv.format,
             mv.created_at.strftime("%Y-%m-%d %H:%M"), mv.created_by,
             ",".join(f"{k}={v}" for k, v in sorted(mv.tags.items()))] for mv in found]
    return Output(table(rows, ["NAME", "VERSION", "DIGEST", "FORMAT", "CREATED", "BY", "TAGS"]),
                  lambda: [plain(mv) for mv in found])
