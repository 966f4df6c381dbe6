"""Training curves: the points a run logs with ``log_metrics(step=N, ...)``, bounded.

A series is a list of ``(step, value)`` points in the order they were logged. Values
are floats; a non-finite value (NaN, ±inf) is kept as a gap, ``None`` in the record
(canonical JSON has no NaN), while the metric itself records which it was.

Memory and the log entry stay bounded however long a run trains:

* while a run trains, each key keeps at most :data:`MAX_POINTS` points, by uniform
  decimation: every point at first, then every 2nd, 4th, … as the count doubles;
* the first and the last point, and the points with the lowest and highest value,
  are always kept;
* when the run ends, all its series together keep at most :data:`RUN_POINTS`
  points: with many keys each is thinned the same way to its share.

A series of 10,000 points is about 300 kB of JSON; a run's series stay under about
3 MB, far below the log's 8 MiB limit on one entry. Pure functions: nothing here does
I/O or imports more than the standard library.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import InvalidName

__all__ = ["MAX_POINTS", "RUN_POINTS", "Point", "Series", "check_step", "point_value",
           "series_record", "thin"]

#: Points kept per metric key while a run trains (first, last, min and max included).
MAX_POINTS = 10_000
#: Points kept across all of a run's series when it is recorded.
RUN_POINTS = 100_000
#: The fewest points a series is thinned to: first, last, lowest and highest.
MIN_POINTS = 4

Point = tuple[int, float | None]


def check_step(step: Any) -> int:
    """``step`` as a non-negative int (numpy integers too); :class:`InvalidName` else."""
    if isinstance(step, bool):
        raise InvalidName(f"step must be a non-negative int, not {step!r}")
    try:
        at = operator.index(step)
    except TypeError:
        raise InvalidName(f"step must be a non-negative int, not {step!r}") from None
    if not 0 <= at < 1 << 63:
        raise InvalidName(f"step must be a non-negative int below 2**63, not {at}")
    return at


def point_value(key: str, value: Any) -> float:
    """A metric logged with ``step=`` as a float: a number, a numpy scalar or a
    one-element tensor; :class:`InvalidName` for anything else (text, None, bool…)."""
    if isinstance(value, (bool, str, bytes)) or not hasattr(type(value), "__float__"):
        raise InvalidName(f"metric {key!r} was logged with step= as {type(value).__name__}: "
                          "a point of a curve must be a number; log other values without "
                          "step=")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError) as exc:  # a tensor of several elements
        raise InvalidName(f"metric {key!r} with step= cannot be read as one number "
                          f"({type(exc).__name__}: {exc})") from None


class Series:
    """The points of one key while a run trains: at most ``cap`` of them, kept by
    uniform decimation, with the first, last, lowest and highest always kept."""

    __slots__ = ("_hi", "_last", "_lo", "_points", "_stride", "cap", "count")

    def __init__(self, cap: int = MAX_POINTS) -> None:
        self.cap = max(cap, MIN_POINTS)
        self.count = 0  # points logged, kept or not
        self._points: list[tuple[int, int, float | None]] = []  # (index, step, value)
        self._stride = 1
        self._last: tuple[int, int, float | None] | None = None
        self._lo: tuple[int, int, float] | None = None
        self._hi: tuple[int, int, float] | None = None

    def add(self, step: int, value: float) -> None:
        """Log one point (a non-finite ``value`` is kept as a gap)."""
        index = self.count
        self.count += 1
        finite = math.isfinite(value)
        point = (index, step, value if finite else None)
        if index % self._stride == 0:
            self._points.append(point)
            if len(self._points) > self.cap - 3:  # room for last, lowest and highest
                self._stride *= 2
                self._points = [p for p in self._points if p[0] % self._stride == 0]
        self._last = point
        if finite:
            if self._lo is None or value < self._lo[2]:
                self._lo = (index, step, value)
            if self._hi is None or value > self._hi[2]:
                self._hi = (index, step, value)

    def points(self) -> list[Point]:
        """The kept points, in the order they were logged."""
        kept = {p[0]: p for p in self._points}
        for extra in (self._last, self._lo, self._hi):
            if extra is not None:
                kept[extra[0]] = (extra[0], extra[1], extra[2])
        return [(step, value) for _, step, value in sorted(kept.values())]


def thin(points: Sequence[Point], cap: int) -> list[Point]:
    """At most ``cap`` of ``points``, evenly spaced by position, with the first, last,
    lowest and highest always among them."""
    cap = max(cap, MIN_POINTS)
    if len(points) <= cap:
        return list(points)
    stride = math.ceil(len(points) / (cap - 3))
    keep = set(range(0, len(points), stride))
    keep.add(len(points) - 1)
    finite = [(v, i) for i, (_, v) in enumerate(points) if v is not None]
    if finite:
        keep.add(min(finite)[1])
        keep.add(max(finite, key=lambda vi: (vi[0], -vi[1]))[1])  # the first highest
    return [points[i] for i in sorted(keep)]


def series_record(series: Mapping[str, Series], budget: int = RUN_POINTS
                  ) -> dict[str, list[Point]]:
    """The run's series as its record holds them: each key thinned to its share of
    ``budget`` when together they hold more."""
    out = {key: s.points() for key, s in series.items() if s.count}
    total = sum(len(p) for p in out.values())
    if total > budget and out:
        share = max(budget // len(out), MIN_POINTS)
        out = {key: thin(p, share) for key, p in out.items()}
    return out
