"""Points in time as users give them: a datetime, a date, or ISO-8601 text (UTC assumed).

``resolve(..., at=...)`` and ``alias_history(..., at=...)`` take one; the CLI's ``--at``
passes its text through unchanged, so that both read a time the same way.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from ._errors import InvalidName

__all__ = ["When", "parse_time"]

When = datetime | date | str
"""What ``at=`` accepts: a datetime, a date (midnight UTC) or ISO-8601 text."""


def parse_time(value: When, what: str = "at") -> datetime:
    """``value`` as an aware UTC datetime.

    A datetime without a timezone is taken as UTC; a date, or text with a date only
    (``"2026-03-01"``), is the start of that day in UTC; text is ISO 8601
    (``"2026-03-01T12:00"``, ``"2026-03-01 12:00:00+02:00"``, ``"…Z"``). Anything else
    is :class:`~modelver.InvalidName`.
    """
    if isinstance(value, str):
        raw = text = value.strip()
        try:
            if len(text) > 64:
                raise ValueError(text)
            # Python 3.10's fromisoformat does not read a "Z" suffix.
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidName(f"{what} must be an ISO-8601 time such as "
                              f"'2026-03-01T12:00:00Z' or a date such as '2026-03-01' "
                              f"(UTC unless a timezone is given), not {raw[:80]!r}") from None
    if isinstance(value, datetime):
        return (value.replace(tzinfo=timezone.utc) if value.tzinfo is None
                else value.astimezone(timezone.utc))
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone.utc)
    raise InvalidName(f"{what} must be a datetime, a date or ISO-8601 text, "
                      f"not {type(value).__name__}")

