"""The ``modelver`` command line: a thin layer over the public API.

Every command accepts ``--store URI`` and ``--json``; errors print one line to
stderr and exit with status 1 (2 for usage errors).
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
