"""The ``modelver`` command line: a thin layer over the public API.

Every command accepts ``--store URI`` and ``--json``; errors print one line to
stderr and exit with status 1 (2 for usage errors).
"""

from __future__ import annotations

# Each command module registers its commands in _commands.COMMANDS as it is imported,
# here, in the order `modelver --help` lists them; _main builds the parser from that list.
from . import _lineage_commands, _rebuild_commands  # noqa: F401
from ._main import main

__all__ = ["main"]
