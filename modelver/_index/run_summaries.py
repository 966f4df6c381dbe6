"""Run summaries: what a list of runs shows, read with ``json_extract`` from each run's
entry, so that listing thousands of runs builds none of their environments or curves
in Python."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._run_summary import RunSummary

if TYPE_CHECKING:
    from .db import Index

__all__ = ["run_summaries", "runs_sql"]


# The run record is taken out of its entry once per row (``b.value``, by json_each), and
# each field from it.
_RUN = "json_extract(b.value, '$.{}')"
_SUMMARY = ("SELECT r.id, r.name, r.status, r.version, r.started_at, "
            f"{_RUN.format('ended_at')}, {_RUN.format('resources.wall_s')}, "
            f"{_RUN.format('metrics')}, {_RUN.format('error')}, "
            "(SELECT json_group_array(c.key) FROM json_each(b.value, '$.metric_series') c) "
            "FROM runs r JOIN entries e ON e.name = r.name AND e.seq = r.seq "
            "JOIN json_each(entry_json(e.data), '$.body') b ON b.key = 'run'")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _summary(row: tuple[Any, ...]) -> RunSummary:
    run_id, name, status, version, started, ended, wall, metrics, error, curves = row
    return RunSummary(id=run_id, name=name, status=status, version=version,
                      started_at=datetime.fromisoformat(started), ended_at=_time(ended),
                      wall_s=None if wall is None else float(wall),
                      metrics={} if metrics in (None, "{}") else json.loads(metrics),
                      error=error, curves=[] if curves in (None, "[]") else json.loads(curves))


def run_summaries(index: Index, name: str | None = None, *, status: str | None = None,
                  limit: int | None = None) -> list[RunSummary]:
    """Summaries of runs, newest first, optionally of one model and with one status."""
    rows: Iterable[tuple[Any, ...]] = index.query(*runs_sql(_SUMMARY, name, status, limit))
    return [_summary(row) for row in rows]


def runs_sql(select: str, name: str | None, status: str | None, limit: int | None
             ) -> tuple[str, list[Any]]:
    """``select`` (over ``runs r``) narrowed to one model and status, newest first."""
    where: list[str] = []
    params: list[Any] = []
    if name is not None:
        where.append("r.name = ?")
        params.append(name)
    if status is not None:
        where.append("r.status = ?")
        params.append(status)
    sql = select + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY r.started_at DESC" + (f" LIMIT {int(limit)}" if limit else "")
    return sql, params
