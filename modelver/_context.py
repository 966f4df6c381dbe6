"""The run active in this thread or task, as the registry layer sees it.

The store records what a run loads as that run's parents, but it must not depend on
the run machinery (which depends on the store). Both meet here: :mod:`modelver._run`
sets the active run, :meth:`modelver.Store.load` tells it what was loaded.
"""

from __future__ import annotations

import contextvars
from typing import Any, Protocol

__all__ = ["ACTIVE", "ParentSink", "record_parent"]


class ParentSink(Protocol):
    """What the store needs of an active run."""

    def add_parent(self, ref: str) -> None:
        """Record ``ref`` (``name@version``) as a parent of what the run registers."""


ACTIVE: contextvars.ContextVar[Any] = contextvars.ContextVar("modelver_run", default=None)
"""The active run (a :class:`modelver.ActiveRun`), or None."""


def record_parent(ref: str) -> None:
    """Tell the active run, if there is one, that it loaded ``ref``."""
    run: ParentSink | None = ACTIVE.get()
    if run is not None:
        run.add_parent(ref)
