"""Durations as users write them: ``"90d"``, ``"12h"``, ``"7y"`` or a timedelta."""

from __future__ import annotations

import re
from datetime import timedelta

from ._errors import InvalidName

__all__ = ["MAX_DURATION", "parse_duration", "show_duration"]

_DAY = 86400
_UNITS = {"s": 1, "min": 60, "h": 3600, "d": _DAY, "w": 7 * _DAY, "mo": 30 * _DAY,
          "y": 365 * _DAY}
_DURATION = re.compile(r"\s*(\d{1,12})\s*([a-z]+)\s*", re.ASCII)
MAX_DURATION = timedelta(days=1000 * 365)
"""The longest duration accepted (1000 years): anything longer is a typo."""


def parse_duration(value: timedelta | str | None, what: str = "duration") -> timedelta | None:
    """``"90d"``, ``"12h"``, ``"7y"`` (units s, min, h, d, w, mo = 30d, y = 365d) or a
    :class:`~datetime.timedelta`; ``"m"`` is refused as ambiguous, and so is anything
    negative or longer than :data:`MAX_DURATION`."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds < 0:
            raise InvalidName(f"{what} must not be negative, got {value}")
    else:
        match = _DURATION.fullmatch(value) if isinstance(value, str) else None
        if match is None or match.group(2) not in _UNITS:
            hint = ("; 'm' is ambiguous: write 'min' for minutes or 'mo' for months"
                    if match is not None and match.group(2) == "m" else "")
            raise InvalidName(f"{what} must be a duration like '90d', '12h' or '7y' (units s, "
                              f"min, h, d, w, mo, y), not {value!r}{hint}")
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():  # checked before timedelta() can overflow
        raise InvalidName(f"{what} {value!r} is longer than 1000 years")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def show_duration(d: timedelta) -> str:
    """The shortest text :func:`parse_duration` reads back as ``d`` (whole seconds)."""
    seconds = int(d.total_seconds())
    for unit in ("y", "w", "d", "h", "min"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
