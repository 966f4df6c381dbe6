"""CLI command to list training runs: ``modelver runs``, failed ones too."""

from __future__ import annotations

import argparse
import math
from typing import Any

import modelver

from ._commands import Output, command, table

__all__ = ["cmd_runs"]

#: Runs listed when ``--limit`` is not given.
DEFAULT_LIMIT = 50
#: Metrics shown in a row; the rest are counted (``--json`` has them all).
SHOWN_METRICS = 4
#: Characters of a failed run's error shown in a row.
ERROR_CHARS = 60


def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", nargs="?", help="only the runs of this model")
    p.add_argument("--status", choices=("succeeded", "failed", "running"),
                   help="only the runs that ended so")
    p.add_argument("--limit", metavar="N", type=int, default=DEFAULT_LIMIT,
                   help=f"list at most N runs, newest first (default {DEFAULT_LIMIT}; "
                   "0 for all)")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, dict) and "__float__" in value:  # a NaN or infinite metric
        return str(value["__float__"])
    if isinstance(value, (bool, int, str)):
        text = str(value)
    else:
        text = "{…}" if isinstance(value, dict) else "[…]" if isinstance(value, list) else "-"
    return text if len(text) <= 16 else text[:15] + "…"


def _metrics(summary: modelver.RunSummary) -> str:
    keys = sorted(summary.metrics)
    shown = " ".join(f"{k}={_number(summary.metrics[k])}"
                     + ("~" if k in summary.curves else "") for k in keys[:SHOWN_METRICS])
    more = f" +{len(keys) - SHOWN_METRICS}" if len(keys) > SHOWN_METRICS else ""
    if summary.status == "failed" and summary.error:
        error = summary.error.splitlines()[0] if summary.error.strip() else summary.error
        error = error if len(error) <= ERROR_CHARS else error[:ERROR_CHARS - 1] + "…"
        return (shown + more + "  " if shown else "") + error
    return shown + more or "-"


def _wall(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def _row(summary: modelver.RunSummary, with_name: bool) -> list[str]:
    version = summary.version or "-"
    if not with_name and summary.version:
        version = summary.version.rpartition("@")[2]
    wall = _wall(summary.wall_s)
    row = [summary.id[:12], summary.status, version,
           summary.started_at.strftime("%Y-%m-%d %H:%M:%S"), wall, _metrics(summary)]
    return [*row[:1], summary.name, *row[1:]] if with_name else row


@command("runs", "list training runs, newest first, failed ones too: status, version "
         "registered, start (UTC), wall time and final metrics (~ marks a metric with a "
         "curve); a failed run's error",
         "modelver runs fraud --status failed --limit 20", _runs_args)
def cmd_runs(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver runs [NAME] [--status S] [--limit N]``."""
    if args.limit < 0:
        raise modelver.InvalidName(f"--limit must be 0 (all) or more, not {args.limit}")
    limit = args.limit or None
    found = store.run_summaries(args.name, status=args.status,
                                limit=None if limit is None else limit + 1)
    more = limit is not None and len(found) > limit
    shown = found[:limit] if limit is not None else found
    with_name = args.name is None
    header = ["RUN", "STATUS", "VERSION", "STARTED (UTC)", "WALL", "METRICS"]
    if with_name:
        header.insert(1, "NAME")
    text = table([_row(s, with_name) for s in shown], header)
    if more:
        text += f"\n(the {limit} newest shown: --limit N for more, --limit 0 for all)"
    return Output(text, lambda: [s.to_dict() for s in shown])
