"""Progress for long work (transfers, big fingerprints) on stderr.

Nothing is shown for work that ends within two seconds, when stderr is not a
terminal, or when ``MODELVER_PROGRESS=0``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType

__all__ = ["Progress"]

DELAY_S = 2.0
_INTERVAL_S = 0.25


def enabled() -> bool:
    """Whether progress may be drawn: stderr is a terminal and not turned off."""
    setting = os.environ.get("MODELVER_PROGRESS", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return sys.stderr.isatty()


def _human(n: float, unit: str) -> str:
    if unit != "B":
        return f"{n:,.0f} {unit}"
    for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or suffix == "TiB":
            return f"{n:,.1f} {suffix}" if suffix != "B" else f"{n:,.0f} B"
        n /= 1024
    return f"{n} B"  # pragma: no cover


class Progress:
    """Count work done toward ``total`` and draw one status line after a delay."""

    def __init__(self, label: str, total: int | None = None, unit: str = "B") -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False
        self._on = enabled()
        self._lock = threading.Lock()

    def update(self, n: int) -> None:
        """Add ``n`` units of work done, redrawing at most four times a second."""
        with self._lock:
            self.done += n
            if not self._on:
                return
            now = time.monotonic()
            if now - self._start >= DELAY_S and now - self._last >= _INTERVAL_S:
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-9)
        part = _human(self.done, self.unit)
        if self.total:
            part += f" / {_human(self.total, self.unit)} ({100 * self.done / self.total:.0f}%)"
        sys.stderr.write(f"\r{self.label}: {part}, {_human(rate, self.unit)}/s   ")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        """Finish the line if one was drawn."""
        if self._drawn:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
