"""RunSummary: one line of ``modelver runs``, read from the read model's columns.

A full :class:`~modelver.Run` holds its environment, hardware and curves; listing
thousands of runs should not parse all that. A summary holds what a list of runs
shows: outcome, version, times and final metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = ["RunSummary"]


@attrs.frozen
class RunSummary:
    """What ``Store.run_summaries`` lists of a run: its id, model name, status
    (``succeeded``, ``failed``, ``running``), the version it registered
    (``name@version``, or None), start and end times, wall seconds, final metrics
    (the last value logged of each key), the error of a failed run, and the keys
    that have a curve (``log_metrics(step=N, ...)``). ``Store.get_run(id)`` gives the
    whole record."""

    id: str
    name: str
    status: str
    started_at: datetime
    version: str | None = None
    ended_at: datetime | None = None
    wall_s: float | None = None
    metrics: dict[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    curves: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what ``modelver runs --json`` prints)."""
        return {"id": self.id, "name": self.name, "status": self.status,
                "version": self.version, "started_at": self.started_at.isoformat(),
                "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
                "wall_s": self.wall_s, "metrics": dict(self.metrics), "error": self.error,
                "curves": list(self.curves)}
